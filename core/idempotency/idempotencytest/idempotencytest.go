// Package idempotencytest is the contract suite every idempotency.Store must
// pass. The in-memory store passes it too, which proves the suite itself.
//
//	func TestMemoryConformance(t *testing.T) {
//		idempotencytest.RunConformanceTests(t, func(t *testing.T) idempotency.Store {
//			return idempotency.NewMemory(idempotencytest.Options(t))
//		})
//	}
package idempotencytest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/vagate/vagate/core/idempotency"
)

// Short lifetimes used by the expiry tests; everything else runs with Long.
const (
	ShortClaimTTL = 200 * time.Millisecond
	ShortTTL      = 300 * time.Millisecond
	Long          = time.Minute
	// slack is added to every wait for an expiry.
	slack = 120 * time.Millisecond
)

var optsByTest sync.Map // *testing.T -> idempotency.Options

// Options returns the lifetimes the current contract test needs; newStore must build its store with them (it may set Prefix).
func Options(t *testing.T) *idempotency.Options {
	if v, ok := optsByTest.Load(t); ok {
		o := v.(idempotency.Options)
		return &o
	}
	return &idempotency.Options{TTL: Long, ClaimTTL: Long}
}

// open builds a fresh store for t with opts.
func open(t *testing.T, newStore func(t *testing.T) idempotency.Store, opts idempotency.Options) idempotency.Store {
	t.Helper()
	optsByTest.Store(t, opts)
	t.Cleanup(func() { optsByTest.Delete(t) })
	s := newStore(t)
	if s == nil {
		t.Fatal("newStore returned nil")
	}
	return s
}

var long = idempotency.Options{TTL: Long, ClaimTTL: Long}

// RunConformanceTests runs the Store contract against fresh stores from newStore, which must pass Options(t) through.
func RunConformanceTests(t *testing.T, newStore func(t *testing.T) idempotency.Store) {
	t.Helper()
	tests := []struct {
		name string
		opts idempotency.Options
		run  func(t *testing.T, s idempotency.Store)
	}{
		{"Claim", long, testClaim},
		{"Replay", long, testReplay},
		{"Mismatch", long, testMismatch},
		{"InFlight", long, testInFlight},
		{"ReleaseThenReclaim", long, testReleaseThenReclaim},
		{"ClaimLost", long, testClaimLost},
		{"ClaimExpiry", idempotency.Options{TTL: Long, ClaimTTL: ShortClaimTTL}, testClaimExpiry},
		{"RecordExpiry", idempotency.Options{TTL: ShortTTL, ClaimTTL: Long}, testRecordExpiry},
		{"ScopesIsolated", long, testScopesIsolated},
		{"ConcurrentBegin", long, testConcurrentBegin},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, open(t, newStore, tc.opts))
		})
	}
}

const (
	scope = "tenant-a POST /v1/virtual-accounts"
	key   = "6f1c0e8e-2b7a-4d2e-9a51-0c3f5b8d9e10"
	fpA   = "fingerprint-a"
	fpB   = "fingerprint-b"
)

// mustClaim begins and expects a claim.
func mustClaim(t *testing.T, s idempotency.Store, scope, key, fp string) *idempotency.Claim {
	t.Helper()
	c, rec, err := s.Begin(t.Context(), scope, key, fp)
	if err != nil || c == nil || rec != nil {
		t.Fatalf("Begin(%q, %q, %q) = claim %v, record %v, err %v; want a claim", scope, key, fp, c, rec, err)
	}
	if c.Scope != scope || c.Key != key || c.Fingerprint != fp {
		t.Fatalf("claim = %+v; want scope %q key %q fingerprint %q", c, scope, key, fp)
	}
	return c
}

// mustRecord begins and expects the stored record.
func mustRecord(t *testing.T, s idempotency.Store, scope, key, fp string) *idempotency.Record {
	t.Helper()
	c, rec, err := s.Begin(t.Context(), scope, key, fp)
	if err != nil || c != nil || rec == nil {
		t.Fatalf("Begin(%q, %q, %q) = claim %v, record %v, err %v; want the stored record", scope, key, fp, c, rec, err)
	}
	return rec
}

// mustFail begins and expects want.
func mustFail(t *testing.T, s idempotency.Store, scope, key, fp string, want error) {
	t.Helper()
	c, rec, err := s.Begin(t.Context(), scope, key, fp)
	if !errors.Is(err, want) || c != nil || rec != nil {
		t.Fatalf("Begin(%q, %q, %q) = claim %v, record %v, err %v; want %v", scope, key, fp, c, rec, err, want)
	}
}

func mustComplete(t *testing.T, s idempotency.Store, c *idempotency.Claim, rec *idempotency.Record) {
	t.Helper()
	if err := s.Complete(t.Context(), c, rec); err != nil {
		t.Fatalf("Complete: %v", err)
	}
}

func sample() *idempotency.Record {
	return &idempotency.Record{
		Status: 202,
		Header: map[string][]string{
			"Content-Type": {"application/json"},
			"Location":     {"/v1/jobs/j_1"},
			"X-Multi":      {"a", "b"},
		},
		// Not valid UTF-8, no trailing newline: must come back byte for byte.
		Body:        []byte("{\"jobId\":\"j_1\"}\x00\xff\xfe"),
		Fingerprint: "ignored: the claim's fingerprint is stored",
	}
}

func testClaim(t *testing.T, s idempotency.Store) {
	mustClaim(t, s, scope, key, fpA)
}

func testReplay(t *testing.T, s idempotency.Store) {
	c := mustClaim(t, s, scope, key, fpA)
	want := sample()
	before := time.Now()
	mustComplete(t, s, c, want)
	for i := range 2 {
		got := mustRecord(t, s, scope, key, fpA)
		if got.Status != want.Status || !reflect.DeepEqual(got.Header, want.Header) || !bytes.Equal(got.Body, want.Body) {
			t.Fatalf("replay %d = %+v; want %+v", i, got, want)
		}
		if got.Fingerprint != fpA {
			t.Fatalf("replay fingerprint = %q; want the claim's %q", got.Fingerprint, fpA)
		}
		if got.CreatedAt.Before(before.Add(-time.Second)) || got.CreatedAt.After(time.Now().Add(time.Second)) {
			t.Fatalf("CreatedAt = %v; want about %v", got.CreatedAt, before)
		}
		// The caller owns what it got: changing it must not change the store.
		got.Body[0] = 'X'
		got.Header["Content-Type"][0] = "text/plain"
	}
}

func testMismatch(t *testing.T, s idempotency.Store) {
	c := mustClaim(t, s, scope, key, fpA)
	mustFail(t, s, scope, key, fpB, idempotency.ErrFingerprintMismatch) // while in flight
	mustComplete(t, s, c, sample())
	mustFail(t, s, scope, key, fpB, idempotency.ErrFingerprintMismatch) // once completed
	mustRecord(t, s, scope, key, fpA)
}

func testInFlight(t *testing.T, s idempotency.Store) {
	c := mustClaim(t, s, scope, key, fpA)
	mustFail(t, s, scope, key, fpA, idempotency.ErrInFlight)
	mustFail(t, s, scope, key, fpA, idempotency.ErrInFlight)
	mustComplete(t, s, c, sample())
	mustRecord(t, s, scope, key, fpA)
}

func testReleaseThenReclaim(t *testing.T, s idempotency.Store) {
	c1 := mustClaim(t, s, scope, key, fpA)
	if err := s.Release(t.Context(), c1); err != nil {
		t.Fatalf("Release: %v", err)
	}
	// After a release the key is free again, for any request.
	c2 := mustClaim(t, s, scope, key, fpB)
	if err := s.Complete(t.Context(), c1, sample()); !errors.Is(err, idempotency.ErrClaimLost) {
		t.Fatalf("Complete(released claim) = %v; want ErrClaimLost", err)
	}
	mustComplete(t, s, c2, sample())
	mustRecord(t, s, scope, key, fpB)
}

func testClaimLost(t *testing.T, s idempotency.Store) {
	c := mustClaim(t, s, scope, key, fpA)
	mustComplete(t, s, c, sample())
	if err := s.Complete(t.Context(), c, sample()); !errors.Is(err, idempotency.ErrClaimLost) {
		t.Fatalf("second Complete = %v; want ErrClaimLost", err)
	}
	if err := s.Release(t.Context(), c); !errors.Is(err, idempotency.ErrClaimLost) {
		t.Fatalf("Release after Complete = %v; want ErrClaimLost", err)
	}
	mustRecord(t, s, scope, key, fpA) // the record survived both

	const k2 = "0b5c7f0e-58a4-4a52-8d3e-8a6f0b1c2d3e"
	c2 := mustClaim(t, s, scope, k2, fpA)
	if err := s.Release(t.Context(), c2); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if err := s.Release(t.Context(), c2); !errors.Is(err, idempotency.ErrClaimLost) {
		t.Fatalf("second Release = %v; want ErrClaimLost", err)
	}
}

func testClaimExpiry(t *testing.T, s idempotency.Store) {
	c1 := mustClaim(t, s, scope, key, fpA)
	mustFail(t, s, scope, key, fpA, idempotency.ErrInFlight)
	time.Sleep(ShortClaimTTL + slack)
	// The owner crashed (or is too slow): the key is free again.
	c2 := mustClaim(t, s, scope, key, fpB)
	if err := s.Complete(t.Context(), c1, sample()); !errors.Is(err, idempotency.ErrClaimLost) {
		t.Fatalf("Complete(expired claim) = %v; want ErrClaimLost", err)
	}
	if err := s.Release(t.Context(), c1); !errors.Is(err, idempotency.ErrClaimLost) {
		t.Fatalf("Release(expired claim) = %v; want ErrClaimLost", err)
	}
	mustFail(t, s, scope, key, fpB, idempotency.ErrInFlight) // c2 is untouched
	mustComplete(t, s, c2, sample())
	mustRecord(t, s, scope, key, fpB)
}

func testRecordExpiry(t *testing.T, s idempotency.Store) {
	c := mustClaim(t, s, scope, key, fpA)
	mustComplete(t, s, c, sample())
	mustRecord(t, s, scope, key, fpA)
	time.Sleep(ShortTTL + slack)
	mustClaim(t, s, scope, key, fpB) // forgotten: even another request may use the key
}

func testScopesIsolated(t *testing.T, s idempotency.Store) {
	scopes := []string{scope, "tenant-b POST /v1/virtual-accounts", "tenant-a PATCH /v1/virtual-accounts/:id", "{odd}:scope%"}
	claims := make([]*idempotency.Claim, len(scopes))
	for i, sc := range scopes {
		claims[i] = mustClaim(t, s, sc, key, fmt.Sprintf("fp-%d", i))
	}
	mustComplete(t, s, claims[0], sample())
	mustRecord(t, s, scopes[0], key, "fp-0")
	for i, sc := range scopes[1:] {
		mustFail(t, s, sc, key, fmt.Sprintf("fp-%d", i+1), idempotency.ErrInFlight)
	}
	// Another key in the same scope is independent too.
	mustClaim(t, s, scope, "2d9e1f4a-7c3b-4e6d-9f8a-1b2c3d4e5f60", fpB)
}

func testConcurrentBegin(t *testing.T, s idempotency.Store) {
	const n = 200
	type result struct {
		c   *idempotency.Claim
		rec *idempotency.Record
		err error
	}
	race := func() []result {
		results := make([]result, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				c, rec, err := s.Begin(context.WithoutCancel(t.Context()), scope, key, fpA)
				results[i] = result{c, rec, err}
			})
		}
		close(start)
		wg.Wait()
		return results
	}
	var winner *idempotency.Claim
	for i, r := range race() {
		switch {
		case r.err == nil && r.c != nil && r.rec == nil:
			if winner != nil {
				t.Fatalf("goroutine %d also got a claim: two owners of one key", i)
			}
			winner = r.c
		case errors.Is(r.err, idempotency.ErrInFlight):
		default:
			t.Fatalf("goroutine %d: claim %v, record %v, err %v; want a claim or ErrInFlight", i, r.c, r.rec, r.err)
		}
	}
	if winner == nil {
		t.Fatal("no goroutine got the claim")
	}
	mustComplete(t, s, winner, sample())
	for i, r := range race() {
		if r.err != nil || r.c != nil || r.rec == nil {
			t.Fatalf("after completion, goroutine %d: claim %v, record %v, err %v; want the record", i, r.c, r.rec, r.err)
		}
	}
}
