package idempotency_test

import (
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vagate/vagate/core/idempotency"
	"github.com/vagate/vagate/core/idempotency/idempotencytest"
	"github.com/vagate/vagate/core/store/redistest"
)

// redisClient connects to REDIS_URL (default redis://127.0.0.1:6379/0) and
// fails the test, never skips it, when the server cannot be reached.
func redisClient(t *testing.T) redis.UniversalClient {
	t.Helper()
	return redistest.Client(t, redistest.Single)
}

// testPrefix returns a unique prefix and deletes every key under it when t ends.
func testPrefix(t *testing.T, c redis.UniversalClient) string {
	t.Helper()
	return redistest.Prefix(t, c, "vagate-test")
}

// The contract suite on a single node, a Cluster and Sentinel; on the
// Cluster a script touching two hash slots would fail with CROSSSLOT.
func TestRedisConformance(t *testing.T) {
	redistest.Run(t, func(t *testing.T, c redis.UniversalClient) {
		scripts := redistest.RecordScripts(t, c)
		idempotencytest.RunConformanceTests(t, func(t *testing.T) idempotency.Store {
			o := idempotencytest.Options(t)
			o.Prefix = testPrefix(t, c)
			return idempotency.NewRedis(c, o)
		})
		scripts.RequireRan(t, idempotency.Scripts)
	})
}

func TestRedisLayout(t *testing.T) {
	c := redisClient(t)
	prefix := testPrefix(t, c)
	s := idempotency.NewRedis(c, &idempotency.Options{Prefix: prefix, TTL: time.Minute, ClaimTTL: 30 * time.Second})
	ctx := t.Context()

	const scope, key = "t{1} POST /v1/x%", "6f1c0e8e-2b7a-4d2e-9a51-0c3f5b8d9e10"
	want := "{" + prefix + ":t%7B1%7D POST /v1/x%25}:idem:" + key
	if got := s.Key(scope, key); got != want {
		t.Fatalf("Key = %q; want %q", got, want)
	}
	cl, _, err := s.Begin(ctx, scope, key, "fp")
	if err != nil {
		t.Fatal(err)
	}
	if ttl := c.PTTL(ctx, want).Val(); ttl <= 0 || ttl > 30*time.Second {
		t.Fatalf("claim PTTL = %v; want (0, 30s]", ttl)
	}
	if err := s.Complete(ctx, cl, &idempotency.Record{Status: 201}); err != nil {
		t.Fatal(err)
	}
	if ttl := c.PTTL(ctx, want).Val(); ttl <= 30*time.Second || ttl > time.Minute {
		t.Fatalf("record PTTL = %v; want (30s, 1m]", ttl)
	}
}

func TestRedisUnreachable(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	s := idempotency.NewRedis(c, nil)
	if cl, rec, err := s.Begin(t.Context(), "s", "k", "fp"); err == nil || cl != nil || rec != nil {
		t.Fatalf("Begin on a dead server = %v, %v, %v; want an error", cl, rec, err)
	}
}

// A record an earlier version wrote (record\n<JSON>) is still replayed, and
// a key's new record is written in the binary layout; a corrupt record is
// an error, not a replay.
func TestRedisReadsEarlierRecords(t *testing.T) {
	c := redisClient(t)
	prefix := testPrefix(t, c)
	s := idempotency.NewRedis(c, &idempotency.Options{Prefix: prefix, TTL: time.Minute})
	ctx := t.Context()
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	old := `record` + "\n" + `{"status":202,"header":{"Location":["/v1/jobs/j1"]},"body":"eyJpZCI6ImoxIn0=","fingerprint":"fp","createdAt":"2026-11-01T12:00:00Z"}`
	if err := c.Set(ctx, s.Key("t1", "old"), old, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	cl, rec, err := s.Begin(ctx, "t1", "old", "fp")
	if err != nil || cl != nil || rec == nil {
		t.Fatalf("Begin over an earlier record: claim %v, record %v, err %v", cl, rec, err)
	}
	if rec.Status != 202 || string(rec.Body) != `{"id":"j1"}` || rec.Header["Location"][0] != "/v1/jobs/j1" || !rec.CreatedAt.Equal(at) {
		t.Errorf("earlier record read as %+v", rec)
	}
	if _, _, err := s.Begin(ctx, "t1", "old", "other"); err != idempotency.ErrFingerprintMismatch {
		t.Errorf("another fingerprint over an earlier record: %v, want ErrFingerprintMismatch", err)
	}

	cl, _, err = s.Begin(ctx, "t1", "new", "fp")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Complete(ctx, cl, &idempotency.Record{Status: 201, Body: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if v := c.Get(ctx, s.Key("t1", "new")).Val(); !strings.HasPrefix(v, "record2\n") {
		t.Errorf("new record stored as %q, want the binary layout", v)
	}

	if err := c.Set(ctx, s.Key("t1", "bad"), "record2\n\xff", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if _, rec, err := s.Begin(ctx, "t1", "bad", "fp"); err == nil {
		t.Errorf("corrupt record replayed as %+v", rec)
	}
}
