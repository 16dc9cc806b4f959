package masterfiatmock

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vagate/vagate/mocks/fault"
)

// Webhook signature headers (HTTP Message Signatures draft, label fr1).
const (
	HeaderDigest         = "Digest"
	HeaderSignatureInput = "Signature-Input"
	HeaderSignature      = "Signature"
)

// SignatureBase is the string the HMAC covers: the body's SHA-1 digest (hex)
// and the signature parameters.
func SignatureBase(digest string, created int64) string {
	return `"digest": ` + digest + "\n@signature-params: " + signatureParams(created)
}

func signatureParams(created int64) string {
	return `("digest");created=` + strconv.FormatInt(created, 10)
}

// Sign returns the three signature headers of a webhook body whose event
// was created at created (Unix seconds), keyed by the webhook's secret.
func Sign(secret string, body []byte, created int64) (digest, signatureInput, signature string) {
	sum := sha1.Sum(body)
	digest = hex.EncodeToString(sum[:])
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(SignatureBase(digest, created)))
	return digest, "fr1=" + signatureParams(created), "fr1=:" + hex.EncodeToString(mac.Sum(nil)) + ":"
}

// Webhook is a registered webhook endpoint.
type Webhook struct {
	ID          string            `json:"id"`
	URL         string            `json:"url"`
	Events      []string          `json:"events"`
	Status      string            `json:"status"`
	Description *string           `json:"description"`
	CreatedAt   int64             `json:"createdAt"`
	UpdatedAt   int64             `json:"updatedAt"`
	Metadata    map[string]string `json:"metadata"`
	// SecretKey signs the webhook's events; the API shows it only in the
	// answer to its creation (and the admin API always).
	SecretKey string `json:"secretKey,omitempty"`
}

type webhook struct {
	Webhook
	queue  []*Delivery
	notify chan struct{}
	cancel context.CancelFunc
}

func (w *webhook) view(secret bool) Webhook {
	v := w.Webhook
	v.Events = slices.Clone(w.Events)
	v.Metadata = maps.Clone(w.Metadata)
	if !secret {
		v.SecretKey = ""
	}
	return v
}

// subscribable are the events a webhook can subscribe to (the document's
// VIRTUAL_ACCOUNT events); the mock emits CREATED and STATUS_UPDATED.
var subscribable = []string{
	"VIRTUAL_ACCOUNT.BANK_DETAILS_UPDATED", EventCreated, "VIRTUAL_ACCOUNT.LABEL_UPDATED",
	"VIRTUAL_ACCOUNT.METADATA_UPDATED", EventStatusUpdated, "VIRTUAL_ACCOUNT.UPDATED",
}

// Delivery is one webhook event sent (or dropped) to one webhook.
type Delivery struct {
	EventID   string `json:"eventId"`
	Event     string `json:"event"`
	WebhookID string `json:"webhookId"`
	URL       string `json:"url"`
	AccountID string `json:"accountId"`
	// Status is the account status the event carries.
	Status string `json:"status"`
	// Fault is the webhook fault applied: drop, duplicate or delay.
	Fault string `json:"fault,omitempty"`
	// Copy is 2 for the second delivery of a duplicated event.
	Copy      int             `json:"copy,omitempty"`
	Headers   http.Header     `json:"headers,omitempty"`
	Body      json.RawMessage `json:"body"`
	Attempts  int             `json:"attempts"`
	LastCode  int             `json:"lastStatus"`
	LastError string          `json:"lastError,omitempty"`
	Delivered bool            `json:"delivered"`
	Dropped   bool            `json:"dropped,omitempty"`
	createdMS int64
}

func (d *Delivery) clone() Delivery {
	c := *d
	c.Headers = d.Headers.Clone()
	c.Body = slices.Clone(d.Body)
	return c
}

// Webhook fault actions.
const (
	WebhookDrop      = "drop"
	WebhookDuplicate = "duplicate"
	WebhookDelay     = "delay"
)

// WebhookFault is one scripted fault of webhook delivery. It matches events
// by name and by the account status they carry ("" = any), fires with
// probability Rate (0 = always) at most Times times (0 = unbounded), and
// drops the delivery, sends it twice, or holds it for Delay while later
// events overtake it.
type WebhookFault struct {
	Action string         `json:"action"`
	Event  string         `json:"event,omitempty"`
	Status string         `json:"status,omitempty"`
	Rate   float64        `json:"rate,omitempty"`
	Times  int            `json:"times,omitempty"`
	Delay  fault.Duration `json:"delay,omitempty"`
	// Fired counts how often the rule has fired.
	Fired int `json:"fired"`
}

func (f *WebhookFault) validate() error {
	switch f.Action {
	case WebhookDrop, WebhookDuplicate:
	case WebhookDelay:
		if f.Delay <= 0 {
			return fmt.Errorf("delay: a delay rule needs a positive delay")
		}
	default:
		return fmt.Errorf("action: unknown webhook fault %q (drop, duplicate, delay)", f.Action)
	}
	if f.Rate < 0 || f.Rate > 1 {
		return fmt.Errorf("rate: must be between 0 and 1")
	}
	if f.Times < 0 {
		return fmt.Errorf("times: must not be negative")
	}
	return nil
}

// SetWebhookFaults replaces the webhook fault rules (nil clears them).
func (m *Mock) SetWebhookFaults(rules []WebhookFault) error {
	out := make([]*WebhookFault, 0, len(rules))
	for i := range rules {
		if err := rules[i].validate(); err != nil {
			return fmt.Errorf("rules[%d].%w", i, err)
		}
		r := rules[i]
		r.Fired = 0
		out = append(out, &r)
	}
	m.mu.Lock()
	m.whRules = out
	m.mu.Unlock()
	return nil
}

// WebhookFaults returns a copy of the webhook fault rules.
func (m *Mock) WebhookFaults() []WebhookFault {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]WebhookFault, len(m.whRules))
	for i, r := range m.whRules {
		out[i] = *r
	}
	return out
}

// pickFaultLocked returns the first rule that matches and fires for d; m.mu must be held.
func (m *Mock) pickFaultLocked(d *Delivery) *WebhookFault {
	for _, r := range m.whRules {
		if (r.Event != "" && r.Event != d.Event) || (r.Status != "" && r.Status != d.Status) {
			continue
		}
		if r.Times > 0 && r.Fired >= r.Times {
			continue
		}
		if r.Rate > 0 && r.Rate < 1 && m.whRNG.Float64() >= r.Rate {
			continue
		}
		r.Fired++
		c := *r
		return &c
	}
	return nil
}

// AddWebhook registers a webhook for events; an empty secret is generated.
func (m *Mock) AddWebhook(rawURL string, events []string, secret string) (Webhook, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Webhook{}, fmt.Errorf("masterfiatmock: webhook url %q is not an absolute http(s) URL", rawURL)
	}
	if len(events) == 0 {
		return Webhook{}, fmt.Errorf("masterfiatmock: a webhook needs at least one event")
	}
	for _, e := range events {
		if !slices.Contains(subscribable, e) {
			return Webhook{}, fmt.Errorf("masterfiatmock: unknown event %q", e)
		}
	}
	if secret == "" {
		b := make([]byte, 24)
		rand.Read(b)
		secret = "whsec_" + hex.EncodeToString(b)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return Webhook{}, fmt.Errorf("masterfiatmock: closed")
	}
	now := m.nowMS()
	w := &webhook{Webhook: Webhook{ID: m.newID("whk"), URL: rawURL, Events: slices.Clone(events), Status: "ENABLED",
		CreatedAt: now, UpdatedAt: now, SecretKey: secret}, notify: make(chan struct{}, 1)}
	var ctx context.Context
	ctx, w.cancel = context.WithCancel(m.root)
	m.webhooks[w.ID] = w
	m.whOrder = append(m.whOrder, w)
	m.wg.Add(1)
	go m.work(ctx, w)
	return w.view(true), nil
}

// RemoveWebhook unregisters a webhook; it reports whether one existed.
func (m *Mock) RemoveWebhook(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	w, ok := m.webhooks[id]
	if !ok {
		return false
	}
	w.cancel()
	delete(m.webhooks, id)
	m.whOrder = slices.DeleteFunc(m.whOrder, func(x *webhook) bool { return x == w })
	return true
}

// Webhooks returns the registered webhooks with their secrets.
func (m *Mock) Webhooks() []Webhook {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Webhook, len(m.whOrder))
	for i, w := range m.whOrder {
		out[i] = w.view(true)
	}
	return out
}

// Deliveries returns a copy of the webhook deliveries so far, oldest first.
func (m *Mock) Deliveries() []Delivery {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Delivery, len(m.deliveries))
	for i, d := range m.deliveries {
		out[i] = d.clone()
	}
	return out
}

type event struct {
	ID             string            `json:"id"`
	Event          string            `json:"event"`
	Data           VirtualAccount    `json:"data"`
	PreviousValues map[string]string `json:"previousValues"`
	CreatedAt      int64             `json:"createdAt"`
}

// emitLocked queues event for every webhook subscribed to it, with a
// snapshot of the account as it is now; m.mu must be held.
func (m *Mock) emitLocked(name string, a *account, prevStatus string) {
	var targets []*webhook
	for _, w := range m.whOrder {
		if w.Status == "ENABLED" && slices.Contains(w.Events, name) {
			targets = append(targets, w)
		}
	}
	if len(targets) == 0 {
		return
	}
	ev := event{ID: m.newID("evt"), Event: name, Data: a.view(), PreviousValues: map[string]string{}, CreatedAt: a.UpdatedAt}
	if prevStatus != "" {
		ev.PreviousValues["status"] = prevStatus
	}
	body, _ := json.Marshal(ev)
	for _, w := range targets {
		d := &Delivery{EventID: ev.ID, Event: name, WebhookID: w.ID, URL: w.URL, AccountID: a.ID,
			Status: a.Status, Body: body, createdMS: ev.CreatedAt}
		m.deliveries = append(m.deliveries, d)
		w.queue = append(w.queue, d)
		select {
		case w.notify <- struct{}{}:
		default:
		}
	}
}

// work delivers a webhook's events one at a time, in order, until the
// webhook is removed or the mock closed.
func (m *Mock) work(ctx context.Context, w *webhook) {
	defer m.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.notify:
		}
		for {
			m.mu.Lock()
			if len(w.queue) == 0 || ctx.Err() != nil {
				m.mu.Unlock()
				break
			}
			d := w.queue[0]
			w.queue = w.queue[1:]
			gen := m.gen
			rule := m.pickFaultLocked(d)
			var dup *Delivery
			if rule != nil {
				d.Fault = rule.Action
				switch rule.Action {
				case WebhookDrop:
					d.Dropped = true
				case WebhookDuplicate:
					c := *d
					c.Copy, c.Headers = 2, nil
					dup = &c
					m.deliveries = append(m.deliveries, dup)
				}
			}
			m.mu.Unlock()
			switch {
			case rule == nil:
				m.send(gen, w, d)
			case rule.Action == WebhookDrop:
			case rule.Action == WebhookDuplicate:
				m.send(gen, w, d)
				m.send(gen, w, dup)
			case rule.Action == WebhookDelay:
				m.wg.Add(1)
				go func() {
					defer m.wg.Done()
					if sleep(gen, time.Duration(rule.Delay)) {
						m.send(gen, w, d)
					}
				}()
			}
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// send POSTs one delivery, retrying with backoff until a 2xx answer or WebhookAttempts attempts.
func (m *Mock) send(ctx context.Context, w *webhook, d *Delivery) {
	wait := webhookBackoff
	for attempt := range WebhookAttempts {
		if attempt > 0 {
			if !sleep(ctx, wait) {
				return
			}
			wait *= 2
		}
		code, errText, hdr := m.attempt(ctx, w, d)
		m.mu.Lock()
		d.Attempts++
		d.LastCode, d.LastError, d.Headers = code, errText, hdr
		d.Delivered = code >= 200 && code < 300
		m.mu.Unlock()
		if d.Delivered || ctx.Err() != nil {
			return
		}
	}
}

// attempt sends one signed delivery; it returns the answer's status (0 if none), the error and the headers sent.
func (m *Mock) attempt(ctx context.Context, w *webhook, d *Delivery) (int, string, http.Header) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(d.Body))
	if err != nil {
		return 0, err.Error(), nil
	}
	digest, input, sig := Sign(w.SecretKey, d.Body, d.createdMS/1000)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "masterfiatmock")
	req.Header.Set(HeaderDigest, digest)
	req.Header.Set(HeaderSignatureInput, input)
	req.Header.Set(HeaderSignature, sig)
	hdr := req.Header.Clone()
	resp, err := m.whClient.Do(req)
	if err != nil {
		return 0, err.Error(), hdr
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp.StatusCode, "", hdr
}

type createWebhookBody struct {
	URL         string            `json:"url"`
	Events      []string          `json:"events"`
	Description *string           `json:"description"`
	Metadata    map[string]string `json:"metadata"`
}

// handleCreateWebhook serves POST /api/v1/webhooks.
func (m *Mock) handleCreateWebhook(w http.ResponseWriter, r *http.Request) {
	body, ok := readJSONBody(w, r)
	if !ok {
		return
	}
	var in createWebhookBody
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "VALIDATION_ERROR", "body: "+err.Error())
		return
	}
	var p problems
	if u, err := url.Parse(in.URL); in.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.add("url", "must be an absolute http or https URL")
	}
	if len(in.Events) == 0 {
		p.add("events", "at least one event is required")
	}
	for i, e := range in.Events {
		if !slices.Contains(subscribable, e) {
			p.add(fmt.Sprintf("events[%d]", i), "unknown event %q (one of %s)", e, strings.Join(subscribable, ", "))
		}
	}
	if len(p) > 0 {
		writeProblems(w, p)
		return
	}
	wh, err := m.AddWebhook(in.URL, in.Events, "")
	if err != nil {
		writeError(w, http.StatusBadRequest, "VALIDATION_ERROR", err.Error())
		return
	}
	m.mu.Lock()
	if x, ok := m.webhooks[wh.ID]; ok {
		x.Description, x.Metadata = in.Description, in.Metadata
		wh.Description, wh.Metadata = in.Description, maps.Clone(in.Metadata)
	}
	m.mu.Unlock()
	writeJSON(w, http.StatusCreated, wh)
}

// handleListWebhooks serves GET /api/v1/webhooks (secrets are not shown).
func (m *Mock) handleListWebhooks(w http.ResponseWriter, r *http.Request) {
	out := struct {
		Data []Webhook `json:"data"`
	}{Data: []Webhook{}}
	m.mu.Lock()
	for _, x := range m.whOrder {
		out.Data = append(out.Data, x.view(false))
	}
	m.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// handleDeleteWebhook serves DELETE /api/v1/webhooks/{id}.
func (m *Mock) handleDeleteWebhook(w http.ResponseWriter, r *http.Request) {
	if !m.RemoveWebhook(r.PathValue("id")) {
		writeError(w, http.StatusNotFound, "", "no webhook "+r.PathValue("id"))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
