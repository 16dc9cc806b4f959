package masterfiatmock_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vagate/vagate/mocks/fault"
	"github.com/vagate/vagate/mocks/hook"
	"github.com/vagate/vagate/mocks/masterfiatmock"
)

// verify checks a webhook's signature with stdlib code only, as a receiver would.
func verify(r *http.Request, body []byte, secret string) bool {
	sum := sha1.Sum(body)
	digest := hex.EncodeToString(sum[:])
	if r.Header.Get("Digest") != digest {
		return false
	}
	params, ok := strings.CutPrefix(r.Header.Get("Signature-Input"), "fr1=")
	if !ok {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "\"digest\": %s\n@signature-params: %s", digest, params)
	return r.Header.Get("Signature") == "fr1=:"+hex.EncodeToString(mac.Sum(nil))+":"
}

func TestWebhookSignature(t *testing.T) {
	e := newEnv(t, nil)
	s := newSink(t)
	r := e.do(http.MethodPost, "/api/v1/webhooks", "-", `{"url":"`+s.srv.URL+`","events":["VIRTUAL_ACCOUNT.STATUS_UPDATED"],"description":"vagate"}`)
	var wh masterfiatmock.Webhook
	r.decode(t, &wh)
	if r.status != 201 || !strings.HasPrefix(wh.ID, "whk_") || wh.SecretKey == "" || wh.Status != "ENABLED" {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	if l := e.do(http.MethodGet, "/api/v1/webhooks", "-", ""); l.status != 200 || !strings.Contains(string(l.body), wh.ID) || strings.Contains(string(l.body), wh.SecretKey) {
		t.Errorf("list: %d %s", l.status, l.body)
	}
	v := e.create(gbp(""))
	evs, reqs, bodies := s.events(t, 1)
	ev, req := evs[0], reqs[0]
	if ev.Event != "VIRTUAL_ACCOUNT.STATUS_UPDATED" || ev.Data.ID != v.ID || ev.Data.Status != "ACTIVE" ||
		ev.PreviousValues["status"] != "CREATED" || ev.CreatedAt != ev.Data.UpdatedAt {
		t.Fatalf("event %+v", ev)
	}
	if want := fmt.Sprintf(`fr1=("digest");created=%d`, ev.CreatedAt/1000); req.Header.Get("Signature-Input") != want {
		t.Errorf("Signature-Input %q, want %q", req.Header.Get("Signature-Input"), want)
	}
	if !verify(req, bodies[0], wh.SecretKey) {
		t.Fatal("genuine webhook does not verify")
	}
	if verify(req, bytes.Replace(bodies[0], []byte(`"ACTIVE"`), []byte(`"CLOSED"`), 1), wh.SecretKey) {
		t.Error("tampered body verifies")
	}
	if verify(req, bodies[0], "wrong-secret") {
		t.Error("verifies with another secret")
	}
	d, i, sig := masterfiatmock.Sign(wh.SecretKey, bodies[0], ev.CreatedAt/1000)
	if d != req.Header.Get("Digest") || i != req.Header.Get("Signature-Input") || sig != req.Header.Get("Signature") {
		t.Error("Sign disagrees with the headers sent")
	}
	if r := e.do(http.MethodDelete, "/api/v1/webhooks/"+wh.ID, "-", ""); r.status != 204 || len(e.m.Webhooks()) != 0 {
		t.Errorf("delete: %d %s", r.status, r.body)
	}
	for _, body := range []string{`{"url":"ftp://x","events":["VIRTUAL_ACCOUNT.STATUS_UPDATED"]}`, `{"url":"http://x","events":[]}`,
		`{"url":"http://x","events":["PAYMENT.CREATED"]}`, `{"url":"http://x","events":["VIRTUAL_ACCOUNT.CREATED"],"x":1}`} {
		if r := e.do(http.MethodPost, "/api/v1/webhooks", "-", body); r.status != 400 {
			t.Errorf("register %s: %d %s", body, r.status, r.body)
		}
	}
}

// Webhooks arrive in order; the QA faults drop, duplicate or delay (reorder) them.
func TestWebhookFaults(t *testing.T) {
	tests := []struct {
		name  string
		rules []hook.Rule
		want  []string
	}{
		{"in order", nil, []string{"ACTIVE", "BLOCKED", "UNBLOCKING", "ACTIVE"}},
		{"drop", []hook.Rule{{Action: "drop", Status: "ACTIVE", Times: 1}},
			[]string{"BLOCKED", "UNBLOCKING", "ACTIVE"}},
		{"duplicate", []hook.Rule{{Action: "duplicate", Status: "BLOCKED"}},
			[]string{"ACTIVE", "BLOCKED", "BLOCKED", "UNBLOCKING", "ACTIVE"}},
		{"out of order", []hook.Rule{{Action: "delay", Status: "UNBLOCKING", Delay: fault.Duration(300 * time.Millisecond)}},
			[]string{"ACTIVE", "BLOCKED", "ACTIVE", "UNBLOCKING"}},
		{"other event only", []hook.Rule{{Action: "drop", Event: "VIRTUAL_ACCOUNT.CREATED"}},
			[]string{"ACTIVE", "BLOCKED", "UNBLOCKING", "ACTIVE"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, &masterfiatmock.Options{UnblockDelay: 20 * time.Millisecond})
			s := newSink(t)
			wh, err := e.m.AddWebhook(s.srv.URL, []string{masterfiatmock.EventStatusUpdated}, "sec")
			if err != nil || wh.SecretKey != "sec" {
				t.Fatalf("AddWebhook: %+v %v", wh, err)
			}
			if err := e.m.Outbox().SetFaults(hook.Faults{Rules: tc.rules}); err != nil {
				t.Fatal(err)
			}
			v := e.create(gbp(""))
			e.waitStatus(v.ID, "ACTIVE")
			e.do(http.MethodPost, "/api/v1/virtual-accounts/"+v.ID+"/block", "-", "")
			e.do(http.MethodPost, "/api/v1/virtual-accounts/"+v.ID+"/unblock", "-", "")
			e.waitStatus(v.ID, "ACTIVE")
			_, reqs, bodies := s.events(t, len(tc.want))
			time.Sleep(50 * time.Millisecond) // nothing more arrives
			evs, _, _ := s.events(t, len(tc.want))
			var got []string
			var last int64
			for i, ev := range evs {
				got = append(got, ev.Data.Status)
				if !verify(reqs[i], bodies[i], "sec") {
					t.Errorf("webhook %d does not verify", i)
				}
				if tc.name == "in order" && ev.Data.UpdatedAt <= last {
					t.Errorf("updatedAt not increasing: %d after %d", ev.Data.UpdatedAt, last)
				}
				last = ev.Data.UpdatedAt
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("statuses %v, want %v", got, tc.want)
			}
			ds := e.m.Deliveries()
			var faults int
			for _, d := range ds {
				if d.Fault != "" {
					faults++
				}
				if d.Dropped != (d.Fault == "drop") || (!d.Dropped && !d.Delivered) {
					t.Errorf("delivery %+v", d)
				}
			}
			if (len(tc.rules) > 0 && tc.name != "other event only") != (faults > 0) {
				t.Errorf("%d deliveries with a fault", faults)
			}
		})
	}
}

func TestWebhookRetries(t *testing.T) {
	e := newEnv(t, nil)
	s := newSink(t)
	s.status = http.StatusInternalServerError
	e.m.AddWebhook(s.srv.URL, []string{masterfiatmock.EventCreated}, "")
	e.create(gbp(""))
	s.events(t, masterfiatmock.WebhookAttempts)
	deadline := time.Now().Add(2 * time.Second)
	for {
		ds := e.m.Deliveries()
		if len(ds) == 1 && ds[0].Attempts == masterfiatmock.WebhookAttempts {
			if ds[0].Delivered || ds[0].LastCode != 500 || ds[0].Event != masterfiatmock.EventCreated {
				t.Fatalf("delivery %+v", ds[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries %+v", ds)
		}
		time.Sleep(5 * time.Millisecond)
	}
	var adm struct {
		Deliveries []masterfiatmock.Delivery `json:"deliveries"`
	}
	e.do(http.MethodGet, "/__admin/webhooks/deliveries", "", "").decode(t, &adm)
	if len(adm.Deliveries) != 1 || adm.Deliveries[0].Attempts != 3 {
		t.Errorf("admin deliveries %+v", adm.Deliveries)
	}
}
