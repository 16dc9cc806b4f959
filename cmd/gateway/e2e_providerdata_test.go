package main

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// Each provider's own object for an account round-trips through the real
// binary: GET /v1/virtual-accounts/{id}?include=provider serves as
// providerData exactly what the provider holds for the account (every
// member equal to the mock's own view of it), and a plain GET serves none.
func TestProviderDataRoundTrip(t *testing.T) {
	g := startGateway(t)
	dev := mintToken(t, "dev", "")
	tests := []struct {
		style string
		item  string
		// idKey names the provider object's id member.
		idKey string
	}{
		{"batchva", `{"provider":"batchva","currency":"USD","accountHolderName":"Round Trip Ltd","accountName":"Round Trip","clientReference":"RT-BVA"}`, "virtualAccountNumber"},
		{"subaccount", `{"provider":"subaccount","currency":"NGN","accountHolderName":"Round Trip Ltd","accountName":"Round Trip","clientReference":"RT-SA"}`, "id"},
		{"parentprimary", `{"provider":"parentprimary","currency":"GBP","accountHolderName":"Round Trip Ltd","accountName":"Round Trip","clientReference":"RT-PP","customerId":"a2b9649e-df7f-4349-adff-1c57283fef10"}`, "id"},
		{"masterfiat", `{"provider":"masterfiat","currency":"GBP","accountHolderName":"Round Trip Ltd","accountName":"Round Trip","clientReference":"RT-MF"}`, "id"},
	}
	for _, tc := range tests {
		t.Run(tc.style, func(t *testing.T) {
			mockURL := g.mocks[tc.style]
			if mockURL == "" {
				t.Fatalf("no embedded %s mock; mocks = %v", tc.style, g.mocks)
			}
			res := runOneItem[struct {
				Outcome string
				Account struct{ ID, ProviderAccountID string }
			}](t, g, dev, tc.item)
			if res.Outcome != "created" {
				t.Fatalf("result = %+v", res)
			}
			id := res.Account.ID
			// Read it from the provider until it stops moving (masterfiat
			// activates after a delay), then compare.
			var got struct {
				Status       string         `json:"status"`
				ProviderData map[string]any `json:"providerData"`
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				r := g.do(t, "GET", "/v1/virtual-accounts/"+id+"?refresh=true&include=provider", dev, "")
				want(t, r, 200, "get with providerData")
				if err := json.Unmarshal(r.body, &got); err != nil {
					t.Fatal(err)
				}
				if got.Status == "ACTIVE" || time.Now().After(deadline) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if got.Status != "ACTIVE" || len(got.ProviderData) == 0 || got.ProviderData[tc.idKey] != res.Account.ProviderAccountID {
				t.Fatalf("status %s, providerData %v; want ACTIVE and the provider's object for %s", got.Status, got.ProviderData, res.Account.ProviderAccountID)
			}
			var held struct{ Accounts []map[string]any }
			if st := adminDo(t, mockURL, "GET", "/__admin/accounts", "", &held); st != 200 {
				t.Fatalf("mock accounts: %d", st)
			}
			var own map[string]any
			for _, a := range held.Accounts {
				if a[tc.idKey] == res.Account.ProviderAccountID {
					own = a
				}
			}
			if own == nil {
				t.Fatalf("the mock holds no account %s", res.Account.ProviderAccountID)
			}
			for k, v := range got.ProviderData {
				if !reflect.DeepEqual(own[k], v) {
					t.Errorf("providerData.%s = %v, the provider holds %v", k, v, own[k])
				}
			}
			r := g.do(t, "GET", "/v1/virtual-accounts/"+id, dev, "")
			if _, has := r.json(t)["providerData"]; has {
				t.Errorf("providerData served without include=provider: %s", r.body)
			}
		})
	}
}
