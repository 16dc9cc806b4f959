package gateway_test

import (
	"testing"

	"github.com/vagate/vagate/adapters/masterfiat"
	"github.com/vagate/vagate/adapters/parentprimary"
	"github.com/vagate/vagate/adapters/subaccount"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/provider"
)

// TestCheckAccountsAllowsDefaultsAndTenantAccountsOnly proves, for every
// adapter whose providerParams name a provider-side money account, that a
// tenant may name the accounts of the adapter's config and those its
// TenantAccounts list, and that any other is reported at
// /items/<i>/providerParams/<param>.
func TestCheckAccountsAllowsDefaultsAndTenantAccountsOnly(t *testing.T) {
	const base = "https://provider.test"
	sub, err := subaccount.Open(subaccount.Config{BaseURL: base, APIKey: "k",
		SettlementAccounts: map[string]string{"NGN": "5e771e00-0000-4000-8000-00000000a9a1"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	mf, err := masterfiat.Open(masterfiat.Config{BaseURL: base, Token: "t",
		MasterFiatAccounts: map[string]string{"GBP": "fac_default"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pp, err := parentprimary.Open(parentprimary.Config{BaseURL: base, APIToken: "t", SigningSecret: "s",
		ParentAccounts: map[string]string{"GBP": "e0cab2dd-739f-43de-b131-3e423e935bf1"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		a        provider.Adapter
		param    string
		def      string
		currency string
		extra    string
	}{
		{"subaccount", sub, subaccount.ParamSettlementAccountID, "5e771e00-0000-4000-8000-00000000a9a1", "NGN", "5e771e00-0000-4000-8000-0000000000aa"},
		{"masterfiat", mf, masterfiat.ParamMasterFiatAccountID, "fac_default", "GBP", "fac_tenantA"},
		{"parentprimary", pp, parentprimary.ParamParentAccountID, "e0cab2dd-739f-43de-b131-3e423e935bf1", "GBP", "0d1c2b3a-4f5e-4d6c-8b7a-9f8e7d6c5b4a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := gateway.New(tc.name, tc.a, &gateway.Options{TenantAccounts: map[string][]string{"tenant-a": {tc.extra}}})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				tenant, account string
				allowed         bool
			}{
				{"tenant-a", tc.def, true},
				{"tenant-b", tc.def, true},
				{"tenant-a", tc.extra, true},
				{"tenant-b", tc.extra, false},
				{"tenant-a", "unknown-account", false},
				{"", tc.extra, false},
			} {
				it := &provider.CreateItem{Currency: tc.currency, Params: map[string]string{tc.param: c.account}}
				fs := p.CheckAccounts(c.tenant, "/items/2", it)
				if c.allowed && len(fs) != 0 {
					t.Errorf("%s naming %s: refused %v", c.tenant, c.account, fs)
				}
				if !c.allowed && (len(fs) != 1 || fs[0].Pointer != "/items/2/providerParams/"+tc.param) {
					t.Errorf("%s naming %s: %v, want one refusal at /items/2/providerParams/%s", c.tenant, c.account, fs, tc.param)
				}
			}
			if fs := p.CheckAccounts("tenant-b", "/items/0", &provider.CreateItem{Currency: tc.currency}); len(fs) != 0 {
				t.Errorf("an item naming no account was refused: %v", fs)
			}
		})
	}
}
