package gateway

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/vagate/vagate/core/provider"
)

// OpenOptions configure Open; the zero value gives the defaults.
type OpenOptions struct {
	// Limits is the provider's resilience policy (nil: defaults).
	Limits *Limits
	// Base is the transport under the resilient client (nil: a default one).
	Base http.RoundTripper
	// Log receives the client's retry and breaker events (nil: discarded).
	Log *slog.Logger
	// Tracer and Meter record spans and metrics per call and per attempt.
	Tracer trace.TracerProvider
	Meter  metric.MeterProvider
	// WebhookURL is where the gateway receives this provider's callbacks.
	WebhookURL string
	// TenantAccounts, PollInterval and MaxPollInterval are as in Options.
	TenantAccounts  map[string][]string
	PollInterval    time.Duration
	MaxPollInterval time.Duration
}

// Open builds the resilient client for provider name, opens the adapter
// through it and wraps the adapter: the one way production and tests alike
// turn an opener into a Provider.
func Open(name string, open func(env provider.Env) (provider.Adapter, error), o *OpenOptions) (*Provider, error) {
	if o == nil {
		o = &OpenOptions{}
	}
	client := NewClient(name, o.Limits, o.Base, o.Log)
	if o.Tracer != nil || o.Meter != nil {
		tp, mp := o.Tracer, o.Meter
		if tp == nil {
			tp = tracenoop.NewTracerProvider()
		}
		if mp == nil {
			mp = metricnoop.NewMeterProvider()
		}
		client.Instrument(tp, mp)
	}
	a, err := open(provider.Env{Name: name, HTTPClient: client.HTTP(), WebhookURL: o.WebhookURL})
	if err != nil {
		return nil, err
	}
	if _, ok := a.(provider.MoneyAccounts); !ok && len(o.TenantAccounts) > 0 {
		return nil, fmt.Errorf("tenantAccounts: provider %q takes no provider account in providerParams", name)
	}
	return New(name, a, &Options{Client: client, Tracer: o.Tracer, Meter: o.Meter, TenantAccounts: o.TenantAccounts,
		PollInterval: o.PollInterval, MaxPollInterval: o.MaxPollInterval})
}

// OpenDriver opens d's adapter from the config block decode reads: Open for
// a driver listed by the program.
func OpenDriver(name string, d provider.Driver, decode func(into any) error, o *OpenOptions) (*Provider, error) {
	return Open(name, func(env provider.Env) (provider.Adapter, error) { return d.Open(decode, env) }, o)
}
