package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

// freshPrefix is a new Redis key prefix for one test; every key under it
// (plain or hash-tagged) is deleted when the test ends.
func freshPrefix(t *testing.T, url, base string) string {
	t.Helper()
	prefix := fmt.Sprintf("%s-%08x", base, rand.Uint32())
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
	return prefix
}

// sharedSetup starts a batchva mock in the test process and writes a config
// for gateways sharing state in Redis under a fresh prefix.
func sharedSetup(t *testing.T, mockOpts *batchvamock.Options) (cfgPath string, mock *batchvamock.Mock) {
	t.Helper()
	url := redisURL(t)
	prefix := freshPrefix(t, url, "vagate-e2e")
	return sharedSetupWith(t, fmt.Sprintf("store:\n  driver: redis\n  redisUrl: %s\n  prefix: %s\n", url, prefix), mockOpts)
}

// submitInProgress creates jobsN jobs of itemsN unallocated batchva items
// (clientReference <prefix>-<job>-<item>) on g and waits until g is working
// on every one of them.
func submitInProgress(t *testing.T, g *gw, tok, prefix string, jobsN, itemsN int) []string {
	t.Helper()
	var ids []string
	for j := range jobsN {
		var items []string
		for i := range itemsN {
			items = append(items, fmt.Sprintf(`{"currency":"USD","unallocated":true,"clientReference":"%s-%d-%d"}`, prefix, j, i))
		}
		r := g.do(t, "POST", "/v1/virtual-accounts", tok, `{"items":[`+strings.Join(items, ",")+`]}`, "Idempotency-Key", uuid.NewString())
		want(t, r, 202, "create")
		ids = append(ids, r.json(t)["jobId"].(string))
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, id := range ids {
		for {
			var j struct{ Status string }
			json.Unmarshal(g.do(t, "GET", "/v1/jobs/"+id, tok, "").body, &j)
			if j.Status == "InProgress" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("job %s is %s, not in progress", id, j.Status)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return ids
}

// A job accepted by an instance that dies finishes on another, with exactly
// one account per item at the provider.
func TestKilledInstanceJobsFinishElsewhere(t *testing.T) {
	cfg, mock := sharedSetup(t, &batchvamock.Options{PendingDelay: 1500 * time.Millisecond, ProcessDelay: 300 * time.Millisecond})
	tok := mintToken(t, "dev", "", "-config", cfg)
	a := startGateway(t, "-config", cfg)

	const jobsN, itemsN = 4, 5
	ids := submitInProgress(t, a, tok, "KILL", jobsN, itemsN)
	// A is working on every job: kill it without warning.
	b := startGateway(t, "-config", cfg)
	a.kill(t)

	finishedOnce(t, b, tok, mock, "KILL", ids, itemsN)
	if n := mock.AccountCount(); n != jobsN*itemsN {
		t.Errorf("provider holds %d accounts, want %d", n, jobsN*itemsN)
	}
}

// SIGTERM mid-job (a rolling deploy): the instance drains for its grace
// period, hands what it could not finish back to the queue and exits 0; the
// other instance finishes every item, with one account each at the provider.
func TestSIGTERMHandsUnfinishedJobsToAnotherInstance(t *testing.T) {
	cfg, mock := sharedSetup(t, &batchvamock.Options{PendingDelay: 1500 * time.Millisecond, ProcessDelay: 300 * time.Millisecond})
	tok := mintToken(t, "dev", "", "-config", cfg)
	a := startGateway(t, "-config", cfg)

	const jobsN, itemsN = 10, 4
	ids := submitInProgress(t, a, tok, "TERM", jobsN, itemsN)
	b := startGateway(t, "-config", cfg)
	took := a.term(t)
	if took > 15*time.Second {
		t.Errorf("A took %s to stop after SIGTERM", took)
	}
	if logs := a.logs.all(); !strings.Contains(logs, "handing it back to the queue") {
		t.Errorf("A interrupted no job: the test did not catch jobs mid-way:\n%s", logs)
	}
	finishedOnce(t, b, tok, mock, "TERM", ids, itemsN)
}

// finishedOnce checks that g finished every job of submitInProgress(prefix)
// with all its items created, and that the provider holds exactly one
// account per item.
func finishedOnce(t *testing.T, g *gw, tok string, mock *batchvamock.Mock, prefix string, ids []string, itemsN int) {
	t.Helper()
	for j, id := range ids {
		if st := g.waitJob(t, tok, id); st["status"] != "Completed" || st["succeeded"] != float64(itemsN) {
			t.Errorf("job %s on the surviving instance: %v", id, st)
		}
		for i := range itemsN {
			ref := fmt.Sprintf("%s-%d-%d", prefix, j, i)
			if n := mock.CountByReference(ref); n != 1 {
				t.Errorf("%s: %d accounts at the provider, want exactly 1", ref, n)
			}
		}
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

// In Redis mode the gateway refuses to start without Redis, and says why.
func TestRefusesUnreachableRedis(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "vagate.yaml")
	os.WriteFile(cfg, []byte("auth:\n  secret: shared-state-test-secret-0123456789abcdef\nstore:\n  driver: redis\n  redisUrl: redis://:hunter2@127.0.0.1:1/0\nmocks:\n  embedded: true\n"), 0o600)
	cmd := exec.Command(binPath, "serve", "-config", cfg, "-listen", "127.0.0.1:0", "-mock-port", "0")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("started without Redis:\n%s", out)
	}
	if !strings.Contains(string(out), "unreachable") || !strings.Contains(string(out), "127.0.0.1:1") {
		t.Errorf("the refusal does not say what is wrong:\n%s", out)
	}
	if strings.Contains(string(out), "hunter2") {
		t.Errorf("the refusal shows the Redis password:\n%s", out)
	}
}

// A Redis that may evict keys gets a loud warning at start-up.
func TestWarnsOnEvictingRedis(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server is needed for this test (apt-get install -y redis-server): %v", err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	srv := exec.Command(bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--maxmemory-policy", "allkeys-lru", "--dir", t.TempDir())
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	url := fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	opt, _ := redis.ParseURL(url)
	c := redis.NewClient(opt)
	defer c.Close()
	for i := 0; c.Ping(t.Context()).Err() != nil; i++ {
		if i > 100 {
			t.Fatal("throwaway redis-server did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	cfg := filepath.Join(t.TempDir(), "vagate.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("auth:\n  secret: shared-state-test-secret-0123456789abcdef\nstore:\n  driver: redis\n  redisUrl: %s\nmocks:\n  embedded: true\n", url)), 0o600)
	g := startGateway(t, "-config", cfg)
	if logs := g.logs.all(); !strings.Contains(logs, "REDIS MAY EVICT GATEWAY STATE") || !strings.Contains(logs, "allkeys-lru") {
		t.Errorf("no eviction warning:\n%s", logs)
	}
	r := g.do(t, "GET", "/readyz", "", "")
	want(t, r, 200, "readyz with redis up")
	srv.Process.Kill()
	srv.Wait()
	r = g.do(t, "GET", "/readyz", "", "")
	want(t, r, 503, "readyz with redis down")
}
