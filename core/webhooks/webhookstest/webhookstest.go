// Package webhookstest is the contract suite every webhooks.Store passes.
package webhookstest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/webhooks"
)

// Run runs the contract suite against stores made by newStore, one per test.
func Run(t *testing.T, newStore func(t *testing.T) webhooks.Store) {
	t.Run("Endpoints", func(t *testing.T) { testEndpoints(t, newStore(t)) })
	t.Run("EndpointLimit", func(t *testing.T) { testLimit(t, newStore(t)) })
	t.Run("TenantIsolation", func(t *testing.T) { testIsolation(t, newStore(t)) })
	t.Run("Events", func(t *testing.T) { testEvents(t, newStore(t)) })
	t.Run("Deliveries", func(t *testing.T) { testDeliveries(t, newStore(t)) })
	t.Run("DeliveriesPaging", func(t *testing.T) { testPaging(t, newStore(t)) })
	t.Run("ConcurrentUpdates", func(t *testing.T) { testConcurrent(t, newStore(t)) })
	t.Run("Backlog", func(t *testing.T) { testBacklog(t, newStore(t)) })
}

var base = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func endpoint(tenant string, n int) *webhooks.Endpoint {
	return &webhooks.Endpoint{ID: fmt.Sprintf("we_%03d", n), Tenant: tenant, URL: fmt.Sprintf("https://hooks.example.com/%d", n),
		Events: []bank.EventType{bank.EventJobCompleted}, Enabled: true, Secret: webhooks.NewSecret(),
		CreatedAt: base.Add(time.Duration(n) * time.Second), UpdatedAt: base}
}

func delivery(tenant, ep string, n int) *webhooks.Delivery {
	at := time.Now().UTC().Add(time.Duration(n) * time.Millisecond)
	return &webhooks.Delivery{Tenant: tenant, EndpointID: ep, EventID: fmt.Sprintf("evt_%03d", n), EventType: bank.EventAccountCreated,
		Body: []byte(fmt.Sprintf(`{"id":"evt_%03d"}`, n)), Status: webhooks.DeliveryPending, Seq: 1, CreatedAt: at, UpdatedAt: at}
}

func testEndpoints(t *testing.T, s webhooks.Store) {
	ctx := t.Context()
	for _, n := range []int{2, 1, 3} {
		if err := s.CreateEndpoint(ctx, endpoint("t1", n), 50); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateEndpoint(ctx, endpoint("t1", 1), 50); bank.Code(err) != bank.AlreadyExists {
		t.Errorf("same id again: %v, want AlreadyExists", err)
	}
	got, err := s.GetEndpoint(ctx, "t1", "we_001")
	if err != nil || got.URL != "https://hooks.example.com/1" || got.Secret == "" || got.Tenant != "t1" ||
		!slices.Equal(got.Events, []bank.EventType{bank.EventJobCompleted}) || !got.Enabled {
		t.Fatalf("GetEndpoint = %+v, %v", got, err)
	}
	list, err := s.ListEndpoints(ctx, "t1")
	if err != nil || len(list) != 3 || list[0].ID != "we_001" || list[2].ID != "we_003" {
		t.Fatalf("ListEndpoints: %v %v, want 3, oldest first", ids(list), err)
	}
	secret := got.Secret
	upd, err := s.UpdateEndpoint(ctx, "t1", "we_001", func(e *webhooks.Endpoint) error {
		e.URL, e.PreviousSecret, e.Secret = "https://hooks.example.com/new", e.Secret, webhooks.NewSecret()
		e.PreviousSecretExpiresAt = base.Add(time.Hour)
		return nil
	})
	if err != nil || upd.URL != "https://hooks.example.com/new" || upd.PreviousSecret != secret {
		t.Fatalf("UpdateEndpoint = %+v, %v", upd, err)
	}
	again, _ := s.GetEndpoint(ctx, "t1", "we_001")
	if again.Secret != upd.Secret || again.PreviousSecret != secret || !again.PreviousSecretExpiresAt.Equal(base.Add(time.Hour)) {
		t.Errorf("the update did not persist the secrets: %+v", again)
	}
	boom := errors.New("refused")
	if _, err := s.UpdateEndpoint(ctx, "t1", "we_001", func(e *webhooks.Endpoint) error { e.URL = "x"; return boom }); !errors.Is(err, boom) {
		t.Errorf("fn error = %v, want it returned", err)
	}
	if e, _ := s.GetEndpoint(ctx, "t1", "we_001"); e.URL != "https://hooks.example.com/new" {
		t.Errorf("a failed update was saved: %s", e.URL)
	}
	if _, err := s.UpdateEndpoint(ctx, "t1", "we_404", func(*webhooks.Endpoint) error { return nil }); bank.Code(err) != bank.NotFound {
		t.Errorf("update missing: %v", err)
	}
	if err := s.DeleteEndpoint(ctx, "t1", "we_002"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetEndpoint(ctx, "t1", "we_002"); bank.Code(err) != bank.NotFound {
		t.Errorf("deleted endpoint: %v, want NotFound", err)
	}
	if err := s.DeleteEndpoint(ctx, "t1", "we_002"); bank.Code(err) != bank.NotFound {
		t.Errorf("delete twice: %v, want NotFound", err)
	}
}

func ids(eps []*webhooks.Endpoint) []string {
	var out []string
	for _, e := range eps {
		out = append(out, e.ID)
	}
	return out
}

func testLimit(t *testing.T, s webhooks.Store) {
	ctx := t.Context()
	for n := range 3 {
		if err := s.CreateEndpoint(ctx, endpoint("t1", n), 3); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateEndpoint(ctx, endpoint("t1", 9), 3); bank.Code(err) != bank.FailedPrecondition {
		t.Errorf("beyond the limit: %v, want FailedPrecondition", err)
	}
	if err := s.CreateEndpoint(ctx, endpoint("t2", 9), 3); err != nil {
		t.Errorf("another tenant's limit is its own: %v", err)
	}
}

func testIsolation(t *testing.T, s webhooks.Store) {
	ctx := t.Context()
	if err := s.CreateEndpoint(ctx, endpoint("t1", 1), 50); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetEndpoint(ctx, "t2", "we_001"); bank.Code(err) != bank.NotFound {
		t.Errorf("t2 reads t1's endpoint: %v", err)
	}
	if l, _ := s.ListEndpoints(ctx, "t2"); len(l) != 0 {
		t.Errorf("t2 lists %v", ids(l))
	}
	if err := s.DeleteEndpoint(ctx, "t2", "we_001"); bank.Code(err) != bank.NotFound {
		t.Errorf("t2 deletes t1's endpoint: %v", err)
	}
	if _, _, err := s.CreateDelivery(ctx, delivery("t1", "we_001", 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetDelivery(ctx, "t2", "we_001", "evt_001"); bank.Code(err) != bank.NotFound {
		t.Errorf("t2 reads t1's delivery: %v", err)
	}
	if l, _, _ := s.ListDeliveries(ctx, "t2", "we_001", "", 10); len(l) != 0 {
		t.Errorf("t2 lists t1's deliveries: %d", len(l))
	}
	if err := s.PutEvent(ctx, &bank.Event{ID: "evt_x", Tenant: "t1", Type: bank.EventJobCompleted, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetEvent(ctx, "t2", "evt_x"); bank.Code(err) != bank.NotFound {
		t.Errorf("t2 reads t1's event: %v", err)
	}
}

func testEvents(t *testing.T, s webhooks.Store) {
	ctx := t.Context()
	job := &bank.Job{ID: "job_1", Status: bank.JobCompleted, Total: 1, Succeeded: 1}
	e := &bank.Event{ID: "evt_1", Tenant: "t1", Type: bank.EventJobCompleted, CreatedAt: time.Now().UTC().Truncate(time.Millisecond),
		Data: bank.EventData{Job: job}}
	if err := s.PutEvent(ctx, e); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetEvent(ctx, "t1", "evt_1")
	if err != nil || got.Tenant != "t1" || got.Type != e.Type || !got.CreatedAt.Equal(e.CreatedAt) || got.Data.Job == nil || got.Data.Job.ID != "job_1" {
		t.Fatalf("GetEvent = %+v, %v", got, err)
	}
	if _, err := s.GetEvent(ctx, "t1", "evt_404"); bank.Code(err) != bank.NotFound {
		t.Errorf("missing event: %v", err)
	}
}

func testDeliveries(t *testing.T, s webhooks.Store) {
	ctx := t.Context()
	d := delivery("t1", "we_1", 1)
	d.Headers = map[string]string{"X-Batch": "b1"}
	got, created, err := s.CreateDelivery(ctx, d)
	if err != nil || !created || got.Seq != 1 {
		t.Fatalf("CreateDelivery = %+v, %v, %v", got, created, err)
	}
	again := delivery("t1", "we_1", 1)
	again.Body = []byte(`{"other":true}`)
	got, created, err = s.CreateDelivery(ctx, again)
	if err != nil || created || string(got.Body) != `{"id":"evt_001"}` || got.Headers["X-Batch"] != "b1" {
		t.Fatalf("CreateDelivery of an existing one = %+v (created %v), %v; want the stored one", got, created, err)
	}
	at := time.Now().UTC().Truncate(time.Millisecond)
	upd, err := s.UpdateDelivery(ctx, "t1", "we_1", "evt_001", func(d *webhooks.Delivery) error {
		d.Attempts = append(d.Attempts, webhooks.Attempt{At: at, Trigger: "scheduled", StatusCode: 500, Latency: 12 * time.Millisecond, Error: "HTTP 500"})
		d.Tries, d.Queued, d.NextAttemptAt = 1, true, at.Add(time.Second)
		return nil
	})
	if err != nil || upd.Tries != 1 {
		t.Fatalf("UpdateDelivery = %+v, %v", upd, err)
	}
	got, err = s.GetDelivery(ctx, "t1", "we_1", "evt_001")
	if err != nil || len(got.Attempts) != 1 || got.Attempts[0].StatusCode != 500 || got.Attempts[0].Latency != 12*time.Millisecond ||
		!got.Queued || !got.NextAttemptAt.Equal(at.Add(time.Second)) || got.EventType != bank.EventAccountCreated {
		t.Fatalf("GetDelivery = %+v, %v", got, err)
	}
	boom := errors.New("refused")
	if _, err := s.UpdateDelivery(ctx, "t1", "we_1", "evt_001", func(d *webhooks.Delivery) error { d.Tries = 9; return boom }); !errors.Is(err, boom) {
		t.Errorf("fn error = %v", err)
	}
	if got, _ := s.GetDelivery(ctx, "t1", "we_1", "evt_001"); got.Tries != 1 {
		t.Errorf("a failed update was saved")
	}
	if _, err := s.UpdateDelivery(ctx, "t1", "we_1", "evt_404", func(*webhooks.Delivery) error { return nil }); bank.Code(err) != bank.NotFound {
		t.Errorf("update missing: %v", err)
	}
}

func testPaging(t *testing.T, s webhooks.Store) {
	ctx := t.Context()
	for n := range 7 {
		if _, _, err := s.CreateDelivery(ctx, delivery("t1", "we_1", n)); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.CreateDelivery(ctx, delivery("t1", "we_2", 99)); err != nil {
		t.Fatal(err)
	}
	var seen []string
	cursor := ""
	for page := 0; ; page++ {
		ds, next, err := s.ListDeliveries(ctx, "t1", "we_1", cursor, 3)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			seen = append(seen, d.EventID)
		}
		if next == "" {
			break
		}
		if page > 5 {
			t.Fatal("paging does not end")
		}
		cursor = next
	}
	want := []string{"evt_006", "evt_005", "evt_004", "evt_003", "evt_002", "evt_001", "evt_000"}
	if !slices.Equal(seen, want) {
		t.Errorf("pages = %v, want %v (newest first, only we_1's)", seen, want)
	}
	if _, _, err := s.ListDeliveries(ctx, "t1", "we_1", "not-a-cursor", 3); bank.Code(err) != bank.InvalidArgument {
		t.Errorf("bad cursor: %v", err)
	}
}

func testConcurrent(t *testing.T, s webhooks.Store) {
	ctx := t.Context()
	if _, _, err := s.CreateDelivery(ctx, delivery("t1", "we_1", 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateEndpoint(ctx, endpoint("t1", 1), 50); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := s.UpdateDelivery(ctx, "t1", "we_1", "evt_001", func(d *webhooks.Delivery) error {
				d.Attempts = append(d.Attempts, webhooks.Attempt{Trigger: "scheduled"})
				return nil
			}); err != nil {
				t.Error(err)
			}
			if _, err := s.UpdateEndpoint(ctx, "t1", "we_001", func(e *webhooks.Endpoint) error {
				e.Description += "x"
				return nil
			}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	d, _ := s.GetDelivery(ctx, "t1", "we_1", "evt_001")
	e, _ := s.GetEndpoint(ctx, "t1", "we_001")
	if len(d.Attempts) != 20 || len(e.Description) != 20 {
		t.Errorf("concurrent updates lost: %d attempts, description %q; want 20 each", len(d.Attempts), e.Description)
	}
}

func testBacklog(t *testing.T, s webhooks.Store) {
	ctx := t.Context()
	n, oldest, err := s.Backlog(ctx)
	if err != nil || n != 0 || !oldest.IsZero() {
		t.Fatalf("empty backlog = %d, %v, %v", n, oldest, err)
	}
	first := delivery("t1", "we_1", 1)
	first.CreatedAt = time.Now().Add(-time.Minute).UTC().Truncate(time.Millisecond)
	for _, d := range []*webhooks.Delivery{first, delivery("t1", "we_1", 2), delivery("t2", "we_9", 3)} {
		if _, _, err := s.CreateDelivery(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	n, oldest, err = s.Backlog(ctx)
	if err != nil || n != 3 || !oldest.Equal(first.CreatedAt) {
		t.Fatalf("backlog = %d, %v, %v; want 3, %v", n, oldest, err, first.CreatedAt)
	}
	if _, err := s.UpdateDelivery(ctx, "t1", "we_1", "evt_001", func(d *webhooks.Delivery) error {
		d.Status = webhooks.DeliverySucceeded
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	n, oldest, err = s.Backlog(ctx)
	if err != nil || n != 2 || !oldest.After(first.CreatedAt) {
		t.Errorf("after one settled: %d, %v, %v; want 2 and a younger oldest", n, oldest, err)
	}
	if _, err := s.UpdateDelivery(ctx, "t1", "we_1", "evt_001", func(d *webhooks.Delivery) error {
		d.Status = webhooks.DeliveryPending
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := s.Backlog(ctx); n != 3 {
		t.Errorf("after a redelivery: %d pending, want 3", n)
	}
}
