package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/mocks/batchvamock"
	"github.com/vagate/vagate/mocks/fault"
)

// envInt reads a positive size from the environment, or def.
func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// poolSetup is sharedSetup (two gateways, one Redis, a batchva mock in the
// test process) with a USD pool for tenant dev at batchva, claims bounded
// by claimTimeout and settled quickly.
func poolSetup(t *testing.T, mockOpts *batchvamock.Options, target, low int, claimTimeout time.Duration) (string, *batchvamock.Mock) {
	t.Helper()
	cfg, mock := sharedSetup(t, mockOpts)
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, `pool:
  claimTimeout: %s
  resolveAfter: 500ms
  sweepInterval: 200ms
  pools:
    - {tenant: dev, provider: batchva, currency: USD, target: %d, lowWatermark: %d}
`, claimTimeout, target, low)
	f.Close()
	return cfg, mock
}

// poolNow reads the batchva USD pool of GET /v1/pool.
func poolNow(t *testing.T, g *gw, tok string) bank.Pool {
	t.Helper()
	r := g.do(t, "GET", "/v1/pool", tok, "")
	want(t, r, 200, "GET /v1/pool")
	var out struct{ Items []bank.Pool }
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	for _, p := range out.Items {
		if p.Provider == "batchva" && p.Currency == "USD" {
			return p
		}
	}
	return bank.Pool{}
}

// waitPool polls GET /v1/pool until ok says so.
func waitPool(t *testing.T, g *gw, tok, what string, within time.Duration, ok func(bank.Pool) bool) bank.Pool {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		p := poolNow(t, g, tok)
		if ok(p) {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("pool still %+v after %s: want %s", p, within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func claimBody(holder string) string {
	return fmt.Sprintf(`{"currency":"USD","provider":"batchva","accountHolderName":%q,"accountName":%q}`, holder, holder)
}

// claimResult is one claim's answer as a client saw it.
type claimResult struct {
	holder  string
	status  int
	code    string
	account bank.Account
	err     error
}

// claim sends one claim without failing the test on a broken connection
// (an instance may be killed under it).
func claim(g *gw, tok, holder string) claimResult {
	res := claimResult{holder: holder}
	req, _ := http.NewRequest("POST", g.base+"/v1/pool/claim", strings.NewReader(claimBody(holder)))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", uuid.NewString())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		res.err = err
		return res
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	res.status, res.err = resp.StatusCode, err
	if resp.StatusCode == 200 {
		json.Unmarshal(b, &res.account)
	} else {
		var p struct{ Code string }
		json.Unmarshal(b, &p)
		res.code = p.Code
	}
	return res
}

// checkMock checks the provider's side: no account was ever offered to two
// holders, and every answered claim's account is allocated to its holder.
// It returns the accounts allocated at the provider by holder.
func checkMock(t *testing.T, mock *batchvamock.Mock, served []claimResult) map[string]string {
	t.Helper()
	byHolder := map[string]string{}
	for _, a := range mock.Allocations() {
		if len(a.Attempts) > 1 {
			t.Errorf("account %s was offered to %d holders: %v", a.Number, len(a.Attempts), a.Attempts)
		}
		if !a.Allocated {
			continue
		}
		if other, dup := byHolder[a.AccountHolderName]; dup {
			t.Errorf("holder %s got two accounts at the provider: %s and %s", a.AccountHolderName, other, a.Number)
		}
		byHolder[a.AccountHolderName] = a.Number
	}
	seen := map[string]string{}
	for _, c := range served {
		n := c.account.ProviderAccountID
		if other, dup := seen[n]; dup {
			t.Errorf("account %s answered to %s and %s", n, other, c.holder)
		}
		seen[n] = c.holder
		if byHolder[c.holder] != n || c.account.Status != bank.StatusActive || c.account.AccountHolderName != c.holder {
			t.Errorf("claim of %s answered %s (%s), the provider has %q for the holder", c.holder, n, c.account.Status, byHolder[c.holder])
		}
	}
	return byHolder
}

// 1000 concurrent claims over two instances sharing one Redis, on a pool
// of 600: 600 distinct accounts, each allocated to exactly one holder at
// the provider; every other claim a clear pool_exhausted answer.
func TestPoolConcurrentClaimsAcrossInstances(t *testing.T) {
	claims, size := envInt(t, "VAGATE_POOL_CLAIMS", 1000), envInt(t, "VAGATE_POOL_SIZE", 600)
	cfg, mock := poolSetup(t, &batchvamock.Options{PendingDelay: 20 * time.Millisecond, ProcessDelay: 100 * time.Millisecond}, size, 0, 20*time.Second)
	tok := mintToken(t, "dev", "", "-config", cfg)
	gws := []*gw{startGateway(t, "-config", cfg), startGateway(t, "-config", cfg)}
	// Both instances set the pool up; one fill job runs.
	waitPool(t, gws[1], tok, fmt.Sprintf("%d available", size), 60*time.Second, func(p bank.Pool) bool {
		return p.Available == size && p.ReplenishJobID == ""
	})
	if n := mock.AccountCount(); n != size {
		t.Fatalf("the fill created %d accounts at the provider, want %d (one fill job)", n, size)
	}
	// The replenish an empty pool starts must not land during the run, so
	// that every served claim comes from the first stock.
	mock.SetConfig(batchvamock.Config{PendingDelay: time.Hour})

	start := time.Now()
	results := make([]claimResult, claims)
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i := range claims {
		wg.Go(func() {
			<-gate
			results[i] = claim(gws[i%2], tok, fmt.Sprintf("Holder %04d", i))
		})
	}
	close(gate)
	wg.Wait()
	took := time.Since(start)

	var served []claimResult
	exhausted := 0
	for _, r := range results {
		switch {
		case r.err == nil && r.status == 200:
			served = append(served, r)
		case r.err == nil && r.status == 409 && r.code == "pool_exhausted":
			exhausted++
		default:
			t.Errorf("claim of %s: %d %s %v", r.holder, r.status, r.code, r.err)
		}
	}
	t.Logf("%d claims over two instances in %s: %d served, %d pool_exhausted", claims, took.Round(time.Millisecond), len(served), exhausted)
	if len(served) != size || exhausted != claims-size {
		t.Errorf("%d served and %d pool_exhausted, want %d and %d", len(served), exhausted, size, claims-size)
	}
	if got := checkMock(t, mock, served); len(got) != len(served) {
		t.Errorf("%d accounts allocated at the provider, want %d", len(got), len(served))
	}
	p := waitPool(t, gws[0], tok, "no claim under way", 30*time.Second, func(p bank.Pool) bool { return p.Claiming == 0 })
	if p.Claimed != size || p.Quarantined != 0 || p.Available != 0 {
		t.Errorf("pool after the run: %+v", p)
	}
}

// kill -9 of an instance in the middle of claims: no account is lost (each
// is available, allocated to exactly one holder, or quarantined and
// reported), none is offered to two holders; the surviving instance settles
// the claims the dead one left by reading their accounts at the provider.
func TestPoolKilledInstanceMidClaims(t *testing.T) {
	size, claims := envInt(t, "VAGATE_POOL_KILL_SIZE", 300), envInt(t, "VAGATE_POOL_KILL_CLAIMS", 200)
	cfg, mock := poolSetup(t, &batchvamock.Options{PendingDelay: 20 * time.Millisecond, ProcessDelay: 50 * time.Millisecond}, size, 0, 4*time.Second)
	tok := mintToken(t, "dev", "", "-config", cfg)
	a, b := startGateway(t, "-config", cfg), startGateway(t, "-config", cfg)
	waitPool(t, b, tok, fmt.Sprintf("%d available", size), 60*time.Second, func(p bank.Pool) bool {
		return p.Available == size && p.ReplenishJobID == ""
	})
	// Allocations take a while, so that the kill finds claims under way,
	// some already allocated at the provider and not yet recorded.
	if _, err := mock.Faults().Add(fault.Rule{Method: "PATCH", Path: "/v1/virtual-accounts/*", Action: fault.ActionLatency,
		Latency: fault.Duration(40 * time.Millisecond), Jitter: fault.Duration(40 * time.Millisecond)}); err != nil {
		t.Fatal(err)
	}

	var next, answered atomic.Int64
	var mu sync.Mutex
	var results []claimResult
	killed := make(chan struct{})
	var wg sync.WaitGroup
	for range 30 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(claims) {
					return
				}
				g := b
				select {
				case <-killed:
				default:
					if i%2 == 0 {
						g = a
					}
				}
				r := claim(g, tok, fmt.Sprintf("Holder %04d", i))
				mu.Lock()
				results = append(results, r)
				mu.Unlock()
				answered.Add(1)
			}
		})
	}
	for answered.Load() < int64(claims)/4 {
		time.Sleep(5 * time.Millisecond)
	}
	a.kill(t)
	close(killed)
	left := poolNow(t, b, tok)
	wg.Wait()
	if left.Claiming == 0 {
		t.Errorf("the kill caught no claim under way (pool %+v): the test proves nothing", left)
	}

	// B settles what A left once their hold has run out (claimTimeout + resolveAfter).
	p := waitPool(t, b, tok, "every claim settled", 30*time.Second, func(p bank.Pool) bool { return p.Claiming == 0 })
	var served []claimResult
	lost, unknown := 0, 0
	for _, r := range results {
		switch {
		case r.err == nil && r.status == 200:
			served = append(served, r)
		case r.err != nil:
			lost++ // the connection to A broke
		case r.status == 502 || r.status == 503 || r.status == 504:
			unknown++ // an outcome the gateway settles by itself (a loaded machine)
		default:
			t.Errorf("claim of %s: %d %s", r.holder, r.status, r.code)
		}
	}
	allocated := checkMock(t, mock, served)
	t.Logf("%d claims, %d answered, %d cut by the kill (%d under way then), %d of unknown outcome; pool %+v",
		claims, len(served), lost, left.Claiming, unknown, p)
	unallocated := 0
	for _, acc := range mock.Allocations() {
		if !acc.Allocated {
			unallocated++
		}
	}
	// Nothing lost: each account is available, claimed (allocated to one
	// holder) or quarantined.
	if p.Available+p.Claimed+p.Quarantined != size || mock.AccountCount() != size {
		t.Errorf("pool %+v and %d accounts at the provider: %d accounts unaccounted for", p, mock.AccountCount(), size-p.Available-p.Claimed-p.Quarantined)
	}
	if p.Claimed != len(allocated) || p.Available != unallocated-p.Quarantined {
		t.Errorf("pool %+v, the provider has %d allocated and %d unallocated", p, len(allocated), unallocated)
	}
	if len(served)+lost+unknown != claims || len(served) > len(allocated) {
		t.Errorf("%d served, %d lost, %d allocated at the provider", len(served), lost, len(allocated))
	}
	if !strings.Contains(b.logs.all(), "a claim left unfinished") {
		t.Error("the surviving instance settled no claim left by the killed one")
	}
}

// Through the binary with its embedded mocks: create a pool, watch it
// fill, claim, see it replenish, read the events and metrics.
func TestPoolEndToEnd(t *testing.T) {
	g := startGateway(t)
	tok := mintToken(t, "dev", "")
	r := g.do(t, "PUT", "/v1/pool/batchva/USD", tok, `{"target":5,"lowWatermark":3}`)
	want(t, r, 200, "create the pool")
	var created bank.Pool
	json.Unmarshal(r.body, &created)
	if created.Target != 5 || created.LowWatermark != 3 || created.ReplenishJobID == "" || created.Pending != 5 {
		t.Errorf("the new pool %s: want target 5, low 3 and a fill job of 5 under way", r.body)
	}
	waitPool(t, g, tok, "filled to 5", 20*time.Second, func(p bank.Pool) bool { return p.Available == 5 && p.ReplenishJobID == "" })

	var ids []string
	for i := range 3 {
		key := uuid.NewString()
		holder := fmt.Sprintf("Customer %d", i)
		r := g.do(t, "POST", "/v1/pool/claim", tok, claimBody(holder), "Idempotency-Key", key)
		want(t, r, 200, "claim")
		var a bank.Account
		json.Unmarshal(r.body, &a)
		if a.Status != bank.StatusActive || a.AccountHolderName != holder || a.AllocatedAt == nil {
			t.Errorf("claim: %s", r.body)
		}
		ids = append(ids, a.ID)
		if again := g.do(t, "POST", "/v1/pool/claim", tok, claimBody(holder), "Idempotency-Key", key); again.status != 200 ||
			string(again.body) != string(r.body) {
			t.Errorf("retry: %d %s", again.status, again.body)
		}
	}
	// The third claim left 2 < 3: a replenish tops the pool up to 5.
	p := waitPool(t, g, tok, "replenished to 5", 20*time.Second, func(p bank.Pool) bool { return p.Available == 5 && p.ReplenishJobID == "" })
	if p.Claimed != 3 {
		t.Errorf("pool %+v, want 3 claimed", p)
	}
	count := func(typ string) int {
		r := g.do(t, "GET", "/v1/events?type="+typ+"&limit=200", tok, "")
		want(t, r, 200, "events")
		var out struct {
			Items []struct {
				Data struct{ Account *bank.Account }
			}
		}
		json.Unmarshal(r.body, &out)
		if typ == "virtual_account.allocated" {
			for _, e := range out.Items {
				if e.Data.Account == nil || !strings.Contains(strings.Join(ids, ","), e.Data.Account.ID) {
					t.Errorf("an allocation event for another account: %+v", e)
				}
			}
		}
		return len(out.Items)
	}
	if n := count("pool.low"); n != 1 {
		t.Errorf("%d pool.low events, want 1", n)
	}
	if n := count("pool.replenished"); n != 2 {
		t.Errorf("%d pool.replenished events, want 2 (the fill and the top-up)", n)
	}
	if n := count("virtual_account.allocated"); n != 3 {
		t.Errorf("%d virtual_account.allocated events, want 3", n)
	}
	r = g.do(t, "GET", "/metrics", "", "")
	for _, line := range []string{`vagate_pool_available{currency="USD",tenant="dev",vagate_provider="batchva"} 5`,
		`vagate_pool_claimed{currency="USD",tenant="dev",vagate_provider="batchva"} 3`,
		`vagate_pool_target{currency="USD",tenant="dev",vagate_provider="batchva"} 5`,
		`vagate_pool_claims_total{currency="USD",outcome="allocated",vagate_provider="batchva"} 3`} {
		if !strings.Contains(string(r.body), line) {
			t.Errorf("/metrics lacks %s", line)
		}
	}
	// The provider holds each claimed account for its holder.
	var admin struct {
		Accounts []struct {
			AccountHolderName  string   `json:"accountHolderName"`
			Allocated          bool     `json:"allocated"`
			AllocationAttempts []string `json:"allocationAttempts"`
		} `json:"accounts"`
	}
	adminDo(t, g.mock, "GET", "/__admin/accounts", "", &admin)
	allocated := 0
	for _, a := range admin.Accounts {
		if a.Allocated {
			allocated++
			if len(a.AllocationAttempts) != 1 || a.AllocationAttempts[0] != a.AccountHolderName {
				t.Errorf("provider account %+v", a)
			}
		}
	}
	if len(admin.Accounts) != 8 || allocated != 3 {
		t.Errorf("the provider holds %d accounts, %d allocated; want 8 and 3", len(admin.Accounts), allocated)
	}
}
