package poolredis_test

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/vagate/vagate/core/pool"
	"github.com/vagate/vagate/core/pool/poolredis"
	"github.com/vagate/vagate/core/pool/pooltest"
	"github.com/vagate/vagate/core/store/redistest"
)

// fresh is a store under a new prefix whose keys are deleted afterwards.
func fresh(t testing.TB, c redis.UniversalClient) *poolredis.Store {
	return poolredis.New(c, &poolredis.Options{Prefix: redistest.Prefix(t, c, "vagate-pooltest")})
}

// The contract suite on a single node, a Cluster and Sentinel; every script
// runs, so on the Cluster one that touched two hash slots would fail with
// CROSSSLOT.
func TestConformance(t *testing.T) {
	redistest.Run(t, func(t *testing.T, c redis.UniversalClient) {
		scripts := redistest.RecordScripts(t, c)
		pooltest.Run(t, func(t *testing.T) pool.Store { return fresh(t, c) })
		scripts.RequireRan(t, poolredis.Scripts)
	})
}

// Every key of one pool is in one Cluster slot.
func TestOnePoolOneSlot(t *testing.T) {
	c := redistest.Client(t, redistest.Single)
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
	for _, key := range keys {
		if redistest.Slot(key) != redistest.Slot(keys[0]) {
			t.Errorf("%s and %s are in different slots", key, keys[0])
		}
	}
}
