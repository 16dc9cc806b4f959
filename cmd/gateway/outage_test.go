package main

import (
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/vagate/vagate/mocks/batchvamock"
)

// privateRedis runs a redis-server of the test's own, which the test may
// stop, and returns its URL and a func stopping it.
func privateRedis(t *testing.T) (url string, stop func()) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("this test runs a redis-server of its own: %v (apt-get install -y redis-server)", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--save", "", "--appendonly", "no",
		"--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cmd.Process.Kill()
			cmd.Wait()
		}
	}
	t.Cleanup(stop)
	url = fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	opt, _ := redis.ParseURL(url)
	c := redis.NewClient(opt)
	defer c.Close()
	for deadline := time.Now().Add(10 * time.Second); c.Ping(context.Background()).Err() != nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on port %d does not answer", port)
		}
	}
	return url, stop
}

// While Redis is down the gateway says so, as the document promises: not
// ready (503 store_unavailable with Retry-After and the trace headers), a
// request needing the store 503 store_unavailable (never the providers'
// provider_unavailable), a keyed write 503 idempotency_unavailable; alive.
func TestRedisOutageProblems(t *testing.T) {
	url, stopRedis := privateRedis(t)
	mock := batchvamock.New(nil)
	srv := httptest.NewServer(mock)
	t.Cleanup(func() { srv.Close(); mock.Close() })
	def := batchvamock.DefaultClient()
	cfg := filepath.Join(t.TempDir(), "vagate.yaml")
	doc := fmt.Sprintf(`auth:
  secret: outage-test-secret-0123456789abcdef
store:
  driver: redis
  redisUrl: %s
providers:
  - name: batchva
    style: batchva
    config: {baseUrl: %q, clientId: %q, clientSecret: %q}
`, url, srv.URL, def.ID, def.Secret)
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, "-config", cfg)
	tok := mintToken(t, "t1", "", "-config", cfg)
	const item = `{"items":[{"currency":"USD","accountHolderName":"A","accountName":"B"}]}`
	want(t, g.do(t, "GET", "/readyz", "", ""), 200, "ready with Redis up")
	want(t, g.do(t, "POST", "/v1/virtual-accounts", tok, item, "Prefer", "wait=10"), 200, "create with Redis up")

	stopRedis()
	for _, tc := range []struct {
		name, method, path, body string
		hdr                      []string
		status                   int
		code                     string
	}{
		{"readiness", "GET", "/readyz", "", nil, 503, "store_unavailable"},
		{"a read", "GET", "/v1/virtual-accounts/va_" + uuid.NewString(), "", nil, 503, "store_unavailable"},
		{"a create", "POST", "/v1/virtual-accounts", item, nil, 503, "store_unavailable"},
		{"a keyed create", "POST", "/v1/virtual-accounts", item, []string{"Idempotency-Key", uuid.NewString()}, 503, "idempotency_unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tk := tok
			if tc.path == "/readyz" {
				tk = ""
			}
			r := g.do(t, tc.method, tc.path, tk, tc.body, tc.hdr...)
			p := r.json(t)
			if r.status != tc.status || p["code"] != tc.code {
				t.Fatalf("%d %s, want %d %s", r.status, r.body, tc.status, tc.code)
			}
			if r.header.Get("Retry-After") == "" || r.header.Get("traceparent") == "" || r.header.Get("X-Request-Id") == "" ||
				p["instance"] != tc.path || p["traceId"] == nil {
				t.Errorf("answer %v %s: want Retry-After, traceparent, X-Request-Id, instance and traceId", r.header, r.body)
			}
		})
	}
	want(t, g.do(t, "GET", "/healthz", "", ""), 200, "alive with Redis down")
}
