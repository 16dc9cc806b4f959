package webhooks

import (
	"context"
	"github.com/vagate/vagate/core/bank"
	"maps"
	"slices"
	"time"
)

// Endpoint is a tenant's subscription to unified events.
type Endpoint struct {
	ID     string
	Tenant string
	URL    string
	// Events are the event types delivered; empty means every type.
	Events      []bank.EventType
	Description string
	// Enabled endpoints receive events. The gateway disables an endpoint
	// that answers 410 Gone or fails for too long, saying why in
	// DisabledReason ("gone", "failing"); a tenant may disable one too.
	Enabled        bool
	DisabledReason string
	// Secret signs deliveries. After a rotation PreviousSecret signs them
	// too, until PreviousSecretExpiresAt.
	Secret                  Secret
	PreviousSecret          Secret
	PreviousSecretExpiresAt time.Time
	// FailingSince is when the current run of failed attempts began (zero
	// after a success).
	FailingSince time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Clone returns a deep copy.
func (e *Endpoint) Clone() *Endpoint {
	c := *e
	c.Events = slices.Clone(e.Events)
	return &c
}

// Subscribes reports whether the endpoint takes events of type t.
func (e *Endpoint) Subscribes(t bank.EventType) bool {
	return len(e.Events) == 0 || slices.Contains(e.Events, t)
}

// signingSecrets are the secrets that sign a message at now.
func (e *Endpoint) signingSecrets(now time.Time) []Secret {
	s := []Secret{e.Secret}
	if e.PreviousSecret != "" && now.Before(e.PreviousSecretExpiresAt) {
		s = append(s, e.PreviousSecret)
	}
	return s
}

// DeliveryStatus is where a delivery stands.
type DeliveryStatus string

// Delivery statuses.
const (
	// DeliveryPending: an attempt is due or scheduled.
	DeliveryPending DeliveryStatus = "pending"
	// DeliverySucceeded: the endpoint answered 2xx.
	DeliverySucceeded DeliveryStatus = "succeeded"
	// DeliveryFailed: the schedule is exhausted, or the endpoint is
	// disabled or gone; a manual redelivery may try again.
	DeliveryFailed DeliveryStatus = "failed"
)

// Attempt is one try at a delivery.
type Attempt struct {
	At time.Time `json:"at"`
	// Trigger is "scheduled" (the first attempt and its retries) or
	// "manual" (a redelivery asked for through the API).
	Trigger string `json:"trigger"`
	// StatusCode is the endpoint's HTTP status (0 when none came).
	StatusCode int `json:"statusCode,omitempty"`
	// Latency is how long the attempt took.
	Latency time.Duration `json:"latency"`
	// Error says why an attempt failed ("" on success).
	Error string `json:"error,omitempty"`
}

// MaxAttemptsKept bounds the attempts a delivery keeps (the latest).
const MaxAttemptsKept = 30

// Delivery is one event sent to one endpoint: its body, fixed when it was
// created, and every attempt.
type Delivery struct {
	Tenant     string
	EndpointID string
	EventID    string
	EventType  bank.EventType
	// Body is the JSON sent, the same on every attempt.
	Body []byte
	// Headers are extra HTTP headers (a job's customHeaders on its
	// callback delivery).
	Headers map[string]string
	Status  DeliveryStatus
	// Seq names the queued task that may attempt the delivery: a manual
	// redelivery increments it, so a retry still scheduled from before
	// finds itself stale.
	Seq int
	// Queued is set once the delivery's task is on the queue.
	Queued bool
	// Tries counts the attempts of the current schedule.
	Tries int
	// Manual marks the next attempt as asked for through the API.
	Manual        bool
	NextAttemptAt time.Time
	Attempts      []Attempt
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Clone returns a deep copy.
func (d *Delivery) Clone() *Delivery {
	c := *d
	c.Body = slices.Clone(d.Body)
	c.Headers = maps.Clone(d.Headers)
	c.Attempts = slices.Clone(d.Attempts)
	return &c
}

// Store keeps endpoints, the events waiting to be fanned out to them, and
// deliveries, scoped by tenant. Every implementation passes the contract
// suite in core/webhooks/webhookstest.
type Store interface {
	// CreateEndpoint stores a new endpoint, unless its tenant has max
	// endpoints already (a FailedPrecondition error).
	CreateEndpoint(ctx context.Context, e *Endpoint, max int) error
	// GetEndpoint returns the tenant's endpoint or a NotFound error.
	GetEndpoint(ctx context.Context, tenant, id string) (*Endpoint, error)
	// ListEndpoints returns the tenant's endpoints, oldest first.
	ListEndpoints(ctx context.Context, tenant string) ([]*Endpoint, error)
	// UpdateEndpoint applies fn atomically to the stored endpoint and saves
	// it; an error from fn is returned as is and nothing is saved.
	UpdateEndpoint(ctx context.Context, tenant, id string, fn func(*Endpoint) error) (*Endpoint, error)
	// DeleteEndpoint removes the endpoint (NotFound if there is none).
	DeleteEndpoint(ctx context.Context, tenant, id string) error

	// PutEvent keeps an event to be fanned out, for the retention period.
	PutEvent(ctx context.Context, e *bank.Event) error
	// GetEvent returns a kept event or a NotFound error.
	GetEvent(ctx context.Context, tenant, id string) (*bank.Event, error)

	// CreateDelivery stores d unless a delivery of the same event to the
	// same endpoint exists; it returns the stored one and whether it is d.
	CreateDelivery(ctx context.Context, d *Delivery) (*Delivery, bool, error)
	// GetDelivery returns a delivery or a NotFound error.
	GetDelivery(ctx context.Context, tenant, endpointID, eventID string) (*Delivery, error)
	// UpdateDelivery applies fn atomically to the stored delivery and saves
	// it; an error from fn is returned as is and nothing is saved.
	UpdateDelivery(ctx context.Context, tenant, endpointID, eventID string, fn func(*Delivery) error) (*Delivery, error)
	// ListDeliveries returns up to limit of the endpoint's deliveries,
	// newest first, after cursor, and the cursor of the next page ("" at
	// the end).
	ListDeliveries(ctx context.Context, tenant, endpointID, cursor string, limit int) ([]*Delivery, string, error)
	// Backlog counts the pending deliveries of every tenant and gives the
	// creation time of the oldest (zero when there is none).
	Backlog(ctx context.Context) (n int64, oldest time.Time, err error)
}
