package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vagate/vagate/config"
)

func TestOpenRedisBuildsTheConfiguredTopology(t *testing.T) {
	tests := []struct {
		name  string
		redis config.Redis
		check func(t *testing.T, c redis.UniversalClient, where string)
	}{
		{"one node from a URL, settings on top", config.Redis{URL: "redis://:secret-in-url@10.0.0.1:6380/3", Username: "gw",
			PoolSize: 7, MinIdleConns: 2, ReadTimeout: config.Duration(time.Second), MaxRetries: -1},
			func(t *testing.T, c redis.UniversalClient, where string) {
				o := c.(*redis.Client).Options()
				if o.Addr != "10.0.0.1:6380" || o.DB != 3 || o.Username != "gw" || o.Password != "secret-in-url" || o.PoolSize != 7 ||
					o.MinIdleConns != 2 || o.ReadTimeout != time.Second || o.MaxRetries != 0 { // go-redis stores "never" (-1) as 0
					t.Errorf("options %+v", o)
				}
				if strings.Contains(where, "secret") || !strings.Contains(where, "10.0.0.1:6380") {
					t.Errorf("described as %q", where)
				}
			}},
		{"rediss URL turns TLS on", config.Redis{URL: "rediss://cache.example.com:6380/0"},
			func(t *testing.T, c redis.UniversalClient, _ string) {
				if o := c.(*redis.Client).Options(); o.TLSConfig == nil || o.TLSConfig.ServerName != "cache.example.com" {
					t.Errorf("TLS %+v", o.TLSConfig)
				}
			}},
		{"cluster", config.Redis{Cluster: config.RedisCluster{Addrs: []string{"a:7000", "b:7001"}}, Password: "pw", PoolSize: 5},
			func(t *testing.T, c redis.UniversalClient, where string) {
				o := c.(*redis.ClusterClient).Options()
				if strings.Join(o.Addrs, ",") != "a:7000,b:7001" || o.Password != "pw" || o.PoolSize != 5 {
					t.Errorf("options %+v", o)
				}
				if where != "cluster a:7000,b:7001" {
					t.Errorf("described as %q", where)
				}
			}},
		{"sentinel", config.Redis{Sentinel: config.RedisSentinel{MasterName: "mymaster", Addrs: []string{"s1:26379", "s2:26379"}, Password: "spw"}, Password: "pw"},
			func(t *testing.T, c redis.UniversalClient, where string) {
				if _, ok := c.(*redis.Client); !ok {
					t.Errorf("a %T", c)
				}
				if where != "sentinel master mymaster via s1:26379,s2:26379" {
					t.Errorf("described as %q", where)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, where, err := openRedis(&tt.redis)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			tt.check(t, c, where)
		})
	}
}

func TestOpenRedisTLSFilesNameTheField(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.txt")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o600)
	tests := []struct {
		name string
		tls  config.RedisTLS
		want string
	}{
		{"missing CA", config.RedisTLS{Enabled: true, CAFile: filepath.Join(dir, "none.pem")}, "store.redis.tls.caFile"},
		{"CA not PEM", config.RedisTLS{Enabled: true, CAFile: notPEM}, "store.redis.tls.caFile"},
		{"missing client cert", config.RedisTLS{Enabled: true, CertFile: filepath.Join(dir, "c.pem"), KeyFile: filepath.Join(dir, "k.pem")}, "store.redis.tls.certFile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := openRedis(&config.Redis{URL: "redis://a:6379", TLS: tt.tls})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one naming %s", err, tt.want)
			}
		})
	}
}

func TestDurabilityWindow(t *testing.T) {
	tests := []struct {
		d    durability
		want []string
	}{
		{durability{appendonly: "yes", appendfsync: "always", replicas: 1}, []string{"every write is on disk", "1 replica(s)"}},
		{durability{appendonly: "yes", appendfsync: "everysec"}, []string{"last second", "no replica"}},
		{durability{appendonly: "yes", appendfsync: "no", replicas: 2}, []string{"OS decides", "2 replica(s)"}},
		{durability{appendonly: "no", save: "3600 1"}, []string{"only RDB snapshots", "no replica"}},
		{durability{appendonly: "no"}, []string{"nothing is kept on disk"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%+v", tt.d), func(t *testing.T) {
			got := tt.d.window()
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("window() = %q, want it to say %q", got, w)
				}
			}
		})
	}
}

// At start-up the gateway logs each master's durability; where CONFIG is
// disabled (as on some managed services) it says so and goes on.
func TestDurabilityLog(t *testing.T) {
	tests := []struct {
		name  string
		extra []string
		want  []string
	}{
		{"CONFIG allowed", []string{"--appendonly", "yes", "--appendfsync", "everysec"},
			[]string{`"msg":"redis durability"`, `"appendonly":"yes"`, `"appendfsync":"everysec"`, `"replicas":0`}},
		{"CONFIG disabled", []string{"--rename-command", "CONFIG", ""},
			[]string{`"level":"WARN"`, "redis durability unknown", "refused CONFIG GET"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := throwawayRedis(t, tt.extra...)
			var buf bytes.Buffer
			logDurability(t.Context(), c, "single", slog.New(slog.NewJSONHandler(&buf, nil)))
			for _, w := range tt.want {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("log %s does not say %s", buf.String(), w)
				}
			}
		})
	}
}

// throwawayRedis starts a redis-server of the test's own on a free port,
// with extra arguments, stopped when the test ends.
func throwawayRedis(t *testing.T, extra ...string) *redis.Client {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server is needed for this test (apt-get install -y redis-server): %v", err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	args := append([]string{"--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--dir", t.TempDir()}, extra...)
	srv := exec.Command(bin, args...)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	for c.Ping(ctx).Err() != nil {
		if ctx.Err() != nil {
			t.Fatal("throwaway redis-server did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return c
}
