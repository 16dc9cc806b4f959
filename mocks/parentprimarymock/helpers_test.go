package parentprimarymock_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vagate/vagate/mocks/parentprimarymock"
)

// Values of the default setup.
var (
	partner  = parentprimarymock.DefaultPartner()
	gbp      = parentprimarymock.DefaultPrimaryAccounts()[0].ID
	eur      = parentprimarymock.DefaultPrimaryAccounts()[1].ID
	customer = "a2b9649e-df7f-4349-adff-1c57283fef10"
)

const pathVirtual = "/v1/partner/accounts/virtual"

// env is a mock served over HTTP, signing as the default partner.
type env struct {
	t     *testing.T
	m     *parentprimarymock.Mock
	srv   *httptest.Server
	nonce atomic.Int64
}

func newEnv(t *testing.T, opts *parentprimarymock.Options) *env {
	t.Helper()
	if opts == nil {
		opts = &parentprimarymock.Options{}
	}
	if opts.PrimaryAccounts == nil {
		opts.PrimaryAccounts = parentprimarymock.DefaultPrimaryAccounts()
	}
	m := parentprimarymock.New(opts)
	srv := httptest.NewServer(m)
	t.Cleanup(func() { srv.Close(); m.Close() })
	return &env{t: t, m: m, srv: srv}
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %d %s: %v", r.status, r.body, err)
	}
}

// apiErr returns the error code and message of an error body.
func (r resp) apiErr(t *testing.T) (string, string) {
	t.Helper()
	var e struct{ Code, Message string }
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("error body %q: %v", r.body, err)
	}
	return e.Code, e.Message
}

// signed describes one request to sign; zero members take the defaults.
type signed struct {
	token, secret, date, nonce string
	// after edits the signed request before it is sent.
	after func(*http.Request)
}

func (e *env) newNonce() string { return fmt.Sprintf("test-nonce-%012d", e.nonce.Add(1)) }

// do sends a request signed as the default partner (body: nil, string, []byte or JSON value).
func (e *env) do(method, path string, body any, s *signed) resp {
	e.t.Helper()
	if s == nil {
		s = &signed{}
	}
	var b []byte
	switch v := body.(type) {
	case nil:
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			e.t.Fatal(err)
		}
	}
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.srv.URL+path, bytes.NewReader(b))
	if err != nil {
		e.t.Fatal(err)
	}
	if b == nil {
		req.Body, req.ContentLength = http.NoBody, 0
	} else {
		req.Header.Set("Content-Type", "application/json")
	}
	tok, secret, date, nonce := s.token, s.secret, s.date, s.nonce
	if tok == "" {
		tok = partner.APIToken
	}
	if secret == "" {
		secret = partner.SigningSecret
	}
	if date == "" {
		date = time.Now().UTC().Format(http.TimeFormat)
	}
	if nonce == "" {
		nonce = e.newNonce()
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Date", date)
	req.Header.Set("X-Alg-Nonce", nonce)
	req.Header.Set("X-Alg-Signature", parentprimarymock.Sign(secret, method, req.URL.RequestURI(), date, nonce, b))
	if s.after != nil {
		s.after(req)
	}
	return e.send(req)
}

// admin sends an unsigned admin request.
func (e *env) admin(method, path string, body any) resp {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.send(req)
}

func (e *env) send(req *http.Request) resp {
	e.t.Helper()
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

type account struct {
	ID                string          `json:"id"`
	PartnerID         string          `json:"partnerId"`
	ExternalReference string          `json:"externalReference"`
	PrimaryAccountID  string          `json:"primaryAccountId"`
	Type              string          `json:"type"`
	CurrencyCode      string          `json:"currencyCode"`
	CreateDate        time.Time       `json:"createDate"`
	State             string          `json:"state"`
	CustomerID        string          `json:"customerId"`
	ProductCode       string          `json:"productCode"`
	ProductParameters json.RawMessage `json:"productParameters"`
	AvailableBalance  string          `json:"availableBalance"`
}

// createBody is a valid create body with the given key and reference.
func createBody(key, ref string) map[string]any {
	return map[string]any{
		"customerId": customer, "idempotencyKey": key, "parentAccountId": gbp, "productCode": "FIAT_ACCOUNT_UK_V1",
		"productParameters": map[string]any{"clientReference": ref, "accountName": "Jane Smith"},
	}
}

// create creates an account and fails the test unless it is 200.
func (e *env) create(body any) account {
	e.t.Helper()
	r := e.do(http.MethodPost, pathVirtual, body, nil)
	if r.status != http.StatusOK {
		e.t.Fatalf("create: %d %s", r.status, r.body)
	}
	var a account
	r.decode(e.t, &a)
	return a
}

func deleteBody(key string) map[string]any {
	return map[string]any{"idempotencyKey": key, "requestedBy": "ops@example.com", "reason": "Customer left", "notes": nil}
}
