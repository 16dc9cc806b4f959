package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vagate/vagate/core/accounts"
	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/provider"
	"github.com/vagate/vagate/core/reconcile"
	"github.com/vagate/vagate/core/reconcile/reconciletest"
	"github.com/vagate/vagate/core/store"
)

func TestMemoryStoreContract(t *testing.T) {
	reconciletest.RunStore(t, func(t *testing.T) reconcile.Store { return reconcile.NewMemory(nil) })
}

// bankHolding is a provider holding accounts by id; with list set it also
// lists them, two per page.
type bankHolding struct {
	mu    sync.Mutex
	accs  map[string]*bank.Account
	pages int
	gate  chan struct{} // when set, a listing waits for it
}

func (b *bankHolding) Capabilities() provider.Capabilities {
	return provider.Capabilities{Style: "holding", Currencies: []string{"EUR"}, MaxBatch: 1}
}
func (b *bankHolding) CreateAccounts(context.Context, *provider.CreateRequest) (*provider.CreateResult, error) {
	return nil, bank.Errorf(bank.Unimplemented, "not in this test")
}
func (b *bankHolding) ErrorCode(err error) bank.ErrorCode { return bank.Code(err) }

func (b *bankHolding) GetAccount(_ context.Context, ref string) (*bank.Account, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	a, ok := b.accs[ref]
	if !ok {
		return nil, bank.Errorf(bank.NotFound, "no account %s", ref)
	}
	return a.Clone(), nil
}

func (b *bankHolding) set(a *bank.Account) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.accs[a.ProviderAccountID] = a.Clone()
}

func (b *bankHolding) edit(id string, f func(*bank.Account)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f(b.accs[id])
}

func (b *bankHolding) drop(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.accs, id)
}

// listingBank lists a bankHolding's accounts.
type listingBank struct{ *bankHolding }

func (b listingBank) ListAccounts(_ context.Context, cursor string) ([]*bank.Account, string, error) {
	if b.gate != nil {
		<-b.gate
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pages++
	ids := slices.Sorted(maps.Keys(b.accs))
	start := 0
	if cursor != "" {
		start = slices.Index(ids, cursor) + 1
	}
	end := min(start+2, len(ids))
	var out []*bank.Account
	for _, id := range ids[start:end] {
		out = append(out, b.accs[id].Clone())
	}
	next := ""
	if end < len(ids) {
		next = ids[end-1]
	}
	return out, next, nil
}

var now0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type driftRig struct {
	bank   *bankHolding
	mem    *store.Memory
	svc    *accounts.Service
	rec    *reconcile.Reconciler
	events map[string][]bank.Drift
	mu     sync.Mutex
}

func newDriftRig(t *testing.T, list, adopt bool, st reconcile.Store) *driftRig {
	t.Helper()
	r := &driftRig{bank: &bankHolding{accs: map[string]*bank.Account{}}, mem: store.NewMemory(), events: map[string][]bank.Drift{}}
	var a provider.Adapter = r.bank
	if list {
		a = listingBank{r.bank}
	}
	p, err := gateway.New("bk", a, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := gateway.NewRegistry()
	reg.Register(p)
	r.svc = accounts.New(reg, r.mem, nil)
	if st == nil {
		st = reconcile.NewMemory(nil)
	}
	r.rec = reconcile.NewReconciler(reg, r.svc, st, &reconcile.ReconcilerOptions{AdoptUnknown: adopt, Grace: time.Minute,
		Now: func() time.Time { return now0 },
		OnDrift: func(_ context.Context, tenant string, d *bank.Drift) {
			r.mu.Lock()
			r.events[tenant] = append(r.events[tenant], *d)
			r.mu.Unlock()
		}})
	return r
}

// both records an account the gateway and the provider agree on.
func (r *driftRig) both(t *testing.T, n int) *bank.Account {
	t.Helper()
	a := &bank.Account{ID: fmt.Sprintf("va_%d", n), Tenant: "t1", Provider: "bk", ProviderAccountID: fmt.Sprintf("p%d", n),
		Status: bank.StatusActive, Currency: "EUR", AccountName: fmt.Sprintf("Name %d", n), AccountHolderName: "Holder",
		BankDetails: []bank.BankDetails{{IBAN: fmt.Sprintf("DE000%d", n)}}, CreatedAt: now0.Add(-time.Hour), UpdatedAt: now0.Add(-time.Hour),
		ProviderAt: now0.Add(-time.Hour)}
	if err := r.mem.PutAccount(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	r.bank.set(a)
	return a
}

func kinds(ds []bank.Drift) map[bank.DriftKind]bank.DriftAction {
	out := map[bank.DriftKind]bank.DriftAction{}
	for _, d := range ds {
		out[d.Kind] = d.Action
	}
	return out
}

// Each kind of drift is found, reported once with both sides, the safe
// ones repaired; a second run reports nothing new and leaves the unsafe
// ones open; a drift fixed at the provider is counted resolved.
func TestReconcileDrifts(t *testing.T) {
	tests := []struct {
		name  string
		list  bool
		adopt bool
		want  map[bank.DriftKind]bank.DriftAction
	}{
		{"listing, adopting", true, true, map[bank.DriftKind]bank.DriftAction{
			bank.DriftStatusMismatch: bank.DriftRepaired, bank.DriftMissingAtProvider: bank.DriftReported,
			bank.DriftIdentityMismatch: bank.DriftReported, bank.DriftUnknownAtGateway: bank.DriftAdopted}},
		{"listing, reporting", true, false, map[bank.DriftKind]bank.DriftAction{
			bank.DriftStatusMismatch: bank.DriftRepaired, bank.DriftMissingAtProvider: bank.DriftReported,
			bank.DriftIdentityMismatch: bank.DriftReported, bank.DriftUnknownAtGateway: bank.DriftReported}},
		{"lookups only", false, true, map[bank.DriftKind]bank.DriftAction{
			bank.DriftStatusMismatch: bank.DriftRepaired, bank.DriftMissingAtProvider: bank.DriftReported,
			bank.DriftIdentityMismatch: bank.DriftReported}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			r := newDriftRig(t, tc.list, tc.adopt, nil)
			for n := range 5 {
				r.both(t, n)
			}
			// Behind the gateway's back: p0 blocked, p1 deleted, p2
			// renamed, an account the gateway never asked for, and one
			// too new to judge.
			r.bank.edit("p0", func(a *bank.Account) { a.Status, a.ProviderStatus, a.UpdatedAt = bank.StatusBlocked, "BLOCKED", now0 })
			r.bank.drop("p1")
			r.bank.edit("p2", func(a *bank.Account) { a.AccountName = "Renamed" })
			r.bank.set(&bank.Account{ProviderAccountID: "stray", Status: bank.StatusActive, Currency: "EUR", CreatedAt: now0.Add(-time.Hour)})
			r.bank.set(&bank.Account{ProviderAccountID: "fresh", Status: bank.StatusPending, Currency: "EUR", CreatedAt: now0.Add(-time.Second)})

			rep, err := r.rec.Run(ctx, "bk", reconcile.TriggerOnDemand)
			if err != nil || rep.Status != reconcile.ReportCompleted {
				t.Fatalf("run: %+v, %v", rep, err)
			}
			if got := kinds(rep.Drifts); !maps.Equal(got, tc.want) || len(rep.Drifts) != len(tc.want) {
				t.Fatalf("drifts %v (%d), want %v", got, len(rep.Drifts), tc.want)
			}
			for _, d := range rep.Drifts {
				switch d.Kind {
				case bank.DriftUnknownAtGateway:
					if d.AtProvider == nil || d.Gateway != nil || d.ProviderAccountID != "stray" {
						t.Errorf("unknown drift %+v", d)
					}
				case bank.DriftMissingAtProvider:
					if d.Gateway == nil || d.AtProvider != nil || d.AccountID != "va_1" {
						t.Errorf("missing drift %+v", d)
					}
				default:
					if d.Gateway == nil || d.AtProvider == nil {
						t.Errorf("%s drift lacks a side: %+v", d.Kind, d)
					}
				}
			}
			if got, _ := r.svc.Get(ctx, "t1", "va_0"); got.Status != bank.StatusBlocked || got.AccountName != "Name 0" {
				t.Errorf("repaired account: %s %q, want BLOCKED with its name kept", got.Status, got.AccountName)
			}
			if got, _ := r.svc.Get(ctx, "t1", "va_2"); got.AccountName != "Name 2" {
				t.Errorf("an identity drift changed the record: %q", got.AccountName)
			}
			adopted, err := r.svc.Get(ctx, "quarantine", reconcile.AdoptedID("bk", "stray"))
			if tc.adopt && tc.list && (err != nil || adopted.ProviderAccountID != "stray") {
				t.Errorf("adopted account: %+v, %v", adopted, err)
			}
			if !tc.adopt && err == nil {
				t.Errorf("adopted while only reporting")
			}
			if tc.list && (rep.Skipped != 1 || rep.ProviderAccounts != 6) {
				t.Errorf("skipped %d, listed %d: want the fresh account skipped, 6 listed", rep.Skipped, rep.ProviderAccounts)
			}
			wantEvents := len(tc.want)
			if tc.list {
				wantEvents-- // the unknown account's event is the quarantine tenant's
				if len(r.events["quarantine"]) != 1 {
					t.Errorf("quarantine events %v", r.events["quarantine"])
				}
			}
			if len(r.events["t1"]) != wantEvents {
				t.Errorf("t1 events %v, want %d", kinds(r.events["t1"]), wantEvents)
			}

			second, err := r.rec.Run(ctx, "bk", reconcile.TriggerOnDemand)
			if err != nil || len(second.Drifts) != 0 {
				t.Fatalf("second run reports %v, %v; want nothing", kinds(second.Drifts), err)
			}
			open := 2 // missing, identity
			if !tc.adopt && tc.list {
				open = 3 // and the stray account, reported
			}
			if second.StillOpen != open || second.Resolved != 0 {
				t.Errorf("second run: still open %d, resolved %d; want %d, 0", second.StillOpen, second.Resolved, open)
			}
			// Renamed back at the provider: resolved.
			r.bank.edit("p2", func(a *bank.Account) { a.AccountName = "Name 2" })
			third, _ := r.rec.Run(ctx, "bk", reconcile.TriggerOnDemand)
			if len(third.Drifts) != 0 || third.Resolved != 1 || third.StillOpen != open-1 {
				t.Errorf("third run: %d new, %d resolved, %d open", len(third.Drifts), third.Resolved, third.StillOpen)
			}
			if latest, err := r.rec.Latest(ctx, "bk"); err != nil || latest.ID != third.ID {
				t.Errorf("latest = %+v, %v; want the third run", latest, err)
			}
		})
	}
}

// A gateway record in a terminal status is never changed by a provider
// that says otherwise: reported only.
func TestTerminalStatusNotRepaired(t *testing.T) {
	r := newDriftRig(t, true, true, nil)
	a := r.both(t, 1)
	r.mem.UpdateAccount(t.Context(), "t1", a.ID, func(x *bank.Account) error { x.Status = bank.StatusClosed; return nil })
	rep, err := r.rec.Run(t.Context(), "bk", reconcile.TriggerOnDemand)
	if err != nil || len(rep.Drifts) != 1 || rep.Drifts[0].Action != bank.DriftReported || rep.Drifts[0].Error == "" {
		t.Fatalf("drifts %+v, %v", rep.Drifts, err)
	}
	if got, _ := r.svc.Get(t.Context(), "t1", a.ID); got.Status != bank.StatusClosed {
		t.Errorf("status %s, want CLOSED kept", got.Status)
	}
}

// Two reconcilers (two instances) sharing a store: while one runs a
// provider, the other is refused; once it is done, the other may run.
func TestOneRunAtATime(t *testing.T) {
	st := reconcile.NewMemory(nil)
	a := newDriftRig(t, true, true, st)
	a.bank.gate = make(chan struct{})
	b := newDriftRig(t, true, true, st)
	rep, err := a.rec.Start(t.Context(), "bk", reconcile.TriggerOnDemand)
	if err != nil || rep.Status != reconcile.ReportRunning {
		t.Fatalf("start: %+v, %v", rep, err)
	}
	if _, err := b.rec.Start(t.Context(), "bk", reconcile.TriggerOnDemand); !errors.Is(err, reconcile.ErrRunning) || bank.Code(err) != bank.AlreadyExists {
		t.Fatalf("second start while running: %v, want AlreadyExists wrapping ErrRunning", err)
	}
	close(a.bank.gate)
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := a.rec.Report(t.Context(), rep.ID)
		if err == nil && got.Status == reconcile.ReportCompleted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run not finished: %+v, %v", got, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := b.rec.Run(t.Context(), "bk", reconcile.TriggerOnDemand); err != nil {
		t.Fatalf("run after the first finished: %v", err)
	}
	if _, err := a.rec.Start(t.Context(), "nope", reconcile.TriggerOnDemand); bank.Code(err) != bank.NotFound {
		t.Errorf("unknown provider: %v, want NotFound", err)
	}
}

// Two reconcilers (two instances) running periodically over one store:
// their runs of a provider never overlap, and a provider reconciled less
// than an interval ago (by either) is not run again.
func TestPeriodicRunsNeverOverlap(t *testing.T) {
	st := reconcile.NewMemory(nil)
	var mu sync.Mutex
	var spans [][2]time.Time
	held := map[string]int{}
	rigs := make([]*driftRig, 2)
	for i := range rigs {
		r := newDriftRig(t, true, true, st)
		r.both(t, 1)
		reg := gateway.NewRegistry()
		p, err := gateway.New("bk", listingBank{r.bank}, nil)
		if err != nil {
			t.Fatal(err)
		}
		reg.Register(p)
		r.rec = reconcile.NewReconciler(reg, r.svc, spanStore{Store: st, mu: &mu, spans: &spans, at: held},
			&reconcile.ReconcilerOptions{Interval: 20 * time.Millisecond, Instance: fmt.Sprint("i", i)})
		rigs[i] = r
	}
	ctx, cancel := context.WithTimeout(t.Context(), 600*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	for _, r := range rigs {
		wg.Go(func() { r.rec.Serve(ctx) })
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(spans) < 3 {
		t.Fatalf("%d runs in 600ms at a 20ms interval, want several", len(spans))
	}
	slices.SortFunc(spans, func(a, b [2]time.Time) int { return a[0].Compare(b[0]) })
	for i := 1; i < len(spans); i++ {
		if spans[i-1][1].IsZero() || spans[i][0].Before(spans[i-1][1]) {
			t.Fatalf("run %d started at %s, before run %d finished at %s", i, spans[i][0], i-1, spans[i-1][1])
		}
		if gap := spans[i][0].Sub(spans[i-1][1]); gap < 15*time.Millisecond {
			t.Errorf("run %d started %s after the one before finished, within the interval", i, gap)
		}
	}
}

// spanStore records when each run started and finished (its reports).
type spanStore struct {
	reconcile.Store
	mu    *sync.Mutex
	spans *[][2]time.Time
	at    map[string]int // report id → its span
}

func (s spanStore) SaveReport(ctx context.Context, r *reconcile.Report) error {
	s.mu.Lock()
	if r.Status == reconcile.ReportRunning {
		s.at[r.ID] = len(*s.spans)
		*s.spans = append(*s.spans, [2]time.Time{time.Now(), {}})
	} else {
		(*s.spans)[s.at[r.ID]][1] = time.Now()
	}
	s.mu.Unlock()
	return s.Store.SaveReport(ctx, r)
}
