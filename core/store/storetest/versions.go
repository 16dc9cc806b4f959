package storetest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/store"
)

// Versioned is an account store with compare-and-set writes and an index
// of the accounts in a transitional status.
type Versioned interface {
	store.Accounts
	SwapAccount(ctx context.Context, a *bank.Account) (*bank.Account, error)
	TransitionalAccounts(ctx context.Context) ([]store.AccountKey, error)
	ProviderAccounts(ctx context.Context, providerName string) ([]store.AccountKey, error)
}

// RunVersionedConformanceTests runs the contract of versioned account
// writes and of the transitional index.
func RunVersionedConformanceTests(t *testing.T, newStore func(t *testing.T) Versioned) {
	t.Run("Versions", func(t *testing.T) { testVersions(t, newStore(t)) })
	t.Run("TransitionalIndex", func(t *testing.T) { testTransitional(t, newStore(t)) })
	t.Run("ProviderIndex", func(t *testing.T) { testProviderIndex(t, newStore(t)) })
}

func testProviderIndex(t *testing.T, s Versioned) {
	ctx := t.Context()
	put := func(tenant string, n int, providerName, providerID string) {
		a := acct(tenant, n)
		a.Provider, a.ProviderAccountID = providerName, providerID
		if err := s.PutAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	put("t1", 1, "alpha", "A1")
	put("t{2}", 2, "alpha", "A*2")
	put("t1", 3, "alpha-b", "B1")
	put("t1", 4, "beta", "alpha:X")
	keys := func(p string) []store.AccountKey {
		ks, err := s.ProviderAccounts(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		return ks
	}
	want := []store.AccountKey{{Tenant: "t1", ID: "va_001"}, {Tenant: "t{2}", ID: "va_002"}}
	if got := keys("alpha"); !slices.Equal(got, want) {
		t.Fatalf("ProviderAccounts(alpha) = %v, want %v", got, want)
	}
	// An account moving to another provider account id stays listed once.
	s.UpdateAccount(ctx, "t1", "va_001", func(x *bank.Account) error { x.ProviderAccountID = "A1-new"; return nil })
	if got := keys("alpha"); !slices.Equal(got, want) {
		t.Fatalf("after a change of provider account id: %v, want %v", got, want)
	}
	if got := keys("gamma"); len(got) != 0 {
		t.Fatalf("ProviderAccounts(gamma) = %v, want none", got)
	}
}

func testVersions(t *testing.T, s Versioned) {
	ctx := t.Context()
	a := acct("t1", 1)
	if err := s.PutAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	got, _ := s.GetAccount(ctx, "t1", a.ID)
	if got.Version != 1 {
		t.Fatalf("new account at version %d, want 1", got.Version)
	}
	up, err := s.UpdateAccount(ctx, "t1", a.ID, func(x *bank.Account) error { x.Status = bank.StatusBlocked; return nil })
	if err != nil || up.Version != 2 {
		t.Fatalf("UpdateAccount = version %v, %v; want 2", up, err)
	}
	// A write over the version read before the update is refused.
	got.Status = bank.StatusClosed
	_, err = s.SwapAccount(ctx, got)
	var ce *store.ConflictError
	if !errors.As(err, &ce) || ce.Want != 1 || ce.Have != 2 {
		t.Fatalf("SwapAccount over a stale version: %v, want a ConflictError 1/2", err)
	}
	if cur, _ := s.GetAccount(ctx, "t1", a.ID); cur.Status != bank.StatusBlocked || cur.Version != 2 {
		t.Fatalf("after a refused swap: %s v%d", cur.Status, cur.Version)
	}
	up.Status = bank.StatusClosed
	up.ProviderAt = base.Add(7)
	saved, err := s.SwapAccount(ctx, up)
	if err != nil || saved.Version != 3 || saved.Status != bank.StatusClosed {
		t.Fatalf("SwapAccount = %+v, %v", saved, err)
	}
	if cur, _ := s.GetAccount(ctx, "t1", a.ID); cur.Version != 3 || !cur.ProviderAt.Equal(base.Add(7)) {
		t.Fatalf("stored after swap: v%d providerAt %s", cur.Version, cur.ProviderAt)
	}
	missing := acct("t1", 9)
	if _, err := s.SwapAccount(ctx, missing); !errors.Is(err, bank.ErrNotFound) {
		t.Errorf("SwapAccount of a missing account: %v", err)
	}
}

func testTransitional(t *testing.T, s Versioned) {
	ctx := t.Context()
	set := func(tenant string, n int, st bank.Status) {
		a := acct(tenant, n)
		a.Status = st
		if err := s.PutAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	set("t1", 1, bank.StatusPending)
	set("t1", 2, bank.StatusActive)
	set("t{2}", 3, bank.StatusUnblocking)
	set("t1", 4, bank.StatusPending)
	keys := func() []store.AccountKey {
		ks, err := s.TransitionalAccounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(ks, func(a, b store.AccountKey) int {
			if a.Tenant != b.Tenant {
				return strings.Compare(a.Tenant, b.Tenant)
			}
			return strings.Compare(a.ID, b.ID)
		})
		return ks
	}
	want := []store.AccountKey{{Tenant: "t1", ID: "va_001"}, {Tenant: "t1", ID: "va_004"}, {Tenant: "t{2}", ID: "va_003"}}
	if got := keys(); !slices.Equal(got, want) {
		t.Fatalf("TransitionalAccounts = %v, want %v", got, want)
	}
	// Leaving and entering a transitional status moves the account in the index.
	s.UpdateAccount(ctx, "t1", "va_001", func(x *bank.Account) error { x.Status = bank.StatusActive; return nil })
	s.UpdateAccount(ctx, "t1", "va_002", func(x *bank.Account) error { x.Status = bank.StatusUnblocking; return nil })
	cur, _ := s.GetAccount(ctx, "t{2}", "va_003")
	cur.Status = bank.StatusActive
	if _, err := s.SwapAccount(ctx, cur); err != nil {
		t.Fatal(err)
	}
	want = []store.AccountKey{{Tenant: "t1", ID: "va_002"}, {Tenant: "t1", ID: "va_004"}}
	if got := keys(); !slices.Equal(got, want) {
		t.Fatalf("after status changes, TransitionalAccounts = %v, want %v", got, want)
	}
}
