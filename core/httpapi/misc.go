package httpapi

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/provider"
	"github.com/vagate/vagate/core/store"
	"github.com/vagate/vagate/openapi"
)

// providerView is one entry of GET /v1/providers.
type providerView struct {
	Name         string                `json:"name"`
	Style        string                `json:"style"`
	Currencies   []string              `json:"currencies"`
	Capabilities provider.Capabilities `json:"capabilities"`
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
		out = append(out, providerView{Name: p.Name(), Style: caps.Style, Currencies: caps.Currencies, Capabilities: caps, Health: hv})
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

// Healthz answers while the process serves requests.
func (s *Server) Healthz(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) }

// Readyz answers 200 when the state store is reachable. It is public, so
// the reason it is not stays in the log: errors name addresses.
func (s *Server) Readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	if err := s.d.Ready(ctx); err != nil {
		s.d.Logger.WarnContext(ctx, "not ready: the state store is not reachable", "err", err, "trace_id", TraceID(c))
		p := NewProblem(http.StatusServiceUnavailable, CodeStoreUnavailable, "the gateway's state store is not reachable")
		p.RetryAfter = defaultUnavailableRetryWait
		WriteProblem(c, p)
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ok", "checks": gin.H{"store": "ok"}})
}

// GetOpenAPI serves the OpenAPI document.
func (s *Server) GetOpenAPI(c *gin.Context) {
	c.Data(http.StatusOK, "application/yaml", openapi.Spec())
}

// Metrics serves the Prometheus metrics, to holders of the metrics token
// when one is configured.
func (s *Server) Metrics(c *gin.Context) {
	if s.opts.MetricsToken != "" {
		scheme, tok, _ := strings.Cut(c.GetHeader("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(s.opts.MetricsToken)) != 1 {
			unauthenticated(c, tok != "", "GET /metrics needs the metrics token as a bearer token")
			return
		}
	}
	if s.d.Metrics == nil {
		notImplemented(c, "Prometheus metrics")
		return
	}
	s.d.Metrics.ServeHTTP(c.Writer, c.Request)
}

// GetPool is not built yet.
func (s *Server) GetPool(c *gin.Context) { notImplemented(c, "the unallocated pool") }

// ClaimFromPool is not built yet.
func (s *Server) ClaimFromPool(c *gin.Context, _ openapi.ClaimFromPoolParams) {
	notImplemented(c, "the unallocated pool")
}

// ReplenishPool is not built yet.
func (s *Server) ReplenishPool(c *gin.Context, _ openapi.ReplenishPoolParams) {
	notImplemented(c, "the unallocated pool")
}

// ListWebhookEndpoints is not built yet.
func (s *Server) ListWebhookEndpoints(c *gin.Context) { notImplemented(c, "webhook endpoints") }

// CreateWebhookEndpoint is not built yet.
func (s *Server) CreateWebhookEndpoint(c *gin.Context, _ openapi.CreateWebhookEndpointParams) {
	notImplemented(c, "webhook endpoints")
}

// DeleteWebhookEndpoint is not built yet.
func (s *Server) DeleteWebhookEndpoint(c *gin.Context, _ openapi.WebhookEndpointID, _ openapi.DeleteWebhookEndpointParams) {
	notImplemented(c, "webhook endpoints")
}

// ListEvents pages through the tenant's event log, oldest first.
func (s *Server) ListEvents(c *gin.Context, params openapi.ListEventsParams) {
	limit, fs := pageLimit(params.Limit)
	var t store.EventType
	if params.Type != nil {
		t = store.EventType(*params.Type)
		if !t.Valid() {
			fs = append(fs, FieldError{Pointer: "/query/type", Detail: "must be a unified event type such as virtual_account.created"})
		}
	}
	cursor := ""
	if params.Cursor != nil {
		cursor = *params.Cursor
	}
	if len(fs) > 0 {
		invalid(c, "the query is not valid", fs)
		return
	}
	evs, next, err := s.d.Events.ListEvents(c.Request.Context(), Tenant(c), t, cursor, limit)
	if err != nil {
		fail(c, err)
		return
	}
	if evs == nil {
		evs = []*store.Event{}
	}
	c.JSON(http.StatusOK, gin.H{"items": evs, "nextCursor": next})
}
