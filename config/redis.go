package config

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Redis is where the redis driver keeps state: exactly one of URL (one
// node), Cluster and Sentinel, with the settings every form shares.
type Redis struct {
	// URL is one Redis node: redis://[user:password@]host:port/db,
	// rediss:// for TLS, or unix:///path.
	URL Secret `yaml:"url"`
	// Cluster is a Redis Cluster, found through its seed nodes.
	Cluster RedisCluster `yaml:"cluster"`
	// Sentinel is a primary with replicas, found and failed over by Sentinel.
	Sentinel RedisSentinel `yaml:"sentinel"`
	// Username and Password authenticate to the data nodes (ACL user, or
	// requirepass with no username). With URL they may be given in the URL
	// instead, not in both.
	Username string `yaml:"username"`
	Password Secret `yaml:"password"`
	// TLS encrypts the connections to the data nodes (and to the sentinels).
	TLS RedisTLS `yaml:"tls"`
	// DialTimeout bounds opening one connection (default 5s).
	DialTimeout Duration `yaml:"dialTimeout"`
	// ReadTimeout and WriteTimeout bound one command's socket reads and
	// writes (default 3s each; blocking reads of the job queue get their
	// block time on top).
	ReadTimeout  Duration `yaml:"readTimeout"`
	WriteTimeout Duration `yaml:"writeTimeout"`
	// PoolSize is the most connections kept per data node (default 10 per
	// CPU); MinIdleConns keeps that many open while idle (default 0).
	PoolSize     int `yaml:"poolSize"`
	MinIdleConns int `yaml:"minIdleConns"`
	// MaxRetries is how often a command that failed on the network, or was
	// redirected during a failover, is sent again (default 3; -1: never).
	MaxRetries int `yaml:"maxRetries"`
}

// RedisCluster is a Redis Cluster.
type RedisCluster struct {
	// Addrs are seed nodes (host:port); the client learns the others and
	// follows slot moves and failovers from there. Give several.
	Addrs AddrList `yaml:"addrs"`
}

// RedisSentinel is a primary and its replicas monitored by Sentinel.
type RedisSentinel struct {
	// MasterName is the name the sentinels monitor the primary under.
	MasterName string `yaml:"masterName"`
	// Addrs are the sentinels (host:port); give every one (at least 3 for a
	// quorum that survives losing one).
	Addrs AddrList `yaml:"addrs"`
	// Username and Password authenticate to the sentinels themselves, when
	// they require it (their own ACL, apart from the data nodes').
	Username string `yaml:"username"`
	Password Secret `yaml:"password"`
}

// set reports whether any field of the block is given.
func (s *RedisSentinel) set() bool {
	return s.MasterName != "" || len(s.Addrs) > 0 || s.Username != "" || s.Password != ""
}

// RedisTLS configures TLS to Redis.
type RedisTLS struct {
	// Enabled turns TLS on (a rediss:// URL turns it on too).
	Enabled bool `yaml:"enabled"`
	// CAFile is a PEM bundle to verify the servers with (default: the
	// system's roots).
	CAFile string `yaml:"caFile"`
	// CertFile and KeyFile are a client certificate, for servers that
	// require one (tls-auth-clients).
	CertFile string `yaml:"certFile"`
	KeyFile  string `yaml:"keyFile"`
	// ServerName is the name the servers' certificates must carry (default:
	// the host dialled).
	ServerName string `yaml:"serverName"`
}

// AddrList is a list of host:port addresses, given in YAML as a sequence
// or as one comma-separated string (handy with ${VAR}).
type AddrList []string

// UnmarshalYAML reads a sequence or a comma-separated string.
func (a *AddrList) UnmarshalYAML(n *yaml.Node) error {
	var list []string
	switch n.Kind {
	case yaml.ScalarNode:
		for _, s := range strings.Split(n.Value, ",") {
			if s = strings.TrimSpace(s); s != "" {
				list = append(list, s)
			}
		}
	case yaml.SequenceNode:
		if err := n.Decode(&list); err != nil {
			return err
		}
	default:
		return fmt.Errorf("line %d: want a list of host:port addresses", n.Line)
	}
	*a = list
	return nil
}

// Topology names the deployment r describes: "single" (URL), "cluster" or
// "sentinel"; "" when none is set.
func (r *Redis) Topology() string {
	switch {
	case len(r.Cluster.Addrs) > 0:
		return "cluster"
	case r.Sentinel.set():
		return "sentinel"
	case r.URL != "":
		return "single"
	}
	return ""
}

// validateRedis checks the redis driver's settings.
func (s *Store) validateRedis() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("config: %s: %s", field, fmt.Sprintf(format, args...))
	}
	r := &s.Redis
	set := 0
	for _, on := range []bool{r.URL != "", len(r.Cluster.Addrs) > 0, r.Sentinel.set()} {
		if on {
			set++
		}
	}
	switch {
	case set == 0:
		return bad("store.redis", "the redis driver needs one of store.redis.url (or store.redisUrl, VAGATE_REDIS_URL), store.redis.cluster.addrs or store.redis.sentinel")
	case s.RedisURL != "" && set > 1:
		return bad("store.redisUrl", "is set (in the file or by %s) as well as store.redis.%s; give one", EnvRedisURL, r.Topology())
	case s.RedisURL != "" && r.URL != s.RedisURL:
		return bad("store.redisUrl", "and store.redis.url are both set; give one")
	case set > 1:
		return bad("store.redis", "give one of url, cluster and sentinel, not several")
	}
	switch r.Topology() {
	case "single":
		field := "store.redis.url"
		if s.RedisURL != "" {
			field = "store.redisUrl"
		}
		u, err := url.Parse(string(r.URL))
		if err != nil {
			return bad(field, "is not a URL (redis://host:port/db, rediss://... or unix:///path)")
		}
		switch u.Scheme {
		case "redis", "rediss":
			if u.Host == "" {
				return bad(field, "names no host (redis://host:port/db)")
			}
		case "unix":
			if u.Path == "" {
				return bad(field, "names no socket (unix:///path/to/redis.sock)")
			}
		default:
			return bad(field, "must start with redis://, rediss:// or unix://, not %q", u.Scheme+"://")
		}
		if _, has := u.User.Password(); has && r.Password != "" {
			return bad("store.redis.password", "is set and the URL holds a password too; give it in one place")
		}
	case "cluster":
		if err := validateAddrs("store.redis.cluster.addrs", r.Cluster.Addrs); err != nil {
			return err
		}
	case "sentinel":
		if r.Sentinel.MasterName == "" {
			return bad("store.redis.sentinel.masterName", "required: the name the sentinels monitor the primary under")
		}
		if len(r.Sentinel.Addrs) == 0 {
			return bad("store.redis.sentinel.addrs", "required: the sentinels' host:port addresses")
		}
		if err := validateAddrs("store.redis.sentinel.addrs", r.Sentinel.Addrs); err != nil {
			return err
		}
	}
	if (r.TLS.CertFile == "") != (r.TLS.KeyFile == "") {
		return bad("store.redis.tls", "certFile and keyFile go together")
	}
	for _, d := range []struct {
		field string
		v     Duration
	}{{"dialTimeout", r.DialTimeout}, {"readTimeout", r.ReadTimeout}, {"writeTimeout", r.WriteTimeout}} {
		if d.v != 0 && (d.v.D() < 10*time.Millisecond || d.v.D() > 5*time.Minute) {
			return bad("store.redis."+d.field, "must be between 10ms and 5m (or unset for the default)")
		}
	}
	switch {
	case r.PoolSize < 0 || r.PoolSize > 10000:
		return bad("store.redis.poolSize", "must be between 1 and 10000 (or unset for 10 per CPU)")
	case r.MinIdleConns < 0:
		return bad("store.redis.minIdleConns", "must not be negative")
	case r.PoolSize > 0 && r.MinIdleConns > r.PoolSize:
		return bad("store.redis.minIdleConns", "must not exceed poolSize (%d)", r.PoolSize)
	case r.MaxRetries < -1 || r.MaxRetries > 20:
		return bad("store.redis.maxRetries", "must be between -1 (never) and 20")
	}
	return nil
}

// validateAddrs checks a list of host:port addresses.
func validateAddrs(field string, addrs []string) error {
	seen := map[string]bool{}
	for i, a := range addrs {
		host, port, err := net.SplitHostPort(a)
		if err != nil || host == "" {
			return fmt.Errorf("config: %s[%d]: %q is not host:port", field, i, a)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("config: %s[%d]: %q has no valid port", field, i, a)
		}
		if seen[a] {
			return fmt.Errorf("config: %s[%d]: %q is listed twice", field, i, a)
		}
		seen[a] = true
	}
	return nil
}
