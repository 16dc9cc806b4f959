package gateway

import (
	"fmt"
	"sync"
	"time"

	"github.com/vagate/vagate/core/bank"
)

// forced is an operator's override of a provider's breaker: while set,
// every call fails fast as if the breaker were open.
type forced struct {
	mu    sync.Mutex
	on    bool
	since time.Time
}

// ForceOpen makes every call to the provider fail fast, as an open
// breaker does, until ResetBreaker.
func (p *Provider) ForceOpen() {
	p.forced.mu.Lock()
	defer p.forced.mu.Unlock()
	if !p.forced.on {
		p.forced.on, p.forced.since = true, time.Now().UTC()
	}
}

// ResetBreaker lifts a forced open; the breaker's own state then follows
// the calls' outcomes again.
func (p *Provider) ResetBreaker() {
	p.forced.mu.Lock()
	defer p.forced.mu.Unlock()
	p.forced.on, p.forced.since = false, time.Time{}
}

// ForcedOpen reports whether an operator forced the breaker open, and since when.
func (p *Provider) ForcedOpen() (bool, time.Time) {
	p.forced.mu.Lock()
	defer p.forced.mu.Unlock()
	return p.forced.on, p.forced.since
}

// forcedOpen is the fail-fast error of a call while the breaker is forced open.
func (p *Provider) forcedOpen(op string) error {
	if on, _ := p.ForcedOpen(); !on {
		return nil
	}
	return &bank.Error{Code: bank.Unavailable, Provider: p.name, Op: op, RetryAfter: 10 * time.Second,
		Err: fmt.Errorf("circuit breaker for provider %q is forced open by an operator: %w", p.name, ErrFailFast)}
}
