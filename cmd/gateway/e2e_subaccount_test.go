package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// subaccountMock talks to the embedded subaccount mock's admin API.
type subaccountMock struct{ url string }

func (m subaccountMock) do(t *testing.T, method, path, body string, out any) int {
	t.Helper()
	return adminDo(t, m.url, method, path, body, out)
}

type saResult struct {
	Index   int    `json:"index"`
	Outcome string `json:"outcome"`
	Account *struct {
		ID                string `json:"id"`
		Provider          string `json:"provider"`
		ProviderAccountID string `json:"providerAccountId"`
		Status            string `json:"status"`
		ProviderStatus    string `json:"providerStatus"`
	} `json:"account"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

type saAccount struct {
	ID                string `json:"id"`
	Status            string `json:"status"`
	ProviderStatus    string `json:"providerStatus"`
	ProviderAccountID string `json:"providerAccountId"`
	AccountName       string `json:"accountName"`
	BankDetails       []struct {
		Type          string            `json:"type"`
		BankName      string            `json:"bankName"`
		AccountNumber string            `json:"accountNumber"`
		Country       string            `json:"country"`
		Extra         map[string]string `json:"extra"`
	} `json:"bankDetails"`
	Balance *struct {
		Currency  string `json:"currency"`
		Available string `json:"available"`
	} `json:"balance"`
}

// runSubaccountJob creates one item at the subaccount provider and returns its result.
func runSubaccountJob(t *testing.T, g *gw, tok, item string) saResult {
	t.Helper()
	return runOneItem[saResult](t, g, tok, item)
}

// The subaccount provider through the real binary: settlement, refusals
// naming the field, a duplicate identifier, deposits routed to the
// settlement account, and PENDING_DEPOSIT_ADDRESS → ACTIVE on refresh.
func TestSubaccountEndToEnd(t *testing.T) {
	g := startGateway(t)
	dev := mintToken(t, "dev", "")
	m := subaccountMock{g.mocks["subaccount"]}
	if m.url == "" {
		t.Fatalf("no embedded subaccount mock; mocks = %v", g.mocks)
	}
	var mains struct {
		Accounts []struct{ ID, Currency string }
	}
	m.do(t, "GET", "/__admin/main-accounts", "", &mains)
	settlement := map[string]string{}
	for _, a := range mains.Accounts {
		if settlement[a.Currency] == "" { // the first of a currency is the configured one
			settlement[a.Currency] = a.ID
		}
	}
	if settlement["NGN"] == "" || settlement["USD"] == "" {
		t.Fatalf("main accounts = %+v", mains)
	}

	t.Run("deposit routed to the settlement account", func(t *testing.T) {
		res := runSubaccountJob(t, g, dev, `{"provider":"subaccount","currency":"NGN","accountHolderName":"Institution - ops-ngn",
			"accountName":"Operations","clientReference":"SA-E2E-1","providerParams":{"identifier":"ops-ngn"}}`)
		if res.Outcome != "created" || res.Account == nil || res.Account.Status != "ACTIVE" || res.Account.Provider != "subaccount" {
			t.Fatalf("result = %+v", res)
		}
		var dep struct {
			Data struct {
				AccountID           string `json:"account_id"`
				OnBehalfOfAccountID string `json:"on_behalf_of_account_id"`
			}
		}
		body := `{"account_id":"` + res.Account.ProviderAccountID + `","amount":150000,"sender_name":"Ada"}`
		if st := m.do(t, "POST", "/__admin/deposits", body, &dep); st != 201 || dep.Data.AccountID != settlement["NGN"] || dep.Data.OnBehalfOfAccountID != res.Account.ProviderAccountID {
			t.Fatalf("deposit: %d %+v", st, dep)
		}
		var txs struct {
			Data []struct {
				AccountID           string `json:"account_id"`
				OnBehalfOfAccountID string `json:"on_behalf_of_account_id"`
				Amount              int64  `json:"amount"`
			}
		}
		m.do(t, "GET", "/__admin/accounts/"+settlement["NGN"]+"/transactions", "", &txs)
		if len(txs.Data) != 1 || txs.Data[0].OnBehalfOfAccountID != res.Account.ProviderAccountID || txs.Data[0].Amount != 150000 {
			t.Errorf("settlement account transactions = %+v", txs)
		}
		r := g.do(t, "GET", "/v1/virtual-accounts/"+res.Account.ID+"?refresh=true", dev, "")
		want(t, r, 200, "refresh")
		var acc saAccount
		json.Unmarshal(r.body, &acc)
		if acc.AccountName != "Operations" || acc.Balance == nil || acc.Balance.Available != "0.00" || len(acc.BankDetails) != 1 ||
			acc.BankDetails[0].Type != "NUBAN" || acc.BankDetails[0].Country != "NG" || acc.BankDetails[0].Extra["bankCode"] == "" || len(acc.BankDetails[0].AccountNumber) != 10 {
			t.Errorf("account = %s", r.body)
		}
	})

	t.Run("settlement currency mismatch refused up front", func(t *testing.T) {
		r := g.do(t, "POST", "/v1/virtual-accounts", dev, `{"items":[{"provider":"subaccount","currency":"NGN","accountHolderName":"A",
			"accountName":"mismatch-1","clientReference":"SA-E2E-2","providerParams":{"settlementAccountId":"`+settlement["USD"]+`"}}]}`)
		want(t, r, 400, "mismatch with a configured settlement account")
		if !strings.Contains(string(r.body), `"pointer":"/items/0/providerParams/settlementAccountId"`) {
			t.Errorf("problem = %s", r.body)
		}
	})

	t.Run("settlement account not allowed to the tenant refused up front", func(t *testing.T) {
		var usd struct{ ID string }
		if st := m.do(t, "POST", "/__admin/main-accounts", `{"currency":"USD","name":"Other USD"}`, &usd); st != 201 {
			t.Fatalf("seed main account: %d", st)
		}
		r := g.do(t, "POST", "/v1/virtual-accounts", dev, `{"items":[{"provider":"subaccount","currency":"NGN","accountHolderName":"A",
			"accountName":"mismatch-2","clientReference":"SA-E2E-3","providerParams":{"settlementAccountId":"`+usd.ID+`"}}]}`)
		want(t, r, 403, "a settlement account neither configured nor allowed to the tenant")
		if !strings.Contains(string(r.body), `"account_not_allowed"`) || !strings.Contains(string(r.body), `"pointer":"/items/0/providerParams/settlementAccountId"`) {
			t.Errorf("problem = %s", r.body)
		}
		var count struct{ CountByReference *int }
		m.do(t, "GET", "/__admin/accounts?clientReference=SA-E2E-3", "", &count)
		if count.CountByReference == nil || *count.CountByReference != 0 {
			t.Errorf("refused create left accounts: %+v", count)
		}
	})

	t.Run("duplicate identifier refused", func(t *testing.T) {
		item := `{"provider":"subaccount","currency":"NGN","accountHolderName":"A","accountName":"procurement","clientReference":"SA-E2E-4","providerParams":{"identifier":"procurement-123"}}`
		if res := runSubaccountJob(t, g, dev, item); res.Outcome != "created" {
			t.Fatalf("first = %+v", res)
		}
		res := runSubaccountJob(t, g, dev, item)
		if res.Outcome != "failed" || res.Error == nil || res.Error.Code != "already_exists" || !strings.Contains(res.Error.Message, "/providerParams/identifier") {
			t.Fatalf("second = %+v %+v", res, res.Error)
		}
	})

	t.Run("names may repeat, and are kept as given", func(t *testing.T) {
		item := `{"provider":"subaccount","currency":"NGN","accountHolderName":"Acme Ltd","accountName":"Procurement","clientReference":"SA-E2E-6"}`
		for i := range 2 {
			res := runSubaccountJob(t, g, dev, item)
			if res.Outcome != "created" {
				t.Fatalf("account %d = %+v %+v", i+1, res, res.Error)
			}
			r := g.do(t, "GET", "/v1/virtual-accounts/"+res.Account.ID+"?refresh=true", dev, "")
			want(t, r, 200, "refresh")
			if a := r.json(t); a["accountName"] != "Procurement" || a["accountHolderName"] != "Acme Ltd" {
				t.Errorf("account %d after a refresh = %s", i+1, r.body)
			}
		}
	})

	t.Run("pending deposit address becomes active on refresh", func(t *testing.T) {
		if st := m.do(t, "PUT", "/__admin/config", `{"addressDelay":"700ms"}`, nil); st != 200 {
			t.Fatalf("config: %d", st)
		}
		res := runSubaccountJob(t, g, dev, `{"provider":"subaccount","currency":"NGN","accountHolderName":"A","accountName":"slow-1","clientReference":"SA-E2E-5"}`)
		if res.Outcome != "created" || res.Account.Status != "PENDING" || res.Account.ProviderStatus != "PENDING_DEPOSIT_ADDRESS" {
			t.Fatalf("result = %+v", res.Account)
		}
		r := g.do(t, "GET", "/v1/virtual-accounts/"+res.Account.ID, dev, "")
		want(t, r, 200, "get")
		if r.json(t)["status"] != "PENDING" {
			t.Fatalf("stored = %s", r.body)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			r := g.do(t, "GET", "/v1/virtual-accounts/"+res.Account.ID+"?refresh=true", dev, "")
			want(t, r, 200, "refresh")
			var acc saAccount
			json.Unmarshal(r.body, &acc)
			if acc.Status == "ACTIVE" {
				if acc.ProviderStatus != "ACTIVE" || len(acc.BankDetails) != 1 || acc.BankDetails[0].Type != "NUBAN" {
					t.Errorf("active = %s", r.body)
				}
				break
			}
			if acc.Status != "PENDING" || time.Now().After(deadline) {
				t.Fatalf("refreshed = %s", r.body)
			}
			time.Sleep(100 * time.Millisecond)
		}
		r = g.do(t, "GET", "/v1/virtual-accounts/"+res.Account.ID, dev, "")
		if r.json(t)["status"] != "ACTIVE" {
			t.Errorf("the refresh was not stored: %s", r.body)
		}
	})
}
