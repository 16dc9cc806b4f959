package examplebank_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vagate/vagate/adapters/adaptertest"
	"github.com/vagate/vagate/core/provider"
	"github.com/vagate/vagate/examples/examplebank"
	"github.com/vagate/vagate/examples/examplebank/examplebankmock"
)

type harness struct {
	adaptertest.MockHarness
	cfg examplebank.Config
}

// routes are the mock routes of the operations the suite faults.
var routes = map[adaptertest.Op]adaptertest.Route{
	adaptertest.OpCreate: {Method: http.MethodPost, Path: "/v1/accounts"},
	adaptertest.OpGet:    {Method: http.MethodGet, Path: "/v1/accounts/*"},
}

// newHarness is a fresh mock and the config of an adapter pointed at it; the
// suite opens the adapter through the production client.
func newHarness(t testing.TB) adaptertest.Harness {
	m := examplebankmock.New(&examplebankmock.Options{Seed: 1})
	srv := httptest.NewServer(m)
	t.Cleanup(func() { srv.Close(); m.Close() })
	cfg := examplebank.Config{BaseURL: srv.URL, APIKey: examplebankmock.DefaultAPIKey}
	return &harness{MockHarness: adaptertest.MockHarness{Mock: m, Routes: routes}, cfg: cfg}
}

func (h *harness) Open(env provider.Env) (provider.Adapter, error) {
	return examplebank.Open(h.cfg, &examplebank.Options{HTTPClient: env.HTTPClient})
}

func (h *harness) Item(ref string) provider.CreateItem {
	return provider.CreateItem{Currency: "EUR", AccountHolderName: "Jane Smith", AccountName: "Jane " + ref, ClientReference: ref}
}

func (h *harness) MissingRef() string { return "acc_0000000000000000" }

// TestConformance runs the whole suite through the production client.
func TestConformance(t *testing.T) {
	adaptertest.RunConformanceTests(t, newHarness)
}

func BenchmarkConformance(b *testing.B) {
	adaptertest.RunBenchmarks(b, newHarness)
}

// A config block is checked at start-up and the first bad field named.
func TestOpenValidatesConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  examplebank.Config
		want string
	}{
		{"no baseUrl", examplebank.Config{APIKey: "k"}, "baseUrl"},
		{"relative baseUrl", examplebank.Config{BaseURL: "/api", APIKey: "k"}, "baseUrl"},
		{"no apiKey", examplebank.Config{BaseURL: "https://bank.test"}, "apiKey"},
		{"bad currency", examplebank.Config{BaseURL: "https://bank.test", APIKey: "k", Currencies: []string{"eur"}}, "currencies"},
		{"good", examplebank.Config{BaseURL: "https://bank.test", APIKey: "k"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := examplebank.Open(tc.cfg, nil)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Open = %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

// A resent request sends the same keys, so the provider creates each item
// once; another request sends other keys.
func TestItemKey(t *testing.T) {
	const req = "6f1c2b1e-8f0a-4a57-9d0e-2f4f0a0b7c11"
	tests := []struct {
		name       string
		a, b       func() string
		wantSameAs bool
	}{
		{"same request, same item", func() string { return examplebank.ItemKey(req, 0) }, func() string { return examplebank.ItemKey(req, 0) }, true},
		{"same request, other item", func() string { return examplebank.ItemKey(req, 0) }, func() string { return examplebank.ItemKey(req, 1) }, false},
		{"other request", func() string { return examplebank.ItemKey(req, 0) },
			func() string { return examplebank.ItemKey("0b7c11f0-8f0a-4a57-9d0e-2f4f0a6f1c2b", 0) }, false},
		{"no request key: fresh each time", func() string { return examplebank.ItemKey("", 0) }, func() string { return examplebank.ItemKey("", 0) }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if a, b := tc.a(), tc.b(); (a == b) != tc.wantSameAs || len(a) != 36 {
				t.Errorf("keys %s and %s: same = %v, want %v", a, b, a == b, tc.wantSameAs)
			}
		})
	}
}

// The driver decodes the block with the decode it is given, and its error
// stops the open.
func TestDriver(t *testing.T) {
	errBlock := errors.New("unknown field iban")
	if _, err := examplebank.Driver.Open(func(any) error { return errBlock }, provider.Env{}); !errors.Is(err, errBlock) {
		t.Errorf("Open with a bad block = %v, want its decode error", err)
	}
	a, err := examplebank.Driver.Open(func(into any) error {
		*into.(*examplebank.Config) = examplebank.Config{BaseURL: "https://bank.test", APIKey: "k", Currencies: []string{"GBP"}}
		return nil
	}, provider.Env{HTTPClient: http.DefaultClient})
	if err != nil || examplebank.Driver.Style != examplebank.Style || a.Capabilities().Currencies[0] != "GBP" {
		t.Errorf("Open = %v, %v; want the block's config", a, err)
	}
}
