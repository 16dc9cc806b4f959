package adaptertest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/provider"
)

// runBehaviour runs the behaviour cases: the pure contract of an adapter
// behind the portable layer, with no fault injection and nothing read from
// a mock's internals, so they run against a live provider too.
func runBehaviour(t *testing.T, newHarness HarnessMaker) {
	cases := []struct {
		name string
		run  func(t *testing.T, f *fixture)
	}{
		{"CreateSingle", testCreateSingle},
		{"CreateBatch", testCreateBatch},
		{"NamesMayRepeat", testNamesMayRepeat},
		{"CreateUnallocated", testCreateUnallocated},
		{"Get", testGet},
		{"GetNotFound", testGetNotFound},
		{"Allocation", testAllocation},
		{"IdempotentCreate", testIdempotentCreate},
		{"FindByReference", testFindByReference},
		{"List", testList},
		{"UnsupportedCapabilities", testUnsupported},
		{"Lifecycle", testLifecycle},
		{"Validation", testValidation},
		{"AsyncCreate", testAsyncCreate},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, newFixture(t, newHarness)) })
	}
}

// checkCreated checks a create's answer: every field the client gave is
// kept as given, the names included (by the provider, or by the gateway
// where the provider has no field for them).
func checkCreated(t testing.TB, f *fixture, item provider.CreateItem, acc *bank.Account) {
	t.Helper()
	checkAccount(t, f, item, acc, false)
}

// checkRead checks an account read back from the provider: as checkCreated,
// except that a provider with no field for the client's names reports none
// (the gateway keeps them); it never reports names of its own making there,
// which belong in bankDetails and the raw object.
func checkRead(t testing.TB, f *fixture, item provider.CreateItem, acc *bank.Account) {
	t.Helper()
	checkAccount(t, f, item, acc, true)
}

func checkAccount(t testing.TB, f *fixture, item provider.CreateItem, acc *bank.Account, read bool) {
	t.Helper()
	switch {
	case acc.ProviderAccountID == "":
		t.Errorf("account has no providerAccountId")
	case acc.Provider != f.p.Name():
		t.Errorf("provider = %q, want %q", acc.Provider, f.p.Name())
	case acc.Currency != item.Currency:
		t.Errorf("currency = %q, want %q", acc.Currency, item.Currency)
	case !acc.Status.Valid():
		t.Errorf("status %q is not a unified status", acc.Status)
	case acc.ProviderStatus == "":
		t.Errorf("raw providerStatus is empty")
	case acc.ClientReference != item.ClientReference && !keepsOnlyReference(item, acc):
		t.Errorf("clientReference = %q, want %q", acc.ClientReference, item.ClientReference)
	}
	if !item.Unallocated {
		holder := acc.AccountHolderName == item.AccountHolderName || (read && acc.AccountHolderName == "")
		name := acc.AccountName == item.AccountName || (read && acc.AccountName == "")
		if !holder || !name {
			t.Errorf("names = %q/%q, want the client's %q/%q", acc.AccountHolderName, acc.AccountName, item.AccountHolderName, item.AccountName)
		}
		if acc.Status != bank.StatusActive && acc.Status != bank.StatusPending {
			t.Errorf("new named account status = %s, want ACTIVE or PENDING", acc.Status)
		}
	}
}

// keepsOnlyReference says whether acc, read back from a provider that has a
// single reference field, carries the gateway's reference there instead of
// the client's (which the gateway keeps).
func keepsOnlyReference(item provider.CreateItem, acc *bank.Account) bool {
	if item.Reference == "" {
		item.Reference = item.ClientReference // as withReferences sets it
	}
	return acc.ClientReference == "" && acc.Reference == item.Reference
}

func testCreateSingle(t *testing.T, f *fixture) {
	item := f.h.Item(ref(t))
	res := create(t, f, item)
	checkCreated(t, f, item, res[0].Account)
	f.wantCount(t, item.ClientReference, 1, "after one create")
}

func testCreateBatch(t *testing.T, f *fixture) {
	items := make([]provider.CreateItem, 5)
	for i := range items {
		items[i] = f.h.Item(ref(t))
	}
	res := create(t, f, items...)
	seen := map[string]bool{}
	for i, r := range res {
		checkCreated(t, f, items[i], r.Account)
		if seen[r.Account.ProviderAccountID] {
			t.Errorf("item %d: providerAccountId %s returned twice", i, r.Account.ProviderAccountID)
		}
		seen[r.Account.ProviderAccountID] = true
		f.wantCount(t, items[i].ClientReference, 1, fmt.Sprintf("item %d", i))
	}
}

// testNamesMayRepeat creates two accounts with the same names: names are
// the client's, not keys, so neither is refused as a duplicate, and each
// keeps the names as given.
func testNamesMayRepeat(t *testing.T, f *fixture) {
	first, second := f.h.Item(ref(t)), f.h.Item(ref(t))
	second.AccountHolderName, second.AccountName = first.AccountHolderName, first.AccountName
	for i, item := range []provider.CreateItem{first, second} {
		res := create(t, f, item)
		checkCreated(t, f, item, res[0].Account)
		f.wantCount(t, item.ClientReference, 1, fmt.Sprintf("account %d with the shared names", i+1))
	}
}

func testCreateUnallocated(t *testing.T, f *fixture) {
	p := f.p
	item := f.h.Item(ref(t))
	item.Unallocated, item.AccountHolderName, item.AccountName = true, "", ""
	if !p.Capabilities().Unallocated {
		_, err := p.CreateAccounts(ctx(t), &provider.CreateRequest{IdempotencyKey: newKey(), Items: withReferences([]provider.CreateItem{item})})
		wantCapability(t, err)
		f.wantCount(t, item.ClientReference, 0, "a refused unallocated create")
		return
	}
	res := create(t, f, item)
	acc := res[0].Account
	checkCreated(t, f, item, acc)
	if acc.Status != bank.StatusUnallocated {
		t.Errorf("status = %s, want UNALLOCATED", acc.Status)
	}
}

func testGet(t *testing.T, f *fixture) {
	item := f.h.Item(ref(t))
	item.DOB = "1985-05-20"
	created := create(t, f, item)[0].Account
	got, err := f.p.GetAccount(ctx(t), created.ProviderAccountID)
	if err != nil {
		t.Fatalf("GetAccount: %v", err)
	}
	checkRead(t, f, item, got)
	if got.ProviderAccountID != created.ProviderAccountID {
		t.Errorf("providerAccountId = %s, want %s", got.ProviderAccountID, created.ProviderAccountID)
	}
	if len(got.Raw) == 0 {
		t.Errorf("raw provider payload not kept")
	}
}

func testGetNotFound(t *testing.T, f *fixture) {
	_, err := f.p.GetAccount(ctx(t), f.h.MissingRef())
	if !errors.Is(err, bank.ErrNotFound) {
		t.Fatalf("err = %v, want not found", err)
	}
	wantBankError(t, f, err, "get")
}

func ptr(s string) *string { return &s }

func testAllocation(t *testing.T, f *fixture) {
	p := f.p
	if !p.Supports(provider.CapAllocate) {
		_, err := p.Allocate(ctx(t), f.h.MissingRef(), &provider.Allocation{ClientReference: ptr("X")})
		wantCapability(t, err)
		return
	}
	named := create(t, f, f.h.Item(ref(t)))[0].Account
	// A provider may take one identity update of an account named at
	// creation (batchva: "immutable after first update") or none; after
	// one, the identity is fixed. (The unified API refuses both: the
	// gateway answers field_immutable before asking the provider.)
	t.Run("NamedIdentityFixedAfterFirstUpdate", func(t *testing.T) {
		_, err := p.Allocate(ctx(t), named.ProviderAccountID, &provider.Allocation{AccountName: ptr("Someone Else")})
		if err != nil && !errors.Is(err, bank.ErrFailedPrecondition) {
			t.Fatalf("first rename of a named account: err = %v, want success or failed precondition", err)
		}
		_, err = p.Allocate(ctx(t), named.ProviderAccountID, &provider.Allocation{AccountName: ptr("Someone Else Again")})
		if !errors.Is(err, bank.ErrFailedPrecondition) {
			t.Fatalf("second rename of a named account: err = %v, want failed precondition", err)
		}
	})
	t.Run("ClientReferenceAlwaysChangeable", func(t *testing.T) {
		nr := ref(t)
		acc, err := p.Allocate(ctx(t), named.ProviderAccountID, &provider.Allocation{ClientReference: &nr})
		if err != nil {
			t.Fatalf("changing clientReference: %v", err)
		}
		if acc.ClientReference != nr {
			t.Errorf("clientReference = %q, want %q", acc.ClientReference, nr)
		}
		got, err := p.GetAccount(ctx(t), named.ProviderAccountID)
		if err != nil || got.ClientReference != nr {
			t.Errorf("after change, get = %v, %v; want clientReference %q", got, err, nr)
		}
	})
	if !p.Capabilities().Unallocated {
		return
	}
	item := f.h.Item(ref(t))
	item.Unallocated, item.AccountHolderName, item.AccountName = true, "", ""
	un := create(t, f, item)[0].Account
	alloc := &provider.Allocation{AccountHolderName: ptr("Jane Smith"), AccountName: ptr("Jane Smith"), DOB: ptr("1985-05-20"), NativeLanguageName: ptr("Jane Smith")}
	t.Run("AllocateOnce", func(t *testing.T) {
		acc, err := p.Allocate(ctx(t), un.ProviderAccountID, alloc)
		if err != nil {
			t.Fatalf("allocate: %v", err)
		}
		if acc.Status != bank.StatusActive || acc.AccountHolderName != "Jane Smith" || acc.AccountName != "Jane Smith" {
			t.Errorf("after allocation: status %s names %q/%q, want ACTIVE Jane Smith", acc.Status, acc.AccountHolderName, acc.AccountName)
		}
	})
	t.Run("ResentAllocationHarmless", func(t *testing.T) {
		if _, err := p.Allocate(ctx(t), un.ProviderAccountID, alloc); err != nil {
			t.Fatalf("resending the same allocation: %v", err)
		}
	})
	t.Run("IdentityImmutableAfterAllocation", func(t *testing.T) {
		for name, a := range map[string]*provider.Allocation{
			"accountHolderName":  {AccountHolderName: ptr("John Doe")},
			"accountName":        {AccountName: ptr("John Doe")},
			"dob":                {DOB: ptr("1990-01-01")},
			"nativeLanguageName": {NativeLanguageName: ptr("John")},
		} {
			if _, err := p.Allocate(ctx(t), un.ProviderAccountID, a); !errors.Is(err, bank.ErrFailedPrecondition) {
				t.Errorf("changing %s after allocation: err = %v, want failed precondition", name, err)
			}
		}
		got, err := p.GetAccount(ctx(t), un.ProviderAccountID)
		if err != nil || got.AccountName != "Jane Smith" || got.DOB != "1985-05-20" {
			t.Errorf("after refused changes: %+v, %v; want the allocation unchanged", got, err)
		}
	})
}

func testIdempotentCreate(t *testing.T, f *fixture) {
	p := f.p
	if !p.Capabilities().IdempotentCreate {
		t.Logf("provider declares no idempotent create; duplicates are prevented by reconciliation (see the fault cases)")
		return
	}
	items := withReferences([]provider.CreateItem{f.h.Item(ref(t)), f.h.Item(ref(t))})
	req := &provider.CreateRequest{IdempotencyKey: newKey(), Items: items}
	first, err := p.CreateAccounts(ctx(t), req)
	if err != nil {
		t.Fatalf("first create: %v", err)
	}
	second, err := p.CreateAccounts(ctx(t), req)
	if err != nil {
		t.Fatalf("resend with the same key: %v", err)
	}
	for i := range items {
		if first[i].Err != nil || second[i].Err != nil {
			t.Fatalf("item %d: %v / %v", i, first[i].Err, second[i].Err)
		}
		if a, b := first[i].Account.ProviderAccountID, second[i].Account.ProviderAccountID; a != b {
			t.Errorf("item %d: resend gave account %s, first gave %s", i, b, a)
		}
		f.wantCount(t, items[i].ClientReference, 1, fmt.Sprintf("item %d after a resend", i))
	}
}

func testFindByReference(t *testing.T, f *fixture) {
	p := f.p
	if !p.Supports(provider.CapFindByReference) {
		_, err := p.FindByReference(ctx(t), "X")
		wantCapability(t, err)
		return
	}
	// Two items with the same clientReference (two tenants may well use the
	// same one), each with its own gateway reference.
	shared := ref(t)
	first, second := f.h.Item(ref(t)), f.h.Item(ref(t))
	first.ClientReference, second.ClientReference = shared, shared
	first.Reference, second.Reference = "vgr-"+ref(t), "vgr-"+ref(t)
	res := create(t, f, first)
	res = append(res, create(t, f, second)...)
	for i, it := range []provider.CreateItem{first, second} {
		got, err := p.FindByReference(ctx(t), it.Reference)
		if err != nil {
			t.Fatalf("FindByReference: %v", err)
		}
		if len(got) != 1 || got[0].ProviderAccountID != res[i].Account.ProviderAccountID {
			t.Errorf("FindByReference(item %d's reference) = %d accounts, want exactly %s", i, len(got), res[i].Account.ProviderAccountID)
			continue
		}
		if got[0].Reference != it.Reference {
			t.Errorf("found account carries reference %q, want %q", got[0].Reference, it.Reference)
		}
	}
	// The client's own reference is never a lookup key.
	if got, err := p.FindByReference(ctx(t), shared); err != nil || len(got) != 0 {
		t.Errorf("FindByReference(clientReference) = %d, %v; want none: only the gateway reference finds an account", len(got), err)
	}
	none, err := p.FindByReference(ctx(t), ref(t))
	if err != nil || len(none) != 0 {
		t.Errorf("FindByReference(unused) = %d, %v; want none", len(none), err)
	}
}

// testList: a Lister's pages, read to the end, hold every account created,
// each once, with the status and currency a read of it gives.
func testList(t *testing.T, f *fixture) {
	p := f.p
	if !p.Supports(provider.CapList) {
		_, _, err := p.ListAccounts(ctx(t), "")
		wantCapability(t, err)
		return
	}
	var made []*bank.Account
	for range 3 {
		it := f.h.Item(ref(t))
		it.Reference = "vgr-" + ref(t)
		res := create(t, f, it)
		made = append(made, res[0].Account)
	}
	seen := map[string]int{}
	listed := map[string]*bank.Account{}
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatal("more than 10000 pages")
		}
		page, next, err := p.ListAccounts(ctx(t), cursor)
		if err != nil {
			t.Fatalf("ListAccounts(%q): %v", cursor, err)
		}
		for _, a := range page {
			seen[a.ProviderAccountID]++
			listed[a.ProviderAccountID] = a
			if a.Provider != p.Name() {
				t.Errorf("listed account's provider = %q, want %q", a.Provider, p.Name())
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	for _, m := range made {
		a, ok := listed[m.ProviderAccountID]
		if !ok || seen[m.ProviderAccountID] != 1 {
			t.Errorf("account %s listed %d times, want once", m.ProviderAccountID, seen[m.ProviderAccountID])
			continue
		}
		got, err := p.GetAccount(ctx(t), m.ProviderAccountID)
		if err != nil {
			t.Fatal(err)
		}
		if a.Currency != got.Currency || a.Status == "" {
			t.Errorf("listed %s as %s %s, read as %s %s", m.ProviderAccountID, a.Currency, a.Status, got.Currency, got.Status)
		}
	}
}

func testUnsupported(t *testing.T, f *fixture) {
	p := f.p
	if !p.Supports(provider.CapBlock) {
		_, err := p.Block(ctx(t), f.h.MissingRef())
		wantCapability(t, err)
		_, err = p.Unblock(ctx(t), f.h.MissingRef())
		wantCapability(t, err)
	}
	if !p.Supports(provider.CapClose) {
		_, err := p.Close(ctx(t), f.h.MissingRef(), &provider.CloseReason{Reason: "test"})
		wantCapability(t, err)
	}
	if !p.Supports(provider.CapAsyncCreate) {
		_, err := p.Poll(ctx(t), "op-1", &provider.CreateRequest{Items: []provider.CreateItem{f.h.Item(ref(t))}})
		wantCapability(t, err)
	}
	if !p.Supports(provider.CapWebhooks) {
		_, err := p.VerifyWebhook(nil, nil)
		wantCapability(t, err)
	}
}

func testValidation(t *testing.T, f *fixture) {
	p := f.p
	good := f.h.Item(ref(t))
	cases := map[string]func(*provider.CreateItem){
		"missing currency":     func(it *provider.CreateItem) { it.Currency = "" },
		"unsupported currency": func(it *provider.CreateItem) { it.Currency = "XXX" },
		"missing names":        func(it *provider.CreateItem) { it.AccountHolderName, it.AccountName = "", "" },
		"bad dob":              func(it *provider.CreateItem) { it.DOB = "20-05-1985" },
	}
	if l := p.Capabilities().Limits.ClientReference; l > 0 {
		cases["clientReference over limit"] = func(it *provider.CreateItem) {
			it.ClientReference += fmt.Sprintf("%0*d", l+1-len(it.ClientReference), 0)
		}
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			it := good
			it.ClientReference = ref(t)
			mutate(&it)
			_, err := p.CreateAccounts(ctx(t), &provider.CreateRequest{IdempotencyKey: newKey(), Items: withReferences([]provider.CreateItem{it})})
			if !errors.Is(err, bank.ErrInvalidArgument) || len(bank.FieldsOf(err)) == 0 {
				t.Fatalf("err = %v, want invalid argument naming the field", err)
			}
			f.wantCount(t, it.ClientReference, 0, "a refused create")
		})
	}
}

// LifecycleTimeout bounds how long the lifecycle and asynchronous cases
// wait for a provider to bring an account or a create to a state.
const LifecycleTimeout = 5 * time.Second

// testLifecycle runs the block/unblock cases when the provider can block,
// and the close cases when it can close; UnsupportedCapabilities checks the
// refusals of the others.
func testLifecycle(t *testing.T, f *fixture) {
	p := f.p
	if !p.Supports(provider.CapBlock) && !p.Supports(provider.CapClose) {
		t.Logf("provider can neither block nor close; UnsupportedCapabilities checks the refusals")
		return
	}
	if p.Supports(provider.CapBlock) {
		t.Run("BlockUnblock", func(t *testing.T) { testBlockUnblock(t, f) })
	}
	if p.Supports(provider.CapClose) {
		t.Run("Close", func(t *testing.T) { testClose(t, f) })
	}
}

// waitStatus polls the account until its status is want (bounded by
// LifecycleTimeout), tolerating providers that get there asynchronously.
func waitStatus(t testing.TB, f *fixture, providerAccountID string, want bank.Status) *bank.Account {
	t.Helper()
	deadline := time.Now().Add(LifecycleTimeout)
	for {
		acc, err := f.p.GetAccount(ctx(t), providerAccountID)
		if err == nil && acc.Status == want {
			return acc
		}
		if time.Now().After(deadline) {
			if err != nil {
				t.Fatalf("account %s: %v; want status %s within %s", providerAccountID, err, want, LifecycleTimeout)
			}
			t.Fatalf("account %s is %s (provider %q); want %s within %s", providerAccountID, acc.Status, acc.ProviderStatus, want, LifecycleTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// activeAccount creates a named account and waits until it is ACTIVE.
func activeAccount(t testing.TB, f *fixture) *bank.Account {
	t.Helper()
	acc := create(t, f, f.h.Item(ref(t)))[0].Account
	if acc.Status == bank.StatusActive {
		return acc
	}
	return waitStatus(t, f, acc.ProviderAccountID, bank.StatusActive)
}

func wantLifecycle(t testing.TB, f *fixture, what string, acc *bank.Account, err error, id string, want ...bank.Status) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if acc.ProviderAccountID != id || acc.Provider != f.p.Name() || acc.ProviderStatus == "" {
		t.Errorf("%s answered %+v, want account %s of provider %s with its raw status", what, acc, id, f.p.Name())
	}
	for _, s := range want {
		if acc.Status == s {
			return
		}
	}
	t.Fatalf("%s: status %s, want one of %v", what, acc.Status, want)
}

func wantPrecondition(t testing.TB, what string, err error) {
	t.Helper()
	if !errors.Is(err, bank.ErrFailedPrecondition) {
		t.Errorf("%s: err = %v (code %s), want failed precondition", what, err, bank.Code(err))
	}
}

// testBlockUnblock: ACTIVE → BLOCKED; blocking a BLOCKED account answers it
// unchanged; unblock → UNBLOCKING or ACTIVE, then ACTIVE; unblocking an
// ACTIVE account answers it unchanged (the unified API's rules).
func testBlockUnblock(t *testing.T, f *fixture) {
	p := f.p
	id := activeAccount(t, f).ProviderAccountID
	acc, err := p.Block(ctx(t), id)
	wantLifecycle(t, f, "block", acc, err, id, bank.StatusBlocked)
	waitStatus(t, f, id, bank.StatusBlocked)
	acc, err = p.Block(ctx(t), id)
	wantLifecycle(t, f, "block a BLOCKED account", acc, err, id, bank.StatusBlocked)
	acc, err = p.Unblock(ctx(t), id)
	wantLifecycle(t, f, "unblock", acc, err, id, bank.StatusUnblocking, bank.StatusActive)
	waitStatus(t, f, id, bank.StatusActive)
	acc, err = p.Unblock(ctx(t), id)
	wantLifecycle(t, f, "unblock an ACTIVE account", acc, err, id, bank.StatusActive)
}

func closeReason() *provider.CloseReason {
	return &provider.CloseReason{IdempotencyKey: newKey(), Reason: "conformance test", RequestedBy: "adaptertest",
		Notes: "closed by the conformance suite"}
}

// testClose: an ACTIVE account (and a BLOCKED one, where the provider can
// block) closes; CLOSED is terminal: closing again, blocking or unblocking
// it is a failed precondition and leaves it CLOSED.
func testClose(t *testing.T, f *fixture) {
	p := f.p
	canBlock := p.Supports(provider.CapBlock)
	closeIt := func(t *testing.T, id string) {
		t.Helper()
		acc, err := p.Close(ctx(t), id, closeReason())
		if err != nil {
			t.Fatalf("close: %v", err)
		}
		if acc.ProviderAccountID != id || acc.Provider != p.Name() {
			t.Errorf("close answered %+v, want account %s of provider %s", acc, id, p.Name())
		}
		if acc.Status != bank.StatusClosed {
			waitStatus(t, f, id, bank.StatusClosed)
		}
	}
	t.Run("Active", func(t *testing.T) {
		id := activeAccount(t, f).ProviderAccountID
		closeIt(t, id)
		_, err := p.Close(ctx(t), id, closeReason())
		wantPrecondition(t, "close a CLOSED account", err)
		if canBlock {
			_, err = p.Block(ctx(t), id)
			wantPrecondition(t, "block a CLOSED account", err)
			_, err = p.Unblock(ctx(t), id)
			wantPrecondition(t, "unblock a CLOSED account", err)
		}
		if acc, err := p.GetAccount(ctx(t), id); err != nil || acc.Status != bank.StatusClosed {
			t.Errorf("after refused changes: %+v, %v; want it still CLOSED", acc, err)
		}
	})
	if !canBlock {
		return
	}
	t.Run("Blocked", func(t *testing.T) {
		id := activeAccount(t, f).ProviderAccountID
		if _, err := p.Block(ctx(t), id); err != nil {
			t.Fatalf("block: %v", err)
		}
		waitStatus(t, f, id, bank.StatusBlocked)
		closeIt(t, id)
	})
}
