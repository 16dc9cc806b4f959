package webhooks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/store"
)

// DefaultSchedule is the wait before each retry of a failed delivery: an
// attempt at once, then after 5s, 5m, 30m, 2h, 5h, 10h and 10h (eight
// attempts over about 28 hours), each wait lengthened by up to 10% jitter.
var DefaultSchedule = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute,
	2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// Defaults of Options.
const (
	DefaultWorkers         = 32
	DefaultPerEndpoint     = 4
	DefaultAttemptTimeout  = 10 * time.Second
	DefaultDisableAfter    = 5 * 24 * time.Hour
	DefaultMaxEndpoints    = 50
	DefaultRotationOverlap = 24 * time.Hour
	// MaxRotationOverlap bounds how long a rotated-out secret keeps signing.
	MaxRotationOverlap = 7 * 24 * time.Hour
)

// Options tune a Service; zero values are defaults.
type Options struct {
	// Workers bounds the attempts one instance makes at once (default 32).
	Workers int
	// PerEndpoint bounds the attempts one instance makes at once to one
	// endpoint (default 4), so a slow endpoint holds at most that many
	// workers; a delivery finding its endpoint busy goes back to the queue
	// for BusyDelay plus the time the deliveries already waiting for it
	// need at its recent pace (at most 5 minutes).
	PerEndpoint int
	// BusyDelay is the least a delivery waits when its endpoint is busy
	// (default 250ms).
	BusyDelay time.Duration
	// AttemptTimeout bounds one attempt, connection to last byte read
	// (default 10s).
	AttemptTimeout time.Duration
	// Schedule is the wait before each retry (default DefaultSchedule).
	Schedule []time.Duration
	// DisableAfter disables an endpoint every attempt to which has failed
	// for this long (default 5 days).
	DisableAfter time.Duration
	// MaxEndpoints bounds a tenant's endpoints (default 50).
	MaxEndpoints int
	// DrainTimeout is how long Run lets attempts in progress go on after
	// its context ends (default 5s); attempts interrupted then are handed
	// back to the queue unrecorded.
	DrainTimeout time.Duration
	// StoreBackoff is how long a task waits after a store error (default 1s).
	StoreBackoff time.Duration
	// Guard checks endpoint URLs and every connection (default: a guard
	// without allowlist).
	Guard *Guard
	// JobCallback returns the callbackUrl and customHeaders a job was
	// created with, so that its job.completed event goes to the endpoint
	// with that URL (nil: callbacks are not looked up).
	JobCallback func(ctx context.Context, tenant, jobID string) (url string, headers map[string]string, err error)
	Logger      *slog.Logger
	// Tracer and Meter record a span per attempt and delivery metrics.
	Tracer trace.TracerProvider
	Meter  metric.MeterProvider
	Now    func() time.Time
}

// Service owns webhook endpoints and delivers events to them.
type Service struct {
	store  Store
	queue  store.Queue
	log    store.Events
	opts   Options
	client *http.Client

	mu   sync.Mutex
	busy map[string]*load // traffic per endpoint

	tel *telemetry
}

// New returns a service keeping endpoints and deliveries in s, tasks on q
// (a queue of its own, not the jobs'), and recording the events it raises
// (webhook_endpoint.disabled) in log. Call Run to deliver.
func New(s Store, q store.Queue, log store.Events, opts *Options) *Service {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	if o.PerEndpoint <= 0 {
		o.PerEndpoint = DefaultPerEndpoint
	}
	if o.BusyDelay <= 0 {
		o.BusyDelay = 250 * time.Millisecond
	}
	if o.AttemptTimeout <= 0 {
		o.AttemptTimeout = DefaultAttemptTimeout
	}
	if o.Schedule == nil {
		o.Schedule = DefaultSchedule
	}
	if o.DisableAfter <= 0 {
		o.DisableAfter = DefaultDisableAfter
	}
	if o.MaxEndpoints <= 0 {
		o.MaxEndpoints = DefaultMaxEndpoints
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 5 * time.Second
	}
	if o.StoreBackoff <= 0 {
		o.StoreBackoff = time.Second
	}
	if o.Guard == nil {
		o.Guard = NewGuard(GuardOptions{})
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Tracer == nil {
		o.Tracer = tracenoop.NewTracerProvider()
	}
	if o.Meter == nil {
		o.Meter = metricnoop.NewMeterProvider()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s2 := &Service{store: s, queue: q, log: log, opts: o, client: o.Guard.Client(o.AttemptTimeout), busy: map[string]*load{}}
	s2.tel = newTelemetry(s2)
	return s2
}

// EndpointInput is a new endpoint.
type EndpointInput struct {
	URL string
	// Events are the event types to deliver; empty means every type.
	Events      []bank.EventType
	Description string
	// Disabled creates the endpoint disabled.
	Disabled bool
}

// EndpointPatch changes an endpoint; nil fields stay as they are.
type EndpointPatch struct {
	URL *string
	// Events replaces the event types; an empty list means every type.
	Events      *[]bank.EventType
	Description *string
	// Enabled enables (clearing the reason the gateway disabled it) or
	// disables the endpoint.
	Enabled *bool
}

func invalidField(pointer, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return &bank.Error{Code: bank.InvalidArgument, Err: errors.New(pointer + " " + msg),
		Fields: []bank.FieldError{{Pointer: pointer, Message: msg}}}
}

// checkURL checks an endpoint URL with the guard, as an InvalidArgument
// error naming /url.
func (s *Service) checkURL(ctx context.Context, u string) error {
	if n := utf8.RuneCountInString(u); n > MaxURLLen {
		return invalidField("/url", "must be at most %d characters (has %d)", MaxURLLen, n)
	}
	err := s.opts.Guard.CheckURL(ctx, u)
	var re *RefusedError
	var de *ResolveError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &re) && re.Addr.IsValid():
		return invalidField("/url", "resolves to %s, which webhooks may not reach: %s", re.Addr, re.Reason)
	case errors.As(err, &re):
		return invalidField("/url", "is refused: %s", re.Reason)
	case errors.As(err, &de):
		return invalidField("/url", "has a host that does not resolve (%s)", de.Host)
	}
	return err
}

func checkEvents(ts []bank.EventType) error {
	for i, t := range ts {
		if !t.Valid() {
			return invalidField(fmt.Sprintf("/events/%d", i), "must be a unified event type such as virtual_account.created")
		}
		if slices.Index(ts, t) != i {
			return invalidField(fmt.Sprintf("/events/%d", i), "is listed twice")
		}
	}
	return nil
}

// Limits of an endpoint's fields.
const (
	MaxURLLen         = 2048
	MaxDescriptionLen = 255
)

// checkDescription applies the description's rule.
func checkDescription(d string) error {
	if n := utf8.RuneCountInString(d); n > MaxDescriptionLen {
		return invalidField("/description", "must be at most %d characters (has %d)", MaxDescriptionLen, n)
	}
	return nil
}

// CreateEndpoint registers an endpoint for tenant with a new signing
// secret; the endpoint returned is the only one to show it.
func (s *Service) CreateEndpoint(ctx context.Context, tenant string, in *EndpointInput) (*Endpoint, error) {
	if err := checkEvents(in.Events); err != nil {
		return nil, err
	}
	if err := checkDescription(in.Description); err != nil {
		return nil, err
	}
	if err := s.checkURL(ctx, in.URL); err != nil {
		return nil, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	now := s.opts.Now().UTC()
	e := &Endpoint{ID: "we_" + strings.ReplaceAll(id.String(), "-", ""), Tenant: tenant, URL: in.URL, Events: slices.Clone(in.Events),
		Description: in.Description, Enabled: !in.Disabled, Secret: NewSecret(), CreatedAt: now, UpdatedAt: now}
	if err := s.store.CreateEndpoint(ctx, e, s.opts.MaxEndpoints); err != nil {
		return nil, err
	}
	return e, nil
}

// Endpoint returns one of the tenant's endpoints.
func (s *Service) Endpoint(ctx context.Context, tenant, id string) (*Endpoint, error) {
	return s.store.GetEndpoint(ctx, tenant, id)
}

// Endpoints lists the tenant's endpoints, oldest first.
func (s *Service) Endpoints(ctx context.Context, tenant string) ([]*Endpoint, error) {
	return s.store.ListEndpoints(ctx, tenant)
}

// EndpointByURL returns the tenant's oldest endpoint whose URL is u, or a
// NotFound error.
func (s *Service) EndpointByURL(ctx context.Context, tenant, u string) (*Endpoint, error) {
	eps, err := s.store.ListEndpoints(ctx, tenant)
	if err != nil {
		return nil, err
	}
	for _, e := range eps {
		if e.URL == u {
			return e, nil
		}
	}
	return nil, store.NotFound("webhook endpoint with url", u)
}

// UpdateEndpoint changes an endpoint.
func (s *Service) UpdateEndpoint(ctx context.Context, tenant, id string, p *EndpointPatch) (*Endpoint, error) {
	if p.Events != nil {
		if err := checkEvents(*p.Events); err != nil {
			return nil, err
		}
	}
	if p.URL != nil {
		if err := s.checkURL(ctx, *p.URL); err != nil {
			return nil, err
		}
	}
	if p.Description != nil {
		if err := checkDescription(*p.Description); err != nil {
			return nil, err
		}
	}
	now := s.opts.Now().UTC()
	return s.store.UpdateEndpoint(ctx, tenant, id, func(e *Endpoint) error {
		if p.URL != nil {
			e.URL = *p.URL
		}
		if p.Events != nil {
			e.Events = slices.Clone(*p.Events)
		}
		if p.Description != nil {
			e.Description = *p.Description
		}
		if p.Enabled != nil {
			e.Enabled = *p.Enabled
			e.DisabledReason = ""
			e.FailingSince = time.Time{}
		}
		e.UpdatedAt = now
		return nil
	})
}

// DeleteEndpoint removes an endpoint; its pending deliveries end failed
// when their turn comes.
func (s *Service) DeleteEndpoint(ctx context.Context, tenant, id string) error {
	return s.store.DeleteEndpoint(ctx, tenant, id)
}

// RotateSecret gives the endpoint a new signing secret; the old one keeps
// signing alongside it for overlap (0: not at all; at most
// MaxRotationOverlap). The endpoint returned is the only one to show the
// new secret.
func (s *Service) RotateSecret(ctx context.Context, tenant, id string, overlap time.Duration) (*Endpoint, error) {
	if overlap < 0 || overlap > MaxRotationOverlap {
		return nil, invalidField("/overlapSeconds", "must be from 0 to %d", int(MaxRotationOverlap/time.Second))
	}
	now := s.opts.Now().UTC()
	return s.store.UpdateEndpoint(ctx, tenant, id, func(e *Endpoint) error {
		e.PreviousSecret, e.PreviousSecretExpiresAt = "", time.Time{}
		if overlap > 0 {
			e.PreviousSecret, e.PreviousSecretExpiresAt = e.Secret, now.Add(overlap)
		}
		e.Secret = NewSecret()
		e.UpdatedAt = now
		return nil
	})
}

// Deliveries lists an endpoint's deliveries, newest first.
func (s *Service) Deliveries(ctx context.Context, tenant, endpointID, cursor string, limit int) ([]*Delivery, string, error) {
	if _, err := s.store.GetEndpoint(ctx, tenant, endpointID); err != nil {
		return nil, "", err
	}
	return s.store.ListDeliveries(ctx, tenant, endpointID, cursor, limit)
}

// Delivery returns the delivery of an event to an endpoint, with its attempts.
func (s *Service) Delivery(ctx context.Context, tenant, endpointID, eventID string) (*Delivery, error) {
	return s.store.GetDelivery(ctx, tenant, endpointID, eventID)
}

// Redeliver sends an event to an endpoint again, starting the retry
// schedule afresh: an event delivered before (whatever became of it), or
// any event of the tenant's recorded while it had an endpoint, within the
// retention period.
func (s *Service) Redeliver(ctx context.Context, tenant, endpointID, eventID string) (*Delivery, error) {
	if _, err := s.store.GetEndpoint(ctx, tenant, endpointID); err != nil {
		return nil, err
	}
	now := s.opts.Now().UTC()
	again := func(d *Delivery) error {
		d.Seq++
		d.Status, d.Tries, d.Manual, d.Queued, d.NextAttemptAt, d.UpdatedAt = DeliveryPending, 0, true, false, now, now
		return nil
	}
	d, err := s.store.UpdateDelivery(ctx, tenant, endpointID, eventID, again)
	if bank.Code(err) == bank.NotFound {
		ev, gerr := s.store.GetEvent(ctx, tenant, eventID)
		if bank.Code(gerr) == bank.NotFound {
			return nil, store.NotFound("event (delivered or kept for this endpoint)", eventID)
		}
		if gerr != nil {
			return nil, gerr
		}
		nd, nerr := newDelivery(ev, endpointID, nil, now)
		if nerr != nil {
			return nil, nerr
		}
		nd.Manual = true
		var created bool
		d, created, err = s.store.CreateDelivery(ctx, nd)
		if err == nil && !created { // made meanwhile: redeliver that one
			d, err = s.store.UpdateDelivery(ctx, tenant, endpointID, eventID, again)
		}
	}
	if err != nil {
		return nil, err
	}
	return s.enqueue(ctx, d)
}

// enqueue queues d's task and marks it queued.
func (s *Service) enqueue(ctx context.Context, d *Delivery) (*Delivery, error) {
	if err := s.queue.Enqueue(ctx, d.Tenant, deliveryTask(d.EndpointID, d.EventID, d.Seq)); err != nil {
		return nil, err
	}
	seq := d.Seq
	_, err := s.store.UpdateDelivery(ctx, d.Tenant, d.EndpointID, d.EventID, func(x *Delivery) error {
		if x.Seq == seq {
			x.Queued = true
		}
		return nil
	})
	if err != nil {
		// Queued all the same; a fan-out run again queues it once more,
		// and the second task finds the delivery settled or stale.
		s.opts.Logger.Warn("marking a delivery queued failed", "endpoint_id", d.EndpointID, "event_id", d.EventID, "err", err)
	}
	q := d.Clone() // as queued (a worker may have delivered it already)
	q.Queued = true
	return q, nil
}

// Log returns the event log with delivery attached: every event appended
// through it is handed to delivery once it is recorded.
func (s *Service) Log() store.Events { return &deliveringLog{s: s} }

type deliveringLog struct{ s *Service }

func (l *deliveringLog) AppendEvent(ctx context.Context, e *bank.Event) error {
	if err := l.s.log.AppendEvent(ctx, e); err != nil {
		return err
	}
	if err := l.s.Publish(ctx, e); err != nil {
		return fmt.Errorf("event %s recorded, but not handed to webhook delivery: %w", e.ID, err)
	}
	return nil
}

func (l *deliveringLog) ListEvents(ctx context.Context, tenant string, t bank.EventType, cursor string, limit int) ([]*bank.Event, string, error) {
	return l.s.log.ListEvents(ctx, tenant, t, cursor, limit)
}

// Publish hands a recorded event to delivery: when its tenant has an
// endpoint, the event is kept and a task to fan it out is queued. Once
// Publish returns, the event is delivered even if this instance dies.
func (s *Service) Publish(ctx context.Context, e *bank.Event) error {
	eps, err := s.store.ListEndpoints(ctx, e.Tenant)
	if err != nil || len(eps) == 0 {
		return err
	}
	if err := s.store.PutEvent(ctx, e); err != nil {
		return err
	}
	return s.queue.Enqueue(ctx, e.Tenant, fanoutTask(e.ID))
}

// raise records an event the service itself raises, and delivers it.
func (s *Service) raise(ctx context.Context, tenant string, t bank.EventType, d bank.EventData) {
	id, err := uuid.NewV7()
	if err != nil {
		id = uuid.New()
	}
	e := &bank.Event{ID: "evt_" + id.String(), Tenant: tenant, Type: t, CreatedAt: s.opts.Now().UTC(), Data: d}
	if err := s.Log().AppendEvent(ctx, e); err != nil {
		s.opts.Logger.Error("recording event failed", "type", string(t), "err", err)
	}
}

// Backlog counts the pending deliveries of every tenant and gives the
// creation time of the oldest (zero when none is pending).
func (s *Service) Backlog(ctx context.Context) (n int64, oldest time.Time, err error) {
	return s.store.Backlog(ctx)
}
