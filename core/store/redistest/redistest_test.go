package redistest_test

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/vagate/vagate/core/store/redistest"
)

// Slot agrees with the Cluster's CLUSTER KEYSLOT, hash tags included.
func TestSlot(t *testing.T) {
	c := redistest.Client(t, redistest.Cluster)
	for _, key := range []string{"", "foo", "123456789", "{user1000}.following", "{user1000}.followers",
		"foo{}{bar}", "foo{{bar}}zap", "foo{bar}{zap}", "{vagate:t:tenant-a}:acct:va_1", "{vagate:q}:jobq"} {
		want, err := c.ClusterKeySlot(t.Context(), key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got := redistest.Slot(key); int64(got) != want {
			t.Errorf("Slot(%q) = %d, server says %d", key, got, want)
		}
	}
}

var crossSlot = redis.NewScript(`redis.call('SET', KEYS[1], 'a'); redis.call('SET', KEYS[2], 'b'); return 1`)

// What the contract suites rely on: on the Cluster, a script, a transaction
// or an optimistic transaction that touches two slots fails, so a suite
// that passes there keeps each of them in one slot.
func TestClusterRefusesCrossSlot(t *testing.T) {
	c := redistest.Client(t, redistest.Cluster)
	p := redistest.Prefix(t, c, "vagate-test")
	a, b := "{"+p+":a}:k", "{"+p+":b}:k"
	if redistest.Slot(a) == redistest.Slot(b) {
		t.Fatalf("%s and %s share a slot; pick other keys", a, b)
	}
	ctx := t.Context()
	tests := []struct {
		name string
		run  func(ctx context.Context) error
	}{
		{"script", func(ctx context.Context) error { return crossSlot.Run(ctx, c, []string{a, b}).Err() }},
		{"MULTI", func(ctx context.Context) error {
			_, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, a, "1", 0)
				p.Set(ctx, b, "1", 0)
				return nil
			})
			return err
		}},
		{"WATCH on two slots", func(ctx context.Context) error {
			return c.Watch(ctx, func(*redis.Tx) error { return nil }, a, b)
		}},
		{"MULTI under WATCH writing another slot", func(ctx context.Context) error {
			return c.Watch(ctx, func(tx *redis.Tx) error {
				_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
					p.Set(ctx, a, "1", 0)
					p.Set(ctx, b, "1", 0)
					return nil
				})
				return err
			}, a)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.run(ctx); err == nil {
				t.Fatalf("cross-slot %s on the Cluster succeeded", tt.name)
			}
			if n, _ := c.Exists(ctx, b).Result(); n != 0 {
				t.Errorf("cross-slot %s on the Cluster wrote %s", tt.name, b)
			}
		})
	}
}

// RecordScripts notes each script that ran, on every topology.
func TestRecordScripts(t *testing.T) {
	redistest.Run(t, func(t *testing.T, c redis.UniversalClient) {
		p := redistest.Prefix(t, c, "vagate-test")
		s := redistest.RecordScripts(t, c)
		oneSlot := redis.NewScript(`return redis.call('SET', KEYS[1], ARGV[1])`)
		if err := oneSlot.Run(t.Context(), c, []string{"{" + p + "}:k"}, "v").Err(); err != nil {
			t.Fatal(err)
		}
		s.RequireRan(t, map[string]*redis.Script{"oneSlot": oneSlot})
	})
}
