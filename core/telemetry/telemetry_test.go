package telemetry_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

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
