package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/webhooks"
	"github.com/vagate/vagate/openapi"
)

// webhooksOn answers 501 when the gateway delivers no events.
func (s *Server) webhooksOn(c *gin.Context) bool {
	if s.d.Webhooks == nil {
		notImplemented(c, "webhook endpoints")
		return false
	}
	return true
}

// endpointJSON is an endpoint as the API shows it; the secret only when
// show is set (the answers to create and rotate).
func endpointJSON(e *webhooks.Endpoint, show bool) openapi.WebhookEndpoint {
	out := openapi.WebhookEndpoint{Id: e.ID, Url: e.URL, Events: []openapi.EventType{}, Enabled: e.Enabled,
		CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt}
	for _, t := range e.Events {
		out.Events = append(out.Events, openapi.EventType(t))
	}
	if e.Description != "" {
		out.Description = &e.Description
	}
	if e.DisabledReason != "" {
		r := openapi.WebhookEndpointDisabledReason(e.DisabledReason)
		out.DisabledReason = &r
	}
	if show {
		secret := string(e.Secret)
		out.Secret = &secret
	}
	if e.PreviousSecret != "" && time.Now().Before(e.PreviousSecretExpiresAt) {
		at := e.PreviousSecretExpiresAt
		out.PreviousSecretExpiresAt = &at
	}
	return out
}

func deliveryJSON(d *webhooks.Delivery) openapi.WebhookDelivery {
	out := openapi.WebhookDelivery{EventId: d.EventID, EventType: openapi.EventType(d.EventType), Status: openapi.WebhookDeliveryStatus(d.Status),
		Attempts: []openapi.WebhookAttempt{}, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
	if !d.NextAttemptAt.IsZero() && d.Status == webhooks.DeliveryPending {
		at := d.NextAttemptAt
		out.NextAttemptAt = &at
	}
	for _, a := range d.Attempts {
		oa := openapi.WebhookAttempt{At: a.At, Trigger: openapi.WebhookAttemptTrigger(a.Trigger), LatencyMs: a.Latency.Milliseconds()}
		if a.StatusCode != 0 {
			code := a.StatusCode
			oa.StatusCode = &code
		}
		if a.Error != "" {
			msg := a.Error
			oa.Error = &msg
		}
		out.Attempts = append(out.Attempts, oa)
	}
	return out
}

// eventTypes reads an array of unified event types: at least one, each
// known and listed once.
func (f *fields) eventTypes(m map[string]json.RawMessage, key string) (ts []bank.EventType, present bool) {
	raw, ok := m[key]
	if !ok || string(raw) == "null" {
		return nil, false
	}
	var ss []string
	if err := json.Unmarshal(raw, &ss); err != nil {
		f.add("/"+key, "must be an array of event types")
		return nil, true
	}
	if len(ss) == 0 {
		f.add("/"+key, "must list at least one event type (leave it out for every type)")
	}
	for i, s := range ss {
		t := bank.EventType(s)
		switch {
		case !t.Valid():
			f.add(fmt.Sprintf("/%s/%d", key, i), "must be a unified event type such as virtual_account.created")
		case contains(ss[:i], s):
			f.add(fmt.Sprintf("/%s/%d", key, i), "is listed twice")
		}
		ts = append(ts, t)
	}
	return ts, true
}

// parseEndpointBody parses a create (create set) or update body strictly.
func parseEndpointBody(body []byte, create bool) (in *webhooks.EndpointInput, p *webhooks.EndpointPatch, fs []bank.FieldError) {
	var f fields
	if len(bytes.TrimSpace(body)) == 0 || !json.Valid(body) {
		f.add("", "the body must be a JSON object")
		return nil, nil, f
	}
	m := f.object("", body, "url", "events", "description", "enabled")
	if m == nil {
		return nil, nil, f
	}
	u, hasURL := f.str("", m, "url")
	events, hasEvents := f.eventTypes(m, "events")
	desc, hasDesc := f.str("", m, "description")
	_, hasEnabled := m["enabled"]
	enabled := f.boolean("", m, "enabled")
	if hasEnabled && string(m["enabled"]) == "null" {
		hasEnabled = false
	}
	if create {
		if !hasURL {
			f.add("/url", "is required")
		}
		if len(f) > 0 {
			return nil, nil, f
		}
		return &webhooks.EndpointInput{URL: u, Events: events, Description: desc, Disabled: hasEnabled && !enabled}, nil, nil
	}
	for _, k := range []string{"url", "description", "enabled"} {
		if raw, ok := m[k]; ok && string(raw) == "null" {
			f.add("/"+k, "cannot be null")
		}
	}
	if len(m) == 0 {
		f.add("", "set at least one of url, events, description, enabled")
	}
	if len(f) > 0 {
		return nil, nil, f
	}
	p = &webhooks.EndpointPatch{}
	if hasURL {
		p.URL = &u
	}
	if _, ok := m["events"]; ok {
		if !hasEvents {
			events = nil // null: every type
		}
		p.Events = &events
	}
	if hasDesc {
		p.Description = &desc
	}
	if hasEnabled {
		p.Enabled = &enabled
	}
	return nil, p, nil
}

// ListWebhookEndpoints lists the tenant's endpoints, without secrets.
func (s *Server) ListWebhookEndpoints(c *gin.Context) {
	if !s.webhooksOn(c) {
		return
	}
	eps, err := s.d.Webhooks.Endpoints(c.Request.Context(), Tenant(c))
	if err != nil {
		fail(c, err)
		return
	}
	out := openapi.WebhookEndpointList{Items: []openapi.WebhookEndpoint{}}
	for _, e := range eps {
		out.Items = append(out.Items, endpointJSON(e, false))
	}
	c.JSON(http.StatusOK, out)
}

// CreateWebhookEndpoint registers an endpoint; the answer shows its secret, once.
func (s *Server) CreateWebhookEndpoint(c *gin.Context, _ openapi.CreateWebhookEndpointParams) {
	if !s.webhooksOn(c) {
		return
	}
	body, ok := jsonBody(c)
	if !ok {
		return
	}
	in, _, fs := parseEndpointBody(body, true)
	if len(fs) > 0 {
		invalid(c, "the webhook endpoint is not valid", fs)
		return
	}
	e, err := s.d.Webhooks.CreateEndpoint(c.Request.Context(), Tenant(c), in)
	if err != nil {
		fail(c, err)
		return
	}
	c.Header("Location", s.opts.PublicURL+"/v1/webhook-endpoints/"+e.ID)
	c.JSON(http.StatusCreated, endpointJSON(e, true))
}

// GetWebhookEndpoint answers one endpoint, without its secret.
func (s *Server) GetWebhookEndpoint(c *gin.Context, id openapi.WebhookEndpointID) {
	if !s.webhooksOn(c) {
		return
	}
	e, err := s.d.Webhooks.Endpoint(c.Request.Context(), Tenant(c), id)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, endpointJSON(e, false))
}

// UpdateWebhookEndpoint changes an endpoint's url, events, description or enabled flag.
func (s *Server) UpdateWebhookEndpoint(c *gin.Context, id openapi.WebhookEndpointID, _ openapi.UpdateWebhookEndpointParams) {
	if !s.webhooksOn(c) {
		return
	}
	body, ok := jsonBody(c)
	if !ok {
		return
	}
	_, p, fs := parseEndpointBody(body, false)
	if len(fs) > 0 {
		invalid(c, "the change is not valid", fs)
		return
	}
	e, err := s.d.Webhooks.UpdateEndpoint(c.Request.Context(), Tenant(c), id, p)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, endpointJSON(e, false))
}

// DeleteWebhookEndpoint removes an endpoint.
func (s *Server) DeleteWebhookEndpoint(c *gin.Context, id openapi.WebhookEndpointID, _ openapi.DeleteWebhookEndpointParams) {
	if !s.webhooksOn(c) {
		return
	}
	if err := s.d.Webhooks.DeleteEndpoint(c.Request.Context(), Tenant(c), id); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// RotateWebhookEndpointSecret gives an endpoint a new secret, shown once.
func (s *Server) RotateWebhookEndpointSecret(c *gin.Context, id openapi.WebhookEndpointID, _ openapi.RotateWebhookEndpointSecretParams) {
	if !s.webhooksOn(c) {
		return
	}
	body, ok := jsonBody(c)
	if !ok {
		return
	}
	overlap := webhooks.DefaultRotationOverlap
	if len(bytes.TrimSpace(body)) > 0 {
		var f fields
		if !json.Valid(body) {
			f.add("", "the body is not valid JSON")
		} else if m := f.object("", body, "overlapSeconds"); m != nil {
			if raw, ok := m["overlapSeconds"]; ok && string(raw) != "null" {
				var n int64
				if err := json.Unmarshal(raw, &n); err != nil || n < 0 || n > int64(webhooks.MaxRotationOverlap/time.Second) {
					f.add("/overlapSeconds", "must be a whole number of seconds from 0 to %d", int64(webhooks.MaxRotationOverlap/time.Second))
				}
				overlap = time.Duration(n) * time.Second
			}
		}
		if len(f) > 0 {
			invalid(c, "the rotation is not valid", f)
			return
		}
	}
	e, err := s.d.Webhooks.RotateSecret(c.Request.Context(), Tenant(c), id, overlap)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, endpointJSON(e, true))
}

// ListWebhookDeliveries pages through an endpoint's deliveries, newest first.
func (s *Server) ListWebhookDeliveries(c *gin.Context, id openapi.WebhookEndpointID, params openapi.ListWebhookDeliveriesParams) {
	if !s.webhooksOn(c) {
		return
	}
	limit, fs := pageLimit(params.Limit)
	if len(fs) > 0 {
		invalid(c, "the query is not valid", fs)
		return
	}
	cursor := ""
	if params.Cursor != nil {
		cursor = *params.Cursor
	}
	ds, next, err := s.d.Webhooks.Deliveries(c.Request.Context(), Tenant(c), id, cursor, limit)
	if err != nil {
		fail(c, err)
		return
	}
	out := openapi.WebhookDeliveryList{Items: []openapi.WebhookDelivery{}}
	for _, d := range ds {
		out.Items = append(out.Items, deliveryJSON(d))
	}
	if next != "" {
		out.NextCursor = &next
	}
	c.JSON(http.StatusOK, out)
}

// GetWebhookDelivery answers the delivery of one event to an endpoint.
func (s *Server) GetWebhookDelivery(c *gin.Context, id openapi.WebhookEndpointID, eventID openapi.EventID) {
	if !s.webhooksOn(c) {
		return
	}
	ctx := c.Request.Context()
	if _, err := s.d.Webhooks.Endpoint(ctx, Tenant(c), id); err != nil {
		fail(c, err)
		return
	}
	d, err := s.d.Webhooks.Delivery(ctx, Tenant(c), id, eventID)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, deliveryJSON(d))
}

// RedeliverWebhookEvent queues an event for an endpoint again.
func (s *Server) RedeliverWebhookEvent(c *gin.Context, id openapi.WebhookEndpointID, eventID openapi.EventID, _ openapi.RedeliverWebhookEventParams) {
	if !s.webhooksOn(c) {
		return
	}
	d, err := s.d.Webhooks.Redeliver(c.Request.Context(), Tenant(c), id, eventID)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, deliveryJSON(d))
}

// callbackField checks a create's callbackUrl: it must be the url of one of
// the tenant's webhook endpoints. A store error is returned as err.
func (s *Server) callbackField(ctx context.Context, tenant, u string) (*bank.FieldError, error) {
	if u == "" {
		return nil, nil
	}
	if s.d.Webhooks == nil {
		return &bank.FieldError{Pointer: "/callbackUrl", Message: "must be the url of one of your webhook endpoints, and this gateway delivers no events"}, nil
	}
	_, err := s.d.Webhooks.EndpointByURL(ctx, tenant, u)
	switch {
	case bank.Code(err) == bank.NotFound:
		return &bank.FieldError{Pointer: "/callbackUrl", Message: "must be the url of one of your webhook endpoints (POST /v1/webhook-endpoints)"}, nil
	case err != nil:
		return nil, err
	}
	return nil, nil
}
