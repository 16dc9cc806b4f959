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

	"github.com/google/uuid"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/pool"
	"github.com/vagate/vagate/core/pool/poolredis"
	"github.com/vagate/vagate/core/provider"
)

// A claim hands an account to its holder once; its retry gets the same
// account; another claim never does.
func TestClaimIsIdempotentAndExclusive(t *testing.T) {
	r := newRig(t, nil, nil)
	r.fill(t, "t1", 3, 0)
	ctx := t.Context()
	key := uuid.NewString()
	a, err := r.svc.Claim(ctx, "t1", claimOf("Jane", key))
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != bank.StatusActive || a.AccountHolderName != "Jane" || a.AllocatedAt == nil {
		t.Errorf("claimed account %+v, want ACTIVE for Jane", a)
	}
	if got := r.bank.allocatedTo(a.ProviderAccountID); got != "Jane" {
		t.Errorf("at the provider the account is allocated to %q", got)
	}
	again, err := r.svc.Claim(ctx, "t1", claimOf("Jane", key))
	if err != nil || again.ID != a.ID {
		t.Fatalf("retry: %v %v, want %s again", again, err, a.ID)
	}
	if _, err := r.svc.Claim(ctx, "t1", claimOf("John", key)); !errors.Is(err, pool.ErrKeyReused) {
		t.Errorf("the key with another holder: %v, want ErrKeyReused", err)
	}
	b, err := r.svc.Claim(ctx, "t1", claimOf("John", uuid.NewString()))
	if err != nil || b.ID == a.ID {
		t.Fatalf("second claim: %v %v", b, err)
	}
	// The key is the tenant's: another tenant's claim with it is its own (and its pool is empty).
	var ex *pool.ExhaustedError
	if _, err := r.svc.Claim(ctx, "t2", claimOf("Jane", key)); !errors.As(err, &ex) {
		t.Errorf("another tenant with the same key: %v, want its own (empty) pool", err)
	}
	p, _ := r.svc.Get(ctx, "t1", "fake", "USD")
	if p.Available != 1 || p.Claimed != 2 || p.Claiming != 0 {
		t.Errorf("pool %+v", p)
	}
}

// An empty pool answers at once; a retry time is given when a replenish comes.
func TestEmptyPool(t *testing.T) {
	tests := []struct {
		name       string
		target     int
		retryAfter time.Duration
	}{
		{"with a target: a replenish starts", 2, 3 * time.Second},
		{"without a target: nothing is coming", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, nil, nil)
			if tt.target > 0 {
				r.fill(t, "t1", tt.target, 0)
				for range tt.target {
					if _, err := r.svc.Claim(t.Context(), "t1", claimOf("x", uuid.NewString())); err != nil {
						t.Fatal(err)
					}
				}
			}
			start := time.Now()
			_, err := r.svc.Claim(t.Context(), "t1", claimOf("late", uuid.NewString()))
			var ex *pool.ExhaustedError
			if !errors.As(err, &ex) || ex.RetryAfter != tt.retryAfter || ex.Provider != "fake" || ex.Currency != "USD" {
				t.Fatalf("claim on an empty pool: %v (%+v), want exhausted with retry after %s", err, ex, tt.retryAfter)
			}
			if time.Since(start) > time.Second {
				t.Error("a claim on an empty pool waited")
			}
			if tt.target > 0 {
				r.waitAvailable(t, "t1", tt.target)
			}
		})
	}
}

// What becomes of the account when its allocation fails.
func TestAllocationFailures(t *testing.T) {
	timeout := &fakeErr{bank.DeadlineExceeded}
	tests := []struct {
		name string
		// fault decides the first allocation; later ones succeed.
		apply bool
		err   error
		// want: the claimed account after the sweep: in the pool again,
		// or allocated to the claim's holder.
		wantBack, wantAllocated bool
		quarantined             bool
	}{
		{name: "known refusal: back to the pool at once", apply: false, err: &fakeErr{bank.Unavailable}, wantBack: true},
		{name: "bad field at the provider: back to the pool", apply: false, err: &fakeErr{bank.InvalidArgument}, wantBack: true},
		{name: "timeout, not allocated: quarantined, then back", apply: false, err: timeout, quarantined: true, wantBack: true},
		{name: "timeout, allocated: quarantined, then the claim's", apply: true, err: timeout, quarantined: true, wantAllocated: true},
		{name: "provider failure after the write: quarantined", apply: true, err: &fakeErr{bank.Internal}, quarantined: true, wantAllocated: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, nil, nil)
			r.fill(t, "t1", 2, 0)
			ctx := t.Context()
			var once sync.Once
			r.bank.fault = func(string) (apply bool, err error) {
				apply = true
				once.Do(func() { apply, err = tt.apply, tt.err })
				return
			}
			_, err := r.svc.Claim(ctx, "t1", claimOf("Jane", uuid.NewString()))
			if bank.Code(err) != tt.err.(*fakeErr).code {
				t.Fatalf("claim error %v, want the provider's %v", err, tt.err)
			}
			p, _ := r.svc.Get(ctx, "t1", "fake", "USD")
			if tt.quarantined != (p.Quarantined == 1 && len(p.QuarantinedAccountIDs) == 1) {
				t.Errorf("pool %+v, quarantined want %v", p, tt.quarantined)
			}
			if !tt.quarantined && p.Available != 2 {
				t.Errorf("after a known failure %d available, want 2", p.Available)
			}
			// Meanwhile another claim never gets the quarantined account.
			other, err := r.svc.Claim(ctx, "t1", claimOf("John", uuid.NewString()))
			if err != nil {
				t.Fatal(err)
			}
			if slices.Contains(p.QuarantinedAccountIDs, other.ID) {
				t.Errorf("a quarantined account went to another claim")
			}
			time.Sleep(80 * time.Millisecond) // ResolveAfter
			r.svc.Sweep(ctx)
			p, _ = r.svc.Get(ctx, "t1", "fake", "USD")
			if p.Quarantined != 0 || p.Claiming != 0 {
				t.Fatalf("after the sweep: %+v", p)
			}
			wantAvail, wantClaimed := 0, 2
			if tt.wantBack {
				wantAvail, wantClaimed = 1, 1
			}
			if p.Available != wantAvail || p.Claimed != wantClaimed {
				t.Errorf("after the sweep: %+v, want %d available, %d claimed", p, wantAvail, wantClaimed)
			}
			// An account whose allocation may have happened is never sent
			// for another holder (a refused one may be).
			for ref := range r.bank.accts {
				if n := r.bank.distinctHolders(ref); tt.quarantined && n > 1 {
					t.Errorf("account %s was sent to %d holders", ref, n)
				}
			}
		})
	}
}

// A retry of a claim whose outcome was unknown reads the account first,
// then finishes the allocation to the same holder.
func TestRetryResolvesUnknownOutcome(t *testing.T) {
	for _, applied := range []bool{true, false} {
		t.Run(fmt.Sprintf("allocated=%v", applied), func(t *testing.T) {
			r := newRig(t, nil, nil)
			r.fill(t, "t1", 2, 0)
			var once sync.Once
			r.bank.fault = func(string) (bool, error) {
				var err error
				apply := true
				once.Do(func() { apply, err = applied, &fakeErr{bank.DeadlineExceeded} })
				return apply, err
			}
			key := uuid.NewString()
			if _, err := r.svc.Claim(t.Context(), "t1", claimOf("Jane", key)); bank.Code(err) != bank.DeadlineExceeded {
				t.Fatalf("first attempt: %v", err)
			}
			a, err := r.svc.Claim(t.Context(), "t1", claimOf("Jane", key))
			if err != nil || a.Status != bank.StatusActive || a.AccountHolderName != "Jane" {
				t.Fatalf("retry: %+v %v", a, err)
			}
			p, _ := r.svc.Get(t.Context(), "t1", "fake", "USD")
			if p.Available != 1 || p.Claimed != 1 || p.Quarantined != 0 {
				t.Errorf("pool %+v", p)
			}
		})
	}
}

// An account allocated outside the pool is never handed out: a claim that
// takes it drops it and takes the next.
func TestAccountAllocatedElsewhereIsDropped(t *testing.T) {
	r := newRig(t, nil, nil)
	r.fill(t, "t1", 2, 0)
	// Allocate the first account at the provider behind the gateway's back.
	var first string
	for ref, a := range r.bank.accts {
		if first == "" || ref < first {
			first = ref
		}
		_ = a
	}
	if _, err := r.bank.Allocate(t.Context(), first, &provider.Allocation{AccountHolderName: str("Mallory"), AccountName: str("M")}); err != nil {
		t.Fatal(err)
	}
	a, err := r.svc.Claim(t.Context(), "t1", claimOf("Jane", uuid.NewString()))
	if err != nil {
		t.Fatal(err)
	}
	if a.ProviderAccountID == first || r.bank.allocatedTo(first) != "Mallory" {
		t.Errorf("claim got %s; Mallory's account %s is allocated to %q", a.ProviderAccountID, first, r.bank.allocatedTo(first))
	}
	p, _ := r.svc.Get(t.Context(), "t1", "fake", "USD")
	if p.Available != 0 || p.Claimed != 1 {
		t.Errorf("pool %+v: the other account should be dropped, not back", p)
	}
}

// A direct allocation takes a pooled account out of the pool; one a claim
// holds cannot be allocated directly.
func TestDirectAllocation(t *testing.T) {
	r := newRig(t, nil, nil)
	r.fill(t, "t1", 2, 0)
	ctx := t.Context()
	as, _, _ := r.acc.List(ctx, "t1", storeFilter(), "", 10)
	if err := r.svc.Withdraw(ctx, as[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := r.acc.Allocate(ctx, "t1", as[0].ID, &provider.Allocation{AccountHolderName: str("D"), AccountName: str("D")}); err != nil {
		t.Fatal(err)
	}
	a, err := r.svc.Claim(ctx, "t1", claimOf("Jane", uuid.NewString()))
	if err != nil || a.ID != as[1].ID {
		t.Fatalf("claim: %v %v, want the account not withdrawn", a, err)
	}
	if p, _ := r.svc.Get(ctx, "t1", "fake", "USD"); p.Available != 0 {
		t.Errorf("pool %+v", p)
	}
	// A held claim: the direct path is refused.
	r.fill(t, "t1", 3, 0)
	block := make(chan struct{})
	r.bank.fault = func(string) (bool, error) { <-block; return true, nil }
	done := make(chan struct{})
	go func() { r.svc.Claim(context.Background(), "t1", claimOf("Slow", uuid.NewString())); close(done) }()
	var held *bank.Account
	for held == nil {
		p, _ := r.svc.Get(ctx, "t1", "fake", "USD")
		if p.Claiming == 1 {
			all, _, _ := r.acc.List(ctx, "t1", storeFilter(), "", 10)
			for _, x := range all {
				if err := r.svc.Withdraw(ctx, x); err != nil {
					held = x
					if !errors.Is(err, pool.ErrClaimed) || bank.Code(err) != bank.FailedPrecondition {
						t.Errorf("direct allocation of a claimed account: %v", err)
					}
				} else {
					r.svc.Restore(ctx, x, &bank.Error{Code: bank.Unavailable, Provider: "fake"})
				}
			}
		}
		time.Sleep(time.Millisecond)
	}
	close(block)
	<-done
}

// A provider without unallocated accounts has no pool.
func TestProviderWithoutUnallocated(t *testing.T) {
	r := newRig(t, nil, nil)
	req := claimOf("Jane", uuid.NewString())
	req.Provider = "plain"
	_, err := r.svc.Claim(t.Context(), "t1", req)
	var ce *gateway.CapabilityError
	if bank.Code(err) != bank.Unimplemented || !errors.As(err, &ce) || ce.Provider != "plain" {
		t.Errorf("claim at a provider without unallocated accounts: %v", err)
	}
	if _, err := r.svc.Replenish(t.Context(), "t1", "plain", "USD", 5); !errors.As(err, &ce) {
		t.Errorf("replenish there: %v", err)
	}
	if _, err := r.svc.Configure(t.Context(), "t1", "plain", "USD", 5, 1, "api"); !errors.As(err, &ce) {
		t.Errorf("configure there: %v", err)
	}
}

// Claims below the watermark replenish the pool to its target, with one
// pool.low per crossing and one pool.replenished per job.
func TestReplenishBelowWatermark(t *testing.T) {
	r := newRig(t, nil, nil)
	r.fill(t, "t1", 5, 3)
	ctx := t.Context()
	for range 3 {
		if _, err := r.svc.Claim(ctx, "t1", claimOf("x", uuid.NewString())); err != nil {
			t.Fatal(err)
		}
	}
	p := r.waitAvailable(t, "t1", 5)
	if p.Claimed != 3 {
		t.Errorf("pool %+v", p)
	}
	want := []string{
		"pool.replenished t1 fake/USD created=5", // the fill
		"pool.low t1 fake/USD available=2",
		"pool.replenished t1 fake/USD created=3",
	}
	if got := r.recorded(); !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
}

// Only one replenish per pool runs at a time.
func TestOneReplenishAtATime(t *testing.T) {
	r := newRig(t, nil, nil)
	r.bank.gate = make(chan struct{}) // the job runs until every call was answered
	ctx := t.Context()
	var wg sync.WaitGroup
	var mu sync.Mutex
	started, busy := 0, 0
	for range 20 {
		wg.Go(func() {
			_, err := r.svc.Replenish(ctx, "t1", "fake", "USD", 10)
			var re *pool.ReplenishingError
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				started++
			case errors.As(err, &re):
				busy++
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	close(r.bank.gate)
	if started != 1 || busy != 19 {
		t.Errorf("%d started, %d refused; want 1 and 19", started, busy)
	}
	r.waitAvailable(t, "t1", 10)
}

// A claim left by a dead instance (its hold ran out) is resolved by the
// sweep from the provider's view of the account.
func TestSweepResolvesAbandonedClaims(t *testing.T) {
	st := newKillable()
	r := newRig(t, st, func(o *pool.Options) { o.ClaimTimeout = 100 * time.Millisecond })
	r.fill(t, "t1", 2, 0)
	ctx := t.Context()
	// Two claims die mid-way: one after the provider allocated, one before it was asked.
	st.dieAfterTake.Store(true)
	r.bank.fault = nil
	for _, holder := range []string{"Allocated", "Never"} {
		if holder == "Never" {
			r.bank.fault = func(string) (bool, error) { return false, &fakeErr{bank.Unavailable} }
		}
		r.svc.Claim(ctx, "t1", claimOf(holder, uuid.NewString()))
	}
	st.dieAfterTake.Store(false)
	r.bank.fault = nil
	p, _ := r.svc.Get(ctx, "t1", "fake", "USD")
	if p.Claiming != 2 {
		t.Fatalf("pool %+v, want both claims left unfinished", p)
	}
	r.svc.Sweep(ctx)
	if p, _ = r.svc.Get(ctx, "t1", "fake", "USD"); p.Claiming != 2 {
		t.Errorf("resolved before the claims' hold ran out: %+v", p)
	}
	time.Sleep(200 * time.Millisecond)
	r.svc.Sweep(ctx)
	p, _ = r.svc.Get(ctx, "t1", "fake", "USD")
	if p.Claiming != 0 || p.Claimed != 1 || p.Available != 1 {
		t.Errorf("after the sweep %+v, want the allocated one claimed and the other back", p)
	}
}

func TestClaimNeedsAKey(t *testing.T) {
	r := newRig(t, nil, nil)
	_, err := r.svc.Claim(t.Context(), "t1", claimOf("Jane", ""))
	if fs := bank.FieldsOf(err); bank.Code(err) != bank.InvalidArgument || len(fs) != 1 || fs[0].Pointer != "/headers/Idempotency-Key" {
		t.Errorf("claim without a key: %v %v", err, fs)
	}
}

// Concurrent claims through the service on the Redis store, with some
// allocations timing out after the provider acted: every account goes to
// one holder at most, and the sweep settles every quarantined claim.
func TestConcurrentClaimsOnRedis(t *testing.T) {
	c, prefix := redisClient(t)
	r := newRig(t, poolredis.New(c, &poolredis.Options{Prefix: prefix}), nil)
	const size, claims = 150, 200
	r.fill(t, "t1", size, 0)
	// No replenish: every served claim comes from this stock.
	if _, err := r.svc.Configure(t.Context(), "t1", "fake", "USD", 0, 0, "api"); err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	r.bank.fault = func(string) (bool, error) {
		if n.Add(1)%10 == 0 {
			return true, &fakeErr{bank.DeadlineExceeded} // allocated, answer lost
		}
		return true, nil
	}
	var mu sync.Mutex
	served := map[string]string{}
	exhausted, unknown := 0, 0
	var wg sync.WaitGroup
	for i := range claims {
		wg.Go(func() {
			holder := fmt.Sprintf("H%03d", i)
			a, err := r.svc.Claim(context.Background(), "t1", claimOf(holder, uuid.NewString()))
			var ex *pool.ExhaustedError
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				if other, dup := served[a.ProviderAccountID]; dup {
					t.Errorf("account %s served to %s and %s", a.ProviderAccountID, other, holder)
				}
				served[a.ProviderAccountID] = holder
			case errors.As(err, &ex):
				exhausted++
			case bank.Code(err) == bank.DeadlineExceeded:
				unknown++
			default:
				t.Errorf("claim %s: %v", holder, err)
			}
		})
	}
	wg.Wait()
	time.Sleep(80 * time.Millisecond)
	r.svc.Sweep(t.Context())
	p, _ := r.svc.Get(t.Context(), "t1", "fake", "USD")
	if p.Claiming != 0 || p.Claimed != len(served)+unknown || p.Available+p.Claimed != size {
		t.Errorf("pool %+v: %d served, %d unknown (allocated), %d exhausted", p, len(served), unknown, exhausted)
	}
	for ref, holder := range served {
		if got := r.bank.allocatedTo(ref); got != holder {
			t.Errorf("account %s served to %s is allocated to %q", ref, holder, got)
		}
	}
	for ref := range r.bank.accts {
		if n := r.bank.distinctHolders(ref); n > 1 {
			t.Errorf("account %s was sent to %d holders", ref, n)
		}
	}
}
