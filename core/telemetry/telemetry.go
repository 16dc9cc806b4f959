// Package telemetry sets up vagate's traces, metrics and log correlation:
// an OpenTelemetry tracer provider (exporting over OTLP/HTTP when an
// endpoint is configured, and a no-op costing next to nothing when not),
// W3C trace-context propagation, a meter provider exported in Prometheus
// format for /metrics, and a slog handler that stamps every line logged
// with a context with its trace_id and span_id.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	promexporter "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

// Config chooses where telemetry goes.
type Config struct {
	// ServiceName names the service in traces (default "vagate").
	ServiceName string
	// OTLPEndpoint is an OTLP/HTTP collector: host:port (TLS unless
	// Insecure), or a URL, http:// (plaintext) or https://, whose path
	// defaults to /v1/traces; empty means traces are not exported.
	OTLPEndpoint string
	// Insecure sends OTLP to a host:port endpoint without TLS (a local
	// collector).
	Insecure bool
	// SampleRatio is the share of new traces recorded (default 1).
	SampleRatio float64
	// SpanExporter, when set, receives spans synchronously (tests).
	SpanExporter sdktrace.SpanExporter
}

// Telemetry holds the providers one process uses. Without an exporter the
// tracer records nothing but still issues trace ids.
type Telemetry struct {
	Tracer   trace.TracerProvider
	Meter    metric.MeterProvider
	registry *prometheus.Registry
	shutdown []func(context.Context) error
}

// Propagator is the W3C trace-context propagator every component uses.
var Propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// New sets up telemetry and installs the propagator globally.
func New(ctx context.Context, cfg Config) (*Telemetry, error) {
	if cfg.ServiceName == "" {
		cfg.ServiceName = "vagate"
	}
	if cfg.SampleRatio <= 0 || cfg.SampleRatio > 1 {
		cfg.SampleRatio = 1
	}
	otel.SetTextMapPropagator(Propagator)
	t := &Telemetry{registry: prometheus.NewRegistry()}
	res := resource.NewSchemaless(semconv.ServiceName(cfg.ServiceName))

	switch {
	case cfg.SpanExporter != nil || cfg.OTLPEndpoint != "":
		opts := []sdktrace.TracerProviderOption{
			sdktrace.WithResource(res),
			sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))),
		}
		if cfg.SpanExporter != nil {
			opts = append(opts, sdktrace.WithSyncer(cfg.SpanExporter))
		}
		if cfg.OTLPEndpoint != "" {
			eo, err := exporterOptions(cfg.OTLPEndpoint, cfg.Insecure)
			if err != nil {
				return nil, err
			}
			exp, err := otlptracehttp.New(ctx, eo...)
			if err != nil {
				return nil, err
			}
			opts = append(opts, sdktrace.WithBatcher(exp))
		}
		tp := sdktrace.NewTracerProvider(opts...)
		t.Tracer = tp
		t.shutdown = append(t.shutdown, tp.Shutdown)
	default:
		// Nothing is recorded or exported, but every request still gets a
		// trace id for its logs, its answer and the providers it calls.
		tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample())))
		t.Tracer = tp
		t.shutdown = append(t.shutdown, tp.Shutdown)
	}

	exp, err := promexporter.New(promexporter.WithRegisterer(t.registry), promexporter.WithoutScopeInfo())
	if err != nil {
		return nil, err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp), sdkmetric.WithResource(res))
	t.Meter = mp
	t.shutdown = append(t.shutdown, mp.Shutdown)
	return t, nil
}

// exporterOptions are the OTLP/HTTP trace exporter's options for endpoint:
// host:port, over TLS unless insecure; or an http:// (plaintext) or
// https:// URL, sent to its path or, without one, to /v1/traces.
func exporterOptions(endpoint string, insecure bool) ([]otlptracehttp.Option, error) {
	if !strings.Contains(endpoint, "://") {
		eo := []otlptracehttp.Option{otlptracehttp.WithEndpoint(endpoint)}
		if insecure {
			eo = append(eo, otlptracehttp.WithInsecure())
		}
		return eo, nil
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("OTLP endpoint %q: want host:port or an http:// or https:// URL", endpoint)
	}
	eo := []otlptracehttp.Option{otlptracehttp.WithEndpoint(u.Host)}
	if u.Scheme == "http" {
		eo = append(eo, otlptracehttp.WithInsecure())
	}
	if p := strings.TrimRight(u.Path, "/"); p != "" {
		eo = append(eo, otlptracehttp.WithURLPath(p))
	}
	return eo, nil
}

// MetricsHandler serves the metrics in Prometheus text format.
func (t *Telemetry) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(t.registry, promhttp.HandlerOpts{})
}

// Shutdown flushes and stops the providers.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	var errs []error
	for _, f := range t.shutdown {
		errs = append(errs, f(ctx))
	}
	return errors.Join(errs...)
}

// LogHandler wraps h so every record logged with a context carrying a span
// gets trace_id and span_id attributes, unless the record has them already.
func LogHandler(h slog.Handler) slog.Handler { return traceHandler{h} }

type traceHandler struct{ slog.Handler }

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		hasTrace, hasSpan := false, false
		r.Attrs(func(a slog.Attr) bool {
			hasTrace = hasTrace || a.Key == "trace_id"
			hasSpan = hasSpan || a.Key == "span_id"
			return true
		})
		switch {
		case !hasTrace && !hasSpan:
			r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
		case !hasTrace:
			r.AddAttrs(slog.String("trace_id", sc.TraceID().String()))
		case !hasSpan:
			r.AddAttrs(slog.String("span_id", sc.SpanID().String()))
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return traceHandler{h.Handler.WithAttrs(as)}
}

func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{h.Handler.WithGroup(name)}
}
