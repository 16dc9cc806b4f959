package reconcileredis_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vagate/vagate/core/reconcile"
	"github.com/vagate/vagate/core/reconcile/reconcileredis"
	"github.com/vagate/vagate/core/reconcile/reconciletest"
)

func TestContract(t *testing.T) {
	url := os.Getenv("REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis at %s unreachable: %v", url, err)
	}
	reconciletest.RunStore(t, func(t *testing.T) reconcile.Store {
		prefix := fmt.Sprintf("vagate-rt-%08x", rand.Uint32())
		t.Cleanup(func() {
			iter := c.Scan(context.Background(), 0, prefix+":*", 100).Iterator()
			for iter.Next(context.Background()) {
				c.Del(context.Background(), iter.Val())
			}
		})
		return reconcileredis.New(c, &reconcileredis.Options{Prefix: prefix})
	})
}
