package subaccountmock_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vagate/vagate/mocks/fault"
	"github.com/vagate/vagate/mocks/subaccountmock"
)

var (
	mainNGN = subaccountmock.DefaultMainAccounts()[0].ID
	mainUSD = subaccountmock.DefaultMainAccounts()[1].ID
)

const customerID = "abcdef12-3456-7890-abcd-ef1234567890"

type reply struct {
	status int
	body   []byte
}

func (r reply) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("body %s: %v", r.body, err)
	}
}

type account struct {
	ID                string `json:"id"`
	State             string `json:"state"`
	CreatedDate       string `json:"created_date"`
	UpdatedDate       string `json:"updated_date"`
	Currency          string `json:"currency"`
	CurrencyPrecision int    `json:"currency_precision"`
	Type              string `json:"type"`
	Name              string `json:"name"`
	Balance           struct {
		Available int64 `json:"available"`
		Pending   int64 `json:"pending"`
	} `json:"balance"`
	DepositAddresses []struct {
		Type string            `json:"type"`
		Data map[string]string `json:"data"`
	} `json:"deposit_addresses"`
	SettlementAccountID *string `json:"settlement_account_id"`
	ParentAccountID     *string `json:"parent_account_id"`
	ClientReference     *string `json:"client_reference"`
}

type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Details []struct {
			Field   string `json:"field"`
			Message string `json:"message"`
		} `json:"details"`
	} `json:"error"`
}

func newMock(t *testing.T, opts *subaccountmock.Options) *subaccountmock.Mock {
	t.Helper()
	m := subaccountmock.New(opts)
	t.Cleanup(m.Close)
	return m
}

func call(t *testing.T, h http.Handler, method, path, body string, hdr ...string) reply {
	t.Helper()
	var rd *strings.Reader
	if body != "" {
		rd = strings.NewReader(body)
	} else {
		rd = strings.NewReader("")
	}
	req := httptest.NewRequestWithContext(t.Context(), method, path, rd)
	req.Header.Set("Authorization", "Bearer "+subaccountmock.DefaultAPIKey)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return reply{rec.Code, rec.Body.Bytes()}
}

func create(t *testing.T, m *subaccountmock.Mock, body string) account {
	t.Helper()
	r := call(t, m, "POST", "/v2/sub-accounts", body)
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var env struct{ Data account }
	r.decode(t, &env)
	return env.Data
}

func institution(identifier, ref, settlement string) string {
	b, _ := json.Marshal(map[string]string{"classification": "institution", "identifier": identifier,
		"currency": "NGN", "client_reference": ref, "settlement_account_id": settlement})
	return string(b)
}

// Where the document is silent the mock answers its documented choices:
// name and account_name from the identifier or the customer id, and the
// first main account of the currency as parent_account_id. (The document's
// own examples, verbatim, are in seeds_test.go.)
func TestAnswerChoices(t *testing.T) {
	m := newMock(t, &subaccountmock.Options{Seed: 1})
	tests := []struct {
		name, body, wantName, wantHolder string
		settlement                       string
	}{
		{"institution", `{"classification":"institution","identifier":"procurement-123","currency":"NGN","client_reference":"proc-123","settlement_account_id":"` + mainNGN + `"}`,
			"procurement-123", "Institution - procurement-123", mainNGN},
		{"customer", `{"classification":"customer","customer_id":"` + customerID + `","currency":"NGN","client_reference":"customer-456"}`,
			"Customer abcdef12", "Customer - Customer abcdef12", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, m, "POST", "/v2/sub-accounts", tc.body)
			if r.status != http.StatusCreated {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			var raw struct{ Data map[string]json.RawMessage }
			r.decode(t, &raw)
			for _, k := range []string{"id", "state", "created_date", "updated_date", "currency", "currency_precision", "type", "name",
				"balance", "deposit_addresses", "settlement_account_id", "parent_account_id", "client_reference"} {
				if _, ok := raw.Data[k]; !ok {
					t.Errorf("response lacks %s: %s", k, r.body)
				}
			}
			var env struct{ Data account }
			r.decode(t, &env)
			a := env.Data
			if a.State != subaccountmock.StateActive || a.Currency != "NGN" || a.CurrencyPrecision != 2 || a.Type != "VIRTUAL_EXTERNAL" || a.Name != tc.wantName {
				t.Errorf("account = %+v", a)
			}
			if _, err := time.Parse(time.RFC3339, a.CreatedDate); err != nil {
				t.Errorf("created_date %q: %v", a.CreatedDate, err)
			}
			if len(a.DepositAddresses) != 1 || a.DepositAddresses[0].Type != "NUBAN" || a.DepositAddresses[0].Data["account_name"] != tc.wantHolder ||
				len(a.DepositAddresses[0].Data["account_number"]) != 10 || a.DepositAddresses[0].Data["bank_name"] != subaccountmock.BankName ||
				a.DepositAddresses[0].Data["bank_code"] == "" || a.DepositAddresses[0].Data["nip_code"] == "" {
				t.Errorf("deposit addresses = %+v", a.DepositAddresses)
			}
			if (a.SettlementAccountID == nil) != (tc.settlement == "") || (a.SettlementAccountID != nil && *a.SettlementAccountID != tc.settlement) {
				t.Errorf("settlement_account_id = %v, want %q", a.SettlementAccountID, tc.settlement)
			}
			if a.ParentAccountID == nil || *a.ParentAccountID != mainNGN {
				t.Errorf("parent_account_id = %v, want %s", a.ParentAccountID, mainNGN)
			}
		})
	}
}

// Every refusal answers the documented status, code and field.
func TestCreateRefusals(t *testing.T) {
	m := newMock(t, nil)
	other, err := m.AddMainAccount(subaccountmock.MainAccount{Currency: "NGN", Type: "VIRTUAL_INTERNAL"})
	if err != nil {
		t.Fatal(err)
	}
	existing := create(t, m, institution("taken", "R-0", ""))
	tests := []struct {
		name   string
		body   string
		hdr    []string
		status int
		code   string
		fields []string
	}{
		{"no key", institution("a", "", ""), []string{"Authorization", ""}, 401, "UNAUTHORIZED", nil},
		{"wrong key", institution("a", "", ""), []string{"Authorization", "Bearer nope"}, 401, "UNAUTHORIZED", nil},
		{"media type", institution("a", "", ""), []string{"Content-Type", "text/plain"}, 415, "UNSUPPORTED_MEDIA_TYPE", nil},
		{"not an object", `[1]`, nil, 400, "VALIDATION_ERROR", []string{""}},
		{"empty object", `{}`, nil, 400, "VALIDATION_ERROR", []string{"classification", "currency"}},
		{"bad classification", `{"classification":"person","currency":"NGN"}`, nil, 400, "VALIDATION_ERROR", []string{"classification"}},
		{"institution without identifier", `{"classification":"institution","currency":"NGN"}`, nil, 400, "VALIDATION_ERROR", []string{"identifier"}},
		{"identifier over 64", institution(strings.Repeat("é", 65), "", ""), nil, 400, "VALIDATION_ERROR", []string{"identifier"}},
		{"customer_id on institution", `{"classification":"institution","identifier":"x","customer_id":"` + customerID + `","currency":"NGN"}`, nil, 400, "VALIDATION_ERROR", []string{"customer_id"}},
		{"customer without id", `{"classification":"customer","currency":"NGN"}`, nil, 400, "VALIDATION_ERROR", []string{"customer_id"}},
		{"customer id not uuid", `{"classification":"customer","customer_id":"123","currency":"NGN"}`, nil, 400, "VALIDATION_ERROR", []string{"customer_id"}},
		{"identifier on customer", `{"classification":"customer","customer_id":"` + customerID + `","identifier":"x","currency":"NGN"}`, nil, 400, "VALIDATION_ERROR", []string{"identifier"}},
		{"currency lower case", `{"classification":"institution","identifier":"x","currency":"ngn"}`, nil, 400, "VALIDATION_ERROR", []string{"currency"}},
		{"currency unsupported", `{"classification":"institution","identifier":"x","currency":"JPY"}`, nil, 400, "VALIDATION_ERROR", []string{"currency"}},
		{"client_reference over 64", institution("x", strings.Repeat("r", 65), ""), nil, 400, "VALIDATION_ERROR", []string{"client_reference"}},
		{"settlement not uuid", institution("x", "", "main"), nil, 400, "VALIDATION_ERROR", []string{"settlement_account_id"}},
		{"wrong type member", `{"classification":"institution","identifier":7,"currency":"NGN"}`, nil, 400, "VALIDATION_ERROR", []string{"identifier"}},
		{"unknown member", `{"classification":"institution","identifier":"x","currency":"NGN","name":"n"}`, nil, 400, "VALIDATION_ERROR", []string{"name"}},
		{"settlement unknown", institution("x", "", "00000000-0000-4000-8000-000000000000"), nil, 422, "SETTLEMENT_ACCOUNT_INVALID", []string{"settlement_account_id"}},
		{"settlement currency mismatch", institution("x", "", mainUSD), nil, 422, "SETTLEMENT_ACCOUNT_INVALID", []string{"settlement_account_id"}},
		{"settlement not virtual external", institution("x", "", other.ID), nil, 422, "SETTLEMENT_ACCOUNT_INVALID", []string{"settlement_account_id"}},
		{"settlement is a sub-account", institution("x", "", existing.ID), nil, 422, "SETTLEMENT_ACCOUNT_INVALID", []string{"settlement_account_id"}},
		{"duplicate identifier", institution("taken", "R-1", ""), nil, 409, "DUPLICATE_IDENTIFIER", []string{"identifier"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := m.AccountCount()
			r := call(t, m, "POST", "/v2/sub-accounts", tc.body, tc.hdr...)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			var e apiError
			r.decode(t, &e)
			if e.Error.Code != tc.code || e.Error.Message == "" {
				t.Errorf("error = %+v, want code %s", e.Error, tc.code)
			}
			var got []string
			for _, d := range e.Error.Details {
				got = append(got, d.Field)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.fields) && !(len(got) == 0 && len(tc.fields) == 0) {
				t.Errorf("fields = %q, want %q", got, tc.fields)
			}
			if m.AccountCount() != before {
				t.Errorf("a refused create left an account")
			}
		})
	}
	t.Run("mismatch names both currencies", func(t *testing.T) {
		r := call(t, m, "POST", "/v2/sub-accounts", institution("y", "", mainUSD))
		if !bytes.Contains(r.body, []byte("USD")) || !bytes.Contains(r.body, []byte("NGN")) {
			t.Errorf("body = %s", r.body)
		}
	})
}

// With an address delay, a sub-account starts PENDING_DEPOSIT_ADDRESS without
// an address and reads ACTIVE with one once the delay has passed.
func TestPendingDepositAddress(t *testing.T) {
	m := newMock(t, nil)
	r := call(t, m, "PUT", "/__admin/config", `{"addressDelay":"60ms"}`)
	if r.status != 200 || m.Config().AddressDelay != 60*time.Millisecond {
		t.Fatalf("config: %d %s", r.status, r.body)
	}
	a := create(t, m, institution("slow", "P-1", ""))
	if a.State != subaccountmock.StatePendingDepositAddress || len(a.DepositAddresses) != 0 {
		t.Fatalf("created = %+v", a)
	}
	if _, err := m.Deposit(subaccountmock.Deposit{AccountID: a.ID, Amount: 1}); err == nil {
		t.Errorf("deposit to a sub-account without an address was accepted")
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		var env struct{ Data account }
		r := call(t, m, "GET", "/v2/sub-accounts/"+a.ID, "")
		r.decode(t, &env)
		if env.Data.State == subaccountmock.StateActive {
			if len(env.Data.DepositAddresses) != 1 {
				t.Errorf("ACTIVE without an address: %s", r.body)
			}
			break
		}
		if env.Data.State != subaccountmock.StatePendingDepositAddress || time.Now().After(deadline) {
			t.Fatalf("state %s after %s", env.Data.State, time.Since(deadline.Add(-2*time.Second)))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if b := create(t, m, institution("slow-2", "P-2", "")); b.State != subaccountmock.StatePendingDepositAddress {
		t.Errorf("later create = %s, want the delay to hold", b.State)
	}
	m.SetConfig(subaccountmock.Config{})
	if c := create(t, m, institution("fast", "P-3", "")); c.State != subaccountmock.StateActive {
		t.Errorf("after clearing the delay: %s", c.State)
	}
}

// Deposits to a sub-account with a settlement account land on the settlement
// account and name the sub-account; without one they credit the sub-account.
func TestDeposits(t *testing.T) {
	m := newMock(t, nil)
	routed := create(t, m, institution("routed", "D-1", mainNGN))
	own := create(t, m, institution("own", "D-2", ""))
	tests := []struct {
		name        string
		account     string
		pending     bool
		wantAccount string
		wantBehalf  string
	}{
		{"routed", routed.ID, false, mainNGN, routed.ID},
		{"routed pending", routed.ID, true, mainNGN, routed.ID},
		{"own", own.ID, false, own.ID, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := fmt.Sprintf(`{"account_id":%q,"amount":150000,"pending":%t,"sender_name":"Ada"}`, tc.account, tc.pending)
			r := call(t, m, "POST", "/__admin/deposits", body)
			if r.status != 201 {
				t.Fatalf("deposit: %d %s", r.status, r.body)
			}
			var env struct{ Data subaccountmock.Payment }
			r.decode(t, &env)
			p := env.Data
			if p.AccountID != tc.wantAccount || p.OnBehalfOfAccountID != tc.wantBehalf || p.Amount != 150000 || p.Currency != "NGN" {
				t.Errorf("payment = %+v", p)
			}
			r = call(t, m, "GET", "/__admin/accounts/"+tc.wantAccount+"/transactions", "")
			if r.status != 200 || !bytes.Contains(r.body, []byte(p.ID)) {
				t.Errorf("transactions of %s: %d %s", tc.wantAccount, r.status, r.body)
			}
			if tc.wantBehalf != "" && !bytes.Contains(r.body, []byte(`"on_behalf_of_account_id":"`+tc.wantBehalf+`"`)) {
				t.Errorf("transactions lack on_behalf_of_account_id: %s", r.body)
			}
		})
	}
	for _, a := range m.MainAccounts() {
		if a.ID == mainNGN && (a.Available != 150000 || a.Pending != 150000) {
			t.Errorf("settlement account balances = %d/%d, want 150000/150000", a.Available, a.Pending)
		}
	}
	var env struct{ Data account }
	call(t, m, "GET", "/v2/sub-accounts/"+routed.ID, "").decode(t, &env)
	if env.Data.Balance.Available != 0 {
		t.Errorf("routed sub-account balance = %d, want 0", env.Data.Balance.Available)
	}
	call(t, m, "GET", "/v2/sub-accounts/"+own.ID, "").decode(t, &env)
	if env.Data.Balance.Available != 150000 {
		t.Errorf("own sub-account balance = %d, want 150000", env.Data.Balance.Available)
	}
	for _, tc := range []struct{ body, want string }{
		{`{"account_id":"nope","amount":1}`, "404"},
		{`{"account_id":"` + own.ID + `","amount":0}`, "400"},
		{`{"account_id":"` + own.ID + `","amount":1,"extra":1}`, "400"},
	} {
		if r := call(t, m, "POST", "/__admin/deposits", tc.body); fmt.Sprint(r.status) != tc.want {
			t.Errorf("deposit %s: %d, want %s", tc.body, r.status, tc.want)
		}
	}
}

// Reads: one account, 404, and the list with its filter and pages.
func TestReads(t *testing.T) {
	m := newMock(t, nil)
	var ids []string
	for i := range 5 {
		ref := "L-A"
		if i%2 == 1 {
			ref = "L-B"
		}
		ids = append(ids, create(t, m, institution(fmt.Sprint("l-", i), ref, "")).ID)
	}
	tests := []struct {
		name   string
		query  string
		status int
		want   []string
		total  int
	}{
		{"all", "", 200, ids, 5},
		{"by reference", "?client_reference=L-A", 200, []string{ids[0], ids[2], ids[4]}, 3},
		{"page 2", "?client_reference=L-A&per_page=2&page=2", 200, []string{ids[4]}, 3},
		{"past the end", "?page=9", 200, nil, 5},
		{"huge page", "?page=9223372036854775807&per_page=100", 200, nil, 5},
		{"unused reference", "?client_reference=none", 200, nil, 0},
		{"bad per_page", "?per_page=101", 400, nil, 0},
		{"bad page", "?page=0", 400, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, m, "GET", "/v2/sub-accounts"+tc.query, "")
			if r.status != tc.status {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if tc.status != 200 {
				return
			}
			var l struct {
				Data []account
				Meta struct{ Total int }
			}
			r.decode(t, &l)
			var got []string
			for _, a := range l.Data {
				got = append(got, a.ID)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) || l.Meta.Total != tc.total {
				t.Errorf("list = %v (total %d), want %v (%d)", got, l.Meta.Total, tc.want, tc.total)
			}
		})
	}
	if r := call(t, m, "GET", "/v2/sub-accounts/"+ids[0], ""); r.status != 200 {
		t.Errorf("get: %d", r.status)
	}
	for _, tc := range []struct{ method, path string }{{"GET", "/v2/sub-accounts/nope"}, {"GET", "/v2/other"}} {
		r := call(t, m, tc.method, tc.path, "")
		var e apiError
		r.decode(t, &e)
		if r.status != 404 || e.Error.Code != "NOT_FOUND" {
			t.Errorf("%s %s = %d %s", tc.method, tc.path, r.status, r.body)
		}
	}
	if r := call(t, m, "DELETE", "/v2/sub-accounts/"+ids[0], ""); r.status != 405 {
		t.Errorf("DELETE = %d, want 405", r.status)
	}
}

// The admin API: counts, main accounts, faults in the provider's shape, reset.
func TestAdmin(t *testing.T) {
	m := newMock(t, nil)
	create(t, m, institution("a-1", "A-1", ""))
	create(t, m, institution("a-2", "A-1", ""))
	var counts struct {
		Count            int
		CountByReference *int
	}
	call(t, m, "GET", "/__admin/accounts?clientReference=A-1", "").decode(t, &counts)
	if counts.CountByReference == nil || *counts.CountByReference != 2 || m.CountByReference("A-1") != 2 {
		t.Errorf("count by reference = %+v", counts)
	}
	r := call(t, m, "POST", "/__admin/main-accounts", `{"currency":"EUR","name":"Main EUR"}`)
	var added subaccountmock.MainAccount
	r.decode(t, &added)
	if r.status != 201 || added.Type != subaccountmock.TypeVirtualExternal || added.ID == "" {
		t.Fatalf("add main account: %d %s", r.status, r.body)
	}
	if got := m.SettlementAccounts(); got["EUR"] != added.ID || got["NGN"] != mainNGN || got["USD"] != mainUSD {
		t.Errorf("settlement accounts = %v", got)
	}
	for _, body := range []string{`{"currency":"XYZ"}`, `{"currency":"EUR","id":"x"}`, `{"currency":"EUR","id":"` + mainNGN + `"}`, `{"currency":"EUR","available":5}`} {
		if r := call(t, m, "POST", "/__admin/main-accounts", body); r.status != 400 {
			t.Errorf("add %s = %d, want 400", body, r.status)
		}
	}
	if r := call(t, m, "PUT", "/__admin/config", `{"addressDelay":"-1s"}`); r.status != 400 {
		t.Errorf("negative delay = %d", r.status)
	}
	r = call(t, m, "POST", "/__admin/faults", `{"method":"POST","path":"/v2/sub-accounts","action":"error","status":503,"retryAfter":"2","times":1}`)
	if r.status != 201 {
		t.Fatalf("fault: %d %s", r.status, r.body)
	}
	r = call(t, m, "POST", "/v2/sub-accounts", institution("f", "F", ""))
	var e apiError
	r.decode(t, &e)
	if r.status != 503 || e.Error.Code != "SERVICE_UNAVAILABLE" {
		t.Errorf("injected = %d %s", r.status, r.body)
	}
	m.Faults().Add(fault.Rule{Action: fault.ActionError, Status: 500})
	if r := call(t, m, "GET", "/__admin/accounts", ""); r.status != 200 {
		t.Errorf("faults reached the admin API: %d", r.status)
	}
	if r := call(t, m, "DELETE", "/__admin/reset", ""); r.status != 204 {
		t.Fatalf("reset = %d", r.status)
	}
	if m.AccountCount() != 0 || len(m.Faults().Rules()) != 0 || len(m.MainAccounts()) != len(subaccountmock.DefaultMainAccounts()) || m.Config().AddressDelay != 0 {
		t.Errorf("after reset: %d accounts, %d rules, %v main", m.AccountCount(), len(m.Faults().Rules()), m.MainAccounts())
	}
	if a := create(t, m, institution("a-1", "A-1", mainNGN)); a.ID == "" {
		t.Errorf("create after reset failed")
	}
}

// The same seed gives the same ids and numbers, after New and after Reset.
func TestSeeded(t *testing.T) {
	run := func(m *subaccountmock.Mock) string {
		a := create(t, m, institution("s", "S", ""))
		return a.ID + a.DepositAddresses[0].Data["account_number"]
	}
	m1, m2 := newMock(t, &subaccountmock.Options{Seed: 7}), newMock(t, &subaccountmock.Options{Seed: 7})
	first := run(m1)
	if run(m2) != first {
		t.Errorf("two mocks of one seed differ")
	}
	m1.Reset()
	if run(m1) != first {
		t.Errorf("a run after Reset differs from one after New")
	}
}

// Concurrent creates of one identifier: exactly one wins; distinct ones all do.
func TestConcurrentCreates(t *testing.T) {
	m := newMock(t, nil)
	srv := httptest.NewServer(m)
	t.Cleanup(srv.Close)
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for i := range 20 {
		wg.Go(func() {
			body := institution("same", "C", mainNGN)
			if i%2 == 1 {
				body = institution(fmt.Sprint("distinct-", i), "C", mainNGN)
			}
			req, _ := http.NewRequestWithContext(t.Context(), "POST", srv.URL+"/v2/sub-accounts", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+subaccountmock.DefaultAPIKey)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			mu.Lock()
			statuses[resp.StatusCode]++
			mu.Unlock()
		})
		wg.Go(func() { m.Deposit(subaccountmock.Deposit{AccountID: mainNGN, Amount: 1}) })
	}
	wg.Wait()
	if statuses[201] != 11 || statuses[409] != 9 || m.CountByReference("C") != 11 {
		t.Errorf("statuses %v, %d accounts; want 11 created, 9 duplicates", statuses, m.CountByReference("C"))
	}
}
