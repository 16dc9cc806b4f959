package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vagate/vagate/core/jobs/jobsredis"
	"github.com/vagate/vagate/core/store"
	"github.com/vagate/vagate/core/store/storetest"
)

// redisClient connects to the real Redis at REDIS_URL; the tests fail, never
// skip, when it is not there.
func redisClient(t *testing.T) *redis.Client {
	t.Helper()
	url := os.Getenv("REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("REDIS_URL %q: %v", url, err)
	}
	c := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis at %s unreachable: %v (start redis-server or set REDIS_URL)", url, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// newRedis returns a store under a fresh key prefix, removed afterwards.
func newRedis(t *testing.T, visibility time.Duration) *store.Redis {
	c := redisClient(t)
	prefix := fmt.Sprintf("vagate-test-%08x", rand.Uint32())
	t.Cleanup(func() {
		ctx := context.Background()
		for _, pat := range []string{prefix + ":*", "{" + prefix + ":*"} {
			iter := c.Scan(ctx, 0, pat, 500).Iterator()
			for iter.Next(ctx) {
				c.Del(ctx, iter.Val())
			}
		}
	})
	return store.NewRedis(c, &store.RedisOptions{Prefix: prefix, Visibility: visibility})
}

func TestRedisConformance(t *testing.T) {
	storetest.RunConformanceTests(t, func(t *testing.T) storetest.Stores {
		r := newRedis(t, 5*time.Second)
		return storetest.Stores{Accounts: r, Jobs: jobsredis.New(r.Client(), &jobsredis.Options{Prefix: r.Prefix()}), Queue: r, Events: r}
	})
}

// A job whose worker stops heartbeating (it died) is taken over by another
// consumer after the visibility timeout; a live worker keeps its job.
func TestRedisQueueReclaim(t *testing.T) {
	c := redisClient(t)
	prefix := fmt.Sprintf("vagate-test-%08x", rand.Uint32())
	t.Cleanup(func() { c.Del(context.Background(), "{"+prefix+":q}:jobq", "{"+prefix+":q}:delayed") })
	vis := 600 * time.Millisecond
	a := store.NewRedis(c, &store.RedisOptions{Prefix: prefix, Visibility: vis, Consumer: "a"})
	b := store.NewRedis(c, &store.RedisOptions{Prefix: prefix, Visibility: vis, Consumer: "b"})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	a.Enqueue(ctx, "t1", "job_live")
	a.Enqueue(ctx, "t1", "job_dead")

	la, err := a.Dequeue(ctx) // a keeps heartbeating this one
	if err != nil {
		t.Fatal(err)
	}
	// Simulate a worker that died holding job_dead: read it with a raw
	// consumer that never heartbeats or acks.
	if err := c.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "workers", Consumer: "dead", Streams: []string{"{" + prefix + ":q}:jobq", ">"}, Count: 1}).Err(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	lb, err := b.Dequeue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	live, got := la.JobID, lb.JobID
	if got != "job_dead" || live != "job_live" {
		t.Fatalf("b took %s (a holds %s), want the dead worker's job_dead", got, live)
	}
	if d := time.Since(start); d < vis/2 {
		t.Errorf("taken over after %s, before the visibility timeout", d)
	}
	lb.Ack()
	// Nothing else is up for grabs: the live job is still heartbeated.
	short, cancel2 := context.WithTimeout(ctx, 3*vis)
	defer cancel2()
	if l, err := b.Dequeue(short); err == nil {
		t.Errorf("b took %s while its worker was alive", l.JobID)
	}
	la.Ack()
}
