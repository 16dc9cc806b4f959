package main

import (
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/vagate/vagate/config"
)

// docker-compose.yml is kept correct without a Docker engine: its services
// exist, the gateway's config parses strictly with the environment compose
// gives it, and every provider opens.
func TestComposeFile(t *testing.T) {
	b, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Build       string               `yaml:"build"`
			Environment map[string]string    `yaml:"environment"`
			DependsOn   map[string]yaml.Node `yaml:"depends_on"`
			Command     []string             `yaml:"command"`
			Deploy      struct {
				Replicas int `yaml:"replicas"`
			} `yaml:"deploy"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &compose); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	gw, ok := compose.Services["gateway"]
	if !ok || compose.Services["mockbank"].Build == "" {
		t.Fatalf("services = %v, want gateway and mockbank", compose.Services)
	}
	if !strings.Contains(strings.Join(gw.Command, " "), "/etc/vagate/config.yaml") {
		t.Errorf("gateway command %v does not use /etc/vagate/config.yaml", gw.Command)
	}
	df, _ := os.ReadFile("../../Dockerfile")
	if !strings.Contains(string(df), "COPY config/compose.yaml /etc/vagate/config.yaml") {
		t.Error("the Dockerfile does not install config/compose.yaml")
	}
	cfgBytes, err := os.ReadFile("../../config/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	env := func(name string) (string, bool) {
		if name == "VAGATE_JWT_SECRET" {
			return strings.Repeat("k", 32), true
		}
		v, ok := gw.Environment[name]
		return v, ok
	}
	cfg, err := config.Parse(cfgBytes, env)
	if err != nil {
		t.Fatalf("config/compose.yaml: %v", err)
	}
	for i := range cfg.Providers {
		if _, err := openProvider(&cfg.Providers[i], "http://gateway:8080", nil, nil); err != nil {
			t.Errorf("provider %s: %v", cfg.Providers[i].Name, err)
		}
	}
	for dep := range gw.DependsOn {
		if _, ok := compose.Services[dep]; !ok {
			t.Errorf("gateway depends on unknown service %s", dep)
		}
	}
	if gw.Deploy.Replicas < 2 || cfg.Store.Driver != "redis" {
		t.Errorf("want at least 2 gateway replicas sharing a redis store; got %d, %s", gw.Deploy.Replicas, cfg.Store.Driver)
	}
	if gw.Environment["VAGATE_OTLP_ENDPOINT"] == "" || compose.Services["otel-collector"].Command == nil {
		t.Errorf("the gateway does not send traces to the otel-collector service")
	}
	if _, ok := compose.Services["jaeger"]; !ok {
		t.Error("no jaeger service to see traces in")
	}
	col, err := os.ReadFile("../../deploy/otel-collector.yaml")
	if err != nil || !strings.Contains(string(col), "jaeger:4317") {
		t.Errorf("deploy/otel-collector.yaml does not export to jaeger: %v", err)
	}
	var colCfg map[string]any
	if err := yaml.Unmarshal(col, &colCfg); err != nil {
		t.Errorf("deploy/otel-collector.yaml: %v", err)
	}
	redisCmd := strings.Join(compose.Services["redis"].Command, " ")
	if !strings.Contains(redisCmd, "--appendonly yes") || !strings.Contains(redisCmd, "noeviction") {
		t.Errorf("redis runs %q, want AOF on and noeviction", redisCmd)
	}
}
