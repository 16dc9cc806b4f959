package telemetry_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/vagate/vagate/core/telemetry"
)

func TestLogsCarryTraceIDs(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  telemetry.Config
	}{
		{"tracing off still issues ids", telemetry.Config{}},
		{"tracing on", telemetry.Config{SpanExporter: tracetest.NewInMemoryExporter()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tel, err := telemetry.New(t.Context(), tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer tel.Shutdown(context.Background())
			var buf bytes.Buffer
			log := slog.New(telemetry.LogHandler(slog.NewJSONHandler(&buf, nil))).With("k", "v")
			ctx, span := tel.Tracer.Tracer("t").Start(t.Context(), "op")
			log.InfoContext(ctx, "inside")
			span.End()
			log.Info("outside")
			lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
			tid := span.SpanContext().TraceID().String()
			if !strings.Contains(lines[0], `"trace_id":"`+tid+`"`) || !strings.Contains(lines[0], `"span_id"`) || !strings.Contains(lines[0], `"k":"v"`) {
				t.Errorf("line in a span: %s", lines[0])
			}
			if strings.Contains(lines[1], "trace_id") {
				t.Errorf("line without a span has a trace id: %s", lines[1])
			}
		})
	}
}

func TestMetricsHandler(t *testing.T) {
	tel, err := telemetry.New(t.Context(), telemetry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := tel.Meter.Meter("t").Int64Counter("vagate.test.things")
	c.Add(t.Context(), 3)
	rec := httptest.NewRecorder()
	tel.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), "vagate_test_things_total 3") {
		t.Errorf("metrics = %s", rec.Body.String())
	}
}

// A record that names its trace id itself gets no second one.
func TestLogLineHasOneTraceID(t *testing.T) {
	tel, err := telemetry.New(t.Context(), telemetry.Config{SpanExporter: tracetest.NewInMemoryExporter()})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	var buf bytes.Buffer
	log := slog.New(telemetry.LogHandler(slog.NewJSONHandler(&buf, nil)))
	ctx, span := tel.Tracer.Tracer("t").Start(t.Context(), "op")
	id := span.SpanContext().TraceID().String()
	log.InfoContext(ctx, "request", "trace_id", id)
	log.InfoContext(ctx, "plain")
	span.End()
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if n := strings.Count(line, `"trace_id"`); n != 1 || strings.Count(line, `"span_id"`) != 1 || !strings.Contains(line, id) {
			t.Errorf("line has %d trace_id: %s", n, line)
		}
	}
}

// An http:// endpoint is a plaintext collector, sent to at /v1/traces
// unless the URL has a path; host:port takes TLS unless Insecure.
func TestOTLPEndpointForms(t *testing.T) {
	got := make(chan string, 10)
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Method + " " + r.URL.Path
		w.WriteHeader(http.StatusOK)
	}))
	defer collector.Close()
	host := strings.TrimPrefix(collector.URL, "http://")
	for _, tc := range []struct {
		name     string
		cfg      telemetry.Config
		wantPath string
	}{
		{"http URL", telemetry.Config{OTLPEndpoint: collector.URL}, "/v1/traces"},
		{"http URL with a slash", telemetry.Config{OTLPEndpoint: collector.URL + "/"}, "/v1/traces"},
		{"http URL with a path", telemetry.Config{OTLPEndpoint: collector.URL + "/otlp/v1/traces"}, "/otlp/v1/traces"},
		{"host:port insecure", telemetry.Config{OTLPEndpoint: host, Insecure: true}, "/v1/traces"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tel, err := telemetry.New(t.Context(), tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			_, span := tel.Tracer.Tracer("t").Start(t.Context(), "op")
			span.End()
			if err := tel.Shutdown(context.Background()); err != nil {
				t.Fatalf("export to %s: %v", tc.cfg.OTLPEndpoint, err)
			}
			select {
			case req := <-got:
				if req != "POST "+tc.wantPath {
					t.Errorf("collector got %s, want POST %s", req, tc.wantPath)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("nothing exported")
			}
		})
	}
	for _, bad := range []string{"ftp://collector:4318", "http://"} {
		if _, err := telemetry.New(t.Context(), telemetry.Config{OTLPEndpoint: bad}); err == nil {
			t.Errorf("endpoint %q accepted", bad)
		}
	}
}
