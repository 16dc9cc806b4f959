package subaccount_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vagate/vagate/adapters/adaptertest"
	"github.com/vagate/vagate/adapters/subaccount"
	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/provider"
	"github.com/vagate/vagate/mocks/fault"
	"github.com/vagate/vagate/mocks/subaccountmock"
)

var (
	mainNGN = subaccountmock.DefaultMainAccounts()[0].ID
	mainUSD = subaccountmock.DefaultMainAccounts()[1].ID
)

type harness struct {
	adaptertest.MockHarness
	mock *subaccountmock.Mock
	srv  *httptest.Server
	cfg  subaccount.Config
	// p is the adapter opened the production way, for this file's own tests.
	p *gateway.Provider
}

// routes are the mock routes of the operations the suite faults.
var routes = map[adaptertest.Op]adaptertest.Route{
	adaptertest.OpCreate: {Method: http.MethodPost, Path: "/v2/sub-accounts"},
	adaptertest.OpGet:    {Method: http.MethodGet, Path: "/v2/sub-accounts/*"},
}

// newHarness is the suite's harness: a fresh mock and the config of an
// adapter pointed at it.
func newHarness(t testing.TB) adaptertest.Harness { return newMockHarness(t, nil) }

func newMockHarness(t testing.TB, edit func(*subaccount.Config)) *harness {
	t.Helper()
	m := subaccountmock.New(&subaccountmock.Options{Seed: 1})
	srv := httptest.NewServer(m)
	t.Cleanup(func() { srv.Close(); m.Close() })
	cfg := subaccount.Config{BaseURL: srv.URL, APIKey: subaccount.Secret(subaccountmock.DefaultAPIKey), SettlementAccounts: m.SettlementAccounts()}
	if edit != nil {
		edit(&cfg)
	}
	return &harness{MockHarness: adaptertest.MockHarness{Mock: m, Routes: routes}, mock: m, srv: srv, cfg: cfg}
}

// newHarnessWith is a harness whose adapter is opened the production way as h.p.
func newHarnessWith(t testing.TB, edit func(*subaccount.Config)) *harness {
	t.Helper()
	h := newMockHarness(t, edit)
	h.p = adaptertest.OpenProvider(t, "subaccount", h)
	return h
}

func (h *harness) Open(env provider.Env) (provider.Adapter, error) {
	return subaccount.Open(h.cfg, &subaccount.Options{HTTPClient: env.HTTPClient})
}

func (h *harness) Item(ref string) provider.CreateItem { return item(ref) }

// item is an institution sub-account; its identifier is the gateway's item
// reference, so its names are the client's alone and may repeat.
func item(ref string) provider.CreateItem {
	return provider.CreateItem{Currency: "NGN", AccountName: "Procurement Department", AccountHolderName: "Acme Ltd", ClientReference: ref}
}

const missingRef = "00000000-0000-4000-8000-000000000000"

func (h *harness) MissingRef() string { return missingRef }

func TestConformance(t *testing.T) {
	adaptertest.RunConformanceTests(t, newHarness)
}

// TestContract runs the behaviour cases against the provider in
// VAGATE_CONTRACT_SUBACCOUNT.
func TestContract(t *testing.T) {
	adaptertest.RunContractTests(t, adaptertest.FromEnv(t, adaptertest.Contract{
		Driver: subaccount.Driver, Item: item, MissingRef: missingRef,
	}))
}

func BenchmarkConformance(b *testing.B) {
	adaptertest.RunBenchmarks(b, newHarness)
}

func createOne(t *testing.T, h *harness, it provider.CreateItem) (*bank.Account, error) {
	t.Helper()
	res, err := h.p.CreateAccounts(t.Context(), &provider.CreateRequest{IdempotencyKey: uuid.NewString(), Items: []provider.CreateItem{it}})
	if err != nil {
		return nil, err
	}
	return res[0].Account, res[0].Err
}

func pointers(err error) []string {
	var out []string
	for _, f := range bank.FieldsOf(err) {
		out = append(out, f.Pointer)
	}
	return out
}

// A settlement account in another currency is refused, naming the field:
// up front when the config knows the account, by the provider otherwise.
func TestSettlementCurrencyMismatch(t *testing.T) {
	tests := []struct {
		name     string
		cfg      func(*subaccount.Config)
		settle   func(h *harness) string
		code     bank.ErrorCode
		pointers string
		message  string
	}{
		{"configured account of another currency", nil, func(*harness) string { return mainUSD },
			bank.InvalidArgument, "[/items/0/providerParams/settlementAccountId]", "USD settlement account"},
		{"refused by the provider", nil, func(h *harness) string {
			a, err := h.mock.AddMainAccount(subaccountmock.MainAccount{Currency: "USD"})
			if err != nil {
				t.Fatal(err)
			}
			return a.ID
		}, bank.InvalidArgument, "[/providerParams/settlementAccountId]", "/providerParams/settlementAccountId (provider field settlement_account_id)"},
		{"configured for the wrong currency", func(c *subaccount.Config) { c.SettlementAccounts = map[string]string{"NGN": mainUSD} },
			func(*harness) string { return "" }, bank.FailedPrecondition, "[]", "from config settlementAccounts"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarnessWith(t, tc.cfg)
			it := h.Item("MISMATCH-1")
			if id := tc.settle(h); id != "" {
				it.Params = map[string]string{subaccount.ParamSettlementAccountID: id}
			}
			_, err := createOne(t, h, it)
			if bank.Code(err) != tc.code {
				t.Fatalf("err = %v (%s), want %s", err, bank.Code(err), tc.code)
			}
			if got := fmt.Sprint(pointers(err)); got != tc.pointers && !(got == "[]" && tc.pointers == "[]") {
				t.Errorf("fields = %s, want %s", got, tc.pointers)
			}
			if !strings.Contains(err.Error(), tc.message) {
				t.Errorf("message %q does not contain %q", err, tc.message)
			}
			if n := h.mock.CountByReference(it.ClientReference); n != 0 {
				t.Errorf("refused create left %d accounts", n)
			}
		})
	}
}

// A second institution sub-account with an identifier in use is refused as
// already existing: one the client chose names its field; one the adapter
// took from the gateway's item reference is only in use when the same item
// is sent again, and names no field of the client's.
func TestDuplicateIdentifier(t *testing.T) {
	tests := []struct {
		name     string
		params   map[string]string
		resend   bool
		pointers string
		message  string
	}{
		{"identifier param", map[string]string{subaccount.ParamIdentifier: "procurement-123"}, false, "[/providerParams/identifier]", "/providerParams/identifier"},
		{"the same item again", nil, true, "[]", "identifier: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarnessWith(t, nil)
			first := h.Item("DUP-1")
			first.Params, first.Reference = tc.params, "vgr-dup-1"
			if _, err := createOne(t, h, first); err != nil {
				t.Fatalf("first: %v", err)
			}
			second := first
			second.ClientReference = "DUP-2"
			if !tc.resend {
				second.Reference = "vgr-dup-2"
			}
			_, err := createOne(t, h, second)
			if !errors.Is(err, bank.ErrAlreadyExists) || fmt.Sprint(pointers(err)) != tc.pointers {
				t.Fatalf("err = %v, fields %v; want already exists naming %s", err, pointers(err), tc.pointers)
			}
			if !strings.Contains(err.Error(), tc.message) || !strings.Contains(err.Error(), "DUPLICATE_IDENTIFIER") {
				t.Errorf("message = %q", err)
			}
			if n := h.mock.AccountCount(); n != 1 {
				t.Errorf("the provider holds %d accounts, want 1", n)
			}
		})
	}
}

// Accounts with the same names are distinct accounts: the identifier is
// the gateway's item reference, never a name, and the names the client
// gave are what the account says.
func TestNamesRepeat(t *testing.T) {
	h := newHarnessWith(t, nil)
	for _, ref := range []string{"SAME-1", "SAME-2"} {
		it := h.Item(ref)
		acc, err := createOne(t, h, it)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		if acc.AccountName != it.AccountName || acc.AccountHolderName != it.AccountHolderName {
			t.Errorf("%s: names %q/%q, want the client's %q/%q", ref, acc.AccountName, acc.AccountHolderName, it.AccountName, it.AccountHolderName)
		}
		var raw struct {
			Name            string `json:"name"`
			ClientReference string `json:"client_reference"`
		}
		if err := json.Unmarshal(acc.Raw, &raw); err != nil || raw.Name != acc.Reference || raw.ClientReference != acc.Reference {
			t.Errorf("%s: provider name/client_reference = %q/%q, want the gateway reference %q", ref, raw.Name, raw.ClientReference, acc.Reference)
		}
	}
	if n := h.mock.AccountCount(); n != 2 {
		t.Errorf("the provider holds %d accounts, want 2", n)
	}
}

// PENDING_DEPOSIT_ADDRESS surfaces as PENDING without bank details, then
// reads ACTIVE with them once the provider has generated the address.
func TestPendingThenActive(t *testing.T) {
	h := newHarnessWith(t, nil)
	h.mock.SetConfig(subaccountmock.Config{AddressDelay: 80 * time.Millisecond})
	acc, err := createOne(t, h, h.Item("PEND-1"))
	if err != nil {
		t.Fatal(err)
	}
	if acc.Status != bank.StatusPending || acc.ProviderStatus != "PENDING_DEPOSIT_ADDRESS" || len(acc.BankDetails) != 0 || acc.AccountHolderName != "Acme Ltd" {
		t.Fatalf("created = %+v", acc)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		got, err := h.p.GetAccount(t.Context(), acc.ProviderAccountID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status == bank.StatusActive {
			if got.ProviderStatus != "ACTIVE" || len(got.BankDetails) != 1 || got.BankDetails[0].AccountHolderName != "Institution - "+acc.Reference {
				t.Errorf("active = %+v", got)
			}
			return
		}
		if got.Status != bank.StatusPending || time.Now().After(deadline) {
			t.Fatalf("status %s", got.Status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Deposit addresses and balances map into the unified model; a deposit to a
// sub-account with a settlement account lands on the settlement account.
func TestMappingAndDeposits(t *testing.T) {
	h := newHarnessWith(t, func(c *subaccount.Config) { c.SettlementAccounts = map[string]string{"USD": mainUSD} })
	customer := "abcdef12-3456-7890-abcd-ef1234567890"
	tests := []struct {
		name       string
		item       provider.CreateItem
		deposits   []subaccountmock.Deposit
		wantHolder string
		available  string
		pending    string
		settledTo  string
	}{
		{"customer, own balance", provider.CreateItem{Currency: "NGN", AccountHolderName: "Ada", AccountName: "Ada", CustomerID: customer, ClientReference: "MAP-1"},
			[]subaccountmock.Deposit{{Amount: 150000}, {Amount: 25, Pending: true}}, "Customer - Customer abcdef12", "1500.00", "0.25", ""},
		{"institution settled by config", provider.CreateItem{Currency: "USD", AccountHolderName: "Ops", AccountName: "Ops", ClientReference: "MAP-2",
			Params: map[string]string{subaccount.ParamIdentifier: "ops-usd"}},
			[]subaccountmock.Deposit{{Amount: 5}}, "Institution - ops-usd", "0.00", "0.00", mainUSD},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			acc, err := createOne(t, h, tc.item)
			if err != nil {
				t.Fatal(err)
			}
			var payments []subaccountmock.Payment
			for _, d := range tc.deposits {
				d.AccountID = acc.ProviderAccountID
				p, err := h.mock.Deposit(d)
				if err != nil {
					t.Fatal(err)
				}
				payments = append(payments, p)
			}
			got, err := h.p.GetAccount(t.Context(), acc.ProviderAccountID)
			if err != nil {
				t.Fatal(err)
			}
			// A read reports no names: the provider's are its own making
			// (in bankDetails), and the gateway keeps the client's.
			if got.AccountName != "" || got.AccountHolderName != "" || got.Currency != tc.item.Currency || got.ClientReference != "" || got.Reference == "" {
				t.Errorf("account = %+v", got)
			}
			if got.Balance == nil || *got.Balance != (bank.Balance{Currency: tc.item.Currency, Available: tc.available, Pending: tc.pending}) {
				t.Errorf("balance = %+v, want %s/%s", got.Balance, tc.available, tc.pending)
			}
			if len(got.BankDetails) != 1 {
				t.Fatalf("bank details = %+v", got.BankDetails)
			}
			d := got.BankDetails[0]
			if d.Type != "NUBAN" || d.BankName != subaccountmock.BankName || d.AccountHolderName != tc.wantHolder || d.Country != "NG" ||
				len(d.AccountNumber) != 10 || d.Extra["bankCode"] != subaccountmock.BankCode || d.Extra["nipCode"] != subaccountmock.NIPCode {
				t.Errorf("bank details = %+v", d)
			}
			if got.CreatedAt.IsZero() || got.UpdatedAt.IsZero() || len(got.Raw) == 0 {
				t.Errorf("times or raw missing: %+v", got)
			}
			if tc.settledTo == "" {
				return
			}
			txs, err := h.mock.Transactions(tc.settledTo)
			if err != nil || len(txs) != 1 || txs[0].ID != payments[0].ID || txs[0].OnBehalfOfAccountID != acc.ProviderAccountID || txs[0].AccountID != tc.settledTo {
				t.Errorf("settlement account transactions = %+v, %v; want the deposit on behalf of %s", txs, err, acc.ProviderAccountID)
			}
		})
	}
}

// Items the adapter can check are refused before anything is sent.
func TestItemChecks(t *testing.T) {
	tests := []struct {
		name     string
		mutate   func(*provider.CreateItem)
		code     bank.ErrorCode
		pointers string
	}{
		{"customer id not a uuid", func(it *provider.CreateItem) { it.CustomerID = "cust-1" }, bank.InvalidArgument, "[/items/0/customerId]"},
		{"customer classification without customer", func(it *provider.CreateItem) { it.Params = map[string]string{"classification": "customer"} }, bank.InvalidArgument, "[/items/0/customerId]"},
		{"institution classification keeps a platform customer id", func(it *provider.CreateItem) {
			it.CustomerID, it.Params = "cust-1", map[string]string{"classification": "institution"}
		}, bank.OK, "[]"},
		{"unknown param", func(it *provider.CreateItem) { it.Params = map[string]string{"parentAccountId": "x"} }, bank.InvalidArgument, "[/items/0/providerParams/parentAccountId]"},
		{"bad classification", func(it *provider.CreateItem) { it.Params = map[string]string{"classification": "person"} }, bank.InvalidArgument, "[/items/0/providerParams/classification]"},
		{"blank identifier", func(it *provider.CreateItem) { it.Params = map[string]string{"identifier": " "} }, bank.InvalidArgument, "[/items/0/providerParams/identifier]"},
		{"identifier over 64", func(it *provider.CreateItem) { it.Params = map[string]string{"identifier": strings.Repeat("x", 65)} }, bank.InvalidArgument, "[/items/0/providerParams/identifier]"},
		{"identifier on customer, and no customer", func(it *provider.CreateItem) {
			it.Params = map[string]string{"classification": "customer", "identifier": "x"}
		}, bank.InvalidArgument, "[/items/0/customerId /items/0/providerParams/identifier]"},
		{"settlement not a uuid", func(it *provider.CreateItem) { it.Params = map[string]string{"settlementAccountId": "main"} }, bank.InvalidArgument, "[/items/0/providerParams/settlementAccountId]"},
		{"accountName over 64 is the client's, not an identifier", func(it *provider.CreateItem) { it.AccountName = strings.Repeat("n", 65) }, bank.OK, "[]"},
		{"clientReference over 64", func(it *provider.CreateItem) { it.ClientReference = strings.Repeat("r", 65) }, bank.InvalidArgument, "[/items/0/clientReference]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarnessWith(t, nil)
			it := h.Item("CHK-1")
			tc.mutate(&it)
			_, err := createOne(t, h, it)
			if bank.Code(err) != tc.code || (fmt.Sprint(pointers(err)) != tc.pointers && tc.pointers != "[]") {
				t.Fatalf("err = %v (%s), fields %v; want %s %s", err, bank.Code(err), pointers(err), tc.code, tc.pointers)
			}
			want := 0
			if tc.code == bank.OK {
				want = 1
			}
			if n := h.mock.AccountCount(); n != want {
				t.Errorf("mock holds %d accounts, want %d", n, want)
			}
		})
	}
}

// Several items in one call: a refused item fails alone; a provider failure
// ends the call and the rest are reported not sent; at the first item it is
// the call's error.
func TestSeveralItems(t *testing.T) {
	h := newHarnessWith(t, nil)
	a := h.p.Adapter()
	item := func(ref string) provider.CreateItem {
		it := h.Item(ref)
		it.Reference = "vgr-" + ref
		return it
	}
	dup := item("MULTI-0")

	res, err := a.CreateAccounts(t.Context(), &provider.CreateRequest{Items: []provider.CreateItem{dup, dup, item("MULTI-2")}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Items[0].Account == nil || a.ErrorCode(res.Items[1].Err) != bank.AlreadyExists || res.Items[2].Account == nil {
		t.Errorf("refused middle item: %+v", res.Items)
	}

	bad := item("MULTI-3")
	bad.CustomerID = "not-a-uuid"
	h.Fault(t, adaptertest.OpCreate, fault.Rule{Action: fault.ActionError, Status: 503, Times: 1})
	res, err = a.CreateAccounts(t.Context(), &provider.CreateRequest{Items: []provider.CreateItem{bad, item("MULTI-4"), item("MULTI-5")}})
	if err != nil {
		t.Fatal(err)
	}
	codes := []bank.ErrorCode{a.ErrorCode(res.Items[0].Err), a.ErrorCode(res.Items[1].Err), bank.Code(res.Items[2].Err)}
	if fmt.Sprint(codes) != fmt.Sprint([]bank.ErrorCode{bank.InvalidArgument, bank.Unavailable, bank.Unavailable}) || h.mock.CountByReference("vgr-MULTI-5") != 0 {
		t.Errorf("codes = %v, want invalid, unavailable, unavailable (not sent)", codes)
	}

	h.Fault(t, adaptertest.OpCreate, fault.Rule{Action: fault.ActionError, Status: 503, Times: 1})
	if _, err := a.CreateAccounts(t.Context(), &provider.CreateRequest{Items: []provider.CreateItem{item("MULTI-6"), item("MULTI-7")}}); a.ErrorCode(err) != bank.Unavailable {
		t.Errorf("failure at the first item: err = %v, want the call's error", err)
	}
	if h.mock.CountByReference("vgr-MULTI-7") != 0 {
		t.Errorf("an item after a failure was sent")
	}
}

// FindByReference reads every page of the provider's list.
func TestFindByReferencePages(t *testing.T) {
	h := newHarnessWith(t, nil)
	const n = 103
	for i := range n {
		it := h.Item(fmt.Sprint("PAGED-", i))
		it.Reference = "vgr-paged" // the same reference on every page: the lookup must read them all
		it.Params = map[string]string{subaccount.ParamIdentifier: fmt.Sprint("paged-", i)}
		if _, err := createOne(t, h, it); err != nil {
			t.Fatal(err)
		}
	}
	got, err := h.p.FindByReference(t.Context(), "vgr-paged")
	if err != nil || len(got) != n {
		t.Fatalf("found %d, %v; want %d", len(got), err, n)
	}
	seen := map[string]bool{}
	for _, a := range got {
		if seen[a.ProviderAccountID] || a.Provider != "subaccount" {
			t.Fatalf("account %s twice or unnamed provider", a.ProviderAccountID)
		}
		seen[a.ProviderAccountID] = true
	}
}

// The document shows only "available": 0 beside currency_precision 2, so
// the unit of balance amounts is an assumption: integers of minor units by
// default (balanceUnits: minor), decimal amounts of the currency with
// balanceUnits: major. Each reading renders the account's precision, at
// its boundaries, and refuses what it cannot read exactly (Unknown) rather
// than round it; the same answer reads differently under the two.
func TestBalanceRendering(t *testing.T) {
	tests := []struct {
		name      string
		units     string
		balance   string
		precision string
		available string
		pending   string
		code      bank.ErrorCode
	}{
		{"minor: the document's example", "", `{"available":0,"pending":0}`, "2", "0.00", "0.00", bank.OK},
		{"minor: one minor unit", "minor", `{"available":1,"pending":99}`, "2", "0.01", "0.99", bank.OK},
		{"minor: one major unit", "", `{"available":100,"pending":0}`, "2", "1.00", "0.00", bank.OK},
		{"minor: precision 2", "", `{"available":150000,"pending":5}`, "2", "1500.00", "0.05", bank.OK},
		{"minor: precision 0", "", `{"available":150000,"pending":0}`, "0", "150000", "0", bank.OK},
		{"minor: precision 3", "", `{"available":-1234,"pending":1}`, "3", "-1.234", "0.001", bank.OK},
		{"minor: precision absent", "", `{"available":7}`, "null", "7", "0", bank.OK},
		{"minor: min int64", "", `{"available":-9223372036854775808,"pending":0}`, "2", "-92233720368547758.08", "0.00", bank.OK},
		{"minor: a fraction is not minor units", "", `{"available":1.5,"pending":0}`, "2", "", "", bank.Unknown},
		{"minor: precision out of range", "", `{"available":1,"pending":0}`, "19", "", "", bank.Unknown},
		{"major: the document's example", "major", `{"available":0,"pending":0}`, "2", "0.00", "0.00", bank.OK},
		{"major: the same 150000 reads 100 times more", "major", `{"available":150000,"pending":5}`, "2", "150000.00", "5.00", bank.OK},
		{"major: one minor unit", "major", `{"available":0.01,"pending":0.99}`, "2", "0.01", "0.99", bank.OK},
		{"major: padded to the precision", "major", `{"available":1500.5,"pending":-0.1}`, "2", "1500.50", "-0.10", bank.OK},
		{"major: precision 0", "major", `{"available":42,"pending":0}`, "0", "42", "0", bank.OK},
		{"major: beyond int64", "major", `{"available":12345678901234567890.12,"pending":0}`, "2", "12345678901234567890.12", "0.00", bank.OK},
		{"major: more places than the precision", "major", `{"available":0.001,"pending":0}`, "2", "", "", bank.Unknown},
		{"major: exponent", "major", `{"available":1e3,"pending":0}`, "2", "", "", bank.Unknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "Bearer k" {
					w.WriteHeader(401)
					return
				}
				fmt.Fprintf(w, `{"data":{"id":"x","state":"ACTIVE","currency":"NGN","currency_precision":%s,"name":"n","balance":%s,"deposit_addresses":[]}}`, tc.precision, tc.balance)
			}))
			t.Cleanup(srv.Close)
			a, err := subaccount.Open(subaccount.Config{BaseURL: srv.URL, APIKey: "k", BalanceUnits: tc.units}, nil)
			if err != nil {
				t.Fatal(err)
			}
			acc, err := a.GetAccount(t.Context(), "x")
			if got := a.ErrorCode(err); (err == nil && tc.code != bank.OK) || (err != nil && got != tc.code) {
				t.Fatalf("err = %v (%s), want %s", err, got, tc.code)
			}
			if err == nil && (acc.Balance.Available != tc.available || acc.Balance.Pending != tc.pending) {
				t.Errorf("balance = %+v, want %s/%s", acc.Balance, tc.available, tc.pending)
			}
		})
	}
}

// Secrets in the config never show when formatted or logged.
func TestSecretsRedacted(t *testing.T) {
	cfg := subaccount.Config{BaseURL: "http://x", APIKey: "sk_live_hunter2"}
	b, _ := json.Marshal(map[string]any{"s": fmt.Sprint(cfg.APIKey), "v": fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg)})
	if bytes.Contains(b, []byte("hunter2")) {
		t.Errorf("formatted config leaks the API key: %s", b)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := func(c subaccount.Config) subaccount.Config {
		if c.BaseURL == "" {
			c.BaseURL = "http://x"
		}
		if c.APIKey == "" {
			c.APIKey = "k"
		}
		return c
	}
	tests := []struct {
		name string
		cfg  subaccount.Config
		want string
	}{
		{"no base url", subaccount.Config{APIKey: "k"}, "baseUrl"},
		{"relative base url", subaccount.Config{BaseURL: "/x", APIKey: "k"}, "baseUrl"},
		{"no api key", subaccount.Config{BaseURL: "http://x"}, "apiKey"},
		{"bad currency", ok(subaccount.Config{Currencies: []string{"ngn"}}), "currencies"},
		{"bad country", ok(subaccount.Config{Country: "NGA"}), "country"},
		{"settlement key", ok(subaccount.Config{SettlementAccounts: map[string]string{"naira": mainNGN}}), "settlementAccounts"},
		{"settlement id", ok(subaccount.Config{SettlementAccounts: map[string]string{"NGN": "main"}}), "settlementAccounts.NGN"},
		{"balance units", ok(subaccount.Config{BalanceUnits: "cents"}), "balanceUnits"},
		{"settlement twice", ok(subaccount.Config{SettlementAccounts: map[string]string{"NGN": mainNGN, "USD": mainNGN}}), "settlementAccounts.USD"},
		{"settlement currency not accepted", ok(subaccount.Config{Currencies: []string{"NGN"}, SettlementAccounts: map[string]string{"USD": mainUSD}}), "settlementAccounts.USD"},
		{"settlement currency not default", ok(subaccount.Config{SettlementAccounts: map[string]string{"KES": mainUSD}}), "settlementAccounts.KES"},
		{"ok", ok(subaccount.Config{SettlementAccounts: map[string]string{"NGN": mainNGN, "USD": mainUSD}}), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
				t.Fatalf("err = %v, want one naming %s", err, tc.want)
			}
		})
	}
}
