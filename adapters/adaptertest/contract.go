package adaptertest

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/vagate/vagate/config"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/provider"
)

// Contract is a provider style in contract mode: its driver, and what the
// behaviour cases need of it that no config block says.
type Contract struct {
	// Driver opens the adapter from its config block.
	Driver provider.Driver
	// Item returns a valid, named create item for the provider the config
	// block points at.
	Item func(clientReference string) provider.CreateItem
	// MissingRef is a well-formed account reference the provider does not hold.
	MissingRef string
	// MissingOperation is a well-formed operation handle the provider does
	// not know (asynchronous providers only).
	MissingOperation string
}

// EnvVar names the environment variable holding the config block of the
// provider style contract mode runs against: VAGATE_CONTRACT_<STYLE>.
func EnvVar(style string) string { return "VAGATE_CONTRACT_" + strings.ToUpper(style) }

// FromEnv returns a maker of contract-mode harnesses for c: each opens the
// adapter through c.Driver from the config block (JSON) in EnvVar(style),
// decoded strictly as the gateway decodes a provider's block (an unknown
// field is an error), and counts accounts through the adapter's own
// lookup by reference, where it has one. It skips t when the variable is
// unset, and fails it instead when VAGATE_CONTRACT_REQUIRED is set (as CI
// sets it, so a renamed style cannot skip silently).
func FromEnv(t *testing.T, c Contract) HarnessMaker {
	t.Helper()
	name := EnvVar(c.Driver.Style)
	block := os.Getenv(name)
	if block == "" {
		if os.Getenv("VAGATE_CONTRACT_REQUIRED") != "" {
			t.Fatalf("%s is not set but VAGATE_CONTRACT_REQUIRED is: contract mode must run for style %s", name, c.Driver.Style)
		}
		t.Skipf("%s is not set: contract mode runs the behaviour cases against the provider whose config block (JSON) it holds, e.g. %s='{\"baseUrl\":\"http://127.0.0.1:9101\",...}' (make contract sets it for the bundled mocks)", name, name)
	}
	var node yaml.Node
	if err := yaml.Unmarshal([]byte(block), &node); err != nil {
		t.Fatalf("%s: not a config block (JSON): %v", name, err)
	}
	return func(testing.TB) Harness {
		return &contractHarness{c: c, decode: func(into any) error {
			if err := config.DecodeStrict(&node, into); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			return nil
		}}
	}
}

// contractHarness is a Harness over a provider given by its config block.
type contractHarness struct {
	c      Contract
	decode func(into any) error
	// counter is a Provider of its own for Count's lookups, opened on first use.
	counter *gateway.Provider
}

func (h *contractHarness) Open(env provider.Env) (provider.Adapter, error) {
	return h.c.Driver.Open(h.decode, env)
}

func (h *contractHarness) Item(clientReference string) provider.CreateItem {
	return h.c.Item(clientReference)
}

func (h *contractHarness) MissingRef() string { return h.c.MissingRef }

func (h *contractHarness) MissingOperation() string { return h.c.MissingOperation }

// Count looks the reference up through the adapter (provider.Finder);
// without one, accounts cannot be counted.
func (h *contractHarness) Count(t testing.TB, ref string) (int, bool) {
	t.Helper()
	if h.counter == nil {
		h.counter = OpenProvider(t, ProviderName+"-counter", h)
	}
	if !h.counter.Supports(provider.CapFindByReference) {
		return 0, false
	}
	accs, err := h.counter.FindByReference(ctx(t), ref)
	if err != nil {
		t.Fatalf("counting accounts with reference %s: %v", ref, err)
	}
	return len(accs), true
}
