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

	"github.com/vagate/vagate/adapters/batchva"
	"github.com/vagate/vagate/adapters/masterfiat"
	"github.com/vagate/vagate/adapters/parentprimary"
	"github.com/vagate/vagate/adapters/subaccount"
	"github.com/vagate/vagate/config"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/provider"
	"github.com/vagate/vagate/core/telemetry"
	"github.com/vagate/vagate/mocks/batchvamock"
	"github.com/vagate/vagate/mocks/masterfiatmock"
	"github.com/vagate/vagate/mocks/parentprimarymock"
	"github.com/vagate/vagate/mocks/subaccountmock"
)

// openEnv is what an opener gets besides its block: the gateway's public URL
// and the resilient HTTP client the adapter must send through.
type openEnv struct {
	publicURL string
	http      *http.Client
}

// openers build an adapter of each style from its strictly decoded block.
// Adding a provider style is one entry here.
var openers = map[string]func(pc *config.Provider, env openEnv) (provider.Adapter, error){
	batchva.Style: func(pc *config.Provider, env openEnv) (provider.Adapter, error) {
		var c batchva.Config
		if err := config.DecodeStrict(&pc.Config, &c); err != nil {
			return nil, err
		}
		if c.CallbackURL == "" && (c.SigningSecret != "" || c.RSAPublicKey != "") {
			c.CallbackURL = env.publicURL + "/v1/providers/" + pc.Name + "/webhooks"
		}
		return batchva.Open(c, &batchva.Options{HTTPClient: env.http})
	},
	subaccount.Style: func(pc *config.Provider, env openEnv) (provider.Adapter, error) {
		var c subaccount.Config
		if err := config.DecodeStrict(&pc.Config, &c); err != nil {
			return nil, err
		}
		return subaccount.Open(c, &subaccount.Options{HTTPClient: env.http})
	},
	parentprimary.Style: func(pc *config.Provider, env openEnv) (provider.Adapter, error) {
		var c parentprimary.Config
		if err := config.DecodeStrict(&pc.Config, &c); err != nil {
			return nil, err
		}
		return parentprimary.Open(c, &parentprimary.Options{HTTPClient: env.http})
	},
	masterfiat.Style: func(pc *config.Provider, env openEnv) (provider.Adapter, error) {
		var c masterfiat.Config
		if err := config.DecodeStrict(&pc.Config, &c); err != nil {
			return nil, err
		}
		return masterfiat.Open(c, &masterfiat.Options{HTTPClient: env.http})
	},
}

func openProvider(pc *config.Provider, publicURL string, log *slog.Logger, tel *telemetry.Telemetry) (*gateway.Provider, error) {
	open, ok := openers[pc.Style]
	if !ok {
		return nil, fmt.Errorf("style: unknown provider style %q", pc.Style)
	}
	client := gateway.NewClient(pc.Name, limits(&pc.Resilience), nil, log)
	if tel != nil {
		client.Instrument(tel.Tracer, tel.Meter)
	}
	a, err := open(pc, openEnv{publicURL: publicURL, http: client.HTTP()})
	if err != nil {
		return nil, err
	}
	if _, ok := a.(provider.MoneyAccounts); !ok && len(pc.TenantAccounts) > 0 {
		return nil, fmt.Errorf("tenantAccounts: provider style %q takes no provider account in providerParams", pc.Style)
	}
	opts := &gateway.Options{Client: client, TenantAccounts: pc.TenantAccounts}
	if tel != nil {
		opts.Tracer, opts.Meter = tel.Tracer, tel.Meter
	}
	return gateway.New(pc.Name, a, opts)
}

// limits turns a provider's resilience block into the client's policy.
func limits(r *config.Resilience) *gateway.Limits {
	return &gateway.Limits{
		AttemptTimeout: r.AttemptTimeout.D(), CallTimeout: r.CallTimeout.D(), MaxAttempts: r.MaxAttempts,
		BackoffMin: r.BackoffMin.D(), BackoffMax: r.BackoffMax.D(), MaxConcurrent: r.MaxConcurrent,
		RatePerSecond: r.RatePerSecond, Burst: r.Burst,
		Breaker: gateway.BreakerLimits{FailureRatio: r.Breaker.FailureRatio, MinRequests: uint32(r.Breaker.MinRequests),
			Window: r.Breaker.Window.D(), OpenFor: r.Breaker.OpenFor.D(), Probes: uint32(r.Breaker.Probes)},
	}
}

// embeddedMock is a bundled provider mock served inside the gateway process.
type embeddedMock struct {
	name     string
	url      string
	provider *gateway.Provider
}

// bundled lists the mocks the embedded default starts, each with the
// provider configured against it. Adding a mock is one entry here.
var bundled = []struct {
	style string
	start func(mockURL, callbackURL string, hc *http.Client) (http.Handler, func(), provider.Adapter, error)
}{
	{batchva.Style, func(mockURL, callbackURL string, hc *http.Client) (http.Handler, func(), provider.Adapter, error) {
		m := batchvamock.New(nil)
		def := batchvamock.DefaultClient()
		a, err := batchva.Open(batchva.Config{
			BaseURL: mockURL, ClientID: def.ID, ClientSecret: batchva.Secret(def.Secret),
			CallbackURL: callbackURL, SigningSecret: batchva.Secret(def.SigningSecret),
		}, &batchva.Options{HTTPClient: hc})
		return m, m.Close, a, err
	}},
	{subaccount.Style, func(mockURL, _ string, hc *http.Client) (http.Handler, func(), provider.Adapter, error) {
		m := subaccountmock.New(&subaccountmock.Options{MainAccounts: subaccountmock.DefaultMainAccounts()})
		a, err := subaccount.Open(subaccount.Config{
			BaseURL: mockURL, APIKey: subaccount.Secret(subaccountmock.DefaultAPIKey), SettlementAccounts: m.SettlementAccounts(),
		}, &subaccount.Options{HTTPClient: hc})
		return m, m.Close, a, err
	}},
	{parentprimary.Style, func(mockURL, _ string, hc *http.Client) (http.Handler, func(), provider.Adapter, error) {
		m := parentprimarymock.New(&parentprimarymock.Options{PrimaryAccounts: parentprimarymock.DefaultPrimaryAccounts()})
		def := parentprimarymock.DefaultPartner()
		a, err := parentprimary.Open(parentprimary.Config{
			BaseURL: mockURL, APIToken: parentprimary.Secret(def.APIToken), SigningSecret: parentprimary.Secret(def.SigningSecret),
			ParentAccounts: m.ParentAccounts(def.ID), ProductCodes: m.ProductCodes(),
		}, &parentprimary.Options{HTTPClient: hc})
		return m, m.Close, a, err
	}},
	{masterfiat.Style, func(mockURL, callbackURL string, hc *http.Client) (http.Handler, func(), provider.Adapter, error) {
		m := masterfiatmock.New(&masterfiatmock.Options{ActivationDelay: 200 * time.Millisecond, UnblockDelay: 200 * time.Millisecond,
			FiatAccounts: masterfiatmock.DefaultFiatAccounts(), EndUsers: []masterfiatmock.EndUser{masterfiatmock.DefaultEndUser()}})
		wh, err := m.AddWebhook(callbackURL, []string{masterfiatmock.EventStatusUpdated}, "")
		if err != nil {
			m.Close()
			return nil, nil, nil, err
		}
		cfg := masterfiat.Config{BaseURL: mockURL, ClientID: masterfiatmock.DefaultClient().ID,
			ClientSecret: masterfiat.Secret(masterfiatmock.DefaultClient().Secret), WebhookSecret: masterfiat.Secret(wh.SecretKey),
			MasterFiatAccounts: map[string]string{}}
		for _, f := range m.FiatAccounts() {
			cfg.MasterFiatAccounts[f.Currency] = f.ID
		}
		a, err := masterfiat.Open(cfg, &masterfiat.Options{HTTPClient: hc})
		return m, m.Close, a, err
	}},
}

func startMocks(ctx context.Context, bg *sync.WaitGroup, basePort int, publicURL string, log *slog.Logger, tel *telemetry.Telemetry) ([]*embeddedMock, error) {
	var out []*embeddedMock
	for i, b := range bundled {
		addr := "127.0.0.1:0"
		if basePort > 0 {
			addr = "127.0.0.1:" + strconv.Itoa(basePort+i)
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("embedded mock %s: listen %s: %w (set mocks.basePort or -mock-port)", b.style, addr, err)
		}
		url := "http://" + ln.Addr().String()
		client := gateway.NewClient(b.style, nil, nil, log)
		client.Instrument(tel.Tracer, tel.Meter)
		h, closeMock, a, err := b.start(url, publicURL+"/v1/providers/"+b.style+"/webhooks", client.HTTP())
		if err != nil {
			ln.Close()
			return nil, err
		}
		p, err := gateway.New(b.style, a, &gateway.Options{Client: client, Tracer: tel.Tracer, Meter: tel.Meter})
		if err != nil {
			ln.Close()
			closeMock()
			return nil, err
		}
		// The mock joins the caller's trace, as a real provider would.
		srv := &http.Server{Handler: otelhttp.NewHandler(h, "mock "+b.style, otelhttp.WithTracerProvider(tel.Tracer),
			otelhttp.WithPropagators(propagation.TraceContext{}), otelhttp.WithSpanNameFormatter(mockSpanName)), ReadHeaderTimeout: 10 * time.Second}
		bg.Go(func() { srv.Serve(ln) })
		bg.Go(func() {
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv.Shutdown(sctx)
			closeMock()
		})
		log.Info("embedded mock listening", "mock", b.style, "url", url)
		out = append(out, &embeddedMock{name: b.style, url: url, provider: p})
	}
	return out, nil
}

// mockSpanName names a mock's server spans after the mock.
func mockSpanName(op string, _ *http.Request) string { return op }
