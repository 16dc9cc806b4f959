package httpapi_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/vagate/vagate/core/httpapi"
	"github.com/vagate/vagate/core/idempotency"
	"github.com/vagate/vagate/core/jobs/jobsredis"
	"github.com/vagate/vagate/core/store"
)

// BenchmarkParseCreate reads create bodies of 1, 100 and 1000 items; its
// MB/s is the parser's throughput (the aim: at least 100 MB/s at 1000 items).
func BenchmarkParseCreate(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = fmt.Sprintf(`{"currency":"USD","accountHolderName":"Test Company Ltd","accountName":"Account %d","clientReference":"REF-%d","metadata":{"k":"v"}}`, i, i)
		}
		body := []byte(`{"items":[` + strings.Join(parts, ",") + `]}`)
		b.Run(fmt.Sprintf("items=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, fs := httpapi.ParseCreate(body); len(fs) != 0 {
					b.Fatal(fs)
				}
			}
		})
	}
}

// BenchmarkCreateAndWait is one create of 10 items through the whole HTTP
// API, the job engine, the batchva adapter and its mock, waiting for the job.
func BenchmarkCreateAndWait(b *testing.B) {
	a := newAPIB(b)
	tok := a.tokenB(b, "bench")
	body := items(10, `{"currency":"USD","unallocated":true}`)
	b.ReportAllocs()
	for b.Loop() {
		resp, out := a.callB(b, "POST", "/v1/virtual-accounts", tok, strings.NewReader(body), "Prefer", "wait=30")
		if resp.StatusCode != 200 {
			b.Fatalf("%d %s", resp.StatusCode, out)
		}
	}
}

// redisState is the API's state in the real Redis at REDIS_URL, under a
// fresh prefix removed afterwards.
func redisState(b *testing.B) apiState {
	url := os.Getenv("REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		b.Fatal(err)
	}
	c := redis.NewClient(opt)
	if err := c.Ping(b.Context()).Err(); err != nil {
		b.Fatalf("redis at %s unreachable: %v", url, err)
	}
	prefix := fmt.Sprintf("vagate-bench-%08x", rand.Uint32())
	b.Cleanup(func() {
		ctx := context.Background()
		for _, pat := range []string{prefix + ":*", "{" + prefix + ":*"} {
			iter := c.Scan(ctx, 0, pat, 1000).Iterator()
			for iter.Next(ctx) {
				c.Del(ctx, iter.Val())
			}
		}
		c.Close()
	})
	r := store.NewRedis(c, &store.RedisOptions{Prefix: prefix})
	return apiState{accounts: r, jobs: jobsredis.New(c, &jobsredis.Options{Prefix: prefix}), queue: r, events: r, idem: idempotency.NewRedis(c, &idempotency.Options{Prefix: prefix})}
}

// throughput runs op n times with 8 concurrent clients and returns ops/s.
func throughput(b *testing.B, n int, op func() error) float64 {
	var wg sync.WaitGroup
	work := make(chan struct{}, n)
	for range n {
		work <- struct{}{}
	}
	close(work)
	start := time.Now()
	for range 8 {
		wg.Go(func() {
			for range work {
				if err := op(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds()
}

// BenchmarkRedisVsMemory measures, in the same run, idempotent replays and
// whole jobs per second with state in memory and in Redis, and reports the
// ratio (redis/memory; 1 = as fast).
func BenchmarkRedisVsMemory(b *testing.B) {
	modes := []struct {
		name string
		api  *api
	}{{"memory", newAPIState(b, memoryState())}, {"redis", newAPIState(b, redisState(b))}}
	tok := modes[0].api.tokenB(b, "bench")
	cases := []struct {
		name string
		op   func(a *api, key string) func() error
	}{
		{"replay", func(a *api, key string) func() error {
			body := items(1, `{"currency":"USD","unallocated":true}`)
			if resp, out := a.callB(b, "POST", "/v1/virtual-accounts", tok, strings.NewReader(body), "Idempotency-Key", key); resp.StatusCode != 202 {
				b.Fatalf("%d %s", resp.StatusCode, out)
			}
			return func() error {
				resp, out := a.callB(b, "POST", "/v1/virtual-accounts", tok, strings.NewReader(body), "Idempotency-Key", key)
				if resp.Header.Get("Idempotent-Replayed") != "true" {
					return fmt.Errorf("not replayed: %d %s", resp.StatusCode, out)
				}
				return nil
			}
		}},
		{"job", func(a *api, _ string) func() error {
			body := items(5, `{"currency":"USD","unallocated":true}`)
			return func() error {
				resp, out := a.callB(b, "POST", "/v1/virtual-accounts", tok, strings.NewReader(body), "Prefer", "wait=30")
				if resp.StatusCode != 200 {
					return fmt.Errorf("%d %s", resp.StatusCode, out)
				}
				return nil
			}
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			n := max(b.N, 8)
			rates := map[string]float64{}
			for _, m := range modes {
				// The bench token is valid on both: they share the key.
				rates[m.name] = throughput(b, n, c.op(m.api, uuid.NewString()))
			}
			b.ReportMetric(rates["memory"], "memory-ops/s")
			b.ReportMetric(rates["redis"], "redis-ops/s")
			b.ReportMetric(rates["redis"]/rates["memory"], "redis/memory")
			b.ReportMetric(0, "ns/op")
		})
	}
}
