// Package adaptertest is the conformance suite every provider adapter runs
// against its bundled mock. It drives the adapter through gateway.Provider,
// exactly as the gateway does, so it checks the adapter and the portable
// layer's expectations of it together.
//
// A new contract rule goes here first, then into the adapters.
package adaptertest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/provider"
	"github.com/vagate/vagate/mocks/fault"
)

// Op names an adapter operation whose HTTP route the harness can fault.
type Op string

// Operations the suite injects faults into.
const (
	OpCreate   Op = "create"
	OpGet      Op = "get"
	OpAllocate Op = "allocate"
)

// Harness connects the suite to one adapter and a fresh instance of its mock.
type Harness interface {
	// Provider is the adapter under test, wrapped by gateway.New and pointed
	// at the harness's own mock.
	Provider() *gateway.Provider
	// Item returns a valid, named create item in a supported currency.
	Item(clientReference string) provider.CreateItem
	// MissingRef returns a well-formed account reference the mock does not hold.
	MissingRef() string
	// Fault installs a fault rule on the mock's route for op (the harness
	// fills in method and path).
	Fault(t *testing.T, op Op, r fault.Rule)
	// ClearFaults removes every fault rule.
	ClearFaults(t *testing.T)
	// Count returns how many accounts the mock holds with clientReference.
	Count(t *testing.T, clientReference string) int
}

// HarnessMaker builds a fresh harness; it registers its cleanup with t.
type HarnessMaker func(t *testing.T) Harness

// RunConformanceTests runs the whole suite.
func RunConformanceTests(t *testing.T, newHarness HarnessMaker) {
	t.Run("CreateSingle", func(t *testing.T) { testCreateSingle(t, newHarness(t)) })
	t.Run("CreateBatch", func(t *testing.T) { testCreateBatch(t, newHarness(t)) })
	t.Run("CreateUnallocated", func(t *testing.T) { testCreateUnallocated(t, newHarness(t)) })
	t.Run("Get", func(t *testing.T) { testGet(t, newHarness(t)) })
	t.Run("GetNotFound", func(t *testing.T) { testGetNotFound(t, newHarness(t)) })
	t.Run("Allocation", func(t *testing.T) { testAllocation(t, newHarness(t)) })
	t.Run("IdempotentCreate", func(t *testing.T) { testIdempotentCreate(t, newHarness(t)) })
	t.Run("FindByReference", func(t *testing.T) { testFindByReference(t, newHarness(t)) })
	t.Run("UnsupportedCapabilities", func(t *testing.T) { testUnsupported(t, newHarness(t)) })
	t.Run("Lifecycle", func(t *testing.T) { testLifecycle(t, newHarness) })
	t.Run("Validation", func(t *testing.T) { testValidation(t, newHarness(t)) })
	t.Run("ErrorCodes", func(t *testing.T) { testErrorCodes(t, newHarness) })
}

func ref(*testing.T) string { return fmt.Sprintf("CT-%08x", rand.Uint32()) }

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func newKey() string { return uuid.NewString() }

// withReferences gives each item without one a gateway reference, as the job
// engine does. The suite uses the item's unique clientReference for it, so
// Count finds the account whichever of the two the provider keeps.
func withReferences(items []provider.CreateItem) []provider.CreateItem {
	out := slices.Clone(items)
	for i := range out {
		if out[i].Reference == "" {
			out[i].Reference = out[i].ClientReference
		}
	}
	return out
}

func create(t *testing.T, h Harness, items ...provider.CreateItem) []provider.ItemResult {
	t.Helper()
	items = withReferences(items)
	res, err := h.Provider().CreateAccounts(ctx(t), &provider.CreateRequest{IdempotencyKey: newKey(), Items: items})
	if err != nil {
		t.Fatalf("CreateAccounts: %v", err)
	}
	if len(res) != len(items) {
		t.Fatalf("CreateAccounts returned %d results for %d items", len(res), len(items))
	}
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("item %d: %v", i, r.Err)
		}
	}
	return res
}

func checkCreated(t *testing.T, h Harness, item provider.CreateItem, acc *bank.Account) {
	t.Helper()
	p := h.Provider()
	switch {
	case acc.ProviderAccountID == "":
		t.Errorf("account has no providerAccountId")
	case acc.Provider != p.Name():
		t.Errorf("provider = %q, want %q", acc.Provider, p.Name())
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
		if acc.AccountHolderName != item.AccountHolderName || acc.AccountName != item.AccountName {
			t.Errorf("names = %q/%q, want %q/%q", acc.AccountHolderName, acc.AccountName, item.AccountHolderName, item.AccountName)
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

func testCreateSingle(t *testing.T, h Harness) {
	item := h.Item(ref(t))
	res := create(t, h, item)
	checkCreated(t, h, item, res[0].Account)
	if n := h.Count(t, item.ClientReference); n != 1 {
		t.Errorf("mock holds %d accounts for %s, want 1", n, item.ClientReference)
	}
}

func testCreateBatch(t *testing.T, h Harness) {
	items := make([]provider.CreateItem, 5)
	for i := range items {
		items[i] = h.Item(ref(t))
	}
	res := create(t, h, items...)
	seen := map[string]bool{}
	for i, r := range res {
		checkCreated(t, h, items[i], r.Account)
		if seen[r.Account.ProviderAccountID] {
			t.Errorf("item %d: providerAccountId %s returned twice", i, r.Account.ProviderAccountID)
		}
		seen[r.Account.ProviderAccountID] = true
		if n := h.Count(t, items[i].ClientReference); n != 1 {
			t.Errorf("item %d: mock holds %d accounts, want 1", i, n)
		}
	}
}

func testCreateUnallocated(t *testing.T, h Harness) {
	p := h.Provider()
	item := h.Item(ref(t))
	item.Unallocated, item.AccountHolderName, item.AccountName = true, "", ""
	if !p.Capabilities().Unallocated {
		_, err := p.CreateAccounts(ctx(t), &provider.CreateRequest{IdempotencyKey: newKey(), Items: withReferences([]provider.CreateItem{item})})
		wantCapability(t, err)
		if n := h.Count(t, item.ClientReference); n != 0 {
			t.Errorf("refused unallocated create left %d accounts at the mock", n)
		}
		return
	}
	res := create(t, h, item)
	acc := res[0].Account
	checkCreated(t, h, item, acc)
	if acc.Status != bank.StatusUnallocated {
		t.Errorf("status = %s, want UNALLOCATED", acc.Status)
	}
}

func wantCapability(t *testing.T, err error) {
	t.Helper()
	if bank.Code(err) != bank.Unimplemented {
		t.Fatalf("err = %v (code %s), want unimplemented", err, bank.Code(err))
	}
	var ce *gateway.CapabilityError
	if !errors.As(err, &ce) || ce.Provider == "" || ce.Capability == "" {
		t.Errorf("err = %v, want a CapabilityError naming provider and capability", err)
	}
}

func testGet(t *testing.T, h Harness) {
	item := h.Item(ref(t))
	item.DOB = "1985-05-20"
	created := create(t, h, item)[0].Account
	got, err := h.Provider().GetAccount(ctx(t), created.ProviderAccountID)
	if err != nil {
		t.Fatalf("GetAccount: %v", err)
	}
	checkCreated(t, h, item, got)
	if got.ProviderAccountID != created.ProviderAccountID {
		t.Errorf("providerAccountId = %s, want %s", got.ProviderAccountID, created.ProviderAccountID)
	}
	if len(got.Raw) == 0 {
		t.Errorf("raw provider payload not kept")
	}
}

func testGetNotFound(t *testing.T, h Harness) {
	_, err := h.Provider().GetAccount(ctx(t), h.MissingRef())
	if !errors.Is(err, bank.ErrNotFound) {
		t.Fatalf("err = %v, want not found", err)
	}
	var be *bank.Error
	if !errors.As(err, &be) || be.Provider != h.Provider().Name() || be.Op != "get" {
		t.Errorf("err = %#v, want a *bank.Error naming provider and op", err)
	}
}

func ptr(s string) *string { return &s }

func testAllocation(t *testing.T, h Harness) {
	p := h.Provider()
	if !p.Supports(provider.CapAllocate) {
		_, err := p.Allocate(ctx(t), h.MissingRef(), &provider.Allocation{ClientReference: ptr("X")})
		wantCapability(t, err)
		return
	}
	named := create(t, h, h.Item(ref(t)))[0].Account
	t.Run("NamedIdentityImmutable", func(t *testing.T) {
		_, err := p.Allocate(ctx(t), named.ProviderAccountID, &provider.Allocation{AccountName: ptr("Someone Else")})
		if !errors.Is(err, bank.ErrFailedPrecondition) {
			t.Fatalf("renaming a named account: err = %v, want failed precondition", err)
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
	item := h.Item(ref(t))
	item.Unallocated, item.AccountHolderName, item.AccountName = true, "", ""
	un := create(t, h, item)[0].Account
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

func testIdempotentCreate(t *testing.T, h Harness) {
	p := h.Provider()
	if !p.Capabilities().IdempotentCreate {
		t.Logf("provider %s declares no idempotent create; duplicates are prevented by reconciliation", p.Name())
		return
	}
	items := []provider.CreateItem{h.Item(ref(t)), h.Item(ref(t))}
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
		if n := h.Count(t, items[i].ClientReference); n != 1 {
			t.Errorf("item %d: mock holds %d accounts after a resend, want 1", i, n)
		}
	}
}

func testFindByReference(t *testing.T, h Harness) {
	p := h.Provider()
	if !p.Supports(provider.CapFindByReference) {
		_, err := p.FindByReference(ctx(t), "X")
		wantCapability(t, err)
		return
	}
	// Two items with the same clientReference (two tenants may well use the
	// same one), each with its own gateway reference.
	shared := ref(t)
	first, second := h.Item(ref(t)), h.Item(ref(t))
	first.ClientReference, second.ClientReference = shared, shared
	first.Reference, second.Reference = "vgr-"+ref(t), "vgr-"+ref(t)
	res := create(t, h, first)
	res = append(res, create(t, h, second)...)
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

func testUnsupported(t *testing.T, h Harness) {
	p := h.Provider()
	if !p.Supports(provider.CapBlock) {
		_, err := p.Block(ctx(t), h.MissingRef())
		wantCapability(t, err)
		_, err = p.Unblock(ctx(t), h.MissingRef())
		wantCapability(t, err)
	}
	if !p.Supports(provider.CapClose) {
		_, err := p.Close(ctx(t), h.MissingRef(), &provider.CloseReason{Reason: "test"})
		wantCapability(t, err)
	}
}

func testValidation(t *testing.T, h Harness) {
	p := h.Provider()
	good := h.Item(ref(t))
	cases := map[string]func(*provider.CreateItem){
		"missing currency":     func(it *provider.CreateItem) { it.Currency = "" },
		"unsupported currency": func(it *provider.CreateItem) { it.Currency = "XXX" },
		"missing names":        func(it *provider.CreateItem) { it.AccountHolderName, it.AccountName = "", "" },
		"bad dob":              func(it *provider.CreateItem) { it.DOB = "20-05-1985" },
	}
	if l := p.Capabilities().Limits.ClientReference; l > 0 {
		cases["clientReference over limit"] = func(it *provider.CreateItem) { it.ClientReference = fmt.Sprintf("%0*d", l+1, 0) }
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
			if it.ClientReference != "" && h.Count(t, it.ClientReference) != 0 {
				t.Errorf("a refused create reached the mock")
			}
		})
	}
}

type faultCase struct {
	name      string
	rule      fault.Rule
	want      bank.ErrorCode
	retryWait time.Duration
}

func faultCases() []faultCase {
	return []faultCase{
		{"400", fault.Rule{Action: fault.ActionError, Status: 400}, bank.InvalidArgument, 0},
		{"401", fault.Rule{Action: fault.ActionError, Status: 401}, bank.Unauthenticated, 0},
		{"403", fault.Rule{Action: fault.ActionError, Status: 403}, bank.PermissionDenied, 0},
		{"404", fault.Rule{Action: fault.ActionError, Status: 404}, bank.NotFound, 0},
		{"409", fault.Rule{Action: fault.ActionError, Status: 409}, bank.AlreadyExists, 0},
		{"429", fault.Rule{Action: fault.ActionError, Status: 429, RetryAfter: "7"}, bank.ResourceExhausted, 7 * time.Second},
		{"500", fault.Rule{Action: fault.ActionError, Status: 500}, bank.Internal, 0},
		{"503", fault.Rule{Action: fault.ActionError, Status: 503, RetryAfter: "2"}, bank.Unavailable, 2 * time.Second},
		{"malformed", fault.Rule{Action: fault.ActionMalformed}, bank.Unknown, 0},
		{"timeout", fault.Rule{Action: fault.ActionHang}, bank.DeadlineExceeded, 0},
	}
}

func testErrorCodes(t *testing.T, newHarness HarnessMaker) {
	h := newHarness(t)
	existing := create(t, h, h.Item(ref(t)))[0].Account.ProviderAccountID
	for _, op := range []Op{OpGet, OpCreate} {
		for _, fc := range faultCases() {
			t.Run(string(op)+"/"+fc.name, func(t *testing.T) {
				h.ClearFaults(t)
				t.Cleanup(func() { h.ClearFaults(t) })
				fc.rule.Times = 1
				h.Fault(t, op, fc.rule)
				c, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
				defer cancel()
				var err error
				item := h.Item(ref(t))
				switch op {
				case OpGet:
					_, err = h.Provider().GetAccount(c, existing)
				case OpCreate:
					_, err = h.Provider().Submit(c, &provider.CreateRequest{IdempotencyKey: newKey(), Items: withReferences([]provider.CreateItem{item})})
				}
				if got := bank.Code(err); got != fc.want {
					t.Fatalf("err = %v: code %s, want %s", err, got, fc.want)
				}
				var be *bank.Error
				if !errors.As(err, &be) || be.Provider != h.Provider().Name() || be.Op == "" {
					t.Errorf("err = %#v, want one *bank.Error naming provider and op", err)
				}
				if fc.retryWait > 0 && bank.RetryAfterOf(err) != fc.retryWait {
					t.Errorf("RetryAfter = %s, want %s", bank.RetryAfterOf(err), fc.retryWait)
				}
				if op == OpCreate && fc.rule.Action != fault.ActionDropResponse {
					if n := h.Count(t, item.ClientReference); n != 0 {
						t.Errorf("a create refused before the provider acted left %d accounts", n)
					}
				}
			})
		}
	}
}

// LifecycleTimeout bounds how long the lifecycle cases wait for an
// asynchronous provider to bring an account to a status.
const LifecycleTimeout = 5 * time.Second

// testLifecycle runs the block/unblock cases when the provider can block,
// and the close cases when it can close; UnsupportedCapabilities checks the
// refusals of the others.
func testLifecycle(t *testing.T, newHarness HarnessMaker) {
	h := newHarness(t)
	canBlock, canClose := h.Provider().Supports(provider.CapBlock), h.Provider().Supports(provider.CapClose)
	if !canBlock && !canClose {
		t.Skipf("provider %s can neither block nor close", h.Provider().Name())
	}
	if canBlock {
		t.Run("BlockUnblock", func(t *testing.T) { testBlockUnblock(t, h) })
	}
	if canClose {
		t.Run("Close", func(t *testing.T) { testClose(t, h) })
	}
}

// waitStatus polls the account until its status is want (bounded by
// LifecycleTimeout), tolerating providers that get there asynchronously.
func waitStatus(t *testing.T, h Harness, providerAccountID string, want bank.Status) *bank.Account {
	t.Helper()
	deadline := time.Now().Add(LifecycleTimeout)
	for {
		acc, err := h.Provider().GetAccount(ctx(t), providerAccountID)
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
func activeAccount(t *testing.T, h Harness) *bank.Account {
	t.Helper()
	acc := create(t, h, h.Item(ref(t)))[0].Account
	if acc.Status == bank.StatusActive {
		return acc
	}
	return waitStatus(t, h, acc.ProviderAccountID, bank.StatusActive)
}

func wantLifecycle(t *testing.T, h Harness, what string, acc *bank.Account, err error, id string, want ...bank.Status) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if acc.ProviderAccountID != id || acc.Provider != h.Provider().Name() || acc.ProviderStatus == "" {
		t.Errorf("%s answered %+v, want account %s of provider %s with its raw status", what, acc, id, h.Provider().Name())
	}
	for _, s := range want {
		if acc.Status == s {
			return
		}
	}
	t.Fatalf("%s: status %s, want one of %v", what, acc.Status, want)
}

func wantPrecondition(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, bank.ErrFailedPrecondition) {
		t.Errorf("%s: err = %v (code %s), want failed precondition", what, err, bank.Code(err))
	}
}

// testBlockUnblock: ACTIVE → BLOCKED; blocking a BLOCKED account answers it
// unchanged; unblock → UNBLOCKING or ACTIVE, then ACTIVE; unblocking an
// ACTIVE account answers it unchanged (the unified API's rules).
func testBlockUnblock(t *testing.T, h Harness) {
	p := h.Provider()
	id := activeAccount(t, h).ProviderAccountID
	acc, err := p.Block(ctx(t), id)
	wantLifecycle(t, h, "block", acc, err, id, bank.StatusBlocked)
	waitStatus(t, h, id, bank.StatusBlocked)
	acc, err = p.Block(ctx(t), id)
	wantLifecycle(t, h, "block a BLOCKED account", acc, err, id, bank.StatusBlocked)
	acc, err = p.Unblock(ctx(t), id)
	wantLifecycle(t, h, "unblock", acc, err, id, bank.StatusUnblocking, bank.StatusActive)
	waitStatus(t, h, id, bank.StatusActive)
	acc, err = p.Unblock(ctx(t), id)
	wantLifecycle(t, h, "unblock an ACTIVE account", acc, err, id, bank.StatusActive)
}

func closeReason() *provider.CloseReason {
	return &provider.CloseReason{IdempotencyKey: newKey(), Reason: "conformance test", RequestedBy: "adaptertest",
		Notes: "closed by the conformance suite"}
}

// testClose: an ACTIVE account (and a BLOCKED one, where the provider can
// block) closes; CLOSED is terminal: closing again, blocking or unblocking
// it is a failed precondition and leaves it CLOSED.
func testClose(t *testing.T, h Harness) {
	p := h.Provider()
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
			waitStatus(t, h, id, bank.StatusClosed)
		}
	}
	t.Run("Active", func(t *testing.T) {
		id := activeAccount(t, h).ProviderAccountID
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
		id := activeAccount(t, h).ProviderAccountID
		if _, err := p.Block(ctx(t), id); err != nil {
			t.Fatalf("block: %v", err)
		}
		waitStatus(t, h, id, bank.StatusBlocked)
		closeIt(t, id)
	})
}

// Mock is what the suite needs of a bundled mock.
type Mock interface {
	Faults() *fault.Injector
	CountByReference(clientReference string) int
}

// Route is the method and path.Match pattern of an operation at a mock.
type Route struct{ Method, Path string }

// MockHarness implements Fault, ClearFaults and Count over a bundled mock;
// an adapter's harness embeds it and adds the rest.
type MockHarness struct {
	Mock   Mock
	Routes map[Op]Route
}

// Fault installs r on the route of op.
func (h MockHarness) Fault(t *testing.T, op Op, r fault.Rule) {
	t.Helper()
	route, ok := h.Routes[op]
	if !ok {
		t.Fatalf("op %q has no route at this provider", op)
	}
	r.Method, r.Path = route.Method, route.Path
	if _, err := h.Mock.Faults().Add(r); err != nil {
		t.Fatalf("fault: %v", err)
	}
}

// ClearFaults removes every fault rule.
func (h MockHarness) ClearFaults(*testing.T) { h.Mock.Faults().Reset() }

// Count returns how many accounts the mock holds with clientReference.
func (h MockHarness) Count(_ *testing.T, ref string) int { return h.Mock.CountByReference(ref) }
