package store_test

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vagate/vagate/core/store"
	"github.com/vagate/vagate/core/store/redistest"
	"github.com/vagate/vagate/core/store/storetest"
)

var (
	_ storetest.Versioned = (*store.Memory)(nil)
	_ storetest.Versioned = (*store.Redis)(nil)
)

func TestMemoryVersionedConformance(t *testing.T) {
	storetest.RunVersionedConformanceTests(t, func(t *testing.T) storetest.Versioned { return store.NewMemory() })
}

func TestRedisVersionedConformance(t *testing.T) {
	redistest.Run(t, func(t *testing.T, c redis.UniversalClient) {
		storetest.RunVersionedConformanceTests(t, func(t *testing.T) storetest.Versioned { return newRedis(t, c, 5*time.Second) })
	})
}
