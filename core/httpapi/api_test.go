package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/vagate/vagate/adapters/batchva"
	"github.com/vagate/vagate/core/accounts"
	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/events"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/httpapi"
	"github.com/vagate/vagate/core/idempotency"
	"github.com/vagate/vagate/core/jobs"
	"github.com/vagate/vagate/core/jobs/jobsmem"
	"github.com/vagate/vagate/core/pool"
	"github.com/vagate/vagate/core/pool/poolmem"
	"github.com/vagate/vagate/core/store"
	"github.com/vagate/vagate/mocks/batchvamock"
	"github.com/vagate/vagate/mocks/fault"
	"github.com/vagate/vagate/openapi"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef-test")

type api struct {
	url     string
	mockURL string
	mock    *batchvamock.Mock
	handler http.Handler
	auth    *httpapi.AuthConfig
}

// newAPI serves the real handler over the batchva mock, in process.
func newAPI(t *testing.T) *api { return newAPIB(t) }

// newAPIB is newAPI for tests and benchmarks alike.
func newAPIB(t testing.TB) *api { return newAPIState(t, memoryState()) }

// apiState is the state an in-process API runs on.
type apiState struct {
	accounts interface {
		store.Accounts
		accounts.Store
	}
	jobs   jobs.Store
	queue  store.Queue
	events store.Events
	idem   idempotency.Store
}

func memoryState() apiState {
	mem := store.NewMemory()
	return apiState{accounts: mem, jobs: jobsmem.New(), queue: mem, events: store.NewMemoryEvents(), idem: idempotency.NewMemory(nil)}
}

// newAPIState serves the real handler over the batchva mock with st; each
// tune may change the dependencies and options first.
func newAPIState(t testing.TB, st apiState, tune ...func(*httpapi.Deps, *httpapi.Options)) *api {
	return newAPIWith(t, st, apiWiring{tune: tune})
}

// apiWiring is the optional production wiring of an in-process API.
type apiWiring struct {
	client  *gateway.Client // the provider's resilient client (nil: none)
	tracer  trace.TracerProvider
	meter   metric.MeterProvider
	metrics http.Handler        // serves GET /metrics (nil: 501)
	extra   []*gateway.Provider // registered after batchva
	tune    []func(*httpapi.Deps, *httpapi.Options)
}

// newAPIWith serves the real handler over the batchva mock with st, wired as w says.
func newAPIWith(t testing.TB, st apiState, w apiWiring) *api {
	t.Helper()
	m := batchvamock.New(&batchvamock.Options{PendingDelay: time.Millisecond, ProcessDelay: 5 * time.Millisecond})
	ms := httptest.NewServer(m)
	def := batchvamock.DefaultClient()
	var ao *batchva.Options
	if w.client != nil {
		ao = &batchva.Options{HTTPClient: w.client.HTTP()}
	}
	a, err := batchva.Open(batchva.Config{BaseURL: ms.URL, ClientID: def.ID, ClientSecret: batchva.Secret(def.Secret)}, ao)
	if err != nil {
		t.Fatal(err)
	}
	p, err := gateway.New("batchva", a, &gateway.Options{PollInterval: 5 * time.Millisecond, MaxPollInterval: 50 * time.Millisecond,
		Client: w.client, Tracer: w.tracer, Meter: w.meter})
	if err != nil {
		t.Fatal(err)
	}
	reg := gateway.NewRegistry()
	reg.Register(p)
	for _, x := range w.extra {
		reg.Register(x)
	}
	router, _ := gateway.NewRouter(reg, nil)
	mem, evs := st.accounts, st.events
	rec := events.NewRecorder(evs, nil)
	var pools *pool.Service
	eng := jobs.New(reg, st.jobs, st.accounts, st.queue, &jobs.Options{
		OnAccount: func(ctx context.Context, a *bank.Account) {
			rec.AccountChanged(ctx, nil, a)
			pools.AccountCreated(ctx, a)
		},
		OnFinish: func(ctx context.Context, j *bank.Job) { rec.JobFinished(ctx, j); pools.JobFinished(ctx, j) },
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { eng.Run(ctx); close(done) }()
	ac := &httpapi.AuthConfig{Algorithm: httpapi.AlgHS256, Secret: testSecret}
	svc := accounts.New(reg, mem, &accounts.Options{Changed: func(ctx context.Context, before, after *bank.Account) {
		rec.AccountChanged(ctx, before, after)
		pools.AccountChanged(ctx, before, after)
	}})
	pools = pool.New(reg, router, poolmem.New(nil), svc, eng, &pool.Options{SweepInterval: 20 * time.Millisecond,
		OnLow: rec.PoolLow, OnReplenished: rec.PoolReplenished})
	go pools.Run(ctx)
	deps := httpapi.Deps{Registry: reg, Router: router, Engine: eng, Accounts: svc, Pool: pools,
		Idempotency: st.idem, Auth: ac, Events: evs,
		Tracer: w.tracer, Meter: w.meter, Metrics: w.metrics}
	opts := httpapi.Options{PublicURL: "http://gw.test", MaxBodyBytes: 1 << 20}
	for _, f := range w.tune {
		f(&deps, &opts)
	}
	h, err := httpapi.NewHandler(deps, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() { srv.Close(); cancel(); <-done; ms.Close(); m.Close() })
	return &api{url: srv.URL, mockURL: ms.URL, mock: m, handler: h, auth: ac}
}

func (a *api) token(t *testing.T, tenant string, perms ...string) string {
	return a.tokenB(t, tenant, perms...)
}

func (a *api) tokenB(t testing.TB, tenant string, perms ...string) string {
	if perms == nil {
		perms = httpapi.AllPermissions()
	}
	tok, err := httpapi.MintToken(a.auth, tenant, perms, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (a *api) call(t *testing.T, method, path, tok string, body io.Reader, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	return a.callB(t, method, path, tok, body, hdr...)
}

func (a *api) callB(t testing.TB, method, path, tok string, body io.Reader, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), method, a.url+path, body)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

type problem struct {
	Type    string            `json:"type"`
	Title   string            `json:"title"`
	Status  int               `json:"status"`
	Code    string            `json:"code"`
	Detail  string            `json:"detail"`
	TraceID string            `json:"traceId"`
	Errors  []bank.FieldError `json:"errors"`
}

func items(n int, item string) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = item
	}
	return `{"items":[` + strings.Join(parts, ",") + `]}`
}

const named = `{"currency":"USD","accountHolderName":"A","accountName":"B"}`

// Bad input is a problem naming every bad field, and creates nothing anywhere.
func TestBadInput(t *testing.T) {
	a := newAPI(t)
	tok := a.token(t, "t1")
	long := strings.Repeat("x", 36)
	tests := []struct {
		name     string
		method   string
		path     string
		body     string
		hdr      []string
		status   int
		code     string
		pointers []string
	}{
		{"malformed JSON", "POST", "/v1/virtual-accounts", `{"items":[`, nil, 400, "invalid_body", nil},
		{"malformed JSON in an update", "PATCH", "/v1/virtual-accounts/va_x", `{"accountName":`, nil, 400, "invalid_body", nil},
		{"not an object", "POST", "/v1/virtual-accounts", `[1,2]`, nil, 400, "validation_failed", []string{""}},
		{"empty body", "POST", "/v1/virtual-accounts", ``, nil, 400, "validation_failed", []string{""}},
		{"wrong types", "POST", "/v1/virtual-accounts", `{"items":[{"currency":5,"unallocated":"yes","accountHolderName":["A"],"accountName":"B"}]}`, nil,
			400, "validation_failed", []string{"/items/0/currency", "/items/0/unallocated", "/items/0/accountHolderName"}},
		{"unknown fields", "POST", "/v1/virtual-accounts", `{"bogus":1,"items":[{"currency":"USD","accountHolderName":"A","accountName":"B","colour":"red"}]}`, nil,
			400, "validation_failed", []string{"/bogus", "/items/0/colour"}},
		{"items missing", "POST", "/v1/virtual-accounts", `{}`, nil, 400, "validation_failed", []string{"/items"}},
		{"empty items", "POST", "/v1/virtual-accounts", `{"items":[]}`, nil, 400, "validation_failed", []string{"/items"}},
		{"1001 items", "POST", "/v1/virtual-accounts", items(1001, `{"currency":"USD","unallocated":true}`), nil, 400, "validation_failed", []string{"/items"}},
		{"unsupported currency", "POST", "/v1/virtual-accounts", `{"items":[{"currency":"JPY","accountHolderName":"A","accountName":"B"}]}`, nil,
			400, "validation_failed", []string{"/items/0/currency"}},
		{"lower-case currency", "POST", "/v1/virtual-accounts", `{"items":[{"currency":"usd","accountHolderName":"A","accountName":"B"}]}`, nil,
			400, "validation_failed", []string{"/items/0/currency"}},
		{"over-long fields", "POST", "/v1/virtual-accounts", `{"items":[` + named + `,{"currency":"USD","accountHolderName":"A","accountName":"` + strings.Repeat("n", 256) + `","clientReference":"` + long + `"}]}`, nil,
			400, "validation_failed", []string{"/items/1/accountName", "/items/1/clientReference"}},
		{"provider limit on clientReference", "POST", "/v1/virtual-accounts", `{"items":[{"currency":"USD","accountHolderName":"A","accountName":"B","clientReference":"` + long + `"}]}`, nil,
			400, "validation_failed", []string{"/items/0/clientReference"}},
		{"every bad item listed by index", "POST", "/v1/virtual-accounts", `{"items":[` + named + `,{"currency":"USD"},` + named + `,{"currency":"EUR","accountHolderName":"A","accountName":"B","dob":"1985-13-40"}]}`, nil,
			400, "validation_failed", []string{"/items/1/accountHolderName", "/items/1/accountName", "/items/3/dob"}},
		{"names on unallocated", "POST", "/v1/virtual-accounts", `{"items":[{"currency":"USD","unallocated":true,"accountName":"B"}]}`, nil,
			400, "validation_failed", []string{"/items/0/unallocated"}},
		{"too many custom headers", "POST", "/v1/virtual-accounts", `{"customHeaders":{"a":"1","b":"2","c":"3","d":"4","e":"5","f":"6","g":"7","h":"8","i":"9","j":"10","k":"11"},"items":[` + named + `]}`, nil,
			400, "validation_failed", []string{"/customHeaders"}},
		{"callback url not an endpoint", "POST", "/v1/virtual-accounts", `{"callbackUrl":"https://example.com/hook","items":[` + named + `]}`, nil,
			400, "validation_failed", []string{"/callbackUrl"}},
		{"provider params the provider does not take", "POST", "/v1/virtual-accounts", `{"items":[{"currency":"USD","accountHolderName":"A","accountName":"B","providerParams":{"parentAccountId":"x"}}]}`, nil,
			400, "validation_failed", []string{"/items/0/providerParams/parentAccountId"}},
		{"unknown provider", "POST", "/v1/virtual-accounts", `{"items":[{"currency":"USD","provider":"nobank","accountHolderName":"A","accountName":"B"}]}`, nil,
			400, "validation_failed", []string{"/items/0/provider"}},
		{"bad Prefer", "POST", "/v1/virtual-accounts", items(1, named), []string{"Prefer", "wait=soon"}, 400, "validation_failed", []string{"/headers/Prefer"}},
		{"non-UUID Idempotency-Key", "POST", "/v1/virtual-accounts", items(1, named), []string{"Idempotency-Key", "abc"}, 400, "invalid_idempotency_key", []string{"/headers/Idempotency-Key"}},
		{"wrong content type", "POST", "/v1/virtual-accounts", items(1, named), []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type", nil},
		{"huge body", "POST", "/v1/virtual-accounts", `{"items":[{"currency":"USD","accountHolderName":"` + strings.Repeat("x", 2<<20) + `"}]}`, nil, 413, "payload_too_large", nil},
		{"huge body with a key", "POST", "/v1/virtual-accounts", `{"items":[{"currency":"USD","accountHolderName":"` + strings.Repeat("x", 2<<20) + `"}]}`, []string{"Idempotency-Key", uuid.NewString()}, 413, "payload_too_large", nil},
		{"bad cursor", "GET", "/v1/virtual-accounts?cursor=bm90LWEtY3Vyc29y", "", nil, 400, "validation_failed", []string{"/query/cursor"}},
		{"bad limit", "GET", "/v1/virtual-accounts?limit=0", "", nil, 400, "validation_failed", []string{"/query/limit"}},
		{"limit not a number", "GET", "/v1/virtual-accounts?limit=ten", "", nil, 400, "validation_failed", []string{"/query/limit"}},
		{"bad status filter", "GET", "/v1/virtual-accounts?status=READY", "", nil, 400, "validation_failed", []string{"/query/status"}},
		{"bad refresh", "GET", "/v1/virtual-accounts/va_x?refresh=maybe", "", nil, 400, "validation_failed", []string{"/query/refresh"}},
		{"account id over 64 characters", "GET", "/v1/virtual-accounts/" + strings.Repeat("a", 65), "", nil, 400, "validation_failed", []string{"/path/id"}},
		{"account id of 64 characters", "GET", "/v1/virtual-accounts/" + strings.Repeat("a", 64), "", nil, 404, "not_found", nil},
		{"job id over 64 characters", "GET", "/v1/jobs/" + strings.Repeat("j", 65) + "/results", "", nil, 400, "validation_failed", []string{"/path/id"}},
		{"empty update", "PATCH", "/v1/virtual-accounts/va_x", `{}`, nil, 400, "validation_failed", []string{""}},
		{"update unknown field", "PATCH", "/v1/virtual-accounts/va_x", `{"currency":"EUR"}`, nil, 400, "validation_failed", []string{"/currency"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := a.call(t, tc.method, tc.path, tok, strings.NewReader(tc.body), tc.hdr...)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != httpapi.ProblemContentType {
				t.Errorf("Content-Type %q, want problem+json", ct)
			}
			var p problem
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatalf("not a problem: %s", body)
			}
			if p.Code != tc.code || p.Status != tc.status || p.Type != httpapi.ProblemTypeBase+tc.code || p.Title == "" || p.TraceID == "" {
				t.Errorf("problem = %+v", p)
			}
			var got []string
			for _, e := range p.Errors {
				got = append(got, e.Pointer)
				if e.Message == "" {
					t.Errorf("field %s has no detail", e.Pointer)
				}
			}
			for _, want := range tc.pointers {
				if !slices.Contains(got, want) {
					t.Errorf("errors %v do not name %q: %s", got, want, body)
				}
			}
			if n, j := a.mock.AccountCount(), a.mock.JobCount(); n != 0 || j != 0 {
				t.Errorf("bad input reached the provider: %d accounts, %d jobs", n, j)
			}
		})
	}
}

// Every route the handler serves is in the document, and every operation of
// the document is served.
func TestRoutesMatchDocument(t *testing.T) {
	a := newAPI(t)
	eng, ok := a.handler.(*gin.Engine)
	if !ok {
		t.Fatalf("handler is %T", a.handler)
	}
	var served []string
	for _, r := range eng.Routes() {
		served = append(served, r.Method+" "+r.Path)
	}
	ops, err := openapi.Operations()
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, op := range ops {
		path := op.Path
		for strings.Contains(path, "{") {
			i, j := strings.Index(path, "{"), strings.Index(path, "}")
			path = path[:i] + ":" + path[i+1:j] + path[j+1:]
		}
		documented = append(documented, op.Method+" "+path)
	}
	slices.Sort(served)
	slices.Sort(documented)
	for _, r := range served {
		if !slices.Contains(documented, r) {
			t.Errorf("served but not documented: %s", r)
		}
	}
	for _, r := range documented {
		if !slices.Contains(served, r) {
			t.Errorf("documented but not served: %s", r)
		}
	}
}

func TestPreferWaitAndCancel(t *testing.T) {
	a := newAPI(t)
	tok := a.token(t, "t1")
	resp, body := a.call(t, "POST", "/v1/virtual-accounts", tok, strings.NewReader(items(2, named)), "Prefer", "respond-async, wait=10")
	if resp.StatusCode != 200 || resp.Header.Get("Preference-Applied") != "wait=10" || !strings.Contains(string(body), `"status":"Completed"`) {
		t.Fatalf("Prefer wait: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	var job struct{ ID, JobID, StatusURL, ResultURL string }
	json.Unmarshal(body, &job)
	if job.ID == "" || job.JobID != job.ID || job.StatusURL != "http://gw.test/v1/jobs/"+job.ID || job.ResultURL != job.StatusURL+"/results" {
		t.Errorf("finished job %s: want jobId, statusUrl and resultUrl as in a 202 answer", body)
	}
	resp, body = a.call(t, "DELETE", "/v1/jobs/"+job.ID, tok, nil)
	if resp.StatusCode != 409 || !strings.Contains(string(body), "failed_precondition") {
		t.Errorf("cancel a finished job: %d %s", resp.StatusCode, body)
	}
	// A slow provider: the job is still running when cancelled.
	a.mock.SetConfig(batchvamock.Config{PendingDelay: time.Second, ProcessDelay: time.Millisecond})
	resp, body = a.call(t, "POST", "/v1/virtual-accounts", tok, strings.NewReader(items(1, named)))
	if resp.StatusCode != 202 {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	var acc struct{ JobID string }
	json.Unmarshal(body, &acc)
	resp, body = a.call(t, "DELETE", "/v1/jobs/"+acc.JobID, tok, nil)
	if resp.StatusCode != 200 {
		t.Errorf("cancel a running job: %d %s", resp.StatusCode, body)
	}
	resp, body = a.call(t, "GET", "/v1/jobs/job_nope", tok, nil)
	if resp.StatusCode != 404 {
		t.Errorf("unknown job: %d %s", resp.StatusCode, body)
	}
}

func TestRefresh(t *testing.T) {
	a := newAPI(t)
	tok := a.token(t, "t1")
	_, body := a.call(t, "POST", "/v1/virtual-accounts", tok, strings.NewReader(`{"items":[{"currency":"USD","unallocated":true,"clientReference":"RF-1"}]}`), "Prefer", "wait=10")
	var job struct{ ID string }
	json.Unmarshal(body, &job)
	_, body = a.call(t, "GET", "/v1/jobs/"+job.ID+"/results", tok, nil)
	var res struct {
		Items []struct {
			Account struct{ ID, ProviderAccountID string }
		}
	}
	json.Unmarshal(body, &res)
	id := res.Items[0].Account.ID
	// Allocate at the provider behind the gateway's back, then refresh.
	mt, err := a.mock.Token(batchvamock.DefaultClient().ID)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("PATCH", a.mockURL+"/v1/virtual-accounts/"+res.Items[0].Account.ProviderAccountID,
		strings.NewReader(`{"accountHolderName":"Jane Smith","accountName":"Jane Smith","clientReference":"RF-2"}`))
	req.Header.Set("Authorization", "Bearer "+mt)
	req.Header.Set("Content-Type", "application/json")
	if mresp, err := http.DefaultClient.Do(req); err != nil || mresp.StatusCode != 200 {
		t.Fatalf("patch at the mock: %v %v", mresp, err)
	}
	resp, body := a.call(t, "GET", "/v1/virtual-accounts/"+id, tok, nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"status":"UNALLOCATED"`) {
		t.Fatalf("without refresh the stored copy is served: %d %s", resp.StatusCode, body)
	}
	resp, body = a.call(t, "GET", "/v1/virtual-accounts/"+id+"?refresh=true", tok, nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"clientReference":"RF-2"`) || !strings.Contains(string(body), `"status":"ACTIVE"`) ||
		!strings.Contains(string(body), `"allocatedAt"`) {
		t.Errorf("refresh: %d %s", resp.StatusCode, body)
	}
	resp, body = a.call(t, "GET", "/v1/virtual-accounts/"+id, tok, nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"status":"ACTIVE"`) {
		t.Errorf("refresh did not update the stored copy: %s", body)
	}
}

// The values of an update are checked by the gateway's rules, for the
// account's provider: a bad one is a problem naming the field, and changes
// nothing.
func TestBadUpdateValues(t *testing.T) {
	a := newAPI(t)
	tok := a.token(t, "t1")
	_, body := a.call(t, "POST", "/v1/virtual-accounts", tok, strings.NewReader(items(1, `{"currency":"USD","unallocated":true}`)), "Prefer", "wait=10")
	var job struct{ ID string }
	json.Unmarshal(body, &job)
	_, body = a.call(t, "GET", "/v1/jobs/"+job.ID+"/results", tok, nil)
	var res struct {
		Items []struct{ Account struct{ ID string } }
	}
	json.Unmarshal(body, &res)
	if len(res.Items) != 1 || res.Items[0].Account.ID == "" {
		t.Fatalf("no account: %s", body)
	}
	path := "/v1/virtual-accounts/" + res.Items[0].Account.ID
	tests := []struct {
		name, method, body string
		pointers           []string // in order
	}{
		{"blank and hidden names", "PATCH", `{"accountHolderName":"  ","accountName":"Jane\u202eSmith"}`, []string{"/accountHolderName", "/accountName"}},
		{"the provider's clientReference limit", "PATCH", `{"clientReference":"` + strings.Repeat("r", 36) + `"}`, []string{"/clientReference"}},
		{"dob in the future", "PATCH", `{"accountHolderName":"J","accountName":"J","dob":"2999-01-01"}`, []string{"/dob"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := a.call(t, tc.method, path, tok, strings.NewReader(tc.body))
			var p problem
			json.Unmarshal(body, &p)
			var got []string
			for _, e := range p.Errors {
				got = append(got, e.Pointer)
			}
			if resp.StatusCode != 400 || p.Code != httpapi.CodeValidationFailed || !slices.Equal(got, tc.pointers) {
				t.Errorf("%d %s, want 400 naming %q", resp.StatusCode, body, tc.pointers)
			}
		})
	}
	if _, body := a.call(t, "GET", path+"?refresh=true", tok, nil); !strings.Contains(string(body), `"status":"UNALLOCATED"`) {
		t.Errorf("refused changes changed the account: %s", body)
	}
}

// Account changes and finished jobs land in the tenant's event log, pageable.
func TestEvents(t *testing.T) {
	a := newAPI(t)
	tok := a.token(t, "t1")
	_, body := a.call(t, "POST", "/v1/virtual-accounts", tok, strings.NewReader(items(2, `{"currency":"USD","unallocated":true}`)), "Prefer", "wait=10")
	var job struct{ ID string }
	json.Unmarshal(body, &job)
	_, body = a.call(t, "GET", "/v1/jobs/"+job.ID+"/results", tok, nil)
	var res struct {
		Items []struct{ Account struct{ ID string } }
	}
	json.Unmarshal(body, &res)
	resp, body := a.call(t, "PATCH", "/v1/virtual-accounts/"+res.Items[0].Account.ID, tok, strings.NewReader(`{"accountHolderName":"Jane","accountName":"Jane"}`))
	if resp.StatusCode != 200 {
		t.Fatalf("allocate: %d %s", resp.StatusCode, body)
	}
	type page struct {
		Items []struct {
			ID   string
			Type string
			Data struct {
				PreviousStatus string
				Account        *struct{ ID, Status string }
				Job            *struct{ ID, Status string }
			}
		}
		NextCursor string
	}
	var all []string
	cursor := ""
	for range 10 {
		_, body = a.call(t, "GET", "/v1/events?limit=2&cursor="+cursor, tok, nil)
		var p page
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatalf("%s", body)
		}
		for _, e := range p.Items {
			all = append(all, e.Type)
			if e.Type == "virtual_account.status_updated" && (e.Data.PreviousStatus != "UNALLOCATED" || e.Data.Account.Status != "ACTIVE") {
				t.Errorf("status_updated = %+v", e)
			}
		}
		if len(p.Items) == 0 {
			break
		}
		cursor = p.NextCursor
	}
	want := []string{"virtual_account.created", "virtual_account.created", "job.completed", "virtual_account.status_updated", "virtual_account.allocated"}
	if fmt.Sprint(all) != fmt.Sprint(want) {
		t.Errorf("events = %v, want %v", all, want)
	}
	_, body = a.call(t, "GET", "/v1/events?type=job.completed", tok, nil)
	if strings.Count(string(body), `"type":"job.completed"`) != 1 || strings.Contains(string(body), "virtual_account") {
		t.Errorf("type filter: %s", body)
	}
	if resp, _ := a.call(t, "GET", "/v1/events", a.token(t, "t2"), nil); resp.StatusCode != 200 {
		t.Errorf("other tenant: %d", resp.StatusCode)
	} else if _, b := a.call(t, "GET", "/v1/events", a.token(t, "t2"), nil); strings.Contains(string(b), "evt_") {
		t.Errorf("another tenant sees events: %s", b)
	}
	if resp, _ := a.call(t, "GET", "/v1/events?type=nope", tok, nil); resp.StatusCode != 400 {
		t.Errorf("bad type: %d", resp.StatusCode)
	}
}

// A lost idempotency record (expired here; a crash or eviction elsewhere)
// does not make a second create: the retry with the same key and body gets
// the same job, and the provider holds one account per item.
func TestLostIdempotencyRecordDoesNotCreateTwice(t *testing.T) {
	st := memoryState()
	st.idem = idempotency.NewMemory(&idempotency.Options{TTL: 50 * time.Millisecond, ClaimTTL: 50 * time.Millisecond})
	a := newAPIState(t, st)
	tok := a.token(t, "tenant-a")
	key := uuid.NewString()
	body := `{"items":[{"currency":"USD","accountHolderName":"Lost Record","accountName":"Lost Record","clientReference":"LOST-REC-1"}]}`
	create := func() string {
		resp, b := a.call(t, "POST", "/v1/virtual-accounts", tok, strings.NewReader(body), "Idempotency-Key", key, "Prefer", "wait=5")
		if resp.StatusCode != 200 && resp.StatusCode != 202 {
			t.Fatalf("create: %d %s", resp.StatusCode, b)
		}
		if resp.Header.Get(httpapi.HeaderIdempotentReplayed) != "" {
			t.Fatalf("a replay: the record was not lost")
		}
		var j struct {
			JobID string `json:"jobId"`
			ID    string `json:"id"`
		}
		json.Unmarshal(b, &j)
		return j.JobID + j.ID
	}
	first := create()
	time.Sleep(150 * time.Millisecond) // the record expires
	second := create()
	if first == "" || first != second {
		t.Fatalf("jobs %q then %q; want the same job", first, second)
	}
	if n := a.mock.CountByReference("LOST-REC-1"); n != 1 {
		t.Errorf("%d accounts at the provider, want 1", n)
	}
}

// An item handed to the provider is `sent`, not `pending`: a cancel no
// longer stops it, and it ends created.
func TestSentItemsAreNotPending(t *testing.T) {
	a := newAPI(t)
	tok := a.token(t, "t1")
	if _, err := a.mock.Faults().Add(fault.Rule{Method: "POST", Path: "/v1/virtual-accounts", Action: fault.ActionLatency,
		Latency: fault.Duration(time.Second), Times: 1}); err != nil {
		t.Fatal(err)
	}
	resp, body := a.call(t, "POST", "/v1/virtual-accounts", tok, strings.NewReader(items(1, named)))
	if resp.StatusCode != 202 {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	var acc struct{ JobID string }
	json.Unmarshal(body, &acc)
	outcome := func() string {
		_, body := a.call(t, "GET", "/v1/jobs/"+acc.JobID+"/results", tok, nil)
		var res struct{ Items []struct{ Outcome string } }
		if json.Unmarshal(body, &res) != nil || len(res.Items) != 1 {
			t.Fatalf("results: %s", body)
		}
		return res.Items[0].Outcome
	}
	deadline := time.Now().Add(5 * time.Second)
	for outcome() != "sent" {
		if time.Now().After(deadline) {
			t.Fatalf("the item never showed as sent while its create was at the provider (now %s)", outcome())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if resp, body := a.call(t, "DELETE", "/v1/jobs/"+acc.JobID, tok, nil); resp.StatusCode != 200 {
		t.Fatalf("cancel: %d %s", resp.StatusCode, body)
	}
	for o := outcome(); o != "created"; o = outcome() {
		if o != "sent" || time.Now().After(deadline.Add(5*time.Second)) {
			t.Fatalf("a sent item became %s, want it to stay sent until created", o)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
