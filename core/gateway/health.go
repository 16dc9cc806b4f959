package gateway

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

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
	// RecentLatency is the mean duration of those calls.
	RecentLatency time.Duration
	// InFlight is the number of calls in progress.
	InFlight int
	// LastErrorAt is when the last provider-side failure happened.
	LastErrorAt *time.Time
	// LastError describes it (no secrets: adapter errors never carry them).
	LastError string
	// LastErrorTraceID is the trace of that call, if it was traced.
	LastErrorTraceID string
}

type health struct {
	mu       sync.Mutex
	ring     [healthWindow]bool // true = failed
	lat      [healthWindow]time.Duration
	n, next  int
	inFlight int
	lastAt   time.Time
	lastErr  string
	// lastTrace is the trace of the call that failed last.
	lastTrace string
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
func (p *Provider) track(ctx context.Context) func(err error) {
	h := &p.health
	h.mu.Lock()
	h.inFlight++
	h.mu.Unlock()
	start := time.Now()
	return func(err error) {
		took := time.Since(start)
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
		h.lat[h.next] = took
		h.next = (h.next + 1) % healthWindow
		if h.n < healthWindow {
			h.n++
		}
		if failed {
			h.lastAt = time.Now().UTC()
			h.lastErr = msg
			h.lastTrace = ""
			if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
				h.lastTrace = sc.TraceID().String()
			}
		}
	}
}

// Health returns the provider's recent call statistics.
func (p *Provider) Health() Health {
	h := &p.health
	h.mu.Lock()
	defer h.mu.Unlock()
	out := Health{RecentRequests: h.n, InFlight: h.inFlight, LastError: h.lastErr, LastErrorTraceID: h.lastTrace}
	failed := 0
	var total time.Duration
	for i := 0; i < h.n; i++ {
		if h.ring[i] {
			failed++
		}
		total += h.lat[i]
	}
	if h.n > 0 {
		out.RecentLatency = total / time.Duration(h.n)
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
// open (also while an operator forces it open). A provider without a
// resilient client has no breaker: closed.
func (p *Provider) BreakerState() string {
	if on, _ := p.ForcedOpen(); on {
		return "open"
	}
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
