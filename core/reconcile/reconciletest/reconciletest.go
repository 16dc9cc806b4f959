// Package reconciletest is the contract every reconcile.Store passes.
package reconciletest

import (
	"sync"
	"testing"
	"time"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/reconcile"
)

// RunStore runs the contract against fresh stores from newStore.
func RunStore(t *testing.T, newStore func(t *testing.T) reconcile.Store) {
	t.Run("Lease", func(t *testing.T) { testLease(t, newStore(t)) })
	t.Run("LeaseOneOfMany", func(t *testing.T) { testLeaseOneOfMany(t, newStore(t)) })
	t.Run("Reports", func(t *testing.T) { testReports(t, newStore(t)) })
	t.Run("OpenDrifts", func(t *testing.T) { testOpenDrifts(t, newStore(t)) })
}

func testLease(t *testing.T, s reconcile.Store) {
	ctx := t.Context()
	must := func(ok bool, err error) bool {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !must(s.AcquireLease(ctx, "l", "a", time.Minute)) {
		t.Fatal("a free lease was refused")
	}
	if must(s.AcquireLease(ctx, "l", "b", time.Minute)) {
		t.Fatal("a held lease was given to another holder")
	}
	if must(s.RenewLease(ctx, "l", "b", time.Minute)) {
		t.Fatal("another holder renewed the lease")
	}
	if !must(s.RenewLease(ctx, "l", "a", time.Minute)) {
		t.Fatal("the holder could not renew its lease")
	}
	if err := s.ReleaseLease(ctx, "l", "b"); err != nil {
		t.Fatal(err)
	}
	if must(s.AcquireLease(ctx, "l", "b", time.Minute)) {
		t.Fatal("another holder's release freed the lease")
	}
	if err := s.ReleaseLease(ctx, "l", "a"); err != nil {
		t.Fatal(err)
	}
	if !must(s.AcquireLease(ctx, "l", "b", 200*time.Millisecond)) {
		t.Fatal("a released lease was refused")
	}
	time.Sleep(300 * time.Millisecond)
	if must(s.RenewLease(ctx, "l", "b", time.Minute)) {
		t.Fatal("an expired lease was renewed")
	}
	if !must(s.AcquireLease(ctx, "l", "c", time.Minute)) {
		t.Fatal("an expired lease was refused")
	}
}

// Of many holders asking at once, one gets the lease.
func testLeaseOneOfMany(t *testing.T, s reconcile.Store) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := 0
	for i := range 20 {
		wg.Go(func() {
			ok, err := s.AcquireLease(t.Context(), "many", string(rune('a'+i)), time.Minute)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				got++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if got != 1 {
		t.Fatalf("%d holders got the lease, want 1", got)
	}
}

func testReports(t *testing.T, s reconcile.Store) {
	ctx := t.Context()
	if _, err := s.LatestReport(ctx, "p"); bank.Code(err) != bank.NotFound {
		t.Fatalf("latest of a provider never run: %v, want NotFound", err)
	}
	if _, err := s.Report(ctx, "nope"); bank.Code(err) != bank.NotFound {
		t.Fatalf("unknown report: %v, want NotFound", err)
	}
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	older := &reconcile.Report{ID: "r1", Provider: "p", Status: reconcile.ReportRunning, StartedAt: t0}
	newer := &reconcile.Report{ID: "r2", Provider: "p", Status: reconcile.ReportRunning, StartedAt: t0.Add(time.Second)}
	for _, r := range []*reconcile.Report{older, newer} {
		if err := s.SaveReport(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	// The older run finishing later does not become the latest.
	done := t0.Add(time.Minute)
	older.Status, older.FinishedAt = reconcile.ReportCompleted, &done
	older.Drifts = []bank.Drift{{Kind: bank.DriftMissingAtProvider, Provider: "p", ProviderAccountID: "x", Action: bank.DriftReported}}
	if err := s.SaveReport(ctx, older); err != nil {
		t.Fatal(err)
	}
	if l, err := s.LatestReport(ctx, "p"); err != nil || l.ID != "r2" {
		t.Fatalf("latest = %+v, %v; want r2", l, err)
	}
	r, err := s.Report(ctx, "r1")
	if err != nil || r.Status != reconcile.ReportCompleted || r.FinishedAt == nil || len(r.Drifts) != 1 || r.Drifts[0].ProviderAccountID != "x" {
		t.Fatalf("report r1 = %+v, %v", r, err)
	}
}

func testOpenDrifts(t *testing.T, s reconcile.Store) {
	ctx := t.Context()
	open := map[string]bank.Drift{
		"f1": {Kind: bank.DriftIdentityMismatch, Provider: "p", ProviderAccountID: "a", Fields: []string{"accountName"}},
		"f2": {Kind: bank.DriftMissingAtProvider, Provider: "p", ProviderAccountID: "b"},
	}
	if err := s.SetOpenDrifts(ctx, "p", open); err != nil {
		t.Fatal(err)
	}
	got, err := s.OpenDrifts(ctx, "p")
	if err != nil || len(got) != 2 || got["f1"].Fields[0] != "accountName" {
		t.Fatalf("open drifts = %+v, %v", got, err)
	}
	if other, _ := s.OpenDrifts(ctx, "q"); len(other) != 0 {
		t.Fatalf("another provider's open drifts = %+v", other)
	}
	if err := s.SetOpenDrifts(ctx, "p", map[string]bank.Drift{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.OpenDrifts(ctx, "p"); len(got) != 0 {
		t.Fatalf("after clearing: %+v", got)
	}
}
