package gateway_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/vagate/vagate/core/gateway"
)

// Each attempt is signed (countingSigner, in resilience_test.go) and carries its own span's traceparent in its own
// headers; the adapter's request is never changed, so a retry cannot send
// (or race with) an earlier attempt's signature or span.
func TestAttemptsHaveTheirOwnHeaders(t *testing.T) {
	var mu sync.Mutex
	var seen []http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		n := len(seen)
		mu.Unlock()
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	c := gateway.NewClient("p", fast(gateway.Limits{MaxAttempts: 2}), nil, nil)
	c.Instrument(sdktrace.NewTracerProvider(), sdkmetric.NewMeterProvider())
	c.SetSigner(&countingSigner{})

	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL+"/accounts/1", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.HTTP().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(seen) != 2 {
		t.Fatalf("status %d after %d attempts, want 200 after 2", resp.StatusCode, len(seen))
	}
	for i, h := range seen {
		if h.Get("X-Nonce") != strconv.Itoa(i+1) || h.Get("Accept") != "application/json" {
			t.Errorf("attempt %d headers %v: want its own signature %d and the adapter's Accept", i+1, h, i+1)
		}
	}
	if a, b := seen[0].Get("traceparent"), seen[1].Get("traceparent"); a == "" || a == b {
		t.Errorf("traceparents %q and %q: want one per attempt", a, b)
	}
	if req.Header.Get("X-Nonce") != "" || req.Header.Get("traceparent") != "" || len(req.Header) != 1 {
		t.Errorf("the adapter's request was changed: %v", req.Header)
	}
}
