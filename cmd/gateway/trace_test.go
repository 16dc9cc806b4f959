package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/vagate/vagate/core/accounts"
	"github.com/vagate/vagate/core/events"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/httpapi"
	"github.com/vagate/vagate/core/idempotency"
	"github.com/vagate/vagate/core/jobs"
	"github.com/vagate/vagate/core/jobs/jobsmem"
	"github.com/vagate/vagate/core/store"
	"github.com/vagate/vagate/core/telemetry"
	"github.com/vagate/vagate/mocks/bundle"
	"github.com/vagate/vagate/mocks/fault"
)

// tracedRig serves the API in process over every bundled mock, all reporting
// to one telemetry setup; the mocks extract traceparent like real providers.
type tracedRig struct {
	api   *httptest.Server
	tel   *telemetry.Telemetry
	mocks map[string]mockAPI
	auth  *httpapi.AuthConfig
}

func newTracedRig(t testing.TB, tel *telemetry.Telemetry) *tracedRig {
	t.Helper()
	reg := gateway.NewRegistry()
	rig := &tracedRig{tel: tel, mocks: map[string]mockAPI{}}
	for _, b := range bundle.Mocks {
		// The mocks extract traceparent, so their spans join the caller's trace.
		traced := func(h http.Handler) http.Handler {
			return otelhttp.NewHandler(h, "mock "+b.Style, otelhttp.WithTracerProvider(tel.Tracer),
				otelhttp.WithPropagators(propagation.TraceContext{}), otelhttp.WithSpanNameFormatter(mockSpanName))
		}
		p, m := serveBundled(t, b, "http://127.0.0.1:1/unused", traced, &gateway.OpenOptions{
			Limits: &gateway.Limits{BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond},
			Tracer: tel.Tracer, Meter: tel.Meter, PollInterval: 5 * time.Millisecond, MaxPollInterval: 50 * time.Millisecond})
		reg.Register(p)
		rig.mocks[b.Style] = m
	}
	router, _ := gateway.NewRouter(reg, nil)
	mem := store.NewMemory()
	evs := store.NewMemoryEvents()
	rec := events.NewRecorder(evs, nil)
	eng := jobs.New(reg, jobsmem.New(), mem, mem, &jobs.Options{Tracer: tel.Tracer, Meter: tel.Meter,
		OnFinish: rec.JobFinished})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { eng.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	rig.auth = &httpapi.AuthConfig{Algorithm: httpapi.AlgHS256, Secret: []byte("trace-test-secret-0123456789abcdef")}
	h, err := httpapi.NewHandler(httpapi.Deps{Registry: reg, Router: router, Engine: eng, Accounts: accounts.New(reg, mem, nil), Events: evs,
		Idempotency: idempotency.NewMemory(nil), Auth: rig.auth, Tracer: tel.Tracer, Meter: tel.Meter, Metrics: tel.MetricsHandler()},
		httpapi.Options{PublicURL: "http://gw.test"})
	if err != nil {
		t.Fatal(err)
	}
	rig.api = httptest.NewServer(h)
	t.Cleanup(rig.api.Close)
	return rig
}

func (r *tracedRig) create(t testing.TB, tok, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", r.api.URL+"/v1/virtual-accounts", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Prefer", "wait=20")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// One batch create across two providers is one trace: the server span, the
// job, each provider call and each attempt (a retry is its own attempt), and
// the providers' own server spans under the attempts.
func TestOneTraceAcrossProviders(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tel, err := telemetry.New(t.Context(), telemetry.Config{SpanExporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	rig := newTracedRig(t, tel)
	// The first create at parentprimary fails with 503: it is resent with
	// the same key, so its call shows two attempts.
	rig.mocks["parentprimary"].Faults().Add(fault.Rule{Method: "POST", Path: createPath["parentprimary"], Action: fault.ActionError, Status: 503, Times: 1})
	tok, _ := httpapi.MintToken(rig.auth, "t1", httpapi.AllPermissions(), time.Hour)
	resp := rig.create(t, tok, `{"items":[`+
		`{"currency":"USD","accountHolderName":"A","accountName":"A","clientReference":"TR-1","provider":"batchva"},`+
		`{"currency":"GBP","accountHolderName":"B","accountName":"B","clientReference":"TR-2","provider":"parentprimary","customerId":"a2b9649e-df7f-4349-adff-1c57283fef10"}]}`)
	if resp.StatusCode != 200 {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	var spans tracetest.SpanStubs
	deadline := time.Now().Add(5 * time.Second)
	for {
		spans = exp.GetSpans()
		if hasSpan(spans, "job") && countSpans(spans, "job item") == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	byID := map[trace.SpanID]tracetest.SpanStub{}
	var server tracetest.SpanStub
	for _, s := range spans {
		byID[s.SpanContext.SpanID()] = s
		if s.SpanKind == trace.SpanKindServer && strings.HasPrefix(s.Name, "POST /v1/virtual-accounts") {
			server = s
		}
	}
	if !server.SpanContext.IsValid() || server.Parent.IsValid() {
		t.Fatalf("no root server span among %d spans", len(spans))
	}
	if got := resp.Header.Get("traceparent"); !strings.Contains(got, server.SpanContext.TraceID().String()) {
		t.Errorf("response traceparent %q is not the request's trace %s", got, server.SpanContext.TraceID())
	}
	descends := func(s tracetest.SpanStub, from tracetest.SpanStub) bool {
		for p := s.Parent; p.IsValid(); {
			if p.SpanID() == from.SpanContext.SpanID() {
				return true
			}
			next, ok := byID[p.SpanID()]
			if !ok {
				return false
			}
			p = next.Parent
		}
		return false
	}
	attr := func(s tracetest.SpanStub, key string) string {
		for _, a := range s.Attributes {
			if string(a.Key) == key {
				return a.Value.String()
			}
		}
		return ""
	}
	var job tracetest.SpanStub
	calls, attempts, mockSpans := map[string]int{}, map[string][]string{}, map[string]int{}
	for _, s := range spans {
		if s.SpanContext.TraceID() != server.SpanContext.TraceID() {
			t.Errorf("span %q is in another trace", s.Name)
			continue
		}
		switch {
		case s.Name == "job":
			job = s
		case s.Name == "provider create":
			calls[attr(s, "vagate.provider")]++
		case s.Name == "provider attempt" && attr(s, "vagate.operation") == "create":
			attempts[attr(s, "vagate.provider")] = append(attempts[attr(s, "vagate.provider")], attr(s, "vagate.attempt"))
			if attr(s, "vagate.breaker_state") == "" {
				t.Errorf("attempt without vagate.breaker_state")
			}
		case s.SpanKind == trace.SpanKindServer && strings.HasPrefix(s.Name, "mock "):
			attempt, ok := byID[s.Parent.SpanID()]
			if !ok || attempt.SpanKind != trace.SpanKindClient || attempt.Name != "provider attempt" {
				t.Errorf("mock span %q is not under the HTTP client span of an attempt", s.Name)
			}
			mockSpans[strings.TrimPrefix(s.Name, "mock ")]++
		}
	}
	if !job.SpanContext.IsValid() || job.Parent.SpanID() != server.SpanContext.SpanID() || len(job.Links) == 0 {
		t.Fatalf("job span %+v is not the server span's child with a link to it", job.Name)
	}
	for _, p := range []string{"batchva", "parentprimary"} {
		if calls[p] == 0 || mockSpans[p] == 0 {
			t.Errorf("%s: %d create calls, %d mock spans in the trace", p, calls[p], mockSpans[p])
		}
	}
	if got := strings.Join(attempts["parentprimary"], ","); got != "1,2" {
		t.Errorf("parentprimary create attempts = %q, want 1,2 (the 503, then the retry)", got)
	}
	for _, s := range spans {
		if (s.Name == "provider attempt" || s.Name == "job chunk") && !descends(s, job) {
			t.Errorf("%s is not under the job span", s.Name)
		}
	}
}

func hasSpan(ss tracetest.SpanStubs, name string) bool { return countSpans(ss, name) > 0 }

func countSpans(ss tracetest.SpanStubs, name string) int {
	n := 0
	for _, s := range ss {
		if s.Name == name {
			n++
		}
	}
	return n
}
