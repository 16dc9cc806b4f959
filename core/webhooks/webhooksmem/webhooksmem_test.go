package webhooksmem_test

import (
	"testing"
	"time"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/webhooks"
	"github.com/vagate/vagate/core/webhooks/webhooksmem"
	"github.com/vagate/vagate/core/webhooks/webhookstest"
)

func TestMemory(t *testing.T) {
	webhookstest.Run(t, func(*testing.T) webhooks.Store { return webhooksmem.New(nil) })
}

// Events and settled deliveries older than the retention are dropped;
// pending deliveries are kept whatever their age.
func TestRetention(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := webhooksmem.New(&webhooksmem.Options{Retention: time.Hour, Now: func() time.Time { return now }})
	ctx := t.Context()
	old := &bank.Event{ID: "evt_old", Tenant: "t1", Type: bank.EventJobCompleted, CreatedAt: now}
	if err := s.PutEvent(ctx, old); err != nil {
		t.Fatal(err)
	}
	for _, d := range []*webhooks.Delivery{
		{Tenant: "t1", EndpointID: "we_1", EventID: "evt_done", Status: webhooks.DeliverySucceeded, CreatedAt: now, UpdatedAt: now},
		{Tenant: "t1", EndpointID: "we_1", EventID: "evt_pending", Status: webhooks.DeliveryPending, CreatedAt: now, UpdatedAt: now},
	} {
		if _, _, err := s.CreateDelivery(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(2 * time.Hour)
	if err := s.PutEvent(ctx, &bank.Event{ID: "evt_new", Tenant: "t1", Type: bank.EventJobCompleted, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetEvent(ctx, "t1", "evt_old"); bank.Code(err) != bank.NotFound {
		t.Errorf("an event past the retention: %v, want NotFound", err)
	}
	if _, err := s.GetEvent(ctx, "t1", "evt_new"); err != nil {
		t.Errorf("a new event: %v", err)
	}
	if _, err := s.GetDelivery(ctx, "t1", "we_1", "evt_done"); bank.Code(err) != bank.NotFound {
		t.Errorf("a settled delivery past the retention: %v, want NotFound", err)
	}
	if _, err := s.GetDelivery(ctx, "t1", "we_1", "evt_pending"); err != nil {
		t.Errorf("a pending delivery: %v, want kept", err)
	}
	if ds, _, _ := s.ListDeliveries(ctx, "t1", "we_1", "", 10); len(ds) != 1 {
		t.Errorf("listed %d deliveries, want the pending one", len(ds))
	}
}
