package reconcile_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/vagate/vagate/core/accounts"
	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/provider"
	"github.com/vagate/vagate/core/reconcile"
	"github.com/vagate/vagate/core/store"
)

// fake is a provider whose GetAccount answers from a script.
type fake struct {
	mu     sync.Mutex
	reads  int
	script func(n int) (bank.Status, error)
	onRead func(n int)
}

func (f *fake) Capabilities() provider.Capabilities {
	return provider.Capabilities{Style: "fake", Currencies: []string{"USD"}, MaxBatch: 1}
}

func (f *fake) CreateAccounts(context.Context, *provider.CreateRequest) (*provider.CreateResult, error) {
	return nil, bank.Errorf(bank.Unimplemented, "not in this test")
}

func (f *fake) GetAccount(_ context.Context, ref string) (*bank.Account, error) {
	f.mu.Lock()
	f.reads++
	n := f.reads
	f.mu.Unlock()
	if f.onRead != nil {
		f.onRead(n)
	}
	st, err := f.script(n)
	if err != nil {
		return nil, err
	}
	return &bank.Account{ProviderAccountID: ref, Status: st, ProviderStatus: "RAW_" + string(st), Currency: "USD",
		AccountName: "Named", UpdatedAt: base.Add(time.Duration(n) * time.Minute),
		BankDetails: []bank.BankDetails{{AccountNumber: "123"}}}, nil
}

func (f *fake) ErrorCode(err error) bank.ErrorCode { return bank.Code(err) }

func (f *fake) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads
}

var base = time.Date(2026, 5, 29, 9, 0, 0, 0, time.UTC)

// recorder collects the changes the watcher reports.
type recorder struct {
	mu  sync.Mutex
	got [][2]bank.Status
}

func (r *recorder) changed(_ context.Context, before, after *bank.Account) {
	if before.Status == after.Status {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, [2]bank.Status{before.Status, after.Status})
}

func (r *recorder) changes() [][2]bank.Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][2]bank.Status(nil), r.got...)
}

// newWatcher wires a watcher the production way: the accounts service
// reports its changes to rec and to the watcher.
func newWatcher(t *testing.T, mem *store.Memory, f *fake, o *reconcile.Options) (*accounts.Service, *reconcile.Watcher, *recorder) {
	p, err := gateway.New("fake", f, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := gateway.NewRegistry()
	reg.Register(p)
	rec := &recorder{}
	var w *reconcile.Watcher
	svc := accounts.New(reg, mem, &accounts.Options{Changed: func(ctx context.Context, before, after *bank.Account) {
		rec.changed(ctx, before, after)
		w.Observe(ctx, before, after)
	}})
	w = reconcile.New(svc, o)
	return svc, w, rec
}

var opts = reconcile.Options{Initial: 2 * time.Millisecond, Max: 10 * time.Millisecond, Attempts: 5}

// setStatus stores st as a state the provider dated after its first answer
// (a webhook, or the answer to a write, saved while the watcher reads).
func setStatus(t *testing.T, mem *store.Memory, st bank.Status) *bank.Account {
	a, err := mem.UpdateAccount(context.Background(), "t1", "va_1", func(a *bank.Account) error {
		a.Status, a.ProviderAt = st, base.Add(90*time.Second)
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	return a
}

func TestWatcher(t *testing.T) {
	unavailable := bank.Errorf(bank.Unavailable, "provider down")
	tests := []struct {
		name    string
		initial bank.Status
		script  func(n int) (bank.Status, error)
		// onRead runs inside the provider read n (a webhook racing the watcher).
		onRead func(t *testing.T, mem *store.Memory, w *reconcile.Watcher, n int)
		// before runs after the first Observe, before the watcher reads.
		before    func(t *testing.T, mem *store.Memory)
		noAccount bool
		want      bank.Status
		reads     int
		changes   [][2]bank.Status
	}{
		{name: "pending becomes active", initial: bank.StatusPending,
			script: func(n int) (bank.Status, error) {
				if n < 3 {
					return bank.StatusPending, nil
				}
				return bank.StatusActive, nil
			},
			want: bank.StatusActive, reads: 3, changes: [][2]bank.Status{{bank.StatusPending, bank.StatusActive}}},
		{name: "unblocking becomes active", initial: bank.StatusUnblocking,
			script: func(int) (bank.Status, error) { return bank.StatusActive, nil },
			want:   bank.StatusActive, reads: 1, changes: [][2]bank.Status{{bank.StatusUnblocking, bank.StatusActive}}},
		{name: "activation fails", initial: bank.StatusPending,
			script: func(int) (bank.Status, error) { return bank.StatusFailed, nil },
			want:   bank.StatusFailed, reads: 1, changes: [][2]bank.Status{{bank.StatusPending, bank.StatusFailed}}},
		{name: "never leaves pending: bounded", initial: bank.StatusPending,
			script: func(int) (bank.Status, error) { return bank.StatusPending, nil },
			want:   bank.StatusPending, reads: opts.Attempts},
		{name: "transient provider errors", initial: bank.StatusPending,
			script: func(n int) (bank.Status, error) {
				if n < 3 {
					return "", unavailable
				}
				return bank.StatusActive, nil
			},
			want: bank.StatusActive, reads: 3, changes: [][2]bank.Status{{bank.StatusPending, bank.StatusActive}}},
		{name: "webhook came first", initial: bank.StatusPending,
			script: func(int) (bank.Status, error) { return bank.StatusActive, nil },
			before: func(t *testing.T, mem *store.Memory) { setStatus(t, mem, bank.StatusActive) },
			want:   bank.StatusActive, reads: 0},
		{name: "moved on during the provider read", initial: bank.StatusPending,
			script: func(int) (bank.Status, error) { return bank.StatusActive, nil },
			onRead: func(t *testing.T, mem *store.Memory, _ *reconcile.Watcher, n int) {
				if n == 1 {
					setStatus(t, mem, bank.StatusClosed)
				}
			},
			want: bank.StatusClosed, reads: 1},
		{name: "re-entered a transitional status while watched", initial: bank.StatusPending,
			script: func(n int) (bank.Status, error) {
				if n == 1 {
					return bank.StatusBlocked, nil
				}
				return bank.StatusActive, nil
			},
			onRead: func(t *testing.T, mem *store.Memory, w *reconcile.Watcher, n int) {
				if n == 1 { // a user unblocks while the watcher reads: UNBLOCKING, observed again
					w.Observe(t.Context(), nil, setStatus(t, mem, bank.StatusUnblocking))
				}
			},
			want: bank.StatusActive, reads: 2, changes: [][2]bank.Status{{bank.StatusUnblocking, bank.StatusActive}}},
		{name: "not transitional: not watched", initial: bank.StatusActive,
			script: func(int) (bank.Status, error) { return bank.StatusBlocked, nil },
			want:   bank.StatusActive, reads: 0},
		{name: "account unknown to the store", initial: bank.StatusPending, noAccount: true,
			script: func(int) (bank.Status, error) { return bank.StatusActive, nil }, reads: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mem := store.NewMemory()
			f := &fake{script: tc.script}
			_, w, rec := newWatcher(t, mem, f, &opts)
			acc := &bank.Account{ID: "va_1", Tenant: "t1", Provider: "fake", ProviderAccountID: "pa_1", Status: tc.initial,
				ProviderStatus: "RAW", Currency: "USD", CreatedAt: base, UpdatedAt: base, ClientReference: "CLIENT-REF"}
			if !tc.noAccount {
				if err := mem.PutAccount(t.Context(), acc); err != nil {
					t.Fatal(err)
				}
			}
			if tc.onRead != nil {
				f.onRead = func(n int) { tc.onRead(t, mem, w, n) }
			}
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan struct{})
			w.Observe(t.Context(), nil, acc)
			w.Observe(t.Context(), nil, acc) // observed twice, watched once
			if tc.before != nil {
				tc.before(t, mem)
			}
			go func() { w.Run(ctx); close(done) }()
			deadline := time.Now().Add(5 * time.Second)
			for w.Watching() > 0 && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			cancel()
			<-done
			if n := w.Watching(); n != 0 {
				t.Fatalf("still watching %d accounts", n)
			}
			if f.count() != tc.reads {
				t.Errorf("provider read %d times, want %d", f.count(), tc.reads)
			}
			if got := rec.changes(); len(got) != len(tc.changes) || (len(got) > 0 && got[0] != tc.changes[0]) {
				t.Errorf("changes %v, want %v", got, tc.changes)
			}
			if tc.noAccount {
				return
			}
			got, _ := mem.GetAccount(t.Context(), "t1", "va_1")
			if got.Status != tc.want {
				t.Fatalf("stored status %s, want %s", got.Status, tc.want)
			}
			if len(tc.changes) > 0 {
				// The provider keeps no client reference (subaccount keeps only the
				// gateway's): the client's stays.
				if got.ProviderStatus != "RAW_"+string(tc.want) || got.AccountName != "Named" || len(got.BankDetails) != 1 || got.ClientReference != "CLIENT-REF" ||
					!got.UpdatedAt.Equal(base.Add(time.Duration(tc.reads)*time.Minute)) || !got.CreatedAt.Equal(base) {
					t.Errorf("merged account %+v", got)
				}
			}
		})
	}
}

// Run stops promptly with its context, even with watches waiting out a long
// backoff; later observations are ignored.
func TestWatcherStops(t *testing.T) {
	mem := store.NewMemory()
	f := &fake{script: func(int) (bank.Status, error) { return bank.StatusPending, nil }}
	_, w, _ := newWatcher(t, mem, f, &reconcile.Options{Initial: time.Hour})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	var accs []*bank.Account
	for i := range 50 {
		a := &bank.Account{ID: "va_" + string(rune('a'+i%26)) + string(rune('a'+i/26)), Tenant: "t1", Provider: "fake",
			ProviderAccountID: "pa", Status: bank.StatusPending, CreatedAt: base, UpdatedAt: base}
		mem.PutAccount(t.Context(), a)
		accs = append(accs, a)
	}
	var wg sync.WaitGroup
	for _, a := range accs {
		wg.Go(func() { w.Observe(t.Context(), nil, a) })
	}
	wg.Wait()
	cancel()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return within 2s of cancel")
	}
	w.Observe(t.Context(), nil, accs[0])
	if n := w.Watching(); n != 0 || f.count() != 0 {
		t.Errorf("after stop: watching %d, reads %d", n, f.count())
	}
}

// Hook reports the change to next, then watches it.
func TestHook(t *testing.T) {
	_, w, _ := newWatcher(t, store.NewMemory(), &fake{}, &opts)
	var rec recorder
	h := w.Hook(rec.changed)
	a := &bank.Account{ID: "va_1", Tenant: "t1", Status: bank.StatusUnblocking}
	h(t.Context(), &bank.Account{Status: bank.StatusBlocked}, a)
	if got := rec.changes(); len(got) != 1 || w.Watching() != 1 {
		t.Errorf("changes %v, watching %d", got, w.Watching())
	}
	for _, s := range []bank.Status{bank.StatusPending, bank.StatusUnblocking} {
		if !reconcile.Transitional(s) {
			t.Errorf("%s not transitional", s)
		}
	}
	for _, s := range []bank.Status{bank.StatusActive, bank.StatusBlocked, bank.StatusClosed, bank.StatusFailed, bank.StatusUnallocated} {
		if reconcile.Transitional(s) {
			t.Errorf("%s transitional", s)
		}
	}
}

// After a restart, Resume finds the accounts the store holds in a
// transitional status and watches them until they move on; the others are
// not read.
func TestResume(t *testing.T) {
	mem := store.NewMemory()
	f := &fake{script: func(int) (bank.Status, error) { return bank.StatusActive, nil }}
	_, w, rec := newWatcher(t, mem, f, &opts)
	for i, st := range []bank.Status{bank.StatusPending, bank.StatusActive, bank.StatusUnblocking, bank.StatusBlocked, bank.StatusPending} {
		a := &bank.Account{ID: fmt.Sprintf("va_%d", i), Tenant: fmt.Sprintf("t%d", i%2), Provider: "fake", ProviderAccountID: fmt.Sprintf("pa_%d", i),
			Status: st, CreatedAt: base, UpdatedAt: base}
		if err := mem.PutAccount(t.Context(), a); err != nil {
			t.Fatal(err)
		}
	}
	n, err := w.Resume(t.Context())
	if err != nil || n != 3 {
		t.Fatalf("Resume = %d, %v; want 3 accounts", n, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for w.Watching() > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if f.count() != 3 || len(rec.changes()) != 3 {
		t.Errorf("provider read %d times, %d changes; want 3 and 3", f.count(), len(rec.changes()))
	}
	if left, _ := mem.TransitionalAccounts(t.Context()); len(left) != 0 {
		t.Errorf("still transitional: %v", left)
	}
}
