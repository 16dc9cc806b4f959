package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/vagate/vagate/config"
	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/jobs"
	"github.com/vagate/vagate/core/jobs/jobsmem"
	"github.com/vagate/vagate/core/provider"
	"github.com/vagate/vagate/core/store"
	"github.com/vagate/vagate/mocks/bundle"
	"github.com/vagate/vagate/mocks/fault"
)

// mockAPI is what the tests need of every bundled mock.
type mockAPI interface {
	Faults() *fault.Injector
	CountByReference(ref string) int
	AccountCount() int
}

// chaosItem is a valid create item for each bundled provider.
var chaosItem = map[string]func(ref string) provider.CreateItem{
	"batchva": func(ref string) provider.CreateItem {
		return provider.CreateItem{Currency: "USD", AccountHolderName: "Chaos Ltd", AccountName: "Chaos " + ref, ClientReference: ref}
	},
	"subaccount": func(ref string) provider.CreateItem {
		return provider.CreateItem{Currency: "NGN", AccountName: "dept-" + ref, AccountHolderName: "Institution - dept-" + ref, ClientReference: ref}
	},
	"parentprimary": func(ref string) provider.CreateItem {
		return provider.CreateItem{Currency: "GBP", AccountHolderName: "Chaos Ltd", AccountName: "Chaos " + ref, ClientReference: ref,
			CustomerID: "a2b9649e-df7f-4349-adff-1c57283fef10"}
	},
	"masterfiat": func(ref string) provider.CreateItem {
		return provider.CreateItem{Currency: "GBP", AccountHolderName: "Chaos Ltd", AccountName: "Chaos " + ref, ClientReference: ref}
	},
}

// createPath is each mock's create route, where the faults go.
var createPath = map[string]string{
	"batchva": "/v1/virtual-accounts", "subaccount": "/v2/sub-accounts",
	"parentprimary": "/v1/partner/accounts/virtual", "masterfiat": "/api/v1/virtual-accounts",
}

type rigProvider struct {
	name string
	p    *gateway.Provider
	mock mockAPI
}

// bundledRig serves every bundled mock in process, each behind its adapter
// and a resilient client with the given limits.
func bundledRig(t *testing.T, l *gateway.Limits) (*gateway.Registry, []*rigProvider) {
	t.Helper()
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(sink.Close)
	reg := gateway.NewRegistry()
	var out []*rigProvider
	for _, b := range bundle.Mocks {
		p, m := serveBundled(t, b, sink.URL, nil, &gateway.OpenOptions{Limits: l,
			PollInterval: 10 * time.Millisecond, MaxPollInterval: 100 * time.Millisecond})
		reg.Register(p)
		out = append(out, &rigProvider{name: b.Style, p: p, mock: m})
	}
	return reg, out
}

// serveBundled serves bundled mock b in process (behind wrap, if any) and
// opens its provider from the mock's config block through the style's
// driver, as the embedded default does, with options o.
func serveBundled(t testing.TB, b bundle.Mock, callbackURL string, wrap func(http.Handler) http.Handler, o *gateway.OpenOptions) (*gateway.Provider, mockAPI) {
	t.Helper()
	m, block := b.New(embeddedSettings)
	api, ok := m.(mockAPI)
	if !ok {
		t.Fatalf("mock %s lacks Faults/CountByReference/AccountCount", b.Style)
	}
	var h http.Handler = m
	if wrap != nil {
		h = wrap(m)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() { srv.Close(); m.Close() })
	cfg, err := block(srv.URL, callbackURL)
	if err != nil {
		t.Fatalf("%s: %v", b.Style, err)
	}
	pc, err := bundledProvider(b.Style, cfg)
	if err != nil {
		t.Fatal(err)
	}
	d, err := driverFor(b.Style)
	if err != nil {
		t.Fatal(err)
	}
	p, err := gateway.OpenDriver(b.Style, d, func(into any) error { return config.DecodeStrict(&pc.Config, into) }, o)
	if err != nil {
		t.Fatalf("%s: %v", b.Style, err)
	}
	return p, api
}

// 500 creates across every provider while creates fail 30% of the time with
// a 5xx, hang 10% and are created-then-dropped 5%: every item ends created,
// or failed with a reason, and each provider holds exactly one account per
// created item and nothing else. VAGATE_CHAOS_ITEMS sets the size (make chaos
// runs 2000).
func TestChaos(t *testing.T) {
	total := chaosItems(t, 500)
	reg, provs := bundledRig(t, &gateway.Limits{
		AttemptTimeout: 250 * time.Millisecond, CallTimeout: 2 * time.Second, MaxAttempts: 6,
		BackoffMin: 5 * time.Millisecond, BackoffMax: 20 * time.Millisecond,
		Breaker: gateway.BreakerLimits{FailureRatio: 1, MinRequests: 1 << 20}, // this test is about duplicates, not fail-fast
	})
	for _, rp := range provs {
		path := createPath[rp.name]
		// Applied in order, so the conditional rates give 30% / 10% / 5% of all creates.
		for _, r := range []fault.Rule{
			{Method: "POST", Path: path, Action: fault.ActionError, Status: 503, Rate: 0.15},
			{Method: "POST", Path: path, Action: fault.ActionError, Status: 500, Rate: 0.15 / 0.85},
			{Method: "POST", Path: path, Action: fault.ActionHang, Rate: 0.10 / 0.70},
			{Method: "POST", Path: path, Action: fault.ActionDropResponse, Rate: 0.05 / 0.60},
		} {
			if _, err := rp.mock.Faults().Add(r); err != nil {
				t.Fatal(err)
			}
		}
	}
	mem := store.NewMemory()
	eng := jobs.New(reg, jobsmem.New(), mem, mem, &jobs.Options{Workers: 8,
		Backoff: 10 * time.Millisecond, ItemTimeout: 30 * time.Second})
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute+time.Duration(total)*100*time.Millisecond)
	defer cancel()
	done := make(chan struct{})
	go func() { eng.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	// total/4 items per provider, in jobs of 25.
	var ids []string
	for _, rp := range provs {
		for j := range total / 4 / 25 {
			spec := &jobs.Spec{}
			for i := range 25 {
				ref := fmt.Sprintf("CH-%s-%d-%02d", rp.name[:2], j, i)
				spec.Items = append(spec.Items, jobs.Item{Provider: rp.name, Request: chaosItem[rp.name](ref)})
			}
			job, err := eng.Submit(ctx, "chaos", spec)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, job.ID)
		}
	}
	created := map[string]int{}
	outcomes := map[bank.Outcome]int{}
	for _, id := range ids {
		if _, err := eng.Wait(ctx, "chaos", id); err != nil {
			t.Fatal(err)
		}
		rec, _ := eng.Get(ctx, "chaos", id)
		if !rec.Job.Status.Finished() {
			t.Fatalf("job %s still %s", id, rec.Job.Status)
		}
		for _, it := range rec.Items {
			r := it.Result
			outcomes[r.Outcome]++
			switch r.Outcome {
			case bank.OutcomeCreated:
				created[it.Provider]++
				if n := provMock(provs, it.Provider).CountByReference(mockKey(it)); n != 1 {
					t.Errorf("%s %s: %d accounts at the provider, want exactly 1", it.Provider, r.ClientReference, n)
				}
			case bank.OutcomeFailed:
				if r.Error == nil || r.Error.Message == "" {
					t.Errorf("%s %s failed without a reason", it.Provider, r.ClientReference)
				}
				if n := provMock(provs, it.Provider).CountByReference(mockKey(it)); n != 0 {
					t.Errorf("%s %s failed, yet the provider holds %d accounts for it", it.Provider, r.ClientReference, n)
				}
			default:
				t.Errorf("%s %s ended %s (%+v), want created or failed", it.Provider, r.ClientReference, r.Outcome, r.Error)
			}
		}
	}
	for _, rp := range provs {
		if n := rp.mock.AccountCount(); n != created[rp.name] {
			t.Errorf("%s holds %d accounts for %d created items: duplicates or orphans", rp.name, n, created[rp.name])
		}
		fired := 0
		for _, r := range rp.mock.Faults().Rules() {
			fired += r.Fired
		}
		if fired == 0 {
			t.Errorf("%s: no fault fired", rp.name)
		}
	}
	t.Logf("outcomes %v, created per provider %v", outcomes, created)
	if outcomes[bank.OutcomeCreated] < total*4/5 {
		t.Errorf("only %d of %d created: the retries and reconciliation are not doing their job", outcomes[bank.OutcomeCreated], total)
	}
}

// mockKey is the reference a mock counts an item's accounts by: the
// subaccount provider keeps only the gateway's reference (client_reference),
// the others the client's clientReference.
func mockKey(it jobs.ItemRecord) string {
	if it.Provider == "subaccount" {
		return it.Request.Reference
	}
	return it.Request.ClientReference
}

func provMock(ps []*rigProvider, name string) mockAPI {
	for _, p := range ps {
		if p.name == name {
			return p.mock
		}
	}
	return nil
}

// One provider dead (every request hangs): calls to the others complete as
// many times in a window as before, and the dead one's breaker opens, fails
// fast, and closes again once the provider answers.
func TestDeadProviderIsolated(t *testing.T) {
	_, provs := bundledRig(t, &gateway.Limits{
		AttemptTimeout: 200 * time.Millisecond, CallTimeout: time.Second, MaxAttempts: 2,
		BackoffMin: 5 * time.Millisecond, BackoffMax: 20 * time.Millisecond,
		Breaker: gateway.BreakerLimits{FailureRatio: 0.5, MinRequests: 5, Window: 10 * time.Second, OpenFor: 400 * time.Millisecond, Probes: 1},
	})
	refs := map[string]string{}
	for _, rp := range provs {
		res, err := rp.p.CreateAccounts(t.Context(), &provider.CreateRequest{IdempotencyKey: "9f0c7a36-27c8-4bd4-8c7b-2a1f6d0e1c55",
			Items: []provider.CreateItem{chaosItem[rp.name]("ISO-" + rp.name)}})
		if err != nil || res[0].Err != nil {
			t.Fatalf("%s: create: %v %v", rp.name, err, res)
		}
		refs[rp.name] = res[0].Account.ProviderAccountID
	}
	dead := provs[len(provs)-1]
	// reads completes GETs on every provider but skip for d, 4 loops each, and counts them.
	reads := func(d time.Duration, skip string) map[string]int {
		ctx, cancel := context.WithTimeout(t.Context(), d)
		defer cancel()
		var mu sync.Mutex
		n := map[string]int{}
		var wg sync.WaitGroup
		for _, rp := range provs {
			if rp.name == skip {
				continue
			}
			for range 4 {
				wg.Go(func() {
					for ctx.Err() == nil {
						if _, err := rp.p.GetAccount(ctx, refs[rp.name]); err == nil {
							mu.Lock()
							n[rp.name]++
							mu.Unlock()
						}
					}
				})
			}
		}
		wg.Wait()
		return n
	}
	const window = 700 * time.Millisecond
	baseline := reads(window, dead.name)

	if st, _ := dead.p.Breaker(); st.State != "closed" {
		t.Fatalf("%s's breaker is %s before it died", dead.name, st.State)
	}
	if _, err := dead.mock.Faults().Add(fault.Rule{Action: fault.ActionHang}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var deadCalls, fastFails int
	stop := make(chan struct{})
	var hammer sync.WaitGroup
	for range 4 {
		hammer.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, err := dead.p.GetAccount(t.Context(), refs[dead.name])
				mu.Lock()
				deadCalls++
				if errors.Is(err, gateway.ErrFailFast) {
					fastFails++
				}
				mu.Unlock()
				// Paced like a real client, so the test's own spinning does
				// not starve the CPU the other providers' calls need.
				time.Sleep(2 * time.Millisecond)
			}
		})
	}
	during := reads(window, dead.name)
	close(stop)
	hammer.Wait()
	// Without isolation (a shared bulkhead, pool or breaker) the others
	// would drop towards zero; with it they keep most of their rate, less
	// whatever CPU the test itself takes on a small machine.
	for name, base := range baseline {
		if during[name] < base/3 {
			t.Errorf("%s completed %d reads in the window while %s was dead, against %d before", name, during[name], dead.name, base)
		}
	}
	if st, _ := dead.p.Breaker(); st.State != "open" || fastFails == 0 {
		t.Fatalf("dead provider: breaker %s after %d calls (%d failed fast), want open and failing fast", st.State, deadCalls, fastFails)
	}
	// The provider comes back: after OpenFor a probe goes through and closes it.
	dead.mock.Faults().Reset()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := dead.p.GetAccount(t.Context(), refs[dead.name])
		if st, _ := dead.p.Breaker(); err == nil && st.State == "closed" {
			break
		}
		if time.Now().After(deadline) {
			st, _ := dead.p.Breaker()
			t.Fatalf("breaker still %s 5s after the provider recovered (last err %v)", st.State, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("reads per provider in %s: before %v, while %s was dead %v; %d calls to it, %d failed fast", window, baseline, dead.name, during, deadCalls, fastFails)
}
