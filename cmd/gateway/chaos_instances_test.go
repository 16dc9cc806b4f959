package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vagate/vagate/mocks/batchvamock"
	"github.com/vagate/vagate/mocks/fault"
	"github.com/vagate/vagate/mocks/masterfiatmock"
	"github.com/vagate/vagate/mocks/parentprimarymock"
	"github.com/vagate/vagate/mocks/subaccountmock"
)

// chaosMocks serves every bundled mock in the test process, shared by every
// gateway instance, and returns them with the providers block of a config.
func chaosMocks(t *testing.T) (map[string]mockAPI, string) {
	t.Helper()
	mocks := map[string]mockAPI{}
	serve := func(name string, m interface {
		mockAPI
		ServeHTTP(w http.ResponseWriter, r *http.Request)
		Close()
	}) string {
		srv := httptest.NewServer(m)
		t.Cleanup(func() { srv.Close(); m.Close() })
		mocks[name] = m
		return srv.URL
	}
	bv := batchvamock.New(&batchvamock.Options{PendingDelay: 50 * time.Millisecond, ProcessDelay: 50 * time.Millisecond})
	bvURL := serve("batchva", bv)
	sa := subaccountmock.New(&subaccountmock.Options{MainAccounts: subaccountmock.DefaultMainAccounts()})
	saURL := serve("subaccount", sa)
	pp := parentprimarymock.New(&parentprimarymock.Options{PrimaryAccounts: parentprimarymock.DefaultPrimaryAccounts()})
	ppURL := serve("parentprimary", pp)
	mf := masterfiatmock.New(&masterfiatmock.Options{FiatAccounts: masterfiatmock.DefaultFiatAccounts(),
		EndUsers: []masterfiatmock.EndUser{masterfiatmock.DefaultEndUser()}})
	mfURL := serve("masterfiat", mf)

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
	// Short attempt timeouts so hangs cost little; the breaker keeps its defaults.
	res := `
    resilience: {attemptTimeout: 400ms, callTimeout: 3s, backoffMin: 5ms, backoffMax: 50ms}`
	bvDef, ppDef := batchvamock.DefaultClient(), parentprimarymock.DefaultPartner()
	providers := fmt.Sprintf(`providers:
  - name: batchva
    style: batchva%s
    config: {baseUrl: %q, clientId: %q, clientSecret: %q}
  - name: subaccount
    style: subaccount%s
    config: {baseUrl: %q, apiKey: %q, settlementAccounts: %s}
  - name: parentprimary
    style: parentprimary%s
    config: {baseUrl: %q, apiToken: %q, signingSecret: %q, parentAccounts: %s, productCodes: %s}
  - name: masterfiat
    style: masterfiat%s
    config: {baseUrl: %q, clientId: %q, clientSecret: %q, masterFiatAccounts: %s}
`, res, bvURL, bvDef.ID, bvDef.Secret,
		res, saURL, subaccountmock.DefaultAPIKey, yamlMap(sa.SettlementAccounts()),
		res, ppURL, ppDef.APIToken, ppDef.SigningSecret, yamlMap(pp.ParentAccounts(ppDef.ID)), yamlMap(pp.ProductCodes()),
		res, mfURL, masterfiatmock.DefaultClient().ID, masterfiatmock.DefaultClient().Secret, yamlMap(fiat))
	return mocks, providers
}

// chaosItems is the size of a chaos run: VAGATE_CHAOS_ITEMS, else def.
func chaosItems(t *testing.T, def int) int {
	v := os.Getenv("VAGATE_CHAOS_ITEMS")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 100 || n%100 != 0 {
		t.Fatalf("VAGATE_CHAOS_ITEMS=%q: want a multiple of 100", v)
	}
	return n
}

// chaosItemJSON is a valid unified create item for each provider; two
// tenants send the same clientReference.
func chaosItemJSON(provider, tenant, ref string) string {
	switch provider {
	case "subaccount":
		return fmt.Sprintf(`{"provider":"subaccount","currency":"NGN","accountName":"dept-%s-%s","accountHolderName":"Institution - dept-%s-%s","clientReference":%q}`, tenant, ref, tenant, ref, ref)
	case "parentprimary":
		return fmt.Sprintf(`{"provider":"parentprimary","currency":"GBP","accountHolderName":"Chaos %s","accountName":"Chaos %s","clientReference":%q,"customerId":"a2b9649e-df7f-4349-adff-1c57283fef10"}`, tenant, ref, ref)
	case "masterfiat":
		return fmt.Sprintf(`{"provider":"masterfiat","currency":"GBP","accountHolderName":"Chaos %s","accountName":"Chaos %s","clientReference":%q}`, tenant, ref, ref)
	}
	return fmt.Sprintf(`{"provider":"batchva","currency":"USD","accountHolderName":"Chaos %s","accountName":"Chaos %s","clientReference":%q}`, tenant, ref, ref)
}

// Chaos across two instances sharing Redis: creates at all four providers
// fail 30% with 503, hang 10% and are created-then-dropped 10%, with the
// default breaker settings; two tenants use the same clientReferences; one
// instance is SIGKILLed (and restarted) and the other SIGTERMed mid-way.
// Every item ends created or failed (no unknown left, no job stuck), each
// provider holds exactly one account per created item and nothing else,
// and no account is bound to two items (so never across tenants).
//
// VAGATE_CHAOS_ITEMS sets the size (default 200; make chaos runs 2000).
func TestChaosAcrossInstances(t *testing.T) {
	total := chaosItems(t, 200)
	url := redisURL(t)
	prefix := freshPrefix(t, url, "vagate-chaos")
	mocks, providers := chaosMocks(t)
	cfgPath := filepath.Join(t.TempDir(), "vagate.yaml")
	cfg := fmt.Sprintf(`auth:
  secret: chaos-test-secret-0123456789abcdef-0123
store: {driver: redis, redisUrl: %q, prefix: %q}
jobs: {visibilityTimeout: 3s, drainTimeout: 2s}
%s`, url, prefix, providers)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, m := range mocks {
		path := createPath[name]
		for _, r := range []fault.Rule{
			// The first create of each provider is made and its answer
			// dropped, whatever the rates draw (batchva gets few calls).
			{Method: "POST", Path: path, Action: fault.ActionDropResponse, Times: 1},
			{Method: "POST", Path: path, Action: fault.ActionError, Status: 503, Rate: 0.30},
			{Method: "POST", Path: path, Action: fault.ActionHang, Rate: 0.10 / 0.70},
			{Method: "POST", Path: path, Action: fault.ActionDropResponse, Rate: 0.10 / 0.60},
		} {
			if _, err := m.Faults().Add(r); err != nil {
				t.Fatal(err)
			}
		}
	}
	tenants := []string{"chaos-a", "chaos-b"}
	toks := map[string]string{}
	for _, tn := range tenants {
		toks[tn] = mintToken(t, tn, "", "-config", cfgPath)
	}
	a := startGateway(t, "-config", cfgPath)
	b := startGateway(t, "-config", cfgPath)

	// Jobs of 25 items of one provider; per tenant total/2 items, a quarter
	// per provider; tenant B's references are tenant A's.
	began := time.Now()
	type jobRef struct{ tenant, id string }
	var jobsSent []jobRef
	names := []string{"batchva", "subaccount", "parentprimary", "masterfiat"}
	per := total / len(tenants) / len(names)
	for _, tn := range tenants {
		for _, name := range names {
			for start := 0; start < per; start += 25 {
				var items []string
				for i := start; i < min(start+25, per); i++ {
					items = append(items, chaosItemJSON(name, tn, fmt.Sprintf("CX-%s-%04d", name[:2], i)))
				}
				g := a
				if len(jobsSent)%2 == 1 {
					g = b
				}
				r := g.do(t, "POST", "/v1/virtual-accounts", toks[tn], `{"items":[`+strings.Join(items, ",")+`]}`, "Idempotency-Key", uuid.NewString())
				want(t, r, 202, "create")
				jobsSent = append(jobsSent, jobRef{tn, r.json(t)["jobId"].(string)})
			}
		}
	}
	held := func() int {
		n := 0
		for _, m := range mocks {
			n += m.AccountCount()
		}
		return n
	}
	waitHeld := func(n int) {
		deadline := time.Now().Add(3 * time.Minute)
		for held() < n {
			if time.Now().After(deadline) {
				t.Fatalf("providers hold %d accounts after 3 minutes, waiting for %d", held(), n)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitHeld(total / 4)
	a.kill(t) // SIGKILL mid-way
	a2 := startGateway(t, "-config", cfgPath)
	waitHeld(total / 2)
	took := b.term(t) // SIGTERM mid-way: drains 2s, hands the rest back
	t.Logf("SIGKILLed A at %d accounts held; SIGTERMed B at %d (%s in), which stopped in %s", total/4, total/2,
		time.Since(began).Round(time.Millisecond), took.Round(time.Millisecond))

	type item struct {
		Index   int    `json:"index"`
		Outcome string `json:"outcome"`
		Account *struct {
			ProviderAccountID string `json:"providerAccountId"`
			Provider          string `json:"provider"`
		} `json:"account"`
		Error *struct{ Message string } `json:"error"`
	}
	outcomes := map[string]int{}
	created := map[string]int{}
	reasons := map[string]int{}
	owner := map[string]string{} // provider/account id → tenant, job, item
	var mu sync.Mutex
	// Items of unknown outcome are checked again for minutes (1 s doubling
	// to 30 s, and a check the breaker refuses does not count).
	deadline := time.Now().Add(3*time.Minute + time.Duration(total)*300*time.Millisecond)
	for _, j := range jobsSent {
		var st map[string]any
		for {
			r := a2.do(t, "GET", "/v1/jobs/"+j.id, toks[j.tenant], "")
			want(t, r, 200, "job")
			st = r.json(t)
			if s := st["status"]; s == "Completed" || s == "CompletedWithErrors" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("job %s of %s stuck: %v", j.id, j.tenant, st)
			}
			time.Sleep(100 * time.Millisecond)
		}
		r := a2.do(t, "GET", "/v1/jobs/"+j.id+"/results", toks[j.tenant], "")
		want(t, r, 200, "results")
		var res struct{ Items []item }
		if err := json.Unmarshal(r.body, &res); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		for _, it := range res.Items {
			outcomes[it.Outcome]++
			switch it.Outcome {
			case "created":
				key := it.Account.Provider + "/" + it.Account.ProviderAccountID
				if prev, dup := owner[key]; dup {
					t.Errorf("account %s bound to two items: %s and %s %s #%d", key, prev, j.tenant, j.id, it.Index)
				}
				owner[key] = fmt.Sprintf("%s %s #%d", j.tenant, j.id, it.Index)
				created[it.Account.Provider]++
			case "failed":
				if it.Error == nil || it.Error.Message == "" {
					t.Errorf("job %s item %d failed without a reason", j.id, it.Index)
				} else {
					reasons[it.Error.Message[:min(len(it.Error.Message), 90)]]++
				}
			default:
				t.Errorf("job %s item %d ended %q: %+v", j.id, it.Index, it.Outcome, it.Error)
			}
		}
		mu.Unlock()
	}
	for name, m := range mocks {
		if n := m.AccountCount(); n != created[name] {
			t.Errorf("%s holds %d accounts for %d created items: duplicates or orphans", name, n, created[name])
		}
		fired := 0
		for _, r := range m.Faults().Rules() {
			fired += r.Fired
		}
		if fired == 0 {
			t.Errorf("%s: no fault fired", name)
		}
	}
	sum := 0
	for _, n := range outcomes {
		sum += n
	}
	if sum != per*len(names)*len(tenants) {
		t.Errorf("%d item results for %d items sent", sum, per*len(names)*len(tenants))
	}
	t.Logf("%d items in %d jobs: outcomes %v; created per provider %v; accounts held %d; all settled %s after the first create",
		sum, len(jobsSent), outcomes, created, held(), time.Since(began).Round(time.Millisecond))
	for r, n := range reasons {
		t.Logf("failed %4d× %s", n, r)
	}
}
