package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"

	"github.com/vagate/vagate/config"
)

// openRedis builds the client store.redis describes with go-redis's own
// constructors (NewClient for one node, NewClusterClient for a Cluster,
// NewFailoverClient for Sentinel), and says what it connects to, with no
// secret, for logs and errors.
func openRedis(r *config.Redis) (redis.UniversalClient, string, error) {
	tlsCfg, err := redisTLS(&r.TLS)
	if err != nil {
		return nil, "", err
	}
	switch r.Topology() {
	case "cluster":
		opt := &redis.ClusterOptions{Addrs: r.Cluster.Addrs, Username: r.Username, Password: string(r.Password), TLSConfig: tlsCfg,
			DialTimeout: r.DialTimeout.D(), ReadTimeout: r.ReadTimeout.D(), WriteTimeout: r.WriteTimeout.D(),
			PoolSize: r.PoolSize, MinIdleConns: r.MinIdleConns, MaxRetries: r.MaxRetries}
		c := redis.NewClusterClient(opt)
		h := reloadOnFailure{c}
		c.OnNewNode(func(n *redis.Client) { n.AddHook(h) })
		return c, "cluster " + strings.Join(r.Cluster.Addrs, ","), nil
	case "sentinel":
		opt := &redis.FailoverOptions{MasterName: r.Sentinel.MasterName, SentinelAddrs: r.Sentinel.Addrs,
			SentinelUsername: r.Sentinel.Username, SentinelPassword: string(r.Sentinel.Password),
			Username: r.Username, Password: string(r.Password), TLSConfig: tlsCfg,
			DialTimeout: r.DialTimeout.D(), ReadTimeout: r.ReadTimeout.D(), WriteTimeout: r.WriteTimeout.D(),
			PoolSize: r.PoolSize, MinIdleConns: r.MinIdleConns, MaxRetries: r.MaxRetries}
		return redis.NewFailoverClient(opt), "sentinel master " + r.Sentinel.MasterName + " via " + strings.Join(r.Sentinel.Addrs, ","), nil
	}
	opt, err := redis.ParseURL(string(r.URL))
	if err != nil {
		return nil, "", fmt.Errorf("config: store.redis.url: %v", redactURLError(err))
	}
	if r.Username != "" {
		opt.Username = r.Username
	}
	if r.Password != "" {
		opt.Password = string(r.Password)
	}
	if tlsCfg != nil {
		opt.TLSConfig = tlsCfg
	}
	if r.DialTimeout != 0 {
		opt.DialTimeout = r.DialTimeout.D()
	}
	if r.ReadTimeout != 0 {
		opt.ReadTimeout = r.ReadTimeout.D()
	}
	if r.WriteTimeout != 0 {
		opt.WriteTimeout = r.WriteTimeout.D()
	}
	if r.PoolSize != 0 {
		opt.PoolSize = r.PoolSize
	}
	if r.MinIdleConns != 0 {
		opt.MinIdleConns = r.MinIdleConns
	}
	if r.MaxRetries != 0 {
		opt.MaxRetries = r.MaxRetries
	}
	return redis.NewClient(opt), redactURL(string(r.URL)), nil
}

// reloadOnFailure makes a Cluster client read the slot map again as soon
// as a node cannot be reached or the Cluster reports itself down. A dead
// master answers nothing, so no MOVED tells the client that its replica
// took its slots (within cluster-node-timeout); go-redis would otherwise
// keep dialling the dead node until its periodic reload, a minute later.
// ReloadState is asynchronous and runs at most once per 200ms.
type reloadOnFailure struct{ c *redis.ClusterClient }

// DialHook implements redis.Hook.
func (h reloadOnFailure) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		if err != nil {
			h.c.ReloadState(ctx)
		}
		return conn, err
	}
}

// ProcessHook implements redis.Hook.
func (h reloadOnFailure) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		h.check(ctx, err)
		return err
	}
}

// ProcessPipelineHook implements redis.Hook.
func (h reloadOnFailure) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		h.check(ctx, err)
		return err
	}
}

func (h reloadOnFailure) check(ctx context.Context, err error) {
	var ne net.Error
	if err != nil && (errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || redis.HasErrorPrefix(err, "CLUSTERDOWN")) {
		h.c.ReloadState(ctx)
	}
}

// redisTLS is the TLS configuration of store.redis.tls, or nil when TLS is
// off (a rediss:// URL still turns it on).
func redisTLS(t *config.RedisTLS) (*tls.Config, error) {
	if !t.Enabled && t.CAFile == "" && t.CertFile == "" && t.ServerName == "" {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("config: store.redis.tls.caFile: %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("config: store.redis.tls.caFile: %s holds no PEM certificate", t.CAFile)
		}
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("config: store.redis.tls.certFile/keyFile: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// eachMaster runs fn on every node that takes writes: each master of a
// Cluster (with its address), else the one node or Sentinel's current
// primary (with no address).
func eachMaster(ctx context.Context, c redis.UniversalClient, fn func(ctx context.Context, n redis.UniversalClient, addr string)) {
	if cc, ok := c.(*redis.ClusterClient); ok {
		_ = cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
			fn(ctx, n, n.Options().Addr)
			return nil
		})
		return
	}
	fn(ctx, c, "")
}

// durability is what one master keeps of an acknowledged write.
type durability struct {
	node, appendonly, appendfsync, save, minReplicas string
	replicas                                         int
}

// readDurability reads n's persistence settings (CONFIG GET) and its
// replicas (INFO replication).
func readDurability(ctx context.Context, n redis.UniversalClient, addr string) (*durability, error) {
	d := &durability{node: addr}
	for _, k := range []struct {
		name string
		dst  *string
	}{{"appendonly", &d.appendonly}, {"appendfsync", &d.appendfsync}, {"save", &d.save}, {"min-replicas-to-write", &d.minReplicas}} {
		v, err := n.ConfigGet(ctx, k.name).Result()
		if err != nil {
			return nil, err
		}
		*k.dst = strings.TrimSpace(v[k.name])
	}
	info, err := n.Info(ctx, "replication").Result()
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "connected_slaves:"); ok {
			d.replicas, _ = strconv.Atoi(v)
		}
	}
	return d, nil
}

// window says in words which acknowledged writes d can lose.
func (d *durability) window() string {
	var disk string
	switch {
	case d.appendonly == "yes" && d.appendfsync == "always":
		disk = "every write is on disk before it is acknowledged"
	case d.appendonly == "yes" && d.appendfsync == "everysec":
		disk = "a crash of the machine loses about the last second of acknowledged writes (appendfsync everysec; up to 2s on a slow disk)"
	case d.appendonly == "yes":
		disk = "the OS decides when writes reach disk (appendfsync " + d.appendfsync + "): a crash of the machine can lose more than a second"
	case d.save != "":
		disk = "only RDB snapshots (save " + d.save + "): a restart loses every write since the last one"
	default:
		disk = "nothing is kept on disk: a restart loses everything"
	}
	if d.replicas == 0 {
		return disk + "; no replica, so a failover has nothing to promote"
	}
	return disk + fmt.Sprintf("; %d replica(s) get writes asynchronously, so a failover loses what the promoted one had not received yet (usually milliseconds)", d.replicas)
}

// logDurability reports at start-up what each master keeps of an
// acknowledged write. Where CONFIG or INFO is refused (some managed Redis
// services), it says so and goes on.
func logDurability(ctx context.Context, c redis.UniversalClient, topology string, log *slog.Logger) {
	eachMaster(ctx, c, func(ctx context.Context, n redis.UniversalClient, addr string) {
		d, err := readDurability(ctx, n, addr)
		if err != nil {
			var re redis.Error
			what := "could not reach it"
			if errors.As(err, &re) {
				what = "the server refused CONFIG GET or INFO (renamed or disabled, as on some managed services)"
			}
			log.Warn("redis durability unknown: "+what+"; check its persistence (appendonly yes, appendfsync everysec) and replicas with your provider",
				"topology", topology, "node", addr, "err", err)
			return
		}
		attrs := []any{"topology", topology, "appendonly", d.appendonly, "appendfsync", d.appendfsync,
			"save", d.save, "replicas", d.replicas, "min_replicas_to_write", d.minReplicas, "window", d.window()}
		if d.node != "" {
			attrs = append(attrs, "node", d.node)
		}
		log.Info("redis durability", attrs...)
	})
}

// redisLog hands go-redis's own messages (a Sentinel switching primaries, a
// Cluster node failing) to the gateway's log.
type redisLog struct{ log *slog.Logger }

// Printf implements go-redis's logger.
func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.InfoContext(ctx, "redis client: "+fmt.Sprintf(format, v...))
}
