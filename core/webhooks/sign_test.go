package webhooks_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/vagate/vagate/core/webhooks"
)

// headers are the Standard Webhooks headers of a message.
func headers(id string, ts time.Time, sig string) http.Header {
	h := http.Header{}
	h.Set(standardwebhooks.HeaderWebhookID, id)
	h.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(standardwebhooks.HeaderWebhookSignature, sig)
	return h
}

// Signatures verify with the Standard Webhooks project's own library, with
// one secret or two (a rotation's overlap), and fail with the wrong secret
// or a changed body.
func TestSignVerifiesWithStandardWebhooksLibrary(t *testing.T) {
	oldS, newS, other := webhooks.NewSecret(), webhooks.NewSecret(), webhooks.NewSecret()
	body := []byte(`{"id":"evt_1","type":"job.completed","data":{}}`)
	now := time.Now()
	tests := []struct {
		name     string
		signWith []webhooks.Secret
		verify   webhooks.Secret
		body     []byte
		ok       bool
	}{
		{"one secret", []webhooks.Secret{newS}, newS, body, true},
		{"overlap, receiver has the new secret", []webhooks.Secret{newS, oldS}, newS, body, true},
		{"overlap, receiver still has the old secret", []webhooks.Secret{newS, oldS}, oldS, body, true},
		{"wrong secret", []webhooks.Secret{newS, oldS}, other, body, false},
		{"body changed", []webhooks.Secret{newS}, newS, append(bytes.Clone(body), ' '), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sig, err := webhooks.Sign("evt_1", now, body, tc.signWith...)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(strings.Fields(sig)); n != len(tc.signWith) {
				t.Errorf("%d signatures, want %d: %s", n, len(tc.signWith), sig)
			}
			wh, err := standardwebhooks.NewWebhook(string(tc.verify))
			if err != nil {
				t.Fatal(err)
			}
			err = wh.Verify(tc.body, headers("evt_1", now, sig))
			if (err == nil) != tc.ok {
				t.Errorf("Verify = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// A generated secret is whsec_ and base64 of 32 random bytes, and no two
// are the same.
func TestNewSecret(t *testing.T) {
	seen := map[webhooks.Secret]bool{}
	for range 100 {
		s := webhooks.NewSecret()
		raw, ok := strings.CutPrefix(string(s), "whsec_")
		if !ok || len(raw) != 44 {
			t.Fatalf("secret %.10s... is not whsec_ + base64 of 32 bytes", s)
		}
		if seen[s] {
			t.Fatal("the same secret twice")
		}
		seen[s] = true
	}
}

// An endpoint's secrets never show in logs, formatted output or JSON.
func TestEndpointSecretsNeverShow(t *testing.T) {
	e := &webhooks.Endpoint{ID: "we_1", Secret: webhooks.NewSecret(), PreviousSecret: webhooks.NewSecret()}
	var out bytes.Buffer
	slog.New(slog.NewJSONHandler(&out, nil)).Info("endpoint", "endpoint", e, "secret", e.Secret)
	slog.New(slog.NewTextHandler(&out, nil)).Info("endpoint", "endpoint", *e, "secret", e.Secret)
	fmt.Fprintf(&out, "%v %+v %#v %s", e, *e, *e, e.Secret)
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	out.Write(b)
	for _, s := range []webhooks.Secret{e.Secret, e.PreviousSecret} {
		raw := strings.TrimPrefix(string(s), "whsec_")
		if strings.Contains(out.String(), raw) {
			t.Errorf("a secret shows in:\n%s", out.String())
		}
	}
	if !strings.Contains(out.String(), "[REDACTED]") {
		t.Errorf("no redaction marker: the secrets may not have been printed at all:\n%s", out.String())
	}
}
