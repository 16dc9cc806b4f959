package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/reconcile"
	"github.com/vagate/vagate/mocks/fault"
	"github.com/vagate/vagate/mocks/masterfiatmock"
)

// reconcileRun starts a reconciliation of the provider on g and waits for
// its report.
func reconcileRun(t *testing.T, g *gw, tok, provider string) reconcile.Report {
	t.Helper()
	r := g.do(t, "POST", "/v1/providers/"+provider+"/reconcile", tok, "")
	want(t, r, 202, "reconcile "+provider)
	var rep reconcile.Report
	json.Unmarshal(r.body, &rep)
	return waitReport(t, g, tok, rep.ID)
}

func waitReport(t *testing.T, g *gw, tok, id string) reconcile.Report {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := g.do(t, "GET", "/v1/reconciliations/"+id, tok, "")
		want(t, r, 200, "reconciliation")
		var rep reconcile.Report
		if err := json.Unmarshal(r.body, &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Status != reconcile.ReportRunning {
			if rep.Status != reconcile.ReportCompleted {
				t.Fatalf("reconciliation %s: %+v", id, rep)
			}
			return rep
		}
		if time.Now().After(deadline) {
			t.Fatalf("reconciliation %s still running", id)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func driftsByKind(ds []bank.Drift) map[bank.DriftKind]bank.Drift {
	out := map[bank.DriftKind]bank.Drift{}
	for _, d := range ds {
		out[d.Kind] = d
	}
	return out
}

// driftEvents reads the tenant's reconciliation.drift events.
func driftEvents(t *testing.T, g *gw, tok string) []bank.Drift {
	t.Helper()
	r := g.do(t, "GET", "/v1/events?type=reconciliation.drift&limit=200", tok, "")
	want(t, r, 200, "events")
	var page struct {
		Items []struct{ Data struct{ Drift *bank.Drift } }
	}
	json.Unmarshal(r.body, &page)
	var out []bank.Drift
	for _, e := range page.Items {
		out = append(out, *e.Data.Drift)
	}
	return out
}

// Drift made behind the gateway's back through the mocks' admin API: at
// masterfiat (which lists its accounts) an account blocked, one lost, one
// renamed, and one nobody asked for; at parentprimary (looked up one by
// one) one lost. Reconciliation finds each, reports it once as an event
// with both sides, repairs the status, adopts the stray account under the
// quarantine tenant, and reports the rest; a second run reports nothing.
func TestReconcileDriftEndToEnd(t *testing.T) {
	cfg, _, mf, ppURL, mfURL := failoverSetup(t, "reconcile: {adoptUnknown: true, grace: 1ms}\n")
	g := startGateway(t, "-config", cfg)
	tok := mintToken(t, "t1", "create-virtual-account,read-virtual-account", "-config", cfg)
	ops := mintToken(t, "ops", "operator", "-config", cfg)
	quarantine := mintToken(t, "quarantine", "read-virtual-account", "-config", cfg)

	var items []string
	for i := range 4 {
		items = append(items, fmt.Sprintf(`{"provider":"masterfiat","currency":"EUR","accountHolderName":"Drift","accountName":"Drift %d","clientReference":"DR-%d"}`, i, i))
	}
	items = append(items, `{"provider":"parentprimary","currency":"EUR","accountHolderName":"Drift","accountName":"Drift PP","clientReference":"DR-PP","customerId":"a2b9649e-df7f-4349-adff-1c57283fef10"}`)
	r := g.do(t, "POST", "/v1/virtual-accounts", tok, `{"items":[`+strings.Join(items, ",")+`]}`, "Prefer", "wait=20")
	want(t, r, 200, "create")
	r = g.do(t, "GET", "/v1/jobs/"+r.json(t)["id"].(string)+"/results", tok, "")
	var res struct{ Items []failoverItem }
	json.Unmarshal(r.body, &res)
	type acct struct{ id, providerID string }
	var accs []acct
	for _, it := range res.Items {
		if it.Outcome != "created" {
			t.Fatalf("item %d: %+v", it.Index, it)
		}
		a := g.do(t, "GET", "/v1/virtual-accounts/"+it.Account.ID, tok, "").json(t)
		accs = append(accs, acct{it.Account.ID, a["providerAccountId"].(string)})
	}
	// The gateway's records active, as the providers' are.
	for _, a := range accs[:4] {
		deadline := time.Now().Add(10 * time.Second)
		for g.do(t, "GET", "/v1/virtual-accounts/"+a.id+"?refresh=true", tok, "").json(t)["status"] != "ACTIVE" {
			if time.Now().After(deadline) {
				t.Fatalf("account %s never ACTIVE", a.id)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	admin := func(base, method, path, body string, status int) map[string]any {
		t.Helper()
		var out map[string]any
		var dst any
		if status != http.StatusNoContent {
			dst = &out
		}
		if got := adminDo(t, base, method, path, body, dst); got != status {
			t.Fatalf("%s %s: %d, want %d", method, path, got, status)
		}
		return out
	}
	admin(mfURL, "PATCH", "/__admin/accounts/"+accs[0].providerID, `{"status":"BLOCKED"}`, 200)
	admin(mfURL, "DELETE", "/__admin/accounts/"+accs[1].providerID, "", 204)
	admin(mfURL, "PATCH", "/__admin/accounts/"+accs[2].providerID, `{"label":"Renamed"}`, 200)
	stray := admin(mfURL, "POST", "/__admin/accounts", `{"currency":"EUR","label":"Stray"}`, 201)["id"].(string)
	admin(ppURL, "DELETE", "/__admin/accounts/"+accs[4].providerID, "", 204)
	time.Sleep(5 * time.Millisecond) // the stray account is older than the grace period

	want(t, g.do(t, "POST", "/v1/providers/masterfiat/reconcile", tok, ""), 403, "a tenant reconciling")
	rep := reconcileRun(t, g, ops, "masterfiat")
	if rep.Mode != reconcile.ModeList || rep.GatewayAccounts != 4 || rep.ProviderAccounts != 4 || len(rep.Drifts) != 4 {
		t.Fatalf("masterfiat run: %+v", rep)
	}
	got := driftsByKind(rep.Drifts)
	for kind, want := range map[bank.DriftKind]struct {
		action     bank.DriftAction
		providerID string
	}{
		bank.DriftStatusMismatch:    {bank.DriftRepaired, accs[0].providerID},
		bank.DriftMissingAtProvider: {bank.DriftReported, accs[1].providerID},
		bank.DriftIdentityMismatch:  {bank.DriftReported, accs[2].providerID},
		bank.DriftUnknownAtGateway:  {bank.DriftAdopted, stray},
	} {
		d, ok := got[kind]
		if !ok || d.Action != want.action || d.ProviderAccountID != want.providerID {
			t.Errorf("%s: %+v, want %s of %s", kind, d, want.action, want.providerID)
		}
	}
	if d := got[bank.DriftStatusMismatch]; d.Gateway == nil || d.Gateway.Status != bank.StatusActive || d.AtProvider == nil || d.AtProvider.Status != bank.StatusBlocked {
		t.Errorf("status drift sides: %+v / %+v", d.Gateway, d.AtProvider)
	}
	if d := got[bank.DriftIdentityMismatch]; len(d.Fields) != 1 || d.Fields[0] != "accountName" || d.AtProvider.AccountName != "Renamed" || d.Gateway.AccountName != "Drift 2" {
		t.Errorf("identity drift: %+v", d)
	}
	// Repaired: the record caught up; reported: unchanged.
	if s := g.do(t, "GET", "/v1/virtual-accounts/"+accs[0].id, tok, "").json(t)["status"]; s != "BLOCKED" {
		t.Errorf("repaired account is %v, want BLOCKED", s)
	}
	if n := g.do(t, "GET", "/v1/virtual-accounts/"+accs[2].id, tok, "").json(t)["accountName"]; n != "Drift 2" {
		t.Errorf("renamed account's record is %v, want it kept", n)
	}
	adopted := g.do(t, "GET", "/v1/virtual-accounts/"+got[bank.DriftUnknownAtGateway].AccountID, quarantine, "")
	want(t, adopted, 200, "adopted account")
	if adopted.json(t)["providerAccountId"] != stray {
		t.Errorf("adopted account: %s", adopted.body)
	}

	ppRep := reconcileRun(t, g, ops, "parentprimary")
	if ppRep.Mode != reconcile.ModeLookup || len(ppRep.Drifts) != 1 || ppRep.Drifts[0].Kind != bank.DriftMissingAtProvider ||
		ppRep.Drifts[0].AccountID != accs[4].id {
		t.Fatalf("parentprimary run: %+v", ppRep)
	}

	// Each drift is an event in its tenant's log, with both sides.
	evs := driftsByKind(driftEvents(t, g, tok))
	if len(evs) != 3 || evs[bank.DriftStatusMismatch].AtProvider == nil || evs[bank.DriftStatusMismatch].Gateway == nil ||
		evs[bank.DriftMissingAtProvider].Gateway == nil {
		t.Errorf("t1's drift events: %+v", evs)
	}
	if n := len(driftEvents(t, g, tok)); n != 4 {
		t.Errorf("t1 has %d drift events, want 4 (3 at masterfiat, 1 at parentprimary)", n)
	}
	if q := driftEvents(t, g, quarantine); len(q) != 1 || q[0].Kind != bank.DriftUnknownAtGateway || q[0].AtProvider == nil {
		t.Errorf("quarantine's drift events: %+v", q)
	}

	// A second run finds nothing new; what was only reported stays open.
	for provider, open := range map[string]int{"masterfiat": 2, "parentprimary": 1} {
		again := reconcileRun(t, g, ops, provider)
		if len(again.Drifts) != 0 || again.StillOpen != open {
			t.Errorf("%s second run: %d new drifts %v, %d open; want none new, %d open", provider, len(again.Drifts), again.Drifts, again.StillOpen, open)
		}
	}
	if n := len(driftEvents(t, g, tok)); n != 4 {
		t.Errorf("after the second runs t1 has %d drift events, want still 4", n)
	}
	latest := g.do(t, "GET", "/v1/providers/masterfiat/reconcile/latest", ops, "")
	want(t, latest, 200, "latest")
	if n, _ := latest.json(t)["stillOpen"].(float64); n != 2 {
		t.Errorf("latest: %s", latest.body)
	}
	if mf.AccountCount() != 4 {
		t.Errorf("masterfiat holds %d accounts: reconciliation must not create or delete any", mf.AccountCount())
	}
}

// Two instances on one Redis both asked to reconcile the same provider at
// the same moment: one runs, the other answers 409; the provider sees one
// listing at a time; once the run is over the other instance may run.
func TestReconcileOneInstanceAtATime(t *testing.T) {
	url := redisURL(t)
	prefix := freshPrefix(t, url, "vagate-rec")
	mock := masterfiatmock.New(&masterfiatmock.Options{FiatAccounts: masterfiatmock.DefaultFiatAccounts(),
		EndUsers: []masterfiatmock.EndUser{masterfiatmock.DefaultEndUser()}})
	var inFlight, most atomic.Int32
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/api/v1/virtual-accounts" {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			mu.Lock()
			most.Store(max(most.Load(), n))
			mu.Unlock()
		}
		mock.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { srv.Close(); mock.Close() })
	// Each listing takes a while, so the run is still going when the
	// other instance is asked.
	if _, err := mock.Faults().Add(fault.Rule{Method: "GET", Path: "/api/v1/virtual-accounts", Action: fault.ActionLatency, Latency: fault.Duration(400 * time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		adminDo(t, srv.URL, "POST", "/__admin/accounts", `{"currency":"GBP"}`, nil)
	}
	var fiat []string
	for _, f := range mock.FiatAccounts() {
		fiat = append(fiat, fmt.Sprintf("%s: %q", f.Currency, f.ID))
	}
	def := masterfiatmock.DefaultClient()
	cfg := fmt.Sprintf(`auth:
  secret: shared-state-test-secret-0123456789abcdef
store: {driver: redis, redisUrl: %q, prefix: %q}
reconcile: {grace: 1ms}
providers:
  - name: masterfiat
    style: masterfiat
    config: {baseUrl: %q, clientId: %q, clientSecret: %q, masterFiatAccounts: {%s}}
`, url, prefix, srv.URL, def.ID, def.Secret, strings.Join(fiat, ", "))
	cfgPath := filepath.Join(t.TempDir(), "vagate.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	a := startGateway(t, "-config", cfgPath)
	b := startGateway(t, "-config", cfgPath)
	ops := mintToken(t, "ops", "operator", "-config", cfgPath)

	replies := make([]*reply, 2)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, g := range []*gw{a, b} {
		wg.Go(func() {
			<-start
			replies[i] = g.do(t, "POST", "/v1/providers/masterfiat/reconcile", ops, "")
		})
	}
	close(start)
	wg.Wait()
	var started string
	statuses := []int{replies[0].status, replies[1].status}
	for i, r := range replies {
		if r.status == 202 {
			started = r.json(t)["id"].(string)
			if other := replies[1-i]; other.status != 409 || !strings.Contains(string(other.body), "running") {
				t.Fatalf("both asked at once: %v; the other answered %s", statuses, other.body)
			}
		}
	}
	if started == "" {
		t.Fatalf("both asked at once: %v, want one 202 and one 409", statuses)
	}
	// Either instance reads the run; it reports the stray accounts once.
	rep := waitReport(t, b, ops, started)
	if len(rep.Drifts) != 3 || rep.ProviderAccounts != 3 {
		t.Fatalf("run: %+v", rep)
	}
	// The lease is free again: the other instance runs, and finds nothing new.
	again := reconcileRun(t, a, ops, "masterfiat")
	if len(again.Drifts) != 0 || again.StillOpen != 3 {
		t.Fatalf("second run: %+v", again)
	}
	if m := most.Load(); m != 1 {
		t.Errorf("the provider saw %d listings at once, want 1", m)
	}
}
