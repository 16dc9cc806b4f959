package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/store"
)

// Tasks on the queue: "f|<event>" fans an event out to its endpoints;
// "d|<endpoint>|<event>|<seq>" attempts one delivery.
func fanoutTask(eventID string) string { return "f|" + eventID }

func deliveryTask(endpointID, eventID string, seq int) string {
	return "d|" + endpointID + "|" + eventID + "|" + strconv.Itoa(seq)
}

// maxResponseRead bounds what is read of an endpoint's answer (and then
// thrown away), so the connection can be reused.
const maxResponseRead = 64 << 10

// Run delivers until ctx ends: it takes a task from the queue whenever a
// worker is free. Then it takes no new task, lets attempts in progress go
// on for DrainTimeout and interrupts the rest, which go back to the queue.
func (s *Service) Run(ctx context.Context) {
	work, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	slots := make(chan struct{}, s.opts.Workers)
	var wg sync.WaitGroup
loop:
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			break loop
		}
		l, err := s.queue.Dequeue(ctx)
		if err != nil {
			<-slots
			if ctx.Err() != nil {
				break
			}
			s.opts.Logger.Error("webhook queue: dequeue failed", "err", err)
			sleep(ctx, s.opts.StoreBackoff)
			continue
		}
		wg.Go(func() {
			defer func() { <-slots }()
			s.handle(work, l)
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTimer(s.opts.DrainTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		stop()
		<-done
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// handle runs one task and settles its lease.
func (s *Service) handle(ctx context.Context, l *store.Lease) {
	kind, rest, _ := strings.Cut(l.JobID, "|")
	switch kind {
	case "f":
		if err := s.fanout(ctx, l.Tenant, rest); err != nil {
			if ctx.Err() != nil {
				l.Release()
				return
			}
			s.opts.Logger.Error("webhook fan-out failed; retrying", "event_id", rest, "err", err)
			l.Defer(s.opts.StoreBackoff)
			return
		}
		l.Ack()
	case "d":
		parts := strings.Split(rest, "|")
		seq, err := strconv.Atoi(parts[len(parts)-1])
		if len(parts) != 3 || err != nil {
			s.opts.Logger.Error("webhook queue: malformed task", "task", l.JobID)
			l.Ack()
			return
		}
		s.deliver(ctx, l, parts[0], parts[1], seq)
	default:
		s.opts.Logger.Error("webhook queue: malformed task", "task", l.JobID)
		l.Ack()
	}
}

// newDelivery is a pending delivery of ev to an endpoint.
func newDelivery(ev *bank.Event, endpointID string, headers map[string]string, now time.Time) (*Delivery, error) {
	body, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	return &Delivery{Tenant: ev.Tenant, EndpointID: endpointID, EventID: ev.ID, EventType: ev.Type, Body: body,
		Headers: headers, Status: DeliveryPending, Seq: 1, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}, nil
}

// fanout creates and queues a delivery of the event to every enabled
// endpoint that subscribes to its type; a job.completed event also goes to
// the endpoint its job's callbackUrl names (once, with the job's
// customHeaders). Safe to run again: deliveries already made are kept, and
// queued again only if their queueing was not recorded.
func (s *Service) fanout(ctx context.Context, tenant, eventID string) error {
	ev, err := s.store.GetEvent(ctx, tenant, eventID)
	if bank.Code(err) == bank.NotFound {
		s.opts.Logger.Warn("webhook fan-out: event no longer kept", "event_id", eventID)
		return nil
	}
	if err != nil {
		return err
	}
	eps, err := s.store.ListEndpoints(ctx, tenant)
	if err != nil {
		return err
	}
	targets := map[string]map[string]string{}
	var order []string
	for _, e := range eps {
		if e.Enabled && e.Subscribes(ev.Type) {
			targets[e.ID] = nil
			order = append(order, e.ID)
		}
	}
	if ev.Type == bank.EventJobCompleted && ev.Data.Job != nil && s.opts.JobCallback != nil {
		u, hdrs, err := s.opts.JobCallback(ctx, tenant, ev.Data.Job.ID)
		if err != nil && bank.Code(err) != bank.NotFound {
			return err
		}
		if u != "" {
			if i := slices.IndexFunc(eps, func(e *Endpoint) bool { return e.URL == u }); i >= 0 && eps[i].Enabled {
				if _, ok := targets[eps[i].ID]; !ok {
					order = append(order, eps[i].ID)
				}
				targets[eps[i].ID] = hdrs
			}
		}
	}
	now := s.opts.Now().UTC()
	for _, id := range order {
		d, err := newDelivery(ev, id, targets[id], now)
		if err != nil {
			return err
		}
		got, _, err := s.store.CreateDelivery(ctx, d)
		if err != nil {
			return err
		}
		if got.Status == DeliveryPending && !got.Queued {
			if _, err := s.enqueue(ctx, got); err != nil {
				return err
			}
		}
	}
	return nil
}

// outcome is how an attempt ended, as a metric label.
type outcome string

const (
	outcomeSuccess   outcome = "success"
	outcomeHTTPError outcome = "http_error"
	outcomeGone      outcome = "gone"
	outcomeTimeout   outcome = "timeout"
	outcomeNetwork   outcome = "network_error"
	outcomeRefused   outcome = "refused"
)

// deliver makes one attempt at a delivery and records it: success settles
// it; 410 Gone settles it failed and disables the endpoint; any other
// failure schedules the next retry, or settles it failed when the schedule
// is exhausted.
func (s *Service) deliver(ctx context.Context, l *store.Lease, endpointID, eventID string, seq int) {
	tenant := l.Tenant
	d, err := s.store.GetDelivery(ctx, tenant, endpointID, eventID)
	switch {
	case bank.Code(err) == bank.NotFound:
		l.Ack()
		return
	case err != nil:
		s.storeTrouble(ctx, l, "reading a delivery", err)
		return
	case d.Seq != seq || d.Status != DeliveryPending:
		l.Ack() // stale: settled, or superseded by a redelivery
		return
	}
	ep, err := s.store.GetEndpoint(ctx, tenant, endpointID)
	if err != nil && bank.Code(err) != bank.NotFound {
		s.storeTrouble(ctx, l, "reading an endpoint", err)
		return
	}
	if ep == nil || !ep.Enabled {
		why := "the endpoint was deleted"
		if ep != nil {
			why = "the endpoint is disabled"
		}
		if _, err := s.settle(ctx, d, seq, DeliveryFailed, nil, why, time.Time{}); err != nil {
			s.storeTrouble(ctx, l, "recording a delivery", err)
			return
		}
		l.Ack()
		return
	}
	if wait, ok := s.acquire(ep.ID); !ok {
		l.Defer(wait)
		return
	}
	att, oc := s.attempt(ctx, ep, d)
	s.release(ep.ID, att.Latency)
	// Never the URL: it may carry the receiver's own token in its query.
	s.opts.Logger.DebugContext(ctx, "webhook attempt", "endpoint_id", ep.ID, "event_id", d.EventID, "outcome", string(oc),
		"status", att.StatusCode, "latency_ms", att.Latency.Milliseconds())
	if ctx.Err() != nil && oc != outcomeSuccess {
		l.Release() // interrupted by shutdown: not an attempt of the endpoint's
		return
	}
	// What the endpoint answered is recorded even if shutdown began meanwhile.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	now := s.opts.Now().UTC()
	var retryIn time.Duration
	status := DeliveryPending
	switch {
	case oc == outcomeSuccess:
		status = DeliverySucceeded
	case oc == outcomeGone:
		status = DeliveryFailed
	case d.Tries < len(s.opts.Schedule):
		retryIn = jitter(s.opts.Schedule[d.Tries])
	default:
		status = DeliveryFailed
	}
	var next time.Time
	if status == DeliveryPending {
		next = now.Add(retryIn)
	}
	if _, err := s.settle(ctx, d, seq, status, &att, "", next); err != nil {
		s.storeTrouble(ctx, l, "recording an attempt", err)
		return
	}
	if status != DeliveryPending {
		s.tel.settled(ctx, status)
	}
	switch {
	case oc == outcomeSuccess:
		if !ep.FailingSince.IsZero() {
			s.updateEndpoint(ctx, ep, func(e *Endpoint) bool {
				e.FailingSince = time.Time{}
				return true
			})
		}
	case oc == outcomeGone:
		s.disable(ctx, ep, "gone")
	default:
		s.failed(ctx, ep, now)
	}
	if status == DeliveryPending {
		l.Defer(retryIn)
		return
	}
	l.Ack()
}

// storeTrouble hands a task back after a store error, to be tried again.
func (s *Service) storeTrouble(ctx context.Context, l *store.Lease, what string, err error) {
	if ctx.Err() != nil {
		l.Release()
		return
	}
	s.opts.Logger.Error("webhook delivery: "+what+" failed; retrying", "err", err)
	l.Defer(s.opts.StoreBackoff)
}

// settle records an attempt (if any, else why nothing was attempted) and
// the delivery's new status, with the time of the next attempt.
func (s *Service) settle(ctx context.Context, d *Delivery, seq int, status DeliveryStatus, att *Attempt, why string, next time.Time) (*Delivery, error) {
	now := s.opts.Now().UTC()
	return s.store.UpdateDelivery(ctx, d.Tenant, d.EndpointID, d.EventID, func(x *Delivery) error {
		if x.Seq != seq {
			return nil // superseded by a redelivery meanwhile; keep it
		}
		if att != nil {
			x.Attempts = append(x.Attempts, *att)
			if n := len(x.Attempts); n > MaxAttemptsKept {
				x.Attempts = slices.Delete(x.Attempts, 0, n-MaxAttemptsKept)
			}
			x.Tries++
			x.Manual = false
		}
		if why != "" {
			x.Attempts = append(x.Attempts, Attempt{At: now, Trigger: "scheduled", Error: why})
		}
		x.Status, x.NextAttemptAt, x.UpdatedAt = status, next, now
		return nil
	})
}

// jitter lengthens d by up to 10%.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d + rand.N(d/10+1)
}

// load is this instance's traffic to one endpoint.
type load struct {
	inFlight int
	// waiting counts tasks this instance sent back to the queue because the
	// endpoint was busy, until their wait is over.
	waiting int
	// latency is the moving average of the endpoint's attempts.
	latency time.Duration
}

// maxBusyWait caps how long a task waits for a busy endpoint.
const maxBusyWait = 5 * time.Minute

// acquire takes one of the endpoint's PerEndpoint slots, or says how long
// the task should wait for one: BusyDelay, plus the time the tasks already
// waiting need at the endpoint's pace, so that a slow endpoint's backlog
// is spread out instead of cycling through the queue.
func (s *Service) acquire(endpointID string) (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ld := s.busy[endpointID]
	if ld == nil {
		ld = &load{latency: s.opts.BusyDelay}
		s.busy[endpointID] = ld
	}
	if ld.inFlight < s.opts.PerEndpoint {
		ld.inFlight++
		return 0, true
	}
	wait := min(s.opts.BusyDelay+time.Duration(ld.waiting)*ld.latency/time.Duration(s.opts.PerEndpoint), maxBusyWait)
	wait = jitter(wait)
	ld.waiting++
	time.AfterFunc(wait, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		ld.waiting--
		s.forget(endpointID, ld)
	})
	return wait, false
}

// release frees a slot and folds the attempt's latency into the average.
func (s *Service) release(endpointID string, latency time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ld := s.busy[endpointID]
	ld.inFlight--
	ld.latency = (4*ld.latency + latency) / 5
	s.forget(endpointID, ld)
}

// forget drops an idle endpoint's load (its latency is learnt again).
func (s *Service) forget(endpointID string, ld *load) {
	if ld.inFlight <= 0 && ld.waiting <= 0 && s.busy[endpointID] == ld {
		delete(s.busy, endpointID)
	}
}

// failed notes a failed attempt to ep: the start of a failing run, or, when
// the run has lasted DisableAfter, the end of the endpoint.
func (s *Service) failed(ctx context.Context, ep *Endpoint, now time.Time) {
	if ep.FailingSince.IsZero() {
		s.updateEndpoint(ctx, ep, func(e *Endpoint) bool {
			if !e.FailingSince.IsZero() {
				return false
			}
			e.FailingSince = now
			return true
		})
		return
	}
	if now.Sub(ep.FailingSince) >= s.opts.DisableAfter {
		s.disable(ctx, ep, "failing")
	}
}

var errUnchanged = errors.New("unchanged")

// updateEndpoint applies fn, which reports whether it changed anything,
// and logs a failure (the next attempt tries again).
func (s *Service) updateEndpoint(ctx context.Context, ep *Endpoint, fn func(*Endpoint) bool) bool {
	_, err := s.store.UpdateEndpoint(ctx, ep.Tenant, ep.ID, func(e *Endpoint) error {
		if !fn(e) {
			return errUnchanged
		}
		e.UpdatedAt = s.opts.Now().UTC()
		return nil
	})
	if err != nil && !errors.Is(err, errUnchanged) && bank.Code(err) != bank.NotFound {
		s.opts.Logger.Error("webhook endpoint update failed", "endpoint_id", ep.ID, "err", err)
	}
	return err == nil
}

// disable disables ep for reason ("gone", "failing") and raises
// webhook_endpoint.disabled, once.
func (s *Service) disable(ctx context.Context, ep *Endpoint, reason string) {
	if !s.updateEndpoint(ctx, ep, func(e *Endpoint) bool {
		if !e.Enabled {
			return false
		}
		e.Enabled, e.DisabledReason = false, reason
		return true
	}) {
		return
	}
	s.opts.Logger.Warn("webhook endpoint disabled", "endpoint_id", ep.ID, "tenant", ep.Tenant, "reason", reason)
	s.raise(ctx, ep.Tenant, bank.EventEndpointDisabled, bank.EventData{
		WebhookEndpoint: &bank.EndpointRef{ID: ep.ID, URL: ep.URL, Reason: reason}})
}

// hopHeaders are headers a delivery never takes from customHeaders: the
// signature's, and those the HTTP client owns.
var hopHeaders = []string{"Host", "Content-Length", "Content-Type", "Transfer-Encoding", "Connection", "Keep-Alive",
	"Te", "Trailer", "Upgrade", "Proxy-Authorization", "Proxy-Connection", "User-Agent"}

func ownHeader(k string) bool {
	k = http.CanonicalHeaderKey(k)
	return strings.HasPrefix(k, "Webhook-") || slices.Contains(hopHeaders, k)
}

// attempt sends d to ep once.
func (s *Service) attempt(ctx context.Context, ep *Endpoint, d *Delivery) (Attempt, outcome) {
	trigger := "scheduled"
	if d.Manual {
		trigger = "manual"
	}
	ctx, span := s.tel.startAttempt(ctx, ep, d, trigger)
	start := time.Now()
	att := Attempt{At: s.opts.Now().UTC(), Trigger: trigger}
	oc := s.send(ctx, ep, d, &att)
	att.Latency = time.Since(start)
	s.tel.endAttempt(ctx, span, ep, &att, oc)
	return att, oc
}

// send posts the delivery and fills in what came of it.
func (s *Service) send(ctx context.Context, ep *Endpoint, d *Delivery, att *Attempt) outcome {
	u, err := url.Parse(ep.URL)
	if err != nil {
		att.Error = "the endpoint URL does not parse"
		return outcomeRefused
	}
	ts := s.opts.Now()
	sig, err := Sign(d.EventID, ts, d.Body, ep.signingSecrets(ts)...)
	if err != nil {
		att.Error = "signing failed"
		return outcomeRefused
	}
	req, err := http.NewRequestWithContext(withPlain(ctx, u.Scheme == "http"), http.MethodPost, ep.URL, bytes.NewReader(d.Body))
	if err != nil {
		att.Error = "the request could not be made"
		return outcomeRefused
	}
	for k, v := range d.Headers {
		if !ownHeader(k) {
			req.Header.Set(k, v)
		}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "vagate-webhooks/1")
	req.Header.Set("webhook-id", d.EventID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		var re *RefusedError
		var ne net.Error
		switch {
		case errors.As(err, &re):
			att.Error = re.Error()
			return outcomeRefused
		case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
			att.Error = fmt.Sprintf("no answer within %s", s.opts.AttemptTimeout)
			return outcomeTimeout
		}
		att.Error = err.Error()
		return outcomeNetwork
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseRead))
	resp.Body.Close()
	att.StatusCode = resp.StatusCode
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return outcomeSuccess // even if its body was cut short: the status says the event arrived
	case resp.StatusCode == http.StatusGone:
		att.Error = "410 Gone: the endpoint asked not to be sent events any more"
		return outcomeGone
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		att.Error = fmt.Sprintf("HTTP %d: redirects are not followed; register the final URL", resp.StatusCode)
		return outcomeHTTPError
	}
	att.Error = fmt.Sprintf("HTTP %d", resp.StatusCode)
	return outcomeHTTPError
}
