package main

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vagate/vagate/config"
	"github.com/vagate/vagate/core/store"
	"github.com/vagate/vagate/core/telemetry"
	"github.com/vagate/vagate/core/webhooks"
	"github.com/vagate/vagate/core/webhooks/webhooksmem"
	"github.com/vagate/vagate/core/webhooks/webhooksredis"
)

// webhookState is where event delivery keeps its endpoints and deliveries,
// and its queue (apart from the jobs').
type webhookState struct {
	store webhooks.Store
	queue store.Queue
}

func memoryWebhooks(cfg *config.Config) webhookState {
	return webhookState{store: webhooksmem.New(&webhooksmem.Options{Retention: cfg.Webhooks.Retention.D()}), queue: store.NewMemory()}
}

// redisWebhooks keeps endpoints and deliveries under the store's prefix,
// and the delivery queue on a stream of its own ({<prefix>:wh:q}).
func redisWebhooks(c redis.UniversalClient, cfg *config.Config) webhookState {
	return webhookState{
		store: webhooksredis.New(c, &webhooksredis.Options{Prefix: cfg.Store.Prefix, Retention: cfg.Webhooks.Retention.D()}),
		queue: store.NewRedis(c, &store.RedisOptions{Prefix: cfg.Store.Prefix + ":wh", Visibility: cfg.Webhooks.VisibilityTimeout.D()}),
	}
}

// openWebhooks builds event delivery from the config: its guard's allowlist,
// schedule and bounds, and the lookup of a job's callbackUrl.
func openWebhooks(cfg *config.Config, st *state, log *slog.Logger, tel *telemetry.Telemetry) *webhooks.Service {
	w := &cfg.Webhooks
	schedule := make([]time.Duration, 0, len(w.RetrySchedule))
	for _, d := range w.RetrySchedule {
		schedule = append(schedule, d.D())
	}
	nets := w.Networks()
	var allow []string
	for _, p := range nets {
		allow = append(allow, p.String())
	}
	log.Info("webhook delivery", "allowlist", slices.Clip(allow), "workers", w.Workers, "retries", len(schedule))
	js := st.jobs
	return webhooks.New(st.webhooks.store, st.webhooks.queue, st.events, &webhooks.Options{
		Workers: w.Workers, PerEndpoint: w.PerEndpoint, AttemptTimeout: w.AttemptTimeout.D(), Schedule: schedule,
		DisableAfter: w.DisableAfter.D(),
		Guard:        webhooks.NewGuard(webhooks.GuardOptions{Allow: nets}),
		JobCallback: func(ctx context.Context, tenant, jobID string) (string, map[string]string, error) {
			h, err := js.Header(ctx, tenant, jobID)
			if err != nil {
				return "", nil, err
			}
			return h.CallbackURL, h.CustomHeaders, nil
		},
		Logger: log, Tracer: tel.Tracer, Meter: tel.Meter,
	})
}
