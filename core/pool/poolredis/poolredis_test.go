package poolredis_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/vagate/vagate/core/pool"
	"github.com/vagate/vagate/core/pool/poolredis"
	"github.com/vagate/vagate/core/pool/pooltest"
)

// client is the real Redis at REDIS_URL (default the local one); the test
// fails, never skips, without it.
func client(t testing.TB) *redis.Client {
	url := os.Getenv("REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("redis at %s unreachable: %v", url, err)
	}
	return c
}

// fresh is a store under a new prefix whose keys are deleted afterwards.
func fresh(t testing.TB, c *redis.Client) *poolredis.Store {
	prefix := fmt.Sprintf("vagate-pooltest-%08x", rand.Uint32())
	t.Cleanup(func() {
		ctx := context.Background()
		for _, pat := range []string{prefix + ":*", "{" + prefix + ":*"} {
			iter := c.Scan(ctx, 0, pat, 500).Iterator()
			for iter.Next(ctx) {
				c.Del(ctx, iter.Val())
			}
		}
	})
	return poolredis.New(c, &poolredis.Options{Prefix: prefix})
}

func TestConformance(t *testing.T) {
	c := client(t)
	t.Cleanup(func() { c.Close() })
	pooltest.Run(t, func(t *testing.T) pool.Store { return fresh(t, c) })
}

// Every key of one pool is in one Cluster slot.
func TestOnePoolOneSlot(t *testing.T) {
	c := client(t)
	defer c.Close()
	s := fresh(t, c)
	k := pool.Key{Tenant: "t", Provider: "batchva", Currency: "USD"}
	ctx := t.Context()
	s.Configure(ctx, k, pool.Settings{Target: 3, LowWatermark: 1, Source: "api"}, true)
	s.Add(ctx, k, "a1", "a2")
	r, err := s.Take(ctx, k, &pool.Claim{ID: "c1", Fingerprint: "f", Holder: "h", Token: "t"}, 60e9)
	if err != nil || r.Outcome != pool.TakeNew {
		t.Fatalf("take: %+v %v", r, err)
	}
	s.Finish(ctx, k, "c1", r.Claim.Account)
	s.Lock(ctx, k, pool.Replenish{JobID: "job_1", Count: 1}, 60e9)
	keys, err := c.Keys(ctx, "{"+s.Prefix()+":pool:*").Result()
	if err != nil || len(keys) < 6 {
		t.Fatalf("keys %v %v", keys, err)
	}
	slot := func(k string) int64 { n, _ := c.ClusterKeySlot(ctx, k).Result(); return n }
	for _, key := range keys {
		if slot(key) != slot(keys[0]) {
			t.Errorf("%s and %s are in different slots", key, keys[0])
		}
	}
}
