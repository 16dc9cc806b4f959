package gateway_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/provider"
)

// The provider acts on a keyed create and its keep-alive connection breaks
// before the answer; net/http resends the request by itself on a new
// connection (it does so for requests with an Idempotency-Key) and gets a
// 503. The gateway never saw the first attempt fail, yet the create must be
// Unknown, not the 503's "the provider did not act": the account exists.
func TestHiddenTransportResendLeavesTheOutcomeUnknown(t *testing.T) {
	var posts, created atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.Method != http.MethodPost {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{}`)
			return
		}
		if posts.Add(1) == 1 {
			created.Add(1) // acted on, then the connection drops
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		w.Header().Set("Retry-After", "0")
		http.Error(w, `{"error":"busy"}`, http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	c := gateway.NewClient("p", fast(gateway.Limits{MaxAttempts: 1}), nil, nil)
	p, err := gateway.New("p", &httpFake{c: c, url: srv.URL}, &gateway.Options{Client: c})
	if err != nil {
		t.Fatal(err)
	}
	// A read first, so the create goes over a reused keep-alive connection.
	if _, err := p.GetAccount(t.Context(), "a"); err != nil {
		t.Fatal(err)
	}
	_, err = p.CreateAccounts(t.Context(), &provider.CreateRequest{IdempotencyKey: "k", Items: []provider.CreateItem{named("R1")}})
	if posts.Load() != 2 || created.Load() != 1 {
		t.Fatalf("%d POSTs reached the server (%d acted on); want the hidden resend: 2 and 1", posts.Load(), created.Load())
	}
	if bank.Code(err) != bank.Unknown {
		t.Fatalf("create after a hidden resend = %v (%s); want Unknown: the provider acted on the first", err, bank.Code(err))
	}
}
