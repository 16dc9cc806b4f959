// Package events turns changes of accounts and jobs into unified events and
// appends them to the tenant's event log. Delivery to webhook endpoints reads
// the same log.
package events

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/store"
)

// Recorder derives and records events.
type Recorder struct {
	log    store.Events
	logger *slog.Logger
	now    func() time.Time
}

// NewRecorder records into log; logger may be nil.
func NewRecorder(log store.Events, logger *slog.Logger) *Recorder {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Recorder{log: log, logger: logger, now: time.Now}
}

func (r *Recorder) append(ctx context.Context, tenant string, t bank.EventType, d bank.EventData) {
	id, err := uuid.NewV7()
	if err != nil {
		id = uuid.New()
	}
	e := &bank.Event{ID: "evt_" + id.String(), Tenant: tenant, Type: t, CreatedAt: r.now().UTC(), Data: d}
	if err := r.log.AppendEvent(ctx, e); err != nil {
		r.logger.Error("recording event failed", "type", string(t), "err", err)
	}
}

// AccountChanged records what changed between before (nil for a new
// account) and after: created, and failover when a fallback provider
// created it; status_updated on any status change, and additionally
// allocated or closed.
func (r *Recorder) AccountChanged(ctx context.Context, before, after *bank.Account) {
	if after == nil {
		return
	}
	a := after.Clone()
	if before == nil {
		r.append(ctx, a.Tenant, bank.EventAccountCreated, bank.EventData{Account: a})
		if a.Routing != nil && a.Routing.RoutedBy == bank.RoutedByFallback {
			r.append(ctx, a.Tenant, bank.EventAccountFailover, bank.EventData{Account: a})
		}
		return
	}
	if before.Status == after.Status {
		return
	}
	r.append(ctx, a.Tenant, bank.EventAccountStatusUpdated, bank.EventData{Account: a, PreviousStatus: before.Status})
	switch {
	case before.Status == bank.StatusUnallocated && after.Status != bank.StatusFailed && after.Status != bank.StatusClosed:
		r.append(ctx, a.Tenant, bank.EventAccountAllocated, bank.EventData{Account: a})
	case after.Status == bank.StatusClosed:
		r.append(ctx, a.Tenant, bank.EventAccountClosed, bank.EventData{Account: a, PreviousStatus: before.Status})
	}
}

// JobFinished records job.completed.
func (r *Recorder) JobFinished(ctx context.Context, j *bank.Job) {
	c := *j
	r.append(ctx, j.Tenant, bank.EventJobCompleted, bank.EventData{Job: &c})
}

// PoolLow records pool.low: a claim left the pool below its low watermark.
func (r *Recorder) PoolLow(ctx context.Context, tenant string, p *bank.Pool) {
	c := *p
	r.append(ctx, tenant, bank.EventPoolLow, bank.EventData{Pool: &c})
}

// PoolReplenished records pool.replenished: the pool's replenish job j
// finished, leaving the pool as p.
func (r *Recorder) PoolReplenished(ctx context.Context, tenant string, p *bank.Pool, j *bank.Job) {
	c, jc := *p, *j
	r.append(ctx, tenant, bank.EventPoolReplenished, bank.EventData{Pool: &c, Job: &jc})
}

// Drift records reconciliation.drift in tenant's log.
func (r *Recorder) Drift(ctx context.Context, tenant string, d *bank.Drift) {
	c := *d
	c.Gateway, c.AtProvider = d.Gateway.Clone(), d.AtProvider.Clone()
	r.append(ctx, tenant, bank.EventReconciliationDrift, bank.EventData{Drift: &c})
}
