package bank

import "time"

// JobStatus is the lifecycle state of a batch job; the values follow the
// batch provider's enum exactly.
type JobStatus string

// Job statuses.
const (
	JobPending             JobStatus = "Pending"
	JobInProgress          JobStatus = "InProgress"
	JobCompleted           JobStatus = "Completed"
	JobCompletedWithErrors JobStatus = "CompletedWithErrors"
	JobCancelled           JobStatus = "Cancelled"
)

// Finished reports whether the job will not change any more.
func (s JobStatus) Finished() bool {
	return s == JobCompleted || s == JobCompletedWithErrors || s == JobCancelled
}

// Outcome is what became of one item of a job.
type Outcome string

// Item outcomes.
const (
	// OutcomePending: not yet sent to the provider.
	OutcomePending Outcome = "pending"
	// OutcomeSent: sent to the provider (or being sent), its answer not yet
	// in; it can no longer be cancelled. Job results show a pending item
	// marked sent this way; the job store keeps it pending.
	OutcomeSent Outcome = "sent"
	// OutcomeCreated: the provider created the account.
	OutcomeCreated Outcome = "created"
	// OutcomeFailed: the provider refused the item; nothing was created.
	OutcomeFailed Outcome = "failed"
	// OutcomeCancelled: cancelled before it was sent; nothing was created.
	OutcomeCancelled Outcome = "cancelled"
	// OutcomeUnknown: sent, but whether the provider acted is not yet known.
	OutcomeUnknown Outcome = "unknown"
)

// Final reports whether the outcome will not change any more.
func (o Outcome) Final() bool {
	return o == OutcomeCreated || o == OutcomeFailed || o == OutcomeCancelled
}

// ItemResult is the outcome of one item of a job.
type ItemResult struct {
	Index           int      `json:"index"`
	ClientReference string   `json:"clientReference,omitempty"`
	Provider        string   `json:"provider,omitempty"`
	Outcome         Outcome  `json:"outcome"`
	Account         *Account `json:"account,omitempty"`
	Error           *Problem `json:"error,omitempty"`
	// Routing says why Provider serves the item.
	Routing *Routing `json:"routing,omitempty"`
	// ProviderJobID is the provider's own job the item was created or
	// refused in, where the provider creates in jobs.
	ProviderJobID string `json:"providerJobId,omitempty"`
}

// Problem is a serialisable description of why an item failed.
type Problem struct {
	Code    ErrorCode `json:"code"`
	Message string    `json:"message"`
	// Fields names the request fields at fault, as JSON pointers into the
	// create request ("/items/3/providerParams/settlementAccountId").
	Fields []FieldError `json:"errors,omitempty"`
	// ProviderCode is the provider's own error code, where it gave one
	// (see ProviderCodeOf).
	ProviderCode string `json:"providerCode,omitempty"`
}

// ProviderCoder is implemented by errors that carry a provider's own
// error code (an HTTP answer's code, a refused item's code).
type ProviderCoder interface {
	ProviderErrorCode() string
}

// ProviderCodeOf returns the first provider error code in err's chain, or "".
func ProviderCodeOf(err error) string {
	for err != nil {
		if pc, ok := err.(ProviderCoder); ok && pc.ProviderErrorCode() != "" {
			return pc.ProviderErrorCode()
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if c := ProviderCodeOf(e); c != "" {
					return c
				}
			}
			return ""
		default:
			return ""
		}
	}
	return ""
}

// Job is a unified batch job.
type Job struct {
	ID          string     `json:"id"`
	Tenant      string     `json:"-"`
	Status      JobStatus  `json:"status"`
	Total       int        `json:"total"`
	Succeeded   int        `json:"succeeded"`
	Failed      int        `json:"failed"`
	Cancelled   int        `json:"cancelled"`
	Unknown     int        `json:"unknown"`
	CreatedAt   time.Time  `json:"createdAt"`
	UpdatedAt   time.Time  `json:"updatedAt"`
	CompletedAt *time.Time `json:"completedAt,omitempty"`
}
