package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/vagate/vagate/adapters/subaccount"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/mocks/subaccountmock"
)

// TestTenantMayNameOnlyAllowedSettlementAccounts proves that an item's
// providerParams.settlementAccountId may name only the provider's default
// settlement accounts and those its tenantAccounts allow the tenant: tenant B
// naming tenant A's account, or an account no tenant is allowed, is refused
// with 403 account_not_allowed naming the field, and nothing reaches the
// provider.
func TestTenantMayNameOnlyAllowedSettlementAccounts(t *testing.T) {
	const forA = "5e771e00-0000-4000-8000-0000000000aa"  // allowed to tenant-a only
	const other = "5e771e00-0000-4000-8000-0000000000bb" // allowed to nobody
	mains := append(subaccountmock.DefaultMainAccounts(),
		subaccountmock.MainAccount{ID: forA, Currency: "NGN", Type: subaccountmock.TypeVirtualExternal, Name: "A's NGN"},
		subaccountmock.MainAccount{ID: other, Currency: "NGN", Type: subaccountmock.TypeVirtualExternal, Name: "Other NGN"})
	m := subaccountmock.New(&subaccountmock.Options{MainAccounts: mains})
	var writes atomic.Int32
	ms := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			writes.Add(1)
		}
		m.ServeHTTP(w, r)
	}))
	t.Cleanup(ms.Close)
	def := m.SettlementAccounts()
	a, err := subaccount.Open(subaccount.Config{BaseURL: ms.URL, APIKey: subaccount.Secret(subaccountmock.DefaultAPIKey),
		SettlementAccounts: def}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := gateway.New("subaccount", a, &gateway.Options{TenantAccounts: map[string][]string{"tenant-a": {forA}}})
	if err != nil {
		t.Fatal(err)
	}
	api := newAPIWith(t, memoryState(), apiWiring{extra: []*gateway.Provider{p}})
	item := func(ref, settlement string) string {
		return `{"items":[{"provider":"subaccount","currency":"NGN","accountHolderName":"A","accountName":"B",` +
			`"clientReference":"` + ref + `","providerParams":{"settlementAccountId":"` + settlement + `"}}]}`
	}
	const field = "/items/0/providerParams/settlementAccountId"
	tests := []struct {
		name, tenant, account string
		status                int
	}{
		{"tenant B names tenant A's account", "tenant-b", forA, 403},
		{"tenant B names an account nobody may use", "tenant-b", other, 403},
		{"tenant A names an account nobody may use", "tenant-a", other, 403},
		{"tenant A names its own account", "tenant-a", forA, 202},
		{"tenant B names the default account", "tenant-b", def["NGN"], 202},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := writes.Load()
			resp, body := api.call(t, "POST", "/v1/virtual-accounts", api.token(t, tc.tenant),
				strings.NewReader(item("ACC-"+string(rune('a'+i)), tc.account)))
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if tc.status != 403 {
				return
			}
			var pr problem
			json.Unmarshal(body, &pr)
			if pr.Code != "account_not_allowed" || len(pr.Errors) != 1 || pr.Errors[0].Pointer != field {
				t.Errorf("problem %s, want account_not_allowed naming %s", body, field)
			}
			if n := writes.Load() - before; n != 0 {
				t.Errorf("%d writes reached the provider after the refusal", n)
			}
		})
	}
}
