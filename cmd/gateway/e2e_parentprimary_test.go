package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// ppMock talks to the embedded parentprimary mock's admin API.
type ppMock struct{ url string }

func (m ppMock) do(t *testing.T, method, path, body string, out any) int {
	t.Helper()
	return adminDo(t, m.url, method, path, body, out)
}

type ppAdminAccounts struct {
	Count    int `json:"count"`
	Accounts []struct {
		ID       string `json:"id"`
		State    string `json:"state"`
		Deletion *struct {
			IdempotencyKey string  `json:"idempotencyKey"`
			RequestedBy    string  `json:"requestedBy"`
			Reason         string  `json:"reason"`
			Notes          *string `json:"notes"`
		} `json:"deletion"`
	} `json:"accounts"`
}

// accounts lists the mock's virtual accounts with a client reference.
func (m ppMock) accounts(t *testing.T, ref string) ppAdminAccounts {
	t.Helper()
	var out ppAdminAccounts
	if s := m.do(t, "GET", "/__admin/accounts?clientReference="+ref, "", &out); s != 200 {
		t.Fatalf("admin accounts: %d", s)
	}
	return out
}

type ppResult struct {
	Outcome string `json:"outcome"`
	Account *struct {
		ID                string `json:"id"`
		Provider          string `json:"provider"`
		ProviderAccountID string `json:"providerAccountId"`
		Status            string `json:"status"`
		ProviderStatus    string `json:"providerStatus"`
		ClientReference   string `json:"clientReference"`
		CustomerID        string `json:"customerId"`
	} `json:"account"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// ppCreate runs a one-item job and returns its result.
func ppCreate(t *testing.T, g *gw, tok, item string) ppResult {
	t.Helper()
	return runOneItem[ppResult](t, g, tok, item)
}

func ppItem(ref string) string {
	return `{"provider":"parentprimary","currency":"GBP","accountHolderName":"Jane Smith","accountName":"Jane Smith GBP",` +
		`"clientReference":"` + ref + `","customerId":"a2b9649e-df7f-4349-adff-1c57283fef10"}`
}

// Create, get and close an account at the parentprimary provider through the
// real binary; a close resent with its Idempotency-Key replays; a create
// whose response was lost is resent and yields one account; signing failures
// are clear provider problems.
func TestEndToEndParentPrimary(t *testing.T) {
	g := startGateway(t)
	mock := ppMock{g.mocks["parentprimary"]}
	if mock.url == "" {
		t.Fatalf("no embedded parentprimary mock: %v", g.mocks)
	}
	dev := mintToken(t, "dev", "")

	res := ppCreate(t, g, dev, ppItem("PP-E2E-1"))
	if res.Outcome != "created" || res.Account == nil || res.Account.Provider != "parentprimary" ||
		res.Account.Status != "ACTIVE" || res.Account.ProviderStatus != "READY" || res.Account.ClientReference != "PP-E2E-1" {
		t.Fatalf("create result = %+v %+v", res, res.Account)
	}
	id := res.Account.ID

	t.Run("get", func(t *testing.T) {
		r := g.do(t, "GET", "/v1/virtual-accounts/"+id+"?refresh=true", dev, "")
		want(t, r, 200, "get")
		a := r.json(t)
		if a["status"] != "ACTIVE" || a["accountName"] != "Jane Smith GBP" || a["customerId"] != "a2b9649e-df7f-4349-adff-1c57283fef10" {
			t.Errorf("account = %s", r.body)
		}
	})

	t.Run("close, and close again", func(t *testing.T) {
		key := uuid.NewString()
		body := `{"reason":"Customer left","notes":"ticket 42"}`
		r := g.do(t, "DELETE", "/v1/virtual-accounts/"+id, dev, body, "Idempotency-Key", key)
		want(t, r, 200, "close")
		if a := r.json(t); a["status"] != "CLOSED" || a["providerStatus"] != "DELETED" || a["accountName"] != "Jane Smith GBP" {
			t.Fatalf("closed = %s", r.body)
		}
		accs := mock.accounts(t, "PP-E2E-1")
		if accs.Count != 1 || accs.Accounts[0].State != "DELETED" {
			t.Fatalf("mock holds %+v", accs)
		}
		d := accs.Accounts[0].Deletion
		if d == nil || d.Reason != "Customer left" || d.RequestedBy != "dev" || d.Notes == nil || *d.Notes != "ticket 42" {
			t.Fatalf("deletion = %+v, want the client's reason and notes, requested by the token subject", d)
		}
		// The provider's delete key is the gateway's, one per account, never
		// the client's Idempotency-Key (which the gateway answers itself).
		if perAccount := uuid.NewSHA1(uuid.NameSpaceURL, []byte("vagate:close:dev:"+id)).String(); d.IdempotencyKey != perAccount || d.IdempotencyKey == key {
			t.Errorf("delete idempotencyKey = %s, want the per-account %s (client's key %s)", d.IdempotencyKey, perAccount, key)
		}
		again := g.do(t, "DELETE", "/v1/virtual-accounts/"+id, dev, body, "Idempotency-Key", key)
		want(t, again, 200, "close replay")
		if again.header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(again.body, r.body) {
			t.Errorf("replay: %v %s", again.header, again.body)
		}
		fresh := g.do(t, "DELETE", "/v1/virtual-accounts/"+id, dev, `{"reason":"again"}`, "Idempotency-Key", uuid.NewString())
		want(t, fresh, 409, "close a closed account with a new key")
		if p := fresh.json(t); p["code"] != "failed_precondition" {
			t.Errorf("closed again = %s", fresh.body)
		}
		if after := mock.accounts(t, "PP-E2E-1"); after.Accounts[0].Deletion.IdempotencyKey != d.IdempotencyKey || after.Accounts[0].Deletion.Reason != "Customer left" {
			t.Errorf("a second close changed the deletion: %+v", after.Accounts[0].Deletion)
		}
	})

	t.Run("lost create response is resent once", func(t *testing.T) {
		rule := `{"method":"POST","path":"/v1/partner/accounts/virtual","action":"drop_response","times":1}`
		if s := mock.do(t, "POST", "/__admin/faults", rule, nil); s != 201 {
			t.Fatalf("fault: %d", s)
		}
		res := ppCreate(t, g, dev, ppItem("PP-E2E-LOST"))
		if res.Outcome != "created" || res.Account == nil {
			t.Fatalf("result = %+v", res)
		}
		var rules struct{ Rules []struct{ Fired int } }
		mock.do(t, "GET", "/__admin/faults", "", &rules)
		if len(rules.Rules) != 1 || rules.Rules[0].Fired != 1 {
			t.Errorf("the fault did not fire once: %+v", rules)
		}
		if n := mock.accounts(t, "PP-E2E-LOST").Count; n != 1 {
			t.Errorf("mock holds %d accounts for PP-E2E-LOST, want 1", n)
		}
		mock.do(t, "DELETE", "/__admin/faults", "", nil)
	})

	t.Run("signing failures are provider auth problems", func(t *testing.T) {
		acc := ppCreate(t, g, dev, ppItem("PP-E2E-SIG"))
		if acc.Account == nil {
			t.Fatalf("create: %+v", acc)
		}
		partner := "2ecf0e23-3215-462c-97c4-9e5a147656d7"
		for _, tc := range []struct{ name, path, method, set, undo string }{
			{"stale date", "/__admin/config", "PUT", `{"clockOffset":"1h"}`, `{"clockOffset":"0s"}`},
			{"bad signature", "/__admin/partners/" + partner, "PATCH", `{"signingSecret":"rotated"}`, `{"signingSecret":"vagate-pp-signing-secret"}`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if s := mock.do(t, tc.method, tc.path, tc.set, nil); s >= 300 {
					t.Fatalf("admin: %d", s)
				}
				defer mock.do(t, tc.method, tc.path, tc.undo, nil)
				r := g.do(t, "GET", "/v1/virtual-accounts/"+acc.Account.ID+"?refresh=true", dev, "")
				want(t, r, 502, "refresh with refused signature")
				if p := r.json(t); p["code"] != "provider_auth_failed" || !strings.Contains(p["detail"].(string), "parentprimary") {
					t.Errorf("problem = %s", r.body)
				}
				res := ppCreate(t, g, dev, ppItem("PP-E2E-SIG-"+strings.ReplaceAll(tc.name, " ", "-")))
				if res.Outcome != "failed" || res.Error == nil || res.Error.Code != "unauthenticated" {
					t.Errorf("create with refused signature = %+v %+v", res, res.Error)
				}
			})
		}
		r := g.do(t, "GET", "/v1/virtual-accounts/"+acc.Account.ID+"?refresh=true", dev, "")
		want(t, r, 200, "refresh once signing works again")
	})

	t.Run("bad provider fields", func(t *testing.T) {
		r := g.do(t, "POST", "/v1/virtual-accounts", dev,
			`{"items":[{"provider":"parentprimary","currency":"GBP","accountHolderName":"A","accountName":"B","customerId":"a2b9649e-df7f-4349-adff-1c57283fef10","providerParams":{"parentAccountId":"nope","colour":"red"}}]}`)
		want(t, r, 400, "bad providerParams")
		for _, p := range []string{"/items/0/providerParams/parentAccountId", "/items/0/providerParams/colour"} {
			if !strings.Contains(string(r.body), `"`+p+`"`) {
				t.Errorf("problem does not name %s: %s", p, r.body)
			}
		}
		// A customerId the provider cannot take is refused before anything is sent.
		bad := g.do(t, "POST", "/v1/virtual-accounts", dev, `{"items":[`+
			strings.Replace(ppItem("PP-E2E-CID"), "a2b9649e-df7f-4349-adff-1c57283fef10", "customer-42", 1)+`]}`)
		want(t, bad, 400, "customerId not a UUID")
		if !strings.Contains(string(bad.body), `"/items/0/customerId"`) {
			t.Errorf("problem does not name /items/0/customerId: %s", bad.body)
		}
		if n := mock.accounts(t, "PP-E2E-CID").Count; n != 0 {
			t.Errorf("a refused item reached the mock")
		}
	})
}
