package httpapi

import (
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/provider"
	"github.com/vagate/vagate/openapi"
)

// providerView is one entry of GET /v1/providers.
type providerView struct {
	Name         string                `json:"name"`
	Style        string                `json:"style"`
	Currencies   []string              `json:"currencies"`
	MaxBatch     int                   `json:"maxBatch"`
	Capabilities []provider.Capability `json:"capabilities"`
	Limits       provider.Limits       `json:"limits"`
	Health       healthView            `json:"health"`
}

type healthView struct {
	BreakerState    string     `json:"breakerState"`
	BreakerSince    *time.Time `json:"breakerSince,omitempty"`
	RecentErrorRate float64    `json:"recentErrorRate"`
	RecentRequests  int        `json:"recentRequests"`
	RecentFailures  int        `json:"recentFailures"`
	Retries         int64      `json:"retries"`
	InFlight        int        `json:"inFlight"`
	LastErrorAt     *time.Time `json:"lastErrorAt,omitempty"`
	LastError       string     `json:"lastError,omitempty"`
}

// ListProviders lists the providers, their capabilities and recent health.
func (s *Server) ListProviders(c *gin.Context) {
	out := []providerView{}
	for _, p := range s.d.Registry.All() {
		caps := p.Capabilities()
		h := p.Health()
		hv := healthView{BreakerState: p.BreakerState(), RecentErrorRate: h.RecentErrorRate,
			RecentRequests: h.RecentRequests, InFlight: h.InFlight, LastErrorAt: h.LastErrorAt, LastError: h.LastError}
		hv.RecentFailures = int(h.RecentErrorRate*float64(h.RecentRequests) + 0.5)
		if b, ok := p.Breaker(); ok {
			since := b.Since.UTC()
			hv.BreakerSince, hv.Retries = &since, b.Retries
			hv.RecentRequests, hv.RecentFailures = int(b.Requests), int(b.Failures)
			hv.RecentErrorRate = 0
			if b.Requests > 0 {
				hv.RecentErrorRate = float64(b.Failures) / float64(b.Requests)
			}
		}
		out = append(out, providerView{Name: p.Name(), Style: caps.Style, Currencies: caps.Currencies, MaxBatch: caps.MaxBatch,
			Capabilities: p.Supported(), Limits: caps.Limits, Health: hv})
	}
	c.JSON(http.StatusOK, gin.H{"items": out})
}

// ReceiveProviderWebhook verifies an inbound provider callback before
// believing anything in it; an unverifiable one is 401 and changes nothing.
func (s *Server) ReceiveProviderWebhook(c *gin.Context, name openapi.ProviderName) {
	p, ok := s.d.Registry.Get(name)
	if !ok {
		WriteProblem(c, NewProblem(http.StatusNotFound, CodeNotFound, fmt.Sprintf("no provider %q", name)))
		return
	}
	body, ok := readRequestBody(c) // limited to MaxWebhookBodyBytes
	if !ok {
		return
	}
	events, err := p.VerifyWebhook(c.Request, body)
	if err != nil {
		s.d.Logger.Warn("provider callback refused", "provider", name, "code", bank.Code(err).String(), "trace_id", TraceID(c))
		fail(c, err)
		return
	}
	for _, ev := range events {
		// An event for an account this gateway does not hold (not created
		// through it, or not recorded yet) changes nothing; a store that
		// fails is an error, so that the provider delivers again.
		if _, err := s.d.Accounts.ApplyEvent(c.Request.Context(), name, &ev); err != nil && bank.Code(err) != bank.NotFound {
			fail(c, err)
			return
		}
	}
	c.Status(http.StatusNoContent)
}
