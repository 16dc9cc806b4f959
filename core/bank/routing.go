package bank

import "slices"

// RoutedBy says how the gateway chose the provider of a create item.
type RoutedBy string

// The ways an item's provider is chosen.
const (
	// RoutedByRequest: the item named its provider; it never fails over.
	RoutedByRequest RoutedBy = "request"
	// RoutedByRule: a routing rule chose it.
	RoutedByRule RoutedBy = "rule"
	// RoutedByDefault: no rule matched; the first provider (by name) that
	// serves the item's currency and needs.
	RoutedByDefault RoutedBy = "default"
	// RoutedByFallback: a fallback of the rule, after the providers before
	// it could not create the item (see FailoverReason).
	RoutedByFallback RoutedBy = "fallback"
)

// FailoverReason says why an item left a provider for the next fallback.
// Each is evidence that the provider it left created nothing.
type FailoverReason string

// Failover reasons.
const (
	// FailoverBreakerOpen: the provider's circuit breaker was open, so the
	// item was never sent to it.
	FailoverBreakerOpen FailoverReason = "breaker_open"
	// FailoverUnavailable: the provider answered that it is unavailable,
	// after every retry the resend policy allows.
	FailoverUnavailable FailoverReason = "unavailable"
	// FailoverResourceExhausted: the provider (or the gateway's rate limit
	// for it) refused for too many requests, after every retry.
	FailoverResourceExhausted FailoverReason = "resource_exhausted"
	// FailoverNotCreated: an attempt's outcome was unknown, and a lookup
	// afterwards proved that the provider holds no account for the item.
	FailoverNotCreated FailoverReason = "not_created"
)

// Routing records which provider serves an item (and its account) and why.
type Routing struct {
	RoutedBy RoutedBy `json:"routedBy"`
	// Reason says why the item left the last provider it failed over from
	// (RoutedByFallback only).
	Reason FailoverReason `json:"reason,omitempty"`
	// FailedOver lists the providers the item left, in order (RoutedByFallback only).
	FailedOver []string `json:"failedOver,omitempty"`
}

// Clone returns a deep copy of r.
func (r *Routing) Clone() *Routing {
	if r == nil {
		return nil
	}
	c := *r
	c.FailedOver = slices.Clone(r.FailedOver)
	return &c
}
