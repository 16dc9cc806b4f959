package masterfiat_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vagate/vagate/adapters/adaptertest"
	"github.com/vagate/vagate/adapters/masterfiat"
	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/provider"
	"github.com/vagate/vagate/mocks/fault"
	"github.com/vagate/vagate/mocks/masterfiatmock"
)

const webhookSecret = "whsec_test"

type harness struct {
	adaptertest.MockHarness
	mock *masterfiatmock.Mock
	srv  *httptest.Server
	cfg  masterfiat.Config
	// p is the adapter opened the production way, for this file's own tests.
	p *gateway.Provider
}

// routes are the mock routes of the operations the suite faults.
var routes = map[adaptertest.Op]adaptertest.Route{
	adaptertest.OpCreate: {Method: http.MethodPost, Path: "/api/v1/virtual-accounts"},
	adaptertest.OpGet:    {Method: http.MethodGet, Path: "/api/v1/virtual-accounts/*"},
}

// newHarness is the suite's harness: a fresh mock and the config of an
// adapter pointed at it that verifies webhooks signed with webhookSecret.
func newHarness(t testing.TB) adaptertest.Harness { return newMockHarness(t, nil, nil) }

func newMockHarness(t testing.TB, edit func(*masterfiat.Config), opts *masterfiatmock.Options) *harness {
	t.Helper()
	if opts == nil {
		opts = &masterfiatmock.Options{ActivationDelay: 20 * time.Millisecond, UnblockDelay: 20 * time.Millisecond, Seed: 1}
	}
	opts.FiatAccounts = masterfiatmock.DefaultFiatAccounts()
	opts.EndUsers = []masterfiatmock.EndUser{masterfiatmock.DefaultEndUser()}
	m := masterfiatmock.New(opts)
	srv := httptest.NewServer(m)
	t.Cleanup(func() { srv.Close(); m.Close() })
	def := masterfiatmock.DefaultClient()
	cfg := masterfiat.Config{BaseURL: srv.URL, ClientID: def.ID, ClientSecret: masterfiat.Secret(def.Secret),
		WebhookSecret: webhookSecret, MasterFiatAccounts: map[string]string{}}
	for _, f := range m.FiatAccounts() {
		cfg.MasterFiatAccounts[f.Currency] = f.ID
	}
	if edit != nil {
		edit(&cfg)
	}
	return &harness{MockHarness: adaptertest.MockHarness{Mock: m, Routes: routes}, mock: m, srv: srv, cfg: cfg}
}

// newHarnessWith is a harness whose adapter is opened the production way as h.p.
func newHarnessWith(t testing.TB, edit func(*masterfiat.Config), opts *masterfiatmock.Options) *harness {
	t.Helper()
	h := newMockHarness(t, edit, opts)
	h.p = adaptertest.OpenProvider(t, "masterfiat", h)
	return h
}

func (h *harness) Open(env provider.Env) (provider.Adapter, error) {
	return masterfiat.Open(h.cfg, &masterfiat.Options{HTTPClient: env.HTTPClient})
}

func (h *harness) Item(ref string) provider.CreateItem { return item(ref) }

func item(ref string) provider.CreateItem {
	return provider.CreateItem{Currency: "GBP", AccountHolderName: "Test Company Ltd", AccountName: "Test Virtual Account", ClientReference: ref}
}

const missingRef = "vac_000000000000000000"

func (h *harness) MissingRef() string { return missingRef }

// SignedCallback is the VIRTUAL_ACCOUNT.STATUS_UPDATED webhook the mock
// sends about the account: the account as the provider shows it, in an
// event created at c.SignedAt, signed with masterfiatmock.Sign.
func (h *harness) SignedCallback(t testing.TB, c adaptertest.Callback) (*http.Request, []byte) {
	t.Helper()
	va, ok := h.mock.Account(c.Account.ProviderAccountID)
	if !ok {
		t.Fatalf("mock lacks account %s", c.Account.ProviderAccountID)
	}
	body, err := json.Marshal(map[string]any{"id": "evt_" + strings.ToLower(uuid.NewString()[:18]), "event": masterfiatmock.EventStatusUpdated,
		"data": va, "previousValues": map[string]string{"status": "CREATED"}, "createdAt": c.SignedAt.UnixMilli()})
	if err != nil {
		t.Fatal(err)
	}
	r, err := http.NewRequest(http.MethodPost, "http://gateway.test/v1/providers/masterfiat/webhooks", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	d, in, sig := masterfiatmock.Sign(webhookSecret, body, c.SignedAt.Unix())
	r.Header.Set(masterfiat.HeaderDigest, d)
	r.Header.Set(masterfiat.HeaderSignatureInput, in)
	r.Header.Set(masterfiat.HeaderSignature, sig)
	return r, body
}

// CallbackTolerance is the default webhookTolerance the package doc gives
// (2h, the provider's retries), written out so the suite checks the
// adapter against its documentation rather than against itself.
func (h *harness) CallbackTolerance() time.Duration { return 2 * time.Hour }

func TestConformance(t *testing.T) {
	adaptertest.RunConformanceTests(t, newHarness)
}

// TestContract runs the behaviour cases against the provider in
// VAGATE_CONTRACT_MASTERFIAT.
func TestContract(t *testing.T) {
	adaptertest.RunContractTests(t, adaptertest.FromEnv(t, adaptertest.Contract{
		Driver: masterfiat.Driver, Item: item, MissingRef: missingRef,
	}))
}

func BenchmarkConformance(b *testing.B) {
	adaptertest.RunBenchmarks(b, newHarness)
}

func create(t *testing.T, h *harness, it provider.CreateItem) *bank.Account {
	t.Helper()
	res, err := h.p.CreateAccounts(t.Context(), &provider.CreateRequest{IdempotencyKey: uuid.NewString(), Items: []provider.CreateItem{it}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("create: %v %v", err, res)
	}
	return res[0].Account
}

// What the provider receives for an item, and what comes back.
func TestCreateMapping(t *testing.T) {
	eus := masterfiatmock.DefaultEndUser().ID
	tests := []struct {
		name  string
		item  provider.CreateItem
		check func(t *testing.T, v masterfiatmock.VirtualAccount, acc *bank.Account)
	}{
		{"member owned, label from accountName", provider.CreateItem{Currency: "EUR", AccountHolderName: "ACME GmbH", AccountName: "ACME EUR",
			ClientReference: "REF-1", Metadata: map[string]string{"team": "ops"}},
			func(t *testing.T, v masterfiatmock.VirtualAccount, acc *bank.Account) {
				if v.Owner.Type != "MEMBER" || *v.Label != "ACME EUR" || v.MasterFiatAccountID != "fac_eur000000000000001" ||
					v.Metadata["clientReference"] != "REF-1" || v.Metadata["accountHolderName"] != "ACME GmbH" || v.Metadata["team"] != "ops" {
					t.Errorf("provider holds %+v", v)
				}
				if acc.ClientReference != "REF-1" || acc.AccountHolderName != "ACME GmbH" || acc.AccountName != "ACME EUR" ||
					acc.Metadata["team"] != "ops" || len(acc.Metadata) != 1 || acc.Status != bank.StatusPending || acc.ProviderStatus != "CREATED" {
					t.Errorf("unified %+v", acc)
				}
			}},
		{"end user from params, label param", provider.CreateItem{Currency: "USD", AccountHolderName: "Jane Smith", AccountName: "Jane",
			Params: map[string]string{"endUserId": eus, "label": "Jane USD", "masterFiatAccountId": "fac_usd000000000000001"}},
			func(t *testing.T, v masterfiatmock.VirtualAccount, acc *bank.Account) {
				if v.Owner.Type != "END_USER" || v.Owner.ID != eus || *v.Label != "Jane USD" {
					t.Errorf("provider holds %+v", v)
				}
			}},
		{"end user from customerId", provider.CreateItem{Currency: "GBP", AccountHolderName: "Jane Smith", AccountName: "Jane", CustomerID: eus},
			func(t *testing.T, v masterfiatmock.VirtualAccount, acc *bank.Account) {
				if v.Owner.Type != "END_USER" || v.Owner.ID != eus {
					t.Errorf("provider holds %+v", v)
				}
			}},
		{"other customerId stays member owned", provider.CreateItem{Currency: "GBP", AccountHolderName: "Jane Smith", AccountName: "Jane", CustomerID: "cust-42"},
			func(t *testing.T, v masterfiatmock.VirtualAccount, acc *bank.Account) {
				if v.Owner.Type != "MEMBER" {
					t.Errorf("provider holds %+v", v)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarnessWith(t, nil, nil)
			acc := create(t, h, tc.item)
			v, ok := h.mock.Account(acc.ProviderAccountID)
			if !ok {
				t.Fatalf("mock lacks %s", acc.ProviderAccountID)
			}
			tc.check(t, v, acc)
		})
	}
}

// Every provider status maps to its unified one; bank details and times carry over.
func TestAccountMapping(t *testing.T) {
	tests := []struct {
		status string
		want   bank.Status
	}{
		{"CREATED", bank.StatusPending}, {"ACTIVE", bank.StatusActive}, {"ACTIVATION_FAILED", bank.StatusFailed},
		{"BLOCKED", bank.StatusBlocked}, {"UNBLOCKING", bank.StatusUnblocking}, {"CLOSED", bank.StatusClosed},
	}
	for _, tc := range tests {
		t.Run(tc.status, func(t *testing.T) {
			body := fmt.Sprintf(`{"id":"vac_5opkx8g1jo50lz4m3e","masterFiatAccountId":"fac_p96ed8b1k3n7zvma4o","status":%q,"currency":"USD",
				"owner":{"type":"END_USER","id":"eus_j82rl497g47g5ykvzn"},"businessId":"biz_emv4j231821oaz56yx","label":"Treasury",
				"bankDetails":[{"bankName":"Bank","accountHolderName":"Jane Smith","country":"US","accountNumber":"123456789012",
				"routingCodes":[{"type":"ABA","value":"026009593"},{"type":"WIRE","value":"026009593"}]}],
				"createdAt":1637593856104,"updatedAt":"1637593856999","metadata":"{\"clientReference\":\"R\",\"n\":7}"}`, tc.status)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) }))
			defer srv.Close()
			a, err := masterfiat.Open(masterfiat.Config{BaseURL: srv.URL, Token: "t"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			acc, err := a.GetAccount(t.Context(), "vac_5opkx8g1jo50lz4m3e")
			if err != nil {
				t.Fatal(err)
			}
			d := acc.BankDetails
			if acc.Status != tc.want || acc.ProviderStatus != tc.status || acc.AccountName != "Treasury" || acc.ClientReference != "R" ||
				acc.AccountHolderName != "Jane Smith" || acc.Metadata["n"] != "7" || len(d) != 1 || d[0].AccountNumber != "123456789012" ||
				len(d[0].RoutingCodes) != 2 || d[0].RoutingCodes[1] != (bank.RoutingCode{Type: "WIRE", Value: "026009593"}) ||
				!acc.CreatedAt.Equal(time.UnixMilli(1637593856104)) || !acc.UpdatedAt.Equal(time.UnixMilli(1637593856999)) || len(acc.Raw) == 0 {
				t.Errorf("mapped %+v", acc)
			}
		})
	}
	t.Run("unknown status", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"id":"vac_1","status":"FROZEN","currency":"USD"}`)
		}))
		defer srv.Close()
		a, _ := masterfiat.Open(masterfiat.Config{BaseURL: srv.URL, Token: "t"}, nil)
		var me *provider.MalformedError
		if _, err := a.GetAccount(t.Context(), "vac_1"); !errors.As(err, &me) || a.ErrorCode(err) != bank.Unknown {
			t.Errorf("err = %v, want a malformed answer", err)
		}
	})
}

// With several items each gets its own result: one refused item fails alone.
func TestCreateSeveral(t *testing.T) {
	h := newHarnessWith(t, nil, nil)
	bad := h.Item("S-2")
	bad.Params = map[string]string{"endUserId": "eus_nobody000000000000"}
	res, err := h.p.CreateAccounts(t.Context(), &provider.CreateRequest{IdempotencyKey: uuid.NewString(),
		Items: []provider.CreateItem{h.Item("S-1"), bad, h.Item("S-3")}})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Err != nil || res[2].Err != nil || !errors.Is(res[1].Err, bank.ErrInvalidArgument) || res[1].Account != nil {
		t.Fatalf("results %+v", res)
	}
	if h.mock.AccountCount() != 2 {
		t.Errorf("mock holds %d accounts, want 2", h.mock.AccountCount())
	}
}

func TestValidateParams(t *testing.T) {
	h := newHarnessWith(t, func(c *masterfiat.Config) {
		delete(c.MasterFiatAccounts, "USD")
		c.Currencies = []string{"GBP", "EUR", "USD"}
	}, nil)
	tests := []struct {
		name     string
		currency string
		params   map[string]string
		want     []string
	}{
		{"none needed", "GBP", nil, nil},
		{"all good", "GBP", map[string]string{"endUserId": "eus_abc", "masterFiatAccountId": "fac_abc", "label": "L"}, nil},
		{"unknown key", "GBP", map[string]string{"ownerType": "MEMBER"}, []string{"/ownerType"}},
		{"bad ids and label", "GBP", map[string]string{"endUserId": "usr_1", "masterFiatAccountId": "acc_1", "label": " "},
			[]string{"/endUserId", "/label", "/masterFiatAccountId"}},
		{"no master account for currency", "USD", nil, []string{"/masterFiatAccountId"}},
		{"master account given", "USD", map[string]string{"masterFiatAccountId": "fac_usd000000000000001"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := h.p.Adapter().(provider.ParamsValidator).ValidateParams(tc.currency, tc.params)
			var got []string
			for _, f := range fs {
				got = append(got, f.Pointer)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("fields %v, want %v", fs, tc.want)
			}
		})
	}
	item := h.Item("P-1")
	item.Currency = "USD"
	_, err := h.p.CreateAccounts(t.Context(), &provider.CreateRequest{IdempotencyKey: uuid.NewString(), Items: []provider.CreateItem{item}})
	if fs := bank.FieldsOf(err); len(fs) != 1 || fs[0].Pointer != "/items/0/providerParams/masterFiatAccountId" {
		t.Errorf("create without a master account: %v %v", err, fs)
	}
}

type sink struct {
	mu     sync.Mutex
	reqs   []*http.Request
	bodies [][]byte
}

func newSink(t *testing.T) (*sink, *httptest.Server) {
	s := &sink{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.reqs, s.bodies = append(s.reqs, r.Clone(r.Context())), append(s.bodies, b)
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return s, srv
}

func (s *sink) first(t *testing.T) (*http.Request, []byte) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		if len(s.reqs) > 0 {
			defer s.mu.Unlock()
			return s.reqs[0], s.bodies[0]
		}
		s.mu.Unlock()
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatal("no webhook within 3s")
	return nil, nil
}

// resign replaces the signature headers of r as the mock would sign body with secret at created.
func resign(r *http.Request, secret string, body []byte, created int64) *http.Request {
	c := r.Clone(r.Context())
	d, in, sig := masterfiatmock.Sign(secret, body, created)
	c.Header.Set(masterfiat.HeaderDigest, d)
	c.Header.Set(masterfiat.HeaderSignatureInput, in)
	c.Header.Set(masterfiat.HeaderSignature, sig)
	return c
}

// Webhooks signed by the mock verify and map to account updates; anything
// forged, tampered, stale or unbound is refused.
func TestWebhookVerify(t *testing.T) {
	h := newHarnessWith(t, nil, nil)
	s, srv := newSink(t)
	if _, err := h.mock.AddWebhook(srv.URL, []string{masterfiatmock.EventStatusUpdated}, webhookSecret); err != nil {
		t.Fatal(err)
	}
	acc := create(t, h, h.Item("WH-1"))
	r, body := s.first(t)
	evs, err := h.p.VerifyWebhook(r, body)
	if err != nil {
		t.Fatalf("genuine webhook: %v", err)
	}
	if len(evs) != 1 || evs[0].Type != bank.EventAccountUpdated || evs[0].ProviderAccountID != acc.ProviderAccountID ||
		evs[0].Account.Status != bank.StatusActive || evs[0].Account.ClientReference != "WH-1" || len(evs[0].Account.BankDetails) != 1 ||
		!evs[0].At.Equal(evs[0].Account.UpdatedAt) || !evs[0].At.After(acc.UpdatedAt) {
		t.Fatalf("events %+v", evs)
	}
	var ev struct {
		CreatedAt int64 `json:"createdAt"`
	}
	json.Unmarshal(body, &ev)
	created := ev.CreatedAt / 1000
	tampered := bytes.Replace(body, []byte(`"ACTIVE"`), []byte(`"CLOSED"`), 1)
	otherEvent := []byte(fmt.Sprintf(`{"id":"evt_1","event":"PAYMENT.CREATED","data":{},"createdAt":%d}`, ev.CreatedAt))
	tests := []struct {
		name   string
		req    *http.Request
		body   []byte
		events int // -1 = refused
	}{
		{"tampered body", r, tampered, -1},
		{"tampered body with its own digest", func() *http.Request {
			c := resign(r, webhookSecret, tampered, created)
			c.Header.Set(masterfiat.HeaderSignature, r.Header.Get(masterfiat.HeaderSignature))
			return c
		}(), tampered, -1},
		{"another secret", resign(r, "not-the-secret", body, created), body, -1},
		{"stale", resign(r, webhookSecret, body, time.Now().Add(-3*time.Hour).Unix()), body, -1},
		{"created not the event's", resign(r, webhookSecret, body, created-1), body, -1},
		{"no signature", func() *http.Request { c := r.Clone(t.Context()); c.Header.Del(masterfiat.HeaderSignature); return c }(), body, -1},
		{"other signature label", func() *http.Request {
			c := r.Clone(t.Context())
			c.Header.Set(masterfiat.HeaderSignatureInput, strings.Replace(r.Header.Get(masterfiat.HeaderSignatureInput), "fr1", "sig1", 1))
			return c
		}(), body, -1},
		{"genuine again (duplicate)", r, body, 1},
		{"other object", resign(r, webhookSecret, otherEvent, created), otherEvent, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := h.p.VerifyWebhook(tc.req, tc.body)
			switch {
			case tc.events < 0 && bank.Code(err) != bank.Unauthenticated:
				t.Errorf("err = %v, want unauthenticated", err)
			case tc.events >= 0 && (err != nil || len(evs) != tc.events):
				t.Errorf("events %v, err %v; want %d events", evs, err, tc.events)
			}
		})
	}
	noSecret := newHarnessWith(t, func(c *masterfiat.Config) { c.WebhookSecret = "" }, nil)
	if noSecret.p.Supports(provider.CapWebhooks) {
		t.Error("webhooks declared without a secret")
	}
}

// A token rejected by the provider is dropped so the next call fetches a new one.
func TestTokenRefreshAfter401(t *testing.T) {
	h := newHarnessWith(t, nil, nil)
	acc := create(t, h, h.Item("TK-1"))
	h.Fault(t, adaptertest.OpGet, fault.Rule{Action: fault.ActionError, Status: 401, Times: 1})
	if _, err := h.p.GetAccount(t.Context(), acc.ProviderAccountID); bank.Code(err) != bank.Unauthenticated {
		t.Fatalf("err = %v, want unauthenticated", err)
	}
	if _, err := h.p.GetAccount(t.Context(), acc.ProviderAccountID); err != nil {
		t.Fatalf("after token refresh: %v", err)
	}
	bad := newHarnessWith(t, func(c *masterfiat.Config) { c.ClientSecret = "wrong" }, nil)
	if _, err := bad.p.GetAccount(t.Context(), acc.ProviderAccountID); bank.Code(err) != bank.Unauthenticated {
		t.Errorf("wrong client secret: err = %v, want unauthenticated", err)
	}
}

// Lifecycle errors the status does not allow are failed preconditions, not conflicts.
func TestLifecycleErrors(t *testing.T) {
	h := newHarnessWith(t, nil, &masterfiatmock.Options{ActivationDelay: time.Hour})
	acc := create(t, h, h.Item("LC-1"))
	for name, call := range map[string]func() error{
		"block CREATED":   func() error { _, err := h.p.Block(t.Context(), acc.ProviderAccountID); return err },
		"unblock CREATED": func() error { _, err := h.p.Unblock(t.Context(), acc.ProviderAccountID); return err },
	} {
		if err := call(); !errors.Is(err, bank.ErrFailedPrecondition) {
			t.Errorf("%s: err = %v, want failed precondition", name, err)
		}
	}
	closed, err := h.p.Close(t.Context(), acc.ProviderAccountID, &provider.CloseReason{Reason: "customer left"})
	if err != nil || closed.Status != bank.StatusClosed {
		t.Fatalf("close a CREATED account: %v %+v", err, closed)
	}
	if _, err := h.p.Block(t.Context(), h.MissingRef()); !errors.Is(err, bank.ErrNotFound) {
		t.Errorf("block a missing account: %v", err)
	}
}

// Secrets in the config never show when formatted or logged.
func TestSecretsRedacted(t *testing.T) {
	cfg := masterfiat.Config{ClientSecret: "hunter2", WebhookSecret: "whsec_x", Token: "tok123"}
	b, _ := json.Marshal(map[string]any{"s": fmt.Sprint(cfg.ClientSecret), "v": fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg)})
	for _, s := range []string{"hunter2", "whsec_x", "tok123"} {
		if bytes.Contains(b, []byte(s)) {
			t.Errorf("formatted config leaks %s: %s", s, b)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  masterfiat.Config
		want string
	}{
		{"no base url", masterfiat.Config{Token: "t"}, "baseUrl"},
		{"relative base url", masterfiat.Config{BaseURL: "/x", Token: "t"}, "baseUrl"},
		{"no credentials", masterfiat.Config{BaseURL: "http://x"}, "clientId"},
		{"bad tolerance", masterfiat.Config{BaseURL: "http://x", Token: "t", WebhookTolerance: "soon"}, "webhookTolerance"},
		{"bad master currency", masterfiat.Config{BaseURL: "http://x", Token: "t", MasterFiatAccounts: map[string]string{"gbp": "fac_1"}}, "masterFiatAccounts"},
		{"bad master id", masterfiat.Config{BaseURL: "http://x", Token: "t", MasterFiatAccounts: map[string]string{"GBP": "acc_1"}}, "masterFiatAccounts.GBP"},
		{"bad currency", masterfiat.Config{BaseURL: "http://x", Token: "t", Currencies: []string{"US"}}, "currencies"},
		{"ok", masterfiat.Config{BaseURL: "http://x", ClientID: "a", ClientSecret: "b", WebhookTolerance: "30m"}, ""},
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
	a, _ := masterfiat.Open(masterfiat.Config{BaseURL: "http://x", Token: "t", MasterFiatAccounts: map[string]string{"USD": "fac_1", "EUR": "fac_2"}}, nil)
	if c := a.Capabilities(); fmt.Sprint(c.Currencies) != "[EUR USD]" || c.MaxBatch != 1 || c.Unallocated || c.IdempotentCreate {
		t.Errorf("capabilities %+v", c)
	}
}

// Where the document leaves two readings the adapter reads both: routingCodes
// as its documented object and as an array ("one or more"), and metadata as
// its documented string and as an object; it sends metadata as the
// documented string, which a strict mock requires.
func TestDocumentReadings(t *testing.T) {
	tests := []struct {
		name  string
		opts  masterfiatmock.Options
		codes int
	}{
		{"routingCodes object, lenient mock", masterfiatmock.Options{}, 1},
		{"routingCodes array, strict mock", masterfiatmock.Options{RoutingCodesArray: true, Strict: true}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.ActivationDelay, opts.Seed = -1, 1
			h := newHarnessWith(t, nil, &opts)
			it := item("READ-1")
			it.Currency, it.Metadata = "USD", map[string]string{"team": "ops"}
			acc := create(t, h, it)
			got, err := h.p.GetAccount(t.Context(), acc.ProviderAccountID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != bank.StatusActive || len(got.BankDetails) != 1 {
				t.Fatalf("account = %+v", got)
			}
			d := got.BankDetails[0]
			if len(d.RoutingCodes) != tc.codes || d.RoutingCodes[0].Type != "ABA" || d.Type != masterfiat.BankDetailsAccountNumber {
				t.Errorf("bank details = %+v, want %d routing codes, ABA first, type %s", d, tc.codes, masterfiat.BankDetailsAccountNumber)
			}
			if got.ClientReference != "READ-1" || got.Metadata["team"] != "ops" || got.AccountHolderName != it.AccountHolderName {
				t.Errorf("metadata did not round-trip: %+v", got)
			}
			var raw struct {
				Metadata json.RawMessage `json:"metadata"`
			}
			if json.Unmarshal(got.Raw, &raw) != nil || len(raw.Metadata) == 0 || raw.Metadata[0] != '"' {
				t.Errorf("provider metadata = %s, want the documented string", raw.Metadata)
			}
		})
	}
}

// A close sends who asked and the notes beside the reason; the provider
// keeps them.
func TestCloseSendsWhoAndWhy(t *testing.T) {
	h := newHarnessWith(t, nil, &masterfiatmock.Options{ActivationDelay: -1, Seed: 1})
	tests := []struct {
		name   string
		reason *provider.CloseReason
		want   masterfiatmock.Closure
		sent   bool
	}{
		{"every field", &provider.CloseReason{Reason: "Customer left", RequestedBy: "ops@example.com", Notes: "ticket 42"},
			masterfiatmock.Closure{Reason: "Customer left", RequestedBy: "ops@example.com", Notes: "ticket 42"}, true},
		{"who only", &provider.CloseReason{RequestedBy: "tenant-a"}, masterfiatmock.Closure{RequestedBy: "tenant-a"}, true},
		{"nothing", &provider.CloseReason{}, masterfiatmock.Closure{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			acc := create(t, h, item("CLOSE-"+tc.name))
			got, err := h.p.Close(t.Context(), acc.ProviderAccountID, tc.reason)
			if err != nil || got.Status != bank.StatusClosed {
				t.Fatalf("close: %+v, %v", got, err)
			}
			c, sent := h.mock.Closure(acc.ProviderAccountID)
			if sent != tc.sent || c != tc.want {
				t.Errorf("provider recorded %+v (%v), want %+v (%v)", c, sent, tc.want, tc.sent)
			}
		})
	}
}
