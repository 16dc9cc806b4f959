// Package config is vagate's typed configuration: a YAML file, ${VAR}
// expansion for secrets, a fixed set of VAGATE_* environment overrides,
// strict decoding (an unknown key is a start-up error naming it), defaults
// and validation. Each provider's own block is decoded strictly by its
// adapter; this package keeps it as raw YAML.
//
// With no file at all, Default returns the embedded development setup: the
// memory store and every bundled mock started in the same process.
package config

import (
	"fmt"
	"maps"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/provider"
)

// Config is the whole gateway configuration.
type Config struct {
	// Listen is the gateway's address.
	Listen string `yaml:"listen"`
	// PublicURL is how clients and providers reach the gateway; it prefixes
	// statusUrl/resultUrl and the provider callback URLs (default: the
	// listen address).
	PublicURL string      `yaml:"publicUrl"`
	Auth      Auth        `yaml:"auth"`
	Store     Store       `yaml:"store"`
	Jobs      Jobs        `yaml:"jobs"`
	Pool      Pool        `yaml:"pool"`
	Providers []Provider  `yaml:"providers"`
	Routing   []Route     `yaml:"routing"`
	Reconcile Reconcile   `yaml:"reconcile"`
	Mocks     Mocks       `yaml:"mocks"`
	Log       Log         `yaml:"log"`
	Limits    HTTPLimits  `yaml:"limits"`
	Webhooks  WebhookOpts `yaml:"webhooks"`
	Telemetry Telemetry   `yaml:"telemetry"`
	Metrics   Metrics     `yaml:"metrics"`
	Console   Console     `yaml:"console"`

	// development marks the embedded development setup, the only one that
	// may sign tokens with DevSecret.
	development bool
}

// Metrics configures GET /metrics.
type Metrics struct {
	// Token, when set, is the bearer secret GET /metrics requires
	// (Authorization: Bearer <token>); empty: /metrics is open.
	Token Secret `yaml:"token"`
}

// Telemetry configures traces (metrics are served at /metrics; see Metrics).
type Telemetry struct {
	// OTLPEndpoint is an OTLP/HTTP collector: host:port, or an http://
	// (plaintext) or https:// URL whose path defaults to /v1/traces; empty:
	// traces are not exported (and cost next to nothing).
	OTLPEndpoint string `yaml:"otlpEndpoint"`
	// Insecure talks to a host:port collector without TLS.
	Insecure bool `yaml:"insecure"`
	// SampleRatio is the share of new traces recorded (default 1).
	SampleRatio float64 `yaml:"sampleRatio"`
	// ServiceName names the gateway in traces (default "vagate").
	ServiceName string `yaml:"serviceName"`
	// TraceURLTemplate is the trace UI's URL of a trace, {traceId} standing
	// for its id (e.g. http://jaeger:16686/trace/{traceId}); the operator
	// console links every job and provider error to it. Empty: no links.
	TraceURLTemplate string `yaml:"traceUrlTemplate"`
}

// Console configures the operator console (/console).
type Console struct {
	// Mocks are the bundled mocks whose faults the console's QA panel edits,
	// by name (the provider they serve) to base URL, their admin API at
	// /__admin/faults. In embedded mode the embedded mocks are added.
	Mocks map[string]string `yaml:"mocks"`
}

// Auth configures bearer-token verification.
type Auth struct {
	// Algorithm is HS256 or RS256.
	Algorithm string `yaml:"algorithm"`
	// Secret is the HS256 key (use ${VAR} in files).
	Secret Secret `yaml:"secret"`
	// PublicKeyFile is the RS256 verification key (PEM).
	PublicKeyFile string `yaml:"publicKeyFile"`
	// PrivateKeyFile is the RS256 signing key, only for `gateway token`.
	PrivateKeyFile string `yaml:"privateKeyFile"`
	Issuer         string `yaml:"issuer"`
	Audience       string `yaml:"audience"`
	// MaxTokenLifetime is the longest lifetime a token may have: exp minus
	// iat, or exp minus now without iat (default 24h).
	MaxTokenLifetime Duration `yaml:"maxTokenLifetime"`
}

// Store selects where state lives.
type Store struct {
	// Driver is memory (one process) or redis (shared by many instances).
	Driver string `yaml:"driver"`
	// RedisURL is one Redis node (redis://, rediss:// or unix://): the short
	// form of Redis.URL, kept for existing files.
	RedisURL Secret `yaml:"redisUrl"`
	// Redis is the Redis deployment with its connection settings.
	Redis Redis `yaml:"redis"`
	// Prefix starts every Redis key (default "vagate"); instances that share
	// state use the same prefix.
	Prefix string `yaml:"prefix"`
}

// Jobs tunes the job engine.
type Jobs struct {
	// Workers is how many jobs one instance processes at once.
	Workers int `yaml:"workers"`
	// ItemTimeout bounds how long one provider create (including async completion) may take.
	ItemTimeout Duration `yaml:"itemTimeout"`
	// MaxPreferWait caps Prefer: wait=N.
	MaxPreferWait Duration `yaml:"maxPreferWait"`
	// VisibilityTimeout is how long a job may go without its instance's
	// heartbeat before another instance takes it over (redis store).
	VisibilityTimeout Duration `yaml:"visibilityTimeout"`
	// DrainTimeout is how long, on SIGTERM, jobs in progress may go on
	// before they are interrupted and handed back to the queue.
	DrainTimeout Duration `yaml:"drainTimeout"`
	// Checks is how often an item of unknown outcome is checked again
	// before its job finishes with it flagged as needing attention.
	Checks int `yaml:"checks"`
}

// Pool configures the unallocated pools (see core/pool).
type Pool struct {
	// ClaimTimeout bounds one claim's calls to the provider (default 20s);
	// it must be shorter than limits.writeTimeout.
	ClaimTimeout Duration `yaml:"claimTimeout"`
	// ResolveAfter is how long after an unknown allocation outcome, or after
	// a claim's instance stopped, its account is read at the provider to
	// settle it (default 10s).
	ResolveAfter Duration `yaml:"resolveAfter"`
	// SweepInterval is how often each instance looks for claims to settle,
	// replenish jobs that ended and pools below their watermark (default 5s).
	SweepInterval Duration `yaml:"sweepInterval"`
	// Pools are set up at start-up; sizes changed through the API since win.
	Pools []PoolSpec `yaml:"pools"`
}

// PoolSpec is one configured pool: a tenant's UNALLOCATED accounts at one
// provider in one currency.
type PoolSpec struct {
	Tenant   string `yaml:"tenant"`
	Provider string `yaml:"provider"`
	Currency string `yaml:"currency"`
	// Target is what a replenish tops the pool up to (0: never replenished).
	Target int `yaml:"target"`
	// LowWatermark: a claim leaving fewer available starts a replenish.
	LowWatermark int `yaml:"lowWatermark"`
}

// Provider is one configured provider; Config is its adapter's own block.
type Provider struct {
	Name       string     `yaml:"name"`
	Style      string     `yaml:"style"`
	Resilience Resilience `yaml:"resilience"`
	// TenantAccounts lists, per tenant id, the provider-side money accounts
	// (settlement, master or parent accounts) that tenant may name in an
	// item's providerParams besides the defaults of the adapter's config. A
	// tenant not listed may name only those defaults.
	TenantAccounts map[string][]string `yaml:"tenantAccounts"`
	Config         yaml.Node           `yaml:"config"`
}

// Resilience is a provider's timeouts, retries, limits and breaker; zero
// values take the gateway's defaults.
type Resilience struct {
	// AttemptTimeout bounds one HTTP attempt (default 10s).
	AttemptTimeout Duration `yaml:"attemptTimeout"`
	// CallTimeout bounds a call with all its attempts (default 30s).
	CallTimeout Duration `yaml:"callTimeout"`
	// MaxAttempts bounds attempts of resendable calls (default 3).
	MaxAttempts int `yaml:"maxAttempts"`
	// BackoffMin and BackoffMax bound the full-jitter backoff (100ms, 5s).
	BackoffMin Duration `yaml:"backoffMin"`
	BackoffMax Duration `yaml:"backoffMax"`
	// MaxConcurrent bounds attempts in flight (default 16).
	MaxConcurrent int `yaml:"maxConcurrent"`
	// RatePerSecond limits attempts per second (0: none); Burst its burst.
	RatePerSecond float64 `yaml:"ratePerSecond"`
	Burst         int     `yaml:"burst"`
	// SettleDelay is how long a create whose outcome is unknown is left to
	// finish at a provider without idempotency keys before it is looked up
	// (default 1s).
	SettleDelay Duration `yaml:"settleDelay"`
	Breaker     Breaker  `yaml:"breaker"`
	// Connections configures the pool of connections to the provider.
	Connections Connections `yaml:"connections"`
}

// Connections configures the pool of keep-alive connections to a provider.
type Connections struct {
	// IdlePerHost is how many idle connections are kept per provider host
	// (default twice maxConcurrent; not fewer than maxConcurrent).
	IdlePerHost int `yaml:"idlePerHost"`
	// IdleTimeout closes a connection idle this long (default 90s).
	IdleTimeout Duration `yaml:"idleTimeout"`
	// KeepAlive is the TCP keep-alive probe period (default 30s).
	KeepAlive Duration `yaml:"keepAlive"`
	// DialTimeout bounds opening a connection (default 5s).
	DialTimeout Duration `yaml:"dialTimeout"`
	// DisableHTTP2 keeps to HTTP/1.1 where the provider offers HTTP/2.
	DisableHTTP2 bool `yaml:"disableHTTP2"`
}

// Breaker configures a provider's circuit breaker.
type Breaker struct {
	// FailureRatio of provider-side failures over Window that opens it (default 0.5).
	FailureRatio float64 `yaml:"failureRatio"`
	// MinRequests in the window before it may open (default 10).
	MinRequests int `yaml:"minRequests"`
	// Window is the rolling window (default 30s).
	Window Duration `yaml:"window"`
	// OpenFor is how long it fails fast before probing (default 10s).
	OpenFor Duration `yaml:"openFor"`
	// Probes let through when half-open (default 3).
	Probes int `yaml:"probes"`
}

// Route sends items of a currency (and, optionally, needing a capability) to a provider.
type Route struct {
	Currency string `yaml:"currency"`
	// Capability, if set, is one of provider.RouteCapabilities.
	Capability provider.Capability `yaml:"capability"`
	Provider   string              `yaml:"provider"`
	// Fallbacks are the providers, in order, an item routed by this rule
	// fails over to when its provider cannot create it and nothing can
	// have been created there (its breaker is open, it is unavailable or
	// exhausted after retries, or a lookup proved an unknown outcome was
	// nothing). Items that name their provider never fail over.
	Fallbacks []string `yaml:"fallbacks"`
}

// Reconcile configures the comparison of the gateway's account records
// with each provider's (POST /v1/providers/{name}/reconcile runs it on
// demand).
type Reconcile struct {
	// Interval runs it for every provider periodically, on one instance at
	// a time (0: only on demand).
	Interval Duration `yaml:"interval"`
	// AdoptUnknown records the accounts a provider holds and the gateway
	// does not under QuarantineTenant; false: they are only reported.
	AdoptUnknown bool `yaml:"adoptUnknown"`
	// QuarantineTenant is the tenant adopted accounts, and the drift events
	// about accounts no tenant holds, are recorded under (default
	// "quarantine").
	QuarantineTenant string `yaml:"quarantineTenant"`
	// Grace leaves alone provider accounts created more recently than this,
	// which a job may still be recording (default 2m).
	Grace Duration `yaml:"grace"`
	// LeaseTTL is how long a run's lease lasts without renewal, so a run
	// whose instance died is taken over after it (default 30s).
	LeaseTTL Duration `yaml:"leaseTTL"`
}

// Mocks controls the bundled provider mocks run inside the gateway process.
type Mocks struct {
	// Embedded starts every bundled mock on loopback ports from BasePort
	// (0: ports chosen by the system).
	Embedded bool `yaml:"embedded"`
	BasePort int  `yaml:"basePort"`
}

// Log configures logging.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
}

// HTTPLimits bound inbound connections and requests.
type HTTPLimits struct {
	// MaxBodyBytes is the largest request body accepted (413 beyond).
	MaxBodyBytes int64 `yaml:"maxBodyBytes"`
	// MaxWebhookBodyBytes is the largest provider callback body accepted on
	// the public webhook route (default 256 KiB).
	MaxWebhookBodyBytes int64 `yaml:"maxWebhookBodyBytes"`
	// MaxConnections caps the connections served at once; more wait to be
	// accepted (default 4096).
	MaxConnections int `yaml:"maxConnections"`
	// ReadTimeout bounds reading one request, headers and body (default 30s).
	ReadTimeout Duration `yaml:"readTimeout"`
	// WriteTimeout bounds one request from the end of its headers to the end
	// of its answer; it must exceed jobs.maxPreferWait, which a create with
	// Prefer: wait=N may spend waiting (default jobs.maxPreferWait + 60s).
	WriteTimeout Duration `yaml:"writeTimeout"`
}

// WebhookOpts configures outbound event delivery (core/webhooks).
type WebhookOpts struct {
	// AllowPrivate lets deliveries reach loopback and private networks
	// (127.0.0.0/8, ::1, 10/8, 172.16/12, 192.168/16, fc00::/7), as if they
	// were in Allowlist (development only).
	AllowPrivate bool `yaml:"allowPrivate"`
	// Allowlist holds networks (CIDR, or single addresses) deliveries may
	// reach although they are not public (loopback, private, link-local...),
	// and over plain http. Cloud metadata addresses stay refused. The
	// embedded development setup allowlists loopback.
	Allowlist []string `yaml:"allowlist"`
	// Workers bounds the attempts one instance makes at once (default 32).
	Workers int `yaml:"workers"`
	// PerEndpoint bounds the attempts one instance makes at once to one
	// endpoint (default 4).
	PerEndpoint int `yaml:"perEndpoint"`
	// AttemptTimeout bounds one attempt (default 10s).
	AttemptTimeout Duration `yaml:"attemptTimeout"`
	// RetrySchedule is the wait before each retry of a failed delivery
	// (default 5s, 5m, 30m, 2h, 5h, 10h, 10h); an empty list: no retries.
	RetrySchedule []Duration `yaml:"retrySchedule"`
	// DisableAfter disables an endpoint every attempt to which has failed
	// for this long (default 120h).
	DisableAfter Duration `yaml:"disableAfter"`
	// Retention is how long events and deliveries are kept for the API and
	// redelivery (default 720h).
	Retention Duration `yaml:"retention"`
	// VisibilityTimeout is how long a delivery task may go without its
	// instance's heartbeat before another instance takes it over (redis
	// store; default 30s).
	VisibilityTimeout Duration `yaml:"visibilityTimeout"`
}

// privateNetworks are what AllowPrivate allowlists.
var privateNetworks = []string{"127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"}

// Networks is the allowlist as prefixes (AllowPrivate's networks
// included); a single address is its own /32 or /128. Call it on a
// validated config.
func (w *WebhookOpts) Networks() []netip.Prefix {
	var out []netip.Prefix
	list := slices.Clone(w.Allowlist)
	if w.AllowPrivate {
		list = append(list, privateNetworks...)
	}
	for _, s := range list {
		if p, err := parseNetwork(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

func parseNetwork(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	return p.Masked(), err
}

// Secret is the one redacting secret type (provider.Secret): it reads from
// YAML like a string and never shows in slog, fmt or JSON output.
type Secret = provider.Secret

// Duration reads "250ms", "5s", "1m" from YAML.
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (e.g. 5s, 250ms)", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Default returns the embedded development configuration.
func Default() *Config {
	c := &Config{
		Listen:      "127.0.0.1:8080",
		Auth:        Auth{Algorithm: "HS256", Secret: DevSecret},
		Store:       Store{Driver: "memory"},
		Mocks:       Mocks{Embedded: true, BasePort: 9101},
		development: true,
	}
	c.applyDefaults()
	return c
}

// developmentDoc is the embedded development setup as a document.
const developmentDoc = "mocks:\n  embedded: true\n  basePort: 9101\n" +
	"webhooks:\n  allowlist: [127.0.0.0/8, \"::1/128\"]\n"

// Development returns the embedded development setup with the environment
// overrides applied: the one configuration that may use DevSecret, which
// signs its tokens unless VAGATE_AUTH_SECRET gives another secret.
func Development(getenv func(string) (string, bool)) (*Config, error) {
	if getenv == nil {
		getenv = os.LookupEnv
	}
	withDev := func(name string) (string, bool) {
		if v, ok := getenv(name); ok {
			return v, true
		}
		if name == EnvAuthSecret {
			return string(DevSecret), true
		}
		return "", false
	}
	return parse([]byte(developmentDoc), withDev, true)
}

// IsDevelopment reports whether c is the embedded development setup.
func (c *Config) IsDevelopment() bool { return c.development }

// PublicURLFor is PublicURL, or when unset the URL of the bound address
// (an unspecified host becomes 127.0.0.1).
func (c *Config) PublicURLFor(addr net.Addr) string {
	if c.PublicURL != "" {
		return c.PublicURL
	}
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// DevSecret signs tokens in the embedded development setup only.
const DevSecret Secret = "vagate-dev-secret-do-not-use-in-production"

func (c *Config) applyDefaults() {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8080"
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if c.Auth.Algorithm == "" {
		c.Auth.Algorithm = "HS256"
	}
	if c.Store.Driver == "" {
		c.Store.Driver = "memory"
	}
	if c.Jobs.Workers == 0 {
		c.Jobs.Workers = 16
	}
	if c.Jobs.ItemTimeout == 0 {
		c.Jobs.ItemTimeout = Duration(5 * time.Minute)
	}
	if c.Jobs.MaxPreferWait == 0 {
		c.Jobs.MaxPreferWait = Duration(60 * time.Second)
	}
	if c.Jobs.VisibilityTimeout == 0 {
		c.Jobs.VisibilityTimeout = Duration(30 * time.Second)
	}
	if c.Jobs.DrainTimeout == 0 {
		c.Jobs.DrainTimeout = Duration(20 * time.Second)
	}
	if c.Jobs.Checks == 0 {
		c.Jobs.Checks = 8
	}
	if c.Pool.ClaimTimeout == 0 {
		c.Pool.ClaimTimeout = Duration(20 * time.Second)
	}
	if c.Pool.ResolveAfter == 0 {
		c.Pool.ResolveAfter = Duration(10 * time.Second)
	}
	if c.Pool.SweepInterval == 0 {
		c.Pool.SweepInterval = Duration(5 * time.Second)
	}
	if c.Store.Prefix == "" {
		c.Store.Prefix = "vagate"
	}
	if c.Store.Redis.URL == "" {
		c.Store.Redis.URL = c.Store.RedisURL
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Limits.MaxBodyBytes == 0 {
		c.Limits.MaxBodyBytes = 10 << 20
	}
	if c.Limits.MaxWebhookBodyBytes == 0 {
		c.Limits.MaxWebhookBodyBytes = 256 << 10
	}
	if c.Limits.MaxConnections == 0 {
		c.Limits.MaxConnections = 4096
	}
	if c.Limits.ReadTimeout == 0 {
		c.Limits.ReadTimeout = Duration(30 * time.Second)
	}
	if c.Limits.WriteTimeout == 0 {
		c.Limits.WriteTimeout = c.Jobs.MaxPreferWait + Duration(60*time.Second)
	}
	if c.Auth.MaxTokenLifetime == 0 {
		c.Auth.MaxTokenLifetime = Duration(24 * time.Hour)
	}
	w := &c.Webhooks
	if w.Workers == 0 {
		w.Workers = 32
	}
	if w.PerEndpoint == 0 {
		w.PerEndpoint = 4
	}
	if w.AttemptTimeout == 0 {
		w.AttemptTimeout = Duration(10 * time.Second)
	}
	if w.RetrySchedule == nil {
		w.RetrySchedule = []Duration{Duration(5 * time.Second), Duration(5 * time.Minute), Duration(30 * time.Minute),
			Duration(2 * time.Hour), Duration(5 * time.Hour), Duration(10 * time.Hour), Duration(10 * time.Hour)}
	}
	if w.DisableAfter == 0 {
		w.DisableAfter = Duration(5 * 24 * time.Hour)
	}
	if w.Retention == 0 {
		w.Retention = Duration(30 * 24 * time.Hour)
	}
	if w.VisibilityTimeout == 0 {
		w.VisibilityTimeout = Duration(30 * time.Second)
	}
	if c.Reconcile.QuarantineTenant == "" {
		c.Reconcile.QuarantineTenant = "quarantine"
	}
	if c.Reconcile.Grace == 0 {
		c.Reconcile.Grace = Duration(2 * time.Minute)
	}
	if c.Reconcile.LeaseTTL == 0 {
		c.Reconcile.LeaseTTL = Duration(30 * time.Second)
	}
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expand replaces ${VAR} in every scalar value under n (comments are left
// alone) with the environment value; an unset one is an error.
func expand(n *yaml.Node, getenv func(string) (string, bool)) error {
	var missing []string
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "${") {
			n.Value = envRef.ReplaceAllStringFunc(n.Value, func(m string) string {
				name := envRef.FindStringSubmatch(m)[1]
				v, ok := getenv(name)
				if !ok && !slices.Contains(missing, name) {
					missing = append(missing, name)
				}
				return v
			})
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
	if len(missing) > 0 {
		return fmt.Errorf("config: environment variable(s) not set: %s", strings.Join(missing, ", "))
	}
	return nil
}

// Parse decodes a YAML document strictly, applies environment overrides and
// defaults, and validates the result.
func Parse(data []byte, getenv func(string) (string, bool)) (*Config, error) {
	return parse(data, getenv, false)
}

func parse(data []byte, getenv func(string) (string, bool), development bool) (*Config, error) {
	if getenv == nil {
		getenv = os.LookupEnv
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := expand(&doc, getenv); err != nil {
		return nil, err
	}
	c := &Config{development: development}
	if doc.Kind != 0 {
		if err := decodeStrict(&doc, c); err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		// Each provider's block keeps the file's line numbers, for the
		// errors its driver reports when it decodes the block.
		var blocks struct {
			Providers []struct {
				Config yaml.Node `yaml:"config"`
			} `yaml:"providers"`
		}
		if err := doc.Decode(&blocks); err == nil && len(blocks.Providers) == len(c.Providers) {
			for i := range c.Providers {
				c.Providers[i].Config = blocks.Providers[i].Config
			}
		}
	}
	if err := c.applyEnv(getenv); err != nil {
		return nil, err
	}
	c.applyDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Load reads and parses the file at path.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(b, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Environment overrides, applied after the file.
const (
	EnvListen     = "VAGATE_LISTEN"
	EnvPublicURL  = "VAGATE_PUBLIC_URL"
	EnvStore      = "VAGATE_STORE"
	EnvRedisURL   = "VAGATE_REDIS_URL"
	EnvAuthSecret = "VAGATE_AUTH_SECRET"
	EnvLogLevel   = "VAGATE_LOG_LEVEL"
	EnvOTLP       = "VAGATE_OTLP_ENDPOINT"
)

func (c *Config) applyEnv(getenv func(string) (string, bool)) error {
	set := func(name string, dst *string) {
		if v, ok := getenv(name); ok && v != "" {
			*dst = v
		}
	}
	set(EnvListen, &c.Listen)
	set(EnvPublicURL, &c.PublicURL)
	set(EnvStore, &c.Store.Driver)
	set(EnvLogLevel, &c.Log.Level)
	set(EnvOTLP, &c.Telemetry.OTLPEndpoint)
	var redisURL, secret string
	set(EnvRedisURL, &redisURL)
	set(EnvAuthSecret, &secret)
	switch {
	case redisURL == "":
	case c.Store.Redis.URL != "":
		c.Store.Redis.URL = Secret(redisURL)
	default:
		c.Store.RedisURL = Secret(redisURL)
	}
	if secret != "" {
		c.Auth.Secret = Secret(secret)
	}
	return nil
}

// Validate checks every field and names the first bad one.
func (c *Config) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("config: %s: %s", field, fmt.Sprintf(format, args...))
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return bad("listen", "must be host:port (%v)", err)
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return bad("publicUrl", "must be an absolute http(s) URL")
		}
	}
	if err := c.Auth.validate(c.development); err != nil {
		return err
	}
	switch c.Store.Driver {
	case "memory":
	case "redis":
		if err := c.Store.validateRedis(); err != nil {
			return err
		}
	default:
		return bad("store.driver", "must be memory or redis, not %q", c.Store.Driver)
	}
	if c.Jobs.Workers < 1 {
		return bad("jobs.workers", "must be at least 1")
	}
	if c.Jobs.ItemTimeout.D() < time.Second {
		return bad("jobs.itemTimeout", "must be at least 1s")
	}
	if c.Jobs.VisibilityTimeout.D() < 300*time.Millisecond {
		return bad("jobs.visibilityTimeout", "must be at least 300ms")
	}
	if c.Jobs.DrainTimeout.D() < 0 || c.Jobs.DrainTimeout.D() > 10*time.Minute {
		return bad("jobs.drainTimeout", "must be between 0s and 10m")
	}
	if c.Jobs.Checks < 1 || c.Jobs.Checks > 100 {
		return bad("jobs.checks", "must be between 1 and 100")
	}
	if strings.ContainsAny(c.Store.Prefix, "{}: ") {
		return bad("store.prefix", "must not contain braces, colons or spaces")
	}
	if c.Limits.MaxBodyBytes < 1024 {
		return bad("limits.maxBodyBytes", "must be at least 1024")
	}
	if c.Limits.MaxWebhookBodyBytes < 1024 {
		return bad("limits.maxWebhookBodyBytes", "must be at least 1024")
	}
	if c.Limits.MaxConnections < 1 {
		return bad("limits.maxConnections", "must be at least 1")
	}
	if c.Limits.ReadTimeout.D() < 100*time.Millisecond {
		return bad("limits.readTimeout", "must be at least 100ms")
	}
	if c.Limits.WriteTimeout <= c.Jobs.MaxPreferWait {
		return bad("limits.writeTimeout", "must be longer than jobs.maxPreferWait (%s), which a create with Prefer: wait may take",
			c.Jobs.MaxPreferWait.D())
	}
	if c.Telemetry.SampleRatio < 0 || c.Telemetry.SampleRatio > 1 {
		return bad("telemetry.sampleRatio", "must be between 0 and 1")
	}
	if t := c.Telemetry.TraceURLTemplate; t != "" {
		if u, err := url.Parse(strings.ReplaceAll(t, "{traceId}", "0")); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || !strings.Contains(t, "{traceId}") {
			return bad("telemetry.traceUrlTemplate", "must be an absolute http(s) URL containing {traceId}")
		}
	}
	for name, m := range c.Console.Mocks {
		if u, err := url.Parse(m); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return bad("console.mocks."+name, "must be an absolute http(s) URL (the mock's base URL)")
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return bad("log.level", "must be debug, info, warn or error")
	}
	names := map[string]bool{}
	nameRE := regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)
	for i, p := range c.Providers {
		f := fmt.Sprintf("providers[%d]", i)
		if !nameRE.MatchString(p.Name) {
			return bad(f+".name", "must match %s", nameRE)
		}
		if names[p.Name] {
			return bad(f+".name", "%q is configured twice", p.Name)
		}
		names[p.Name] = true
		if p.Style == "" {
			return bad(f+".style", "required")
		}
		for _, tenant := range slices.Sorted(maps.Keys(p.TenantAccounts)) {
			tf := fmt.Sprintf("%s.tenantAccounts[%q]", f, tenant)
			if strings.TrimSpace(tenant) == "" || strings.ContainsAny(tenant, " \t\r\n") {
				return bad(tf, "a tenant id must be non-empty and contain no whitespace")
			}
			seen := map[string]bool{}
			for j, id := range p.TenantAccounts[tenant] {
				switch {
				case strings.TrimSpace(id) == "" || strings.ContainsAny(id, " \t\r\n"):
					return bad(fmt.Sprintf("%s[%d]", tf, j), "an account id must be non-empty and contain no whitespace")
				case seen[id]:
					return bad(fmt.Sprintf("%s[%d]", tf, j), "%q is listed twice", id)
				}
				seen[id] = true
			}
		}
		r := p.Resilience
		bulkhead := r.MaxConcurrent
		if bulkhead == 0 {
			bulkhead = 16
		}
		switch {
		case r.MaxAttempts < 0 || r.MaxAttempts > 10:
			return bad(f+".resilience.maxAttempts", "must be from 1 to 10")
		case r.MaxConcurrent < 0:
			return bad(f+".resilience.maxConcurrent", "must not be negative")
		case r.RatePerSecond < 0 || r.Burst < 0:
			return bad(f+".resilience.ratePerSecond", "must not be negative")
		case r.Breaker.FailureRatio < 0 || r.Breaker.FailureRatio > 1:
			return bad(f+".resilience.breaker.failureRatio", "must be between 0 and 1")
		case r.Breaker.MinRequests < 0 || r.Breaker.Probes < 0:
			return bad(f+".resilience.breaker", "minRequests and probes must not be negative")
		case r.SettleDelay < 0 || r.SettleDelay.D() > 5*time.Minute:
			return bad(f+".resilience.settleDelay", "must be from 0 (the default, 1s) to 5m")
		case r.AttemptTimeout < 0 || r.CallTimeout < 0 || (r.CallTimeout > 0 && r.AttemptTimeout > r.CallTimeout):
			return bad(f+".resilience.callTimeout", "must not be shorter than attemptTimeout")
		case r.Connections.IdlePerHost < 0 || (r.Connections.IdlePerHost > 0 && r.Connections.IdlePerHost < bulkhead):
			return bad(f+".resilience.connections.idlePerHost", "must not be below maxConcurrent (%d): every attempt in flight needs an idle connection to go back to",
				bulkhead)
		case r.Connections.IdleTimeout < 0 || r.Connections.KeepAlive < 0 || r.Connections.DialTimeout < 0:
			return bad(f+".resilience.connections", "idleTimeout, keepAlive and dialTimeout must not be negative")
		case r.CallTimeout >= c.Limits.WriteTimeout:
			return bad(f+".resilience.callTimeout", "must be shorter than limits.writeTimeout (%s), or answers of calls made while a client waits are cut off",
				c.Limits.WriteTimeout.D())
		}
	}
	if err := c.Webhooks.validate(bad); err != nil {
		return err
	}
	if len(c.Providers) == 0 && !c.Mocks.Embedded {
		return bad("providers", "configure at least one provider (or mocks.embedded: true)")
	}
	if err := c.validatePools(names); err != nil {
		return err
	}
	for i, r := range c.Routing {
		f := fmt.Sprintf("routing[%d]", i)
		if !bank.ValidCurrency(r.Currency) {
			return bad(f+".currency", "must be an ISO 4217 code")
		}
		if r.Capability != "" && !r.Capability.Routable() {
			return bad(f+".capability", "must be one of %s", joinCapabilities(provider.RouteCapabilities()))
		}
		if !names[r.Provider] && !c.Mocks.Embedded {
			return bad(f+".provider", "%q is not a configured provider", r.Provider)
		}
		seen := map[string]bool{r.Provider: true}
		for j, fb := range r.Fallbacks {
			ff := fmt.Sprintf("%s.fallbacks[%d]", f, j)
			switch {
			case !names[fb] && !c.Mocks.Embedded:
				return bad(ff, "%q is not a configured provider", fb)
			case seen[fb]:
				return bad(ff, "%q is listed twice, or is the rule's provider", fb)
			}
			seen[fb] = true
		}
	}
	rc := c.Reconcile
	switch {
	case rc.Interval < 0 || (rc.Interval > 0 && rc.Interval.D() < time.Second):
		return bad("reconcile.interval", "must be 0 (on demand only) or at least 1s")
	case rc.Grace < 0:
		return bad("reconcile.grace", "must not be negative")
	case rc.LeaseTTL.D() < time.Second:
		return bad("reconcile.leaseTTL", "must be at least 1s")
	case strings.TrimSpace(rc.QuarantineTenant) == "" || strings.ContainsAny(rc.QuarantineTenant, " \t\r\n"):
		return bad("reconcile.quarantineTenant", "must be a tenant id: non-empty, no whitespace")
	}
	return nil
}

// DecodeStrict decodes a provider's raw block into v; unknown keys are
// errors, and errors name the lines of the file the block was read from.
func DecodeStrict(n *yaml.Node, v any) error {
	if n == nil || n.Kind == 0 {
		return nil
	}
	return decodeStrict(n, v)
}

func joinCapabilities(cs []provider.Capability) string {
	ss := make([]string, len(cs))
	for i, c := range cs {
		ss[i] = string(c)
	}
	return strings.Join(ss, ", ")
}

// validatePools checks the pool block against the configured providers.
func (c *Config) validatePools(providers map[string]bool) error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("config: %s: %s", field, fmt.Sprintf(format, args...))
	}
	p := c.Pool
	switch {
	case p.ClaimTimeout.D() < 100*time.Millisecond:
		return bad("pool.claimTimeout", "must be at least 100ms")
	case p.ClaimTimeout >= c.Limits.WriteTimeout:
		return bad("pool.claimTimeout", "must be shorter than limits.writeTimeout (%s), or a claim's answer is cut off", c.Limits.WriteTimeout.D())
	case p.ResolveAfter.D() < 10*time.Millisecond:
		return bad("pool.resolveAfter", "must be at least 10ms")
	case p.SweepInterval.D() < 10*time.Millisecond:
		return bad("pool.sweepInterval", "must be at least 10ms")
	}
	seen := map[PoolSpec]bool{}
	for i, ps := range p.Pools {
		f := fmt.Sprintf("pool.pools[%d]", i)
		switch {
		case strings.TrimSpace(ps.Tenant) == "" || strings.ContainsAny(ps.Tenant, " \t\r\n"):
			return bad(f+".tenant", "a tenant id must be non-empty and contain no whitespace")
		case !providers[ps.Provider] && !c.Mocks.Embedded:
			return bad(f+".provider", "%q is not a configured provider", ps.Provider)
		case len(ps.Currency) != 3 || strings.ToUpper(ps.Currency) != ps.Currency:
			return bad(f+".currency", "must be an ISO 4217 code")
		case ps.Target < 0 || ps.Target > 100000:
			return bad(f+".target", "must be from 0 to 100000")
		case ps.LowWatermark < 0 || ps.LowWatermark > ps.Target:
			return bad(f+".lowWatermark", "must be from 0 to target (%d)", ps.Target)
		}
		k := PoolSpec{Tenant: ps.Tenant, Provider: ps.Provider, Currency: ps.Currency}
		if seen[k] {
			return bad(f, "the pool of %s at %s in %s is configured twice", ps.Tenant, ps.Provider, ps.Currency)
		}
		seen[k] = true
	}
	return nil
}

// validate checks the webhooks block.
func (w *WebhookOpts) validate(bad func(field, format string, args ...any) error) error {
	for i, s := range w.Allowlist {
		if _, err := parseNetwork(s); err != nil {
			return bad(fmt.Sprintf("webhooks.allowlist[%d]", i), "%q is not a network (CIDR such as 10.0.0.0/8) or an address", s)
		}
	}
	switch {
	case w.Workers < 1 || w.Workers > 1000:
		return bad("webhooks.workers", "must be from 1 to 1000")
	case w.PerEndpoint < 1 || w.PerEndpoint > w.Workers:
		return bad("webhooks.perEndpoint", "must be from 1 to webhooks.workers (%d)", w.Workers)
	case w.AttemptTimeout.D() < 100*time.Millisecond || w.AttemptTimeout.D() > time.Minute:
		return bad("webhooks.attemptTimeout", "must be from 100ms to 1m")
	case len(w.RetrySchedule) > 50:
		return bad("webhooks.retrySchedule", "must have at most 50 waits")
	case w.DisableAfter.D() < 10*time.Millisecond:
		return bad("webhooks.disableAfter", "must be at least 10ms")
	case w.Retention.D() < time.Hour:
		return bad("webhooks.retention", "must be at least 1h")
	case w.VisibilityTimeout.D() < 300*time.Millisecond:
		return bad("webhooks.visibilityTimeout", "must be at least 300ms")
	}
	for i, d := range w.RetrySchedule {
		if d.D() < time.Millisecond || d.D() > 7*24*time.Hour {
			return bad(fmt.Sprintf("webhooks.retrySchedule[%d]", i), "must be from 1ms to 168h")
		}
	}
	return nil
}
