// Package adaptertest is the conformance suite every provider adapter runs.
//
// A harness gives the suite the adapter side only: Harness.Open opens the
// adapter with the provider.Env it is handed. The suite wraps it the
// production way, with gateway.Open and real (test-speed) Limits: a
// resilient client with retries, a circuit breaker, attempt timeouts and
// per-attempt signing, and the gateway.Provider around the adapter. So the
// suite checks the adapter and the portable layer's expectations of it
// together, as gocloud's drivertest wraps a driver in its portable type.
//
// The suite has three runners:
//
//   - RunConformanceTests, against a bundled mock: the behaviour cases, the
//     webhook cases (WebhookHarness) and the cases driven by faults the
//     mock injects (FaultHarness).
//   - RunContractTests, against any provider: the behaviour cases only
//     (asynchronous creates included), which need no fault injection and
//     no mock internals (Harness alone). FromEnv makes its harnesses from a
//     config block in the environment, opened through the adapter's Driver
//     exactly as the gateway opens a configured provider.
//   - RunBenchmarks: create one account, read one account.
//
// The behaviour cases (behaviour.go, poll.go) use nothing of mocks/fault;
// the fault cases and MockHarness live in fault.go.
//
// A new contract rule goes here first, then into the adapters.
package adaptertest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/provider"
)

// Harness connects the suite to one adapter and the provider it talks to.
// It has nothing to do with fault injection or a mock's internals, so a
// harness for a live provider implements it as well as one for a mock.
type Harness interface {
	// Open opens the adapter under test in env, pointed at the harness's
	// provider. The adapter must send every request through env.HTTPClient:
	// it is the resilient client the suite built.
	Open(env provider.Env) (provider.Adapter, error)
	// Item returns a valid, named create item in a supported currency.
	Item(clientReference string) provider.CreateItem
	// MissingRef returns a well-formed account reference the provider does not hold.
	MissingRef() string
	// Count returns how many accounts the provider holds that were created
	// with the gateway reference ref (the suite gives every item its unique
	// clientReference as reference, see withReferences), and false when the
	// harness has no way to count them.
	Count(t testing.TB, ref string) (n int, ok bool)
}

// PollHarness is implemented by the harness of an adapter that implements
// provider.Poller.
type PollHarness interface {
	// MissingOperation returns a well-formed operation handle the provider
	// does not know.
	MissingOperation() string
}

// HarnessMaker builds a fresh harness; it registers its cleanup with t.
type HarnessMaker func(t testing.TB) Harness

// ProviderName is the name the suite opens every adapter under.
const ProviderName = "adaptertest"

// Limits is the resilience policy the suite opens adapters with: the real
// client, breaker and retries of production, at test speed (millisecond
// backoff, a breaker that trips after a few failures and probes again soon).
func Limits() *gateway.Limits {
	return &gateway.Limits{
		AttemptTimeout: 5 * time.Second,
		CallTimeout:    15 * time.Second,
		MaxAttempts:    3,
		BackoffMin:     time.Millisecond,
		BackoffMax:     10 * time.Millisecond,
		MaxConcurrent:  16,
		Breaker: gateway.BreakerLimits{
			FailureRatio: 0.5,
			MinRequests:  6,
			Window:       5 * time.Second,
			OpenFor:      200 * time.Millisecond,
			Probes:       1,
		},
	}
}

// Poll intervals of the providers the suite opens: an asynchronous create
// is polled soon, and at most every MaxPollInterval.
const (
	PollInterval    = 5 * time.Millisecond
	MaxPollInterval = 100 * time.Millisecond
)

// OpenProvider opens h's adapter the production way (gateway.Open: the
// resilient client with Limits, the adapter opened through it, its attempt
// signer installed, the Provider around it) under name.
func OpenProvider(t testing.TB, name string, h Harness) *gateway.Provider {
	t.Helper()
	p, err := gateway.Open(name, h.Open, &gateway.OpenOptions{Limits: Limits(), PollInterval: PollInterval, MaxPollInterval: MaxPollInterval})
	if err != nil {
		t.Fatalf("gateway.Open: %v", err)
	}
	return p
}

// fixture is one harness with its adapter opened the production way.
type fixture struct {
	h Harness
	p *gateway.Provider
	// uncounted is set once the harness said it cannot count accounts.
	uncounted *atomic.Bool
}

func newFixture(t testing.TB, newHarness HarnessMaker) *fixture {
	t.Helper()
	h := newHarness(t)
	return &fixture{h: h, p: OpenProvider(t, ProviderName, h), uncounted: new(atomic.Bool)}
}

// reopen is a fresh Provider (client, breaker) over the same harness.
func (f *fixture) reopen(t testing.TB) *fixture {
	t.Helper()
	return &fixture{h: f.h, p: OpenProvider(t, ProviderName, f.h), uncounted: f.uncounted}
}

// RunConformanceTests runs the whole suite against a bundled mock: the
// behaviour cases, the asynchronous create and webhook cases, and the
// fault-driven cases. The harness must implement FaultHarness.
func RunConformanceTests(t *testing.T, newHarness HarnessMaker) {
	if _, ok := newHarness(t).(FaultHarness); !ok {
		t.Fatalf("the conformance suite runs against a mock whose faults it scripts: the harness must implement adaptertest.FaultHarness (use RunContractTests for a live provider)")
	}
	runBehaviour(t, newHarness)
	t.Run("Webhooks", func(t *testing.T) { testWebhooks(t, newFixture(t, newHarness)) })
	runFaults(t, newHarness)
}

// RunContractTests runs the behaviour cases (asynchronous creates
// included) against the provider newHarness's harnesses point at. They
// need no fault injection and no mock internals; where the harness cannot
// count accounts, the counts are not checked.
func RunContractTests(t *testing.T, newHarness HarnessMaker) {
	runBehaviour(t, newHarness)
}

func ref(testing.TB) string { return fmt.Sprintf("CT-%08x", rand.Uint32()) }

func ctx(t testing.TB) context.Context {
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

// wantCount checks that the provider holds want accounts created with
// ref, when the harness can count them (it says once when it cannot).
func (f *fixture) wantCount(t testing.TB, ref string, want int, what string) {
	t.Helper()
	n, ok := f.h.Count(t, ref)
	if !ok {
		if !f.uncounted.Swap(true) {
			t.Logf("accounts are not counted: the harness has no way to count them at this provider")
		}
		return
	}
	if n != want {
		t.Errorf("%s: the provider holds %d accounts for %s, want %d", what, n, ref, want)
	}
}

func create(t testing.TB, f *fixture, items ...provider.CreateItem) []provider.ItemResult {
	t.Helper()
	items = withReferences(items)
	res, err := f.p.CreateAccounts(ctx(t), &provider.CreateRequest{IdempotencyKey: newKey(), Items: items})
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

func wantCapability(t testing.TB, err error) {
	t.Helper()
	if bank.Code(err) != bank.Unimplemented {
		t.Fatalf("err = %v (code %s), want unimplemented", err, bank.Code(err))
	}
	var ce *gateway.CapabilityError
	if !errors.As(err, &ce) || ce.Provider == "" || ce.Capability == "" {
		t.Errorf("err = %v, want a CapabilityError naming provider and capability", err)
	}
}

// wantBankError checks that err is one *bank.Error naming the provider and op.
func wantBankError(t testing.TB, f *fixture, err error, op string) {
	t.Helper()
	var be *bank.Error
	if !errors.As(err, &be) || be.Provider != f.p.Name() || be.Op == "" || (op != "" && be.Op != op) {
		t.Errorf("err = %#v, want a *bank.Error naming provider %s and op %q", err, f.p.Name(), op)
	}
}
