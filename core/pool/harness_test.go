package pool_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vagate/vagate/core/accounts"
	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/jobs"
	"github.com/vagate/vagate/core/jobs/jobsmem"
	"github.com/vagate/vagate/core/pool"
	"github.com/vagate/vagate/core/pool/poolmem"
	"github.com/vagate/vagate/core/provider"
	"github.com/vagate/vagate/core/store"
)

// fakeBank is an in-process provider keeping UNALLOCATED accounts with
// the batch provider's one-time allocation, answering at once.
type fakeBank struct {
	unallocated bool

	mu    sync.Mutex
	next  int
	accts map[string]*bank.Account
	// holders lists, per account number, every holder an allocation was
	// sent for (refused ones included).
	holders map[string][]string
	// fault, when set, decides an allocation: whether it happens at the
	// provider, and the error answered.
	fault func(ref string) (apply bool, err error)
	// gate, when set, holds creates until it is closed.
	gate chan struct{}
}

func newFakeBank() *fakeBank {
	return &fakeBank{unallocated: true, accts: map[string]*bank.Account{}, holders: map[string][]string{}}
}

type fakeErr struct{ code bank.ErrorCode }

func (e *fakeErr) Error() string { return "fake provider: " + e.code.String() }

var (
	_ provider.Adapter   = (*fakeBank)(nil)
	_ provider.Allocator = (*fakeBank)(nil)
)

func (f *fakeBank) Capabilities() provider.Capabilities {
	return provider.Capabilities{Style: "fake", Currencies: []string{"USD", "EUR"}, MaxBatch: 1000, IdempotentCreate: true,
		Unallocated: f.unallocated}
}

func (f *fakeBank) CreateAccounts(_ context.Context, req *provider.CreateRequest) (*provider.CreateResult, error) {
	f.mu.Lock()
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		<-gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &provider.CreateResult{}
	for _, it := range req.Items {
		f.next++
		a := &bank.Account{ProviderAccountID: fmt.Sprintf("%010d", f.next), Currency: it.Currency, Status: bank.StatusUnallocated,
			ProviderStatus: "UNALLOCATED"}
		if !it.Unallocated {
			a.Status, a.AccountHolderName, a.AccountName = bank.StatusActive, it.AccountHolderName, it.AccountName
		}
		f.accts[a.ProviderAccountID] = a
		out.Items = append(out.Items, provider.ItemResult{Account: a.Clone()})
	}
	return out, nil
}

func (f *fakeBank) GetAccount(_ context.Context, ref string) (*bank.Account, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.accts[ref]
	if !ok {
		return nil, &fakeErr{bank.NotFound}
	}
	return a.Clone(), nil
}

func (f *fakeBank) Allocate(_ context.Context, ref string, al *provider.Allocation) (*bank.Account, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.accts[ref]
	if !ok {
		return nil, &fakeErr{bank.NotFound}
	}
	f.holders[ref] = append(f.holders[ref], *al.AccountHolderName)
	apply, err := true, error(nil)
	if f.fault != nil {
		apply, err = f.fault(ref)
	}
	if apply {
		if a.Status != bank.StatusUnallocated && (a.AccountHolderName != *al.AccountHolderName || a.AccountName != *al.AccountName) {
			return nil, &fakeErr{bank.FailedPrecondition}
		}
		a.AccountHolderName, a.AccountName, a.Status, a.ProviderStatus = *al.AccountHolderName, *al.AccountName, bank.StatusActive, "ALLOCATED"
	}
	if err != nil {
		return nil, err
	}
	return a.Clone(), nil
}

func (f *fakeBank) ErrorCode(err error) bank.ErrorCode {
	var fe *fakeErr
	if errors.As(err, &fe) {
		return fe.code
	}
	return bank.Unknown
}

// allocatedTo is the holder an account number is allocated to at the provider ("" if none).
func (f *fakeBank) allocatedTo(ref string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if a := f.accts[ref]; a != nil && a.Status == bank.StatusActive {
		return a.AccountHolderName
	}
	return ""
}

// distinctHolders is how many different holders were ever sent for one account.
func (f *fakeBank) distinctHolders(ref string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	hs := slices.Clone(f.holders[ref])
	slices.Sort(hs)
	return len(slices.Compact(hs))
}

// rig is a pool service over the fake provider, the accounts service, the
// job engine and the given pool store, all in memory but the pool store.
type rig struct {
	bank *fakeBank
	svc  *pool.Service
	acc  *accounts.Service
	mem  *store.Memory
	eng  *jobs.Engine

	mu     sync.Mutex
	events []string
}

func newRig(t testing.TB, st pool.Store, tune func(*pool.Options)) *rig {
	r := &rig{bank: newFakeBank(), mem: store.NewMemory()}
	p, err := gateway.New("fake", r.bank, nil)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := gateway.New("plain", &noPool{newFakeBank()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := gateway.NewRegistry()
	reg.Register(p)
	reg.Register(plain)
	router, _ := gateway.NewRouter(reg, nil)
	r.acc = accounts.New(reg, r.mem, &accounts.Options{Changed: func(ctx context.Context, before, after *bank.Account) {
		if r.svc != nil {
			r.svc.AccountChanged(ctx, before, after)
		}
	}})
	r.eng = jobs.New(reg, jobsmem.New(), r.mem, r.mem, &jobs.Options{
		OnAccount: func(ctx context.Context, a *bank.Account) { r.svc.AccountCreated(ctx, a) },
		OnFinish:  func(ctx context.Context, j *bank.Job) { r.svc.JobFinished(ctx, j) },
	})
	if st == nil {
		st = poolmem.New(nil)
	}
	opts := pool.Options{ClaimTimeout: 2 * time.Second, ResolveAfter: 50 * time.Millisecond, SweepInterval: time.Hour,
		RetryAfter: 3 * time.Second,
		OnLow: func(_ context.Context, tenant string, p *bank.Pool) {
			r.record(fmt.Sprintf("pool.low %s %s/%s available=%d", tenant, p.Provider, p.Currency, p.Available))
		},
		OnReplenished: func(_ context.Context, tenant string, p *bank.Pool, j *bank.Job) {
			r.record(fmt.Sprintf("pool.replenished %s %s/%s created=%d", tenant, p.Provider, p.Currency, j.Succeeded))
		}}
	if tune != nil {
		tune(&opts)
	}
	r.svc = pool.New(reg, router, st, r.acc, r.eng, &opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.eng.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

func (r *rig) record(e string) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *rig) recorded() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// noPool is a provider without unallocated accounts.
type noPool struct{ *fakeBank }

func (n *noPool) Capabilities() provider.Capabilities {
	c := n.fakeBank.Capabilities()
	c.Unallocated = false
	return c
}

// fill configures the pool (target n, low watermark low) and waits until it holds n.
func (r *rig) fill(t testing.TB, tenant string, n, low int) {
	t.Helper()
	if _, err := r.svc.Configure(context.Background(), tenant, "fake", "USD", n, low, "api"); err != nil {
		t.Fatal(err)
	}
	r.waitAvailable(t, tenant, n)
}

func (r *rig) waitAvailable(t testing.TB, tenant string, n int) *bank.Pool {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p, err := r.svc.Get(context.Background(), tenant, "fake", "USD")
		if err != nil {
			t.Fatal(err)
		}
		if p.Available == n && p.ReplenishJobID == "" {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("pool %+v, want %d available and no replenish running", p, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func str(s string) *string { return &s }

func claimOf(holder, key string) *pool.ClaimRequest {
	return &pool.ClaimRequest{Currency: "USD", Provider: "fake", Key: key,
		Holder: provider.Allocation{AccountHolderName: str(holder), AccountName: str(holder + " account")}}
}

func storeFilter() store.AccountFilter {
	return store.AccountFilter{Provider: "fake", Currency: "USD", Status: bank.StatusUnallocated}
}

// killable is a memory pool store that, while dieAfterTake is set, loses
// every move of a claim after its take: what an instance killed between
// taking an account and recording the outcome leaves behind.
type killable struct {
	pool.Store
	dieAfterTake atomic.Bool
}

func newKillable() *killable { return &killable{Store: poolmem.New(nil)} }

var errDied = errors.New("the instance died")

func (k *killable) Finish(ctx context.Context, key pool.Key, id, account string) (bool, error) {
	if k.dieAfterTake.Load() {
		return false, errDied
	}
	return k.Store.Finish(ctx, key, id, account)
}

func (k *killable) Release(ctx context.Context, key pool.Key, id, token string) (bool, error) {
	if k.dieAfterTake.Load() {
		return false, errDied
	}
	return k.Store.Release(ctx, key, id, token)
}

func (k *killable) Quarantine(ctx context.Context, key pool.Key, id, token string, after time.Duration) (bool, error) {
	if k.dieAfterTake.Load() {
		return false, errDied
	}
	return k.Store.Quarantine(ctx, key, id, token, after)
}

func (k *killable) Abandon(ctx context.Context, key pool.Key, id, token string) (bool, error) {
	if k.dieAfterTake.Load() {
		return false, errDied
	}
	return k.Store.Abandon(ctx, key, id, token)
}
