package masterfiatmock_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vagate/vagate/mocks/masterfiatmock"
)

// env is a seeded mock served over HTTP with a token of the default client.
type env struct {
	t   *testing.T
	m   *masterfiatmock.Mock
	srv *httptest.Server
	tok string
}

func newEnv(t *testing.T, opts *masterfiatmock.Options) *env {
	t.Helper()
	if opts == nil {
		opts = &masterfiatmock.Options{}
	}
	if opts.ActivationDelay == 0 {
		opts.ActivationDelay = 10 * time.Millisecond
	}
	if opts.UnblockDelay == 0 {
		opts.UnblockDelay = 10 * time.Millisecond
	}
	if opts.FiatAccounts == nil {
		opts.FiatAccounts = masterfiatmock.DefaultFiatAccounts()
	}
	if opts.EndUsers == nil {
		opts.EndUsers = []masterfiatmock.EndUser{masterfiatmock.DefaultEndUser()}
	}
	m := masterfiatmock.New(opts)
	srv := httptest.NewServer(m)
	t.Cleanup(func() { srv.Close(); m.Close() })
	tok, err := m.Token(masterfiatmock.DefaultClient().ID)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, m: m, srv: srv, tok: tok}
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r *reply) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %d %s: %v", r.status, r.body, err)
	}
}

// do sends a request with the env's token (tok "" = none, "-" = the env's).
func (e *env) do(method, path, tok, body string) *reply {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if tok == "-" {
		tok = e.tok
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return &reply{status: resp.StatusCode, header: resp.Header, body: b}
}

func (e *env) create(body string) masterfiatmock.VirtualAccount {
	e.t.Helper()
	r := e.do(http.MethodPost, "/api/v1/virtual-accounts", "-", body)
	if r.status != http.StatusCreated {
		e.t.Fatalf("create: %d %s", r.status, r.body)
	}
	var v masterfiatmock.VirtualAccount
	r.decode(e.t, &v)
	return v
}

func gbp(extra string) string {
	return `{"masterFiatAccountId":"fac_gbp000000000000001","currency":"GBP"` + extra + `}`
}

// waitStatus polls the account until it has status want.
func (e *env) waitStatus(id, want string) masterfiatmock.VirtualAccount {
	e.t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		v, ok := e.m.Account(id)
		if ok && v.Status == want {
			return v
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("account %s is %s, want %s", id, v.Status, want)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// sink records webhook requests.
type sink struct {
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []*http.Request
	bodies [][]byte
	status int
}

func newSink(t *testing.T) *sink {
	s := &sink{status: http.StatusNoContent}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.reqs = append(s.reqs, r.Clone(r.Context()))
		s.bodies = append(s.bodies, b)
		st := s.status
		s.mu.Unlock()
		w.WriteHeader(st)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

type gotEvent struct {
	Event          string                        `json:"event"`
	Data           masterfiatmock.VirtualAccount `json:"data"`
	PreviousValues map[string]string             `json:"previousValues"`
	CreatedAt      int64                         `json:"createdAt"`
}

// events waits until the sink holds n requests and returns their decoded bodies.
func (s *sink) events(t *testing.T, n int) ([]gotEvent, []*http.Request, [][]byte) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		s.mu.Lock()
		got := len(s.reqs)
		s.mu.Unlock()
		if got >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sink got %d webhooks, want %d", got, n)
		}
		time.Sleep(2 * time.Millisecond)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	evs := make([]gotEvent, len(s.bodies))
	for i, b := range s.bodies {
		if err := json.NewDecoder(bytes.NewReader(b)).Decode(&evs[i]); err != nil {
			t.Fatalf("webhook body %s: %v", b, err)
		}
	}
	return evs, append([]*http.Request(nil), s.reqs...), append([][]byte(nil), s.bodies...)
}
