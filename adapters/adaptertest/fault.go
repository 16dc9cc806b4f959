package adaptertest

import (
	"context"
	"errors"
	"testing"
	"time"

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

// FaultHarness is a Harness over a bundled mock whose faults the suite
// scripts. A harness for a live provider does not implement it.
type FaultHarness interface {
	Harness
	// Fault installs a fault rule on the mock's route for op (the harness
	// fills in method and path).
	Fault(t testing.TB, op Op, r fault.Rule)
	// ClearFaults removes every fault rule.
	ClearFaults(t testing.TB)
}

// runFaults runs the cases driven by faults the mock injects.
func runFaults(t *testing.T, newHarness HarnessMaker) {
	cases := []struct {
		name string
		run  func(t *testing.T, f *fixture, fh FaultHarness)
	}{
		{"ErrorCodes", testErrorCodes},
		{"TransientFaultsAbsorbed", testTransient},
		{"LostCreateResponse", testLostResponse},
		{"BreakerOpens", testBreaker},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, newHarness)
			c.run(t, f, f.h.(FaultHarness))
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

// testErrorCodes: a provider that keeps failing one way gives the caller
// one *bank.Error of the right code, after whatever retries the portable
// layer made, with the provider's Retry-After where it gave one (a wait
// longer than the call has left is not waited for, it is reported). Each
// case runs on a fresh client, so one case's failures do not trip the
// breaker for the next.
func testErrorCodes(t *testing.T, f *fixture, fh FaultHarness) {
	existing := create(t, f, f.h.Item(ref(t)))[0].Account.ProviderAccountID
	for _, op := range []Op{OpGet, OpCreate} {
		for _, fc := range faultCases() {
			t.Run(string(op)+"/"+fc.name, func(t *testing.T) {
				f := f.reopen(t)
				fh.ClearFaults(t)
				t.Cleanup(func() { fh.ClearFaults(t) })
				fh.Fault(t, op, fc.rule) // on every attempt
				c, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
				defer cancel()
				var err error
				item := f.h.Item(ref(t))
				switch op {
				case OpGet:
					_, err = f.p.GetAccount(c, existing)
				case OpCreate:
					_, err = f.p.Submit(c, &provider.CreateRequest{IdempotencyKey: newKey(), Items: withReferences([]provider.CreateItem{item})})
				}
				if got := bank.Code(err); got != fc.want {
					t.Fatalf("err = %v: code %s, want %s", err, got, fc.want)
				}
				wantBankError(t, f, err, string(op))
				if fc.retryWait > 0 && bank.RetryAfterOf(err) != fc.retryWait {
					t.Errorf("RetryAfter = %s, want %s", bank.RetryAfterOf(err), fc.retryWait)
				}
				if op == OpCreate {
					f.wantCount(t, item.ClientReference, 0, "a create the provider never acted on")
				}
			})
		}
	}
}

// testTransient: one failed attempt, which the provider asks to retry, is
// absorbed by the portable layer: the read answers, the create creates
// exactly one account.
func testTransient(t *testing.T, f *fixture, fh FaultHarness) {
	existing := create(t, f, f.h.Item(ref(t)))[0].Account.ProviderAccountID
	for _, fc := range []struct {
		name string
		rule fault.Rule
	}{
		{"503", fault.Rule{Action: fault.ActionError, Status: 503, RetryAfter: "0", Times: 1}},
		{"429", fault.Rule{Action: fault.ActionError, Status: 429, RetryAfter: "0", Times: 1}},
	} {
		t.Run("get/"+fc.name, func(t *testing.T) {
			f := f.reopen(t)
			fh.ClearFaults(t)
			t.Cleanup(func() { fh.ClearFaults(t) })
			fh.Fault(t, OpGet, fc.rule)
			if _, err := f.p.GetAccount(ctx(t), existing); err != nil {
				t.Fatalf("a read after one %s: %v; want it retried", fc.name, err)
			}
		})
		t.Run("create/"+fc.name, func(t *testing.T) {
			f := f.reopen(t)
			fh.ClearFaults(t)
			t.Cleanup(func() { fh.ClearFaults(t) })
			fh.Fault(t, OpCreate, fc.rule)
			item := f.h.Item(ref(t))
			res := create(t, f, item)
			checkCreated(t, f, item, res[0].Account)
			f.wantCount(t, item.ClientReference, 1, "a create after one "+fc.name)
		})
	}
}

// testLostResponse: the provider creates the account but its answer is
// lost (the connection drops). The portable layer settles the create
// without a duplicate: a provider with idempotency keys is resent the
// same key, one without is looked up by the gateway reference. A provider
// with neither leaves the outcome Unknown, never failed.
func testLostResponse(t *testing.T, f *fixture, fh FaultHarness) {
	fh.ClearFaults(t)
	t.Cleanup(func() { fh.ClearFaults(t) })
	fh.Fault(t, OpCreate, fault.Rule{Action: fault.ActionDropResponse, Times: 1})
	item := f.h.Item(ref(t))
	res, err := f.p.CreateAccounts(ctx(t), &provider.CreateRequest{IdempotencyKey: newKey(), Items: withReferences([]provider.CreateItem{item})})
	switch {
	case f.p.Capabilities().IdempotentCreate || f.p.Supports(provider.CapFindByReference):
		if err != nil || res[0].Err != nil {
			t.Fatalf("create whose answer was lost: %v / %+v; want it settled", err, res)
		}
		checkCreated(t, f, item, res[0].Account)
	default:
		if err == nil {
			err = res[0].Err
		}
		if bank.Code(err).OutcomeKnown() {
			t.Fatalf("create whose answer was lost: err = %v; want an unknown outcome", err)
		}
	}
	f.wantCount(t, item.ClientReference, 1, "a create whose answer was lost")
}

// testBreaker: a provider that keeps failing opens the breaker: calls fail
// fast (Unavailable, with a Retry-After, nothing sent); once the provider
// recovers, a probe after the open period closes it again.
func testBreaker(t *testing.T, f *fixture, fh FaultHarness) {
	existing := create(t, f, f.h.Item(ref(t)))[0].Account.ProviderAccountID
	f = f.reopen(t)
	fh.ClearFaults(t)
	t.Cleanup(func() { fh.ClearFaults(t) })
	fh.Fault(t, OpGet, fault.Rule{Action: fault.ActionError, Status: 503, RetryAfter: "0"})
	var err error
	for range 2 * int(Limits().Breaker.MinRequests) {
		if _, err = f.p.GetAccount(ctx(t), existing); errors.Is(err, gateway.ErrFailFast) {
			break
		}
	}
	if !errors.Is(err, gateway.ErrFailFast) || bank.Code(err) != bank.Unavailable || bank.RetryAfterOf(err) <= 0 {
		t.Fatalf("after %d failing reads: err = %v; want the breaker open: unavailable, failing fast with a Retry-After", 2*Limits().Breaker.MinRequests, err)
	}
	wantBankError(t, f, err, "")
	fh.ClearFaults(t)
	deadline := time.Now().Add(LifecycleTimeout)
	for {
		_, err := f.p.GetAccount(ctx(t), existing)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("provider recovered, but reads still fail after %s: %v", LifecycleTimeout, err)
		}
		time.Sleep(Limits().Breaker.OpenFor / 4)
	}
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
func (h MockHarness) Fault(t testing.TB, op Op, r fault.Rule) {
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
func (h MockHarness) ClearFaults(testing.TB) { h.Mock.Faults().Reset() }

// Count returns how many accounts the mock holds with ref.
func (h MockHarness) Count(_ testing.TB, ref string) (int, bool) {
	return h.Mock.CountByReference(ref), true
}
