package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/vagate/vagate/core/httpapi"
	"github.com/vagate/vagate/core/store"
	"github.com/vagate/vagate/core/webhooks"
	"github.com/vagate/vagate/core/webhooks/webhooksmem"
	"github.com/vagate/vagate/openapi"
)

// webhookAPI is the in-process API with event delivery wired the way the
// gateway wires it; only 127.0.0.1 is allowlisted.
func webhookAPI(t *testing.T) *api {
	t.Helper()
	st := memoryState()
	raw := store.NewMemoryEvents()
	js := st.jobs
	svc := webhooks.New(webhooksmem.New(nil), store.NewMemory(), raw, &webhooks.Options{
		Guard:    webhooks.NewGuard(webhooks.GuardOptions{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}),
		Schedule: []time.Duration{10 * time.Millisecond},
		JobCallback: func(ctx context.Context, tenant, jobID string) (string, map[string]string, error) {
			h, err := js.Header(ctx, tenant, jobID)
			if err != nil {
				return "", nil, err
			}
			return h.CallbackURL, h.CustomHeaders, nil
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { svc.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	st.events = svc.Log()
	return newAPIState(t, st, func(d *httpapi.Deps, _ *httpapi.Options) { d.Webhooks = svc })
}

type hookReceiver struct {
	*httptest.Server
	mu  sync.Mutex
	got []*http.Request
	bod [][]byte
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.got, h.bod = append(h.got, r), append(h.bod, b)
		h.mu.Unlock()
	}))
	t.Cleanup(h.Close)
	return h
}

// waitType waits for a delivery of an event of type typ and returns its
// request and body.
func (h *hookReceiver) waitType(t *testing.T, typ string) (*http.Request, []byte) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		h.mu.Lock()
		for i, b := range h.bod {
			var e struct{ Type string }
			if json.Unmarshal(b, &e) == nil && e.Type == typ {
				r := h.got[i]
				h.mu.Unlock()
				return r, b
			}
		}
		h.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no %s delivery", typ)
	return nil, nil
}

func decode[T any](t *testing.T, resp *http.Response, body []byte, status int) T {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, body)
	}
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	return v
}

// The endpoints API end to end in process: the secret shows once, a job's
// callbackUrl names an endpoint and its completion arrives there with the
// job's customHeaders, deliveries and attempts are readable, an event can be
// sent again, and a rotation shows the new secret once.
func TestWebhookEndpointsAPI(t *testing.T) {
	a := webhookAPI(t)
	tok := a.token(t, "t1")
	rc := newHookReceiver(t)
	resp, body := a.call(t, "POST", "/v1/webhook-endpoints", tok, strings.NewReader(`{"url":"`+rc.URL+`/hooks","description":"main"}`))
	ep := decode[openapi.WebhookEndpoint](t, resp, body, 201)
	if ep.Secret == nil || !strings.HasPrefix(*ep.Secret, "whsec_") || !ep.Enabled || len(ep.Events) != 0 ||
		resp.Header.Get("Location") != "http://gw.test/v1/webhook-endpoints/"+ep.Id {
		t.Fatalf("created %s (Location %s)", body, resp.Header.Get("Location"))
	}
	secret := *ep.Secret
	for _, path := range []string{"/v1/webhook-endpoints", "/v1/webhook-endpoints/" + ep.Id} {
		resp, body = a.call(t, "GET", path, tok, nil)
		if resp.StatusCode != 200 || strings.Contains(string(body), secret) || strings.Contains(string(body), `"secret"`) {
			t.Errorf("GET %s: %d %s; want 200 without the secret", path, resp.StatusCode, body)
		}
	}

	resp, body = a.call(t, "POST", "/v1/virtual-accounts", tok, strings.NewReader(
		`{"callbackUrl":"`+rc.URL+`/hooks","customHeaders":{"X-Batch":"b-7"},"items":[`+named+`]}`))
	acc := decode[openapi.JobAccepted](t, resp, body, 202)
	req, got := rc.waitType(t, "job.completed")
	wh, _ := standardwebhooks.NewWebhook(secret)
	if err := wh.Verify(got, req.Header); err != nil {
		t.Errorf("job.completed does not verify: %v", err)
	}
	if req.Header.Get("X-Batch") != "b-7" || !strings.Contains(string(got), acc.JobId) {
		t.Errorf("callback: X-Batch %q, body %s", req.Header.Get("X-Batch"), got)
	}
	req, got = rc.waitType(t, "virtual_account.created")
	if err := wh.Verify(got, req.Header); err != nil {
		t.Errorf("virtual_account.created does not verify: %v", err)
	}
	eventID := req.Header.Get("webhook-id")

	resp, body = a.call(t, "GET", "/v1/webhook-endpoints/"+ep.Id+"/deliveries?limit=1", tok, nil)
	list := decode[openapi.WebhookDeliveryList](t, resp, body, 200)
	if len(list.Items) != 1 || list.NextCursor == nil {
		t.Errorf("one page of 1: %s", body)
	}
	resp, body = a.call(t, "GET", "/v1/webhook-endpoints/"+ep.Id+"/deliveries/"+eventID, tok, nil)
	d := decode[openapi.WebhookDelivery](t, resp, body, 200)
	if d.Status != "succeeded" || len(d.Attempts) != 1 || d.Attempts[0].StatusCode == nil || *d.Attempts[0].StatusCode != 200 {
		t.Errorf("delivery %s", body)
	}
	resp, body = a.call(t, "POST", "/v1/webhook-endpoints/"+ep.Id+"/deliveries/"+eventID+"/redeliver", tok, nil)
	if d = decode[openapi.WebhookDelivery](t, resp, body, 202); d.Status != "pending" {
		t.Errorf("redeliver: %s", body)
	}

	resp, body = a.call(t, "POST", "/v1/webhook-endpoints/"+ep.Id+"/rotate-secret", tok, strings.NewReader(`{"overlapSeconds":60}`))
	rot := decode[openapi.WebhookEndpoint](t, resp, body, 200)
	if rot.Secret == nil || *rot.Secret == secret || rot.PreviousSecretExpiresAt == nil {
		t.Errorf("rotated: %s", body)
	}
	resp, body = a.call(t, "PATCH", "/v1/webhook-endpoints/"+ep.Id, tok, strings.NewReader(`{"events":["job.completed"],"enabled":false}`))
	upd := decode[openapi.WebhookEndpoint](t, resp, body, 200)
	if upd.Enabled || len(upd.Events) != 1 || upd.Secret != nil || upd.Description == nil || *upd.Description != "main" {
		t.Errorf("patched: %s", body)
	}
	resp, body = a.call(t, "PATCH", "/v1/webhook-endpoints/"+ep.Id, tok, strings.NewReader(`{"events":null}`))
	if upd = decode[openapi.WebhookEndpoint](t, resp, body, 200); len(upd.Events) != 0 {
		t.Errorf("events null means every type: %s", body)
	}

	other := a.token(t, "t2")
	for _, path := range []string{"/v1/webhook-endpoints/" + ep.Id, "/v1/webhook-endpoints/" + ep.Id + "/deliveries", "/v1/webhook-endpoints/" + ep.Id + "/deliveries/" + eventID} {
		if resp, _ := a.call(t, "GET", path, other, nil); resp.StatusCode != 404 {
			t.Errorf("another tenant GET %s: %d, want 404", path, resp.StatusCode)
		}
	}
	if resp, _ := a.call(t, "GET", "/v1/webhook-endpoints", a.token(t, "t1", "read-virtual-account"), nil); resp.StatusCode != 403 {
		t.Errorf("without manage-webhooks: %d, want 403", resp.StatusCode)
	}
	if resp, body := a.call(t, "DELETE", "/v1/webhook-endpoints/"+ep.Id, tok, nil); resp.StatusCode != 204 {
		t.Fatalf("delete: %d %s", resp.StatusCode, body)
	}
	if resp, _ := a.call(t, "GET", "/v1/webhook-endpoints/"+ep.Id, tok, nil); resp.StatusCode != 404 {
		t.Errorf("deleted endpoint: %d", resp.StatusCode)
	}
}

// Refused registrations and bad bodies are 400 problems naming the field.
func TestWebhookEndpointBadInput(t *testing.T) {
	a := webhookAPI(t)
	tok := a.token(t, "t1")
	tests := []struct {
		name, method, body string
		pointers           []string
	}{
		{"url missing", "POST", `{}`, []string{"/url"}},
		{"127.0.0.2 (not allowlisted)", "POST", `{"url":"https://127.0.0.2/hooks"}`, []string{"/url"}},
		{"10.x", "POST", `{"url":"https://10.0.0.1/hooks"}`, []string{"/url"}},
		{"metadata address", "POST", `{"url":"https://169.254.169.254/latest/meta-data"}`, []string{"/url"}},
		{"[::1]", "POST", `{"url":"https://[::1]:8443/hooks"}`, []string{"/url"}},
		{"credentials in the url", "POST", `{"url":"https://user:pw@127.0.0.1/hooks"}`, []string{"/url"}},
		{"unknown event type", "POST", `{"url":"https://127.0.0.1/h","events":["account.exploded"]}`, []string{"/events/0"}},
		{"empty events", "POST", `{"url":"https://127.0.0.1/h","events":[]}`, []string{"/events"}},
		{"duplicate event type", "POST", `{"url":"https://127.0.0.1/h","events":["job.completed","job.completed"]}`, []string{"/events/1"}},
		{"unknown field", "POST", `{"url":"https://127.0.0.1/h","secret":"whsec_x"}`, []string{"/secret"}},
		{"description too long", "POST", `{"url":"https://127.0.0.1/h","description":"` + strings.Repeat("d", 256) + `"}`, []string{"/description"}},
		{"empty update", "PATCH", `{}`, []string{""}},
		{"null url", "PATCH", `{"url":null}`, []string{"/url"}},
		{"update to a private url", "PATCH", `{"url":"https://192.168.1.10/h"}`, []string{"/url"}},
	}
	resp, body := a.call(t, "POST", "/v1/webhook-endpoints", tok, strings.NewReader(`{"url":"http://127.0.0.1:9/hooks"}`))
	ep := decode[openapi.WebhookEndpoint](t, resp, body, 201)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := "/v1/webhook-endpoints"
			if tc.method == "PATCH" {
				path += "/" + ep.Id
			}
			resp, body := a.call(t, tc.method, path, tok, strings.NewReader(tc.body))
			p := decode[problem](t, resp, body, 400)
			var ptrs []string
			for _, e := range p.Errors {
				ptrs = append(ptrs, e.Pointer)
			}
			if p.Code != "validation_failed" || strings.Join(ptrs, ",") != strings.Join(tc.pointers, ",") {
				t.Errorf("problem %s, want pointers %v", body, tc.pointers)
			}
		})
	}
	t.Run("callbackUrl not an endpoint", func(t *testing.T) {
		resp, body := a.call(t, "POST", "/v1/virtual-accounts", tok, strings.NewReader(`{"callbackUrl":"http://127.0.0.1:9/other","items":[`+named+`]}`))
		if p := decode[problem](t, resp, body, 400); len(p.Errors) != 1 || p.Errors[0].Pointer != "/callbackUrl" {
			t.Errorf("problem %s", body)
		}
	})
	t.Run("overlap out of range", func(t *testing.T) {
		resp, body := a.call(t, "POST", "/v1/webhook-endpoints/"+ep.Id+"/rotate-secret", tok, strings.NewReader(`{"overlapSeconds":604801}`))
		if p := decode[problem](t, resp, body, 400); len(p.Errors) != 1 || p.Errors[0].Pointer != "/overlapSeconds" {
			t.Errorf("problem %s", body)
		}
	})
}
