package config_test

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vagate/vagate/config"
)

// redisDoc is the good document with the redis driver and the given store
// keys (indented under store:).
func redisDoc(store string) string {
	return good + "store:\n  driver: redis\n" + store
}

func TestRedisStoreErrorsNameTheField(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		env  map[string]string
		want string
	}{
		{"nothing", redisDoc(""), nil, "store.redis"},
		{"url and cluster", redisDoc("  redis:\n    url: redis://a:6379\n    cluster:\n      addrs: [a:7000]\n"), nil, "not several"},
		{"redisUrl and sentinel", redisDoc("  redisUrl: redis://a:6379\n  redis:\n    sentinel:\n      masterName: m\n      addrs: [a:26379]\n"), nil, "store.redisUrl"},
		{"env url over a cluster file", redisDoc("  redis:\n    cluster:\n      addrs: [a:7000]\n"), map[string]string{config.EnvRedisURL: "redis://b:6379"}, "VAGATE_REDIS_URL"},
		{"redisUrl and a different url", redisDoc("  redisUrl: redis://a:6379\n  redis:\n    url: redis://b:6379\n"), nil, "store.redisUrl"},
		{"url scheme", redisDoc("  redis:\n    url: http://a:6379\n"), nil, "store.redis.url"},
		{"redisUrl without scheme", redisDoc("  redisUrl: localhost:6379\n"), nil, "store.redisUrl"},
		{"url without host", redisDoc("  redis:\n    url: redis:///0\n"), nil, "names no host"},
		{"password twice", redisDoc("  redis:\n    url: redis://:p@a:6379\n    password: q\n"), nil, "store.redis.password"},
		{"cluster addr without port", redisDoc("  redis:\n    cluster:\n      addrs: [a:7000, b]\n"), nil, "store.redis.cluster.addrs[1]"},
		{"cluster addr bad port", redisDoc("  redis:\n    cluster:\n      addrs: [a:70000]\n"), nil, "store.redis.cluster.addrs[0]"},
		{"cluster addr twice", redisDoc("  redis:\n    cluster:\n      addrs: a:7000,a:7000\n"), nil, "listed twice"},
		{"cluster addrs a map", redisDoc("  redis:\n    cluster:\n      addrs: {a: 1}\n"), nil, "host:port"},
		{"cluster unknown key", redisDoc("  redis:\n    cluster:\n      seeds: [a:7000]\n"), nil, "seeds"},
		{"cluster with a sentinel password", redisDoc("  redis:\n    cluster:\n      addrs: [a:7000]\n    sentinel:\n      password: s\n"), nil, "not several"},
		{"sentinel without master", redisDoc("  redis:\n    sentinel:\n      addrs: [a:26379]\n"), nil, "store.redis.sentinel.masterName"},
		{"sentinel without addrs", redisDoc("  redis:\n    sentinel:\n      masterName: m\n"), nil, "store.redis.sentinel.addrs"},
		{"cert without key", redisDoc("  redis:\n    url: rediss://a:6379\n    tls:\n      certFile: c.pem\n"), nil, "store.redis.tls"},
		{"tiny read timeout", redisDoc("  redis:\n    url: redis://a:6379\n    readTimeout: 1ms\n"), nil, "store.redis.readTimeout"},
		{"negative pool", redisDoc("  redis:\n    url: redis://a:6379\n    poolSize: -1\n"), nil, "store.redis.poolSize"},
		{"idle above pool", redisDoc("  redis:\n    url: redis://a:6379\n    poolSize: 4\n    minIdleConns: 5\n"), nil, "store.redis.minIdleConns"},
		{"retries", redisDoc("  redis:\n    url: redis://a:6379\n    maxRetries: -2\n"), nil, "store.redis.maxRetries"},
		{"unknown redis key", redisDoc("  redis:\n    url: redis://a:6379\n    db: 2\n"), nil, "db"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse([]byte(tc.doc), env(tc.env))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming %q", err, tc.want)
			}
		})
	}
}

func TestRedisStoreForms(t *testing.T) {
	tests := []struct {
		name     string
		doc      string
		env      map[string]string
		topology string
		check    func(t *testing.T, r *config.Redis)
	}{
		{"redisUrl as before", redisDoc("  redisUrl: redis://a:6379/2\n"), nil, "single", func(t *testing.T, r *config.Redis) {
			if r.URL != "redis://a:6379/2" {
				t.Errorf("url = %q", r.URL)
			}
		}},
		{"env url as before", redisDoc(""), map[string]string{config.EnvRedisURL: "redis://b:6379/0"}, "single", func(t *testing.T, r *config.Redis) {
			if r.URL != "redis://b:6379/0" {
				t.Errorf("url = %q", r.URL)
			}
		}},
		{"env url over redis.url", redisDoc("  redis:\n    url: redis://a:6379\n"), map[string]string{config.EnvRedisURL: "redis://b:6379/0"}, "single", func(t *testing.T, r *config.Redis) {
			if r.URL != "redis://b:6379/0" {
				t.Errorf("url = %q", r.URL)
			}
		}},
		{"unix socket", redisDoc("  redis:\n    url: unix:///run/redis.sock\n"), nil, "single", nil},
		{"cluster as a list", redisDoc("  redis:\n    cluster:\n      addrs: [a:7000, 'b:7001']\n    username: gw\n    password: pw\n    tls:\n      enabled: true\n      caFile: ca.pem\n    poolSize: 50\n    minIdleConns: 5\n    readTimeout: 500ms\n    maxRetries: -1\n"),
			nil, "cluster", func(t *testing.T, r *config.Redis) {
				if !slices.Equal(r.Cluster.Addrs, []string{"a:7000", "b:7001"}) || r.Username != "gw" || r.Password != "pw" || !r.TLS.Enabled ||
					r.PoolSize != 50 || r.MinIdleConns != 5 || r.ReadTimeout.D() != 500*time.Millisecond || r.MaxRetries != -1 {
					t.Errorf("cluster = %+v", r)
				}
			}},
		{"cluster from one variable", redisDoc("  redis:\n    cluster:\n      addrs: ${SEEDS}\n"), map[string]string{"SEEDS": "a:7000, b:7001,c:7002"}, "cluster", func(t *testing.T, r *config.Redis) {
			if !slices.Equal(r.Cluster.Addrs, []string{"a:7000", "b:7001", "c:7002"}) {
				t.Errorf("addrs = %q", r.Cluster.Addrs)
			}
		}},
		{"sentinel", redisDoc("  redis:\n    sentinel:\n      masterName: mymaster\n      addrs: [s1:26379, s2:26379, s3:26379]\n      password: spw\n    password: pw\n"),
			nil, "sentinel", func(t *testing.T, r *config.Redis) {
				if r.Sentinel.MasterName != "mymaster" || len(r.Sentinel.Addrs) != 3 || r.Sentinel.Password != "spw" || r.Password != "pw" {
					t.Errorf("sentinel = %+v", r)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Parse([]byte(tc.doc), env(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Store.Redis.Topology(); got != tc.topology {
				t.Errorf("topology = %q, want %q", got, tc.topology)
			}
			if tc.check != nil {
				tc.check(t, &c.Store.Redis)
			}
		})
	}
}

// The store.redis example in the README's "Redis Cluster and Sentinel" is
// a valid configuration.
func TestReadmeRedisExampleIsValid(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "#### Redis Cluster and Sentinel")
	if i < 0 {
		t.Fatal("README has no Redis Cluster and Sentinel section")
	}
	s = s[i:]
	start := strings.Index(s, "```yaml\n")
	end := strings.Index(s[start+8:], "```")
	if start < 0 || end < 0 {
		t.Fatal("the section has no yaml block")
	}
	c, err := config.Parse([]byte(good+s[start+8:start+8+end]), env(map[string]string{"REDIS_PASSWORD": "pw"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Store.Redis.Topology() != "single" || !c.Store.Redis.TLS.Enabled || c.Store.Redis.PoolSize != 50 {
		t.Errorf("store.redis = %+v", c.Store.Redis)
	}
}
