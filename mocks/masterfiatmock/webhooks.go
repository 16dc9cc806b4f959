package masterfiatmock

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/vagate/vagate/mocks/hook"
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
	// Fault lists the webhook faults applied (package hook), comma-separated.
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
}

// deliveryInfo is what a delivery record says beyond the message.
type deliveryInfo struct{ eventID, accountID string }

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
		CreatedAt: now, UpdatedAt: now, SecretKey: secret}}
	m.webhooks[w.ID] = w
	m.whOrder = append(m.whOrder, w)
	return w.view(true), nil
}

// RemoveWebhook unregisters a webhook and drops its undelivered events; it
// reports whether one existed.
func (m *Mock) RemoveWebhook(id string) bool {
	m.mu.Lock()
	w, ok := m.webhooks[id]
	if ok {
		delete(m.webhooks, id)
		m.whOrder = slices.DeleteFunc(m.whOrder, func(x *webhook) bool { return x == w })
	}
	m.mu.Unlock()
	if ok {
		m.Outbox().Cancel(id)
	}
	return ok
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
	ds := m.Outbox().Deliveries()
	out := make([]Delivery, len(ds))
	for i, d := range ds {
		info, _ := d.Info.(deliveryInfo)
		out[i] = Delivery{EventID: info.eventID, Event: d.Event, WebhookID: d.Target, URL: d.URL, AccountID: info.accountID,
			Status: d.Status, Fault: d.Fault, Copy: d.Copy, Headers: d.Headers, Body: d.Body, Attempts: d.Attempts,
			LastCode: d.LastStatus, LastError: d.LastError, Delivered: d.Delivered, Dropped: d.Dropped}
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

// emitLocked sends event to every webhook subscribed to it, with a snapshot
// of the account as it is now; m.mu must be held, so each webhook's events
// reach the outbox (which never calls back) in the order they happened.
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
	ev := event{ID: m.newID("evt"), Event: name, Data: a.view(m.opts.RoutingCodesArray), PreviousValues: map[string]string{}, CreatedAt: a.UpdatedAt}
	if prevStatus != "" {
		ev.PreviousValues["status"] = prevStatus
	}
	body, _ := json.Marshal(ev)
	for _, w := range targets {
		m.Outbox().Send(hook.Message{Target: w.ID, URL: w.URL, Event: name, Status: a.Status, Body: body,
			Sign: signer(w.SecretKey, ev.CreatedAt/1000), Info: deliveryInfo{eventID: ev.ID, accountID: a.ID}})
	}
}

// signer signs a webhook body with secret for an event created at created
// (Unix seconds): the same headers at every attempt, as the signature is
// bound to the event's creation.
func signer(secret string, created int64) func([]byte) (http.Header, error) {
	return func(body []byte) (http.Header, error) {
		digest, input, sig := Sign(secret, body, created)
		h := http.Header{}
		h.Set(HeaderDigest, digest)
		h.Set(HeaderSignatureInput, input)
		h.Set(HeaderSignature, sig)
		return h, nil
	}
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
