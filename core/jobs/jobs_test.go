package jobs_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/jobs"
	"github.com/vagate/vagate/core/jobs/jobsmem"
	"github.com/vagate/vagate/core/provider"
	"github.com/vagate/vagate/core/store"
)

// bankFake behaves like a provider that honours idempotency keys when
// idempotent is set; failures are scripted per call number.
type bankFake struct {
	idempotent bool
	maxBatch   int
	delay      time.Duration
	fail       func(call int, req *provider.CreateRequest) error
	refuse     map[string]bool // clientReference → item refused

	mu       sync.Mutex
	calls    int
	keys     []string
	byKey    map[string][]provider.ItemResult
	accounts int
}

func (f *bankFake) Capabilities() provider.Capabilities {
	return provider.Capabilities{Style: "fake", Currencies: []string{"USD"}, MaxBatch: f.maxBatch, IdempotentCreate: f.idempotent}
}
func (f *bankFake) ErrorCode(err error) bank.ErrorCode { return provider.ClassifyHTTP(err) }
func (f *bankFake) GetAccount(context.Context, string) (*bank.Account, error) {
	return nil, &provider.StatusError{StatusCode: 404}
}

func (f *bankFake) CreateAccounts(ctx context.Context, req *provider.CreateRequest) (*provider.CreateResult, error) {
	f.mu.Lock()
	f.calls++
	call := f.calls
	f.keys = append(f.keys, req.IdempotencyKey)
	if r, ok := f.byKey[req.IdempotencyKey]; ok && f.idempotent {
		f.mu.Unlock()
		return &provider.CreateResult{Items: r}, nil
	}
	f.mu.Unlock()
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	var res []provider.ItemResult
	f.mu.Lock()
	for _, it := range req.Items {
		if f.refuse[it.ClientReference] {
			res = append(res, provider.ItemResult{Err: &provider.StatusError{StatusCode: 400, ProviderCode: "REFUSED", Message: "refused"},
				ProviderJobID: fmt.Sprint("pj-", call)})
			continue
		}
		f.accounts++
		res = append(res, provider.ItemResult{Account: &bank.Account{ProviderAccountID: fmt.Sprint(f.accounts), Status: bank.StatusActive,
			Currency: it.Currency, ClientReference: it.ClientReference, Reference: it.Reference}, ProviderJobID: fmt.Sprint("pj-", call)})
	}
	if f.byKey == nil {
		f.byKey = map[string][]provider.ItemResult{}
	}
	f.byKey[req.IdempotencyKey] = res
	f.mu.Unlock()
	if f.fail != nil {
		if err := f.fail(call, req); err != nil {
			return nil, err // the provider acted, but the answer was lost
		}
	}
	return &provider.CreateResult{Items: res}, nil
}

type rig struct {
	eng  *jobs.Engine
	mem  *store.Memory
	js   *jobsmem.Store
	fake *bankFake
}

// newProvider wraps a fake adapter as provider "fk" with the resilience
// limits l (its resend policy and bulkhead), backing off briefly.
func newProvider(t testing.TB, a provider.Adapter, l gateway.Limits) *gateway.Provider {
	t.Helper()
	l.BackoffMin, l.BackoffMax = time.Millisecond, 5*time.Millisecond
	p, err := gateway.New("fk", a, &gateway.Options{Client: gateway.NewClient("fk", &l, nil, nil)})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newRig(t *testing.T, f *bankFake, opts *jobs.Options) *rig {
	return newRigLimits(t, f, opts, gateway.Limits{})
}

func newRigLimits(t *testing.T, f *bankFake, opts *jobs.Options, l gateway.Limits) *rig {
	t.Helper()
	if f.maxBatch == 0 {
		f.maxBatch = 10
	}
	p := newProvider(t, f, l)
	reg := gateway.NewRegistry()
	reg.Register(p)
	mem := store.NewMemory()
	if opts == nil {
		opts = &jobs.Options{}
	}
	opts.Backoff = time.Millisecond
	if opts.CheckBackoff == 0 {
		opts.CheckBackoff = time.Millisecond
	}
	js := jobsmem.New()
	eng := jobs.New(reg, js, mem, mem, opts)
	return &rig{eng: eng, mem: mem, js: js, fake: f}
}

func (r *rig) start(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.eng.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func items(n int) []jobs.Item {
	out := make([]jobs.Item, n)
	for i := range out {
		out[i] = jobs.Item{Provider: "fk", Request: provider.CreateItem{Currency: "USD", AccountHolderName: "A", AccountName: "B", ClientReference: fmt.Sprintf("R%d", i)}}
	}
	return out
}

func (r *rig) run(t *testing.T, n int) *jobs.Record {
	t.Helper()
	j, err := r.eng.Submit(t.Context(), "t1", &jobs.Spec{Items: items(n)})
	if err != nil {
		t.Fatal(err)
	}
	if j.Status != bank.JobPending {
		t.Errorf("new job status %s, want Pending", j.Status)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := r.eng.Wait(ctx, "t1", j.ID); err != nil {
		t.Fatal(err)
	}
	rec, err := r.eng.Get(t.Context(), "t1", j.ID)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func TestCompletes(t *testing.T) {
	r := newRig(t, &bankFake{idempotent: true, maxBatch: 2}, nil)
	r.start(t)
	rec := r.run(t, 5)
	if rec.Job.Status != bank.JobCompleted || rec.Job.Succeeded != 5 || rec.Job.CompletedAt == nil {
		t.Fatalf("job = %+v", rec.Job)
	}
	keys := map[string]bool{}
	for _, k := range r.fake.keys {
		keys[k] = true
	}
	if r.fake.calls != 3 || len(keys) != 3 {
		t.Errorf("5 items at maxBatch 2: %d calls with %d keys, want 3 and 3", r.fake.calls, len(keys))
	}
	for i, it := range rec.Items {
		a := it.Result.Account
		if it.Result.Outcome != bank.OutcomeCreated || a == nil || a.ID != jobs.AccountID(rec.Job.ID, i) || a.Provider != "fk" {
			t.Fatalf("item %d = %+v", i, it.Result)
		}
		stored, err := r.mem.GetAccount(t.Context(), "t1", a.ID)
		if err != nil || stored.ClientReference != fmt.Sprintf("R%d", i) {
			t.Errorf("item %d: stored account %+v, %v", i, stored, err)
		}
	}
	// Processing the finished job again sends nothing.
	if err := r.eng.Process(t.Context(), "t1", rec.Job.ID); err != nil || r.fake.calls != 3 {
		t.Errorf("reprocess: %v, %d calls", err, r.fake.calls)
	}
}

func TestOutcomes(t *testing.T) {
	tests := []struct {
		name           string
		fake           *bankFake
		status         bank.JobStatus
		created        int
		failed         int
		unknown        int
		calls          int
		accountsAtBank int
	}{
		{"refused item fails alone", &bankFake{idempotent: true, refuse: map[string]bool{"R1": true}},
			bank.JobCompletedWithErrors, 2, 1, 0, 1, 2},
		// Without an HTTP transport to resend it, the unknown outcome is
		// sent again, with the same key, by the job's check.
		{"lost answer resent with the same key", &bankFake{idempotent: true, fail: func(call int, _ *provider.CreateRequest) error {
			if call < 3 {
				return &provider.StatusError{StatusCode: 500}
			}
			return nil
		}}, bank.JobCompleted, 3, 0, 0, 2, 3},
		{"lost answer without provider keys stays unknown", &bankFake{idempotent: false, fail: func(int, *provider.CreateRequest) error {
			return &provider.StatusError{StatusCode: 504}
		}}, bank.JobCompletedWithErrors, 0, 0, 3, 1, 3},
		{"unavailable is retried then fails", &bankFake{idempotent: false, fail: func(int, *provider.CreateRequest) error {
			return &provider.StatusError{StatusCode: 503}
		}}, bank.JobCompletedWithErrors, 0, 3, 0, 3, 9},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, tc.fake, nil)
			r.start(t)
			rec := r.run(t, 3)
			j := rec.Job
			if j.Status != tc.status || j.Succeeded != tc.created || j.Failed != tc.failed || j.Unknown != tc.unknown {
				t.Errorf("job = %s created %d failed %d unknown %d; want %s %d %d %d", j.Status, j.Succeeded, j.Failed, j.Unknown,
					tc.status, tc.created, tc.failed, tc.unknown)
			}
			if r.fake.calls != tc.calls {
				t.Errorf("provider calls = %d, want %d", r.fake.calls, tc.calls)
			}
			if r.fake.accounts != tc.accountsAtBank {
				t.Errorf("accounts at the provider = %d, want %d", r.fake.accounts, tc.accountsAtBank)
			}
			for i, it := range rec.Items {
				if it.Result.Outcome != bank.OutcomeCreated && it.Result.Error == nil {
					t.Errorf("item %d: outcome %s without a reason", i, it.Result.Outcome)
				}
			}
		})
	}
}

// An item's result keeps what the provider said of it beyond the unified
// outcome: its own job and, for a refused item, its own error code.
func TestProviderDetailsKept(t *testing.T) {
	r := newRig(t, &bankFake{idempotent: true, refuse: map[string]bool{"R1": true}}, nil)
	r.start(t)
	rec := r.run(t, 2)
	for i, it := range rec.Items {
		if it.Result.ProviderJobID != "pj-1" {
			t.Errorf("item %d: providerJobId %q, want pj-1", i, it.Result.ProviderJobID)
		}
	}
	if e := rec.Items[1].Result.Error; e == nil || e.ProviderCode != "REFUSED" || e.Code != bank.InvalidArgument {
		t.Errorf("refused item error = %+v, want invalid_argument with providerCode REFUSED", e)
	}
	if e := rec.Items[0].Result.Error; e != nil {
		t.Errorf("created item error = %+v", e)
	}
}

func TestCancel(t *testing.T) {
	t.Run("pending job", func(t *testing.T) {
		r := newRig(t, &bankFake{idempotent: true}, nil) // no workers started
		j, err := r.eng.Submit(t.Context(), "t1", &jobs.Spec{Items: items(2)})
		if err != nil {
			t.Fatal(err)
		}
		c, err := r.eng.Cancel(t.Context(), "t1", j.ID)
		if err != nil || c.Status != bank.JobCancelled || c.Cancelled != 2 {
			t.Fatalf("cancel = %+v, %v", c, err)
		}
		r.start(t)
		if _, err := r.eng.Wait(t.Context(), "t1", j.ID); err != nil {
			t.Fatal(err)
		}
		if r.fake.calls != 0 {
			t.Errorf("a cancelled job sent %d calls", r.fake.calls)
		}
		if _, err := r.eng.Cancel(t.Context(), "t1", j.ID); bank.Code(err) != bank.FailedPrecondition {
			t.Errorf("cancel twice: %v", err)
		}
	})
	t.Run("mid job", func(t *testing.T) {
		r := newRigLimits(t, &bankFake{idempotent: true, maxBatch: 1, delay: 50 * time.Millisecond}, nil, gateway.Limits{MaxConcurrent: 1})
		r.start(t)
		j, _ := r.eng.Submit(t.Context(), "t1", &jobs.Spec{Items: items(20)})
		deadline := time.Now().Add(5 * time.Second)
		for r.calls() == 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if _, err := r.eng.Cancel(t.Context(), "t1", j.ID); err != nil {
			t.Fatal(err)
		}
		done, err := r.eng.Wait(t.Context(), "t1", j.ID)
		if err != nil {
			t.Fatal(err)
		}
		if done.Status != bank.JobCancelled || done.Cancelled == 0 || done.Succeeded == 0 || done.Succeeded+done.Cancelled != 20 {
			t.Errorf("job = %+v, want Cancelled with some created and the rest cancelled", done)
		}
		if r.calls() != done.Succeeded {
			t.Errorf("%d provider calls for %d created items", r.calls(), done.Succeeded)
		}
	})
}

func (r *rig) calls() int {
	r.fake.mu.Lock()
	defer r.fake.mu.Unlock()
	return r.fake.calls
}

func TestDeterministicKeys(t *testing.T) {
	if a, b := jobs.ChunkKey("job_1", "p", 0), jobs.ChunkKey("job_1", "p", 0); a != b {
		t.Error("ChunkKey is not deterministic")
	}
	if jobs.ChunkKey("job_1", "p", 0) == jobs.ChunkKey("job_1", "p", 1) || jobs.ChunkKey("job_1", "p", 0) == jobs.ChunkKey("job_2", "p", 0) {
		t.Error("ChunkKey collides across chunks or jobs")
	}
	if a, b := jobs.AccountID("job_1", 3), jobs.AccountID("job_1", 3); a != b || a == jobs.AccountID("job_1", 4) {
		t.Error("AccountID not deterministic or not unique")
	}
}

// finderFake is a provider without idempotency keys that can look accounts
// up by reference; failBefore fails a call before the provider acts.
type finderFake struct {
	*bankFake
	failBefore func(call int) error
	byRef      map[string][]*bank.Account
}

func (f *finderFake) CreateAccounts(ctx context.Context, req *provider.CreateRequest) (*provider.CreateResult, error) {
	f.mu.Lock()
	call := f.calls + 1
	f.mu.Unlock()
	if f.failBefore != nil {
		if err := f.failBefore(call); err != nil {
			f.mu.Lock()
			f.calls++
			f.mu.Unlock()
			return nil, err
		}
	}
	res, err := f.bankFake.CreateAccounts(ctx, req)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.byRef == nil {
		f.byRef = map[string][]*bank.Account{}
	}
	for _, r := range f.bankFake.byKey[req.IdempotencyKey] {
		if r.Account != nil && !slices.ContainsFunc(f.byRef[r.Account.Reference], func(a *bank.Account) bool {
			return a.ProviderAccountID == r.Account.ProviderAccountID // a replay, not a new account
		}) {
			f.byRef[r.Account.Reference] = append(f.byRef[r.Account.Reference], r.Account)
		}
	}
	return res, err
}

func (f *finderFake) FindByReference(_ context.Context, ref string) ([]*bank.Account, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*bank.Account
	for _, a := range f.byRef[ref] {
		out = append(out, a.Clone())
	}
	return out, nil
}

func newFinderRig(t *testing.T, f *finderFake) *rig {
	f.maxBatch = 1
	p := newProvider(t, f, gateway.Limits{})
	reg := gateway.NewRegistry()
	reg.Register(p)
	mem, js := store.NewMemory(), jobsmem.New()
	return &rig{eng: jobs.New(reg, js, mem, mem, &jobs.Options{Backoff: time.Millisecond, CheckBackoff: time.Millisecond}), mem: mem, js: js, fake: f.bankFake}
}

func TestReconcileWithoutKeys(t *testing.T) {
	lost := &provider.StatusError{StatusCode: 504}
	tests := []struct {
		name     string
		fake     *finderFake
		calls    int
		accounts int
		status   bank.JobStatus
	}{
		{"created, answer lost: found, not resent", &finderFake{bankFake: &bankFake{fail: func(int, *provider.CreateRequest) error { return lost }}},
			1, 1, bank.JobCompleted},
		{"not created: looked up, then resent once", &finderFake{bankFake: &bankFake{}, failBefore: func(call int) error {
			if call == 1 {
				return lost
			}
			return nil
		}}, 2, 1, bank.JobCompleted},
		{"never created: failed on the evidence of the lookup", &finderFake{bankFake: &bankFake{}, failBefore: func(int) error { return lost }},
			3, 0, bank.JobCompletedWithErrors},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newFinderRig(t, tc.fake)
			r.start(t)
			rec := r.run(t, 1)
			if tc.accounts == 0 && (rec.Items[0].Result.Outcome != bank.OutcomeFailed || !strings.Contains(rec.Items[0].Result.Error.Message, "not at the provider")) {
				t.Errorf("item = %+v, want failed with the lookup as its reason", rec.Items[0].Result)
			}
			if rec.Job.Status != tc.status || r.fake.calls != tc.calls || r.fake.accounts != tc.accounts {
				t.Errorf("job %s after %d calls with %d accounts at the provider; want %s, %d, %d (%+v)",
					rec.Job.Status, r.fake.calls, r.fake.accounts, tc.status, tc.calls, tc.accounts, rec.Items[0].Result)
			}
		})
	}
}

// A job interrupted after sending to a provider without keys is resumed by
// looking the item up, not by sending it again.
func TestResumeAfterInterruption(t *testing.T) {
	f := &finderFake{bankFake: &bankFake{}}
	r := newFinderRig(t, f)
	j, err := r.eng.Submit(t.Context(), "t1", &jobs.Spec{Items: items(2)})
	if err != nil {
		t.Fatal(err)
	}
	// The first instance sent item 0 and died before recording the outcome.
	stored, _ := r.eng.Get(t.Context(), "t1", j.ID)
	f.CreateAccounts(t.Context(), &provider.CreateRequest{IdempotencyKey: "lost", Items: []provider.CreateItem{stored.Items[0].Request}})
	r.js.UpdateItems(t.Context(), "t1", j.ID, []int{0}, func(it *jobs.ItemRecord) error { it.Sent = true; return nil })
	r.js.UpdateHeader(t.Context(), "t1", j.ID, func(h *jobs.Header) error { h.Job.Status = bank.JobInProgress; return nil })
	if err := r.eng.Process(t.Context(), "t1", j.ID); err != nil {
		t.Fatal(err)
	}
	rec, _ := r.eng.Get(t.Context(), "t1", j.ID)
	if rec.Job.Status != bank.JobCompleted || f.accounts != 2 || f.calls != 2 {
		t.Errorf("job %s, %d accounts at the provider after %d calls; want Completed, 2, 2", rec.Job.Status, f.accounts, f.calls)
	}
	// A provider that can neither dedupe nor be searched: the item stays
	// unknown rather than risk a duplicate.
	f2 := &bankFake{}
	r2 := newRig(t, f2, nil)
	spec := &jobs.Spec{Items: items(1)}
	j2, _ := r2.eng.Submit(t.Context(), "t1", spec)
	r2.js.UpdateItems(t.Context(), "t1", j2.ID, []int{0}, func(it *jobs.ItemRecord) error { it.Sent = true; return nil })
	r2.eng.Process(t.Context(), "t1", j2.ID)
	rec2, _ := r2.eng.Get(t.Context(), "t1", j2.ID)
	if rec2.Job.Unknown != 1 || f2.calls != 0 {
		t.Errorf("job %+v after %d calls; want the item unknown and nothing sent", rec2.Job, f2.calls)
	}
}

// Two tenants use the same clientReference at a provider without keys. A's
// create is lost after the provider acted; B's item must never be bound to
// A's account: lookups go by the gateway's per-tenant, per-item reference.
func TestLookupNeverCrossesTenants(t *testing.T) {
	f := &finderFake{bankFake: &bankFake{fail: func(call int, _ *provider.CreateRequest) error {
		if call == 1 {
			return &provider.StatusError{StatusCode: 504} // A's account made, answer lost
		}
		return nil
	}}}
	r := newFinderRig(t, f)
	r.start(t)
	submit := func(tenant string) *jobs.Record {
		j, err := r.eng.Submit(t.Context(), tenant, &jobs.Spec{Items: items(1)}) // both: clientReference R0
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		if _, err := r.eng.Wait(ctx, tenant, j.ID); err != nil {
			t.Fatal(err)
		}
		rec, _ := r.eng.Get(t.Context(), tenant, j.ID)
		return rec
	}
	a := submit("tenant-a")
	b := submit("tenant-b")
	accA, accB := a.Items[0].Result.Account, b.Items[0].Result.Account
	if accA == nil || accB == nil {
		t.Fatalf("items: A %+v, B %+v; want both created", a.Items[0].Result, b.Items[0].Result)
	}
	if accA.ProviderAccountID == accB.ProviderAccountID {
		t.Fatalf("tenant B bound to tenant A's provider account %s", accA.ProviderAccountID)
	}
	if f.accounts != 2 || a.Items[0].Request.Reference == b.Items[0].Request.Reference {
		t.Errorf("%d accounts at the provider, references %q / %q; want 2 and distinct", f.accounts,
			a.Items[0].Request.Reference, b.Items[0].Request.Reference)
	}
}

// A resend that gets 503 after an attempt whose answer was lost does not
// prove nothing was created: the item stays unknown, is checked again, and
// ends created (the provider replays the first attempt's account).
func TestUnavailableAfterLostAnswerIsNotFailure(t *testing.T) {
	f := &finderFake{bankFake: &bankFake{idempotent: true, fail: func(call int, _ *provider.CreateRequest) error {
		if call == 1 {
			return &provider.StatusError{StatusCode: 504} // created, answer lost
		}
		return nil
	}}, failBefore: func(call int) error {
		if call == 2 || call == 3 {
			return &provider.StatusError{StatusCode: 503} // refused before acting
		}
		return nil
	}}
	f.maxBatch = 1
	r := &rig{mem: store.NewMemory(), js: jobsmem.New(), fake: f.bankFake}
	reg := gateway.NewRegistry()
	reg.Register(newProvider(t, f, gateway.Limits{MaxAttempts: 2}))
	r.eng = jobs.New(reg, r.js, r.mem, r.mem, &jobs.Options{Backoff: time.Millisecond, CheckBackoff: time.Millisecond})
	r.start(t)
	rec := r.run(t, 1)
	if it := rec.Items[0]; it.Result.Outcome != bank.OutcomeCreated || f.accounts != 1 || f.calls != 4 {
		t.Fatalf("item %+v with %d accounts at the provider after %d calls; want created, 1, 4", it.Result, f.accounts, f.calls)
	}
}

// An unknown item whose lookups fail is looked up again, with backoff, until
// the lookup answers; then it is settled on that evidence.
func TestUnknownIsCheckedUntilResolved(t *testing.T) {
	f := &flakyFinder{finderFake: &finderFake{bankFake: &bankFake{fail: func(call int, _ *provider.CreateRequest) error {
		return &provider.StatusError{StatusCode: 504} // every create acts, every answer is lost
	}}}, failLookups: 4}
	f.maxBatch = 1
	r := &rig{mem: store.NewMemory(), js: jobsmem.New(), fake: f.bankFake}
	reg := gateway.NewRegistry()
	reg.Register(newProvider(t, f, gateway.Limits{MaxAttempts: 1}))
	r.eng = jobs.New(reg, r.js, r.mem, r.mem, &jobs.Options{Backoff: time.Millisecond, CheckBackoff: time.Millisecond})
	r.start(t)
	rec := r.run(t, 1)
	if it := rec.Items[0]; it.Result.Outcome != bank.OutcomeCreated || f.accounts != 1 || rec.Job.Status != bank.JobCompleted {
		t.Fatalf("job %s, item %+v, %d accounts at the provider; want Completed, created, 1", rec.Job.Status, it.Result, f.accounts)
	}
	if f.lookups <= 4 {
		t.Errorf("%d lookups; want more than the 4 that failed", f.lookups)
	}
}

// flakyFinder fails its first failLookups lookups.
type flakyFinder struct {
	*finderFake
	failLookups int
	lookups     int
}

func (f *flakyFinder) FindByReference(ctx context.Context, ref string) ([]*bank.Account, error) {
	f.mu.Lock()
	f.lookups++
	n := f.lookups
	f.mu.Unlock()
	if n <= f.failLookups {
		return nil, &provider.StatusError{StatusCode: 503}
	}
	return f.finderFake.FindByReference(ctx, ref)
}

// The same request accepted twice (its idempotency record was lost) makes
// one job, and so at most one account per item at the provider.
func TestSameIdentityMakesOneJob(t *testing.T) {
	f := &bankFake{}
	r := newRig(t, f, nil)
	r.start(t)
	spec := func() *jobs.Spec {
		return &jobs.Spec{Items: items(2), Identity: "tenant POST /v1/virtual-accounts\nkey\nfingerprint"}
	}
	first, err := r.eng.Submit(t.Context(), "t1", spec())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := r.eng.Wait(ctx, "t1", first.ID); err != nil {
		t.Fatal(err)
	}
	second, err := r.eng.Submit(t.Context(), "t1", spec())
	if err != nil || second.ID != first.ID {
		t.Fatalf("second submit = %+v, %v; want job %s again", second, err, first.ID)
	}
	other, err := r.eng.Submit(t.Context(), "t2", spec())
	if err != nil || other.ID == first.ID {
		t.Fatalf("another tenant's submit = %+v, %v; want a job of its own", other, err)
	}
	if _, err := r.eng.Wait(ctx, "t2", other.ID); err != nil {
		t.Fatal(err)
	}
	if f.accounts != 4 {
		t.Errorf("%d accounts at the provider, want 2 per tenant", f.accounts)
	}
}

// failingJobs is a job store whose calls fail on chosen calls: reads (of
// the header, the whole job or some items) before reading; writes (of the
// header or of items) before writing, or after the write was applied, as
// when the store's answer is lost, or as a write that met too much
// contention to be applied.
type failingJobs struct {
	*jobsmem.Store
	mu                  sync.Mutex
	reads, writes       int
	failRead, failWrite func(n int) bool
	lostWrite           func(n int) bool
}

var errInjected = &bank.Error{Code: bank.Unavailable, Err: fmt.Errorf("injected store failure: %w", store.ErrUnavailable)}

func (s *failingJobs) read() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	if s.failRead != nil && s.failRead(s.reads) {
		return errInjected
	}
	return nil
}

// write says whether to fail the write before it, or after it was applied.
func (s *failingJobs) write() (before, after bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	return s.failWrite != nil && s.failWrite(s.writes), s.lostWrite != nil && s.lostWrite(s.writes)
}

func (s *failingJobs) Get(ctx context.Context, tenant, id string) (*jobs.Record, error) {
	if err := s.read(); err != nil {
		return nil, err
	}
	return s.Store.Get(ctx, tenant, id)
}

func (s *failingJobs) Header(ctx context.Context, tenant, id string) (*jobs.Header, error) {
	if err := s.read(); err != nil {
		return nil, err
	}
	return s.Store.Header(ctx, tenant, id)
}

func (s *failingJobs) Items(ctx context.Context, tenant, id string, idx []int) ([]jobs.ItemRecord, error) {
	if err := s.read(); err != nil {
		return nil, err
	}
	return s.Store.Items(ctx, tenant, id, idx)
}

func (s *failingJobs) UpdateHeader(ctx context.Context, tenant, id string, fn func(*jobs.Header) error) (*jobs.Header, error) {
	before, after := s.write()
	if before {
		return nil, errInjected
	}
	h, err := s.Store.UpdateHeader(ctx, tenant, id, fn)
	if after && err == nil {
		return nil, errInjected
	}
	return h, err
}

func (s *failingJobs) UpdateItems(ctx context.Context, tenant, id string, idx []int, fn func(*jobs.ItemRecord) error) ([]jobs.ItemRecord, error) {
	before, after := s.write()
	if before {
		return nil, errInjected
	}
	its, err := s.Store.UpdateItems(ctx, tenant, id, idx, fn)
	if after && err == nil {
		return nil, errInjected
	}
	return its, err
}

// A store error never decides an item's outcome: with reads and writes
// failing on chosen calls, every item of every job still ends created,
// exactly once at the provider, none cancelled or failed.
func TestStoreErrorsNeverDecideOutcomes(t *testing.T) {
	for _, idempotent := range []bool{true, false} {
		t.Run(fmt.Sprintf("idempotent=%v", idempotent), func(t *testing.T) {
			ff := &finderFake{bankFake: &bankFake{idempotent: idempotent, maxBatch: 1}}
			p := newProvider(t, ff, gateway.Limits{})
			reg := gateway.NewRegistry()
			reg.Register(p)
			mem, inner := store.NewMemory(), jobsmem.New()
			// Failures at random, not every nth call: a job retried alone
			// makes the same calls each round, and would meet the same
			// failure every time.
			rnd := rand.New(rand.NewPCG(13, 2))
			js := &failingJobs{Store: inner, failRead: func(int) bool { return rnd.IntN(5) == 0 },
				failWrite: func(int) bool { return rnd.IntN(4) == 0 }, lostWrite: func(int) bool { return rnd.IntN(7) == 0 }}
			eng := jobs.New(reg, js, mem, mem, &jobs.Options{Backoff: time.Millisecond, CheckBackoff: time.Millisecond})
			r := &rig{eng: eng, mem: mem, js: inner, fake: ff.bankFake}
			r.start(t)
			const jobsN, itemsN = 5, 6
			var ids []string
			var err error
			for range jobsN {
				var j *bank.Job
				for { // Submit itself may meet the failing store: the client retries
					if j, err = eng.Submit(t.Context(), "t1", &jobs.Spec{Items: items(itemsN)}); err == nil {
						break
					}
				}
				ids = append(ids, j.ID)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			for _, id := range ids {
				var rec *jobs.Record
				for {
					if rec, err = inner.Get(ctx, "t1", id); err != nil {
						t.Fatal(err)
					}
					if rec.Job.Status.Finished() {
						break
					}
					if ctx.Err() != nil {
						t.Fatalf("job %s still %s: %+v", id, rec.Job.Status, rec.Job)
					}
					time.Sleep(5 * time.Millisecond)
				}
				for i, it := range rec.Items {
					if it.Result.Outcome != bank.OutcomeCreated {
						t.Errorf("job %s item %d: %s (%+v), want created", id, i, it.Result.Outcome, it.Result.Error)
					}
				}
			}
			ff.mu.Lock()
			defer ff.mu.Unlock()
			if ff.accounts != jobsN*itemsN {
				t.Errorf("%d accounts at the provider, want exactly %d", ff.accounts, jobsN*itemsN)
			}
			for ref, accs := range ff.byRef {
				if len(accs) != 1 {
					t.Errorf("reference %s: %d accounts at the provider", ref, len(accs))
				}
			}
		})
	}
}
