package batchvamock_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vagate/vagate/mocks/batchvamock"
)

// env is a mock served over HTTP with a token of the default client.
type env struct {
	t   *testing.T
	m   *batchvamock.Mock
	srv *httptest.Server
	tok string
}

func newEnv(t *testing.T, opts *batchvamock.Options) *env {
	t.Helper()
	if opts == nil {
		opts = &batchvamock.Options{}
	}
	if opts.PendingDelay == 0 {
		opts.PendingDelay = 5 * time.Millisecond
	}
	if opts.ProcessDelay == 0 {
		opts.ProcessDelay = 10 * time.Millisecond
	}
	e := newEnvFor(t, batchvamock.New(opts))
	if opts.Clients == nil || len(opts.Clients) > 0 {
		def := batchvamock.DefaultClient()
		if opts.Clients != nil {
			def = opts.Clients[0]
		}
		e.tok = e.login(def.ID, def.Secret)
	}
	return e
}

// newEnvFor serves m until the test ends; tok is the default client's (if it has one).
func newEnvFor(t *testing.T, m *batchvamock.Mock) *env {
	t.Helper()
	srv := httptest.NewServer(m)
	t.Cleanup(func() { srv.Close(); m.Close() })
	e := &env{t: t, m: m, srv: srv}
	e.tok, _ = m.Token(batchvamock.DefaultClient().ID)
	return e
}

// login fetches a token from POST /v1/auth/token.
func (e *env) login(id, secret string) string {
	e.t.Helper()
	r := e.do(http.MethodPost, "/v1/auth/token", "", nil, map[string]string{"clientId": id, "clientSecret": secret})
	if r.status != http.StatusOK {
		e.t.Fatalf("token: %d %s", r.status, r.body)
	}
	var tr struct {
		AccessToken string `json:"accessToken"`
	}
	r.decode(e.t, &tr)
	return tr.AccessToken
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// apiErr decodes the provider error body.
func (r resp) apiErr(t *testing.T) (code, msg string) {
	t.Helper()
	var e struct{ Error, Message string }
	r.decode(t, &e)
	return e.Error, e.Message
}

// do sends a request; body is sent as is when string or []byte, else as JSON.
func (e *env) do(method, path, tok string, hdr map[string]string, body any) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	url := path
	if strings.HasPrefix(path, "/") {
		url = e.srv.URL + path
	}
	req, err := http.NewRequestWithContext(e.t.Context(), method, url, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

type accepted struct {
	JobID     string `json:"jobId"`
	Status    string `json:"status"`
	StatusURL string `json:"statusUrl"`
	ResultURL string `json:"resultUrl"`
}

type jobStatus struct {
	JobID           string  `json:"jobId"`
	Status          string  `json:"status"`
	TotalItems      int     `json:"totalItems"`
	ProcessedItems  int     `json:"processedItems"`
	SuccessfulItems int     `json:"successfulItems"`
	FailedItems     int     `json:"failedItems"`
	CompletedAt     *string `json:"completedAt"`
}

type account struct {
	VirtualAccountNumber string `json:"virtualAccountNumber"`
	BicCode              string `json:"bicCode"`
	AccountHolderName    string `json:"accountHolderName"`
	AccountName          string `json:"accountName"`
	Currency             string `json:"currency"`
	Balance              struct {
		Amount   string `json:"amount"`
		Currency string `json:"currency"`
	} `json:"balance"`
	Category           string  `json:"category"`
	ClientReference    *string `json:"clientReference"`
	Dob                *string `json:"dob"`
	NativeLanguageName *string `json:"nativeLanguageName"`
	Allocated          bool    `json:"allocated"`
}

type results struct {
	JobID  string `json:"jobId"`
	Status string `json:"status"`
	Items  []struct {
		Index           int      `json:"index"`
		ClientReference *string  `json:"clientReference"`
		Status          string   `json:"status"`
		VirtualAccount  *account `json:"virtualAccount"`
		Error           *struct {
			Error   string `json:"error"`
			Message string `json:"message"`
		} `json:"error"`
	} `json:"items"`
}

// create posts body and requires a 202.
func (e *env) create(body any, hdr map[string]string) accepted {
	e.t.Helper()
	r := e.do(http.MethodPost, "/v1/virtual-accounts", e.tok, hdr, body)
	if r.status != http.StatusAccepted {
		e.t.Fatalf("create: %d %s", r.status, r.body)
	}
	var a accepted
	r.decode(e.t, &a)
	return a
}

// wait polls the job until it reaches a final state.
func (e *env) wait(jobID string) jobStatus {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		r := e.do(http.MethodGet, "/v1/virtual-accounts/jobs/"+jobID, e.tok, nil, nil)
		if r.status != http.StatusOK {
			e.t.Fatalf("job status: %d %s", r.status, r.body)
		}
		var st jobStatus
		r.decode(e.t, &st)
		switch st.Status {
		case batchvamock.StatusCompleted, batchvamock.StatusCompletedWithErrors, batchvamock.StatusCancelled:
			return st
		}
		time.Sleep(2 * time.Millisecond)
	}
	e.t.Fatalf("job %s did not finish", jobID)
	return jobStatus{}
}

func (e *env) results(jobID string) results {
	e.t.Helper()
	r := e.do(http.MethodGet, "/v1/virtual-accounts/jobs/"+jobID+"/results", e.tok, nil, nil)
	if r.status != http.StatusOK {
		e.t.Fatalf("results: %d %s", r.status, r.body)
	}
	var res results
	r.decode(e.t, &res)
	return res
}

// named is a valid named item.
func named(ref string) map[string]any {
	return map[string]any{"currency": "USD", "accountHolderName": "Test Company Ltd", "accountName": "Test Virtual Account", "clientReference": ref}
}

// itemsBody is a create body of n named items, each changed by edit.
func itemsBody(n int, edit func(i int, it map[string]any)) map[string]any {
	items := make([]map[string]any, n)
	for i := range items {
		items[i] = named(fmt.Sprintf("REF-%d", i))
		if edit != nil {
			edit(i, items[i])
		}
	}
	return map[string]any{"items": items}
}

// sink is a callback receiver.
type sink struct {
	mu     sync.Mutex
	reqs   []*http.Request
	bodies [][]byte
	got    chan struct{}
	status func(n int) int // answer to the n-th callback (from 1); nil = 200
	srv    *httptest.Server
}

func newSink(t *testing.T, status func(n int) int) *sink {
	s := &sink{got: make(chan struct{}, 64), status: status}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.reqs = append(s.reqs, r.Clone(t.Context()))
		s.bodies = append(s.bodies, b)
		n := len(s.reqs)
		s.mu.Unlock()
		code := http.StatusOK
		if s.status != nil {
			code = s.status(n)
		}
		w.WriteHeader(code)
		s.got <- struct{}{}
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// next waits for one more callback and returns it.
func (s *sink) next(t *testing.T) (*http.Request, []byte) {
	t.Helper()
	select {
	case <-s.got:
	case <-time.After(5 * time.Second):
		t.Fatal("no callback within 5s")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reqs[len(s.reqs)-1], s.bodies[len(s.bodies)-1]
}
