package gateway

import (
	"context"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/telemetry"
)

// Span attribute keys of vagate's own.
const (
	AttrProvider     = attribute.Key("vagate.provider")
	AttrOperation    = attribute.Key("vagate.operation")
	AttrAttempt      = attribute.Key("vagate.attempt")
	AttrBreakerState = attribute.Key("vagate.breaker_state")
	AttrJobID        = attribute.Key("vagate.job_id")
	AttrErrorCode    = attribute.Key("vagate.error_code")
)

const instrumentation = "github.com/vagate/vagate/core/gateway"

type opKey struct{}

// operationOf is the provider operation a context's call is for.
func operationOf(ctx context.Context) string {
	op, _ := ctx.Value(opKey{}).(string)
	return op
}

// clientTelemetry is what a Client records.
type clientTelemetry struct {
	tracer   trace.Tracer
	attempts metric.Int64Counter
	retries  metric.Int64Counter
	sets     telemetry.Sets[[3]string]
}

// Instrument makes the client trace every attempt (an HTTP client span with
// the provider, operation, attempt number and breaker state, whose
// traceparent goes to the provider) and count attempts, retries and
// breaker state. Call it before the client is used.
func (c *Client) Instrument(tp trace.TracerProvider, mp metric.MeterProvider) {
	m := mp.Meter(instrumentation)
	ct := &clientTelemetry{tracer: tp.Tracer(instrumentation)}
	ct.attempts, _ = m.Int64Counter("vagate.provider.attempts", metric.WithDescription("HTTP attempts sent to providers, by outcome"))
	ct.retries, _ = m.Int64Counter("vagate.provider.retries", metric.WithDescription("attempts that were retries"))
	g, _ := m.Int64ObservableGauge("vagate.provider.breaker_state",
		metric.WithDescription("circuit breaker state: 0 closed, 1 half-open, 2 open"))
	m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		state := map[string]int64{"closed": 0, "half-open": 1, "open": 2}[c.breaker.State().String()]
		o.ObserveInt64(g, state, metric.WithAttributes(AttrProvider.String(c.name)))
		return nil
	}, g)
	c.tel = ct
}

// startAttempt opens the span of one attempt of r, its HTTP client span,
// and gives the attempt its own headers carrying the span's traceparent:
// the caller's request is left as it was (a transport may still be
// writing an earlier attempt's).
func (c *Client) startAttempt(ctx context.Context, n int32, r *http.Request) (context.Context, trace.Span, http.Header) {
	header := r.Header.Clone()
	if header == nil {
		header = http.Header{}
	}
	if c.tel == nil {
		return ctx, noop.Span{}, header
	}
	// Attributes are built only for a span that records: when sampling
	// is off they would be thrown away, after costing allocations and a
	// read of the breaker's state per attempt. (The samplers configured
	// decide on the trace id and parent, never on attributes.)
	ctx, span := c.tel.tracer.Start(ctx, "provider attempt", trace.WithSpanKind(trace.SpanKindClient))
	if span.IsRecording() {
		span.SetAttributes(AttrProvider.String(c.name), AttrOperation.String(operationOf(ctx)),
			AttrAttempt.Int(int(n)), AttrBreakerState.String(c.breaker.State().String()),
			attribute.String("http.request.method", r.Method), attribute.String("server.address", r.URL.Host),
			attribute.String("url.path", r.URL.Path))
	}
	propagation.TraceContext{}.Inject(ctx, propagation.HeaderCarrier(header))
	return ctx, span, header
}

// endAttempt records the attempt's outcome.
func (c *Client) endAttempt(ctx context.Context, span trace.Span, n int32, resp *http.Response, err error) {
	if c.tel == nil {
		return
	}
	outcome := "error"
	switch {
	case err == nil && resp != nil && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests:
		outcome = "ok"
		if span.IsRecording() {
			span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
		}
	case err == nil && resp != nil:
		outcome = "provider_failure"
		if span.IsRecording() {
			span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
			span.SetStatus(codes.Error, resp.Status)
		}
	default:
		if span.IsRecording() {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
	}
	op := operationOf(ctx)
	c.tel.attempts.Add(ctx, 1, c.tel.sets.Get([3]string{"attempt", op, outcome},
		AttrProvider.String(c.name), AttrOperation.String(op), attribute.String("outcome", outcome)))
	if n > 1 {
		c.tel.retries.Add(ctx, 1, c.tel.sets.Get([3]string{"retry", op}, AttrProvider.String(c.name), AttrOperation.String(op)))
	}
	span.End()
}

// providerTelemetry is what a Provider records per call.
type providerTelemetry struct {
	tracer  trace.Tracer
	calls   metric.Int64Counter
	latency metric.Float64Histogram
	sets    telemetry.Sets[[3]string]
}

func newProviderTelemetry(tp trace.TracerProvider, mp metric.MeterProvider) *providerTelemetry {
	if tp == nil || mp == nil {
		return nil
	}
	m := mp.Meter(instrumentation)
	pt := &providerTelemetry{tracer: tp.Tracer(instrumentation)}
	pt.calls, _ = m.Int64Counter("vagate.provider.calls", metric.WithDescription("provider calls, by provider, operation and error code"))
	pt.latency, _ = m.Float64Histogram("vagate.provider.call.duration", metric.WithUnit("s"),
		metric.WithDescription("provider call latency, every attempt and wait included"))
	return pt
}

// startCall opens the span of one provider call and marks its operation.
func (p *Provider) startCall(ctx context.Context, op string) (context.Context, func(error)) {
	ctx = context.WithValue(ctx, opKey{}, op)
	pt := p.tel
	if pt == nil {
		return ctx, func(error) {}
	}
	start := time.Now()
	ctx, span := pt.tracer.Start(ctx, "provider "+op, trace.WithSpanKind(trace.SpanKindInternal))
	if span.IsRecording() { // see startAttempt
		span.SetAttributes(AttrProvider.String(p.name), AttrOperation.String(op), AttrBreakerState.String(p.BreakerState()))
	}
	return ctx, func(err error) {
		code := bank.Code(err)
		attrs := pt.sets.Get([3]string{op, code.String()}, AttrProvider.String(p.name), AttrOperation.String(op), AttrErrorCode.String(code.String()))
		pt.calls.Add(ctx, 1, attrs)
		pt.latency.Record(ctx, time.Since(start).Seconds(), attrs)
		if err != nil && span.IsRecording() {
			span.SetAttributes(AttrErrorCode.String(code.String()))
			span.RecordError(err)
			span.SetStatus(codes.Error, code.String())
		}
		span.End()
	}
}
