// Package redistest gives tests a Redis client for each deployment the
// Redis stores support, so a contract suite runs on all of them:
//
//	single     REDIS_URL (default redis://127.0.0.1:6379/0)
//	cluster    VAGATE_REDIS_CLUSTER: comma-separated seed addresses of a Redis Cluster
//	sentinel   VAGATE_REDIS_SENTINEL: comma-separated Sentinel addresses, with the
//	           monitored primary named by VAGATE_REDIS_SENTINEL_MASTER (default "vagate")
//
// scripts/redis-topologies starts a local Cluster and Sentinel and sets these
// variables (`make test` does). A test on a topology whose variable is unset
// is skipped with a message saying so, unless VAGATE_REDIS_TOPOLOGIES_REQUIRED
// is set (as in CI): then it fails. The single node is always required.
//
// A store runs its suite on every topology with Run:
//
//	func TestRedisConformance(t *testing.T) {
//		redistest.Run(t, func(t *testing.T, c redis.UniversalClient) {
//			scripts := redistest.RecordScripts(t, c)
//			mytest.RunConformanceTests(t, func(t *testing.T) my.Store {
//				return my.NewRedis(c, &my.Options{Prefix: redistest.Prefix(t, c, "vagate-test")})
//			})
//			scripts.RequireRan(t, myScripts)
//		})
//	}
//
// On a Cluster every Lua script and transaction that touches keys of more
// than one hash slot fails (CROSSSLOT), so a suite that passes there shows
// that its store keeps each of them in one slot; RecordScripts checks the
// same for scripts on every topology and lets a test assert that each script
// of a store ran.
package redistest

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The environment variables that name the topologies.
const (
	EnvURL            = "REDIS_URL"
	EnvCluster        = "VAGATE_REDIS_CLUSTER"
	EnvSentinel       = "VAGATE_REDIS_SENTINEL"
	EnvSentinelMaster = "VAGATE_REDIS_SENTINEL_MASTER"
	// EnvRequired, when set, turns a skip for a missing topology into a failure.
	EnvRequired = "VAGATE_REDIS_TOPOLOGIES_REQUIRED"
)

// Topology is one way of deploying Redis.
type Topology string

// The topologies the stores support.
const (
	Single   Topology = "single"
	Cluster  Topology = "cluster"
	Sentinel Topology = "sentinel"
)

// Topologies lists every topology, in the order Run runs them.
func Topologies() []Topology { return []Topology{Single, Cluster, Sentinel} }

// Run runs fn as one subtest per topology (named after it), each with a
// client to that topology, closed when the subtest ends.
func Run(t *testing.T, fn func(t *testing.T, c redis.UniversalClient)) {
	t.Helper()
	for _, top := range Topologies() {
		t.Run(string(top), func(t *testing.T) { fn(t, Client(t, top)) })
	}
}

// Addrs splits a comma-separated address list, ignoring blanks.
func Addrs(s string) []string {
	var out []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// Options returns the go-redis options for top from the environment, or
// ok false when its variable is unset.
func Options(top Topology) (opt *redis.UniversalOptions, ok bool, err error) {
	switch top {
	case Single:
		url := os.Getenv(EnvURL)
		if url == "" {
			url = "redis://127.0.0.1:6379/0"
		}
		o, err := redis.ParseURL(url)
		if err != nil {
			return nil, false, fmt.Errorf("%s %q: %w", EnvURL, url, err)
		}
		return &redis.UniversalOptions{Addrs: []string{o.Addr}, DB: o.DB, Username: o.Username, Password: o.Password, TLSConfig: o.TLSConfig}, true, nil
	case Cluster:
		addrs := Addrs(os.Getenv(EnvCluster))
		if len(addrs) == 0 {
			return nil, false, nil
		}
		return &redis.UniversalOptions{Addrs: addrs, IsClusterMode: true}, true, nil
	case Sentinel:
		addrs := Addrs(os.Getenv(EnvSentinel))
		if len(addrs) == 0 {
			return nil, false, nil
		}
		master := os.Getenv(EnvSentinelMaster)
		if master == "" {
			master = "vagate"
		}
		return &redis.UniversalOptions{Addrs: addrs, MasterName: master}, true, nil
	}
	return nil, false, fmt.Errorf("unknown topology %q", top)
}

// Unavailable ends a test that needs top when its variable is unset: it
// skips, saying which variable to set, or fails when EnvRequired is set.
func Unavailable(t testing.TB, top Topology) {
	t.Helper()
	v := EnvCluster
	if top == Sentinel {
		v = EnvSentinel
	}
	msg := fmt.Sprintf("no Redis %s: %s is not set (scripts/redis-topologies run -- go test ... starts one)", top, v)
	if os.Getenv(EnvRequired) != "" {
		t.Fatalf("%s, and %s requires every topology", msg, EnvRequired)
	}
	t.Skip(msg)
}

// Client connects to top, fails the test when it does not answer, and closes
// the client when the test ends. A topology that is not configured skips
// the test (see Unavailable).
func Client(t testing.TB, top Topology) redis.UniversalClient {
	t.Helper()
	opt, ok, err := Options(top)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		Unavailable(t, top)
	}
	var c redis.UniversalClient
	switch top {
	case Cluster:
		c = redis.NewClusterClient(opt.Cluster())
	case Sentinel:
		c = redis.NewFailoverClient(opt.Failover())
	default:
		c = redis.NewClient(opt.Simple())
	}
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis %s at %s unreachable: %v (start redis-server, or scripts/redis-topologies)", top, strings.Join(opt.Addrs, ","), err)
	}
	return c
}

// Prefix returns a new key prefix starting with base; every key under it
// (plain or hash-tagged, on every master of a Cluster) is deleted when the
// test ends.
func Prefix(t testing.TB, c redis.UniversalClient, base string) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := base + "-" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := DeleteKeys(ctx, c, prefix); err != nil {
			t.Errorf("deleting the keys under %s: %v", prefix, err)
		}
	})
	return prefix
}

// DeleteKeys deletes every key under prefix ("<prefix>:*" and
// "{<prefix>:*"), on every master of a Cluster.
func DeleteKeys(ctx context.Context, c redis.UniversalClient, prefix string) error {
	del := func(ctx context.Context, n redis.Cmdable) error {
		for _, pat := range []string{prefix + ":*", "{" + prefix + ":*"} {
			iter := n.Scan(ctx, 0, pat, 500).Iterator()
			for iter.Next(ctx) {
				if err := n.Del(ctx, iter.Val()).Err(); err != nil {
					return err
				}
			}
			if err := iter.Err(); err != nil {
				return err
			}
		}
		return nil
	}
	if cc, ok := c.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return del(ctx, n) })
	}
	return del(ctx, c)
}

// Scripts is what RecordScripts saw: the scripts run through one client.
type Scripts struct {
	mu  sync.Mutex
	ran map[string]bool // SHA-1 of each script run
	bad map[string]bool // scripts whose keys are in more than one slot
}

// RecordScripts watches every Lua script run through c from now on. It
// fails t, when t ends, for each script call whose keys are in more than
// one Cluster hash slot, on any topology.
func RecordScripts(t testing.TB, c redis.UniversalClient) *Scripts {
	t.Helper()
	s := &Scripts{ran: map[string]bool{}, bad: map[string]bool{}}
	c.AddHook(s)
	t.Cleanup(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, b := range slices.Sorted(maps.Keys(s.bad)) {
			t.Errorf("a script touches keys of more than one hash slot: %s", b)
		}
	})
	return s
}

// RequireRan fails t, when it ends (after its parallel subtests), unless
// every script in want ran; each is named by its key in the map.
func (s *Scripts) RequireRan(t testing.TB, want map[string]*redis.Script) {
	t.Helper()
	t.Cleanup(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, name := range slices.Sorted(maps.Keys(want)) {
			if !s.ran[want[name].Hash()] {
				t.Errorf("script %s never ran: the suite does not show it stays in one slot", name)
			}
		}
	})
}

func (s *Scripts) note(cmd redis.Cmder) {
	args := cmd.Args()
	if len(args) < 3 {
		return
	}
	var sha string
	switch strings.ToLower(cmd.Name()) {
	case "evalsha", "evalsha_ro":
		sha = strings.ToLower(fmt.Sprint(args[1]))
	case "eval", "eval_ro":
		sum := sha1.Sum([]byte(fmt.Sprint(args[1])))
		sha = hex.EncodeToString(sum[:])
	default:
		return
	}
	var n int
	fmt.Sscan(fmt.Sprint(args[2]), &n)
	var keys []string
	for i := 3; i < 3+n && i < len(args); i++ {
		keys = append(keys, fmt.Sprint(args[i]))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ran[sha] = true
	for _, k := range keys[min(1, len(keys)):] {
		if Slot(k) != Slot(keys[0]) {
			s.bad[fmt.Sprintf("script %s with keys %q", sha[:12], keys)] = true
			break
		}
	}
}

// DialHook implements redis.Hook.
func (s *Scripts) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook implements redis.Hook.
func (s *Scripts) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		s.note(cmd)
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook implements redis.Hook.
func (s *Scripts) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			s.note(cmd)
		}
		return next(ctx, cmds)
	}
}

var _ redis.Hook = (*Scripts)(nil)

// Slot is the Cluster hash slot of key: CRC16 of its hash tag (the part
// between the first { and the next }, when not empty) or of the whole key,
// modulo 16384.
func Slot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for k := 0; k < len(key); k++ {
		crc ^= uint16(key[k]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) % 16384
}

// Deployment is a set of Redis topologies started for one test by
// scripts/redis-topologies, stopped when the test ends.
type Deployment struct {
	// Dir holds each server's directory (named by its port), pid file and log.
	Dir string
	// Env holds the variables the script printed (VAGATE_REDIS_CLUSTER, ...).
	Env map[string]string
}

// Start starts the topologies (cluster, cluster-replicas, sentinel) with
// nodeTimeout as the Cluster's node timeout and Sentinel's down-after time,
// and stops them when t ends.
func Start(t testing.TB, nodeTimeout time.Duration, topologies ...string) *Deployment {
	t.Helper()
	script, err := scriptPath()
	if err != nil {
		t.Fatal(err)
	}
	d := &Deployment{Dir: t.TempDir(), Env: map[string]string{}}
	args := append([]string{"start", "--dir", d.Dir, "--node-timeout", fmt.Sprint(nodeTimeout.Milliseconds())}, topologies...)
	cmd := exec.Command(script, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the Redis servers' logs:\n%s", d.logs(40))
		}
		if out, err := exec.Command(script, "stop", "--dir", d.Dir).CombinedOutput(); err != nil {
			t.Errorf("stopping the Redis topologies in %s: %v\n%s", d.Dir, err, out)
		}
	})
	if err != nil {
		t.Fatalf("starting Redis %s: %v\n%s", strings.Join(topologies, ", "), err, stderr.String())
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			d.Env[k] = v
		}
	}
	return d
}

// Kill stops the server at addr (host:port) with SIGKILL, as a crash would.
func (d *Deployment) Kill(t testing.TB, addr string) {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(d.Dir, port, "pid"))
	if err != nil {
		t.Fatalf("no server of this deployment at %s: %v", addr, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid file of %s: %v", addr, err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("killing the server at %s (pid %d): %v", addr, pid, err)
	}
}

// logs is the last n lines of every server's log.
func (d *Deployment) logs(n int) string {
	files, _ := filepath.Glob(filepath.Join(d.Dir, "*", "log"))
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		fmt.Fprintf(&b, "== %s\n%s\n", f, strings.Join(lines[max(0, len(lines)-n):], "\n"))
	}
	return b.String()
}

// scriptPath finds scripts/redis-topologies in the module's root, above the
// working directory.
func scriptPath() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "scripts", "redis-topologies"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("redistest: no go.mod above the working directory, so no scripts/redis-topologies")
		}
		dir = parent
	}
}
