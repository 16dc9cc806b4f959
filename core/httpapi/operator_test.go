package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/console"
	"github.com/vagate/vagate/core/httpapi"
	"github.com/vagate/vagate/core/store"
	"github.com/vagate/vagate/mocks/fault"
)

// consoleAPI is the API with the console's monitor and one mock's fault admin API.
func consoleAPI(t *testing.T, tune ...func(*httpapi.Deps, *httpapi.Options)) (*api, *console.Monitor) {
	t.Helper()
	inj := fault.New(nil)
	admin := httptest.NewServer(inj.AdminHandler())
	t.Cleanup(admin.Close)
	var mon *console.Monitor
	a := newAPIState(t, memoryState(), append([]func(*httpapi.Deps, *httpapi.Options){func(d *httpapi.Deps, o *httpapi.Options) {
		mon = console.New(d.Registry, nil)
		d.Console = mon
		d.Events = mon.Tap(store.NewMemoryEvents())
		d.Mocks = map[string]string{"batchva": admin.URL}
		o.TraceURLTemplate = "http://jaeger.test/trace/{traceId}"
	}}, tune...)...)
	return a, mon
}

// The page is public and harmless without a token: strict CSP, no cookie,
// no inline code; everything it shows comes from operator routes.
func TestConsolePage(t *testing.T) {
	a, _ := consoleAPI(t)
	for _, path := range []string{"/console", "/console/console.js", "/console/console.css"} {
		resp, body := a.call(t, "GET", path, "", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if resp.Header.Get("Set-Cookie") != "" {
			t.Errorf("%s sets a cookie", path)
		}
		if path == "/console" && (strings.Contains(string(body), "<script>") || strings.Contains(string(body), " onclick=")) {
			t.Errorf("the page has inline code, which its CSP forbids")
		}
	}
	if resp, _ := a.call(t, "GET", "/console/other.js", "", nil); resp.StatusCode != 404 {
		t.Errorf("unknown asset: %d, want 404", resp.StatusCode)
	}
}

// The console refuses without a token and with a tenant's token; an
// operator token reads across tenants, read-only unless it also has
// operator-actions, and every action is recorded as an event.
func TestOperatorAccess(t *testing.T) {
	a, mon := consoleAPI(t)
	tenant := a.token(t, "t1", httpapi.PermCreateVirtualAccount, httpapi.PermReadVirtualAccount, httpapi.PermManagePool, httpapi.PermManageWebhooks)
	reader := a.token(t, "ops", httpapi.PermOperator)
	actor := a.token(t, "ops", httpapi.PermOperator, httpapi.PermOperatorActions)
	actions := []struct{ method, path, body string }{
		{"POST", "/v1/operator/providers/batchva/breaker", `{"action":"open"}`},
		{"POST", "/v1/operator/jobs/job_x/cancel", `{"tenant":"t1"}`},
		{"POST", "/v1/operator/pool/replenish", `{"tenant":"t1","provider":"batchva","currency":"USD"}`},
		{"POST", "/v1/operator/webhooks/redeliver", `{"tenant":"t1","endpointId":"we_x","eventId":"evt_x"}`},
		{"GET", "/v1/operator/mocks/batchva/faults", ""},
		{"POST", "/v1/operator/mocks/batchva/faults", `{"action":"error","status":503}`},
		{"DELETE", "/v1/operator/mocks/batchva/faults", ""},
	}
	tests := []struct {
		name, method, path, tok, body string
		status                        int
	}{
		{"no token", "GET", "/v1/operator/overview", "", "", 401},
		{"a tenant's token", "GET", "/v1/operator/overview", tenant, "", 403},
		{"an operator token", "GET", "/v1/operator/overview", reader, "", 200},
	}
	for _, ac := range actions {
		tests = append(tests,
			struct {
				name, method, path, tok, body string
				status                        int
			}{"read-only " + ac.method + " " + ac.path, ac.method, ac.path, reader, ac.body, 403},
			struct {
				name, method, path, tok, body string
				status                        int
			}{"tenant " + ac.method + " " + ac.path, ac.method, ac.path, tenant, ac.body, 403})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body *strings.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			var resp *http.Response
			var b []byte
			if body != nil {
				resp, b = a.call(t, tc.method, tc.path, tc.tok, body, "Content-Type", "application/json")
			} else {
				resp, b = a.call(t, tc.method, tc.path, tc.tok, nil)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("%d %s, want %d", resp.StatusCode, b, tc.status)
			}
		})
	}
	if len(operatorActions(mon)) != 0 {
		t.Fatalf("refused actions were recorded: %v", operatorActions(mon))
	}

	// A tenant's job shows up for the operator, with its trace link data.
	resp, body := a.call(t, "POST", "/v1/virtual-accounts", tenant,
		strings.NewReader(`{"items":[{"currency":"USD","accountHolderName":"Jane","accountName":"Jane"}]}`),
		"Content-Type", "application/json", "Prefer", "wait=5", "traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	if resp.StatusCode != 200 && resp.StatusCode != 202 {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	var job bank.Job
	json.Unmarshal(body, &job)
	mon.JobSeen(t.Context(), &bank.Job{ID: job.ID, Tenant: "t1"})
	mon.Sample()
	resp, body = a.call(t, "GET", "/v1/operator/overview", reader, nil)
	var ov struct {
		CanAct           bool   `json:"canAct"`
		TraceURLTemplate string `json:"traceUrlTemplate"`
		Providers        []struct {
			Name         string `json:"name"`
			BreakerState string `json:"breakerState"`
			History      []any  `json:"history"`
		} `json:"providers"`
		Jobs []struct {
			ID, Tenant string
			Total      int
			Items      []struct{ Outcome string }
		} `json:"jobs"`
		Pools    struct{ Enabled bool }          `json:"pools"`
		Delivery struct{ Enabled bool }          `json:"delivery"`
		QA       struct{ Mocks []string }        `json:"qa"`
		Events   []struct{ Type, Tenant string } `json:"events"`
	}
	if err := json.Unmarshal(body, &ov); err != nil || resp.StatusCode != 200 {
		t.Fatalf("overview: %d %s", resp.StatusCode, body)
	}
	if ov.CanAct || ov.TraceURLTemplate == "" || len(ov.Providers) != 1 || ov.Providers[0].BreakerState != "closed" || len(ov.Providers[0].History) == 0 {
		t.Errorf("overview: %s", body)
	}
	if len(ov.Jobs) != 1 || ov.Jobs[0].ID != job.ID || ov.Jobs[0].Tenant != "t1" || len(ov.Jobs[0].Items) != 1 {
		t.Errorf("jobs: %+v", ov.Jobs)
	}
	if !ov.Pools.Enabled || ov.Delivery.Enabled || len(ov.QA.Mocks) != 1 {
		t.Errorf("panels: pools %v delivery %v qa %v", ov.Pools, ov.Delivery, ov.QA)
	}

	// Actions with operator-actions: recorded as operator.action events.
	for _, ac := range []struct{ method, path, body string }{
		{"POST", "/v1/operator/providers/batchva/breaker", `{"action":"open"}`},
		{"POST", "/v1/operator/mocks/batchva/faults", `{"action":"error","status":503,"rate":0.3}`},
	} {
		if resp, b := a.call(t, ac.method, ac.path, actor, strings.NewReader(ac.body), "Content-Type", "application/json"); resp.StatusCode != 200 {
			t.Fatalf("%s %s: %d %s", ac.method, ac.path, resp.StatusCode, b)
		}
	}
	_, body = a.call(t, "GET", "/v1/operator/overview", actor, nil)
	if !strings.Contains(string(body), `"breakerState":"open"`) || !strings.Contains(string(body), `"forced":true`) || !strings.Contains(string(body), `"canAct":true`) {
		t.Errorf("overview after forcing the breaker open: %s", body)
	}
	_, body = a.call(t, "GET", "/v1/jobs/"+job.ID+"/results", tenant, nil)
	var res struct{ Items []bank.ItemResult }
	json.Unmarshal(body, &res)
	if len(res.Items) != 1 || res.Items[0].Account == nil {
		t.Fatalf("results: %s", body)
	}
	if resp, body := a.call(t, "GET", "/v1/virtual-accounts/"+res.Items[0].Account.ID+"?refresh=true", tenant, nil); resp.StatusCode != 503 || !strings.Contains(string(body), "provider_unavailable") {
		t.Errorf("a provider call while the breaker is forced open: %d %s, want 503", resp.StatusCode, body)
	}
	_, body = a.call(t, "GET", "/v1/operator/mocks/batchva/faults", actor, nil)
	if !strings.Contains(string(body), `"status":503`) {
		t.Errorf("rules after adding one: %s", body)
	}
	a.call(t, "POST", "/v1/operator/providers/batchva/breaker", actor, strings.NewReader(`{"action":"reset"}`), "Content-Type", "application/json")
	a.call(t, "DELETE", "/v1/operator/mocks/batchva/faults", actor, nil)
	_, body = a.call(t, "GET", "/v1/operator/mocks/batchva/faults", actor, nil)
	if string(body) != `{"items":[]}` {
		t.Errorf("rules after clearing: %s", body)
	}
	got := operatorActions(mon)
	want := []string{"breaker.open", "mock.fault.add", "breaker.reset", "mock.fault.clear"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("recorded actions %v, want %v", got, want)
	}
	if resp, b := a.call(t, "POST", "/v1/operator/mocks/nope/faults", actor, strings.NewReader(`{"action":"error","status":503}`), "Content-Type", "application/json"); resp.StatusCode != 404 {
		t.Errorf("unknown mock: %d %s", resp.StatusCode, b)
	}
	if resp, b := a.call(t, "POST", "/v1/operator/mocks/batchva/faults", actor, strings.NewReader(`{"action":"error","status":200}`), "Content-Type", "application/json"); resp.StatusCode != 400 {
		t.Errorf("a rule the mock refuses: %d %s", resp.StatusCode, b)
	}
}

// Without pool, webhooks, monitor or mocks the overview still answers,
// saying which panels are off.
func TestOperatorOverviewWithoutOptionalParts(t *testing.T) {
	a := newAPIState(t, memoryState(), func(d *httpapi.Deps, _ *httpapi.Options) { d.Pool = nil })
	resp, body := a.call(t, "GET", "/v1/operator/overview", a.token(t, "ops", httpapi.PermOperator), nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"pools":{"enabled":false`) || !strings.Contains(string(body), `"delivery":{"enabled":false`) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	resp, body = a.call(t, "GET", "/v1/operator/mocks/batchva/faults", a.token(t, "ops", httpapi.PermOperator, httpapi.PermOperatorActions), nil)
	if resp.StatusCode != 501 {
		t.Fatalf("QA without mocks: %d %s, want 501", resp.StatusCode, body)
	}
}

func operatorActions(m *console.Monitor) []string {
	var out []string
	evs := m.Events()
	for i := len(evs) - 1; i >= 0; i-- {
		if e := evs[i]; e.Type == bank.EventOperatorAction {
			out = append(out, e.Data.OperatorAction.Action)
		}
	}
	return out
}
