package batchvamock_test

import (
	"bytes"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"testing"
	"time"

	"github.com/vagate/vagate/mocks/batchvamock"
)

// verify checks a callback's signature with stdlib code only, as a receiver would.
func verify(r *http.Request, body []byte, secret string, pub *rsa.PublicKey) bool {
	sig, err := base64.StdEncoding.DecodeString(r.Header.Get("Bcb-Signature"))
	if err != nil {
		return false
	}
	msg := []byte(r.Header.Get("Bcb-Timestamp") + "." + r.Header.Get("Bcb-Nonce") + "." + string(body))
	if pub != nil {
		sum := sha256.Sum256(msg)
		return rsa.VerifyPSS(pub, crypto.SHA256, sum[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(msg)
	return hmac.Equal(mac.Sum(nil), sig)
}

func TestCallbackSigning(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	all := batchvamock.DefaultClient().Permissions
	tests := []struct {
		name    string
		client  batchvamock.Client
		rsa     bool
		version string
	}{
		{"hmac", batchvamock.Client{ID: "hm", Secret: "s1", SigningSecret: "msg-secret", Permissions: all}, false, ""},
		{"rsa-pss", batchvamock.Client{ID: "rs", Secret: "s2", SigningSecret: "unused", RSAKey: key, Permissions: all}, true, "rsa-v1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, &batchvamock.Options{Clients: []batchvamock.Client{tc.client}})
			cb := newSink(t, nil)
			acc := e.create(map[string]any{"callbackUrl": cb.srv.URL, "customHeaders": map[string]string{"X-Trace": "abc"},
				"items": []any{named("CB-1")}}, nil)
			r, body := cb.next(t)

			var pub *rsa.PublicKey
			if tc.rsa {
				pemResp := e.do(http.MethodGet, "/__admin/signing-key?clientId="+tc.client.ID, "", nil, nil)
				block, _ := pem.Decode(pemResp.body)
				if block == nil || block.Type != "PUBLIC KEY" {
					t.Fatalf("signing key: %d %s", pemResp.status, pemResp.body)
				}
				k, err := x509.ParsePKIXPublicKey(block.Bytes)
				if err != nil {
					t.Fatal(err)
				}
				pub = k.(*rsa.PublicKey)
			}
			if got := r.Header.Get("Bcb-Signature-Version"); got != tc.version {
				t.Errorf("Bcb-Signature-Version = %q, want %q", got, tc.version)
			}
			if _, ok := r.Header["Bcb-Signature-Version"]; !tc.rsa && ok {
				t.Error("HMAC callback carries Bcb-Signature-Version")
			}
			if r.Header.Get("X-Trace") != "abc" || r.Header.Get("Bcb-Nonce") == "" || r.Header.Get("Bcb-Timestamp") == "" {
				t.Errorf("callback headers %v", r.Header)
			}
			if !verify(r, body, tc.client.SigningSecret, pub) {
				t.Fatal("genuine callback does not verify")
			}
			tampered := bytes.Replace(body, []byte(acc.JobID), []byte("00000000-0000-4000-8000-000000000000"), 1)
			if verify(r, tampered, tc.client.SigningSecret, pub) {
				t.Error("tampered body verifies")
			}
			if !tc.rsa && verify(r, body, "wrong-secret", nil) {
				t.Error("verifies with the wrong secret")
			}
			recs := []batchvamock.CallbackRecord{awaitRecord(t, e.m, 1)}
			if len(recs) != 1 || recs[0].Attempts != 1 || !recs[0].Delivered || recs[0].LastStatus != 200 || !bytes.Equal(recs[0].Body, body) || recs[0].JobID != acc.JobID {
				t.Errorf("records %+v", recs)
			}
		})
	}
}

func TestCallbackRetries(t *testing.T) {
	tests := []struct {
		name      string
		status    func(n int) int
		attempts  int
		delivered bool
		last      int
	}{
		{"first answer 2xx", nil, 1, true, 200},
		{"two failures then success", func(n int) int {
			if n < 3 {
				return 500
			}
			return 204
		}, 3, true, 204},
		{"always failing", func(int) int { return 503 }, 3, false, 503},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			cb := newSink(t, tc.status)
			e.create(map[string]any{"callbackUrl": cb.srv.URL, "items": []any{named("R")}}, nil)
			for range tc.attempts {
				cb.next(t)
			}
			rec := awaitRecord(t, e.m, tc.attempts)
			time.Sleep(250 * time.Millisecond) // no further attempt comes
			if got := len(e.m.Callbacks()); got != 1 || rec.Attempts != tc.attempts || rec.Delivered != tc.delivered || rec.LastStatus != tc.last {
				t.Errorf("%d records, record %+v; want %d attempts, delivered %v, last %d", got, rec, tc.attempts, tc.delivered, tc.last)
			}
			if again := e.m.Callbacks()[0].Attempts; again != tc.attempts {
				t.Errorf("attempts went on to %d", again)
			}
			var adm struct {
				Callbacks []batchvamock.CallbackRecord `json:"callbacks"`
			}
			e.do(http.MethodGet, "/__admin/callbacks", "", nil, nil).decode(t, &adm)
			if len(adm.Callbacks) != 1 || adm.Callbacks[0].Attempts != tc.attempts {
				t.Errorf("admin callbacks %+v", adm.Callbacks)
			}
		})
	}
}

// awaitRecord waits until the mock's only callback record shows attempts.
func awaitRecord(t *testing.T, m *batchvamock.Mock, attempts int) batchvamock.CallbackRecord {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if recs := m.Callbacks(); len(recs) == 1 && recs[0].Attempts == attempts {
			return recs[0]
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("callback records %+v, want one with %d attempts", m.Callbacks(), attempts)
	return batchvamock.CallbackRecord{}
}
