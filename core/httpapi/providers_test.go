package httpapi_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/vagate/vagate/adapters/masterfiat"
	"github.com/vagate/vagate/adapters/subaccount"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/provider"
	"github.com/vagate/vagate/openapi"
)

// schema returns a component schema of the served OpenAPI document.
func schema(t *testing.T, name string) *openapi3.Schema {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(openapi.Spec())
	if err != nil {
		t.Fatal(err)
	}
	ref, ok := doc.Components.Schemas[name]
	if !ok {
		t.Fatalf("no schema %s", name)
	}
	return ref.Value
}

// validate checks body against the document's schema name.
func validate(t *testing.T, name string, body []byte) {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	if err := schema(t, name).VisitJSON(v); err != nil {
		t.Errorf("%s does not validate: %v\n%s", name, err, body)
	}
}

// GET /v1/providers lists each provider's capabilities as the enum strings
// the gateway derived from its adapter, in their listing order, and the
// answer is what the document describes.
func TestListProvidersCapabilities(t *testing.T) {
	mf, err := masterfiat.Open(masterfiat.Config{BaseURL: "http://127.0.0.1:1", Token: "t",
		MasterFiatAccounts: map[string]string{"EUR": "fac_1"}}, nil) // no webhookSecret: webhooks off
	if err != nil {
		t.Fatal(err)
	}
	sa, err := subaccount.Open(subaccount.Config{BaseURL: "http://127.0.0.1:1", APIKey: "k",
		SettlementAccounts: map[string]string{"NGN": "5e771e00-0000-4000-8000-0000000000aa"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var extra []*gateway.Provider
	for name, a := range map[string]provider.Adapter{"masterfiat": mf, "subaccount": sa} {
		p, err := gateway.New(name, a, nil)
		if err != nil {
			t.Fatal(err)
		}
		extra = append(extra, p)
	}
	api := newAPIWith(t, memoryState(), apiWiring{extra: extra})
	resp, body := api.call(t, "GET", "/v1/providers", api.token(t, "t1"), nil)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /v1/providers = %d %s", resp.StatusCode, body)
	}
	validate(t, "ProviderList", body)
	var list openapi.ProviderList
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatal(err)
	}
	got := map[string][]openapi.Capability{}
	for _, p := range list.Items {
		got[p.Name] = p.Capabilities
		if p.MaxBatch < 1 {
			t.Errorf("%s: maxBatch %d", p.Name, p.MaxBatch)
		}
	}
	tests := []struct {
		provider string
		want     []openapi.Capability
	}{
		{"batchva", []openapi.Capability{openapi.CapabilityCreate, openapi.CapabilityAsyncCreate, openapi.CapabilityAllocate,
			openapi.CapabilityUnallocated, openapi.CapabilityWebhooks, openapi.CapabilityIdempotentCreate}},
		{"masterfiat", []openapi.Capability{openapi.CapabilityCreate, openapi.CapabilityBlock, openapi.CapabilityClose,
			openapi.CapabilityFindByReference, openapi.CapabilityList}},
		{"subaccount", []openapi.Capability{openapi.CapabilityCreate, openapi.CapabilityFindByReference, openapi.CapabilityList}},
	}
	for _, tc := range tests {
		t.Run(tc.provider, func(t *testing.T) {
			if !slices.Equal(got[tc.provider], tc.want) {
				t.Errorf("capabilities = %v, want %v", got[tc.provider], tc.want)
			}
		})
	}
}

// A capability a provider lacks is 422 capability_not_supported, naming
// the capability in its own member with the enum value, and nothing is sent.
func TestCapabilityNotSupportedProblem(t *testing.T) {
	sa, err := subaccount.Open(subaccount.Config{BaseURL: "http://127.0.0.1:1", APIKey: "k",
		SettlementAccounts: map[string]string{"NGN": "5e771e00-0000-4000-8000-0000000000aa"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := gateway.New("subaccount", sa, nil)
	if err != nil {
		t.Fatal(err)
	}
	api := newAPIWith(t, memoryState(), apiWiring{extra: []*gateway.Provider{p}})
	resp, body := api.call(t, "POST", "/v1/virtual-accounts", api.token(t, "t1"),
		strings.NewReader(`{"items":[{"provider":"subaccount","currency":"NGN","unallocated":true}]}`))
	var pr struct {
		Code       string `json:"code"`
		Capability string `json:"capability"`
	}
	_ = json.Unmarshal(body, &pr)
	if resp.StatusCode != 422 || pr.Code != "capability_not_supported" || pr.Capability != string(openapi.CapabilityUnallocated) {
		t.Fatalf("= %d %s, want 422 capability_not_supported with capability unallocated", resp.StatusCode, body)
	}
	validate(t, "Problem", body)
}
