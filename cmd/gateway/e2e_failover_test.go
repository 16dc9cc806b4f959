package main

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/mocks/fault"
	"github.com/vagate/vagate/mocks/masterfiatmock"
	"github.com/vagate/vagate/mocks/parentprimarymock"
)

// failoverSetup serves the parentprimary and masterfiat mocks in the test
// process and writes a config routing EUR to parentprimary with masterfiat
// as its fallback (extra is appended to the config).
func failoverSetup(t *testing.T, extra string) (cfgPath string, pp *parentprimarymock.Mock, mf *masterfiatmock.Mock, ppURL, mfURL string) {
	t.Helper()
	pp = parentprimarymock.New(&parentprimarymock.Options{PrimaryAccounts: parentprimarymock.DefaultPrimaryAccounts()})
	ppSrv := httptest.NewServer(pp)
	mf = masterfiatmock.New(&masterfiatmock.Options{FiatAccounts: masterfiatmock.DefaultFiatAccounts(),
		EndUsers: []masterfiatmock.EndUser{masterfiatmock.DefaultEndUser()}, ActivationDelay: 20 * time.Millisecond})
	mfSrv := httptest.NewServer(mf)
	t.Cleanup(func() { ppSrv.Close(); mfSrv.Close(); pp.Close(); mf.Close() })
	yamlMap := func(m map[string]string) string {
		var parts []string
		for k, v := range m {
			parts = append(parts, fmt.Sprintf("%s: %q", k, v))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	fiat := map[string]string{}
	for _, f := range mf.FiatAccounts() {
		fiat[f.Currency] = f.ID
	}
	ppDef, mfDef := parentprimarymock.DefaultPartner(), masterfiatmock.DefaultClient()
	res := `{attemptTimeout: 400ms, callTimeout: 3s, maxAttempts: 3, backoffMin: 5ms, backoffMax: 20ms, breaker: {openFor: 1s}}`
	cfg := fmt.Sprintf(`auth:
  secret: failover-test-secret-0123456789abcdef-01
jobs: {checks: 50}
providers:
  - name: parentprimary
    style: parentprimary
    resilience: %s
    config: {baseUrl: %q, apiToken: %q, signingSecret: %q, parentAccounts: %s, productCodes: %s}
  - name: masterfiat
    style: masterfiat
    resilience: %s
    config: {baseUrl: %q, clientId: %q, clientSecret: %q, masterFiatAccounts: %s}
routing:
  - currency: EUR
    provider: parentprimary
    fallbacks: [masterfiat]
%s`, res, ppSrv.URL, ppDef.APIToken, ppDef.SigningSecret, yamlMap(pp.ParentAccounts(ppDef.ID)), yamlMap(pp.ProductCodes()),
		res, mfSrv.URL, mfDef.ID, mfDef.Secret, yamlMap(fiat), extra)
	cfgPath = filepath.Join(t.TempDir(), "vagate.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfgPath, pp, mf, ppSrv.URL, mfSrv.URL
}

// euroJob creates a job of n EUR items that name no provider, with
// clientReferences <prefix>-<i>, and returns its id.
func euroJob(t *testing.T, g *gw, tok, prefix string, n int) string {
	t.Helper()
	var items []string
	for i := range n {
		items = append(items, fmt.Sprintf(`{"currency":"EUR","accountHolderName":"Fail Over","accountName":"Fail Over %d","clientReference":"%s-%03d","customerId":"a2b9649e-df7f-4349-adff-1c57283fef10"}`, i, prefix, i))
	}
	r := g.do(t, "POST", "/v1/virtual-accounts", tok, `{"items":[`+strings.Join(items, ",")+`]}`, "Idempotency-Key", uuid.NewString())
	want(t, r, 202, "create")
	return r.json(t)["jobId"].(string)
}

type failoverItem struct {
	Index           int
	ClientReference string
	Provider        string
	Outcome         string
	Routing         *bank.Routing
	Account         *struct {
		ID       string
		Provider string
		Routing  *bank.Routing
	}
}

// jobItems waits up to d for the job and returns its items.
func jobItems(t *testing.T, g *gw, tok, id string, d time.Duration) (map[string]any, []failoverItem) {
	t.Helper()
	deadline := time.Now().Add(d)
	var j map[string]any
	for {
		j = g.do(t, "GET", "/v1/jobs/"+id, tok, "").json(t)
		if s := j["status"]; s == "Completed" || s == "CompletedWithErrors" || s == "Cancelled" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %v after %s: %v", id, j["status"], d, j)
		}
		time.Sleep(50 * time.Millisecond)
	}
	r := g.do(t, "GET", "/v1/jobs/"+id+"/results", tok, "")
	want(t, r, 200, "results")
	var res struct{ Items []failoverItem }
	if err := json.Unmarshal(r.body, &res); err != nil {
		t.Fatal(err)
	}
	return j, res.Items
}

// While the EUR primary (parentprimary) is down, creates fail over to its
// fallback (masterfiat): all 200 of a job sent while it answers 503
// succeed there, each result and account saying so, with a
// virtual_account.failover event and a metric. Items of an earlier job
// whose first attempt's answer was dropped (created at the primary, the
// outcome unknown) never fail over: they wait for the primary and settle
// there when it is back. Counted at both mocks, no item is at two
// providers, every created one at exactly one.
func TestFailoverToFallbackWhilePrimaryDown(t *testing.T) {
	cfg, pp, mf, _, _ := failoverSetup(t, "")
	g := startGateway(t, "-config", cfg)
	tok := mintToken(t, "fo", "", "-config", cfg)
	path := createPath["parentprimary"]
	addFault := func(r fault.Rule) {
		t.Helper()
		if _, err := pp.Faults().Add(r); err != nil {
			t.Fatal(err)
		}
	}

	// Job A: the primary creates the first accounts but their answers are
	// dropped, then it goes down.
	addFault(fault.Rule{Method: "POST", Path: path, Action: fault.ActionDropResponse, Times: 6})
	addFault(fault.Rule{Method: "POST", Path: path, Action: fault.ActionError, Status: 503})
	jobA := euroJob(t, g, tok, "FOA", 20)
	// Wait until job A's items are all sent: unknown ones wait, the others
	// failed over.
	deadline := time.Now().Add(20 * time.Second)
	for {
		j := g.do(t, "GET", "/v1/jobs/"+jobA, tok, "").json(t)
		if j["unknown"].(float64) > 0 && j["unknown"].(float64)+j["succeeded"].(float64) == 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job A: %v", j)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Job B: 200 creates while the primary is down.
	began := time.Now()
	jobB := euroJob(t, g, tok, "FOB", 200)
	j, items := jobItems(t, g, tok, jobB, 60*time.Second)
	t.Logf("200 creates with the primary down: %s", time.Since(began).Round(time.Millisecond))
	if j["status"] != "Completed" || j["succeeded"].(float64) != 200 {
		t.Fatalf("job B: %v", j)
	}
	reasons := map[bank.FailoverReason]int{}
	for _, it := range items {
		rt := it.Routing
		if it.Outcome != "created" || it.Provider != "masterfiat" || rt == nil || rt.RoutedBy != bank.RoutedByFallback ||
			len(rt.FailedOver) != 1 || rt.FailedOver[0] != "parentprimary" {
			t.Fatalf("job B item %d: %+v (routing %+v)", it.Index, it, rt)
		}
		if it.Account == nil || it.Account.Provider != "masterfiat" || it.Account.Routing == nil || it.Account.Routing.Reason != rt.Reason {
			t.Fatalf("job B item %d account: %+v", it.Index, it.Account)
		}
		reasons[rt.Reason]++
		if n, m := pp.CountByReference(it.ClientReference), mf.CountByReference(it.ClientReference); n != 0 || m != 1 {
			t.Fatalf("job B item %d: %d accounts at the primary, %d at the fallback; want 0 and 1", it.Index, n, m)
		}
	}
	if reasons[bank.FailoverBreakerOpen] == 0 || reasons[bank.FailoverBreakerOpen]+reasons[bank.FailoverUnavailable] != 200 {
		t.Errorf("reasons %v: want breaker_open (most) or unavailable", reasons)
	}
	// The account says so too, and the event log has one failover per item.
	acc := g.do(t, "GET", "/v1/virtual-accounts/"+items[0].Account.ID, tok, "").json(t)
	if rt, _ := acc["routing"].(map[string]any); rt == nil || rt["routedBy"] != "fallback" || rt["reason"] == nil {
		t.Errorf("account routing %v", acc["routing"])
	}

	// The primary is back: job A's unknown items settle there.
	pp.Faults().Reset()
	_, itemsA := jobItems(t, g, tok, jobA, 60*time.Second)
	at := map[string]int{}
	for _, it := range itemsA {
		n, m := pp.CountByReference(it.ClientReference), mf.CountByReference(it.ClientReference)
		if it.Outcome != "created" || n+m != 1 {
			t.Fatalf("job A item %d: %s, %d accounts at the primary and %d at the fallback; want created at exactly one", it.Index, it.Outcome, n, m)
		}
		if (it.Provider == "parentprimary") != (n == 1) {
			t.Fatalf("job A item %d: result says %s, the mocks hold %d/%d", it.Index, it.Provider, n, m)
		}
		if it.Provider == "parentprimary" && it.Routing != nil && it.Routing.RoutedBy == bank.RoutedByFallback {
			t.Fatalf("job A item %d settled at the primary but says it failed over: %+v", it.Index, it.Routing)
		}
		at[it.Provider]++
	}
	if at["parentprimary"] == 0 || at["masterfiat"] == 0 {
		t.Errorf("job A ended %v: want the unknown items at the primary and the rest at the fallback", at)
	}

	events, cursor := 0, ""
	for {
		r := g.do(t, "GET", "/v1/events?type=virtual_account.failover&limit=200&cursor="+cursor, tok, "")
		want(t, r, 200, "events")
		var page struct {
			Items      []json.RawMessage
			NextCursor string
		}
		json.Unmarshal(r.body, &page)
		if len(page.Items) == 0 {
			break
		}
		events, cursor = events+len(page.Items), page.NextCursor
	}
	if events != 200+at["masterfiat"] {
		t.Errorf("%d virtual_account.failover events, want %d (one per account a fallback created)", events, 200+at["masterfiat"])
	}
	m := string(g.do(t, "GET", "/metrics", "", "").body)
	if !strings.Contains(m, `vagate_jobs_failovers_total{from="parentprimary",reason="breaker_open",to="masterfiat"`) {
		t.Errorf("/metrics lacks the failover counter")
	}
}
