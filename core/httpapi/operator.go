package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/console"
	"github.com/vagate/vagate/openapi"
)

// PermOperatorActions lets an operator token act through the console or the
// ops CLI: force a breaker, cancel any tenant's job, replenish a pool,
// redeliver an event, script a bundled mock's faults. Reading needs only
// PermOperator.
const PermOperatorActions = "operator-actions"

// maxOverviewItems bounds the per-item outcomes shown for one job.
const maxOverviewItems = 100

type overviewProvider struct {
	Name             string           `json:"name"`
	Style            string           `json:"style"`
	BreakerState     string           `json:"breakerState"`
	BreakerSince     *time.Time       `json:"breakerSince,omitempty"`
	Forced           bool             `json:"forced"`
	ErrorRate        float64          `json:"errorRate"`
	LatencyMs        float64          `json:"latencyMs"`
	RecentRequests   int              `json:"recentRequests"`
	InFlight         int              `json:"inFlight"`
	LastError        string           `json:"lastError,omitempty"`
	LastErrorAt      *time.Time       `json:"lastErrorAt,omitempty"`
	LastErrorTraceID string           `json:"lastErrorTraceId,omitempty"`
	History          []console.Sample `json:"history"`
}

type overviewItem struct {
	Index    int          `json:"index"`
	Provider string       `json:"provider,omitempty"`
	Outcome  bank.Outcome `json:"outcome"`
	Error    string       `json:"error,omitempty"`
}

type overviewJob struct {
	Tenant string `json:"tenant"`
	bank.Job
	TraceID string         `json:"traceId,omitempty"`
	Items   []overviewItem `json:"items"`
}

type overviewPool struct {
	Tenant string `json:"tenant"`
	*bank.Pool
}

type overviewEndpoint struct {
	Tenant         string     `json:"tenant"`
	ID             string     `json:"id"`
	URL            string     `json:"url"`
	Enabled        bool       `json:"enabled"`
	DisabledReason string     `json:"disabledReason,omitempty"`
	FailingSince   *time.Time `json:"failingSince,omitempty"`
}

type overviewEvent struct {
	Tenant string `json:"tenant"`
	*bank.Event
}

// GetOperatorOverview answers what the console shows, across tenants.
func (s *Server) GetOperatorOverview(c *gin.Context) {
	ctx := c.Request.Context()
	out := gin.H{
		"now":              time.Now().UTC(),
		"operator":         Tenant(c),
		"canAct":           slices.Contains(Permissions(c), PermOperatorActions),
		"traceUrlTemplate": s.opts.TraceURLTemplate,
		"providers":        s.overviewProviders(),
		"jobs":             s.overviewJobs(ctx),
		"pools":            s.overviewPools(ctx),
		"delivery":         s.overviewDelivery(ctx),
		"events":           s.overviewEvents(),
		"qa":               gin.H{"mocks": s.mockNames()},
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) overviewProviders() []overviewProvider {
	out := []overviewProvider{}
	for _, p := range s.d.Registry.All() {
		h := p.Health()
		v := overviewProvider{Name: p.Name(), Style: p.Capabilities().Style, BreakerState: p.BreakerState(),
			ErrorRate: h.RecentErrorRate, LatencyMs: float64(h.RecentLatency.Microseconds()) / 1000,
			RecentRequests: h.RecentRequests, InFlight: h.InFlight, LastError: h.LastError, LastErrorAt: h.LastErrorAt,
			LastErrorTraceID: h.LastErrorTraceID, History: []console.Sample{}}
		if b, ok := p.Breaker(); ok {
			since := b.Since.UTC()
			v.BreakerSince = &since
		}
		if on, since := p.ForcedOpen(); on {
			v.Forced, v.BreakerSince = true, &since
		}
		if s.d.Console != nil {
			v.History = s.d.Console.History(p.Name())
		}
		out = append(out, v)
	}
	return out
}

func (s *Server) overviewJobs(ctx context.Context) []overviewJob {
	out := []overviewJob{}
	if s.d.Console == nil {
		return out
	}
	for _, ref := range s.d.Console.Jobs() {
		rec, err := s.d.Engine.Get(ctx, ref.Tenant, ref.ID)
		if err != nil {
			continue // expired or unreadable: shown again once readable
		}
		j := overviewJob{Tenant: ref.Tenant, Job: rec.Job, TraceID: traceIDOf(rec.TraceParent), Items: []overviewItem{}}
		for i, it := range rec.Items {
			if i == maxOverviewItems {
				break
			}
			oi := overviewItem{Index: it.Result.Index, Provider: it.Result.Provider, Outcome: it.Result.Outcome}
			if it.Result.Error != nil {
				oi.Error = it.Result.Error.Message
			}
			j.Items = append(j.Items, oi)
		}
		out = append(out, j)
	}
	return out
}

// traceIDOf is the trace id of a W3C traceparent ("00-<trace>-<span>-<flags>").
func traceIDOf(tp string) string {
	parts := strings.Split(tp, "-")
	if len(parts) != 4 || len(parts[1]) != 32 {
		return ""
	}
	return parts[1]
}

func (s *Server) overviewPools(ctx context.Context) gin.H {
	if s.d.Pool == nil || s.d.Console == nil {
		return gin.H{"enabled": false, "items": []overviewPool{}}
	}
	items := []overviewPool{}
	for _, t := range s.d.Console.Tenants() {
		ps, err := s.d.Pool.List(ctx, t)
		if err != nil {
			continue
		}
		for _, p := range ps {
			items = append(items, overviewPool{Tenant: t, Pool: p})
		}
	}
	return gin.H{"enabled": true, "items": items}
}

func (s *Server) overviewDelivery(ctx context.Context) gin.H {
	if s.d.Webhooks == nil {
		return gin.H{"enabled": false, "failingEndpoints": []overviewEndpoint{}}
	}
	out := gin.H{"enabled": true}
	if n, oldest, err := s.d.Webhooks.Backlog(ctx); err == nil {
		out["queueDepth"] = n
		if !oldest.IsZero() {
			out["oldestUndelivered"] = oldest.UTC()
			out["oldestAgeSeconds"] = max(time.Since(oldest).Seconds(), 0)
		}
	}
	failing := []overviewEndpoint{}
	if s.d.Console != nil {
		for _, t := range s.d.Console.Tenants() {
			eps, err := s.d.Webhooks.Endpoints(ctx, t)
			if err != nil {
				continue
			}
			for _, e := range eps {
				if e.Enabled && e.FailingSince.IsZero() {
					continue
				}
				v := overviewEndpoint{Tenant: t, ID: e.ID, URL: e.URL, Enabled: e.Enabled, DisabledReason: e.DisabledReason}
				if !e.FailingSince.IsZero() {
					fs := e.FailingSince.UTC()
					v.FailingSince = &fs
				}
				failing = append(failing, v)
			}
		}
	}
	out["failingEndpoints"] = failing
	return out
}

func (s *Server) overviewEvents() []overviewEvent {
	out := []overviewEvent{}
	if s.d.Console == nil {
		return out
	}
	for _, e := range s.d.Console.Events() {
		out = append(out, overviewEvent{Tenant: e.Tenant, Event: e})
	}
	return out
}

func (s *Server) mockNames() []string {
	out := []string{}
	for n := range s.d.Mocks {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// strictBody decodes a JSON body into v, refusing unknown fields.
func strictBody(c *gin.Context, v any) bool {
	body, ok := jsonBody(c)
	if !ok {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		invalid(c, "the body is not valid: "+err.Error(), []bank.FieldError{{Pointer: "", Message: err.Error()}})
		return false
	}
	return true
}

// recordAction appends an operator.action event to tenant's log (the
// operator's own for provider and mock actions) and logs it.
func (s *Server) recordAction(c *gin.Context, tenant, action, target, detail string) {
	id, err := uuid.NewV7()
	if err != nil {
		id = uuid.New()
	}
	if tenant == "" {
		tenant = Tenant(c)
	}
	e := &bank.Event{ID: "evt_" + id.String(), Tenant: tenant, Type: bank.EventOperatorAction, CreatedAt: time.Now().UTC(),
		Data: bank.EventData{OperatorAction: &bank.OperatorAction{Action: action, Target: target, Operator: Tenant(c), Detail: detail}}}
	if err := s.d.Events.AppendEvent(c.Request.Context(), e); err != nil {
		s.d.Logger.ErrorContext(c.Request.Context(), "recording an operator action failed", "action", action, "err", err)
	}
	s.d.Logger.InfoContext(c.Request.Context(), "operator action", "action", action, "target", target, "tenant", tenant,
		"operator", Tenant(c), "trace_id", TraceID(c))
}

// SetProviderBreaker forces a provider's breaker open or lifts that.
func (s *Server) SetProviderBreaker(c *gin.Context, name openapi.ProviderName, _ openapi.SetProviderBreakerParams) {
	p, ok := s.d.Registry.Get(name)
	if !ok {
		WriteProblem(c, NewProblem(http.StatusNotFound, CodeNotFound, fmt.Sprintf("no provider %q", name)))
		return
	}
	var in openapi.BreakerAction
	if !strictBody(c, &in) {
		return
	}
	switch in.Action {
	case "open":
		p.ForceOpen()
	case "reset":
		p.ResetBreaker()
	default:
		invalid(c, "the body is not valid", []bank.FieldError{{Pointer: "/action", Message: `must be "open" or "reset"`}})
		return
	}
	s.recordAction(c, "", "breaker."+string(in.Action), name, "")
	on, _ := p.ForcedOpen()
	c.JSON(http.StatusOK, gin.H{"provider": name, "breakerState": p.BreakerState(), "forced": on})
}

// OperatorCancelJob cancels any tenant's job.
func (s *Server) OperatorCancelJob(c *gin.Context, id openapi.JobID, _ openapi.OperatorCancelJobParams) {
	var in openapi.OperatorTenantRef
	if !strictBody(c, &in) {
		return
	}
	if in.Tenant == "" {
		invalid(c, "the body is not valid", []bank.FieldError{{Pointer: "/tenant", Message: "is required"}})
		return
	}
	job, err := s.d.Engine.Cancel(c.Request.Context(), in.Tenant, id)
	if err != nil {
		fail(c, err)
		return
	}
	s.recordAction(c, in.Tenant, "job.cancel", id, "")
	c.JSON(http.StatusOK, job)
}

// OperatorReplenishPool starts a replenish of any tenant's pool.
func (s *Server) OperatorReplenishPool(c *gin.Context, _ openapi.OperatorReplenishPoolParams) {
	if s.d.Pool == nil {
		notImplemented(c, "the unallocated pool")
		return
	}
	var in openapi.OperatorReplenish
	if !strictBody(c, &in) {
		return
	}
	count := 0
	if in.Count != nil {
		count = *in.Count
	}
	if in.Tenant == "" || in.Provider == "" || !bank.ValidCurrency(string(in.Currency)) || count < 0 || count > 1000 {
		invalid(c, "the body is not valid", []bank.FieldError{{Pointer: "", Message: "needs tenant, provider, an ISO 4217 currency and a count from 1 to 1000"}})
		return
	}
	job, err := s.d.Pool.Replenish(c.Request.Context(), in.Tenant, in.Provider, string(in.Currency), count)
	if err != nil {
		fail(c, err)
		return
	}
	s.recordAction(c, in.Tenant, "pool.replenish", in.Provider+"/"+string(in.Currency), fmt.Sprintf("count %d", count))
	if job == nil {
		c.JSON(http.StatusOK, gin.H{"replenishing": false})
		return
	}
	c.JSON(http.StatusOK, job)
}

// OperatorRedeliver redelivers an event to a tenant's endpoint.
func (s *Server) OperatorRedeliver(c *gin.Context, _ openapi.OperatorRedeliverParams) {
	if !s.webhooksOn(c) {
		return
	}
	var in openapi.OperatorRedeliver
	if !strictBody(c, &in) {
		return
	}
	d, err := s.d.Webhooks.Redeliver(c.Request.Context(), in.Tenant, in.EndpointId, in.EventId)
	if err != nil {
		fail(c, err)
		return
	}
	s.recordAction(c, in.Tenant, "webhook.redeliver", in.EventId, "endpoint "+in.EndpointId)
	c.JSON(http.StatusOK, deliveryJSON(d))
}

// mockClient talks to the bundled mocks' admin APIs.
var mockClient = &http.Client{Timeout: 5 * time.Second}

// mockAdmin sends a request to mock name's fault admin API and returns its
// status and body; it writes the problem and returns false on failure.
func (s *Server) mockAdmin(c *gin.Context, name, method string, body []byte) (int, []byte, bool) {
	base, ok := s.d.Mocks[name]
	if !ok {
		if len(s.d.Mocks) == 0 {
			notImplemented(c, "the QA panel (no bundled mock is known: embedded mode or console.mocks)")
			return 0, nil, false
		}
		WriteProblem(c, NewProblem(http.StatusNotFound, CodeNotFound, fmt.Sprintf("no bundled mock %q", name)))
		return 0, nil, false
	}
	req, err := http.NewRequestWithContext(c.Request.Context(), method, strings.TrimRight(base, "/")+"/__admin/faults", bytes.NewReader(body))
	if err != nil {
		fail(c, err)
		return 0, nil, false
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := mockClient.Do(req)
	if err != nil {
		WriteProblem(c, NewProblem(http.StatusBadGateway, CodeProviderUnavailable, fmt.Sprintf("the mock %q did not answer", name)))
		return 0, nil, false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		WriteProblem(c, NewProblem(http.StatusBadGateway, CodeProviderUnavailable, fmt.Sprintf("the mock %q did not answer", name)))
		return 0, nil, false
	}
	return resp.StatusCode, b, true
}

// ListMockFaults lists a bundled mock's fault rules.
func (s *Server) ListMockFaults(c *gin.Context, name openapi.ProviderName) {
	status, b, ok := s.mockAdmin(c, name, http.MethodGet, nil)
	if !ok {
		return
	}
	var out struct {
		Rules []json.RawMessage `json:"rules"`
	}
	if status != http.StatusOK || json.Unmarshal(b, &out) != nil {
		WriteProblem(c, NewProblem(http.StatusBadGateway, CodeProviderError, fmt.Sprintf("the mock %q answered %d", name, status)))
		return
	}
	if out.Rules == nil {
		out.Rules = []json.RawMessage{}
	}
	c.JSON(http.StatusOK, gin.H{"items": out.Rules})
}

// AddMockFault adds a fault rule to a bundled mock.
func (s *Server) AddMockFault(c *gin.Context, name openapi.ProviderName, _ openapi.AddMockFaultParams) {
	var in openapi.FaultRule
	if !strictBody(c, &in) {
		return
	}
	in.Id, in.Fired = nil, nil
	body, _ := json.Marshal(in)
	status, b, ok := s.mockAdmin(c, name, http.MethodPost, body)
	if !ok {
		return
	}
	if status == http.StatusBadRequest {
		var e struct{ Message string }
		json.Unmarshal(b, &e)
		invalid(c, "the fault rule is not valid: "+e.Message, []bank.FieldError{{Pointer: "", Message: e.Message}})
		return
	}
	if status != http.StatusCreated {
		WriteProblem(c, NewProblem(http.StatusBadGateway, CodeProviderError, fmt.Sprintf("the mock %q answered %d", name, status)))
		return
	}
	s.recordAction(c, "", "mock.fault.add", name, string(body))
	c.Data(http.StatusOK, "application/json", b)
}

// ClearMockFaults removes every fault rule of a bundled mock.
func (s *Server) ClearMockFaults(c *gin.Context, name openapi.ProviderName, _ openapi.ClearMockFaultsParams) {
	status, _, ok := s.mockAdmin(c, name, http.MethodDelete, nil)
	if !ok {
		return
	}
	if status != http.StatusNoContent && status != http.StatusOK {
		WriteProblem(c, NewProblem(http.StatusBadGateway, CodeProviderError, fmt.Sprintf("the mock %q answered %d", name, status)))
		return
	}
	s.recordAction(c, "", "mock.fault.clear", name, "")
	c.JSON(http.StatusOK, gin.H{"items": []any{}})
}

// consoleCSP is the console page's Content-Security-Policy: its own
// script, style and API only; no inline code, no framing, no forms.
const consoleCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// consoleFiles are the console's assets and their content types.
var consoleFiles = map[string]string{
	"index.html": "text/html; charset=utf-8", "console.js": "text/javascript; charset=utf-8", "console.css": "text/css; charset=utf-8",
}

// GetConsole serves the console page (public: it shows nothing until a
// valid operator token is pasted; its data comes from the operator routes,
// which check the token).
func (s *Server) GetConsole(c *gin.Context) { serveConsole(c, "index.html") }

// GetConsoleAsset serves the console's script and style sheet.
func (s *Server) GetConsoleAsset(c *gin.Context, file string) { serveConsole(c, file) }

func serveConsole(c *gin.Context, file string) {
	ct, ok := consoleFiles[file]
	if !ok {
		NotFoundRoute(c)
		return
	}
	b, err := console.Assets.ReadFile("assets/" + file)
	if err != nil {
		fail(c, errors.New("console asset missing: "+file))
		return
	}
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", consoleCSP)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	c.Data(http.StatusOK, ct, b)
}
