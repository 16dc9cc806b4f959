package pool_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vagate/vagate/core/accounts"
	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/pool"
	"github.com/vagate/vagate/core/pool/poolmem"
	"github.com/vagate/vagate/core/pool/poolredis"
	"github.com/vagate/vagate/core/provider"
	"github.com/vagate/vagate/core/store"
)

// redisClient is the real Redis at REDIS_URL (default the local one) with
// a fresh key prefix whose keys are deleted afterwards; it fails, never
// skips, without Redis.
func redisClient(tb testing.TB) (*redis.Client, string) {
	url := os.Getenv("REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		tb.Fatal(err)
	}
	opt.PoolSize = 128
	c := redis.NewClient(opt)
	if err := c.Ping(context.Background()).Err(); err != nil {
		tb.Fatalf("redis at %s unreachable: %v", url, err)
	}
	prefix := fmt.Sprintf("vagate-poolbench-%08x", rand.Uint32())
	tb.Cleanup(func() {
		ctx := context.Background()
		for _, pat := range []string{prefix + ":*", "{" + prefix + ":*"} {
			iter := c.Scan(ctx, 0, pat, 1000).Iterator()
			for iter.Next(ctx) {
				c.Del(ctx, iter.Val())
			}
		}
		c.Close()
	})
	return c, prefix
}

// claimers is how many claims run at once in the benchmarks: many
// concurrent requests, as across gateway instances.
const claimers = 64

func report(b *testing.B, start time.Time) {
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "claims/s")
}

// BenchmarkClaimBookkeeping measures the pool's own part of a claim: take
// an account and record it allocated, with no provider call at all (a
// zero-latency allocation). On Redis that is two scripts on the pool's
// hash tag.
func BenchmarkClaimBookkeeping(b *testing.B) {
	stores := map[string]func(b *testing.B) pool.Store{
		"memory": func(*testing.B) pool.Store { return poolmem.New(nil) },
		"redis": func(b *testing.B) pool.Store {
			c, prefix := redisClient(b)
			return poolredis.New(c, &poolredis.Options{Prefix: prefix})
		},
	}
	for _, name := range []string{"memory", "redis"} {
		b.Run(name, func(b *testing.B) {
			st := stores[name](b)
			k := pool.Key{Tenant: "bench", Provider: "fake", Currency: "USD"}
			ctx := context.Background()
			ids := make([]string, 0, 1000)
			for i := range b.N {
				ids = append(ids, fmt.Sprintf("va_%d", i))
				if len(ids) == cap(ids) || i == b.N-1 {
					if _, err := st.Add(ctx, k, ids...); err != nil {
						b.Fatal(err)
					}
					ids = ids[:0]
				}
			}
			var n atomic.Int64
			b.SetParallelism(max(1, claimers/runtime.GOMAXPROCS(0)))
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					c := &pool.Claim{ID: fmt.Sprintf("clm_%d", i), Fingerprint: "f", Holder: "h", Token: "t"}
					r, err := st.Take(ctx, k, c, time.Minute)
					if err != nil || r.Outcome != pool.TakeNew {
						b.Fatalf("take: %+v %v", r, err)
					}
					if _, err := st.Finish(ctx, k, c.ID, r.Claim.Account); err != nil {
						b.Fatal(err)
					}
				}
			})
			report(b, start)
		})
	}
}

// fakeItems is a create request for n UNALLOCATED USD accounts.
func fakeItems(n int) *provider.CreateRequest {
	req := &provider.CreateRequest{}
	for range n {
		req.Items = append(req.Items, provider.CreateItem{Currency: "USD", Unallocated: true})
	}
	return req
}

// BenchmarkClaimWithAllocation measures whole claims through the service:
// take, read the stored account, allocate it at a provider that answers at
// once (in process), save the answer through the accounts service, record
// the claim. Accounts and pool share one store kind.
func BenchmarkClaimWithAllocation(b *testing.B) {
	for _, name := range []string{"memory", "redis"} {
		b.Run(name, func(b *testing.B) {
			var acctStore interface {
				store.Accounts
				accounts.Store
			}
			var st pool.Store
			if name == "redis" {
				c, prefix := redisClient(b)
				acctStore = store.NewRedis(c, &store.RedisOptions{Prefix: prefix})
				st = poolredis.New(c, &poolredis.Options{Prefix: prefix})
			} else {
				acctStore, st = store.NewMemory(), poolmem.New(nil)
			}
			fb := newFakeBank()
			p, err := gateway.New("fake", fb, &gateway.Options{Client: gateway.NewClient("fake", &gateway.Limits{MaxConcurrent: 1024}, nil, nil)})
			if err != nil {
				b.Fatal(err)
			}
			reg := gateway.NewRegistry()
			reg.Register(p)
			router, _ := gateway.NewRouter(reg, nil)
			acc := accounts.New(reg, acctStore, nil)
			svc := pool.New(reg, router, st, acc, nil, nil)
			ctx := context.Background()
			k := pool.Key{Tenant: "bench", Provider: "fake", Currency: "USD"}
			res, _ := fb.CreateAccounts(ctx, fakeItems(b.N))
			ids := make([]string, 0, 1000)
			for i, it := range res.Items {
				a := it.Account
				a.ID, a.Tenant, a.Provider, a.CreatedAt = fmt.Sprintf("va_%d", i), "bench", "fake", time.Now()
				if err := acctStore.PutAccount(ctx, a); err != nil {
					b.Fatal(err)
				}
				ids = append(ids, a.ID)
				if len(ids) == cap(ids) || i == b.N-1 {
					if _, err := st.Add(ctx, k, ids...); err != nil {
						b.Fatal(err)
					}
					ids = ids[:0]
				}
			}
			var n atomic.Int64
			b.SetParallelism(max(1, claimers/runtime.GOMAXPROCS(0)))
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					a, err := svc.Claim(ctx, "bench", claimOf(fmt.Sprint("holder ", i), fmt.Sprint("key-", i)))
					if err != nil || a.Status != bank.StatusActive {
						b.Fatalf("claim: %v %v", a, err)
					}
				}
			})
			report(b, start)
		})
	}
}
