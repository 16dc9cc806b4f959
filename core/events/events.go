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

func (r *Recorder) append(ctx context.Context, tenant string, t store.EventType, d store.EventData) {
	id, err := uuid.NewV7()
	if err != nil {
		id = uuid.New()
	}
	e := &store.Event{ID: "evt_" + id.String(), Tenant: tenant, Type: t, CreatedAt: r.now().UTC(), Data: d}
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
		r.append(ctx, a.Tenant, store.EventAccountCreated, store.EventData{Account: a})
		if a.Routing != nil && a.Routing.RoutedBy == bank.RoutedByFallback {
			r.append(ctx, a.Tenant, store.EventAccountFailover, store.EventData{Account: a})
		}
		return
	}
	if before.Status == after.Status {
		return
	}
	r.append(ctx, a.Tenant, store.EventAccountStatusUpdated, store.EventData{Account: a, PreviousStatus: before.Status})
	switch {
	case before.Status == bank.StatusUnallocated && after.Status != bank.StatusFailed && after.Status != bank.StatusClosed:
		r.append(ctx, a.Tenant, store.EventAccountAllocated, store.EventData{Account: a})
	case after.Status == bank.StatusClosed:
		r.append(ctx, a.Tenant, store.EventAccountClosed, store.EventData{Account: a, PreviousStatus: before.Status})
	}
}

// JobFinished records job.completed.
func (r *Recorder) JobFinished(ctx context.Context, j *bank.Job) {
	c := *j
	r.append(ctx, j.Tenant, store.EventJobCompleted, store.EventData{Job: &c})
}

// Drift records reconciliation.drift in tenant's log.
func (r *Recorder) Drift(ctx context.Context, tenant string, d *bank.Drift) {
	c := *d
	c.Gateway, c.AtProvider = d.Gateway.Clone(), d.AtProvider.Clone()
	r.append(ctx, tenant, store.EventReconciliationDrift, store.EventData{Drift: &c})
}
