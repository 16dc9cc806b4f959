package parentprimary_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vagate/vagate/adapters/adaptertest"
	"github.com/vagate/vagate/adapters/parentprimary"
	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/provider"
	"github.com/vagate/vagate/mocks/fault"
	"github.com/vagate/vagate/mocks/parentprimarymock"
)

type harness struct {
	adaptertest.MockHarness
	mock *parentprimarymock.Mock
	srv  *httptest.Server
	cfg  parentprimary.Config
	opts parentprimary.Options
	// p is the adapter opened the production way, for this file's own tests.
	p *gateway.Provider
}

// routes are the mock routes of the operations the suite faults.
var routes = map[adaptertest.Op]adaptertest.Route{
	adaptertest.OpCreate: {Method: http.MethodPost, Path: parentprimary.PathVirtual},
	adaptertest.OpGet:    {Method: http.MethodGet, Path: parentprimary.PathVirtual + "/*"},
}

// newHarness is the suite's harness: a fresh mock and the config of an
// adapter pointed at it.
func newHarness(t testing.TB) adaptertest.Harness { return newMockHarness(t, nil, nil) }

// parents maps currency → the mock's default primary account id.
func parents() map[string]string {
	out := map[string]string{}
	for _, p := range parentprimarymock.DefaultPrimaryAccounts() {
		out[p.CurrencyCode] = p.ID
	}
	return out
}

// products maps currency → the mock's product code.
func products() map[string]string {
	out := map[string]string{}
	for code, cur := range parentprimarymock.DefaultProducts() {
		out[cur] = code
	}
	return out
}

func newMockHarness(t testing.TB, edit func(*parentprimary.Config), opts *parentprimary.Options) *harness {
	t.Helper()
	m := parentprimarymock.New(&parentprimarymock.Options{PrimaryAccounts: parentprimarymock.DefaultPrimaryAccounts(), Seed: 1})
	srv := httptest.NewServer(m)
	t.Cleanup(func() { srv.Close(); m.Close() })
	def := parentprimarymock.DefaultPartner()
	cfg := parentprimary.Config{
		BaseURL: srv.URL, APIToken: parentprimary.Secret(def.APIToken), SigningSecret: parentprimary.Secret(def.SigningSecret),
		ParentAccounts: parents(), ProductCodes: products(),
	}
	if edit != nil {
		edit(&cfg)
	}
	h := &harness{MockHarness: adaptertest.MockHarness{Mock: m, Routes: routes}, mock: m, srv: srv, cfg: cfg}
	if opts != nil {
		h.opts = *opts
	}
	return h
}

// newHarnessWith is a harness whose adapter is opened the production way as h.p.
func newHarnessWith(t testing.TB, edit func(*parentprimary.Config), opts *parentprimary.Options) *harness {
	t.Helper()
	h := newMockHarness(t, edit, opts)
	h.p = adaptertest.OpenProvider(t, "pp", h)
	return h
}

// Open opens the adapter with env's client, unless the test gave its own
// (one that tampers with requests after they were signed).
func (h *harness) Open(env provider.Env) (provider.Adapter, error) {
	opts := h.opts
	if opts.HTTPClient == nil {
		opts.HTTPClient = env.HTTPClient
	}
	return parentprimary.Open(h.cfg, &opts)
}

func (h *harness) Item(ref string) provider.CreateItem { return item(ref) }

func item(ref string) provider.CreateItem {
	return provider.CreateItem{Currency: "GBP", AccountHolderName: "Test Company Ltd", AccountName: "Test Virtual Account",
		ClientReference: ref, CustomerID: "a2b9649e-df7f-4349-adff-1c57283fef10"}
}

const missingRef = "00000000-0000-4000-8000-000000000000"

func (h *harness) MissingRef() string { return missingRef }

func TestConformance(t *testing.T) {
	adaptertest.RunConformanceTests(t, newHarness)
}

// TestContract runs the behaviour cases against the provider in
// VAGATE_CONTRACT_PARENTPRIMARY.
func TestContract(t *testing.T) {
	adaptertest.RunContractTests(t, adaptertest.FromEnv(t, adaptertest.Contract{
		Driver: parentprimary.Driver, Item: item, MissingRef: missingRef,
	}))
}

func BenchmarkConformance(b *testing.B) {
	adaptertest.RunBenchmarks(b, newHarness)
}

func (h *harness) createOne(t *testing.T, it provider.CreateItem) *bank.Account {
	t.Helper()
	res, err := h.p.CreateAccounts(t.Context(), &provider.CreateRequest{IdempotencyKey: uuid.NewString(), Items: []provider.CreateItem{it}})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if res[0].Err != nil {
		t.Fatalf("create item: %v", res[0].Err)
	}
	return res[0].Account
}

// The mock and the adapter implement the same documented scheme.
func TestSignatureScheme(t *testing.T) {
	const date, nonce = "Wed, 01 Jan 2025 00:00:00 GMT", "0f8fad5b-d9cb-469f-a165-70867728950e"
	body := []byte(`{"idempotencyKey":"1483d25d-3f00-4d39-90ce-2379a130becd"}`)
	tests := []struct{ method, target string }{
		{http.MethodPost, "/v1/partner/accounts/virtual"},
		{http.MethodGet, "/v1/partner/accounts/virtual/e0cab2dd-739f-43de-b131-3e423e935bf1"},
		{http.MethodDelete, "/prefix/v1/partner/accounts/virtual/x?y=1"},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			got := parentprimary.Sign([]byte("secret"), tc.method, tc.target, date, nonce, body)
			want := parentprimarymock.Sign("secret", tc.method, tc.target, date, nonce, body)
			if got != want {
				t.Errorf("adapter %s, mock %s", got, want)
			}
			if s := parentprimary.StringToSign(tc.method, tc.target, date, nonce, nil); !strings.HasSuffix(s, "\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") {
				t.Errorf("empty body hash: %q", s)
			}
		})
	}
}

// tamper rewrites a create body after it was signed.
type tamper struct{ next http.RoundTripper }

func (tr tamper) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPost && r.Body != nil {
		b, _ := io.ReadAll(r.Body)
		b = bytes.Replace(b, []byte("Test Company Ltd"), []byte("Evil Company Ltd"), 1)
		r = r.Clone(r.Context())
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
	}
	return tr.next.RoundTrip(r)
}

// Signed requests are accepted; a tampered body, a stale or future date, a
// reused nonce, a wrong secret or token are refused by the mock, and the
// gateway's wrapper reports them as one Unauthenticated error naming the
// provider and operation, carrying the provider's code.
func TestSigning(t *testing.T) {
	fixed := func() string { return "fixed-nonce-0123456789" }
	tests := []struct {
		name     string
		edit     func(*parentprimary.Config)
		opts     *parentprimary.Options
		calls    int // the last call is expected to fail with code
		code     string
		accounts int // accounts the mock holds afterwards
	}{
		{"correct signature accepted", nil, nil, 1, "", 1},
		{"tampered body", nil, &parentprimary.Options{HTTPClient: &http.Client{Transport: tamper{http.DefaultTransport}}},
			1, parentprimarymock.CodeInvalidSignature, 0},
		{"stale date", nil, &parentprimary.Options{Now: func() time.Time { return time.Now().Add(-6 * time.Minute) }},
			1, parentprimarymock.CodeRequestExpired, 0},
		{"future date", nil, &parentprimary.Options{Now: func() time.Time { return time.Now().Add(6 * time.Minute) }},
			1, parentprimarymock.CodeRequestExpired, 0},
		{"reused nonce", nil, &parentprimary.Options{Nonce: fixed}, 2, parentprimarymock.CodeNonceReused, 1},
		{"short nonce", nil, &parentprimary.Options{Nonce: func() string { return "abc" }}, 1, parentprimarymock.CodeInvalidNonce, 0},
		{"wrong signing secret", func(c *parentprimary.Config) { c.SigningSecret = "not-the-secret" }, nil,
			1, parentprimarymock.CodeInvalidSignature, 0},
		{"unknown api token", func(c *parentprimary.Config) { c.APIToken = "nobody" }, nil, 1, parentprimarymock.CodeUnauthorized, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarnessWith(t, tc.edit, tc.opts)
			var err error
			for i := range tc.calls {
				_, err = h.p.CreateAccounts(t.Context(), &provider.CreateRequest{IdempotencyKey: uuid.NewString(),
					Items: []provider.CreateItem{h.Item(fmt.Sprintf("SIG-%d", i))}})
				if i < tc.calls-1 && err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
			}
			if n := h.mock.AccountCount(); n != tc.accounts {
				t.Errorf("mock holds %d accounts, want %d", n, tc.accounts)
			}
			if tc.code == "" {
				if err != nil {
					t.Fatalf("signed request refused: %v", err)
				}
				return
			}
			if !errors.Is(err, bank.ErrUnauthenticated) {
				t.Fatalf("err = %v, want unauthenticated", err)
			}
			var be *bank.Error
			var se *provider.StatusError
			if !errors.As(err, &be) || be.Provider != "pp" || be.Op != "create" {
				t.Errorf("err = %#v, want a *bank.Error naming provider and op", err)
			}
			if !errors.As(err, &se) || se.StatusCode != http.StatusUnauthorized || se.ProviderCode != tc.code {
				t.Errorf("err = %v, want HTTP 401 %s", err, tc.code)
			}
			if strings.Contains(err.Error(), parentprimarymock.DefaultPartner().SigningSecret) {
				t.Errorf("error shows the secret: %v", err)
			}
		})
	}
}

// A resend with the same request key returns the same accounts; another key
// creates another; a response lost on every attempt the client makes (the
// mock creates, then drops the connection) is Unknown, and a later resend
// yields the one account. (One lost response is resent by the client with
// the same key: the suite's LostCreateResponse.)
func TestIdempotentKeys(t *testing.T) {
	h := newHarnessWith(t, nil, nil)
	key := uuid.NewString()
	if a, b := parentprimary.ItemKey(key, 0), parentprimary.ItemKey(key, 1); a == b || a != parentprimary.ItemKey(key, 0) {
		t.Fatalf("item keys %s %s: want distinct per index and stable", a, b)
	}
	t.Run("lost response", func(t *testing.T) {
		h.Fault(t, adaptertest.OpCreate, fault.Rule{Action: fault.ActionDropResponse, Times: adaptertest.Limits().MaxAttempts})
		req := &provider.CreateRequest{IdempotencyKey: key, Items: []provider.CreateItem{h.Item("LOST-1")}}
		_, err := h.p.Submit(t.Context(), req)
		if code := bank.Code(err); code != bank.Unknown || code.OutcomeKnown() {
			t.Fatalf("dropped response: err = %v (code %s), want unknown outcome", err, code)
		}
		if n := h.mock.CountByReference("LOST-1"); n != 1 {
			t.Fatalf("mock holds %d accounts after the dropped response, want 1", n)
		}
		res, err := h.p.CreateAccounts(t.Context(), req)
		if err != nil || res[0].Err != nil {
			t.Fatalf("resend: %v %v", err, res)
		}
		if n := h.mock.CountByReference("LOST-1"); n != 1 {
			t.Errorf("mock holds %d accounts after the resend, want 1", n)
		}
		rec, _ := h.mock.Account(res[0].Account.ProviderAccountID)
		if rec.ExternalReference != parentprimary.ItemKey(key, 0) {
			t.Errorf("externalReference %s, want the item key", rec.ExternalReference)
		}
	})
	t.Run("another key creates another", func(t *testing.T) {
		h.createOne(t, h.Item("LOST-1"))
		if n := h.mock.CountByReference("LOST-1"); n != 2 {
			t.Errorf("mock holds %d, want 2", n)
		}
	})
}

// Several items are sent one by one; a refused item does not hide the
// accounts made for the others.
func TestSeveralItems(t *testing.T) {
	h := newHarnessWith(t, nil, nil)
	bad := h.Item("MULTI-2")
	bad.Params = map[string]string{parentprimary.ParamParentAccountID: "11111111-1111-4111-8111-111111111111"}
	items := []provider.CreateItem{h.Item("MULTI-1"), bad, h.Item("MULTI-3")}
	res, err := h.p.CreateAccounts(t.Context(), &provider.CreateRequest{IdempotencyKey: uuid.NewString(), Items: items})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, false, true} {
		if got := res[i].Err == nil; got != want {
			t.Errorf("item %d: err %v, want success %v", i, res[i].Err, want)
		}
	}
	if !errors.Is(res[1].Err, bank.ErrInvalidArgument) || !strings.Contains(res[1].Err.Error(), "PARENT_ACCOUNT_NOT_FOUND") {
		t.Errorf("unknown parent: %v", res[1].Err)
	}
}

// The parent comes from the config per currency or from the item; the
// product likewise; the account takes the parent's currency.
func TestParentSelection(t *testing.T) {
	extra := "7d444840-9dc0-11d1-b245-5ffdce74fad2"
	h := newHarnessWith(t, func(c *parentprimary.Config) {
		c.Currencies = []string{"GBP", "EUR", "USD", "CHF"}
	}, nil)
	if _, err := h.mock.AddPrimaryAccount(parentprimarymock.PrimaryAccount{ID: extra, CurrencyCode: "GBP"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		currency   string
		params     map[string]string
		wantParent string
		wantErr    string // a field pointer, or a provider code
	}{
		{"configured GBP", "GBP", nil, parents()["GBP"], ""},
		{"configured EUR", "EUR", nil, parents()["EUR"], ""},
		{"parent from the item", "GBP", map[string]string{"parentAccountId": extra}, extra, ""},
		{"product parameters", "USD", map[string]string{"productParameters.tier": "gold"}, parents()["USD"], ""},
		{"no parent configured", "CHF", nil, "", "/items/0/providerParams/parentAccountId"},
		{"parent of another currency", "GBP", map[string]string{"parentAccountId": parents()["EUR"]}, "", "CURRENCY_MISMATCH"},
		{"unknown product", "GBP", map[string]string{"productCode": "NO_SUCH_PRODUCT"}, "", "UNKNOWN_PRODUCT_CODE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			it := h.Item("PS-" + tc.name)
			it.Currency, it.Params = tc.currency, tc.params
			res, err := h.p.CreateAccounts(t.Context(), &provider.CreateRequest{IdempotencyKey: uuid.NewString(), Items: []provider.CreateItem{it}})
			if tc.wantErr != "" {
				if !errors.Is(err, bank.ErrInvalidArgument) {
					t.Fatalf("err = %v, want invalid argument", err)
				}
				if strings.HasPrefix(tc.wantErr, "/") {
					if f := bank.FieldsOf(err); len(f) == 0 || f[0].Pointer != tc.wantErr {
						t.Errorf("fields = %v, want %s", f, tc.wantErr)
					}
				} else if !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("err = %v, want %s", err, tc.wantErr)
				}
				return
			}
			if err != nil || res[0].Err != nil {
				t.Fatalf("create: %v %v", err, res)
			}
			rec, _ := h.mock.Account(res[0].Account.ProviderAccountID)
			if rec.PrimaryAccountID != tc.wantParent || rec.CurrencyCode != tc.currency || res[0].Account.Currency != tc.currency {
				t.Errorf("account %+v, want parent %s in %s", rec.AccountView, tc.wantParent, tc.currency)
			}
			var pp map[string]string
			json.Unmarshal(rec.ProductParameters, &pp)
			if pp["accountHolderName"] != it.AccountHolderName || pp["clientReference"] != it.ClientReference {
				t.Errorf("productParameters %s lack the unified fields", rec.ProductParameters)
			}
			if v, ok := tc.params["productParameters.tier"]; ok && pp["tier"] != v {
				t.Errorf("productParameters %s lack tier", rec.ProductParameters)
			}
		})
	}
}

func TestValidateParams(t *testing.T) {
	h := newHarnessWith(t, func(c *parentprimary.Config) { c.Currencies = []string{"GBP", "CHF"} }, nil)
	v := h.p.Adapter().(provider.ParamsValidator)
	tests := []struct {
		name     string
		currency string
		params   map[string]string
		want     []string
	}{
		{"none needed", "GBP", nil, nil},
		{"all accepted", "GBP", map[string]string{"parentAccountId": parents()["GBP"], "productCode": "FIAT_ACCOUNT_UK_V1", "productParameters.tier": "x"}, nil},
		{"bad parent", "GBP", map[string]string{"parentAccountId": "nope"}, []string{"/parentAccountId"}},
		{"bad product", "GBP", map[string]string{"productCode": "lower case"}, []string{"/productCode"}},
		{"unknown key", "GBP", map[string]string{"a/b": "x"}, []string{"/a~1b"}},
		{"reserved member", "GBP", map[string]string{"productParameters.clientReference": "x"}, []string{"/productParameters.clientReference"}},
		{"empty member name", "GBP", map[string]string{"productParameters.": "x"}, []string{"/productParameters."}},
		{"nothing configured", "CHF", nil, []string{"/parentAccountId", "/productCode"}},
		{"given per item", "CHF", map[string]string{"parentAccountId": parents()["GBP"], "productCode": "FIAT_CH_V1"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, f := range v.ValidateParams(tc.currency, tc.params) {
				if f.Message == "" {
					t.Errorf("%s: empty message", f.Pointer)
				}
				got = append(got, f.Pointer)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("pointers %v, want %v", got, tc.want)
			}
		})
	}
}

// customerId is required and must be a UUID; a bad one reaches nothing.
func TestCustomerID(t *testing.T) {
	h := newHarnessWith(t, nil, nil)
	for _, id := range []string{"", "cust-42", "a2b9649edf7f4349adff1c57283fef10"} {
		t.Run(fmt.Sprintf("%q", id), func(t *testing.T) {
			it := h.Item("CID-1")
			it.CustomerID = id
			_, err := h.p.CreateAccounts(t.Context(), &provider.CreateRequest{IdempotencyKey: uuid.NewString(), Items: []provider.CreateItem{it}})
			if !errors.Is(err, bank.ErrInvalidArgument) {
				t.Fatalf("err = %v, want invalid argument", err)
			}
			if f := bank.FieldsOf(err); len(f) != 1 || f[0].Pointer != "/items/0/customerId" {
				t.Errorf("fields = %v", f)
			}
			if n := h.mock.AccountCount(); n != 0 {
				t.Errorf("a refused item reached the mock")
			}
		})
	}
}

// Close deletes with the unified reason, reads the account back as CLOSED,
// and is safe to repeat.
func TestClose(t *testing.T) {
	h := newHarnessWith(t, func(c *parentprimary.Config) { c.CloseReason = "Tidy up" }, nil)
	tests := []struct {
		name    string
		funds   string
		reason  *provider.CloseReason
		repeat  *provider.CloseReason // a second close, if any
		want    error
		reason0 string // the reason the mock recorded
		notes   *string
	}{
		{"with reason and notes", "", &provider.CloseReason{IdempotencyKey: uuid.NewString(), Reason: "Customer left", RequestedBy: "ops@example.com", Notes: "ticket 42"},
			nil, nil, "Customer left", ptr("ticket 42")},
		{"defaults", "", &provider.CloseReason{}, nil, nil, "Tidy up", nil},
		{"same key again", "", &provider.CloseReason{IdempotencyKey: "k-1", Reason: "r"},
			&provider.CloseReason{IdempotencyKey: "k-1", Reason: "r"}, nil, "r", nil},
		{"another key on a deleted account", "", &provider.CloseReason{IdempotencyKey: uuid.NewString(), Reason: "r"},
			&provider.CloseReason{IdempotencyKey: uuid.NewString(), Reason: "again"}, bank.ErrFailedPrecondition, "r", nil},
		{"account holds funds", "12.50", &provider.CloseReason{Reason: "r"}, nil, bank.ErrFailedPrecondition, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			acc := h.createOne(t, h.Item("CL-"+tc.name))
			if tc.funds != "" {
				if _, err := h.mock.Transfer(parents()["GBP"], acc.ProviderAccountID, tc.funds); err != nil {
					t.Fatal(err)
				}
			}
			got, err := h.p.Close(t.Context(), acc.ProviderAccountID, tc.reason)
			if tc.repeat != nil && err == nil {
				got, err = h.p.Close(t.Context(), acc.ProviderAccountID, tc.repeat)
			}
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("err = %v, want %v", err, tc.want)
				}
				want := parentprimarymock.StateReady // a refused first close changes nothing
				if tc.repeat != nil {
					want = parentprimarymock.StateDeleted // the first close stands
				}
				if rec, _ := h.mock.Account(acc.ProviderAccountID); rec.State != want {
					t.Errorf("state %s after a refused close, want %s", rec.State, want)
				}
				return
			}
			if err != nil {
				t.Fatalf("close: %v", err)
			}
			if got.Status != bank.StatusClosed || got.ProviderStatus != parentprimary.StateDeleted || got.AccountName != acc.AccountName {
				t.Errorf("closed account = %s/%s %q", got.Status, got.ProviderStatus, got.AccountName)
			}
			rec, _ := h.mock.Account(acc.ProviderAccountID)
			d := rec.Deletion
			if d == nil || d.Reason != tc.reason0 || deref(d.Notes) != deref(tc.notes) || (d.Notes == nil) != (tc.notes == nil) {
				t.Fatalf("deletion = %+v, want reason %q notes %v", d, tc.reason0, tc.notes)
			}
			wantBy := tc.reason.RequestedBy
			if wantBy == "" {
				wantBy = parentprimary.DefaultRequestedBy
			}
			if d.RequestedBy != wantBy {
				t.Errorf("requestedBy = %q, want %q", d.RequestedBy, wantBy)
			}
			if d.IdempotencyKey != parentprimary.CloseKey(acc.ProviderAccountID, tc.reason.IdempotencyKey) {
				t.Errorf("delete key %s, want the derived one", d.IdempotencyKey)
			}
		})
	}
	t.Run("missing account", func(t *testing.T) {
		if _, err := h.p.Close(t.Context(), h.MissingRef(), &provider.CloseReason{}); !errors.Is(err, bank.ErrNotFound) {
			t.Errorf("err = %v, want not found", err)
		}
	})
}

func ptr(s string) *string { return &s }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// States map to unified statuses, keeping the raw one.
func TestStates(t *testing.T) {
	h := newHarnessWith(t, nil, nil)
	tests := []struct {
		name   string
		setup  func(t *testing.T, id string)
		status bank.Status
		raw    string
	}{
		{"ready", func(*testing.T, string) {}, bank.StatusActive, "READY"},
		{"blocked", func(t *testing.T, id string) {
			if err := h.mock.SetBlocked(id, true); err != nil {
				t.Fatal(err)
			}
		}, bank.StatusBlocked, "BLOCKED"},
		{"pending", nil, bank.StatusPending, "PENDING"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup == nil {
				h.mock.SetConfig(parentprimarymock.Config{ReadyDelay: time.Hour})
				t.Cleanup(func() { h.mock.SetConfig(parentprimarymock.Config{}) })
			}
			acc := h.createOne(t, h.Item("ST-"+tc.name))
			if tc.setup != nil {
				tc.setup(t, acc.ProviderAccountID)
			}
			got, err := h.p.GetAccount(t.Context(), acc.ProviderAccountID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != tc.status || got.ProviderStatus != tc.raw {
				t.Errorf("status %s/%s, want %s/%s", got.Status, got.ProviderStatus, tc.status, tc.raw)
			}
			if got.Balance == nil || got.Balance.Available != "0.00" || got.Balance.Currency != "GBP" || got.CustomerID != h.Item("").CustomerID {
				t.Errorf("balance/customer = %+v %q", got.Balance, got.CustomerID)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	good := parentprimary.Config{BaseURL: "https://api.example.com", APIToken: "t", SigningSecret: "s", ParentAccounts: parents()}
	tests := []struct {
		name string
		edit func(*parentprimary.Config)
		want string
	}{
		{"good", func(*parentprimary.Config) {}, ""},
		{"no base url", func(c *parentprimary.Config) { c.BaseURL = "" }, "baseUrl"},
		{"relative base url", func(c *parentprimary.Config) { c.BaseURL = "/x" }, "baseUrl"},
		{"no token", func(c *parentprimary.Config) { c.APIToken = "" }, "apiToken"},
		{"no secret", func(c *parentprimary.Config) { c.SigningSecret = "" }, "signingSecret"},
		{"bad parent currency", func(c *parentprimary.Config) { c.ParentAccounts = map[string]string{"gbp": parents()["GBP"]} }, "parentAccounts"},
		{"bad parent id", func(c *parentprimary.Config) { c.ParentAccounts = map[string]string{"GBP": "x"} }, "parentAccounts.GBP"},
		{"bad product", func(c *parentprimary.Config) { c.ProductCodes = map[string]string{"GBP": "x y"} }, "productCodes.GBP"},
		{"bad currency", func(c *parentprimary.Config) { c.Currencies = []string{"pounds"} }, "currencies"},
		{"no currency", func(c *parentprimary.Config) { c.ParentAccounts = nil }, "currencies"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.edit(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want+":")):
				t.Fatalf("err = %v, want one naming %s", err, tc.want)
			}
		})
	}
}

// Secrets in the config never show when formatted or logged.
func TestSecretsRedacted(t *testing.T) {
	cfg := parentprimary.Config{APIToken: "tok-hunter2", SigningSecret: "sig-hunter2"}
	out := fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg.SigningSecret)
	if strings.Contains(out, "hunter2") {
		t.Errorf("secret shown: %s", out)
	}
}

func ExampleItemKey() {
	k := "7c9e6679-7425-40de-944b-e07fc1f90ae7"
	first, again, next := parentprimary.ItemKey(k, 0), parentprimary.ItemKey(k, 0), parentprimary.ItemKey(k, 1)
	fmt.Println(first == again, first == next)
	// Output: true false
}
