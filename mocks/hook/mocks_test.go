package hook_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vagate/vagate/mocks/batchvamock"
	"github.com/vagate/vagate/mocks/hook"
	"github.com/vagate/vagate/mocks/masterfiatmock"
	"github.com/vagate/vagate/mocks/parentprimarymock"
	"github.com/vagate/vagate/mocks/subaccountmock"
)

// mock is what this test needs of a bundled mock.
type mock interface {
	http.Handler
	Outbox() *hook.Outbox
	Close()
}

// sender is a bundled mock that sends webhooks: how to open it with a
// receiver at hookURL, cause one event for that receiver through its HTTP
// API, and check a received webhook's signature as the provider's
// documents say.
type sender struct {
	name   string
	open   func(t *testing.T, hookURL string) mock
	cause  func(t *testing.T, m mock, mockURL, hookURL string)
	verify func(r *http.Request, body []byte) bool
}

const mfSecret = "whsec_test"

var senders = []sender{
	{
		name: "batchva",
		open: func(t *testing.T, hookURL string) mock {
			return batchvamock.New(&batchvamock.Options{Seed: 1, PendingDelay: -1, ProcessDelay: -1})
		},
		cause: func(t *testing.T, m mock, mockURL, hookURL string) {
			tok, err := m.(*batchvamock.Mock).Token(batchvamock.DefaultClient().ID)
			if err != nil {
				t.Fatal(err)
			}
			post(t, mockURL+"/v1/virtual-accounts", tok,
				`{"callbackUrl":"`+hookURL+`","items":[{"currency":"USD","accountHolderName":"Ada","accountName":"Ada Ltd"}]}`)
		},
		verify: func(r *http.Request, body []byte) bool {
			mac := hmac.New(sha256.New, []byte(batchvamock.DefaultClient().SigningSecret))
			mac.Write(batchvamock.SignedPayload(r.Header.Get(batchvamock.HeaderTimestamp), r.Header.Get(batchvamock.HeaderNonce), body))
			sig, err := base64.StdEncoding.DecodeString(r.Header.Get(batchvamock.HeaderSignature))
			return err == nil && hmac.Equal(sig, mac.Sum(nil))
		},
	},
	{
		name: "masterfiat",
		open: func(t *testing.T, hookURL string) mock {
			m := masterfiatmock.New(&masterfiatmock.Options{Seed: 1, ActivationDelay: -1, FiatAccounts: masterfiatmock.DefaultFiatAccounts()})
			if _, err := m.AddWebhook(hookURL, []string{masterfiatmock.EventCreated}, mfSecret); err != nil {
				t.Fatal(err)
			}
			return m
		},
		cause: func(t *testing.T, m mock, mockURL, hookURL string) {
			tok, err := m.(*masterfiatmock.Mock).Token(masterfiatmock.DefaultClient().ID)
			if err != nil {
				t.Fatal(err)
			}
			post(t, mockURL+"/api/v1/virtual-accounts", tok, `{"masterFiatAccountId":"fac_gbp000000000000001","currency":"GBP"}`)
		},
		verify: func(r *http.Request, body []byte) bool {
			_, created, _ := strings.Cut(r.Header.Get(masterfiatmock.HeaderSignatureInput), "created=")
			sec, err := strconv.ParseInt(created, 10, 64)
			if err != nil {
				return false
			}
			digest, _, sig := masterfiatmock.Sign(mfSecret, body, sec)
			return r.Header.Get(masterfiatmock.HeaderDigest) == digest && r.Header.Get(masterfiatmock.HeaderSignature) == sig
		},
	},
}

func post(t *testing.T, url, token, body string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode >= 300 {
		t.Fatalf("POST %s: %d", url, res.StatusCode)
	}
}

// arrival is one webhook a receiver got.
type arrival struct {
	at   time.Time
	req  *http.Request
	body []byte
}

// A webhook fault scripted through the admin API takes effect on every mock
// that sends webhooks.
func TestEveryMockAppliesWebhookFaults(t *testing.T) {
	tests := []struct {
		name   string
		script string
		events int
		check  func(t *testing.T, s sender, start time.Time, got []arrival, sent []hook.Delivery)
	}{
		{"none", `{}`, 1, func(t *testing.T, s sender, _ time.Time, got []arrival, _ []hook.Delivery) {
			if len(got) != 1 || !s.verify(got[0].req, got[0].body) {
				t.Errorf("got %d webhooks (want 1 that verifies)", len(got))
			}
		}},
		{"drop", `{"dropRate":1}`, 1, func(t *testing.T, _ sender, _ time.Time, got []arrival, sent []hook.Delivery) {
			if len(got) != 0 || len(sent) != 1 || !sent[0].Dropped {
				t.Errorf("got %d webhooks, records %+v; want none and one dropped", len(got), sent)
			}
		}},
		{"duplicate", `{"rules":[{"action":"duplicate"}]}`, 1, func(t *testing.T, s sender, _ time.Time, got []arrival, _ []hook.Delivery) {
			if len(got) != 2 || !bytes.Equal(got[0].body, got[1].body) || !s.verify(got[1].req, got[1].body) {
				t.Errorf("got %d webhooks, want the same one twice", len(got))
			}
		}},
		{"delay", `{"delay":"400ms"}`, 1, func(t *testing.T, _ sender, start time.Time, got []arrival, _ []hook.Delivery) {
			if len(got) != 1 {
				t.Fatalf("got %d webhooks, want one", len(got))
			}
			if d := got[0].at.Sub(start); d < 400*time.Millisecond {
				t.Errorf("arrived %v after the event, want 400ms or more", d)
			}
		}},
		{"corrupt signature", `{"corruptRate":1}`, 1, func(t *testing.T, s sender, _ time.Time, got []arrival, _ []hook.Delivery) {
			if len(got) != 1 || s.verify(got[0].req, got[0].body) {
				t.Errorf("got %d webhooks, want one whose signature does not verify", len(got))
			}
		}},
		{"reorder", `{"rules":[{"action":"reorder","times":1}],"maxHold":"5s"}`, 2, func(t *testing.T, _ sender, _ time.Time, got []arrival, sent []hook.Delivery) {
			if len(got) != 2 || len(sent) != 2 || !bytes.Equal(got[0].body, sent[1].Body) || !bytes.Equal(got[1].body, sent[0].Body) {
				t.Errorf("got %d webhooks, want the second event's first", len(got))
			}
		}},
	}
	for _, s := range senders {
		for _, tc := range tests {
			t.Run(s.name+"/"+tc.name, func(t *testing.T) {
				arrivals := make(chan arrival, 8)
				recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					var b bytes.Buffer
					b.ReadFrom(r.Body)
					arrivals <- arrival{time.Now(), r.Clone(t.Context()), b.Bytes()}
				}))
				t.Cleanup(recv.Close)
				m := s.open(t, recv.URL)
				srv := httptest.NewServer(m)
				t.Cleanup(func() { srv.Close(); m.Close() })

				req, _ := http.NewRequest(http.MethodPut, srv.URL+hook.AdminPath, strings.NewReader(tc.script))
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					t.Fatalf("PUT %s: %d", hook.AdminPath, res.StatusCode)
				}
				start := time.Now()
				for i := range tc.events {
					s.cause(t, m, srv.URL, recv.URL)
					waitFor(t, func() bool { return len(m.Outbox().Deliveries()) > i })
				}
				var got []arrival
				quiet := time.After(700 * time.Millisecond)
			collect:
				for {
					select {
					case a := <-arrivals:
						got = append(got, a)
						quiet = time.After(300 * time.Millisecond)
					case <-quiet:
						break collect
					}
				}
				sent := m.Outbox().Deliveries()
				tc.check(t, s, start, got, sent)
				if _, st := m.Outbox().Faults(); st.Deliveries != tc.events {
					t.Errorf("stats %+v, want %d deliveries through the outbox", st, tc.events)
				}
			})
		}
	}
}

// Mocks that send no webhooks mount no webhook fault route.
func TestMocksWithoutWebhooks(t *testing.T) {
	for name, m := range map[string]mock{
		"parentprimary": parentprimarymock.New(nil),
		"subaccount":    subaccountmock.New(nil),
	} {
		t.Run(name, func(t *testing.T) {
			defer m.Close()
			if m.Outbox() != nil {
				t.Error("has an outbox")
			}
			for _, p := range []string{hook.AdminPath, hook.AdminAliasPath} {
				rec := httptest.NewRecorder()
				m.ServeHTTP(rec, httptest.NewRequest(http.MethodPut, p, strings.NewReader(`{"dropRate":1}`)))
				if rec.Code != http.StatusNotFound {
					t.Errorf("PUT %s: %d, want 404", p, rec.Code)
				}
			}
		})
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(2 * time.Millisecond)
	}
}
