package main

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/net/netutil"

	"github.com/vagate/vagate/config"
	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/console"
	"github.com/vagate/vagate/core/events"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/httpapi"
	"github.com/vagate/vagate/core/jobs"
	"github.com/vagate/vagate/core/pool"
	"github.com/vagate/vagate/core/telemetry"
)

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "config file (default $VAGATE_CONFIG, else the embedded development setup)")
	listen := fs.String("listen", "", "listen address, overriding the config (e.g. 127.0.0.1:0)")
	mockPort := fs.Int("mock-port", -1, "first port of the embedded mocks, overriding the config (0: any free port)")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	path := configPath(*cfgPath)
	cfg, err := loadConfig(path)
	if err != nil {
		return err
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	if *mockPort >= 0 {
		cfg.Mocks.BasePort = *mockPort
	}
	log := newLogger(stderr, cfg.Log.Level)
	tuneGC(log)
	// go-redis logs dial failures itself, unstructured; the gateway reports them.
	redis.SetLogger(redisLogger{log})
	if err := serveWith(ctx, cfg, path, log, stdout); err != nil {
		log.Error("gateway failed", "err", err)
		return &loggedError{err}
	}
	return nil
}

// defaultGCPercent is the collector's target (GOGC) when the environment
// sets neither GOGC nor GOMEMLIMIT. The gateway's live heap is small (tens
// of MB) and most of what a request allocates dies with it, so at Go's
// default of 100 the collector ran many times a second and took about 15%
// of the CPU of a provider read; 200 halves its runs for a heap at most
// three times the live one (BENCHMARKS.md has the RSS).
const defaultGCPercent = 200

// tuneGC applies defaultGCPercent unless GOGC or GOMEMLIMIT was set, which
// the operator's choice then decides.
func tuneGC(log *slog.Logger) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetGCPercent(defaultGCPercent)
	log.Debug("garbage collector target set", "gogc", defaultGCPercent)
}

// serveWith runs the gateway configured by cfg (read from the file at
// path, "" for the embedded setup) until ctx ends. The whole file is
// judged (every provider's block opened) before the state store is
// connected to.
func serveWith(ctx context.Context, cfg *config.Config, path string, log *slog.Logger, stdout io.Writer) (err error) {
	tel, err := telemetry.New(ctx, telemetry.Config{ServiceName: cfg.Telemetry.ServiceName,
		OTLPEndpoint: cfg.Telemetry.OTLPEndpoint, Insecure: cfg.Telemetry.Insecure, SampleRatio: cfg.Telemetry.SampleRatio})
	if err != nil {
		return fmt.Errorf("config: telemetry: %w", err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		tel.Shutdown(sctx)
	}()

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	defer func() {
		if err != nil {
			ln.Close()
		}
	}()
	publicURL := cfg.PublicURLFor(ln.Addr())
	in := ""
	if path != "" {
		in = path + ": "
	}
	var configured []*gateway.Provider
	for i, pc := range cfg.Providers {
		p, err := openProvider(&pc, publicURL, log, tel)
		if err != nil {
			return fmt.Errorf("%sconfig: providers[%d] (%s): %w", in, i, pc.Name, err)
		}
		configured = append(configured, p)
	}
	ac, err := authConfig(&cfg.Auth)
	if err != nil {
		return err
	}

	// Then the store: in Redis mode nothing starts without it.
	st, err := openState(ctx, cfg, log, tel)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	var bg sync.WaitGroup
	// On return: stop the workers, wait for them, then close the store.
	defer func() { cancel(); bg.Wait(); st.close() }()

	var mocks []*embeddedMock
	if cfg.Mocks.Embedded {
		mocks, err = startMocks(ctx, &bg, cfg.Mocks.BasePort, publicURL, log, tel)
		if err != nil {
			return err
		}
	}
	reg := gateway.NewRegistry()
	for _, m := range mocks {
		if err = reg.Register(m.provider); err != nil {
			return err
		}
	}
	for i, p := range configured {
		if err = reg.Register(p); err != nil {
			return fmt.Errorf("%sconfig: providers[%d]: %w", in, i, err)
		}
	}
	var rules []gateway.Rule
	for _, r := range cfg.Routing {
		rules = append(rules, gateway.Rule{Currency: r.Currency, Capability: r.Capability, Provider: r.Provider, Fallbacks: r.Fallbacks})
	}
	router, err := gateway.NewRouter(reg, rules)
	if err != nil {
		return fmt.Errorf("%sconfig: %w", in, err)
	}
	hooks := openWebhooks(cfg, st, log, tel)
	bg.Go(func() { hooks.Run(ctx) })
	// The console's monitor hears of every event, and of every job accepted
	// or finished here.
	mon := console.New(reg, nil)
	bg.Go(func() { mon.Run(ctx) })
	for _, p := range cfg.Pool.Pools {
		mon.TenantSeen(p.Tenant)
	}
	eventLog := mon.Tap(hooks.Log()) // every event recorded is handed to delivery
	recorder := events.NewRecorder(eventLog, log)
	// The pool hears of accounts and jobs from the services it is built on.
	var pools atomic.Pointer[pool.Service]
	svc, changed := startAccounts(ctx, &bg, reg, st.accounts, func(ctx context.Context, before, after *bank.Account) {
		recorder.AccountChanged(ctx, before, after)
		if p := pools.Load(); p != nil {
			p.AccountChanged(ctx, before, after)
		}
	}, log)
	engine := jobs.New(reg, st.jobs, st.accounts, st.queue, &jobs.Options{
		Tracer: tel.Tracer, Meter: tel.Meter,
		Workers:     cfg.Jobs.Workers,
		ItemTimeout: cfg.Jobs.ItemTimeout.D(), DrainTimeout: cfg.Jobs.DrainTimeout.D(), Checks: cfg.Jobs.Checks, Logger: log,
		OnAccount: func(ctx context.Context, a *bank.Account) {
			changed(ctx, nil, a)
			if p := pools.Load(); p != nil {
				p.AccountCreated(ctx, a)
			}
		},
		OnSubmit: mon.JobSeen,
		OnFinish: func(ctx context.Context, j *bank.Job) {
			mon.JobSeen(ctx, j)
			recorder.JobFinished(ctx, j)
			if p := pools.Load(); p != nil {
				p.JobFinished(ctx, j)
			}
		},
	})
	bg.Go(func() { engine.Run(ctx) })
	pools.Store(pool.New(reg, router, st.pool, svc, engine, &pool.Options{
		ClaimTimeout: cfg.Pool.ClaimTimeout.D(), ResolveAfter: cfg.Pool.ResolveAfter.D(), SweepInterval: cfg.Pool.SweepInterval.D(),
		OnLow: recorder.PoolLow, OnReplenished: recorder.PoolReplenished, Logger: log, Meter: tel.Meter,
	}))
	if err = pools.Load().Setup(ctx, poolConfigs(cfg.Pool.Pools)); err != nil {
		return fmt.Errorf("%sconfig: %w", in, err)
	}
	bg.Go(func() { pools.Load().Run(ctx) })
	reconciler := startReconciler(ctx, &bg, reg, svc, st.reconcile, &cfg.Reconcile, recorder.Drift, log, tel)
	h, err := httpapi.NewHandler(httpapi.Deps{
		Tracer: tel.Tracer, Meter: tel.Meter, Metrics: tel.MetricsHandler(),
		Registry: reg, Router: router, Engine: engine, Accounts: svc, Pool: pools.Load(),
		Idempotency: st.idempotency, Auth: ac, Logger: log, Ready: st.ready,
		Events: eventLog, Webhooks: hooks, Reconciler: reconciler,
		Console: mon, Mocks: consoleMocks(cfg, mocks),
	}, httpapi.Options{TraceURLTemplate: cfg.Telemetry.TraceURLTemplate, PublicURL: publicURL, MaxPreferWait: cfg.Jobs.MaxPreferWait.D(), MaxBodyBytes: cfg.Limits.MaxBodyBytes,
		MaxWebhookBodyBytes: cfg.Limits.MaxWebhookBodyBytes, MetricsToken: string(cfg.Metrics.Token)})
	if err != nil {
		return err
	}
	srv, limited := httpServer(ln, h, &cfg.Limits)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(limited) }()
	log.Info("gateway listening", "addr", ln.Addr().String(), "url", localURL(ln.Addr()), "publicUrl", publicURL,
		"store", cfg.Store.Driver, "providers", strings.Join(reg.Names(), ","))
	if cfg.Mocks.Embedded && string(cfg.Auth.Secret) == string(config.DevSecret) {
		banner(stdout, ac, publicURL, mocks)
	}
	select {
	case serr := <-errc:
		return serr
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, scancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer scancel()
	if serr := srv.Shutdown(sctx); serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	return nil
}

// localURL is the URL of the bound address addr on this host (an
// unspecified host is reached at 127.0.0.1).
func localURL(addr net.Addr) string {
	return (&config.Config{}).PublicURLFor(addr)
}

// redisLogger turns go-redis's own log lines into debug lines of the
// gateway's log: what matters (Redis unreachable at start-up, a command
// failing) is reported by the gateway, once, with its context.
type redisLogger struct{ log *slog.Logger }

// Printf logs one go-redis message at debug level.
func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis client", "detail", fmt.Sprintf(format, v...))
}

// consoleMocks are the mocks the console's QA panel edits: the configured
// ones and the embedded ones.
func consoleMocks(cfg *config.Config, embedded []*embeddedMock) map[string]string {
	out := map[string]string{}
	for name, u := range cfg.Console.Mocks {
		out[name] = u
	}
	for _, m := range embedded {
		out[m.name] = m.url
	}
	return out
}

// poolConfigs are the configured pools as the pool service takes them.
func poolConfigs(ps []config.PoolSpec) []pool.Config {
	out := make([]pool.Config, len(ps))
	for i, p := range ps {
		out[i] = pool.Config{Tenant: p.Tenant, Provider: p.Provider, Currency: p.Currency, Target: p.Target, LowWatermark: p.LowWatermark}
	}
	return out
}

// httpServer is the gateway's HTTP server and the listener it serves,
// bounded so that slow or numerous clients cannot exhaust it:
//
//   - ReadTimeout bounds reading a request, headers and body, so a client
//     trickling a body is cut off;
//   - WriteTimeout bounds a request from the end of its headers to the end of
//     its answer. It is one server-wide bound rather than a per-route one, and
//     config validation keeps it longer than jobs.maxPreferWait, the longest a
//     create with Prefer: wait=N waits before answering;
//   - at most MaxConnections connections are served at once: further ones wait
//     in the listen backlog until one closes, so the process keeps file
//     descriptors for its own work (state store, providers) and connections
//     it has accepted keep being served.
func httpServer(ln net.Listener, h http.Handler, l *config.HTTPLimits) (*http.Server, net.Listener) {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: min(10*time.Second, l.ReadTimeout.D()),
		ReadTimeout:       l.ReadTimeout.D(),
		WriteTimeout:      l.WriteTimeout.D(),
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	return srv, netutil.LimitListener(ln, l.MaxConnections)
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	l.UnmarshalText([]byte(level))
	return slog.New(telemetry.LogHandler(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})))
}

// authConfig turns the config block into the verifier's config.
func authConfig(a *config.Auth) (*httpapi.AuthConfig, error) {
	ac := &httpapi.AuthConfig{Algorithm: a.Algorithm, Secret: []byte(a.Secret), Issuer: a.Issuer, Audience: a.Audience,
		MaxTokenLifetime: a.MaxTokenLifetime.D()}
	if a.PublicKeyFile != "" {
		b, err := os.ReadFile(a.PublicKeyFile)
		if err != nil {
			return nil, fmt.Errorf("config: auth.publicKeyFile: %w", err)
		}
		block, _ := pem.Decode(b)
		if block == nil {
			return nil, errors.New("config: auth.publicKeyFile: not PEM")
		}
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		rk, ok := k.(*rsa.PublicKey)
		if err != nil || !ok {
			return nil, errors.New("config: auth.publicKeyFile: not an RSA public key (PKIX PEM)")
		}
		ac.PublicKey = rk
	}
	if a.PrivateKeyFile != "" {
		b, err := os.ReadFile(a.PrivateKeyFile)
		if err != nil {
			return nil, fmt.Errorf("config: auth.privateKeyFile: %w", err)
		}
		block, _ := pem.Decode(b)
		if block == nil {
			return nil, errors.New("config: auth.privateKeyFile: not PEM")
		}
		var key any
		if key, err = x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		}
		rk, ok := key.(*rsa.PrivateKey)
		if err != nil || !ok {
			return nil, errors.New("config: auth.privateKeyFile: not an RSA private key")
		}
		ac.PrivateKey = rk
	}
	if err := ac.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return ac, nil
}

// banner prints what a newcomer needs to try the embedded gateway.
func banner(w io.Writer, ac *httpapi.AuthConfig, url string, mocks []*embeddedMock) {
	tok, err := httpapi.MintToken(ac, "dev", httpapi.AllPermissions(), 24*time.Hour)
	if err != nil {
		return
	}
	var ms []string
	for _, m := range mocks {
		ms = append(ms, m.name+" "+m.url)
	}
	fmt.Fprintf(w, `
vagate is running at %s (embedded: memory store; mocks: %s)

In another shell, with a development token (tenant "dev", every permission, valid 24h):
  export BASE=%s
  export TOKEN=%s

Try:
  curl -s -X POST "$BASE/v1/virtual-accounts" \
    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -H 'Prefer: wait=5' \
    -d '{"items":[{"currency":"USD","accountHolderName":"Jane Smith","accountName":"Jane Smith"}]}'

`, url, strings.Join(ms, ", "), url, tok)
}
