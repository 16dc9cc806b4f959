package gateway_test

import (
	"errors"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/vagate/vagate/core/gateway"
)

// flipTransport answers 503 while failing is set and 200 otherwise, without
// a network.
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

// TestBreakerCyclesWhileReadersPoll cycles the breaker open → half-open →
// closed many times while other goroutines read it the way GET /v1/providers
// and /metrics do. Reading the state is what moves an expired open breaker
// to half-open; that transition must not call back into a lock the reader
// holds. Any deadlock fails the test at the deadline instead of hanging it.
func TestBreakerCyclesWhileReadersPoll(t *testing.T) {
	const cycles = 40
	rt := &flipTransport{}
	l := fast(gateway.Limits{MaxAttempts: 1, Breaker: gateway.BreakerLimits{
		FailureRatio: 0.5, MinRequests: 1, Window: time.Minute, OpenFor: 5 * time.Millisecond, Probes: 1}})
	c := gateway.NewClient("p", l, rt, nil)
	reader := sdkmetric.NewManualReader()
	c.Instrument(noop.NewTracerProvider(), sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	p, err := gateway.New("p", &fake{caps: baseCaps()}, &gateway.Options{Client: c})
	if err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	var readers sync.WaitGroup
	poll := func(read func()) {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				read()
				runtime.Gosched()
			}
		})
	}
	poll(func() { c.Breaker() })
	poll(func() { p.BreakerState(); p.Breaker(); p.Health() })
	poll(func() { var rm metricdata.ResourceMetrics; reader.Collect(t.Context(), &rm) })

	done := make(chan string, 1)
	go func() {
		defer close(done)
		for i := range cycles {
			rt.failing.Store(true)
			for c.Breaker().State != "open" {
				send(c, t.Context(), "GET", "http://provider.test/x")
			}
			rt.failing.Store(false)
			for {
				code, _ := send(c, t.Context(), "GET", "http://provider.test/x")
				if code == http.StatusOK && c.Breaker().State == "closed" {
					break
				}
				time.Sleep(time.Millisecond)
			}
			if i == cycles-1 {
				close(stop)
				readers.Wait()
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("breaker cycling or its readers blocked (deadlock); goroutines:\n%s", buf)
	}
	if got := c.Breaker().Changes; got < 3*cycles {
		t.Errorf("breaker changed state %d times, want at least %d", got, 3*cycles)
	}
}

// While the breaker is open, a provider's health shows the provider's last
// real failure, not the breaker's own refusals.
func TestOpenBreakerKeepsTheProvidersLastError(t *testing.T) {
	rt := &flipTransport{}
	rt.failing.Store(true)
	l := fast(gateway.Limits{MaxAttempts: 1, Breaker: gateway.BreakerLimits{
		FailureRatio: 0.5, MinRequests: 2, Window: time.Minute, OpenFor: time.Minute, Probes: 1}})
	c := gateway.NewClient("p", l, rt, nil)
	p, err := gateway.New("p", &httpFake{c: c}, &gateway.Options{Client: c})
	if err != nil {
		t.Fatal(err)
	}
	for c.Breaker().State != "open" {
		p.GetAccount(t.Context(), "r")
	}
	before := p.Health()
	if !strings.Contains(before.LastError, "503") {
		t.Fatalf("last error = %q, want the provider's 503", before.LastError)
	}
	for range 5 {
		if _, err := p.GetAccount(t.Context(), "r"); !errors.Is(err, gateway.ErrFailFast) {
			t.Fatalf("call with the breaker open: %v, want a fail-fast refusal", err)
		}
	}
	after := p.Health()
	if after.LastError != before.LastError || !after.LastErrorAt.Equal(*before.LastErrorAt) || after.RecentRequests != before.RecentRequests {
		t.Errorf("after refusals health = %+v, want it unchanged from %+v", after, before)
	}
}
