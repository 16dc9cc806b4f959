package bank

import (
	"encoding/json"
	"time"
)

// ProviderEventType says what an inbound provider callback reported.
type ProviderEventType string

// Provider event types.
const (
	// EventJobFinished: a provider-side batch job finished; fetch its results.
	EventJobFinished ProviderEventType = "job.finished"
	// EventAccountUpdated: an account's state changed at the provider.
	EventAccountUpdated ProviderEventType = "account.updated"
)

// ProviderEvent is one verified fact from an inbound provider callback.
type ProviderEvent struct {
	Type ProviderEventType `json:"type"`
	// ProviderJobID is set for job events.
	ProviderJobID string `json:"providerJobId,omitempty"`
	// ProviderJobStatus is the provider's raw job status, for job events.
	ProviderJobStatus string `json:"providerJobStatus,omitempty"`
	// ProviderAccountID is set for account events.
	ProviderAccountID string `json:"providerAccountId,omitempty"`
	// Account is the account state the event carries, if it carries one.
	Account *Account `json:"account,omitempty"`
	// Headers holds echoed custom headers, where the provider echoes them.
	Headers map[string]string `json:"headers,omitempty"`
	// At is when the provider says the event happened.
	At  time.Time       `json:"at"`
	Raw json.RawMessage `json:"-"`
}

// EventType names a unified event: an entry of a tenant's event log, as
// GET /v1/events lists it and webhooks deliver it.
type EventType string

// Unified event types.
const (
	EventAccountCreated       EventType = "virtual_account.created"
	EventAccountStatusUpdated EventType = "virtual_account.status_updated"
	EventAccountAllocated     EventType = "virtual_account.allocated"
	EventAccountClosed        EventType = "virtual_account.closed"
	EventJobCompleted         EventType = "job.completed"
	EventPoolLow              EventType = "pool.low"
	EventPoolReplenished      EventType = "pool.replenished"
	// EventEndpointDisabled: the gateway disabled a webhook endpoint (it
	// answered 410 Gone, or failed for too long).
	EventEndpointDisabled EventType = "webhook_endpoint.disabled"
	// EventAccountFailover: an account was created at a fallback provider
	// (its routing says which providers it left and why).
	EventAccountFailover EventType = "virtual_account.failover"
	// EventReconciliationDrift: reconciliation found the gateway's record
	// of an account and its provider's disagreeing.
	EventReconciliationDrift EventType = "reconciliation.drift"
	// EventOperatorAction: an operator acted through the console or the
	// ops CLI (cancelled a job, replenished a pool, redelivered an event,
	// forced a breaker, scripted a mock's faults).
	EventOperatorAction EventType = "operator.action"
)

// Valid reports whether t is a unified event type.
func (t EventType) Valid() bool {
	switch t {
	case EventAccountCreated, EventAccountStatusUpdated, EventAccountAllocated, EventAccountClosed, EventJobCompleted,
		EventPoolLow, EventPoolReplenished, EventEndpointDisabled, EventAccountFailover, EventReconciliationDrift,
		EventOperatorAction:
		return true
	}
	return false
}

// EventData is an event's subject.
type EventData struct {
	Account        *Account `json:"account,omitempty"`
	Job            *Job     `json:"job,omitempty"`
	PreviousStatus Status   `json:"previousStatus,omitempty"`
	// Pool is the pool a pool.* event is about, as it stood then.
	Pool *Pool `json:"pool,omitempty"`
	// WebhookEndpoint is the endpoint a webhook_endpoint.* event is about.
	WebhookEndpoint *EndpointRef `json:"webhookEndpoint,omitempty"`
	// Drift is the disagreement a reconciliation.drift event reports.
	Drift *Drift `json:"drift,omitempty"`
	// OperatorAction is what an operator did (an operator.action event).
	OperatorAction *OperatorAction `json:"operatorAction,omitempty"`
}

// OperatorAction records an operator's action.
type OperatorAction struct {
	Action   string `json:"action"`
	Target   string `json:"target"`
	Operator string `json:"operator"`
	Detail   string `json:"detail,omitempty"`
}

// EndpointRef names a webhook endpoint in an event, and why it changed.
type EndpointRef struct {
	ID  string `json:"id"`
	URL string `json:"url"`
	// Reason says why the gateway acted: "gone" (the endpoint answered 410)
	// or "failing" (every attempt failed for the configured time).
	Reason string `json:"reason,omitempty"`
}

// Event is one entry of a tenant's event log.
type Event struct {
	ID        string    `json:"id"`
	Tenant    string    `json:"-"`
	Type      EventType `json:"type"`
	CreatedAt time.Time `json:"createdAt"`
	Data      EventData `json:"data"`
}
