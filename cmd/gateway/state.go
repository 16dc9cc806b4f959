package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vagate/vagate/config"
	"github.com/vagate/vagate/core/accounts"
	"github.com/vagate/vagate/core/idempotency"
	"github.com/vagate/vagate/core/jobs"
	"github.com/vagate/vagate/core/jobs/jobsmem"
	"github.com/vagate/vagate/core/jobs/jobsredis"
	"github.com/vagate/vagate/core/pool"
	"github.com/vagate/vagate/core/pool/poolmem"
	"github.com/vagate/vagate/core/pool/poolredis"
	"github.com/vagate/vagate/core/reconcile"
	"github.com/vagate/vagate/core/reconcile/reconcileredis"
	"github.com/vagate/vagate/core/store"
	"github.com/vagate/vagate/core/telemetry"
)

// accountStore is what the job engine and the accounts service keep
// accounts in.
type accountStore interface {
	store.Accounts
	accounts.Store
}

// state is where one gateway instance keeps everything.
type state struct {
	accounts    accountStore
	jobs        jobs.Store
	queue       store.Queue
	events      store.Events
	idempotency idempotency.Store
	pool        pool.Store
	webhooks    webhookState
	// reconcile keeps reconciliation's leases, reports and open drifts.
	reconcile reconcile.Store
	ready     func(context.Context) error
	close     func()
}

// openState opens the configured store. In Redis mode it refuses to start
// when Redis does not answer, and warns when its eviction policy could drop
// idempotency or job keys or when it keeps nothing on disk.
func openState(ctx context.Context, cfg *config.Config, log *slog.Logger, tel *telemetry.Telemetry) (*state, error) {
	if cfg.Store.Driver == "memory" {
		mem := store.NewMemory()
		return &state{accounts: mem, jobs: jobsmem.New(), queue: mem, events: store.NewMemoryEvents(),
			idempotency: idempotency.NewMemory(nil), pool: poolmem.New(nil), webhooks: memoryWebhooks(cfg),
			reconcile: reconcile.NewMemory(nil),
			ready:     func(context.Context) error { return nil }, close: func() {}}, nil
	}
	redis.SetLogger(redisLog{log})
	c, where, err := openRedis(&cfg.Store.Redis)
	if err != nil {
		return nil, err
	}
	topology := cfg.Store.Redis.Topology()
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.Ping(pctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("store: redis %s is unreachable: %v; start it or fix store.redis (store.redisUrl / VAGATE_REDIS_URL for one node)", where, err)
	}
	eachMaster(pctx, c, func(ctx context.Context, n redis.UniversalClient, _ string) {
		checkEviction(ctx, n, log)
		checkPersistence(ctx, n, log)
	})
	logDurability(pctx, c, topology, log)
	instrumentRedis(c, tel.Tracer)
	r := store.NewRedis(c, &store.RedisOptions{Prefix: cfg.Store.Prefix, Visibility: cfg.Jobs.VisibilityTimeout.D()})
	log.Info("state in redis", "redis", where, "topology", topology, "prefix", cfg.Store.Prefix)
	return &state{accounts: r, jobs: jobsredis.New(c, &jobsredis.Options{Prefix: cfg.Store.Prefix}), queue: r, events: r,
		idempotency: idempotency.NewRedis(c, &idempotency.Options{Prefix: cfg.Store.Prefix}),
		pool:        poolredis.New(c, &poolredis.Options{Prefix: cfg.Store.Prefix}),
		webhooks:    redisWebhooks(c, cfg),
		reconcile:   reconcileredis.New(c, &reconcileredis.Options{Prefix: cfg.Store.Prefix}),
		ready:       r.Ping, close: func() { c.Close() }}, nil
}

// checkEviction warns when Redis may evict keys the gateway relies on.
func checkEviction(ctx context.Context, c redis.UniversalClient, log *slog.Logger) {
	v, err := c.ConfigGet(ctx, "maxmemory-policy").Result()
	if err != nil {
		log.Warn("could not read redis maxmemory-policy; make sure it is noeviction, or idempotency keys and jobs may be lost", "err", err)
		return
	}
	if p := v["maxmemory-policy"]; p != "noeviction" {
		log.Warn("REDIS MAY EVICT GATEWAY STATE: maxmemory-policy is not noeviction; under memory pressure idempotency keys (which expire) and job records can be dropped, so retries could act twice. Set maxmemory-policy noeviction.",
			"maxmemory-policy", p)
	}
}

// checkPersistence warns when Redis keeps nothing on disk (neither AOF nor
// RDB snapshots): a Redis restart would then lose the jobs and idempotency
// keys of requests already accepted, while their accounts exist at the
// providers. It reports whether it warned.
func checkPersistence(ctx context.Context, c redis.UniversalClient, log *slog.Logger) bool {
	aof, err := c.ConfigGet(ctx, "appendonly").Result()
	if err == nil {
		var rdb map[string]string
		if rdb, err = c.ConfigGet(ctx, "save").Result(); err == nil {
			if aof["appendonly"] == "yes" || strings.TrimSpace(rdb["save"]) != "" {
				return false
			}
			log.Warn("REDIS DOES NOT PERSIST GATEWAY STATE: neither AOF (appendonly) nor RDB snapshots (save) are on; if Redis restarts, accepted jobs and idempotency keys are lost while their accounts exist at the providers. Set appendonly yes.",
				"appendonly", aof["appendonly"], "save", rdb["save"])
			return true
		}
	}
	log.Warn("could not read redis persistence settings; make sure AOF (appendonly yes) or RDB snapshots are on, or a Redis restart loses accepted jobs and idempotency keys", "err", err)
	return true
}

// redactURL hides credentials in a Redis URL.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return errors.New("not a valid redis:// URL")
	}
	return err
}
