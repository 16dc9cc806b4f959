package gateway

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestResendPolicy: the transport resends a request only when HTTP says it
// cannot change state or the Provider marked its call; nothing the adapter
// puts on the request (an Idempotency-Key header) decides it.
func TestResendPolicy(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		key     bool
		flagged bool
		hits    int32
	}{
		{"GET resendable", http.MethodGet, false, false, 3},
		{"POST without the flag not", http.MethodPost, false, false, 1},
		{"POST with an Idempotency-Key header but no flag not", http.MethodPost, true, false, 1},
		{"POST flagged by the Provider resendable", http.MethodPost, false, true, 3},
		{"POST flagged, with a key header, resendable", http.MethodPost, true, true, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var hits atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				hits.Add(1)
				w.Header().Set("Retry-After", "0")
				w.WriteHeader(http.StatusServiceUnavailable)
			}))
			t.Cleanup(srv.Close)
			c := NewClient("p", &Limits{MaxAttempts: 3, BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond}, nil, nil)
			ctx := context.Context(t.Context())
			if tc.flagged {
				ctx = withResend(ctx)
			}
			if got := resendable(ctx, tc.method); got != (tc.hits > 1) {
				t.Errorf("resendable = %v", got)
			}
			req, _ := http.NewRequestWithContext(ctx, tc.method, srv.URL, strings.NewReader(`{"x":1}`))
			if tc.key {
				req.Header.Set("Idempotency-Key", "3f2b1c9e-8a4d-4e6f-9b1a-2c3d4e5f6a7b")
			}
			resp, err := c.HTTP().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if n := hits.Load(); n != tc.hits {
				t.Errorf("%d attempts, want %d", n, tc.hits)
			}
		})
	}
}
