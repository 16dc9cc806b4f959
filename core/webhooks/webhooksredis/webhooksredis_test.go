package webhooksredis_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vagate/vagate/core/webhooks"
	"github.com/vagate/vagate/core/webhooks/webhooksredis"
	"github.com/vagate/vagate/core/webhooks/webhookstest"
)

// newStore connects to the real Redis at REDIS_URL (the test fails, never
// skips, without it) and returns a store under a fresh prefix, removed
// afterwards.
func newStore(t *testing.T) webhooks.Store {
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
	prefix := fmt.Sprintf("vagate-test-%08x", rand.Uint32())
	t.Cleanup(func() {
		ctx := context.Background()
		for _, pat := range []string{prefix + ":*", "{" + prefix + ":*"} {
			iter := c.Scan(ctx, 0, pat, 500).Iterator()
			for iter.Next(ctx) {
				c.Del(ctx, iter.Val())
			}
		}
		c.Close()
	})
	return webhooksredis.New(c, &webhooksredis.Options{Prefix: prefix})
}

func TestRedis(t *testing.T) { webhookstest.Run(t, newStore) }
