package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/gateway"
)

func TestShouldRetry(t *testing.T) {
	netErr := errors.New("connection reset by peer")
	breakerOpen := &bank.Error{Code: bank.Unavailable, Op: "breaker", Err: fmt.Errorf("open: %w", gateway.ErrFailFast)}
	tests := []struct {
		method string
		keyed  bool
		status int
		err    error
		want   bool
	}{
		{"GET", false, 503, nil, true},
		{"GET", false, 500, nil, true},
		{"GET", false, 502, nil, true},
		{"GET", false, 504, nil, true},
		{"GET", false, 429, nil, true},
		{"GET", false, 408, nil, true},
		{"GET", false, 0, netErr, true},
		{"GET", false, 0, context.DeadlineExceeded, true},
		{"GET", false, 400, nil, false},
		{"GET", false, 404, nil, false},
		{"GET", false, 409, nil, false},
		{"GET", false, 501, nil, false},
		{"GET", false, 200, nil, false},
		{"GET", false, 0, context.Canceled, false},
		{"GET", false, 0, breakerOpen, false},
		{"POST", false, 503, nil, false},
		{"POST", false, 0, netErr, false},
		{"POST", false, 0, context.DeadlineExceeded, false},
		{"POST", true, 503, nil, true},
		{"POST", true, 0, netErr, true},
		{"POST", true, 0, context.DeadlineExceeded, true},
		{"POST", true, 400, nil, false},
		{"PATCH", false, 500, nil, false},
		{"PATCH", true, 500, nil, true},
		{"DELETE", false, 503, nil, false},
		{"DELETE", true, 503, nil, true},
	}
	for _, tc := range tests {
		name := fmt.Sprintf("%s/key=%v/%d/%v", tc.method, tc.keyed, tc.status, tc.err)
		t.Run(name, func(t *testing.T) {
			resendable := tc.method == "GET" || tc.keyed
			if got := gateway.ShouldRetry(resendable, tc.status, tc.err); got != tc.want {
				t.Errorf("ShouldRetry = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFullJitterBackoff(t *testing.T) {
	for attempt := range 6 {
		for range 50 {
			d := gateway.FullJitterBackoff(100*time.Millisecond, time.Second, attempt, nil)
			ceil := min(100*time.Millisecond<<attempt, time.Second)
			if d < 0 || d > ceil {
				t.Fatalf("attempt %d: waited %s, want within [0, %s]", attempt, d, ceil)
			}
		}
	}
	for _, status := range []int{429, 503} {
		resp := &http.Response{StatusCode: status, Header: http.Header{"Retry-After": {"3"}}}
		if d := gateway.FullJitterBackoff(100*time.Millisecond, time.Second, 0, resp); d != 3*time.Second {
			t.Errorf("%d with Retry-After 3: waited %s", status, d)
		}
	}
	date := &http.Response{StatusCode: 503, Header: http.Header{"Retry-After": {time.Now().Add(5 * time.Second).UTC().Format(http.TimeFormat)}}}
	if d := gateway.FullJitterBackoff(100*time.Millisecond, time.Second, 0, date); d < 3*time.Second || d > 5*time.Second {
		t.Errorf("Retry-After as HTTP date: waited %s", d)
	}
}

// scripted is a provider endpoint answering from a script, counting hits.
type scripted struct {
	hits   atomic.Int32
	answer func(n int32, r *http.Request) int
}

func (s *scripted) server(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		n := s.hits.Add(1)
		code := s.answer(n, r)
		if code == 0 { // hang until the client gives up
			<-r.Context().Done()
			return
		}
		if code == 429 || code == 503 {
			w.Header().Set("Retry-After", "0")
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func fast(l gateway.Limits) *gateway.Limits {
	l.BackoffMin, l.BackoffMax = time.Millisecond, 5*time.Millisecond
	if l.AttemptTimeout == 0 {
		l.AttemptTimeout = 2 * time.Second
	}
	return &l
}

func send(c *gateway.Client, ctx context.Context, method, url string, hdr ...string) (int, error) {
	req, _ := http.NewRequestWithContext(ctx, method, url, strings.NewReader(`{"x":1}`))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.HTTP().Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name   string
		method string
		hdr    []string
		answer func(n int32) int
		status int
		hits   int32
	}{
		{"read retried until it succeeds", "GET", nil, func(n int32) int { return map[bool]int{true: 503, false: 200}[n < 3] }, 200, 3},
		{"read gives up after max attempts", "GET", nil, func(int32) int { return 500 }, 500, 3},
		{"unkeyed write never resent", "POST", nil, func(int32) int { return 503 }, 503, 1},
		{"a key header alone does not make a write resendable", "POST", []string{"Idempotency-Key", "3f2b1c9e-8a4d-4e6f-9b1a-2c3d4e5f6a7b"}, func(int32) int { return 502 }, 502, 1},
		{"business refusal not resent", "GET", nil, func(int32) int { return 404 }, 404, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &scripted{answer: func(n int32, _ *http.Request) int { return tc.answer(n) }}
			srv := s.server(t)
			c := gateway.NewClient("p", fast(gateway.Limits{MaxAttempts: 3}), nil, nil)
			got, err := send(c, t.Context(), tc.method, srv.URL, tc.hdr...)
			if err != nil || got != tc.status || s.hits.Load() != tc.hits {
				t.Errorf("status %d err %v after %d attempts; want %d after %d", got, err, s.hits.Load(), tc.status, tc.hits)
			}
		})
	}
}

// A 429 or 503 whose Retry-After ends after the call's deadline (the
// caller's or CallTimeout) is not waited for: the call ends at once with
// that answer, so the caller gets the provider's refusal and its advice,
// not an expired deadline. A wait that fits is waited and retried.
func TestRetryAfterBeyondDeadline(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter string
		status     int
		deadline   time.Duration // of the caller's context; 0: none
		call       time.Duration // Limits.CallTimeout
		hits       int32
		want       int
	}{
		{"503 beyond the caller's deadline", "5", 503, 500 * time.Millisecond, 0, 1, 503},
		{"429 beyond the caller's deadline", "7", 429, 500 * time.Millisecond, 0, 1, 429},
		{"503 beyond CallTimeout", "5", 503, 0, 500 * time.Millisecond, 1, 503},
		{"503 within the deadline", "1", 503, 5 * time.Second, 0, 2, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var hits atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if hits.Add(1) == 1 {
					w.Header().Set("Retry-After", tc.retryAfter)
					w.WriteHeader(tc.status)
				}
			}))
			t.Cleanup(srv.Close)
			c := gateway.NewClient("p", fast(gateway.Limits{MaxAttempts: 3, CallTimeout: tc.call}), nil, nil)
			ctx := t.Context()
			if tc.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.deadline)
				defer cancel()
			}
			start := time.Now()
			got, err := send(c, ctx, "GET", srv.URL)
			if err != nil || got != tc.want || hits.Load() != tc.hits {
				t.Fatalf("status %d, err %v after %d attempts; want %d after %d", got, err, hits.Load(), tc.want, tc.hits)
			}
			if tc.want != 200 && time.Since(start) > 250*time.Millisecond {
				t.Errorf("answered after %s: waited for a Retry-After the call could not outlast", time.Since(start))
			}
		})
	}
}

func TestCallTimeoutBoundsRetries(t *testing.T) {
	s := &scripted{answer: func(int32, *http.Request) int { return 0 }} // every attempt hangs
	srv := s.server(t)
	c := gateway.NewClient("p", fast(gateway.Limits{MaxAttempts: 10, AttemptTimeout: 100 * time.Millisecond, CallTimeout: 350 * time.Millisecond}), nil, nil)
	start := time.Now()
	_, err := send(c, t.Context(), "GET", srv.URL)
	if err == nil || time.Since(start) > 3*time.Second {
		t.Fatalf("err %v after %s", err, time.Since(start))
	}
	if n := s.hits.Load(); n < 2 || n > 4 {
		t.Errorf("%d attempts of 100ms fit in a 350ms call, want 2 to 4", n)
	}
}

func TestBreakerTransitions(t *testing.T) {
	var mu sync.Mutex
	status := 500
	s := &scripted{answer: func(int32, *http.Request) int { mu.Lock(); defer mu.Unlock(); return status }}
	srv := s.server(t)
	l := fast(gateway.Limits{MaxAttempts: 1, Breaker: gateway.BreakerLimits{FailureRatio: 0.5, MinRequests: 4, Window: time.Minute, OpenFor: 300 * time.Millisecond, Probes: 1}})
	c := gateway.NewClient("p", l, nil, nil)
	ctx := t.Context()

	// Business refusals (4xx) never trip it.
	mu.Lock()
	status = 404
	mu.Unlock()
	for range 10 {
		send(c, ctx, "GET", srv.URL)
	}
	if st := c.Breaker().State; st != "closed" {
		t.Fatalf("4xx answers tripped the breaker: %s", st)
	}
	// A cancelled caller is not the provider's fault.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	for range 10 {
		send(c, cctx, "GET", srv.URL)
	}
	if st := c.Breaker().State; st != "closed" {
		t.Fatalf("cancelled calls tripped the breaker: %s", st)
	}
	// Provider failures over the ratio open it: the 10 refusals above count
	// as successes in the window, so it takes 10 failures to reach 50%.
	mu.Lock()
	status = 503
	mu.Unlock()
	for range 9 {
		send(c, ctx, "GET", srv.URL)
	}
	if st := c.Breaker().State; st != "closed" {
		t.Fatalf("9 failures of 19 (under the ratio) opened the breaker")
	}
	send(c, ctx, "GET", srv.URL)
	if st := c.Breaker().State; st != "open" {
		t.Fatalf("after provider failures the breaker is %s, want open", st)
	}
	before := s.hits.Load()
	_, err := send(c, ctx, "GET", srv.URL)
	var be *bank.Error
	if !errors.As(err, &be) || be.Code != bank.Unavailable || be.RetryAfter < time.Second || s.hits.Load() != before {
		t.Fatalf("open breaker: err %v, %d requests reached the provider; want a fast Unavailable with Retry-After", err, s.hits.Load()-before)
	}
	// After OpenFor it lets a probe through; success closes it.
	mu.Lock()
	status = 200
	mu.Unlock()
	time.Sleep(350 * time.Millisecond)
	if got, err := send(c, ctx, "GET", srv.URL); err != nil || got != 200 {
		t.Fatalf("probe: %d %v", got, err)
	}
	if st := c.Breaker().State; st != "closed" {
		t.Errorf("after a good probe the breaker is %s, want closed", st)
	}
	if c.Breaker().Changes != 3 {
		t.Errorf("breaker changed state %d times, want 3 (open, half-open, closed)", c.Breaker().Changes)
	}
}

func TestBulkheadAndRateLimit(t *testing.T) {
	var inFlight, peak atomic.Int32
	release := make(chan struct{})
	s := &scripted{answer: func(int32, *http.Request) int {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
		inFlight.Add(-1)
		return 200
	}}
	srv := s.server(t)
	c := gateway.NewClient("p", fast(gateway.Limits{MaxConcurrent: 2}), nil, nil)
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() { send(c, t.Context(), "GET", srv.URL) })
	}
	time.Sleep(100 * time.Millisecond)
	if got := inFlight.Load(); got != 2 {
		t.Errorf("%d attempts in flight, want the bulkhead's 2", got)
	}
	close(release)
	wg.Wait()
	if peak.Load() != 2 {
		t.Errorf("peak %d in flight, want 2", peak.Load())
	}

	s2 := &scripted{answer: func(int32, *http.Request) int { return 200 }}
	srv2 := s2.server(t)
	rl := gateway.NewClient("p", fast(gateway.Limits{RatePerSecond: 20, Burst: 1}), nil, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	for ctx.Err() == nil {
		send(rl, ctx, "GET", srv2.URL)
	}
	if n := s2.hits.Load(); n > 9 {
		t.Errorf("%d requests in 300ms at 20/s, want at most 9", n)
	}
}

type countingSigner struct{ n atomic.Int32 }

func (s *countingSigner) SignAttempt(r *http.Request) error {
	r.Header.Set("X-Nonce", fmt.Sprint(s.n.Add(1)))
	return nil
}

func TestSignerSignsEveryAttempt(t *testing.T) {
	var nonces sync.Map
	s := &scripted{answer: func(n int32, r *http.Request) int {
		if _, dup := nonces.LoadOrStore(r.Header.Get("X-Nonce"), true); dup {
			return 401
		}
		return map[bool]int{true: 503, false: 200}[n < 3]
	}}
	srv := s.server(t)
	c := gateway.NewClient("p", fast(gateway.Limits{}), nil, nil)
	sg := &countingSigner{}
	c.SetSigner(sg)
	if got, err := send(c, t.Context(), "GET", srv.URL); err != nil || got != 200 || sg.n.Load() != 3 {
		t.Errorf("status %d err %v after %d signatures; want 200 after 3 distinct ones", got, err, sg.n.Load())
	}
}

// TestConnectionsReusedUpToTheBulkhead: calls as many at once as the
// bulkhead lets through, round after round, reuse the connections the first
// rounds opened and close none (so none is left in TIME-WAIT), also when the
// adapter closes an answer it did not read to the end.
func TestConnectionsReusedUpToTheBulkhead(t *testing.T) {
	for _, tc := range []struct {
		name   string
		limits gateway.Limits
		most   int64 // connections opened at most: the idle pool's size, not one per call
	}{
		{"default bulkhead", gateway.Limits{}, 32},
		{"bulkhead of 24", gateway.Limits{MaxConcurrent: 24}, 48},
		// A pool no larger than the bulkhead closes the odd extra
		// connection a racing attempt dialled; still a handful, not 640.
		{"idle pool of the bulkhead's size", gateway.Limits{MaxConcurrent: 4, Conns: gateway.ConnLimits{IdlePerHost: 4}}, 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opened, closed atomic.Int64
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				time.Sleep(2 * time.Millisecond)
				io.WriteString(w, `{"ok":true}`+strings.Repeat(" ", 512))
			}))
			srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				switch s {
				case http.StateNew:
					opened.Add(1)
				case http.StateClosed, http.StateHijacked:
					closed.Add(1)
				}
			}
			srv.Start()
			t.Cleanup(srv.Close)
			c := gateway.NewClient("p", fast(tc.limits), nil, nil)
			for round := range 20 {
				var wg sync.WaitGroup
				for range 32 {
					wg.Go(func() {
						resp, err := c.HTTP().Get(srv.URL)
						if err != nil {
							t.Error(err)
							return
						}
						if round%2 == 0 {
							io.CopyN(io.Discard, resp.Body, 4) // the rest is left unread
						}
						resp.Body.Close()
					})
				}
				wg.Wait()
			}
			// A connection goes back to the pool a moment after its slot is
			// free, so an attempt may dial one more meanwhile: a few more
			// than the bulkhead, never one per call.
			if n := opened.Load(); n > tc.most {
				t.Errorf("640 calls opened %d connections, want at most %d", n, tc.most)
			}
			if n := closed.Load(); n > 0 && tc.limits.Conns.IdlePerHost == 0 {
				t.Errorf("%d connections closed under steady load, want none", n)
			}
		})
	}
}
