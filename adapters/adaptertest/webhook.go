package adaptertest

import (
	"bytes"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/provider"
)

// Callback is what a callback the suite asks for is about: a create the
// suite made through the provider.
type Callback struct {
	// Request is the create request.
	Request *provider.CreateRequest
	// Operation is the create's operation at an asynchronous provider ("" otherwise).
	Operation string
	// Account is the first item's account.
	Account *bank.Account
	// SignedAt is the time the provider signs the callback with.
	SignedAt time.Time
}

// WebhookHarness is implemented by the harness of an adapter that
// verifies the provider's callbacks (provider.WebhookVerifier).
type WebhookHarness interface {
	Harness
	// SignedCallback returns the callback the provider would send about c,
	// signed the way the provider (and its mock) signs, with the secret or
	// key the adapter was opened with, at c.SignedAt: the request and its body.
	SignedCallback(t testing.TB, c Callback) (*http.Request, []byte)
	// CallbackTolerance is how far from now a callback's signed time may be
	// (the provider's document or the adapter's documented choice), 0 when
	// the adapter checks none.
	CallbackTolerance() time.Duration
}

// NonceHarness is implemented by the WebhookHarness of a provider whose
// callbacks carry a signed single-use nonce (batchva's Bcb-Nonce): the
// adapter must refuse a callback whose nonce it has already accepted.
type NonceHarness interface {
	WebhookHarness
	// SingleUseNonce reports whether the provider's callbacks carry one.
	SingleUseNonce() bool
}

// testWebhooks: a callback signed as the provider signs it is accepted and
// says what happened to the suite's create; a tampered body, and one
// signed outside the tolerance, are refused as Unauthenticated.
//
// A replayed callback whose provider signs a single-use nonce
// (NonceHarness) is refused as Unauthenticated: the nonce is there to be
// checked. (Each adapter instance remembers the nonces it accepted within
// the tolerance; a replay to another gateway instance is accepted there,
// and harmless, as below.) Any other replay is accepted again: masterfiat
// retries a webhook with its original signature. What makes such a replay
// harmless lives above the adapter: the gateway merges account events by
// the provider's time (core/accounts ignores one not newer than the state
// it holds), and a replayed job-finished only wakes a poll. So the
// adapter's part, checked here, is that a replay yields exactly the same
// events, dated by the provider and not by the time of verification.
func testWebhooks(t *testing.T, f *fixture) {
	p := f.p
	if !p.Supports(provider.CapWebhooks) {
		t.Logf("provider takes no callbacks; UnsupportedCapabilities checks that they are refused")
		return
	}
	wh, ok := f.h.(WebhookHarness)
	if !ok {
		t.Fatalf("the provider declares webhooks: its harness must implement adaptertest.WebhookHarness")
	}
	c := callbackAbout(t, f)
	signed := func(at time.Time) (*http.Request, []byte) {
		t.Helper()
		c := c
		c.SignedAt = at
		return wh.SignedCallback(t, c)
	}
	refused := func(t *testing.T, what string, r *http.Request, body []byte) {
		t.Helper()
		evs, err := p.VerifyWebhook(r, body)
		if bank.Code(err) != bank.Unauthenticated {
			t.Fatalf("%s: %d events, err = %v; want unauthenticated", what, len(evs), err)
		}
		wantBankError(t, f, err, "webhook")
	}

	t.Run("Valid", func(t *testing.T) {
		r, body := signed(time.Now())
		evs, err := p.VerifyWebhook(r, body)
		if err != nil {
			t.Fatalf("a callback signed as the provider signs: %v", err)
		}
		checkEvents(t, c, evs)
	})
	t.Run("TamperedBody", func(t *testing.T) {
		r, body := signed(time.Now())
		// Still valid JSON: only the signature can tell.
		refused(t, "body with a trailing space", r, append(bytes.Clone(body), ' '))
		refused(t, "empty body", r, nil)
	})
	t.Run("NoSignature", func(t *testing.T) {
		_, body := signed(time.Now())
		r, err := http.NewRequest(http.MethodPost, "http://gateway.test/v1/providers/x/webhooks", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Content-Type", "application/json")
		refused(t, "unsigned callback", r, body)
	})
	t.Run("Timestamp", func(t *testing.T) {
		tol := wh.CallbackTolerance()
		if tol <= 0 {
			t.Logf("the adapter checks no callback time")
			return
		}
		now := time.Now()
		for what, at := range map[string]time.Time{
			"signed before the tolerance": now.Add(-tol - time.Minute),
			"signed after the tolerance":  now.Add(tol + time.Minute),
		} {
			r, body := signed(at)
			refused(t, what, r, body)
		}
		r, body := signed(now.Add(-tol + time.Minute))
		if _, err := p.VerifyWebhook(r, body); err != nil {
			t.Errorf("signed within the tolerance of %s: %v; want accepted", tol, err)
		}
	})
	t.Run("Replay", func(t *testing.T) {
		r, body := signed(time.Now().Add(-time.Minute))
		first, err := p.VerifyWebhook(r, body)
		if err != nil {
			t.Fatalf("first delivery: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
		if nh, ok := wh.(NonceHarness); ok && nh.SingleUseNonce() {
			refused(t, "the same callback again (its nonce used)", r, body)
			if _, err := p.VerifyWebhook(signed(time.Now())); err != nil {
				t.Errorf("another callback, with a fresh nonce: %v; want accepted", err)
			}
			return
		}
		again, err := p.VerifyWebhook(r, body)
		if err != nil {
			t.Fatalf("replayed delivery: %v; the provider signs no single-use nonce, so replays are settled above the adapter", err)
		}
		if !reflect.DeepEqual(first, again) {
			t.Errorf("a replay yields other events:\nfirst  %+v\nreplay %+v\nwant the same, dated by the provider, so the gateway can tell it is not newer", first, again)
		}
	})
}

// callbackAbout makes the create a callback will be about.
func callbackAbout(t *testing.T, f *fixture) Callback {
	t.Helper()
	req := &provider.CreateRequest{IdempotencyKey: newKey(), Items: withReferences([]provider.CreateItem{f.h.Item(ref(t))})}
	sub, err := f.p.Submit(ctx(t), req)
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	c := Callback{Request: req}
	res := sub
	if sub.Pending {
		c.Operation = sub.Operation
		res = pollDone(t, f, sub.Operation, req)
	}
	if len(res.Items) != 1 || res.Items[0].Err != nil {
		t.Fatalf("create: %+v", res.Items)
	}
	c.Account = res.Items[0].Account
	return c
}

// checkEvents checks that verified events say what happened to c's create.
func checkEvents(t *testing.T, c Callback, evs []bank.ProviderEvent) {
	t.Helper()
	if len(evs) == 0 {
		t.Fatalf("a verified callback about the create yielded no event")
	}
	for i, ev := range evs {
		switch ev.Type {
		case bank.EventJobFinished:
			if ev.ProviderJobID == "" || c.Operation == "" || !strings.Contains(c.Operation, ev.ProviderJobID) {
				t.Errorf("event %d: job %q finished, want a job of operation %q", i, ev.ProviderJobID, c.Operation)
			}
		case bank.EventAccountUpdated:
			if ev.ProviderAccountID != c.Account.ProviderAccountID || ev.Account == nil || !ev.Account.Status.Valid() {
				t.Errorf("event %d: account %q updated to %+v, want account %s with a unified status", i, ev.ProviderAccountID, ev.Account, c.Account.ProviderAccountID)
			}
		default:
			t.Errorf("event %d: unknown type %q", i, ev.Type)
		}
		if ev.At.IsZero() {
			t.Errorf("event %d is undated: the gateway could not tell it from a newer one", i)
		}
		if len(ev.Raw) == 0 {
			t.Errorf("event %d: raw payload not kept", i)
		}
	}
}
