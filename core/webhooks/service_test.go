package webhooks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/store"
	"github.com/vagate/vagate/core/telemetry"
	"github.com/vagate/vagate/core/webhooks"
	"github.com/vagate/vagate/core/webhooks/webhooksmem"
)

// rig is a running service over the memory store and queue, delivering to
// loopback receivers (allowlisted) on a millisecond schedule.
type rig struct {
	svc *webhooks.Service
	st  *webhooksmem.Store
	log store.Events // the delivering log
	raw *store.MemoryEvents
	tel *telemetry.Telemetry
	n   atomic.Int32
}

func newRig(t *testing.T, opts webhooks.Options) *rig {
	t.Helper()
	tel, err := telemetry.New(t.Context(), telemetry.Config{SpanExporter: tracetest.NewInMemoryExporter()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tel.Shutdown(context.Background()) })
	r := &rig{st: webhooksmem.New(nil), raw: store.NewMemoryEvents(), tel: tel}
	if opts.Guard == nil {
		opts.Guard = webhooks.NewGuard(webhooks.GuardOptions{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	}
	if opts.Schedule == nil {
		opts.Schedule = []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond}
	}
	if opts.AttemptTimeout == 0 {
		opts.AttemptTimeout = 2 * time.Second
	}
	opts.StoreBackoff = 10 * time.Millisecond
	opts.Tracer, opts.Meter = tel.Tracer, tel.Meter
	r.svc = webhooks.New(r.st, store.NewMemory(), r.raw, &opts)
	r.log = r.svc.Log()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.svc.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

// event records an event of tenant "t1" through the delivering log.
func (r *rig) event(t *testing.T, typ bank.EventType) *bank.Event {
	t.Helper()
	e := &bank.Event{ID: fmt.Sprintf("evt_%04d", r.n.Add(1)), Tenant: "t1", Type: typ, CreatedAt: time.Now().UTC(),
		Data: bank.EventData{Account: &bank.Account{ID: "va_1", Status: bank.StatusActive, Currency: "USD"}}}
	if typ == bank.EventJobCompleted {
		e.Data = bank.EventData{Job: &bank.Job{ID: "job_1", Status: bank.JobCompleted, Total: 1, Succeeded: 1}}
	}
	if err := r.log.AppendEvent(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	return e
}

func (r *rig) endpoint(t *testing.T, url string, events ...bank.EventType) *webhooks.Endpoint {
	t.Helper()
	e, err := r.svc.CreateEndpoint(t.Context(), "t1", &webhooks.EndpointInput{URL: url, Events: events})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// delivery waits until the delivery of ev to ep is settled and returns it.
func (r *rig) settled(t *testing.T, ep *webhooks.Endpoint, eventID string) *webhooks.Delivery {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		d, err := r.svc.Delivery(t.Context(), "t1", ep.ID, eventID)
		if err == nil && d.Status != webhooks.DeliveryPending {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery of %s to %s not settled: %+v, %v", eventID, ep.ID, d, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// received is one request a receiver got.
type received struct {
	header http.Header
	body   []byte
	at     time.Time
}

// receiver is a loopback endpoint that answers each request with the next
// status of statuses (the last one repeating) and keeps what it got.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	got  []received
	next func(n int) int
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	rc := &receiver{next: func(n int) int {
		if len(statuses) == 0 {
			return 200
		}
		return statuses[min(n, len(statuses)-1)]
	}}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		n := len(rc.got)
		rc.got = append(rc.got, received{header: r.Header.Clone(), body: b, at: time.Now()})
		rc.mu.Unlock()
		w.WriteHeader(rc.next(n))
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

// waitFor waits until the receiver got n requests.
func (rc *receiver) waitFor(t *testing.T, n int) []received {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if got := rc.requests(); len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("receiver got %d requests, want %d", len(rc.requests()), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// verify checks a request with the Standard Webhooks library.
func verify(t *testing.T, secret webhooks.Secret, got received) {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(string(secret))
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(got.body, got.header); err != nil {
		t.Errorf("Standard Webhooks verification failed: %v (signature %q)", err, got.header.Get("webhook-signature"))
	}
}

// A subscribed event arrives signed per Standard Webhooks, with the event
// id as webhook-id and the event as body; the attempt is logged.
func TestDeliversSignedEvents(t *testing.T) {
	r := newRig(t, webhooks.Options{})
	rc := newReceiver(t)
	ep := r.endpoint(t, rc.URL+"/hooks")
	jobOnly := newReceiver(t)
	r.endpoint(t, jobOnly.URL, bank.EventJobCompleted)
	ev := r.event(t, bank.EventAccountCreated)
	got := rc.waitFor(t, 1)[0]
	verify(t, ep.Secret, got)
	if got.header.Get("webhook-id") != ev.ID || got.header.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", got.header)
	}
	var body bank.Event
	if err := json.Unmarshal(got.body, &body); err != nil || body.ID != ev.ID || body.Type != bank.EventAccountCreated || body.Data.Account.ID != "va_1" {
		t.Errorf("body %s", got.body)
	}
	d := r.settled(t, ep, ev.ID)
	if d.Status != webhooks.DeliverySucceeded || len(d.Attempts) != 1 || d.Attempts[0].StatusCode != 200 || d.Attempts[0].Trigger != "scheduled" {
		t.Errorf("delivery %+v", d)
	}
	job := r.event(t, bank.EventJobCompleted)
	if g := jobOnly.waitFor(t, 1); len(g) != 1 || g[0].header.Get("webhook-id") != job.ID {
		t.Errorf("the job.completed endpoint got %d requests", len(g))
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(jobOnly.requests()); n != 1 {
		t.Errorf("the job.completed endpoint got %d requests, want only the job.completed event", n)
	}
}

// Failures are retried on the schedule with the same webhook-id and body;
// only 2xx counts as success; when the schedule runs out the delivery fails.
func TestRetriesOnTheSchedule(t *testing.T) {
	tests := []struct {
		name     string
		statuses []int
		want     webhooks.DeliveryStatus
		attempts int
	}{
		{"fails twice then succeeds", []int{500, 503, 204}, webhooks.DeliverySucceeded, 3},
		{"3xx and 1xx-like answers are failures", []int{302, 304, 200}, webhooks.DeliverySucceeded, 3},
		{"never succeeds: 1 + 3 retries", []int{500}, webhooks.DeliveryFailed, 4},
		{"429 is retried", []int{429, 201}, webhooks.DeliverySucceeded, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, webhooks.Options{})
			rc := newReceiver(t, tc.statuses...)
			ep := r.endpoint(t, rc.URL)
			ev := r.event(t, bank.EventAccountCreated)
			d := r.settled(t, ep, ev.ID)
			if d.Status != tc.want || len(d.Attempts) != tc.attempts {
				t.Fatalf("delivery %s with %d attempts, want %s with %d", d.Status, len(d.Attempts), tc.want, tc.attempts)
			}
			got := rc.requests()
			if len(got) != tc.attempts {
				t.Fatalf("receiver got %d requests, want %d", len(got), tc.attempts)
			}
			for i, g := range got {
				verify(t, ep.Secret, g)
				if g.header.Get("webhook-id") != ev.ID || string(g.body) != string(got[0].body) {
					t.Errorf("attempt %d: webhook-id %s or body differs", i, g.header.Get("webhook-id"))
				}
				if d.Attempts[i].StatusCode != tc.statuses[min(i, len(tc.statuses)-1)] {
					t.Errorf("attempt %d logged status %d", i, d.Attempts[i].StatusCode)
				}
			}
			if tc.want == webhooks.DeliveryFailed && !strings.Contains(d.Attempts[0].Error, "HTTP 500") {
				t.Errorf("attempt error %q", d.Attempts[0].Error)
			}
			if len(got) >= 3 && got[2].at.Sub(got[1].at) < 20*time.Millisecond {
				t.Errorf("the second retry came %s after the first, want >= 20ms (the schedule)", got[2].at.Sub(got[1].at))
			}
		})
	}
}

// events lists the tenant's log.
func (r *rig) events(t *testing.T, typ bank.EventType) []*bank.Event {
	t.Helper()
	evs, _, err := r.raw.ListEvents(t.Context(), "t1", typ, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// 410 Gone disables the endpoint at once, with an event the tenant's other
// endpoints receive; nothing more goes to it.
func TestGoneDisablesEndpoint(t *testing.T) {
	r := newRig(t, webhooks.Options{})
	gone := newReceiver(t, http.StatusGone)
	other := newReceiver(t)
	ep := r.endpoint(t, gone.URL)
	r.endpoint(t, other.URL, bank.EventEndpointDisabled)
	ev := r.event(t, bank.EventAccountCreated)
	d := r.settled(t, ep, ev.ID)
	if d.Status != webhooks.DeliveryFailed || len(d.Attempts) != 1 {
		t.Fatalf("delivery %s after %d attempts, want failed after 1", d.Status, len(d.Attempts))
	}
	e, _ := r.svc.Endpoint(t.Context(), "t1", ep.ID)
	if e.Enabled || e.DisabledReason != "gone" {
		t.Errorf("endpoint enabled=%v reason=%q, want disabled as gone", e.Enabled, e.DisabledReason)
	}
	got := other.waitFor(t, 1)
	var body bank.Event
	json.Unmarshal(got[0].body, &body)
	if body.Type != bank.EventEndpointDisabled || body.Data.WebhookEndpoint == nil || body.Data.WebhookEndpoint.ID != ep.ID ||
		body.Data.WebhookEndpoint.Reason != "gone" {
		t.Errorf("other endpoint got %s", got[0].body)
	}
	if evs := r.events(t, bank.EventEndpointDisabled); len(evs) != 1 {
		t.Errorf("%d webhook_endpoint.disabled events in the log, want 1", len(evs))
	}
	r.event(t, bank.EventAccountCreated)
	time.Sleep(100 * time.Millisecond)
	if n := len(gone.requests()); n != 1 {
		t.Errorf("the gone endpoint got %d requests, want 1", n)
	}
}

// An endpoint every attempt to which fails for DisableAfter is disabled.
func TestFailingEndpointIsDisabled(t *testing.T) {
	r := newRig(t, webhooks.Options{DisableAfter: 150 * time.Millisecond,
		Schedule: slices.Repeat([]time.Duration{20 * time.Millisecond}, 50)})
	down := newReceiver(t, 500)
	ep := r.endpoint(t, down.URL)
	ev := r.event(t, bank.EventAccountCreated)
	d := r.settled(t, ep, ev.ID)
	e, _ := r.svc.Endpoint(t.Context(), "t1", ep.ID)
	if e.Enabled || e.DisabledReason != "failing" {
		t.Fatalf("endpoint enabled=%v reason=%q, want disabled as failing", e.Enabled, e.DisabledReason)
	}
	if d.Status != webhooks.DeliveryFailed || !strings.Contains(d.Attempts[len(d.Attempts)-1].Error, "disabled") {
		t.Errorf("delivery %s, last attempt %+v; want failed as the endpoint is disabled", d.Status, d.Attempts[len(d.Attempts)-1])
	}
	first, last := d.Attempts[0].At, d.Attempts[len(d.Attempts)-2].At
	if last.Sub(first) < 150*time.Millisecond {
		t.Errorf("disabled after failing for %s, want at least 150ms", last.Sub(first))
	}
	if evs := r.events(t, bank.EventEndpointDisabled); len(evs) != 1 || evs[0].Data.WebhookEndpoint.Reason != "failing" {
		t.Errorf("disabled events %v", evs)
	}
	// Enabled again, it is healthy: the failing run starts over.
	yes := true
	if e, err := r.svc.UpdateEndpoint(t.Context(), "t1", ep.ID, &webhooks.EndpointPatch{Enabled: &yes}); err != nil || !e.Enabled || e.DisabledReason != "" || !e.FailingSince.IsZero() {
		t.Errorf("re-enabled: %+v, %v", e, err)
	}
}

// A redirect is not followed: the attempt fails saying so, and the target
// of the redirect gets nothing.
func TestRedirectIsNotFollowed(t *testing.T) {
	r := newRig(t, webhooks.Options{Schedule: []time.Duration{}})
	target := newReceiver(t)
	redir := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		http.Redirect(w, req, target.URL, http.StatusTemporaryRedirect)
	}))
	defer redir.Close()
	ep := r.endpoint(t, redir.URL)
	ev := r.event(t, bank.EventAccountCreated)
	d := r.settled(t, ep, ev.ID)
	if d.Status != webhooks.DeliveryFailed || d.Attempts[0].StatusCode != 307 || !strings.Contains(d.Attempts[0].Error, "redirect") {
		t.Errorf("delivery %+v", d)
	}
	if n := len(target.requests()); n != 0 {
		t.Errorf("the redirect target got %d requests", n)
	}
}

// A receiver that hangs (or is slow) holds at most PerEndpoint workers for
// at most AttemptTimeout: deliveries to another endpoint go on at speed.
func TestHangingEndpointDoesNotSlowOthers(t *testing.T) {
	r := newRig(t, webhooks.Options{Workers: 4, PerEndpoint: 2, AttemptTimeout: 3 * time.Second, BusyDelay: 20 * time.Millisecond})
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		select {
		case <-release:
		case <-req.Context().Done():
		}
	}))
	defer func() { close(release); hang.Close() }()
	fast := newReceiver(t)
	r.endpoint(t, hang.URL)
	r.endpoint(t, fast.URL)
	const n = 20
	start := time.Now()
	for range n {
		r.event(t, bank.EventAccountCreated)
	}
	got := fast.waitFor(t, n)
	if took := got[n-1].at.Sub(start); took > time.Second {
		t.Errorf("the healthy endpoint got %d events in %s while the other hung; want well under the 3s attempt timeout", n, took)
	}
}

// During a rotation's overlap each delivery carries two signatures, and a
// receiver holding either secret verifies it; without overlap only the new
// secret signs.
func TestRotationOverlap(t *testing.T) {
	r := newRig(t, webhooks.Options{})
	rc := newReceiver(t)
	ep := r.endpoint(t, rc.URL)
	old := ep.Secret
	rot, err := r.svc.RotateSecret(t.Context(), "t1", ep.ID, time.Hour)
	if err != nil || rot.Secret == old || rot.Secret == "" {
		t.Fatalf("rotate: %v", err)
	}
	r.event(t, bank.EventAccountCreated)
	got := rc.waitFor(t, 1)[0]
	verify(t, old, got)
	verify(t, rot.Secret, got)
	if n := len(strings.Fields(got.header.Get("webhook-signature"))); n != 2 {
		t.Errorf("%d signatures during the overlap, want 2", n)
	}
	rot2, err := r.svc.RotateSecret(t.Context(), "t1", ep.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	r.event(t, bank.EventAccountCreated)
	got = rc.waitFor(t, 2)[1]
	verify(t, rot2.Secret, got)
	wh, _ := standardwebhooks.NewWebhook(string(rot.Secret))
	if wh.Verify(got.body, got.header) == nil {
		t.Error("a secret rotated out without overlap still verifies")
	}
	if _, err := r.svc.RotateSecret(t.Context(), "t1", ep.ID, 8*24*time.Hour); bank.Code(err) != bank.InvalidArgument {
		t.Errorf("an overlap beyond 7 days: %v", err)
	}
}

// A manual redelivery sends the event again with the same webhook-id, and
// the attempt is logged as manual; an event kept for the tenant can be
// sent to an endpoint created after it.
func TestRedeliver(t *testing.T) {
	r := newRig(t, webhooks.Options{})
	rc := newReceiver(t)
	ep := r.endpoint(t, rc.URL)
	ev := r.event(t, bank.EventAccountCreated)
	r.settled(t, ep, ev.ID)
	d, err := r.svc.Redeliver(t.Context(), "t1", ep.ID, ev.ID)
	if err != nil || d.Status != webhooks.DeliveryPending {
		t.Fatalf("redeliver: %+v, %v", d, err)
	}
	got := rc.waitFor(t, 2)
	if got[1].header.Get("webhook-id") != ev.ID {
		t.Errorf("redelivered with webhook-id %s", got[1].header.Get("webhook-id"))
	}
	time.Sleep(20 * time.Millisecond)
	d = r.settled(t, ep, ev.ID)
	if len(d.Attempts) != 2 || d.Attempts[1].Trigger != "manual" || d.Status != webhooks.DeliverySucceeded {
		t.Errorf("attempts %+v", d.Attempts)
	}
	late := newReceiver(t)
	ep2 := r.endpoint(t, late.URL)
	if _, err := r.svc.Redeliver(t.Context(), "t1", ep2.ID, ev.ID); err != nil {
		t.Fatalf("redeliver an earlier event to a new endpoint: %v", err)
	}
	verify(t, ep2.Secret, late.waitFor(t, 1)[0])
	for _, tc := range []struct{ tenant, ep, ev string }{{"t1", ep.ID, "evt_nope"}, {"t1", "we_nope", ev.ID}, {"t2", ep.ID, ev.ID}} {
		if _, err := r.svc.Redeliver(t.Context(), tc.tenant, tc.ep, tc.ev); bank.Code(err) != bank.NotFound {
			t.Errorf("redeliver %v: %v, want NotFound", tc, err)
		}
	}
}

// A job's callbackUrl names an endpoint: its job.completed goes there once,
// with the job's customHeaders, even when the endpoint does not subscribe
// to job.completed; customHeaders never replace the signature's headers.
func TestJobCallback(t *testing.T) {
	cb := newReceiver(t)
	r := newRig(t, webhooks.Options{JobCallback: func(_ context.Context, tenant, jobID string) (string, map[string]string, error) {
		if tenant != "t1" || jobID != "job_1" {
			return "", nil, store.NotFound("job", jobID)
		}
		return cb.URL + "/cb", map[string]string{"X-Batch": "b-42", "webhook-id": "forged", "Content-Type": "text/plain"}, nil
	}})
	ep := r.endpoint(t, cb.URL+"/cb", bank.EventAccountCreated)
	all := newReceiver(t)
	r.endpoint(t, all.URL)
	ev := r.event(t, bank.EventJobCompleted)
	got := cb.waitFor(t, 1)[0]
	verify(t, ep.Secret, got)
	if got.header.Get("X-Batch") != "b-42" || got.header.Get("webhook-id") != ev.ID || got.header.Get("Content-Type") != "application/json" {
		t.Errorf("callback headers %v", got.header)
	}
	if g := all.waitFor(t, 1); g[0].header.Get("X-Batch") != "" {
		t.Errorf("another endpoint got the job's customHeaders")
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(cb.requests()); n != 1 {
		t.Errorf("the callback endpoint got %d requests, want 1", n)
	}
}

// Registration refuses what the guard refuses, as a 400-class error naming
// /url; an endpoint cap applies per tenant.
func TestRegistrationRefusals(t *testing.T) {
	r := newRig(t, webhooks.Options{Guard: webhooks.NewGuard(webhooks.GuardOptions{}), MaxEndpoints: 1})
	for _, u := range []string{"https://127.0.0.1/hooks", "https://10.1.2.3/hooks", "https://169.254.169.254/",
		"https://[::1]/hooks", "https://localhost/hooks", "http://93.184.216.34/hooks", "not a url"} {
		_, err := r.svc.CreateEndpoint(t.Context(), "t1", &webhooks.EndpointInput{URL: u})
		if bank.Code(err) != bank.InvalidArgument || len(bank.FieldsOf(err)) != 1 || bank.FieldsOf(err)[0].Pointer != "/url" {
			t.Errorf("%s: %v, want InvalidArgument at /url", u, err)
		}
	}
	if _, err := r.svc.CreateEndpoint(t.Context(), "t1", &webhooks.EndpointInput{URL: "https://93.184.216.34/hooks",
		Events: []bank.EventType{"account.exploded"}}); bank.Code(err) != bank.InvalidArgument || bank.FieldsOf(err)[0].Pointer != "/events/0" {
		t.Errorf("unknown event type: %v", err)
	}
	if _, err := r.svc.CreateEndpoint(t.Context(), "t1", &webhooks.EndpointInput{URL: "https://93.184.216.34/hooks"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.CreateEndpoint(t.Context(), "t1", &webhooks.EndpointInput{URL: "https://93.184.216.34/2"}); bank.Code(err) != bank.FailedPrecondition {
		t.Errorf("beyond the cap: %v", err)
	}
}

// A deleted endpoint's pending retries end failed, without a request.
func TestDeletedEndpointStopsDeliveries(t *testing.T) {
	r := newRig(t, webhooks.Options{Schedule: []time.Duration{300 * time.Millisecond}})
	rc := newReceiver(t, 500)
	ep := r.endpoint(t, rc.URL)
	r.event(t, bank.EventAccountCreated)
	rc.waitFor(t, 1)
	if err := r.svc.DeleteEndpoint(t.Context(), "t1", ep.ID); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if n := len(rc.requests()); n != 1 {
		t.Errorf("the deleted endpoint got %d requests, want 1", n)
	}
}

// Deliveries are counted by outcome and the backlog is observable; each
// attempt is a span.
func TestDeliveryMetrics(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tel, err := telemetry.New(t.Context(), telemetry.Config{SpanExporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	st := webhooksmem.New(nil)
	svc := webhooks.New(st, store.NewMemory(), store.NewMemoryEvents(), &webhooks.Options{Tracer: tel.Tracer, Meter: tel.Meter,
		Guard:    webhooks.NewGuard(webhooks.GuardOptions{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}),
		Schedule: []time.Duration{time.Hour}})
	ok, bad := newReceiver(t), newReceiver(t, 500)
	for _, u := range []string{ok.URL, bad.URL} {
		if _, err := svc.CreateEndpoint(t.Context(), "t1", &webhooks.EndpointInput{URL: u}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { svc.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	e := &bank.Event{ID: "evt_m", Tenant: "t1", Type: bank.EventAccountCreated, CreatedAt: time.Now()}
	if err := svc.Log().AppendEvent(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	ok.waitFor(t, 1)
	bad.waitFor(t, 1)
	time.Sleep(50 * time.Millisecond)
	rec := httptest.NewRecorder()
	tel.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	m := rec.Body.String()
	for _, want := range []string{`vagate_webhooks_attempts_total{outcome="success"} 1`,
		`vagate_webhooks_attempts_total{outcome="http_error"} 1`, `vagate_webhooks_deliveries_total{outcome="succeeded"} 1`,
		"vagate_webhooks_backlog 1", "vagate_webhooks_backlog_oldest_age_seconds 0.", `vagate_webhooks_attempt_duration_seconds_count{outcome="success"} 1`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s:\n%s", want, grep(m, "webhooks"))
		}
	}
	var attempts int
	for _, s := range exp.GetSpans() {
		if s.Name == "webhook attempt" {
			attempts++
		}
	}
	if attempts != 2 {
		t.Errorf("%d attempt spans, want 2", attempts)
	}
}

func grep(s, word string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// countingQueue counts the tasks sent back to wait.
type countingQueue struct {
	store.Queue
	defers atomic.Int32
}

func (q *countingQueue) Dequeue(ctx context.Context) (*store.Lease, error) {
	l, err := q.Queue.Dequeue(ctx)
	if err != nil {
		return nil, err
	}
	inner := l.Defer
	l.Defer = func(d time.Duration) { q.defers.Add(1); inner(d) }
	return l, nil
}

// A slow endpoint's backlog waits at the endpoint's pace instead of
// cycling through the queue every BusyDelay: few tasks go back and forth.
func TestSlowEndpointBacklogDoesNotChurnTheQueue(t *testing.T) {
	q := &countingQueue{Queue: store.NewMemory()}
	svc := webhooks.New(webhooksmem.New(nil), q, store.NewMemoryEvents(), &webhooks.Options{PerEndpoint: 1, BusyDelay: 5 * time.Millisecond,
		Guard: webhooks.NewGuard(webhooks.GuardOptions{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})})
	var mu sync.Mutex
	var seen []string
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(50 * time.Millisecond)
		mu.Lock()
		seen = append(seen, r.Header.Get("webhook-id"))
		mu.Unlock()
	}))
	defer slow.Close()
	if _, err := svc.CreateEndpoint(t.Context(), "t1", &webhooks.EndpointInput{URL: slow.URL}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { svc.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	const n = 20
	for i := range n {
		e := &bank.Event{ID: fmt.Sprintf("evt_%02d", i), Tenant: "t1", Type: bank.EventAccountCreated, CreatedAt: time.Now()}
		if err := svc.Log().AppendEvent(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		got := len(seen)
		mu.Unlock()
		if got >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d delivered", got, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Cycling every BusyDelay would send tasks back ~n*(n*50ms/5ms)/2 = 2000 times.
	if d := q.defers.Load(); d > 10*n {
		t.Errorf("tasks went back to the queue %d times for %d deliveries", d, n)
	}
}
