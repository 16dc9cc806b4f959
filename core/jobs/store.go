package jobs

import (
	"context"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/provider"
)

// ItemRecord is one item of a job: what was asked and what became of it.
type ItemRecord struct {
	Provider string              `json:"provider"`
	Request  provider.CreateItem `json:"request"`
	Result   bank.ItemResult     `json:"result"`
	// Chunk is the item's provider call within the job; items of one chunk
	// share one provider idempotency key.
	Chunk int `json:"chunk"`
	// Operation is the provider handle of a submitted asynchronous create.
	Operation string `json:"operation,omitempty"`
	// Sent is set before a create is first sent, so an interrupted job knows
	// the provider may hold the item: it looks it up before resending (no
	// idempotency key), or resends with the same key and settles it only on
	// an answer that is evidence.
	Sent bool `json:"sent,omitempty"`
	// Checks counts the times the item's outcome was found unknown; the job
	// checks it again until it is settled or Checks reaches the engine's cap.
	Checks int `json:"checks,omitempty"`
	// Fallbacks are the providers the item may still fail over to, in
	// order; the first is taken, and dropped from the list, when the item
	// fails over (see Engine).
	Fallbacks []string `json:"fallbacks,omitempty"`
}

// Header is a job without its items.
type Header struct {
	// Job carries the job's status and counts. The counts (Succeeded,
	// Failed, Cancelled, Unknown) are kept by the store from its items'
	// outcomes; what a header update writes to them is ignored.
	Job           bank.Job          `json:"job"`
	CallbackURL   string            `json:"callbackUrl,omitempty"`
	CustomHeaders map[string]string `json:"customHeaders,omitempty"`
	// CancelRequested is set once a cancel was asked for.
	CancelRequested bool `json:"cancelRequested,omitempty"`
	// Queued is set once the job is on the queue.
	Queued      bool   `json:"queued,omitempty"`
	TraceParent string `json:"traceParent,omitempty"`
}

// Record is a job with its items.
type Record struct {
	Header
	Items []ItemRecord `json:"items"`
}

// Store keeps jobs, scoped by tenant: a small header per job and its items
// one by one, so that recording the outcome of one item costs the same
// however large its job is. Every implementation passes the contract suite
// in core/store/storetest.
type Store interface {
	// Create stores a new job with its items; the counts of its header are
	// derived from the items' outcomes. An existing id is an AlreadyExists
	// error.
	Create(ctx context.Context, rec *Record) error
	// Get returns the tenant's job with every item, or a NotFound error.
	Get(ctx context.Context, tenant, id string) (*Record, error)
	// Header returns the tenant's job without its items, or a NotFound error.
	Header(ctx context.Context, tenant, id string) (*Header, error)
	// UpdateHeader applies fn atomically to the stored header and saves it.
	// An error from fn is returned as is and nothing is saved.
	UpdateHeader(ctx context.Context, tenant, id string, fn func(*Header) error) (*Header, error)
	// Items returns the job's items at the indexes idx, in that order; an
	// index out of range is an InvalidArgument error.
	Items(ctx context.Context, tenant, id string, idx []int) ([]ItemRecord, error)
	// UpdateItems applies fn to each item at idx and saves them all in one
	// atomic write, keeping the header's counts in step with the items'
	// outcomes. An error from fn is returned as is and nothing is saved.
	// It returns the items as saved.
	UpdateItems(ctx context.Context, tenant, id string, idx []int, fn func(*ItemRecord) error) ([]ItemRecord, error)
}

// Count adds d to the count of j that outcome o belongs to (none for a
// pending item). Stores use it to keep a header's counts.
func Count(j *bank.Job, o bank.Outcome, d int) {
	switch o {
	case bank.OutcomeCreated:
		j.Succeeded += d
	case bank.OutcomeFailed:
		j.Failed += d
	case bank.OutcomeCancelled:
		j.Cancelled += d
	case bank.OutcomeUnknown:
		j.Unknown += d
	}
}

// Settled is the number of items of j with an outcome other than pending.
func Settled(j *bank.Job) int { return j.Succeeded + j.Failed + j.Cancelled + j.Unknown }
