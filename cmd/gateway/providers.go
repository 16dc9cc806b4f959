package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"

	"github.com/vagate/vagate/config"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/telemetry"
	"github.com/vagate/vagate/mocks/bundle"
)

// openProvider opens a configured provider through its style's driver: the
// block decoded strictly, the adapter sending through the provider's
// resilient client, callbacks received at the gateway's public URL.
func openProvider(pc *config.Provider, publicURL string, log *slog.Logger, tel *telemetry.Telemetry) (*gateway.Provider, error) {
	d, err := driverFor(pc.Style)
	if err != nil {
		return nil, err
	}
	opts := &gateway.OpenOptions{Limits: limits(&pc.Resilience), Log: log, WebhookURL: webhookURL(publicURL, pc.Name),
		TenantAccounts: pc.TenantAccounts}
	if tel != nil {
		opts.Tracer, opts.Meter = tel.Tracer, tel.Meter
	}
	return gateway.OpenDriver(pc.Name, d, func(into any) error { return config.DecodeStrict(&pc.Config, into) }, opts)
}

// webhookURL is where the gateway receives provider name's callbacks.
func webhookURL(publicURL, name string) string {
	return publicURL + "/v1/providers/" + name + "/webhooks"
}

// limits turns a provider's resilience block into the client's policy.
func limits(r *config.Resilience) *gateway.Limits {
	return &gateway.Limits{
		AttemptTimeout: r.AttemptTimeout.D(), CallTimeout: r.CallTimeout.D(), MaxAttempts: r.MaxAttempts,
		BackoffMin: r.BackoffMin.D(), BackoffMax: r.BackoffMax.D(), MaxConcurrent: r.MaxConcurrent,
		RatePerSecond: r.RatePerSecond, Burst: r.Burst, SettleDelay: r.SettleDelay.D(),
		Breaker: gateway.BreakerLimits{FailureRatio: r.Breaker.FailureRatio, MinRequests: uint32(r.Breaker.MinRequests),
			Window: r.Breaker.Window.D(), OpenFor: r.Breaker.OpenFor.D(), Probes: uint32(r.Breaker.Probes)},
		Conns: gateway.ConnLimits{IdlePerHost: r.Connections.IdlePerHost, IdleTimeout: r.Connections.IdleTimeout.D(),
			KeepAlive: r.Connections.KeepAlive.D(), DialTimeout: r.Connections.DialTimeout.D(), DisableHTTP2: r.Connections.DisableHTTP2},
	}
}

// bundledProvider is the provider entry of a bundled mock: named after its
// style, with block as its config, as if a config file held it.
func bundledProvider(style string, block map[string]any) (*config.Provider, error) {
	pc := &config.Provider{Name: style, Style: style}
	if err := pc.Config.Encode(block); err != nil {
		return nil, fmt.Errorf("embedded mock %s: config block: %w", style, err)
	}
	return pc, nil
}

// embeddedSettings are the bundled mocks' settings in the embedded default:
// transitions slow enough to be seen.
var embeddedSettings = bundle.Settings{TransitionDelay: 200 * time.Millisecond}

// embeddedMock is a bundled provider mock served inside the gateway process.
type embeddedMock struct {
	name     string
	url      string
	provider *gateway.Provider
}

// startMocks serves every bundled mock on loopback and opens its provider
// from the mock's config block, exactly as a configured provider is opened.
func startMocks(ctx context.Context, bg *sync.WaitGroup, basePort int, publicURL string, log *slog.Logger, tel *telemetry.Telemetry) ([]*embeddedMock, error) {
	var out []*embeddedMock
	for i, b := range bundle.Mocks {
		addr := "127.0.0.1:0"
		if basePort > 0 {
			addr = "127.0.0.1:" + strconv.Itoa(basePort+i)
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("embedded mock %s: listen %s: %w (set mocks.basePort or -mock-port)", b.Style, addr, err)
		}
		url := "http://" + ln.Addr().String()
		m, block := b.New(embeddedSettings)
		p, err := openBundled(b.Style, block, url, publicURL, log, tel)
		if err != nil {
			ln.Close()
			m.Close()
			return nil, err
		}
		// The mock joins the caller's trace, as a real provider would.
		srv := &http.Server{Handler: otelhttp.NewHandler(m, "mock "+b.Style, otelhttp.WithTracerProvider(tel.Tracer),
			otelhttp.WithPropagators(propagation.TraceContext{}), otelhttp.WithSpanNameFormatter(mockSpanName)), ReadHeaderTimeout: 10 * time.Second}
		bg.Go(func() { srv.Serve(ln) })
		bg.Go(func() {
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv.Shutdown(sctx)
			m.Close()
		})
		log.Info("embedded mock listening", "mock", b.Style, "url", url)
		out = append(out, &embeddedMock{name: b.Style, url: url, provider: p})
	}
	return out, nil
}

// openBundled opens the provider of a bundled mock served at mockURL.
func openBundled(style string, block bundle.Block, mockURL, publicURL string, log *slog.Logger, tel *telemetry.Telemetry) (*gateway.Provider, error) {
	cfg, err := block(mockURL, webhookURL(publicURL, style))
	if err != nil {
		return nil, fmt.Errorf("embedded mock %s: %w", style, err)
	}
	pc, err := bundledProvider(style, cfg)
	if err != nil {
		return nil, err
	}
	p, err := openProvider(pc, publicURL, log, tel)
	if err != nil {
		return nil, fmt.Errorf("embedded mock %s: %w", style, err)
	}
	return p, nil
}

// mockSpanName names a mock's server spans after the mock.
func mockSpanName(op string, _ *http.Request) string { return op }
