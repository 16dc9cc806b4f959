package main

import (
	"encoding/json"
	"fmt"
	"testing"
)

// A create whose outcome is unknown at a provider without idempotency keys
// (masterfiat: an injected 500; subaccount: a hang) is looked up by the
// gateway's own reference for that tenant's item. Tenant B, using the same
// clientReference as tenant A, ends with an account of its own (or failed),
// never bound to A's: not its holder name, not its IBAN, not its block or
// close.
func TestUnknownCreateNeverBindsAnotherTenantsAccount(t *testing.T) {
	g := startGateway(t)
	tokA, tokB := mintToken(t, "tenant-a", ""), mintToken(t, "tenant-b", "")
	cases := []struct {
		provider, path, fault string
		item                  func(who string) string
	}{
		{"masterfiat", "/api/v1/virtual-accounts", `"action":"error","status":500`, func(who string) string {
			return `{"provider":"masterfiat","currency":"EUR","accountHolderName":"Holder ` + who + `","accountName":"Acct ` + who + `","clientReference":"SHARED-MF-1"}`
		}},
		{"subaccount", "/v2/sub-accounts", `"action":"hang"`, func(who string) string {
			return `{"provider":"subaccount","currency":"NGN","accountHolderName":"Institution - dept-` + who + `","accountName":"dept-` + who + `","clientReference":"SHARED-SA-1"}`
		}},
	}
	type result struct {
		Outcome string `json:"outcome"`
		Account *struct {
			ID                string `json:"id"`
			ProviderAccountID string `json:"providerAccountId"`
			AccountHolderName string `json:"accountHolderName"`
		} `json:"account"`
		Error *struct{ Message string } `json:"error"`
	}
	for _, tc := range cases {
		t.Run(tc.provider, func(t *testing.T) {
			mock := g.mocks[tc.provider]
			a := runOneItem[result](t, g, tokA, tc.item("a"))
			if a.Outcome != "created" || a.Account == nil {
				t.Fatalf("tenant A: %+v", a)
			}
			rule := fmt.Sprintf(`{"method":"POST","path":%q,%s,"times":1}`, tc.path, tc.fault)
			if s := adminDo(t, mock, "POST", "/__admin/faults", rule, nil); s != 201 {
				t.Fatalf("fault: %d", s)
			}
			t.Cleanup(func() { adminDo(t, mock, "DELETE", "/__admin/faults", "", nil) })
			b := runOneItem[result](t, g, tokB, tc.item("b"))
			var rules struct{ Rules []struct{ Fired int } }
			adminDo(t, mock, "GET", "/__admin/faults", "", &rules)
			if len(rules.Rules) != 1 || rules.Rules[0].Fired != 1 {
				t.Fatalf("the fault did not fire: %+v", rules)
			}
			switch {
			case b.Outcome == "created" && b.Account != nil:
				if b.Account.ProviderAccountID == a.Account.ProviderAccountID || b.Account.AccountHolderName == a.Account.AccountHolderName {
					t.Fatalf("tenant B bound to tenant A's account %s: %+v", a.Account.ProviderAccountID, b.Account)
				}
			case b.Outcome == "failed":
			default:
				t.Fatalf("tenant B: %+v, want its own account or failed", b)
			}
			var held struct{ Count int }
			adminDo(t, mock, "GET", "/__admin/accounts", "", &held)
			wantHeld := 1
			if b.Outcome == "created" {
				wantHeld = 2
			}
			if held.Count != wantHeld {
				t.Errorf("provider holds %d accounts, want %d (A's, and B's own if created)", held.Count, wantHeld)
			}
			// B can neither read nor act on A's account.
			want(t, g.do(t, "GET", "/v1/virtual-accounts/"+a.Account.ID, tokB, ""), 404, "B reads A's account")
			if tc.provider == "masterfiat" {
				r := g.do(t, "POST", "/v1/virtual-accounts/"+a.Account.ID+"/block", tokB, "", "Idempotency-Key", "0b2a1c9e-8a4d-4e6f-9b1a-2c3d4e5f6a7b")
				want(t, r, 404, "B blocks A's account")
				var acc struct{ Status string }
				json.Unmarshal(g.do(t, "GET", "/v1/virtual-accounts/"+a.Account.ID+"?refresh=true", tokA, "").body, &acc)
				if acc.Status == "BLOCKED" {
					t.Errorf("A's account was blocked by B")
				}
			}
		})
	}
}
