package webhooks

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

const instrumentation = "github.com/vagate/vagate/core/webhooks"

// Span and metric attribute keys.
const (
	AttrEndpointID = attribute.Key("vagate.webhook.endpoint_id")
	AttrEventID    = attribute.Key("vagate.webhook.event_id")
	AttrEventType  = attribute.Key("vagate.webhook.event_type")
	AttrAttempt    = attribute.Key("vagate.webhook.attempt")
	AttrTrigger    = attribute.Key("vagate.webhook.trigger")
	AttrOutcome    = attribute.Key("outcome")
)

// telemetry records a span per attempt and the delivery metrics:
//
//	vagate.webhooks.attempts             attempts, by outcome (success, http_error, gone,
//	                                     timeout, network_error, refused)
//	vagate.webhooks.attempt.duration     attempt latency (s), by outcome
//	vagate.webhooks.deliveries           settled deliveries, by outcome (succeeded, failed)
//	vagate.webhooks.backlog              pending deliveries, every instance's (the queue depth)
//	vagate.webhooks.backlog.oldest_age   age of the oldest pending delivery (s)
type telemetry struct {
	tracer   trace.Tracer
	attempts metric.Int64Counter
	duration metric.Float64Histogram
	settledN metric.Int64Counter
}

func newTelemetry(s *Service) *telemetry {
	m := s.opts.Meter.Meter(instrumentation)
	t := &telemetry{tracer: s.opts.Tracer.Tracer(instrumentation)}
	t.attempts, _ = m.Int64Counter("vagate.webhooks.attempts", metric.WithDescription("webhook delivery attempts, by outcome"))
	t.duration, _ = m.Float64Histogram("vagate.webhooks.attempt.duration", metric.WithUnit("s"),
		metric.WithDescription("webhook delivery attempt latency, by outcome"))
	t.settledN, _ = m.Int64Counter("vagate.webhooks.deliveries", metric.WithDescription("webhook deliveries settled, by outcome (succeeded, failed)"))
	depth, _ := m.Int64ObservableGauge("vagate.webhooks.backlog", metric.WithDescription("webhook deliveries pending, across instances"))
	age, _ := m.Float64ObservableGauge("vagate.webhooks.backlog.oldest_age", metric.WithUnit("s"),
		metric.WithDescription("age of the oldest pending webhook delivery"))
	m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		n, oldest, err := s.store.Backlog(ctx)
		if err != nil {
			return nil // nothing observed; the store's trouble shows elsewhere
		}
		o.ObserveInt64(depth, n)
		a := 0.0
		if !oldest.IsZero() {
			a = max(s.opts.Now().Sub(oldest).Seconds(), 0)
		}
		o.ObserveFloat64(age, a)
		return nil
	}, depth, age)
	return t
}

func (t *telemetry) startAttempt(ctx context.Context, ep *Endpoint, d *Delivery, trigger string) (context.Context, trace.Span) {
	return t.tracer.Start(ctx, "webhook attempt", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(AttrEndpointID.String(ep.ID), AttrEventID.String(d.EventID),
			AttrEventType.String(string(d.EventType)), AttrAttempt.Int(d.Tries+1), AttrTrigger.String(trigger)))
}

func (t *telemetry) endAttempt(ctx context.Context, span trace.Span, _ *Endpoint, att *Attempt, oc outcome) {
	span.SetAttributes(AttrOutcome.String(string(oc)))
	if att.StatusCode != 0 {
		span.SetAttributes(attribute.Int("http.response.status_code", att.StatusCode))
	}
	if oc != outcomeSuccess {
		span.SetStatus(codes.Error, att.Error)
	}
	span.End()
	attrs := metric.WithAttributes(AttrOutcome.String(string(oc)))
	t.attempts.Add(ctx, 1, attrs)
	t.duration.Record(ctx, att.Latency.Seconds(), attrs)
}

func (t *telemetry) settled(ctx context.Context, st DeliveryStatus) {
	t.settledN.Add(ctx, 1, metric.WithAttributes(AttrOutcome.String(string(st))))
}
