package httpapi_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/telemetry"
)

// flipTransport answers 503 while failing is set and 200 otherwise.
type flipTransport struct{ failing atomic.Bool }

func (f *flipTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	code := http.StatusOK
	if f.failing.Load() {
		code = http.StatusServiceUnavailable
	}
	return &http.Response{StatusCode: code, Status: http.StatusText(code), Header: http.Header{},
		Body: io.NopCloser(strings.NewReader("")), Request: r, ProtoMajor: 1, ProtoMinor: 1}, nil
}

// TestProvidersAndMetricsAnswerWhileBreakerCycles polls GET /v1/providers and
// GET /metrics while the provider's breaker cycles open → half-open →
// closed: both read the breaker, and reading an expired open breaker moves
// it to half-open. Neither may block; a deadlock fails at the deadline.
func TestProvidersAndMetricsAnswerWhileBreakerCycles(t *testing.T) {
	const cycles = 30
	tel, err := telemetry.New(t.Context(), telemetry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tel.Shutdown(t.Context()) })
	rt := &flipTransport{}
	c := gateway.NewClient("batchva", &gateway.Limits{MaxAttempts: 1, Breaker: gateway.BreakerLimits{
		FailureRatio: 0.5, MinRequests: 1, Window: time.Minute, OpenFor: 5 * time.Millisecond, Probes: 1}}, rt, nil)
	c.Instrument(tel.Tracer, tel.Meter)
	a := newAPIWith(t, memoryState(), apiWiring{client: c, tracer: tel.Tracer, meter: tel.Meter, metrics: tel.MetricsHandler()})
	tok := a.token(t, "t1")

	get := func(path string) bool {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, a.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	send := func() int {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://provider.test/x", nil)
		resp, err := c.HTTP().Do(req)
		if err != nil {
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}

	stop := make(chan struct{})
	var readers sync.WaitGroup
	var answered, refused atomic.Int32
	for _, path := range []string{"/v1/providers", "/metrics"} {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if get(path) {
					answered.Add(1)
				} else {
					refused.Add(1)
				}
			}
		})
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range cycles {
			rt.failing.Store(true)
			for c.Breaker().State != "open" {
				send()
			}
			rt.failing.Store(false)
			for send() != http.StatusOK || c.Breaker().State != "closed" {
				time.Sleep(time.Millisecond)
			}
		}
		close(stop)
		readers.Wait()
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		// t.Fatal (or a panic here) would run the harness's cleanup, whose
		// server Close waits for the blocked handlers forever: crash the
		// test binary from another goroutine instead, which skips cleanups.
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		fmt.Fprintf(os.Stderr, "goroutines:\n%s\n", buf)
		go panic("TestProvidersAndMetricsAnswerWhileBreakerCycles: GET /v1/providers, /metrics or the breaker blocked (deadlock)")
		select {}
	}
	if refused.Load() > 0 || answered.Load() == 0 {
		t.Errorf("%d reads answered 200, %d did not; want all 200", answered.Load(), refused.Load())
	}
}
