package accounts_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vagate/vagate/core/accounts"
	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/provider"
	"github.com/vagate/vagate/core/store"
	"github.com/vagate/vagate/core/store/redistest"
)

var base = time.Date(2026, 5, 29, 9, 0, 0, 0, time.UTC)

// fakeBank is a provider that keeps one state per account and dates every
// change with its own clock, strictly increasing. Its answers carry that
// time unless undated is set.
type fakeBank struct {
	mu      sync.Mutex
	clock   time.Time
	state   map[string]bank.Account
	undated bool
	jitter  bool
}

func newFakeBank() *fakeBank {
	return &fakeBank{clock: base, state: map[string]bank.Account{}}
}

func (f *fakeBank) Capabilities() provider.Capabilities {
	return provider.Capabilities{Style: "fake", Currencies: []string{"USD"}, MaxBatch: 1}
}

func (f *fakeBank) CreateAccounts(context.Context, *provider.CreateRequest) (*provider.CreateResult, error) {
	return nil, bank.Errorf(bank.Unimplemented, "not in this test")
}

func (f *fakeBank) ErrorCode(err error) bank.ErrorCode { return bank.Code(err) }

func (f *fakeBank) pause() {
	if f.jitter {
		time.Sleep(time.Duration(rand.IntN(200)) * time.Microsecond)
	}
}

// set changes the account at the provider and returns its new state.
func (f *fakeBank) set(ref string, st bank.Status) bank.Account {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.clock = f.clock.Add(time.Millisecond)
	a := bank.Account{ProviderAccountID: ref, Status: st, ProviderStatus: "RAW_" + string(st), Currency: "USD", UpdatedAt: f.clock}
	f.state[ref] = a
	return a
}

func (f *fakeBank) get(ref string) bank.Account {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state[ref]
}

func (f *fakeBank) answer(a bank.Account) *bank.Account {
	if f.undated {
		a.UpdatedAt = time.Time{}
	}
	return &a
}

func (f *fakeBank) GetAccount(_ context.Context, ref string) (*bank.Account, error) {
	f.pause()
	a := f.get(ref)
	f.pause()
	return f.answer(a), nil
}

func (f *fakeBank) Block(_ context.Context, ref string) (*bank.Account, error) {
	f.pause()
	a := f.set(ref, bank.StatusBlocked)
	f.pause()
	return f.answer(a), nil
}

func (f *fakeBank) Unblock(_ context.Context, ref string) (*bank.Account, error) {
	return f.answer(f.set(ref, bank.StatusActive)), nil
}

func (f *fakeBank) Close(_ context.Context, ref string, _ *provider.CloseReason) (*bank.Account, error) {
	return f.answer(f.set(ref, bank.StatusClosed)), nil
}

// activate activates the account at the provider and returns the webhook
// event it sends, dated by the provider.
func (f *fakeBank) activate(ref string) *bank.ProviderEvent {
	a := f.set(ref, bank.StatusActive)
	return &bank.ProviderEvent{Type: bank.EventAccountUpdated, ProviderAccountID: ref, Account: &a, At: a.UpdatedAt}
}

type stores struct {
	name string
	new  func(t *testing.T) accounts.Store
}

func allStores() []stores {
	return []stores{
		{"memory", func(*testing.T) accounts.Store { return store.NewMemory() }},
		{"redis", newRedis},
	}
}

// newRedis is a store on the real Redis at REDIS_URL under a fresh key
// prefix, removed afterwards; the test fails, never skips, without Redis.
func newRedis(t *testing.T) accounts.Store {
	c := redistest.Client(t, redistest.Single)
	return store.NewRedis(c, &store.RedisOptions{Prefix: redistest.Prefix(t, c, "vagate-test")})
}

func newService(t *testing.T, st accounts.Store, f *fakeBank, changed accounts.ChangeFunc) *accounts.Service {
	p, err := gateway.New("fake", f, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := gateway.NewRegistry()
	reg.Register(p)
	return accounts.New(reg, st, &accounts.Options{Changed: changed})
}

func put(t *testing.T, st accounts.Store, id string, status bank.Status) *bank.Account {
	a := &bank.Account{ID: id, Tenant: "t1", Provider: "fake", ProviderAccountID: "pa_" + id, Status: status,
		Currency: "USD", CreatedAt: base, UpdatedAt: base, ClientReference: "CLIENT-REF", AccountName: "Stored"}
	if err := st.(store.Accounts).PutAccount(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	return a
}

// A webhook that activates an account races a block request (and a
// refresh): whatever the order the provider acts in and the answers and
// the event arrive in, the stored state ends as the provider's latest.
func TestWebhookRacesBlock(t *testing.T) {
	for _, s := range allStores() {
		t.Run(s.name, func(t *testing.T) {
			st := s.new(t)
			f := newFakeBank()
			f.jitter = true
			svc := newService(t, st, f, nil)
			ctx := t.Context()
			const n = 200
			for i := range n {
				id := fmt.Sprintf("va_%03d", i)
				a := put(t, st, id, bank.StatusPending)
				f.set(a.ProviderAccountID, bank.StatusPending)
				start := make(chan struct{})
				var wg sync.WaitGroup
				wg.Go(func() { // the provider activates it and sends the webhook
					<-start
					ev := f.activate(a.ProviderAccountID)
					f.pause()
					if _, err := svc.ApplyEvent(ctx, "fake", ev); err != nil {
						t.Error(err)
					}
				})
				wg.Go(func() { // a client blocks it
					<-start
					if _, err := svc.Block(ctx, "t1", id); err != nil {
						t.Error(err)
					}
				})
				if i%2 == 0 {
					wg.Go(func() { // the reconciler reads it
						<-start
						if _, err := svc.Refresh(ctx, "t1", id); err != nil {
							t.Error(err)
						}
					})
				}
				close(start)
				wg.Wait()
				want := f.get(a.ProviderAccountID)
				got, err := svc.Get(ctx, "t1", id)
				if err != nil {
					t.Fatal(err)
				}
				if got.Status != want.Status || !got.ProviderAt.Equal(want.UpdatedAt) {
					t.Fatalf("iteration %d: stored %s as of %s, the provider's latest is %s as of %s",
						i, got.Status, got.ProviderAt, want.Status, want.UpdatedAt)
				}
				if got.ClientReference != "CLIENT-REF" || got.AccountName != "Stored" {
					t.Fatalf("iteration %d: fields the provider does not report were lost: %+v", i, got)
				}
			}
		})
	}
}

// A block answer without a provider time does not overwrite a state the
// provider dated after the block was sent; it does overwrite one dated
// before. Many writers of one record lose no write (compare-and-set).
func TestUndatedAnswer(t *testing.T) {
	for _, s := range allStores() {
		t.Run(s.name, func(t *testing.T) {
			st := s.new(t)
			f := newFakeBank()
			f.undated = true
			now := base.Add(time.Hour)
			p, _ := gateway.New("fake", f, nil)
			reg := gateway.NewRegistry()
			reg.Register(p)
			var mu sync.Mutex
			var changes int
			svc := accounts.New(reg, st, &accounts.Options{Now: func() time.Time { return now },
				Changed: func(context.Context, *bank.Account, *bank.Account) { mu.Lock(); changes++; mu.Unlock() }})
			ctx := t.Context()
			a := put(t, st, "va_1", bank.StatusPending)
			// A webhook dated after the gateway sent the block.
			ev := &bank.ProviderEvent{Type: bank.EventAccountUpdated, ProviderAccountID: a.ProviderAccountID,
				Account: &bank.Account{Status: bank.StatusActive}, At: now.Add(time.Second)}
			if _, err := svc.ApplyEvent(ctx, "fake", ev); err != nil {
				t.Fatal(err)
			}
			got, err := svc.Block(ctx, "t1", "va_1")
			if err != nil || got.Status != bank.StatusActive {
				t.Fatalf("undated block answer over a newer dated state: %v, %v; want ACTIVE kept", got, err)
			}
			// Later the gateway blocks again: now the answer is newer.
			now = now.Add(time.Minute)
			got, err = svc.Block(ctx, "t1", "va_1")
			if err != nil || got.Status != bank.StatusBlocked || !got.ProviderAt.Equal(now) {
				t.Fatalf("undated block answer over an older state: %+v, %v; want BLOCKED as of now", got, err)
			}
			// An older webhook (a late delivery) changes nothing.
			if got, _ := svc.ApplyEvent(ctx, "fake", ev); got.Status != bank.StatusBlocked {
				t.Fatalf("late webhook overwrote a newer state: %s", got.Status)
			}
			if changes != 2 {
				t.Errorf("%d changes reported, want 2", changes)
			}
		})
	}
}

func TestMerge(t *testing.T) {
	stored := &bank.Account{ID: "va_1", Tenant: "t1", Provider: "p", ProviderAccountID: "pa", Status: bank.StatusUnallocated,
		ProviderStatus: "RAW", Currency: "USD", AccountHolderName: "Jane", AccountName: "Jane", ClientReference: "CLIENT-REF",
		CustomerID: "cus_1", Metadata: map[string]string{"k": "v"}, CreatedAt: base, UpdatedAt: base, ProviderAt: base, Version: 4}
	tests := []struct {
		name   string
		report accounts.Report
		ok     bool
		check  func(t *testing.T, m *bank.Account)
	}{
		{name: "fields not reported keep their stored value", ok: true,
			report: accounts.Report{Account: &bank.Account{Status: bank.StatusActive, ProviderStatus: "OPEN",
				BankDetails: []bank.BankDetails{{AccountNumber: "1"}}}, At: base.Add(time.Minute), Asked: base.Add(time.Second)},
			check: func(t *testing.T, m *bank.Account) {
				if m.Status != bank.StatusActive || m.ProviderStatus != "OPEN" || m.ClientReference != "CLIENT-REF" ||
					m.AccountHolderName != "Jane" || m.Currency != "USD" || len(m.BankDetails) != 1 || m.CustomerID != "cus_1" ||
					m.Metadata["k"] != "v" || !m.UpdatedAt.Equal(base.Add(time.Minute)) || !m.ProviderAt.Equal(base.Add(time.Minute)) ||
					m.AllocatedAt == nil || !m.AllocatedAt.Equal(base.Add(time.Second)) || m.Version != 4 {
					t.Errorf("merged %+v", m)
				}
			}},
		{name: "reported fields win", ok: true,
			report: accounts.Report{Account: &bank.Account{Status: bank.StatusActive, ClientReference: "PROVIDER-REF", AccountName: "J"},
				At: base.Add(time.Minute)},
			check: func(t *testing.T, m *bank.Account) {
				if m.ClientReference != "PROVIDER-REF" || m.AccountName != "J" {
					t.Errorf("merged %+v", m)
				}
			}},
		{name: "older dated report", report: accounts.Report{Account: &bank.Account{Status: bank.StatusActive}, At: base.Add(-time.Second)}},
		{name: "undated report asked before the stored state", report: accounts.Report{Account: &bank.Account{Status: bank.StatusBlocked}, Asked: base.Add(-time.Second)}},
		{name: "undated report asked after", ok: true,
			report: accounts.Report{Account: &bank.Account{Status: bank.StatusBlocked}, Asked: base.Add(time.Second)},
			check: func(t *testing.T, m *bank.Account) {
				if m.Status != bank.StatusBlocked || !m.ProviderAt.Equal(base.Add(time.Second)) {
					t.Errorf("merged %+v", m)
				}
			}},
		{name: "updatedAt never goes back", ok: true,
			report: accounts.Report{Account: &bank.Account{Status: bank.StatusActive}, At: base},
			check: func(t *testing.T, m *bank.Account) {
				if !m.UpdatedAt.Equal(base) || m.AllocatedAt == nil {
					t.Errorf("merged %+v", m)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := stored.Clone()
			m, ok := accounts.Merge(in, tc.report)
			if ok != tc.ok {
				t.Fatalf("applied = %v, want %v", ok, tc.ok)
			}
			if in.Status != bank.StatusUnallocated || in.AllocatedAt != nil {
				t.Fatalf("Merge changed the stored account: %+v", in)
			}
			if !ok && m != in {
				t.Fatalf("an older report returns the stored account")
			}
			if tc.check != nil {
				tc.check(t, m)
			}
		})
	}
}

// countingStore counts the reads of the account store.
type countingStore struct {
	accounts.Store
	reads atomic.Int32
}

func (c *countingStore) GetAccount(ctx context.Context, tenant, id string) (*bank.Account, error) {
	c.reads.Add(1)
	return c.Store.GetAccount(ctx, tenant, id)
}

// A refresh reads the stored account once, whether the provider's answer
// changes it or not: the read made before asking the provider is the one
// merged into (the compare-and-set still guards the write).
func TestRefreshReadsTheStoreOnce(t *testing.T) {
	for _, s := range allStores() {
		t.Run(s.name, func(t *testing.T) {
			inner := s.new(t)
			st := &countingStore{Store: inner}
			f := newFakeBank()
			svc := newService(t, st, f, nil)
			a := put(t, inner, "va_1", bank.StatusPending)
			f.set(a.ProviderAccountID, bank.StatusActive)
			for i, want := range []bank.Status{bank.StatusActive, bank.StatusActive} {
				st.reads.Store(0)
				got, err := svc.Refresh(t.Context(), "t1", "va_1")
				if err != nil || got.Status != want {
					t.Fatalf("refresh %d: %v, %v; want %s", i, got, err, want)
				}
				if n := st.reads.Load(); n != 1 {
					t.Errorf("refresh %d read the store %d times, want 1", i, n)
				}
			}
		})
	}
}
