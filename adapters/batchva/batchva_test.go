package batchva_test

import (
	"bytes"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vagate/vagate/adapters/adaptertest"
	"github.com/vagate/vagate/adapters/batchva"
	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/provider"
	"github.com/vagate/vagate/mocks/batchvamock"
	"github.com/vagate/vagate/mocks/fault"
)

type harness struct {
	adaptertest.MockHarness
	mock *batchvamock.Mock
	srv  *httptest.Server
	cfg  batchva.Config
	// p is the adapter opened the production way, for this file's own tests.
	p *gateway.Provider
}

// routes are the mock routes of the operations the suite faults.
var routes = map[adaptertest.Op]adaptertest.Route{
	adaptertest.OpCreate:   {Method: http.MethodPost, Path: "/v1/virtual-accounts"},
	adaptertest.OpGet:      {Method: http.MethodGet, Path: "/v1/virtual-accounts/*"},
	adaptertest.OpAllocate: {Method: http.MethodPatch, Path: "/v1/virtual-accounts/*"},
}

// newHarness is the suite's harness: a fresh mock, and the config of an
// adapter pointed at it that verifies the mock's HMAC-signed callbacks.
func newHarness(t testing.TB) adaptertest.Harness { return newMockHarness(t, nil) }

func newMockHarness(t testing.TB, edit func(*batchva.Config)) *harness {
	t.Helper()
	m := batchvamock.New(&batchvamock.Options{PendingDelay: 5 * time.Millisecond, ProcessDelay: 10 * time.Millisecond, Seed: 1})
	srv := httptest.NewServer(m)
	t.Cleanup(func() { srv.Close(); m.Close() })
	def := batchvamock.DefaultClient()
	cfg := batchva.Config{BaseURL: srv.URL, ClientID: def.ID, ClientSecret: batchva.Secret(def.Secret), SigningSecret: batchva.Secret(def.SigningSecret)}
	if edit != nil {
		edit(&cfg)
	}
	return &harness{MockHarness: adaptertest.MockHarness{Mock: m, Routes: routes}, mock: m, srv: srv, cfg: cfg}
}

// newHarnessWith is a harness whose adapter is opened the production way as h.p.
func newHarnessWith(t testing.TB, edit func(*batchva.Config)) *harness {
	t.Helper()
	h := newMockHarness(t, edit)
	h.p = adaptertest.OpenProvider(t, "bcb", h)
	return h
}

func (h *harness) Open(env provider.Env) (provider.Adapter, error) {
	return batchva.Open(h.cfg, &batchva.Options{HTTPClient: env.HTTPClient})
}

func (h *harness) Item(ref string) provider.CreateItem { return item(ref) }

func item(ref string) provider.CreateItem {
	return provider.CreateItem{Currency: "USD", AccountHolderName: "Test Company Ltd", AccountName: "Test Virtual Account", ClientReference: ref}
}

const (
	missingRef = "9999999999"
	// missingJob is a job id of the mock's form that it never issued.
	missingJob = "00000000-0000-4000-8000-000000000000"
)

func (h *harness) MissingRef() string { return missingRef }

func (h *harness) MissingOperation() string { return missingJob }

// SignedCallback is the job-completion callback the mock sends for the
// create's job: the job's status as the provider serves it, signed with
// HMAC-SHA256 over "<timestamp>.<nonce>.<body>" like the mock's.
func (h *harness) SignedCallback(t testing.TB, c adaptertest.Callback) (*http.Request, []byte) {
	t.Helper()
	job := jobIDs(t, c.Operation)[0]
	tok, err := h.mock.Token(h.cfg.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	status, err := http.NewRequest(http.MethodGet, h.srv.URL+"/v1/virtual-accounts/jobs/"+job, nil)
	if err != nil {
		t.Fatal(err)
	}
	status.Header.Set("Authorization", "Bearer "+tok)
	resp, err := h.srv.Client().Do(status)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("job %s status: %d %s %v", job, resp.StatusCode, body, err)
	}
	ts, nonce := strconv.FormatInt(c.SignedAt.Unix(), 10), uuid.NewString()
	mac := hmac.New(sha256.New, []byte(h.cfg.SigningSecret))
	mac.Write(batchvamock.SignedPayload(ts, nonce, body))
	r, err := http.NewRequest(http.MethodPost, "http://gateway.test/v1/providers/bcb/webhooks", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set(batchvamock.HeaderTimestamp, ts)
	r.Header.Set(batchvamock.HeaderNonce, nonce)
	r.Header.Set(batchvamock.HeaderSignature, base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	return r, body
}

// CallbackTolerance is the skew the package doc gives Bcb-Timestamp
// ("within five minutes"), written out so the suite checks the adapter
// against its documentation rather than against itself.
func (h *harness) CallbackTolerance() time.Duration { return 5 * time.Minute }

// SingleUseNonce: every callback carries a signed Bcb-Nonce.
func (h *harness) SingleUseNonce() bool { return true }

func TestConformance(t *testing.T) {
	adaptertest.RunConformanceTests(t, newHarness)
}

// TestContract runs the behaviour cases against the provider in
// VAGATE_CONTRACT_BATCHVA.
func TestContract(t *testing.T) {
	adaptertest.RunContractTests(t, adaptertest.FromEnv(t, adaptertest.Contract{
		Driver: batchva.Driver, Item: item, MissingRef: missingRef, MissingOperation: missingJob,
	}))
}

func BenchmarkConformance(b *testing.B) {
	adaptertest.RunBenchmarks(b, newHarness)
}

// A create of more than 1000 items is split into provider jobs of at most
// 1000, each with its own deterministic key; a resend creates nothing new.
func TestChunking(t *testing.T) {
	h := newHarnessWith(t, nil)
	items := make([]provider.CreateItem, 1001)
	for i := range items {
		items[i] = provider.CreateItem{Currency: "USD", Unallocated: true, ClientReference: fmt.Sprintf("CHUNK-%04d", i)}
	}
	req := &provider.CreateRequest{IdempotencyKey: uuid.NewString(), Items: items}
	sub, err := h.p.Submit(t.Context(), req)
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	if !sub.Pending || len(jobIDs(t, sub.Operation)) != 2 {
		t.Fatalf("operation = %q, want two provider jobs", sub.Operation)
	}
	res, err := h.p.Await(t.Context(), sub.Operation, req)
	if err != nil {
		t.Fatalf("Await: %v", err)
	}
	for i, r := range res.Items {
		if r.Err != nil || r.Account.ClientReference != items[i].ClientReference {
			t.Fatalf("item %d: %v %+v", i, r.Err, r.Account)
		}
	}
	again, err := h.p.Submit(t.Context(), req)
	if err != nil || again.Operation != sub.Operation {
		t.Fatalf("resend: %v, operation %q, want %q", err, again.Operation, sub.Operation)
	}
	if n := h.mock.AccountCount(); n != 1001 {
		t.Errorf("mock holds %d accounts, want 1001", n)
	}
}

// Items the provider refuses come back as per-item failed preconditions.
func TestItemFailures(t *testing.T) {
	h := newHarnessWith(t, nil)
	h.mock.SetConfig(batchvamock.Config{PendingDelay: 5 * time.Millisecond, ProcessDelay: 10 * time.Millisecond, ItemFailureRate: 1})
	res, err := h.p.CreateAccounts(t.Context(), &provider.CreateRequest{IdempotencyKey: uuid.NewString(),
		Items: []provider.CreateItem{h.Item("F-1"), h.Item("F-2")}})
	if err != nil {
		t.Fatalf("CreateAccounts: %v", err)
	}
	for i, r := range res {
		if !errors.Is(r.Err, bank.ErrFailedPrecondition) || r.Account != nil {
			t.Errorf("item %d: %v, want failed precondition and no account", i, r.Err)
		}
		if code := bank.ProviderCodeOf(r.Err); code != "ITEM_REJECTED" || r.ProviderJobID == "" {
			t.Errorf("item %d: provider code %q, job %q; want ITEM_REJECTED and the provider's job", i, code, r.ProviderJobID)
		}
	}
}

// dob and nativeLanguageName of an unallocated item reach the provider
// (they may be set while an account is unallocated), and the account stays
// unallocated.
func TestUnallocatedIdentityDetails(t *testing.T) {
	h := newHarnessWith(t, nil)
	it := provider.CreateItem{Currency: "USD", Unallocated: true, ClientReference: "U-DOB", DOB: "1985-05-20", NativeLanguageName: "Jane"}
	res, err := h.p.CreateAccounts(t.Context(), &provider.CreateRequest{IdempotencyKey: uuid.NewString(), Items: []provider.CreateItem{it}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("create: %v %v", err, res)
	}
	acc := res[0].Account
	if acc.Status != bank.StatusUnallocated || acc.DOB != "1985-05-20" || acc.NativeLanguageName != "Jane" {
		t.Errorf("account = %+v, want unallocated with the dob and native name", acc)
	}
	var raw struct {
		Dob                string `json:"dob"`
		NativeLanguageName string `json:"nativeLanguageName"`
	}
	if json.Unmarshal(acc.Raw, &raw) != nil || raw.Dob != "1985-05-20" || raw.NativeLanguageName != "Jane" {
		t.Errorf("the provider holds %s, want the dob and native name", acc.Raw)
	}
}

// The adapter follows the statusUrl and resultUrl the provider answers,
// not paths of its own, as long as they are on the provider's origin (the
// bearer token goes with them); an operation of job ids alone, as earlier
// versions made, is still polled.
func TestStatusAndResultURLs(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.Method+" "+r.URL.Path)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/virtual-accounts":
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprintf(w, `{"jobId":"J1","status":"Pending","statusUrl":%q,"resultUrl":%q}`, r.Header.Get("X-Status-URL"), r.Header.Get("X-Result-URL"))
		case "/jobs-v2/J1", "/v1/virtual-accounts/jobs/J1":
			io.WriteString(w, `{"jobId":"J1","status":"Completed","totalItems":1,"processedItems":1,"successfulItems":1}`)
		case "/jobs-v2/J1/items", "/v1/virtual-accounts/jobs/J1/results":
			io.WriteString(w, `{"jobId":"J1","status":"Completed","items":[{"index":0,"status":"Succeeded","virtualAccount":{"virtualAccountNumber":"1000327642","bicCode":"BPBKBMHMXXX","accountHolderName":"A","accountName":"B","currency":"USD"}}]}`)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	tests := []struct {
		name      string
		statusURL string
		resultURL string
		legacy    bool
		want      []string // the paths polled
		malformed bool
	}{
		{"the provider's URLs", srv.URL + "/jobs-v2/J1", srv.URL + "/jobs-v2/J1/items", false, []string{"GET /jobs-v2/J1", "GET /jobs-v2/J1/items"}, false},
		{"another host", "http://attacker.test/jobs/J1", srv.URL + "/jobs-v2/J1/items", false, nil, true},
		{"job ids only (earlier operations)", "", "", true, []string{"GET /v1/virtual-accounts/jobs/J1", "GET /v1/virtual-accounts/jobs/J1/results"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := batchva.Open(batchva.Config{BaseURL: srv.URL, Token: "t"}, &batchva.Options{HTTPClient: &http.Client{Transport: headerTransport{
				"X-Status-URL": tc.statusURL, "X-Result-URL": tc.resultURL}}})
			if err != nil {
				t.Fatal(err)
			}
			req := &provider.CreateRequest{Items: []provider.CreateItem{{Currency: "USD", AccountHolderName: "A", AccountName: "B"}}}
			op := "J1"
			if !tc.legacy {
				res, err := a.CreateAccounts(t.Context(), req)
				var me *provider.MalformedError
				if tc.malformed {
					if !errors.As(err, &me) {
						t.Fatalf("err = %v, want a malformed answer", err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				op = res.Operation
			}
			mu.Lock()
			paths = nil
			mu.Unlock()
			res, err := a.PollCreate(t.Context(), op, req)
			if err != nil || len(res.Items) != 1 || res.Items[0].Account == nil || res.Items[0].ProviderJobID != "J1" {
				t.Fatalf("poll: %+v, %v", res, err)
			}
			mu.Lock()
			defer mu.Unlock()
			if fmt.Sprint(paths) != fmt.Sprint(tc.want) {
				t.Errorf("polled %v, want %v", paths, tc.want)
			}
		})
	}
}

// headerTransport adds headers to every request (here: which URLs the stub
// provider answers).
type headerTransport map[string]string

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range h {
		r.Header.Set(k, v)
	}
	return http.DefaultTransport.RoundTrip(r)
}

type callbackSink struct {
	mu   sync.Mutex
	reqs []*http.Request
	body [][]byte
	got  chan struct{}
}

func newSink(t *testing.T) (*callbackSink, *httptest.Server) {
	s := &callbackSink{got: make(chan struct{}, 16)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.reqs = append(s.reqs, r.Clone(r.Context()))
		s.body = append(s.body, b)
		s.mu.Unlock()
		s.got <- struct{}{}
	}))
	t.Cleanup(srv.Close)
	return s, srv
}

func (s *callbackSink) wait(t *testing.T) (*http.Request, []byte) {
	t.Helper()
	select {
	case <-s.got:
	case <-time.After(5 * time.Second):
		t.Fatal("no callback within 5s")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reqs[len(s.reqs)-1], s.body[len(s.body)-1]
}

// Callbacks signed by the mock verify with both schemes, a tampered one
// fails, and a verified callback wakes the waiting create.
func TestCallbackSignatures(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	pubPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	otherKey, _ := rsa.GenerateKey(rand.Reader, 2048)

	tests := []struct {
		name    string
		client  batchvamock.Client
		cfg     func(c *batchva.Config)
		version string
	}{
		{"hmac", batchvamock.Client{ID: "hm", Secret: "s1", SigningSecret: "msg-secret"},
			func(c *batchva.Config) { c.SigningSecret = "msg-secret" }, ""},
		{"rsa-pss", batchvamock.Client{ID: "rs", Secret: "s2", RSAKey: key},
			func(c *batchva.Config) { c.RSAPublicKey = pubPEM }, batchva.SignatureVersionRSA},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sink, sinkSrv := newSink(t)
			tc.client.Permissions = []string{"create-virtual-account", "read-virtual-account", "update-virtual-account"}
			h := newHarnessWith(t, func(c *batchva.Config) {
				c.ClientID, c.ClientSecret, c.CallbackURL = tc.client.ID, batchva.Secret(tc.client.Secret), sinkSrv.URL
				tc.cfg(c)
			})
			if err := h.mock.AddClient(tc.client); err != nil {
				t.Fatal(err)
			}
			req := &provider.CreateRequest{IdempotencyKey: uuid.NewString(), CustomHeaders: map[string]string{"X-Custom-Header-1": "CustomValue1"},
				Items: []provider.CreateItem{h.Item("CB-1")}}
			sub, err := h.p.Submit(t.Context(), req)
			if err != nil {
				t.Fatal(err)
			}
			r, body := sink.wait(t)
			if got := r.Header.Get(batchva.HeaderSignatureVersion); got != tc.version {
				t.Errorf("%s = %q, want %q", batchva.HeaderSignatureVersion, got, tc.version)
			}
			evs, err := h.p.VerifyWebhook(r, body)
			if err != nil {
				t.Fatalf("verify genuine callback: %v", err)
			}
			if len(evs) != 1 || evs[0].Type != bank.EventJobFinished || evs[0].ProviderJobID != jobIDs(t, sub.Operation)[0] {
				t.Errorf("events = %+v, want job %s finished", evs, sub.Operation)
			}
			if evs[0].Headers["X-Custom-Header-1"] != "CustomValue1" {
				t.Errorf("custom header not echoed: %v", evs[0].Headers)
			}

			tampered := bytes.Replace(body, []byte(`"Completed"`), []byte(`"Cancelled"`), 1)
			if bytes.Equal(tampered, body) {
				tampered = append(bytes.Clone(body), ' ')
			}
			if _, err := h.p.VerifyWebhook(r, tampered); bank.Code(err) != bank.Unauthenticated {
				t.Errorf("tampered body: err = %v, want unauthenticated", err)
			}
			stale := r.Clone(t.Context())
			stale.Header.Set(batchva.HeaderTimestamp, strconv.FormatInt(time.Now().Add(-time.Hour).Unix(), 10))
			if _, err := h.p.VerifyWebhook(stale, body); bank.Code(err) != bank.Unauthenticated {
				t.Errorf("stale timestamp: err = %v, want unauthenticated", err)
			}
			forged := r.Clone(t.Context())
			forged.Header.Set(batchva.HeaderSignature, forge(t, tc.version, otherKey, forged, body))
			if _, err := h.p.VerifyWebhook(forged, body); bank.Code(err) != bank.Unauthenticated {
				t.Errorf("signature by another key: err = %v, want unauthenticated", err)
			}
			downgrade := r.Clone(t.Context())
			if tc.version == "" {
				downgrade.Header.Set(batchva.HeaderSignatureVersion, batchva.SignatureVersionRSA)
			} else {
				downgrade.Header.Del(batchva.HeaderSignatureVersion)
			}
			if _, err := h.p.VerifyWebhook(downgrade, body); bank.Code(err) != bank.Unauthenticated {
				t.Errorf("scheme switch: err = %v, want unauthenticated", err)
			}
		})
	}
}

func forge(t *testing.T, version string, key *rsa.PrivateKey, r *http.Request, body []byte) string {
	msg := batchva.SignedPayload(r.Header.Get(batchva.HeaderTimestamp), r.Header.Get(batchva.HeaderNonce), body)
	if version == "" {
		m := hmac.New(sha256.New, []byte("not-the-secret"))
		m.Write(msg)
		return base64.StdEncoding.EncodeToString(m.Sum(nil))
	}
	sum := sha256.Sum256(msg)
	sig, err := rsa.SignPSS(rand.Reader, key, crypto.SHA256, sum[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// A token rejected by the provider is dropped so the next call fetches a new one.
func TestTokenRefreshAfter401(t *testing.T) {
	h := newHarnessWith(t, nil)
	acc, err := h.p.CreateAccounts(t.Context(), &provider.CreateRequest{IdempotencyKey: uuid.NewString(), Items: []provider.CreateItem{h.Item("TK-1")}})
	if err != nil || acc[0].Err != nil {
		t.Fatalf("create: %v", err)
	}
	h.Fault(t, adaptertest.OpGet, fault.Rule{Action: fault.ActionError, Status: 401, Times: 1})
	if _, err := h.p.GetAccount(t.Context(), acc[0].Account.ProviderAccountID); bank.Code(err) != bank.Unauthenticated {
		t.Fatalf("err = %v, want unauthenticated", err)
	}
	if _, err := h.p.GetAccount(t.Context(), acc[0].Account.ProviderAccountID); err != nil {
		t.Fatalf("after token refresh: %v", err)
	}
}

// Secrets in the config never show when formatted or logged.
func TestSecretsRedacted(t *testing.T) {
	cfg := batchva.Config{ClientSecret: "hunter2", SigningSecret: "sig", Token: "tok"}
	b, _ := json.Marshal(map[string]any{"s": fmt.Sprint(cfg.ClientSecret), "v": fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg)})
	for _, s := range []string{"hunter2", "\"sig\"", "tok\""} {
		if bytes.Contains(b, []byte(s)) {
			t.Errorf("formatted config leaks %s: %s", s, b)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  batchva.Config
		want string
	}{
		{"no base url", batchva.Config{ClientID: "a", ClientSecret: "b"}, "baseUrl"},
		{"relative base url", batchva.Config{BaseURL: "/x", ClientID: "a", ClientSecret: "b"}, "baseUrl"},
		{"no credentials", batchva.Config{BaseURL: "http://x"}, "clientId"},
		{"callback without secret", batchva.Config{BaseURL: "http://x", Token: "t", CallbackURL: "http://cb"}, "signingSecret"},
		{"bad rsa key", batchva.Config{BaseURL: "http://x", Token: "t", RSAPublicKey: "nope"}, "rsaPublicKey"},
		{"bad currency", batchva.Config{BaseURL: "http://x", Token: "t", Currencies: []string{"US"}}, "currencies"},
		{"ok", batchva.Config{BaseURL: "http://x", Token: "t"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.want != "" && (err == nil || !bytes.HasPrefix([]byte(err.Error()), []byte(tc.want))):
				t.Fatalf("err = %v, want one naming %s", err, tc.want)
			}
		})
	}
}

// BenchmarkGetAccount compares a read through the portable wrapper with the
// bare adapter, against the in-process mock: the wrapper's overhead.
func BenchmarkGetAccount(b *testing.B) {
	h := newHarnessWith(b, nil)
	res, err := h.p.CreateAccounts(b.Context(), &provider.CreateRequest{IdempotencyKey: uuid.NewString(), Items: []provider.CreateItem{h.Item("BENCH-1")}})
	if err != nil || res[0].Err != nil {
		b.Fatal(err)
	}
	ref := res[0].Account.ProviderAccountID
	bare := h.p.Adapter()
	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := bare.GetAccount(b.Context(), ref); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("wrapped", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := h.p.GetAccount(b.Context(), ref); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkResilienceOverhead reads one account b.N times through the bare
// adapter (plain HTTP client) and b.N times through the portable layer with
// the resilient client (breaker, retry policy, bulkhead, timeouts), in the
// same run, and reports the ratio of their costs per call.
func BenchmarkResilienceOverhead(b *testing.B) {
	m := batchvamock.New(&batchvamock.Options{PendingDelay: time.Millisecond, ProcessDelay: time.Millisecond})
	srv := httptest.NewServer(m)
	b.Cleanup(func() { srv.Close(); m.Close() })
	def := batchvamock.DefaultClient()
	cfg := batchva.Config{BaseURL: srv.URL, ClientID: def.ID, ClientSecret: batchva.Secret(def.Secret)}
	bare, err := batchva.Open(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	client := gateway.NewClient("bcb", nil, nil, nil)
	wa, err := batchva.Open(cfg, &batchva.Options{HTTPClient: client.HTTP()})
	if err != nil {
		b.Fatal(err)
	}
	p, err := gateway.New("bcb", wa, &gateway.Options{Client: client, PollInterval: time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	res, err := p.CreateAccounts(b.Context(), &provider.CreateRequest{IdempotencyKey: uuid.NewString(), Items: []provider.CreateItem{
		{Currency: "USD", AccountHolderName: "Bench", AccountName: "Bench", ClientReference: "BENCH"}}})
	if err != nil || res[0].Err != nil {
		b.Fatal(err)
	}
	ref := res[0].Account.ProviderAccountID
	n := max(b.N, 50)
	measure := func(get func() error) time.Duration {
		start := time.Now()
		for range n {
			if err := get(); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start) / time.Duration(n)
	}
	b.ResetTimer()
	bareCost := measure(func() error { _, err := bare.GetAccount(b.Context(), ref); return err })
	wrappedCost := measure(func() error { _, err := p.GetAccount(b.Context(), ref); return err })
	b.ReportMetric(float64(bareCost.Nanoseconds()), "bare-ns/call")
	b.ReportMetric(float64(wrappedCost.Nanoseconds()), "resilient-ns/call")
	b.ReportMetric(float64(wrappedCost)/float64(bareCost), "resilient/bare")
	b.ReportMetric(0, "ns/op")
}

// jobIDs lists the provider job ids of an operation.
func jobIDs(t testing.TB, operation string) []string {
	t.Helper()
	var jobs []struct {
		ID        string `json:"jobId"`
		StatusURL string `json:"statusUrl"`
		ResultURL string `json:"resultUrl"`
	}
	if err := json.Unmarshal([]byte(operation), &jobs); err != nil {
		t.Fatalf("operation %q: %v", operation, err)
	}
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		if j.ID == "" || !strings.HasSuffix(j.StatusURL, "/"+j.ID) || j.ResultURL != j.StatusURL+"/results" {
			t.Fatalf("operation %q: job %d without the provider's URLs", operation, i)
		}
		ids[i] = j.ID
	}
	return ids
}
