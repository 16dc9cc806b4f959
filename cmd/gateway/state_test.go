package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestWarnsWhenRedisKeepsNothingOnDisk(t *testing.T) {
	opt, err := redis.ParseURL(redisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	// Restore the server's own settings whatever happens.
	was := map[string]string{}
	for _, k := range []string{"appendonly", "save"} {
		v, err := c.ConfigGet(ctx, k).Result()
		if err != nil {
			t.Skipf("CONFIG GET %s not allowed: %v", k, err)
		}
		was[k] = v[k]
	}
	t.Cleanup(func() {
		for k, v := range was {
			c.ConfigSet(context.Background(), k, v)
		}
	})
	set := func(k, v string) {
		if err := c.ConfigSet(ctx, k, v).Err(); err != nil {
			t.Fatalf("CONFIG SET %s %q: %v", k, v, err)
		}
	}
	check := func() (bool, string) {
		var buf bytes.Buffer
		warned := checkPersistence(ctx, c, slog.New(slog.NewJSONHandler(&buf, nil)))
		return warned, buf.String()
	}

	set("appendonly", "no")
	set("save", "")
	if warned, log := check(); !warned || !strings.Contains(log, "DOES NOT PERSIST") {
		t.Errorf("no AOF, no RDB: warned %v, log %q", warned, log)
	}
	set("save", "3600 1")
	if warned, log := check(); warned {
		t.Errorf("RDB snapshots on: warned anyway: %s", log)
	}
}
