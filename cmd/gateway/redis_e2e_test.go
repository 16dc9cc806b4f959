package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/vagate/vagate/mocks/batchvamock"
)

// redisURL is the real Redis the shared-state tests use.
func redisURL(t *testing.T) string {
	t.Helper()
	url := os.Getenv("REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("REDIS_URL: %v", err)
	}
	c := redis.NewClient(opt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis at %s unreachable: %v (start redis-server or set REDIS_URL)", url, err)
	}
	return url
}

// sharedSetup starts a batchva mock in the test process and writes a config
// for gateways sharing state in Redis under a fresh prefix.
func sharedSetup(t *testing.T, mockOpts *batchvamock.Options) (cfgPath string, mock *batchvamock.Mock) {
	t.Helper()
	url := redisURL(t)
	mock = batchvamock.New(mockOpts)
	srv := httptest.NewServer(mock)
	t.Cleanup(func() { srv.Close(); mock.Close() })
	prefix := fmt.Sprintf("vagate-e2e-%08x", rand.Uint32())
	t.Cleanup(func() {
		opt, _ := redis.ParseURL(url)
		c := redis.NewClient(opt)
		defer c.Close()
		ctx := context.Background()
		for _, pat := range []string{prefix + ":*", "{" + prefix + ":*"} {
			iter := c.Scan(ctx, 0, pat, 500).Iterator()
			for iter.Next(ctx) {
				c.Del(ctx, iter.Val())
			}
		}
	})
	def := batchvamock.DefaultClient()
	cfg := fmt.Sprintf(`
auth:
  secret: shared-state-test-secret-0123456789abcdef
store:
  driver: redis
  redisUrl: %s
  prefix: %s
jobs:
  visibilityTimeout: 1s
providers:
  - name: batchva
    style: batchva
    config:
      baseUrl: %s
      clientId: %s
      clientSecret: %s
`, url, prefix, srv.URL, def.ID, def.Secret)
	cfgPath = filepath.Join(t.TempDir(), "vagate.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfgPath, mock
}

// A job accepted by an instance that dies finishes on another, with exactly
// one account per item at the provider.
func TestKilledInstanceJobsFinishElsewhere(t *testing.T) {
	cfg, mock := sharedSetup(t, &batchvamock.Options{PendingDelay: 1500 * time.Millisecond, ProcessDelay: 300 * time.Millisecond})
	tok := mintToken(t, "dev", "", "-config", cfg)
	a := startGateway(t, "-config", cfg)

	const jobsN, itemsN = 4, 5
	var ids []string
	for j := range jobsN {
		body := `{"items":[`
		for i := range itemsN {
			if i > 0 {
				body += ","
			}
			body += fmt.Sprintf(`{"currency":"USD","unallocated":true,"clientReference":"KILL-%d-%d"}`, j, i)
		}
		r := a.do(t, "POST", "/v1/virtual-accounts", tok, body+"]}", "Idempotency-Key", uuid.NewString())
		want(t, r, 202, "create on A")
		var acc struct{ JobID string }
		json.Unmarshal(r.body, &acc)
		ids = append(ids, acc.JobID)
	}
	// Wait until A is working on every job, then kill it without warning.
	deadline := time.Now().Add(10 * time.Second)
	for _, id := range ids {
		for {
			var j struct{ Status string }
			json.Unmarshal(a.do(t, "GET", "/v1/jobs/"+id, tok, "").body, &j)
			if j.Status == "InProgress" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("job %s is %s, not in progress on A", id, j.Status)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	b := startGateway(t, "-config", cfg)
	a.kill(t)

	for _, id := range ids {
		j := b.waitJob(t, tok, id)
		if j["status"] != "Completed" || j["succeeded"] != float64(itemsN) {
			t.Errorf("job %s on B: %v", id, j)
		}
	}
	for j := range jobsN {
		for i := range itemsN {
			if n := mock.CountByReference(fmt.Sprintf("KILL-%d-%d", j, i)); n != 1 {
				t.Errorf("KILL-%d-%d: %d accounts at the provider, want exactly 1", j, i, n)
			}
		}
	}
	if n := mock.AccountCount(); n != jobsN*itemsN {
		t.Errorf("provider holds %d accounts, want %d", n, jobsN*itemsN)
	}
}

// 200 concurrent identical creates spread over two instances make one job.
func TestConcurrentIdempotencyAcrossInstances(t *testing.T) {
	cfg, mock := sharedSetup(t, &batchvamock.Options{PendingDelay: 50 * time.Millisecond, ProcessDelay: 50 * time.Millisecond})
	tok := mintToken(t, "dev", "", "-config", cfg)
	gws := []*gw{startGateway(t, "-config", cfg), startGateway(t, "-config", cfg)}
	key := uuid.NewString()
	body := `{"items":[{"currency":"USD","unallocated":true,"clientReference":"IDEM-200"}]}`
	var mu sync.Mutex
	jobs, statuses := map[string]bool{}, map[int]int{}
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
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
	wg.Wait()
	if len(jobs) != 1 || statuses[202]+statuses[409] != 200 {
		t.Fatalf("%d jobs, statuses %v; want one job and every other answer a replay (202) or 409", len(jobs), statuses)
	}
	for id := range jobs {
		gws[1].waitJob(t, tok, id)
	}
	if n := mock.CountByReference("IDEM-200"); n != 1 {
		t.Errorf("%d accounts at the provider, want 1", n)
	}
}
