package gateway

import (
	"errors"
	"sync"
	"time"

	"github.com/vagate/vagate/core/bank"
)

// healthWindow is how many recent calls the error rate covers.
const healthWindow = 100

// Health summarises a provider's recent calls.
type Health struct {
	// RecentRequests is the number of calls in the window.
	RecentRequests int
	// RecentErrorRate is the share of those that failed on the provider's side.
	RecentErrorRate float64
	// InFlight is the number of calls in progress.
	InFlight int
	// LastErrorAt is when the last provider-side failure happened.
	LastErrorAt *time.Time
	// LastError describes it (no secrets: adapter errors never carry them).
	LastError string
}

type health struct {
	mu       sync.Mutex
	ring     [healthWindow]bool // true = failed
	n, next  int
	inFlight int
	lastAt   time.Time
	lastErr  string
}

// providerSide reports whether a code counts against the provider's health:
// refusals of a bad request are the caller's doing, not the provider's.
func providerSide(c bank.ErrorCode) bool {
	switch c {
	case bank.OK, bank.InvalidArgument, bank.NotFound, bank.AlreadyExists, bank.FailedPrecondition,
		bank.Canceled, bank.Unimplemented:
		return false
	}
	return true
}

// track counts a call in flight; the returned func records its outcome.
func (p *Provider) track() func(err error) {
	h := &p.health
	h.mu.Lock()
	h.inFlight++
	h.mu.Unlock()
	return func(err error) {
		// A call the gateway itself refused (an open breaker, the rate
		// limiter) reached no provider: the provider's last real failure
		// stays the one shown.
		refused := errors.Is(err, ErrFailFast) || errors.Is(err, ErrRateLimited)
		failed := err != nil && !refused && providerSide(bank.Code(err))
		var msg string
		if failed {
			msg = err.Error() // outside the lock: it calls into the error
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		h.inFlight--
		if refused {
			return
		}
		h.ring[h.next] = failed
		h.next = (h.next + 1) % healthWindow
		if h.n < healthWindow {
			h.n++
		}
		if failed {
			h.lastAt = time.Now().UTC()
			h.lastErr = msg
		}
	}
}

// Health returns the provider's recent call statistics.
func (p *Provider) Health() Health {
	h := &p.health
	h.mu.Lock()
	defer h.mu.Unlock()
	out := Health{RecentRequests: h.n, InFlight: h.inFlight, LastError: h.lastErr}
	failed := 0
	for i := 0; i < h.n; i++ {
		if h.ring[i] {
			failed++
		}
	}
	if h.n > 0 {
		out.RecentErrorRate = float64(failed) / float64(h.n)
	}
	if !h.lastAt.IsZero() {
		t := h.lastAt
		out.LastErrorAt = &t
	}
	return out
}

// BreakerState is the provider's circuit breaker state: closed, half-open or
// open. A provider without a resilient client has no breaker: closed.
func (p *Provider) BreakerState() string {
	if p.opts.Client == nil {
		return "closed"
	}
	return p.opts.Client.Breaker().State
}

// Breaker reports the breaker in detail, if the provider has one.
func (p *Provider) Breaker() (BreakerStatus, bool) {
	if p.opts.Client == nil {
		return BreakerStatus{}, false
	}
	return p.opts.Client.Breaker(), true
}
