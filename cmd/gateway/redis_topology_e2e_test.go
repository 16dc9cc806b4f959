package main

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vagate/vagate/core/store/redistest"
	"github.com/vagate/vagate/mocks/batchvamock"
)

// storeBlock is the store: block of gateways sharing state on top (from
// the environment, see redistest) under a fresh prefix, whose keys are
// deleted when t ends.
func storeBlock(t *testing.T, top redistest.Topology, base string) string {
	t.Helper()
	c := redistest.Client(t, top)
	prefix := redistest.Prefix(t, c, base)
	opt, _, _ := redistest.Options(top)
	switch top {
	case redistest.Cluster:
		return fmt.Sprintf("store:\n  driver: redis\n  prefix: %s\n  redis:\n    cluster:\n      addrs: %s\n", prefix, strings.Join(opt.Addrs, ","))
	case redistest.Sentinel:
		return fmt.Sprintf("store:\n  driver: redis\n  prefix: %s\n  redis:\n    sentinel:\n      masterName: %s\n      addrs: %s\n",
			prefix, opt.MasterName, strings.Join(opt.Addrs, ","))
	}
	return fmt.Sprintf("store:\n  driver: redis\n  prefix: %s\n  redisUrl: %s\n", prefix, redisURL(t))
}

// sharedSetupOn is sharedSetup with the state on the given Redis topology.
func sharedSetupOn(t *testing.T, top redistest.Topology, mockOpts *batchvamock.Options) (cfgPath string, mock *batchvamock.Mock) {
	t.Helper()
	return sharedSetupWith(t, storeBlock(t, top, "vagate-e2e"), mockOpts)
}

// sharedSetupWith starts a batchva mock in the test process and writes a
// config for gateways sharing state through storeYAML (a store: block).
func sharedSetupWith(t *testing.T, storeYAML string, mockOpts *batchvamock.Options) (cfgPath string, mock *batchvamock.Mock) {
	t.Helper()
	mock = batchvamock.New(mockOpts)
	srv := httptest.NewServer(mock)
	t.Cleanup(func() { srv.Close(); mock.Close() })
	def := batchvamock.DefaultClient()
	cfg := fmt.Sprintf(`
auth:
  secret: shared-state-test-secret-0123456789abcdef
%s
jobs:
  visibilityTimeout: 1s
  drainTimeout: 500ms
providers:
  - name: batchva
    style: batchva
    config:
      baseUrl: %s
      clientId: %s
      clientSecret: %s
`, storeYAML, srv.URL, def.ID, def.Secret)
	cfgPath = filepath.Join(t.TempDir(), "vagate.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfgPath, mock
}

// Two instances on a Redis Cluster: one is killed mid-job, and the other
// finishes its jobs with one account per item at the provider, as on a
// single node (TestKilledInstanceJobsFinishElsewhere).
func TestClusterKilledInstanceJobsFinishElsewhere(t *testing.T) {
	cfg, mock := sharedSetupOn(t, redistest.Cluster, &batchvamock.Options{PendingDelay: 1500 * time.Millisecond, ProcessDelay: 300 * time.Millisecond})
	tok := mintToken(t, "dev", "", "-config", cfg)
	a := startGateway(t, "-config", cfg)
	if logs := a.logs.all(); !strings.Contains(logs, `"topology":"cluster"`) || !strings.Contains(logs, "redis durability") {
		t.Errorf("the gateway does not say it runs on the Cluster, or what the Cluster keeps on disk:\n%s", logs)
	}

	const jobsN, itemsN = 4, 5
	ids := submitInProgress(t, a, tok, "CKILL", jobsN, itemsN)
	b := startGateway(t, "-config", cfg)
	a.kill(t)

	finishedOnce(t, b, tok, mock, "CKILL", ids, itemsN)
	if n := mock.AccountCount(); n != jobsN*itemsN {
		t.Errorf("provider holds %d accounts, want %d", n, jobsN*itemsN)
	}
}

// 1,000 concurrent identical creates spread over two instances on a Redis
// Cluster make one job and one account, as on a single node
// (TestConcurrentIdempotencyAcrossInstances).
func TestClusterConcurrentIdempotencyAcrossInstances(t *testing.T) {
	cfg, mock := sharedSetupOn(t, redistest.Cluster, &batchvamock.Options{PendingDelay: 50 * time.Millisecond, ProcessDelay: 50 * time.Millisecond})
	tok := mintToken(t, "dev", "", "-config", cfg)
	gws := []*gw{startGateway(t, "-config", cfg), startGateway(t, "-config", cfg)}
	const n = 1000
	key := uuid.NewString()
	body := `{"items":[{"currency":"USD","unallocated":true,"clientReference":"CIDEM-1000"}]}`
	var mu sync.Mutex
	jobs, statuses := map[string]bool{}, map[int]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			r := gws[i%2].do(t, "POST", "/v1/virtual-accounts", tok, body, "Idempotency-Key", key)
			mu.Lock()
			defer mu.Unlock()
			statuses[r.status]++
			if r.status == 202 {
				var acc struct{ JobID string }
				json.Unmarshal(r.body, &acc)
				jobs[acc.JobID] = true
			}
		})
	}
	close(start)
	wg.Wait()
	if len(jobs) != 1 || statuses[202]+statuses[409] != n {
		t.Fatalf("%d jobs, statuses %v; want one job and every other answer a replay (202) or 409", len(jobs), statuses)
	}
	for id := range jobs {
		if st := gws[1].waitJob(t, tok, id); st["status"] != "Completed" {
			t.Errorf("job %s: %v", id, st)
		}
	}
	if n := mock.CountByReference("CIDEM-1000"); n != 1 {
		t.Errorf("%d accounts at the provider, want 1", n)
	}
}
