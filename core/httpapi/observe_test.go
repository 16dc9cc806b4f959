package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// observe's server span joins the caller's trace, carries the request's
// attributes only when sampled, and every request is counted by route,
// method and status and logged once with its trace and span ids.
func TestObserve(t *testing.T) {
	const caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	cases := []struct {
		name, method, path, traceparent string
		sampler                         sdktrace.Sampler
		wantName, wantRoute             string
		wantStatus                      int
		wantAttrs                       bool
	}{
		{"sampled, joins the caller", http.MethodGet, "/v1/things/7", caller, sdktrace.AlwaysSample(),
			"GET /v1/things/:id", "/v1/things/:id", 200, true},
		{"sampled, a 500 is an error", http.MethodPost, "/v1/fail", "", sdktrace.AlwaysSample(),
			"POST /v1/fail", "/v1/fail", 500, true},
		{"not sampled, no attributes", http.MethodGet, "/v1/things/8", "", sdktrace.NeverSample(),
			"GET /v1/things/:id", "/v1/things/:id", 200, false},
		{"no route", http.MethodGet, "/nowhere", "", sdktrace.AlwaysSample(),
			"GET", "unmatched", 404, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithSampler(sdktrace.ParentBased(tc.sampler)))
			reader := sdkmetric.NewManualReader()
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
			var logs bytes.Buffer
			r := gin.New()
			r.Use(observe(tp, mp, slog.New(slog.NewJSONHandler(&logs, nil))), RequestID())
			r.GET("/v1/things/:id", func(c *gin.Context) { c.Status(200) })
			r.POST("/v1/fail", func(c *gin.Context) { c.Status(500) })
			req := httptest.NewRequest(tc.method, tc.path, nil)
			if tc.traceparent != "" {
				req.Header.Set("traceparent", tc.traceparent)
			}
			w := httptest.NewRecorder()
			r.ServeHTTP(w, req)

			if tc.sampler == sdktrace.NeverSample() {
				if n := len(rec.Ended()); n != 0 {
					t.Fatalf("%d spans recorded for an unsampled request", n)
				}
			} else {
				spans := rec.Ended()
				if len(spans) != 1 {
					t.Fatalf("%d spans, want 1", len(spans))
				}
				s := spans[0]
				if s.Name() != tc.wantName || s.SpanKind() != trace.SpanKindServer {
					t.Errorf("span %q kind %v, want %q server", s.Name(), s.SpanKind(), tc.wantName)
				}
				if tc.traceparent != "" && s.SpanContext().TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
					t.Errorf("span trace %s, want the caller's", s.SpanContext().TraceID())
				}
				attrs := map[attribute.Key]attribute.Value{}
				for _, a := range s.Attributes() {
					attrs[a.Key] = a.Value
				}
				if got := attrs[attrStatus].AsInt64(); got != int64(tc.wantStatus) || attrs[attrMethod].AsString() != tc.method {
					t.Errorf("span attributes %v, want status %d and method %s", attrs, tc.wantStatus, tc.method)
				}
				if tc.wantRoute != "unmatched" && attrs[attrRoute].AsString() != tc.wantRoute {
					t.Errorf("span http.route %q, want %q", attrs[attrRoute].AsString(), tc.wantRoute)
				}
				if isErr := s.Status().Code.String() == "Error"; isErr != (tc.wantStatus >= 500) {
					t.Errorf("span status %v for HTTP %d", s.Status(), tc.wantStatus)
				}
			}

			var rm metricdata.ResourceMetrics
			if err := reader.Collect(context.Background(), &rm); err != nil {
				t.Fatal(err)
			}
			counted := false
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					sum, ok := m.Data.(metricdata.Sum[int64])
					if m.Name != "vagate.http.requests" || !ok {
						continue
					}
					for _, dp := range sum.DataPoints {
						route, _ := dp.Attributes.Value(attrRoute)
						status, _ := dp.Attributes.Value(attrStatus)
						if dp.Value == 1 && route.AsString() == tc.wantRoute && status.AsInt64() == int64(tc.wantStatus) {
							counted = true
						}
					}
				}
			}
			if !counted {
				t.Errorf("no vagate.http.requests point for %s %d in %+v", tc.wantRoute, tc.wantStatus, rm.ScopeMetrics)
			}

			var line map[string]any
			if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
				t.Fatalf("access log %q: %v", logs.String(), err)
			}
			if line["route"] != tc.wantRoute || line["status"] != float64(tc.wantStatus) || line["trace_id"] != w.Header().Get(HeaderRequestID) {
				t.Errorf("access log %v, want route %s, status %d, trace %s", line, tc.wantRoute, tc.wantStatus, w.Header().Get(HeaderRequestID))
			}
		})
	}
}
