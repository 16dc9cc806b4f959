package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vagate/vagate/core/jobs/jobsredis"
	"github.com/vagate/vagate/core/store"
	"github.com/vagate/vagate/core/store/redistest"
	"github.com/vagate/vagate/core/store/storetest"
)

// newRedis returns a store over c under a fresh key prefix, removed afterwards.
func newRedis(t *testing.T, c redis.UniversalClient, visibility time.Duration) *store.Redis {
	return store.NewRedis(c, &store.RedisOptions{Prefix: redistest.Prefix(t, c, "vagate-test"), Visibility: visibility})
}

// The contract suite on a single node, a Cluster and Sentinel; on the
// Cluster each script and transaction of the store and of jobsredis that
// touched two hash slots would fail with CROSSSLOT.
func TestRedisConformance(t *testing.T) {
	redistest.Run(t, func(t *testing.T, c redis.UniversalClient) {
		scripts := redistest.RecordScripts(t, c)
		storetest.RunConformanceTests(t, func(t *testing.T) storetest.Stores {
			r := newRedis(t, c, 5*time.Second)
			return storetest.Stores{Accounts: r, Jobs: jobsredis.New(r.Client(), &jobsredis.Options{Prefix: r.Prefix()}), Queue: r, Events: r}
		})
		scripts.RequireRan(t, store.Scripts)
	})
}

// A job whose worker stops heartbeating (it died) is taken over by another
// consumer after the visibility timeout; a live worker keeps its job. On
// every topology: the consumer group's pending entries are what a Cluster
// or Sentinel deployment must keep too.
func TestRedisQueueReclaim(t *testing.T) {
	redistest.Run(t, testQueueReclaim)
}

func testQueueReclaim(t *testing.T, c redis.UniversalClient) {
	prefix := redistest.Prefix(t, c, "vagate-test")
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
