package config_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vagate/vagate/config"
	"github.com/vagate/vagate/core/provider"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

const good = `
listen: 127.0.0.1:9000
auth:
  secret: 0123456789abcdef0123456789abcdef
providers:
  - name: bcb
    style: batchva
    config:
      baseUrl: http://127.0.0.1:9101
routing:
  - currency: USD
    provider: bcb
`

func TestParse(t *testing.T) {
	c, err := config.Parse([]byte(good), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.PublicURL != "" || c.Store.Driver != "memory" || c.Jobs.Workers != 16 || c.Limits.MaxBodyBytes != 10<<20 ||
		c.Pool.ClaimTimeout.D() != 20*time.Second || c.Pool.ResolveAfter.D() != 10*time.Second || c.Pool.SweepInterval.D() != 5*time.Second {
		t.Errorf("defaults not applied: %+v", c)
	}
	if r := c.Reconcile; r.Interval != 0 || r.AdoptUnknown || r.QuarantineTenant != "quarantine" || r.Grace.D() != 2*time.Minute || r.LeaseTTL.D() != 30*time.Second {
		t.Errorf("reconcile defaults: %+v", r)
	}
	var pc struct {
		BaseURL string `yaml:"baseUrl"`
	}
	if err := config.DecodeStrict(&c.Providers[0].Config, &pc); err != nil || pc.BaseURL != "http://127.0.0.1:9101" {
		t.Errorf("provider block: %+v, %v", pc, err)
	}
}

func TestParseErrorsNameTheField(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		env  map[string]string
		want string
	}{
		{"unknown key", good + "\nbogus: 1\n", nil, "bogus"},
		{"unknown nested key", strings.Replace(good, "listen:", "store:\n  drvier: redis\nlisten:", 1), nil, "drvier"},
		{"bad listen", strings.Replace(good, "127.0.0.1:9000", "nope", 1), nil, "listen"},
		{"short secret", strings.Replace(good, "0123456789abcdef0123456789abcdef", "short", 1), nil, "auth.secret"},
		{"bad algorithm", good + "\n", map[string]string{}, ""},
		{"unset env", strings.Replace(good, "0123456789abcdef0123456789abcdef", "${NOPE_SECRET}", 1), nil, "NOPE_SECRET"},
		{"bad store", good, map[string]string{config.EnvStore: "etcd"}, "store.driver"},
		{"redis without url", good, map[string]string{config.EnvStore: "redis"}, "store.redisUrl"},
		{"bad duration", good + "jobs:\n  itemTimeout: soon\n", nil, "duration"},
		// The provider's resilience.maxConcurrent is the one bulkhead now.
		{"removed jobs.concurrencyPerProvider", good + "jobs:\n  concurrencyPerProvider: 8\n", nil, "concurrencyPerProvider"},
		{"duplicate provider", strings.Replace(good, "providers:\n", "providers:\n  - name: bcb\n    style: batchva\n", 1), nil, "configured twice"},
		{"route to unknown provider", good + "  - currency: EUR\n    provider: nobody\n", nil, "routing[1].provider"},
		{"route currency not ISO 4217", good + "  - currency: 1AB\n    provider: bcb\n", nil, "routing[1].currency"},
		{"route capability", good + "  - currency: EUR\n    capability: teleport\n    provider: bcb\n", nil, "routing[1].capability"},
		{"fallback unknown", good + "  - currency: EUR\n    provider: bcb\n    fallbacks: [nobody]\n", nil, "routing[1].fallbacks[0]"},
		{"fallback is the provider", good + "  - currency: EUR\n    provider: bcb\n    fallbacks: [bcb]\n", nil, "routing[1].fallbacks[0]"},
		{"reconcile interval", good + "reconcile:\n  interval: 10ms\n", nil, "reconcile.interval"},
		{"reconcile grace", good + "reconcile:\n  grace: -1s\n", nil, "reconcile.grace"},
		{"reconcile lease", good + "reconcile:\n  leaseTTL: 10ms\n", nil, "reconcile.leaseTTL"},
		{"quarantine tenant", good + "reconcile:\n  quarantineTenant: \"a b\"\n", nil, "reconcile.quarantineTenant"},
		{"bad provider name", strings.Replace(good, "name: bcb", "name: BCB!", 1), nil, "providers[0].name"},
		{"no providers", "auth:\n  secret: 0123456789abcdef0123456789abcdef\n", nil, "providers"},
		{"bad log level", good + "log:\n  level: loud\n", nil, "log.level"},
		{"pool at an unknown provider", good + poolDoc("nobody", "USD", 10, 2), nil, "pool.pools[0].provider"},
		{"pool without a tenant", good + strings.Replace(poolDoc("bcb", "USD", 10, 2), "tenant: t1", "tenant: ''", 1), nil, "pool.pools[0].tenant"},
		{"pool currency", good + poolDoc("bcb", "usd", 10, 2), nil, "pool.pools[0].currency"},
		{"pool watermark above target", good + poolDoc("bcb", "USD", 10, 11), nil, "pool.pools[0].lowWatermark"},
		{"pool target", good + poolDoc("bcb", "USD", -1, 0), nil, "pool.pools[0].target"},
		{"pool twice", good + poolDoc("bcb", "USD", 10, 2) + "    - {tenant: t1, provider: bcb, currency: USD, target: 5}\n", nil, "configured twice"},
		{"pool unknown key", good + poolDoc("bcb", "USD", 10, 2) + "    - {tenant: t1, provider: bcb, currency: EUR, size: 5}\n", nil, "size"},
		{"pool claim timeout past the write timeout", good + "pool:\n  claimTimeout: 10m\n", nil, "pool.claimTimeout"},
		{"a good pool", good + poolDoc("bcb", "USD", 10, 2), nil, ""},
		{"unknown webhooks key", good + "webhooks:\n  retries: 3\n", nil, "retries"},
		{"bad webhook allowlist entry", good + "webhooks:\n  allowlist: [127.0.0.0/8, intranet]\n", nil, "webhooks.allowlist[1]"},
		{"webhook retry wait of 0", good + "webhooks:\n  retrySchedule: [5s, 0s]\n", nil, "webhooks.retrySchedule[1]"},
		{"webhook attempt timeout too long", good + "webhooks:\n  attemptTimeout: 5m\n", nil, "webhooks.attemptTimeout"},
		{"more per endpoint than workers", good + "webhooks:\n  workers: 2\n  perEndpoint: 3\n", nil, "webhooks.perEndpoint"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse([]byte(tc.doc), env(tc.env))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming %q", err, tc.want)
			}
		})
	}
}

func poolDoc(provider, currency string, target, low int) string {
	return fmt.Sprintf("pool:\n  pools:\n    - tenant: t1\n      provider: %s\n      currency: %s\n      target: %d\n      lowWatermark: %d\n",
		provider, currency, target, low)
}

func TestEnvOverrides(t *testing.T) {
	c, err := config.Parse([]byte(good), env(map[string]string{
		config.EnvListen: "127.0.0.1:7000", config.EnvStore: "redis", config.EnvRedisURL: "redis://127.0.0.1:6379/2",
		config.EnvAuthSecret: "ffffffffffffffffffffffffffffffffffff", config.EnvLogLevel: "debug",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:7000" || c.Store.Driver != "redis" || c.Store.RedisURL != "redis://127.0.0.1:6379/2" ||
		c.Auth.Secret != "ffffffffffffffffffffffffffffffffffff" || c.Log.Level != "debug" {
		t.Errorf("overrides not applied: %+v", c)
	}
}

func TestSecretsRedacted(t *testing.T) {
	c, _ := config.Parse([]byte(good), env(nil))
	for _, s := range []string{fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c.Auth)} {
		if strings.Contains(s, "0123456789abcdef") {
			t.Errorf("formatted config shows the secret: %s", s)
		}
	}
}

func TestExampleFileIsValid(t *testing.T) {
	b, err := os.ReadFile("vagate.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = config.Parse(b, env(map[string]string{
		"VAGATE_JWT_SECRET": "0123456789abcdef0123456789abcdef", "REDIS_URL": "redis://127.0.0.1:6379/0", "VAGATE_METRICS_TOKEN": "m",
		"BCB_CLIENT_ID": "id", "BCB_CLIENT_SECRET": "s", "BCB_SIGNING_SECRET": "x",
	}))
	if err != nil {
		t.Fatalf("example config does not parse: %v", err)
	}
}

func TestDefault(t *testing.T) {
	c := config.Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("default config invalid: %v", err)
	}
	if !c.Mocks.Embedded || c.Store.Driver != "memory" {
		t.Errorf("default is not the embedded setup: %+v", c)
	}
}

type addr string

func (a addr) Network() string { return "tcp" }
func (a addr) String() string  { return string(a) }

func TestPublicURLFor(t *testing.T) {
	c := &config.Config{}
	for in, want := range map[string]string{"127.0.0.1:9000": "http://127.0.0.1:9000", "[::]:80": "http://127.0.0.1:80", "0.0.0.0:8080": "http://127.0.0.1:8080"} {
		if got := c.PublicURLFor(addr(in)); got != want {
			t.Errorf("PublicURLFor(%s) = %s, want %s", in, got, want)
		}
	}
	c.PublicURL = "https://gw.example.com"
	if got := c.PublicURLFor(addr("127.0.0.1:1")); got != "https://gw.example.com" {
		t.Errorf("configured publicUrl ignored: %s", got)
	}
}

func TestResilienceValidation(t *testing.T) {
	base := strings.Replace(good, "    style: batchva\n", "    style: batchva\n    resilience:\n      %s\n", 1)
	for _, tc := range []struct{ block, want string }{
		{"maxAttempts: 11", "resilience.maxAttempts"},
		{"breaker:\n        failureRatio: 1.5", "resilience.breaker.failureRatio"},
		{"attemptTimeout: 10s\n      callTimeout: 5s", "resilience.callTimeout"},
		{"ratePerSecond: -1", "resilience.ratePerSecond"},
		{"bogus: 1", "bogus"},
		{"connections:\n        idlePerHost: 8", "resilience.connections.idlePerHost"},
		{"maxConcurrent: 32\n      connections:\n        idlePerHost: 16", "resilience.connections.idlePerHost"},
		{"connections:\n        idleTimeout: -1s", "resilience.connections"},
		{"connections:\n        bogus: 1", "bogus"},
	} {
		_, err := config.Parse([]byte(fmt.Sprintf(base, tc.block)), env(nil))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want one naming %s", tc.block, err, tc.want)
		}
	}
	c, err := config.Parse([]byte(fmt.Sprintf(base, "maxAttempts: 5\n      breaker:\n        openFor: 2s")), env(nil))
	if err != nil || c.Providers[0].Resilience.MaxAttempts != 5 || c.Providers[0].Resilience.Breaker.OpenFor.D() != 2*time.Second {
		t.Errorf("parsed %+v, %v", c.Providers[0].Resilience, err)
	}
	c, err = config.Parse([]byte(fmt.Sprintf(base, "maxConcurrent: 4\n      connections:\n        idlePerHost: 8\n        idleTimeout: 30s\n        disableHTTP2: true")), env(nil))
	if cn := c.Providers[0].Resilience.Connections; err != nil || cn.IdlePerHost != 8 || cn.IdleTimeout.D() != 30*time.Second || !cn.DisableHTTP2 {
		t.Errorf("parsed %+v, %v", c.Providers[0].Resilience, err)
	}
}

func TestDevSecretRefusedOutsideDevelopment(t *testing.T) {
	dev := string(config.DevSecret)
	withSecret := strings.Replace(good, "0123456789abcdef0123456789abcdef", "${JWT_SECRET}", 1)
	for _, tc := range []struct {
		name string
		doc  string
		env  map[string]string
	}{
		{"in the file", strings.Replace(good, "0123456789abcdef0123456789abcdef", dev, 1), nil},
		{"through ${VAR}", withSecret, map[string]string{"JWT_SECRET": dev}},
		{"through " + config.EnvAuthSecret, good, map[string]string{config.EnvAuthSecret: dev}},
		{"embedded mocks in a file", "mocks:\n  embedded: true\n", map[string]string{config.EnvAuthSecret: dev}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse([]byte(tc.doc), env(tc.env))
			if err == nil || !strings.Contains(err.Error(), "auth.secret") {
				t.Fatalf("err = %v, want one naming auth.secret", err)
			}
		})
	}
}

func TestDevelopmentSetupKeepsTheDevSecret(t *testing.T) {
	c, err := config.Development(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Auth.Secret != config.DevSecret || !c.IsDevelopment() || !c.Mocks.Embedded {
		t.Errorf("development setup: %+v", c)
	}
	own := "my-own-secret-of-at-least-32-bytes-long"
	c, err = config.Development(env(map[string]string{config.EnvAuthSecret: own}))
	if err != nil || string(c.Auth.Secret) != own {
		t.Errorf("VAGATE_AUTH_SECRET not applied to the development setup: %v", err)
	}
}

func TestLimitDefaultsAndValidation(t *testing.T) {
	c, err := config.Parse([]byte(good), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	l := c.Limits
	if l.MaxWebhookBodyBytes != 256<<10 || l.MaxConnections != 4096 || l.ReadTimeout.D() != 30*time.Second ||
		l.WriteTimeout.D() != 2*time.Minute || c.Auth.MaxTokenLifetime.D() != 24*time.Hour {
		t.Errorf("defaults: %+v, maxTokenLifetime %s", l, c.Auth.MaxTokenLifetime.D())
	}
	c, err = config.Parse([]byte(good+"jobs:\n  maxPreferWait: 5m\n"), env(nil))
	if err != nil || c.Limits.WriteTimeout.D() != 6*time.Minute {
		t.Errorf("writeTimeout does not follow maxPreferWait: %v, %v", c.Limits.WriteTimeout.D(), err)
	}
	for _, tc := range []struct{ block, want string }{
		{"limits:\n  maxConnections: -1", "limits.maxConnections"},
		{"limits:\n  maxWebhookBodyBytes: 10", "limits.maxWebhookBodyBytes"},
		{"limits:\n  readTimeout: 1ms", "limits.readTimeout"},
		{"limits:\n  writeTimeout: 30s", "limits.writeTimeout"},
		{"auth:\n  maxTokenLifetime: 1s", "auth.maxTokenLifetime"},
		{"limits:\n  writeTimeout: 90s", "resilience.callTimeout"},
	} {
		doc := good + tc.block + "\n"
		if tc.want == "resilience.callTimeout" {
			doc = strings.Replace(doc, "    style: batchva\n", "    style: batchva\n    resilience:\n      callTimeout: 2m\n", 1)
		}
		if strings.HasPrefix(tc.block, "auth:") {
			doc = strings.Replace(good, "auth:\n", "auth:\n  maxTokenLifetime: 1s\n", 1)
		}
		if _, err := config.Parse([]byte(doc), env(nil)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want one naming %s", tc.block, err, tc.want)
		}
	}
}

func TestTenantAccountsValidation(t *testing.T) {
	base := strings.Replace(good, "    style: batchva\n", "    style: batchva\n    tenantAccounts:\n      %s\n", 1)
	for _, tc := range []struct{ block, want string }{
		{`tenant-a: [""]`, `tenantAccounts["tenant-a"][0]`},
		{`tenant-a: [acc-1, acc-1]`, `tenantAccounts["tenant-a"][1]`},
		{`"a b": [acc-1]`, `tenantAccounts["a b"]`},
		{`tenant-a: acc-1`, "cannot unmarshal"},
	} {
		_, err := config.Parse([]byte(fmt.Sprintf(base, tc.block)), env(nil))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want one naming %s", tc.block, err, tc.want)
		}
	}
	c, err := config.Parse([]byte(fmt.Sprintf(base, "tenant-a: [acc-1, acc-2]")), env(nil))
	if err != nil || len(c.Providers[0].TenantAccounts["tenant-a"]) != 2 {
		t.Errorf("parsed %+v, %v", c.Providers[0].TenantAccounts, err)
	}
}

// Every secret of a parsed config stays redacted however the config is
// printed or logged: slog's JSON and text handlers, fmt verbs and JSON.
func TestSecretsNeverShow(t *testing.T) {
	const authSecret, redisPass, metricsTok = "auth-secret-0123456789abcdef-XYZW", "redis-pass-QQQ", "metrics-token-RRR"
	doc := strings.Replace(good, "0123456789abcdef0123456789abcdef", authSecret, 1) +
		"store:\n  driver: redis\n  redisUrl: redis://:" + redisPass + "@127.0.0.1:6379/0\nmetrics:\n  token: " + metricsTok + "\n"
	c, err := config.Parse([]byte(doc), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug})).Debug("config", "config", c, "auth", c.Auth, "secret", c.Auth.Secret)
	slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug})).Debug("config", "config", c, "auth", c.Auth, "secret", c.Auth.Secret)
	fmt.Fprintf(&out, "%v %+v %#v %s", c, c, c, c.Auth.Secret)
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	out.Write(b)
	for _, s := range []string{authSecret, redisPass, metricsTok} {
		if strings.Contains(out.String(), s) {
			t.Errorf("secret %q shows in:\n%s", s, out.String())
		}
	}
	if !strings.Contains(out.String(), "[REDACTED]") {
		t.Errorf("no redaction marker: the secrets may not have been printed at all:\n%s", out.String())
	}
}

// A routing rule names its capability in the one capability vocabulary
// (provider.Capability): the routable ones are accepted, every other
// capability and unknown words are refused, naming the field.
func TestRouteCapabilityVocabulary(t *testing.T) {
	type route struct {
		capability provider.Capability
		ok         bool
	}
	tests := []route{{"", true}, {"teleport", false}}
	for _, c := range provider.AllCapabilities() {
		tests = append(tests, route{c, c.Routable()})
	}
	for _, tc := range tests {
		t.Run(string(tc.capability), func(t *testing.T) {
			doc := good + "  - currency: EUR\n    capability: \"" + string(tc.capability) + "\"\n    provider: bcb\n"
			c, err := config.Parse([]byte(doc), env(nil))
			switch {
			case tc.ok && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.ok && c.Routing[1].Capability != tc.capability:
				t.Errorf("capability = %q, want %q", c.Routing[1].Capability, tc.capability)
			case !tc.ok && (err == nil || !strings.Contains(err.Error(), "routing[1].capability")):
				t.Errorf("err = %v, want one naming routing[1].capability", err)
			}
		})
	}
}

// The webhooks block: defaults, the schedule in any unit, the allowlist
// as networks; the embedded development setup allowlists loopback and
// nothing else.
func TestWebhooksBlock(t *testing.T) {
	c, err := config.Parse([]byte(good), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	w := c.Webhooks
	if w.Workers != 32 || w.PerEndpoint != 4 || w.AttemptTimeout.D() != 10*time.Second || len(w.RetrySchedule) != 7 ||
		w.RetrySchedule[0].D() != 5*time.Second || w.RetrySchedule[6].D() != 10*time.Hour || w.DisableAfter.D() != 120*time.Hour ||
		len(w.Networks()) != 0 {
		t.Errorf("defaults: %+v", w)
	}
	c, err = config.Parse([]byte(good+"webhooks:\n  allowlist: [10.1.0.0/16, 192.0.2.7, \"fd00::/8\"]\n  retrySchedule: [5ms, 20ms]\n  disableAfter: 200ms\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	var nets []string
	for _, p := range c.Webhooks.Networks() {
		nets = append(nets, p.String())
	}
	if strings.Join(nets, " ") != "10.1.0.0/16 192.0.2.7/32 fd00::/8" || c.Webhooks.RetrySchedule[1].D() != 20*time.Millisecond {
		t.Errorf("allowlist %v, schedule %v", nets, c.Webhooks.RetrySchedule)
	}
	c, err = config.Parse([]byte(good+"webhooks:\n  retrySchedule: []\n"), env(nil))
	if err != nil || len(c.Webhooks.RetrySchedule) != 0 {
		t.Errorf("an empty schedule (no retries): %v, %v", c.Webhooks.RetrySchedule, err)
	}
	dev, err := config.Development(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	nets = nil
	for _, p := range dev.Webhooks.Networks() {
		nets = append(nets, p.String())
	}
	if strings.Join(nets, " ") != "127.0.0.0/8 ::1/128" {
		t.Errorf("development allowlist %v, want loopback only", nets)
	}
}
