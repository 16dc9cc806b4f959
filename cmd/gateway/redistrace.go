package main

import (
	"context"
	"errors"
	"net"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// redisTracing is a go-redis hook opening a client span for each command,
// pipeline and dial. Attributes are set only on spans that record, and no
// command's arguments are recorded: they hold tenant data (idempotent
// answers, accounts). It replaces redisotel, which built attributes, the
// command text and the caller's file and line for every command, sampled
// or not (8% of the CPU of an idempotent replay on Redis).
type redisTracing struct {
	tracer trace.Tracer
	addr   string
}

var _ redis.Hook = redisTracing{}

const redisInstrumentation = "github.com/vagate/vagate/cmd/gateway/redis"

// instrumentRedis adds the tracing hook to c. A Cluster client's hook
// wraps each command before it is routed to a node, so it covers the
// nodes found later too; a one-node client's spans name the node.
func instrumentRedis(c redis.UniversalClient, tp trace.TracerProvider) {
	h := redisTracing{tracer: tp.Tracer(redisInstrumentation)}
	if n, ok := c.(*redis.Client); ok {
		if _, _, err := net.SplitHostPort(n.Options().Addr); err == nil {
			h.addr = n.Options().Addr
		}
	}
	c.AddHook(h)
}

func (h redisTracing) start(ctx context.Context, name string, n int) (context.Context, trace.Span) {
	ctx, span := h.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient))
	if span.IsRecording() {
		span.SetAttributes(attribute.String("db.system.name", "redis"), attribute.String("db.operation.name", name))
		if h.addr != "" {
			span.SetAttributes(attribute.String("server.address", h.addr))
		}
		if n > 1 {
			span.SetAttributes(attribute.Int("db.operation.batch.size", n))
		}
	}
	return ctx, span
}

func endRedisSpan(span trace.Span, err error) {
	if err != nil && !errors.Is(err, redis.Nil) && span.IsRecording() {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// DialHook implements redis.Hook.
func (h redisTracing) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		ctx, span := h.start(ctx, "redis.dial", 1)
		conn, err := next(ctx, network, addr)
		endRedisSpan(span, err)
		return conn, err
	}
}

// ProcessHook implements redis.Hook.
func (h redisTracing) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		ctx, span := h.start(ctx, cmd.Name(), 1)
		err := next(ctx, cmd)
		endRedisSpan(span, err)
		return err
	}
}

// ProcessPipelineHook implements redis.Hook.
func (h redisTracing) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		ctx, span := h.start(ctx, "redis.pipeline", len(cmds))
		err := next(ctx, cmds)
		endRedisSpan(span, err)
		return err
	}
}
