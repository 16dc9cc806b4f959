// Package pooltest is the contract every pool.Store passes: the memory
// store and the Redis store run the same suite, which proves the suite too.
package pooltest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vagate/vagate/core/pool"
)

// NewStore returns an empty store for one test.
type NewStore func(t *testing.T) pool.Store

var key = pool.Key{Tenant: "t1", Provider: "batchva", Currency: "USD"}

func claim(id, holder string) *pool.Claim {
	return &pool.Claim{ID: id, Fingerprint: "fp-" + id, Holder: holder, Token: "tok-" + id}
}

// get returns v, or fails the test with err.
func get[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func take(t *testing.T, s pool.Store, c *pool.Claim, lease time.Duration) *pool.TakeResult {
	t.Helper()
	return get(s.Take(t.Context(), key, c, lease))(t)
}

func stats(t *testing.T, s pool.Store) *pool.Stats {
	t.Helper()
	return get(s.Stats(t.Context(), key))(t)
}

func add(t *testing.T, s pool.Store, ids ...string) int {
	t.Helper()
	return get(s.Add(t.Context(), key, ids...))(t)
}

// Run runs the suite.
func Run(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		run  func(t *testing.T, s pool.Store)
	}{
		{"an account joins a pool once, whatever happened to it since", testAddOnce},
		{"takes are first in, first out, until the pool is empty", testFIFO},
		{"a claim answers by its state when presented again", testClaimAgain},
		{"an allocated claim is final and counted", testFinish},
		{"a released account goes back to the head of the pool", testRelease},
		{"only the holder's token moves a claim", testTokens},
		{"a quarantined account stays bound until it is resolved", testQuarantine},
		{"a claim whose holder's time ran out is due and resumable", testLeaseRunsOut},
		{"an abandoned account never comes back", testAbandon},
		{"a withdrawn account is out of the pool until restored", testWithdraw},
		{"API settings are not overwritten by the config", testConfigure},
		{"one replenish at a time", testLock},
		{"finished claims are forgotten after their retention", testTrim},
		{"pools are listed and never share keys", testPools},
		{"concurrent claims never share an account", testConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newStore(t)) })
	}
}

func testAddOnce(t *testing.T, s pool.Store) {
	if n := add(t, s, "a1", "a2", "a3"); n != 3 {
		t.Fatalf("added %d, want 3", n)
	}
	if n := add(t, s, "a2", "a4"); n != 1 {
		t.Errorf("added %d of a2 (held) and a4, want 1", n)
	}
	r := take(t, s, claim("c1", "h1"), time.Minute)
	get(s.Finish(t.Context(), key, "c1", r.Claim.Account))(t)
	if n := add(t, s, r.Claim.Account); n != 0 {
		t.Errorf("an allocated account was added again")
	}
	if st := stats(t, s); st.Available != 3 {
		t.Errorf("available %d, want 3", st.Available)
	}
}

func testFIFO(t *testing.T, s pool.Store) {
	add(t, s, "a1", "a2")
	get(s.Configure(t.Context(), key, pool.Settings{Target: 10, LowWatermark: 4, Source: "config"}, false))(t)
	for i, want := range []string{"a1", "a2"} {
		r := take(t, s, claim(fmt.Sprint("c", i), "h"), time.Minute)
		if r.Outcome != pool.TakeNew || r.Claim.Account != want || r.Claim.State != pool.Claiming {
			t.Fatalf("take %d: %+v, want a new claim of %s", i, r, want)
		}
		if r.Available != 1-i || r.LowWatermark != 4 {
			t.Errorf("take %d: available %d low %d, want %d and 4", i, r.Available, r.LowWatermark, 1-i)
		}
		if r.Claim.Until.Before(time.Now().Add(50 * time.Second)) {
			t.Errorf("take %d: held until %s, want about a minute from now", i, r.Claim.Until)
		}
	}
	if r := take(t, s, claim("c9", "h"), time.Minute); r.Outcome != pool.TakeEmpty {
		t.Errorf("take on an empty pool: %+v", r)
	}
	if st := stats(t, s); st.Available != 0 || st.Claiming != 2 {
		t.Errorf("stats %+v, want 0 available, 2 claiming", st)
	}
}

func testClaimAgain(t *testing.T, s pool.Store) {
	add(t, s, "a1", "a2")
	first := take(t, s, claim("c1", "h1"), time.Minute)
	again := take(t, s, &pool.Claim{ID: "c1", Fingerprint: "fp-c1", Holder: "h1", Token: "other"}, time.Minute)
	if again.Outcome != pool.TakeBusy || again.Claim.Account != first.Claim.Account || again.Claim.Token != "tok-c1" {
		t.Errorf("the same claim while held: %+v, want busy on %s", again, first.Claim.Account)
	}
	reused := take(t, s, &pool.Claim{ID: "c1", Fingerprint: "another body", Holder: "h2", Token: "x"}, time.Minute)
	if reused.Outcome != pool.TakeReused {
		t.Errorf("the same id with another fingerprint: %+v, want reused", reused)
	}
	if st := stats(t, s); st.Available != 1 {
		t.Errorf("presenting a claim again took an account: %d available", st.Available)
	}
}

func testFinish(t *testing.T, s pool.Store) {
	add(t, s, "a1")
	r := take(t, s, claim("c1", "h1"), time.Minute)
	if ok := get(s.Finish(t.Context(), key, "c1", "not-its-account"))(t); ok {
		t.Error("finished a claim with another account")
	}
	for range 2 {
		if ok := get(s.Finish(t.Context(), key, "c1", r.Claim.Account))(t); !ok {
			t.Fatal("finish failed")
		}
	}
	again := take(t, s, &pool.Claim{ID: "c1", Fingerprint: "fp-c1", Holder: "h1", Token: "later"}, time.Minute)
	if again.Outcome != pool.TakeAllocated || again.Claim.Account != "a1" || again.Claim.State != pool.Allocated {
		t.Errorf("retry of a finished claim: %+v", again)
	}
	if ok := get(s.Release(t.Context(), key, "c1", "tok-c1"))(t); ok {
		t.Error("an allocated claim was released")
	}
	if st := stats(t, s); st.Claimed != 1 || st.Claiming != 0 || st.Available != 0 {
		t.Errorf("stats %+v, want 1 claimed (finishing twice counts once), none claiming", st)
	}
}

func testRelease(t *testing.T, s pool.Store) {
	add(t, s, "a1", "a2")
	take(t, s, claim("c1", "h1"), time.Minute)
	if ok := get(s.Release(t.Context(), key, "c1", "tok-c1"))(t); !ok {
		t.Fatal("release failed")
	}
	r := take(t, s, claim("c2", "h2"), time.Minute)
	if r.Claim.Account != "a1" {
		t.Errorf("after release the next take got %s, want a1 back first", r.Claim.Account)
	}
	// The released claim is forgotten: presenting it again takes anew.
	r = take(t, s, claim("c1", "h1"), time.Minute)
	if r.Outcome != pool.TakeNew || r.Claim.Account != "a2" {
		t.Errorf("released claim presented again: %+v", r)
	}
}

func testTokens(t *testing.T, s pool.Store) {
	add(t, s, "a1")
	take(t, s, claim("c1", "h1"), time.Minute)
	ctx := t.Context()
	for name, f := range map[string]func() (bool, error){
		"release":    func() (bool, error) { return s.Release(ctx, key, "c1", "stale") },
		"quarantine": func() (bool, error) { return s.Quarantine(ctx, key, "c1", "stale", time.Second) },
		"abandon":    func() (bool, error) { return s.Abandon(ctx, key, "c1", "stale") },
	} {
		if ok := get(f())(t); ok {
			t.Errorf("%s with a token that does not hold the claim succeeded", name)
		}
	}
	if st := stats(t, s); st.Claiming != 1 || st.Quarantined != 0 {
		t.Errorf("stats %+v after refused moves", st)
	}
}

func testQuarantine(t *testing.T, s pool.Store) {
	add(t, s, "a1", "a2")
	take(t, s, claim("c1", "h1"), time.Minute)
	ctx := t.Context()
	if ok := get(s.Quarantine(ctx, key, "c1", "tok-c1", 300*time.Millisecond))(t); !ok {
		t.Fatal("quarantine failed")
	}
	st := stats(t, s)
	if st.Quarantined != 1 || st.Claiming != 1 || !slices.Equal(st.QuarantinedAccounts, []string{"a1"}) {
		t.Errorf("stats %+v, want a1 quarantined", st)
	}
	if ids := get(s.Due(ctx, key, 10))(t); len(ids) != 0 {
		t.Errorf("due before its time: %v", ids)
	}
	if c := get(s.Recover(ctx, key, "c1", "rec", time.Minute))(t); c != nil {
		t.Errorf("recovered before its time: %+v", c)
	}
	// Never offered to another claim meanwhile.
	if r := take(t, s, claim("c2", "h2"), time.Minute); r.Claim.Account != "a2" {
		t.Errorf("another claim got %s", r.Claim.Account)
	}
	time.Sleep(400 * time.Millisecond)
	if ids := get(s.Due(ctx, key, 10))(t); !slices.Equal(ids, []string{"c1"}) {
		t.Errorf("due %v, want [c1]", ids)
	}
	c := get(s.Recover(ctx, key, "c1", "rec", time.Minute))(t)
	if c == nil || c.State != pool.Resolving || c.Token != "rec" || c.Account != "a1" || c.Holder != "h1" {
		t.Fatalf("recover: %+v", c)
	}
	if c := get(s.Recover(ctx, key, "c1", "rec2", time.Minute))(t); c != nil {
		t.Errorf("a claim being resolved was recovered twice: %+v", c)
	}
	if r := take(t, s, &pool.Claim{ID: "c1", Fingerprint: "fp-c1", Holder: "h1", Token: "retry"}, time.Minute); r.Outcome != pool.TakeBusy {
		t.Errorf("a retry while resolving: %+v, want busy", r)
	}
	if st := stats(t, s); st.Quarantined != 1 {
		t.Errorf("a claim being resolved is not reported quarantined: %+v", st)
	}
	if ok := get(s.Release(ctx, key, "c1", "rec"))(t); !ok {
		t.Fatal("release by the recovery failed")
	}
	if st := stats(t, s); st.Quarantined != 0 || st.Available != 1 || len(st.QuarantinedAccounts) != 0 {
		t.Errorf("stats after resolution %+v", st)
	}
}

func testLeaseRunsOut(t *testing.T, s pool.Store) {
	add(t, s, "a1")
	take(t, s, claim("c1", "h1"), 200*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	ctx := t.Context()
	if ids := get(s.Due(ctx, key, 10))(t); !slices.Equal(ids, []string{"c1"}) {
		t.Errorf("due %v, want [c1] once its hold ran out", ids)
	}
	r := take(t, s, &pool.Claim{ID: "c1", Fingerprint: "fp-c1", Holder: "h1", Token: "retry"}, time.Minute)
	if r.Outcome != pool.TakeResumed || r.Claim.Account != "a1" || r.Claim.Token != "retry" {
		t.Fatalf("retry after the hold ran out: %+v, want resumed", r)
	}
	if ok := get(s.Release(ctx, key, "c1", "tok-c1"))(t); ok {
		t.Error("the first attempt released a claim a retry holds")
	}
	if c := get(s.Recover(ctx, key, "c1", "rec", time.Minute))(t); c != nil {
		t.Error("recovered a claim a retry holds")
	}
	if ok := get(s.Finish(ctx, key, "c1", "a1"))(t); !ok {
		t.Error("finish failed")
	}
}

func testAbandon(t *testing.T, s pool.Store) {
	add(t, s, "a1", "a2")
	take(t, s, claim("c1", "h1"), time.Minute)
	ctx := t.Context()
	if ok := get(s.Abandon(ctx, key, "c1", "tok-c1"))(t); !ok {
		t.Fatal("abandon failed")
	}
	if n := add(t, s, "a1"); n != 0 {
		t.Error("an abandoned account was added again")
	}
	if st := get(s.Withdraw(ctx, key, "a1"))(t); st != pool.AccountGone {
		t.Errorf("abandoned account is %q, want gone", st)
	}
	// The claim is forgotten: presented again it takes the next account.
	if r := take(t, s, claim("c1", "h1"), time.Minute); r.Outcome != pool.TakeNew || r.Claim.Account != "a2" {
		t.Errorf("abandoned claim presented again: %+v", r)
	}
}

func testWithdraw(t *testing.T, s pool.Store) {
	add(t, s, "a1", "a2", "a3")
	ctx := t.Context()
	if st := get(s.Withdraw(ctx, key, "a2"))(t); st != pool.AccountAvailable {
		t.Errorf("withdraw of an available account: was %q", st)
	}
	if st := get(s.Withdraw(ctx, key, "a2"))(t); st != pool.AccountWithdrawn {
		t.Errorf("second withdraw: was %q", st)
	}
	if st := get(s.Withdraw(ctx, key, "never"))(t); st != pool.AccountUnknown {
		t.Errorf("withdraw of an unknown account: %q", st)
	}
	r := take(t, s, claim("c1", "h1"), time.Minute)
	if st := get(s.Withdraw(ctx, key, r.Claim.Account))(t); st != pool.AccountClaimed {
		t.Errorf("withdraw of a claimed account: was %q, want claimed", st)
	}
	if r := take(t, s, claim("c2", "h2"), time.Minute); r.Claim.Account != "a3" {
		t.Errorf("took %s, want a3 (a2 is withdrawn)", r.Claim.Account)
	}
	if ok := get(s.Restore(ctx, key, "a1"))(t); ok {
		t.Error("restored an account that was not withdrawn")
	}
	if ok := get(s.Restore(ctx, key, "a2"))(t); !ok {
		t.Fatal("restore failed")
	}
	if r := take(t, s, claim("c3", "h3"), time.Minute); r.Claim.Account != "a2" {
		t.Errorf("took %s, want the restored a2", r.Claim.Account)
	}
}

func testConfigure(t *testing.T, s pool.Store) {
	ctx := t.Context()
	got := get(s.Configure(ctx, key, pool.Settings{Target: 10, LowWatermark: 2, Source: "config"}, false))(t)
	if got.Target != 10 || got.LowWatermark != 2 {
		t.Errorf("config: %+v", got)
	}
	get(s.Configure(ctx, key, pool.Settings{Target: 50, LowWatermark: 5, Source: "api"}, true))(t)
	got = get(s.Configure(ctx, key, pool.Settings{Target: 10, LowWatermark: 2, Source: "config"}, false))(t)
	if got.Target != 50 || got.Source != "api" {
		t.Errorf("the config overwrote API settings: %+v", got)
	}
	if st := stats(t, s); st.Settings != got {
		t.Errorf("stats settings %+v, want %+v", st.Settings, got)
	}
}

func testLock(t *testing.T, s pool.Store) {
	ctx := t.Context()
	r, ok := lock(t)(s.Lock(ctx, key, pool.Replenish{JobID: "job_1", Count: 7}, 300*time.Millisecond))
	if !ok || r.JobID != "job_1" {
		t.Fatalf("lock: %+v %v", r, ok)
	}
	held, ok := lock(t)(s.Lock(ctx, key, pool.Replenish{JobID: "job_2", Count: 3}, time.Minute))
	if ok || held.JobID != "job_1" || held.Count != 7 {
		t.Errorf("second lock: %+v %v, want job_1 held", held, ok)
	}
	if st := stats(t, s); st.Replenish == nil || st.Replenish.JobID != "job_1" || time.Since(st.Replenish.Started) > time.Minute {
		t.Errorf("stats replenish %+v", st.Replenish)
	}
	if ok := get(s.Unlock(ctx, key, "job_2"))(t); ok {
		t.Error("unlocked another job's lock")
	}
	if ok := get(s.Unlock(ctx, key, "job_1"))(t); !ok {
		t.Error("unlock failed")
	}
	lock(t)(s.Lock(ctx, key, pool.Replenish{JobID: "job_3", Count: 1}, 200*time.Millisecond))
	time.Sleep(300 * time.Millisecond)
	if _, ok := lock(t)(s.Lock(ctx, key, pool.Replenish{JobID: "job_4", Count: 1}, time.Minute)); !ok {
		t.Error("an expired lock still holds")
	}
}

func lock(t *testing.T) func(pool.Replenish, bool, error) (pool.Replenish, bool) {
	return func(r pool.Replenish, ok bool, err error) (pool.Replenish, bool) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return r, ok
	}
}

func testTrim(t *testing.T, s pool.Store) {
	add(t, s, "a1", "a2")
	ctx := t.Context()
	r := take(t, s, claim("c1", "h1"), time.Minute)
	get(s.Finish(ctx, key, "c1", r.Claim.Account))(t)
	if n := get(s.Trim(ctx, key, time.Hour, 100))(t); n != 0 {
		t.Errorf("trimmed %d fresh claims", n)
	}
	time.Sleep(50 * time.Millisecond)
	if n := get(s.Trim(ctx, key, 10*time.Millisecond, 100))(t); n != 1 {
		t.Errorf("trimmed %d, want 1", n)
	}
	if st := stats(t, s); st.Claimed != 1 || st.Available != 1 {
		t.Errorf("stats after trim %+v: the count of claimed accounts stays", st)
	}
}

func testPools(t *testing.T, s pool.Store) {
	ctx := t.Context()
	a := pool.Key{Tenant: "x:y", Provider: "p", Currency: "USD"}
	b := pool.Key{Tenant: "x", Provider: "y:p", Currency: "USD"}
	c := pool.Key{Tenant: "{x}", Provider: "p%", Currency: "EUR"}
	get(s.Add(ctx, a, "a1", "a2"))(t)
	get(s.Add(ctx, b, "b1"))(t)
	get(s.Configure(ctx, c, pool.Settings{Target: 1, Source: "api"}, true))(t)
	for k, want := range map[pool.Key]int{a: 2, b: 1, c: 0} {
		if st := get(s.Stats(ctx, k))(t); st.Available != want {
			t.Errorf("%+v: %d available, want %d", k, st.Available, want)
		}
	}
	ks := get(s.Pools(ctx))(t)
	for _, k := range []pool.Key{a, b, c} {
		if !slices.Contains(ks, k) {
			t.Errorf("pools %v lack %+v", ks, k)
		}
	}
}

func testConcurrent(t *testing.T, s pool.Store) {
	const accounts, claims = 300, 400
	ids := make([]string, accounts)
	for i := range ids {
		ids[i] = fmt.Sprintf("a%03d", i)
	}
	add(t, s, ids...)
	var mu sync.Mutex
	got := map[string]string{}
	empty := 0
	var wg sync.WaitGroup
	for i := range claims {
		wg.Go(func() {
			c := claim(fmt.Sprint("c", i), "h")
			r, err := s.Take(t.Context(), key, c, time.Minute)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			switch r.Outcome {
			case pool.TakeNew:
				if other, dup := got[r.Claim.Account]; dup {
					t.Errorf("account %s taken by %s and %s", r.Claim.Account, other, c.ID)
				}
				got[r.Claim.Account] = c.ID
			case pool.TakeEmpty:
				empty++
			default:
				t.Errorf("claim %s: outcome %v", c.ID, r.Outcome)
			}
		})
	}
	wg.Wait()
	if len(got) != accounts || empty != claims-accounts {
		t.Errorf("%d accounts taken, %d empty answers; want %d and %d", len(got), empty, accounts, claims-accounts)
	}
}
