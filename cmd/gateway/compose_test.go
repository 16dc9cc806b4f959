package main

import (
	"encoding/json"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"gopkg.in/yaml.v3"

	"github.com/vagate/vagate/config"
	"github.com/vagate/vagate/mocks/bundle"
)

// loadCompose loads docker-compose.yml with the compose-spec loader, as
// docker compose would (schema validation, interpolation, paths resolved),
// with env as the shell's environment.
func loadCompose(t *testing.T, env map[string]string) (*types.Project, error) {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return loader.LoadWithContext(t.Context(), types.ConfigDetails{
		WorkingDir:  root,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(root, "docker-compose.yml")}},
		Environment: env,
	}, func(o *loader.Options) { o.SetProjectName("vagate", true) })
}

// hostPorts are the host ports a port entry publishes ("8080", "8080-8081").
func hostPorts(t *testing.T, p types.ServicePortConfig) []int {
	t.Helper()
	lo, hi, isRange := strings.Cut(p.Published, "-")
	if !isRange {
		hi = lo
	}
	a, err1 := strconv.Atoi(lo)
	b, err2 := strconv.Atoi(hi)
	if err1 != nil || err2 != nil || b < a {
		t.Fatalf("published port %q", p.Published)
	}
	var out []int
	for n := a; n <= b; n++ {
		out = append(out, n)
	}
	return out
}

// hostPort splits host:port, failing the test when it cannot.
func hostPort(t *testing.T, what, s string) (string, int) {
	t.Helper()
	h, p, err := net.SplitHostPort(s)
	n, perr := strconv.Atoi(p)
	if err != nil || perr != nil {
		t.Fatalf("%s: %q is not host:port", what, s)
	}
	return h, n
}

// flagValue is the value after flag in a command line, or "".
func flagValue(cmd []string, flag string) string {
	for i, a := range cmd {
		if a == flag && i+1 < len(cmd) {
			return cmd[i+1]
		}
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v
		}
	}
	return ""
}

// readYAML decodes the repository file at path (relative to the root).
func readYAML(t *testing.T, path string, into any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../..", path))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// mountTarget is the container path a service mounts source (a repository
// path) at, or "".
func mountTarget(s types.ServiceConfig, root, source string) string {
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeBind && v.Source == filepath.Join(root, source) {
			return v.Target
		}
	}
	return ""
}

// docker-compose.yml is kept correct without a Docker engine: it loads with
// the compose-spec loader; every file it mounts or builds from exists; no
// host port is published twice; the gateway's config parses with the
// environment compose gives it and wires every bundled mock, at the ports
// mockbank serves them on, with the accounts and credentials mockbank's
// mocks hold; traces reach Jaeger, Prometheus scrapes every gateway
// replica, and Grafana's provisioned dashboard reads Prometheus for metrics
// the gateway emits.
func TestComposeFile(t *testing.T) {
	if _, err := loadCompose(t, map[string]string{}); err == nil || !strings.Contains(err.Error(), "VAGATE_JWT_SECRET") {
		t.Errorf("without VAGATE_JWT_SECRET: %v, want a refusal naming it", err)
	}
	secret := strings.Repeat("k", 64)
	p, err := loadCompose(t, map[string]string{"VAGATE_JWT_SECRET": secret})
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	root := p.WorkingDir
	svc := func(name string) types.ServiceConfig {
		t.Helper()
		s, ok := p.Services[name]
		if !ok {
			t.Fatalf("no service %s (have %v)", name, slices.Sorted(maps.Keys(p.Services)))
		}
		return s
	}

	// Files, build contexts and published ports.
	published := map[int]string{}
	for _, name := range slices.Sorted(maps.Keys(p.Services)) {
		s := p.Services[name]
		if s.Build != nil {
			if _, err := os.Stat(filepath.Join(s.Build.Context, s.Build.Dockerfile)); err != nil {
				t.Errorf("%s: build: %v", name, err)
			}
		}
		for _, v := range s.Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("%s: volume %s: %v", name, v.Source, err)
			}
			if !strings.HasPrefix(v.Source, root+string(filepath.Separator)) {
				t.Errorf("%s: volume %s is outside the repository", name, v.Source)
			}
		}
		for dep := range s.DependsOn {
			if _, ok := p.Services[dep]; !ok {
				t.Errorf("%s depends on unknown service %s", name, dep)
			}
		}
		for _, port := range s.Ports {
			for _, n := range hostPorts(t, port) {
				if other, ok := published[n]; ok {
					t.Errorf("host port %d is published by %s and %s", n, other, name)
				}
				published[n] = name
			}
		}
	}

	// mockbank serves every bundled mock, on consecutive ports, all published.
	mb := svc("mockbank")
	_, firstMock := hostPort(t, "mockbank -listen", flagValue(mb.Command, "-listen"))
	if flagValue(mb.Command, "-mock") != "all" {
		t.Errorf("mockbank runs %v, want -mock all", mb.Command)
	}
	mockPort := map[string]int{}
	var targets []int
	for _, port := range mb.Ports {
		targets = append(targets, int(port.Target))
	}
	for i, m := range bundle.Mocks {
		mockPort[m.Style] = firstMock + i
		if !slices.Contains(targets, firstMock+i) || published[firstMock+i] != "mockbank" {
			t.Errorf("mock %s listens on %d in mockbank, which is not published on the same host port (ports %v)", m.Style, firstMock+i, mb.Ports)
		}
	}
	seed, err := strconv.ParseUint(flagValue(mb.Command, "-seed"), 10, 64)
	if err != nil {
		t.Errorf("mockbank -seed: %v", err)
	}

	// The gateway: its config, as the image installs it.
	gw := svc("gateway")
	if flagValue(gw.Command, "-config") != "/etc/vagate/config.yaml" {
		t.Errorf("gateway command %v does not use /etc/vagate/config.yaml", gw.Command)
	}
	if df, _ := os.ReadFile(filepath.Join(root, "Dockerfile")); !strings.Contains(string(df), "COPY config/compose.yaml /etc/vagate/config.yaml") {
		t.Error("the Dockerfile does not install config/compose.yaml")
	}
	if gw.GetScale() < 2 {
		t.Errorf("gateway has %d replicas, want at least 2", gw.GetScale())
	}
	env := func(name string) (string, bool) {
		v, ok := gw.Environment[name]
		if !ok || v == nil {
			return "", false
		}
		return *v, true
	}
	if v, _ := env("VAGATE_JWT_SECRET"); v != secret {
		t.Errorf("the gateway does not get VAGATE_JWT_SECRET from the shell")
	}
	cfgBytes, err := os.ReadFile(filepath.Join(root, "config/compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(cfgBytes, env)
	if err != nil {
		t.Fatalf("config/compose.yaml with the gateway's environment: %v", err)
	}
	_, listenPort := hostPort(t, "listen", cfg.Listen)
	var gwHostPorts []int
	for _, port := range gw.Ports {
		if int(port.Target) == listenPort {
			gwHostPorts = append(gwHostPorts, hostPorts(t, port)...)
		}
	}
	if len(gwHostPorts) < gw.GetScale() {
		t.Errorf("the gateway's port %d is published on %v: want one host port per replica", listenPort, gwHostPorts)
	}
	if u, err := url.Parse(cfg.PublicURL); err != nil || u.Hostname() != "localhost" || len(gwHostPorts) == 0 || u.Port() != strconv.Itoa(gwHostPorts[0]) {
		t.Errorf("publicUrl %q: want http://localhost:<a published gateway port %v>, usable from the host", cfg.PublicURL, gwHostPorts)
	}
	if cfg.Store.Driver != "redis" {
		t.Errorf("store %s, want redis shared by the replicas", cfg.Store.Driver)
	}
	if u, err := url.Parse(string(cfg.Store.RedisURL)); err != nil || u.Hostname() != "redis" {
		t.Errorf("redisUrl does not name the redis service")
	}
	redisCmd := strings.Join(svc("redis").Command, " ")
	if !strings.Contains(redisCmd, "--appendonly yes") || !strings.Contains(redisCmd, "noeviction") {
		t.Errorf("redis runs %q, want AOF on and noeviction", redisCmd)
	}

	// Every bundled mock is a provider, wired as mockbank serves it.
	configured := map[string]bool{}
	for i := range cfg.Providers {
		pc := &cfg.Providers[i]
		configured[pc.Style] = true
		if _, err := openProvider(pc, cfg.PublicURL, nil, nil); err != nil {
			t.Errorf("provider %s: %v", pc.Name, err)
			continue
		}
		var block map[string]any
		if err := config.DecodeStrict(&pc.Config, &block); err != nil {
			t.Fatal(err)
		}
		base, _ := block["baseUrl"].(string)
		u, err := url.Parse(base)
		if err != nil || u.Hostname() != "mockbank" || u.Port() != strconv.Itoa(mockPort[pc.Style]) {
			t.Errorf("provider %s: baseUrl %q, want http://mockbank:%d (where mockbank serves %s)", pc.Name, base, mockPort[pc.Style], pc.Style)
		}
		callback, _ := block["callbackUrl"].(string)
		if callback != "" && callback != "http://gateway:"+strconv.Itoa(listenPort)+"/v1/providers/"+pc.Name+"/webhooks" {
			t.Errorf("provider %s: callbackUrl %q, want the gateway service's webhook route", pc.Name, callback)
		}
		for _, m := range bundle.Mocks {
			if m.Style != pc.Style {
				continue
			}
			mock, mockBlock := m.New(bundle.Settings{Seed: seed})
			want, err := mockBlock(base, callback)
			mock.Close()
			if err != nil {
				t.Fatal(err)
			}
			if !sameJSON(block, want) {
				t.Errorf("provider %s: config block\n%v\nwant what mockbank -seed %d serves\n%v", pc.Name, block, seed, want)
			}
		}
	}
	for _, s := range bundle.Styles() {
		if !configured[s] {
			t.Errorf("the bundled mock %s is not a provider of config/compose.yaml", s)
		}
	}

	// Traces: gateway and mocks → collector → Jaeger.
	var col struct {
		Receivers struct {
			OTLP struct {
				Protocols struct {
					HTTP struct{ Endpoint string } `yaml:"http"`
				} `yaml:"protocols"`
			} `yaml:"otlp"`
		} `yaml:"receivers"`
		Exporters map[string]struct{ Endpoint string } `yaml:"exporters"`
		Service   struct {
			Pipelines map[string]struct{ Receivers, Exporters []string } `yaml:"pipelines"`
		} `yaml:"service"`
	}
	readYAML(t, "deploy/otel-collector.yaml", &col)
	oc := svc("otel-collector")
	if mountTarget(oc, root, "deploy/otel-collector.yaml") != flagValue(oc.Command, "--config") {
		t.Errorf("the collector's --config %q is not where deploy/otel-collector.yaml is mounted", flagValue(oc.Command, "--config"))
	}
	_, otlpPort := hostPort(t, "collector otlp http endpoint", col.Receivers.OTLP.Protocols.HTTP.Endpoint)
	want := "http://otel-collector:" + strconv.Itoa(otlpPort)
	if v, _ := env(config.EnvOTLP); v != want || flagValue(mb.Command, "-otlp-endpoint") != want {
		t.Errorf("gateway and mockbank send traces to %q and %q, want %s", v, flagValue(mb.Command, "-otlp-endpoint"), want)
	}
	traces := col.Service.Pipelines["traces"]
	toJaeger := false
	for _, e := range traces.Exporters {
		if h, port := hostPort(t, "exporter "+e, col.Exporters[e].Endpoint); h == "jaeger" && port == 4317 {
			toJaeger = true
		}
	}
	if !slices.Contains(traces.Receivers, "otlp") || !toJaeger {
		t.Errorf("the collector's traces pipeline %+v does not take OTLP to jaeger:4317", traces)
	}
	if v := svc("jaeger").Environment["COLLECTOR_OTLP_ENABLED"]; v == nil || *v != "true" {
		t.Error("jaeger does not take OTLP")
	}

	// Metrics: Prometheus scrapes every gateway replica.
	prom := svc("prometheus")
	if mountTarget(prom, root, "deploy/prometheus.yml") != flagValue(prom.Command, "--config.file") {
		t.Errorf("prometheus --config.file %q is not where deploy/prometheus.yml is mounted", flagValue(prom.Command, "--config.file"))
	}
	var pc struct {
		ScrapeConfigs []struct {
			MetricsPath  string `yaml:"metrics_path"`
			DNSSDConfigs []struct {
				Names []string
				Type  string
				Port  int
			} `yaml:"dns_sd_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, "deploy/prometheus.yml", &pc)
	scrapes := false
	for _, sc := range pc.ScrapeConfigs {
		for _, d := range sc.DNSSDConfigs {
			// DNS discovery finds each replica behind the service name.
			if slices.Contains(d.Names, "gateway") && d.Type == "A" && d.Port == listenPort && (sc.MetricsPath == "" || sc.MetricsPath == "/metrics") {
				scrapes = true
			}
		}
	}
	if !scrapes {
		t.Errorf("deploy/prometheus.yml does not scrape every gateway replica on :%d/metrics", listenPort)
	}
	promPort := 0
	for _, port := range prom.Ports {
		promPort = int(port.Target)
	}

	// Grafana: Prometheus as data source, the dashboard provisioned.
	gr := svc("grafana")
	provisioning := mountTarget(gr, root, "deploy/grafana/provisioning")
	dashboards := mountTarget(gr, root, "deploy/grafana/dashboards")
	if provisioning != "/etc/grafana/provisioning" || dashboards == "" {
		t.Fatalf("grafana mounts provisioning at %q and dashboards at %q", provisioning, dashboards)
	}
	var ds struct {
		Datasources []struct{ UID, Type, URL string } `yaml:"datasources"`
	}
	readYAML(t, "deploy/grafana/provisioning/datasources/prometheus.yaml", &ds)
	if len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" || ds.Datasources[0].URL != "http://prometheus:"+strconv.Itoa(promPort) {
		t.Fatalf("grafana data sources %+v, want the prometheus service on :%d", ds.Datasources, promPort)
	}
	var dp struct {
		Providers []struct {
			Options struct{ Path string } `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, "deploy/grafana/provisioning/dashboards/vagate.yaml", &dp)
	if len(dp.Providers) != 1 || dp.Providers[0].Options.Path != dashboards {
		t.Errorf("grafana loads dashboards from %+v, want %s, where deploy/grafana/dashboards is mounted", dp.Providers, dashboards)
	}
	if v := gr.Environment["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]; v == nil || !strings.HasPrefix(*v, dashboards+"/") {
		t.Error("grafana's home dashboard is not one of the provisioned ones")
	} else if _, err := os.Stat(filepath.Join(root, "deploy/grafana/dashboards", strings.TrimPrefix(*v, dashboards+"/"))); err != nil {
		t.Errorf("grafana's home dashboard: %v", err)
	}
	checkDashboard(t, filepath.Join(root, "deploy/grafana/dashboards/vagate.json"), ds.Datasources[0].UID)
}

// sameJSON reports whether a and b encode to the same JSON.
func sameJSON(a, b any) bool {
	var x, y any
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	json.Unmarshal(ja, &x)
	json.Unmarshal(jb, &y)
	return reflect.DeepEqual(x, y)
}

// metricName finds metric names in a PromQL query once promLabels are gone.
var (
	metricName = regexp.MustCompile(`vagate_[a-z0-9_]+`)
	promLabels = regexp.MustCompile(`(by|without)\s*\([^)]*\)|\{[^}]*\}`)
)

// checkDashboard checks that every panel of the dashboard at path reads the
// data source uid, and that every metric it queries is one the README lists
// (TestReadmeMetricsAreEmitted proves those are emitted).
func checkDashboard(t *testing.T, path, uid string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID    string
		Panels []struct {
			Type, Title string
			Datasource  *struct{ UID string }
			Targets     []struct {
				Expr       string
				Datasource *struct{ UID string }
			}
		}
	}
	if err := json.Unmarshal(b, &d); err != nil || d.UID == "" {
		t.Fatalf("%s: %v", path, err)
	}
	readme, _ := os.ReadFile("../../README.md")
	seen := map[string]bool{}
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != uid || len(p.Targets) == 0 {
			t.Errorf("panel %q does not read data source %s", p.Title, uid)
		}
		for _, q := range p.Targets {
			if q.Datasource != nil && q.Datasource.UID != uid {
				t.Errorf("panel %q: a query reads data source %s", p.Title, q.Datasource.UID)
			}
			for _, m := range metricName.FindAllString(promLabels.ReplaceAllString(q.Expr, ""), -1) {
				base := m
				for _, suffix := range []string{"_bucket", "_count", "_sum"} {
					base = strings.TrimSuffix(base, suffix)
				}
				seen[base] = true
				if !strings.Contains(string(readme), "`"+base+"`") {
					t.Errorf("panel %q queries %s, which the README does not list as emitted", p.Title, m)
				}
			}
		}
	}
	for _, m := range []string{"vagate_http_requests_total", "vagate_provider_call_duration_seconds", "vagate_provider_calls_total",
		"vagate_provider_breaker_state", "vagate_jobs_duration_seconds", "vagate_idempotency_replays_total"} {
		if !seen[m] {
			t.Errorf("the dashboard has no panel on %s", m)
		}
	}
}
