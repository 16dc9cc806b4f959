package httpapi

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/vagate/vagate/core/telemetry"
)

const instrumentation = "github.com/vagate/vagate/core/httpapi"

// Server span and metric attribute keys (OpenTelemetry semantic conventions).
const (
	attrMethod    = attribute.Key("http.request.method")
	attrRoute     = attribute.Key("http.route")
	attrStatus    = attribute.Key("http.response.status_code")
	attrURLPath   = attribute.Key("url.path")
	attrURLScheme = attribute.Key("url.scheme")
	attrServer    = attribute.Key("server.address")
	attrClient    = attribute.Key("client.address")
	attrUserAgent = attribute.Key("user_agent.original")
	attrProtocol  = attribute.Key("network.protocol.version")
)

// metricKey names one metric attribute set: a route, a method label and a
// status.
type metricKey struct {
	route, method string
	status        int
}

// observe traces, counts and logs every request: a server span joined to
// the caller's W3C trace context (named by method and route), the request
// counter and latency histogram, the replay counter, and one access log
// line without query strings or headers (which may carry secrets).
//
// Span attributes are built only for a span that records (the samplers
// decide on the trace id and the parent alone), and metric attribute sets
// are kept per route, method and status, so a request that is not sampled
// builds neither.
func observe(tp trace.TracerProvider, mp metric.MeterProvider, log *slog.Logger) gin.HandlerFunc {
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	tracer := tp.Tracer(instrumentation)
	prop := propagation.TraceContext{}
	var (
		count   metric.Int64Counter
		latency metric.Float64Histogram
		replays metric.Int64Counter
		sets    telemetry.Sets[metricKey]
	)
	if mp != nil {
		m := mp.Meter(instrumentation)
		count, _ = m.Int64Counter("vagate.http.requests", metric.WithDescription("requests served, by route, method and status"))
		latency, _ = m.Float64Histogram("vagate.http.request.duration", metric.WithUnit("s"), metric.WithDescription("request latency"))
		replays, _ = m.Int64Counter("vagate.idempotency.replays", metric.WithDescription("answers replayed for a repeated Idempotency-Key"))
	}
	return func(c *gin.Context) {
		start := time.Now()
		r := c.Request
		method := methodLabel(r.Method)
		route := c.FullPath()
		name := method
		if route != "" {
			name = method + " " + route
		}
		ctx := prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer))
		recording := span.IsRecording()
		if recording {
			scheme := "http"
			if r.TLS != nil {
				scheme = "https"
			}
			span.SetAttributes(attrMethod.String(method), attrURLPath.String(r.URL.Path), attrURLScheme.String(scheme),
				attrServer.String(r.Host), attrClient.String(c.ClientIP()), attrUserAgent.String(r.UserAgent()),
				attrProtocol.String(protocolVersion(r)))
			if route != "" {
				span.SetAttributes(attrRoute.String(route))
			}
		}
		c.Request = r.WithContext(ctx)
		c.Next()

		status := c.Writer.Status()
		if recording {
			span.SetAttributes(attrStatus.Int(status))
			if status >= http.StatusInternalServerError {
				span.SetStatus(codes.Error, http.StatusText(status))
			}
			for _, e := range c.Errors {
				span.RecordError(e.Err)
			}
		}
		span.End()
		if route == "" {
			route = "unmatched"
		}
		if mp != nil {
			attrs := sets.Get(metricKey{route, method, status}, attrRoute.String(route), attrMethod.String(method), attrStatus.Int(status))
			count.Add(ctx, 1, attrs)
			latency.Record(ctx, time.Since(start).Seconds(), attrs)
			if c.Writer.Header().Get(HeaderIdempotentReplayed) == "true" {
				replays.Add(ctx, 1, sets.Get(metricKey{route: route}, attrRoute.String(route)))
			}
		}
		if log.Enabled(ctx, slog.LevelInfo) {
			// Typed attributes, no boxing of each value; the span id too,
			// so that the log handler has nothing to add.
			sc := span.SpanContext()
			spanID := ""
			if sc.IsValid() {
				spanID = sc.SpanID().String()
			}
			log.LogAttrs(ctx, slog.LevelInfo, "request", slog.String("method", method), slog.String("route", route),
				slog.Int("status", status), slog.Int64("duration_ms", time.Since(start).Milliseconds()),
				slog.String("trace_id", TraceID(c)), slog.String("span_id", spanID), slog.String("tenant", Tenant(c)))
		}
	}
}

// protocolVersion is r's HTTP version as the conventions spell it.
func protocolVersion(r *http.Request) string {
	switch {
	case r.ProtoMajor == 1 && r.ProtoMinor == 1:
		return "1.1"
	case r.ProtoMajor == 2:
		return "2"
	case r.ProtoMajor == 1 && r.ProtoMinor == 0:
		return "1.0"
	}
	return r.Proto
}
