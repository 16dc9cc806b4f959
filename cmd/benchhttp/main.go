// Command benchhttp measures the gateway's HTTP paths in one run (make
// bench-http): it builds and starts a batchva mock with no delays, a one-hop
// bare reverse proxy to it, and the gateway against it (memory store and
// Redis store), drives each with vegeta at 1 and 32 connections, and prints
// requests/s, p50 and p99 per path with the ratios gateway/bare-proxy and
// gateway/direct. It also times a 1000-item batch to completion, counts the
// TIME-WAIT sockets to the mock, and reads the gateway's RSS while it holds
// 1,000 idle keep-alive client connections. With -out it writes the results,
// the machine described, to a Markdown file, and a bar chart (SVG) beside it.
//
//	benchhttp [-duration 3s] [-out BENCHMARKS.md] [-redis URL]
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/vagate/vagate/mocks/batchvamock"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "benchhttp:", err)
		os.Exit(1)
	}
}

type options struct {
	duration, warmup time.Duration
	out, redisURL    string
	goTool           string
	pprofDir         string
	pprofAddr        map[string]string // by store: the gateway's pprof address
	src              string
	// paths, when set, limits the measurements to the paths it matches.
	paths *regexp.Regexp
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("benchhttp", flag.ContinueOnError)
	var o options
	fs.DurationVar(&o.duration, "duration", 3*time.Second, "how long each path is driven at each connection count")
	fs.DurationVar(&o.warmup, "warmup", 500*time.Millisecond, "load before each measurement, not counted")
	fs.StringVar(&o.out, "out", "", "Markdown file for the results (the chart is written beside it as .svg); empty: print only")
	fs.StringVar(&o.redisURL, "redis", envOr("REDIS_URL", "redis://127.0.0.1:6379/0"), "Redis for the gateway's Redis store")
	fs.StringVar(&o.pprofDir, "pprof", "", "directory for CPU and allocation profiles of the gateways under the 32-connection loads (built with net/http/pprof for the run)")
	fs.StringVar(&o.src, "src", ".", "source tree to build the gateway from (e.g. an export of another revision, to compare)")
	proxy := fs.Bool("proxy", false, "serve the bare reverse proxy (-target, -listen) and nothing else")
	target := fs.String("target", "", "the proxy's upstream URL")
	listen := fs.String("listen", "", "the proxy's listen address")
	paths := fs.String("paths", "", "measure only the paths this regular expression matches (e.g. 'refresh|proxy'); the batch and RSS lines are always measured")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *paths != "" {
		re, err := regexp.Compile(*paths)
		if err != nil {
			return fmt.Errorf("-paths: %w", err)
		}
		o.paths = re
	}
	if *proxy {
		return serveProxy(ctx, *target, *listen)
	}
	o.goTool = envOr("GO", "go")
	return bench(ctx, &o)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// serveProxy is the bare one-hop reverse proxy: httputil.ReverseProxy over
// a transport with as many idle connections as the harness drives, so that
// the baseline reuses its connections as the gateway does.
func serveProxy(ctx context.Context, target, listen string) error {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return fmt.Errorf("-target: %q is not a URL", target)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	rp.Transport = t
	srv := &http.Server{Addr: listen, Handler: rp, ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// proc is a started child process.
type proc struct {
	name string
	cmd  *exec.Cmd
	logs *bytes.Buffer
}

func (p *proc) stop() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
}

func start(name, bin string, args ...string) (*proc, error) {
	cmd := exec.Command(bin, args...)
	logs := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = io.Discard, &limitedWriter{w: logs, n: 1 << 20}
	cmd.Env = append(os.Environ(), "VAGATE_CONFIG=")
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	return &proc{name: name, cmd: cmd, logs: logs}, nil
}

// limitedWriter keeps the first n bytes of a child's logs.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitOK polls url until it answers 200.
func waitOK(ctx context.Context, url string, p *proc) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return nil
			}
		}
		if p != nil && p.cmd.ProcessState != nil {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	logs := ""
	if p != nil {
		logs = p.logs.String()
	}
	return fmt.Errorf("%s did not answer in time; logs:\n%s", url, logs)
}

// gateway is one started gateway process and what the benchmark needs of it.
type gateway struct {
	store   string
	base    string
	token   string
	proc    *proc
	account string // the account read
	ref     string // its provider account id
}

const jwtSecret = "bench-http-secret-0123456789abcdef0123456789"

func startGateway(ctx context.Context, dir, bin, store, mockURL, redisURL string) (*gateway, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	def := batchvamock.DefaultClient()
	storeBlock := "  driver: memory\n"
	if store == "redis" {
		storeBlock = fmt.Sprintf("  driver: redis\n  redisUrl: %s\n  prefix: benchhttp-%s\n", redisURL, uuid.NewString()[:8])
	}
	cfg := fmt.Sprintf(`listen: 127.0.0.1:%d
publicUrl: http://127.0.0.1:%d
auth:
  secret: %s
store:
%sproviders:
  - name: batchva
    style: batchva
    resilience:
      maxConcurrent: 32
    config:
      baseUrl: %s
      clientId: %s
      clientSecret: %s
      # The mock calls back when a job finishes, waking the gateway's wait
      # for it (as a provider with callbacks does) before its next poll.
      callbackUrl: http://127.0.0.1:%d/v1/providers/batchva/webhooks
      signingSecret: %s
routing:
  - currency: USD
    provider: batchva
`, port, port, jwtSecret, storeBlock, mockURL, def.ID, def.Secret, port, def.SigningSecret)
	path := filepath.Join(dir, "gateway-"+store+".yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	tok, err := exec.Command(bin, "token", "-tenant", "bench", "-config", path).Output()
	if err != nil {
		return nil, fmt.Errorf("gateway token: %w", err)
	}
	p, err := start("gateway ("+store+")", bin, "serve", "-config", path)
	if err != nil {
		return nil, err
	}
	g := &gateway{store: store, base: fmt.Sprintf("http://127.0.0.1:%d", port), token: strings.TrimSpace(string(tok)), proc: p}
	if err := waitOK(ctx, g.base+"/readyz", p); err != nil {
		p.stop()
		return nil, err
	}
	return g, nil
}

func (g *gateway) header() http.Header {
	return http.Header{"Authorization": {"Bearer " + g.token}, "Content-Type": {"application/json"}}
}

// call sends one request to the gateway and decodes its JSON answer.
func (g *gateway) call(method, path string, hdr http.Header, body []byte, out any) (int, error) {
	req, err := http.NewRequest(method, g.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header = g.header()
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		return resp.StatusCode, json.Unmarshal(raw, out)
	}
	return resp.StatusCode, nil
}

func oneItem() []byte {
	return []byte(fmt.Sprintf(`{"items":[{"currency":"USD","accountHolderName":"Bench Company Ltd","accountName":"Bench","clientReference":"B-%s"}]}`,
		uuid.NewString()[:12]))
}

// seed creates one account and remembers it for the reads.
func (g *gateway) seed() error {
	if _, err := g.call("POST", "/v1/virtual-accounts", http.Header{"Prefer": {"wait=30"}}, oneItem(), nil); err != nil {
		return err
	}
	var list struct {
		Items []struct {
			ID                string `json:"id"`
			ProviderAccountID string `json:"providerAccountId"`
		} `json:"items"`
	}
	if _, err := g.call("GET", "/v1/virtual-accounts?limit=1", nil, nil, &list); err != nil {
		return err
	}
	if len(list.Items) == 0 || list.Items[0].ProviderAccountID == "" {
		return fmt.Errorf("gateway (%s): no account after a create", g.store)
	}
	g.account, g.ref = list.Items[0].ID, list.Items[0].ProviderAccountID
	return nil
}

// batch creates 1000 items in one job and waits for the job to finish.
func (g *gateway) batch() (time.Duration, string, error) {
	var b strings.Builder
	b.WriteString(`{"items":[`)
	run := uuid.NewString()[:8]
	for i := range 1000 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"currency":"USD","accountHolderName":"Bench Company Ltd","accountName":"Batch %d","clientReference":"N-%s-%d"}`, i, run, i)
	}
	b.WriteString(`]}`)
	t0 := time.Now()
	var job struct {
		JobID  string `json:"jobId"`
		Status string `json:"status"`
	}
	if _, err := g.call("POST", "/v1/virtual-accounts", nil, []byte(b.String()), &job); err != nil {
		return 0, "", err
	}
	for time.Since(t0) < 2*time.Minute {
		var st struct {
			Status    string `json:"status"`
			Succeeded int    `json:"succeeded"`
		}
		if _, err := g.call("GET", "/v1/jobs/"+job.JobID, nil, nil, &st); err != nil {
			return 0, "", err
		}
		switch st.Status {
		case "Completed", "CompletedWithErrors", "Cancelled":
			return time.Since(t0), fmt.Sprintf("%s, %d of 1000 created", st.Status, st.Succeeded), nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return 0, "", errors.New("the batch did not finish within 2 minutes")
}

// result is one path driven at one connection count.
type result struct {
	path, group string
	conns       int
	rps         float64
	p50, p99    time.Duration
	success     float64
	codes       string
	// cpuPerReq is the CPU time (user and system) the process serving the
	// path spent per request: the mock, the proxy (not the mock behind it)
	// or the gateway (not the mock behind it).
	cpuPerReq time.Duration
	// loadCPUPerReq is the load generator's own CPU time per request (it
	// shares the machine with the servers).
	loadCPUPerReq time.Duration
}

// cpuTime is a process's CPU time so far (utime + stime, in clock ticks of
// 10ms, the USER_HZ of Linux).
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+st) * 10 * time.Millisecond
}

// attack drives targeter with conns workers, each on its own keep-alive
// connection, as fast as they go, for d, adding every result to m; it
// returns how long the attack took.
func attack(m *vegeta.Metrics, name string, conns int, d time.Duration, tr vegeta.Targeter) time.Duration {
	a := vegeta.NewAttacker(vegeta.Workers(uint64(conns)), vegeta.MaxWorkers(uint64(conns)),
		vegeta.Connections(conns), vegeta.MaxConnections(conns), vegeta.KeepAlive(true), vegeta.Timeout(30*time.Second))
	t0 := time.Now()
	for res := range a.Attack(tr, vegeta.Rate{Freq: 0}, d, name) {
		m.Add(res)
	}
	return time.Since(t0)
}

// path is one thing measured: a name, the process serving it and its
// requests. twPort, when set, is a port whose TIME-WAIT sockets are
// counted around each of the path's rounds.
type path struct {
	name   string
	pid    int
	tr     vegeta.Targeter
	twPort int
}

// rounds is how many turns each path of a group gets: a group's paths run
// in turn, so that what else the shared machine does at the time weighs
// on each of them alike, and the ratios between them hold.
const rounds = 3

// measureGroup warms each path up, then measures the paths in turn, each
// for o.duration in all, in rounds; the paths -paths leaves out are
// skipped. tw is the sum of the TIME-WAIT increases around the
// rounds of the paths with a twPort (tw).
func measureGroup(o *options, conns int, ps ...path) (rs []result, tw int) {
	ps = slices.DeleteFunc(ps, func(p path) bool { return o.paths != nil && !o.paths.MatchString(p.name) })
	if o.warmup > 0 {
		for _, p := range ps {
			var m vegeta.Metrics
			attack(&m, p.name, conns, o.warmup, p.tr)
		}
	}
	type acc struct {
		m              vegeta.Metrics
		wall, cpu, own time.Duration
	}
	accs := make([]acc, len(ps))
	turn := o.duration / rounds
	for round := range rounds {
		for i, p := range ps {
			done := make(chan struct{})
			if addr := o.pprofAddr[storeOf(p.name)]; addr != "" && conns == 32 && round == 0 {
				go func() { defer close(done); profile(o, addr, p.name, turn) }()
			} else {
				close(done)
			}
			tw0 := 0
			if p.twPort != 0 {
				tw0 = timeWait(p.twPort)
			}
			cpu0, own0 := cpuTime(p.pid), cpuTime(os.Getpid())
			accs[i].wall += attack(&accs[i].m, p.name, conns, turn, p.tr)
			accs[i].cpu += cpuTime(p.pid) - cpu0
			accs[i].own += cpuTime(os.Getpid()) - own0
			if p.twPort != 0 {
				tw += max(0, timeWait(p.twPort)-tw0)
			}
			<-done
		}
	}
	for i, p := range ps {
		a := &accs[i]
		a.m.Close()
		codes := make([]string, 0, len(a.m.StatusCodes))
		for c, n := range a.m.StatusCodes {
			codes = append(codes, fmt.Sprintf("%s×%d", c, n))
		}
		slices.Sort(codes)
		ok := float64(a.m.Requests) * a.m.Success
		r := result{path: p.name, conns: conns, rps: ok / a.wall.Seconds(), p50: a.m.Latencies.P50, p99: a.m.Latencies.P99,
			success: a.m.Success, codes: strings.Join(codes, " ")}
		if a.m.Requests > 0 {
			r.cpuPerReq = a.cpu / time.Duration(a.m.Requests)
			r.loadCPUPerReq = a.own / time.Duration(a.m.Requests)
		}
		fmt.Printf("  %-38s %2d conns  %9.0f req/s  p50 %8s  p99 %8s  ok %5.1f%%  cpu/req %s (load generator %s)\n", r.path, conns, r.rps,
			r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond), 100*r.success, r.cpuPerReq.Round(time.Microsecond),
			r.loadCPUPerReq.Round(time.Microsecond))
		rs = append(rs, r)
	}
	return rs, tw
}

// storeOf is the store a gateway path's name ends with: "memory",
// "redis", or "" for the mock and the proxy.
func storeOf(name string) string {
	for _, s := range []string{"memory", "redis"} {
		if strings.HasSuffix(name, "("+s+")") {
			return s
		}
	}
	return ""
}

// pprofOverlay is a go build -overlay adding net/http/pprof to the gateway,
// served at $VAGATE_BENCH_PPROF: for profiling runs only, never in the
// product.
func pprofOverlay(o *options, dir string) (string, error) {
	src := filepath.Join(dir, "benchpprof.go")
	code := `package main

import (
	"net/http"
	_ "net/http/pprof"
	"os"
)

var _ = func() bool {
	if addr := os.Getenv("VAGATE_BENCH_PPROF"); addr != "" {
		go http.ListenAndServe(addr, nil)
	}
	return true
}()
`
	if err := os.WriteFile(src, []byte(code), 0o600); err != nil {
		return "", err
	}
	wd, err := filepath.Abs(o.src)
	if err != nil {
		return "", err
	}
	b, _ := json.Marshal(map[string]map[string]string{"Replace": {filepath.Join(wd, "cmd/gateway/benchpprof.go"): src}})
	path := filepath.Join(dir, "overlay.json")
	return path, os.WriteFile(path, b, 0o600)
}

// profile saves a CPU profile over most of a measurement and the
// allocations after it.
func profile(o *options, addr, name string, d time.Duration) {
	file := strings.NewReplacer(" ", "-", ",", "", ":", "", "(", "", ")", "").Replace(name)
	secs := max(1, int(d.Seconds()))
	for _, p := range []struct{ url, file string }{
		{fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, secs), file + ".cpu.pprof"},
		{fmt.Sprintf("http://%s/debug/pprof/allocs", addr), file + ".allocs.pprof"},
	} {
		resp, err := http.Get(p.url)
		if err != nil {
			fmt.Fprintln(os.Stderr, "pprof:", err)
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		os.MkdirAll(o.pprofDir, 0o755)
		os.WriteFile(filepath.Join(o.pprofDir, p.file), b, 0o644)
	}
}

func static(method, url string, hdr http.Header, body []byte) vegeta.Targeter {
	return vegeta.NewStaticTargeter(vegeta.Target{Method: method, URL: url, Header: hdr, Body: body})
}

// creates is a new one-item create per request, waiting for its account.
func creates(g *gateway) vegeta.Targeter {
	return func(t *vegeta.Target) error {
		h := g.header()
		h.Set("Prefer", "wait=30")
		*t = vegeta.Target{Method: "POST", URL: g.base + "/v1/virtual-accounts", Header: h, Body: oneItem()}
		return nil
	}
}

// mockToken is a bearer token of the mock's default client.
func mockToken(mockURL string) (string, error) {
	def := batchvamock.DefaultClient()
	body, _ := json.Marshal(map[string]string{"clientId": def.ID, "clientSecret": def.Secret})
	resp, err := http.Post(mockURL+"/v1/auth/token", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var tr struct {
		AccessToken string `json:"accessToken"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || tr.AccessToken == "" {
		return "", fmt.Errorf("mock token: %d %v", resp.StatusCode, err)
	}
	return tr.AccessToken, nil
}

// timeWait counts the sockets in TIME-WAIT with port at either end.
func timeWait(port int) int {
	n := 0
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) < 4 || fs[3] != "06" {
				continue
			}
			if portOf(fs[1]) == port || portOf(fs[2]) == port {
				n++
			}
		}
		fh.Close()
	}
	return n
}

func portOf(addr string) int {
	_, hex, ok := strings.Cut(addr, ":")
	if !ok {
		return -1
	}
	p, err := strconv.ParseUint(hex, 16, 32)
	if err != nil {
		return -1
	}
	return int(p)
}

// rssKB is a process's resident set (VmRSS) in kB.
func rssKB(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return -1
}

// idleConnections opens n keep-alive connections to addr, each after one
// request answered, and returns them open.
func idleConnections(addr string, n int) ([]net.Conn, error) {
	conns := make([]net.Conn, 0, n)
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return conns, err
		}
		conns = append(conns, c)
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n"); err != nil {
			return conns, err
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return conns, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return conns, nil
}

// idleRSS reads the gateway's VmRSS, then again while it holds 1,000
// idle keep-alive client connections.
func idleRSS(g *gateway, when string) (string, error) {
	pid := g.proc.cmd.Process.Pid
	before := rssKB(pid)
	conns, err := idleConnections(strings.TrimPrefix(g.base, "http://"), 1000)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	if err != nil {
		return "", fmt.Errorf("idle connections: %w (opened %d)", err, len(conns))
	}
	time.Sleep(500 * time.Millisecond)
	held := rssKB(pid)
	return fmt.Sprintf("gateway (%s store) VmRSS %s: %.1f MB, and %.1f MB holding 1,000 idle keep-alive client connections (%.1f kB each)",
		g.store, when, float64(before)/1024, float64(held)/1024, float64(held-before)/1000), nil
}

// report is everything one run measured.
type report struct {
	took            time.Duration
	machine         []string
	results         []result
	batches         []string
	timeWait        []string
	rss             []string
	loadBefore      string
	loadAfter       string
	ratios          []string
	mockPort        int
	durationPerPath time.Duration
}

func bench(ctx context.Context, o *options) error {
	t0 := time.Now()
	rep := &report{durationPerPath: o.duration, loadBefore: loadAvg(), machine: machine()}
	dir, err := os.MkdirTemp("", "benchhttp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fmt.Println("building the gateway and the mock…")
	for _, b := range []string{"gateway", "mockbank"} {
		args := []string{"build", "-o", filepath.Join(dir, b)}
		if b == "gateway" && o.pprofDir != "" {
			overlay, err := pprofOverlay(o, dir)
			if err != nil {
				return err
			}
			args = append(args, "-overlay", overlay)
		}
		cmd := exec.CommandContext(ctx, o.goTool, append(args, "./cmd/"+b)...)
		if b == "gateway" {
			cmd.Dir = o.src
		}
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build %s: %w", b, err)
		}
	}
	mockPort, err := freePort()
	if err != nil {
		return err
	}
	rep.mockPort = mockPort
	mockURL := fmt.Sprintf("http://127.0.0.1:%d", mockPort)
	mock, err := start("mock", filepath.Join(dir, "mockbank"), "-mock", "batchva", "-listen", fmt.Sprintf("127.0.0.1:%d", mockPort),
		"-pending-delay", "0", "-process-delay", "0")
	if err != nil {
		return err
	}
	defer mock.stop()
	if err := waitOK(ctx, mockURL+"/__admin/config", mock); err != nil {
		return err
	}
	proxyPort, err := freePort()
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	proxyURL := fmt.Sprintf("http://127.0.0.1:%d", proxyPort)
	px, err := start("proxy", self, "-proxy", "-target", mockURL, "-listen", fmt.Sprintf("127.0.0.1:%d", proxyPort))
	if err != nil {
		return err
	}
	defer px.stop()
	if err := waitOK(ctx, proxyURL+"/__admin/config", px); err != nil {
		return err
	}
	var gws []*gateway
	o.pprofAddr = map[string]string{}
	for _, store := range []string{"memory", "redis"} {
		if o.pprofDir != "" {
			port, err := freePort()
			if err != nil {
				return err
			}
			o.pprofAddr[store] = fmt.Sprintf("127.0.0.1:%d", port)
			os.Setenv("VAGATE_BENCH_PPROF", o.pprofAddr[store])
		}
		g, err := startGateway(ctx, dir, filepath.Join(dir, "gateway"), store, mockURL, o.redisURL)
		if err != nil {
			return err
		}
		defer g.proc.stop()
		os.Unsetenv("VAGATE_BENCH_PPROF")
		if err := g.seed(); err != nil {
			return err
		}
		gws = append(gws, g)
	}
	tok, err := mockToken(mockURL)
	if err != nil {
		return err
	}
	mockHdr := http.Header{"Authorization": {"Bearer " + tok}, "Accept": {"application/json"}}
	ref := gws[0].ref

	if line, err := idleRSS(gws[0], "before the loads"); err != nil {
		return err
	} else {
		fmt.Println(line)
		rep.rss = append(rep.rss, line)
	}
	tw0 := timeWait(mockPort)
	for _, conns := range []int{1, 32} {
		fmt.Printf("%d connection(s):\n", conns)
		add := func(group string, rs []result) {
			for _, r := range rs {
				r.group = group
				rep.results = append(rep.results, r)
			}
		}
		reads := []path{
			{name: "direct to the mock", pid: mock.cmd.Process.Pid, tr: static("GET", mockURL+"/v1/virtual-accounts/"+url.PathEscape(ref), mockHdr, nil)},
			{name: "bare proxy → mock", pid: px.cmd.Process.Pid, tr: static("GET", proxyURL+"/v1/virtual-accounts/"+url.PathEscape(ref), mockHdr, nil)},
		}
		var stores, creating, replays []path
		for _, g := range gws {
			pid := g.proc.cmd.Process.Pid
			reads = append(reads, path{name: "gateway refresh read (" + g.store + ")", pid: pid, twPort: mockPort,
				tr: static("GET", g.base+"/v1/virtual-accounts/"+g.account+"?refresh=true", g.header(), nil)})
			stores = append(stores, path{name: "gateway store read (" + g.store + ")", pid: pid,
				tr: static("GET", g.base+"/v1/virtual-accounts/"+g.account, g.header(), nil)})
			creating = append(creating, path{name: "gateway create, Prefer: wait (" + g.store + ")", pid: pid, tr: creates(g)})
			h := g.header()
			h.Set("Idempotency-Key", uuid.NewString())
			body := oneItem()
			if _, err := g.call("POST", "/v1/virtual-accounts", h, body, nil); err != nil {
				return err
			}
			replays = append(replays, path{name: "gateway idempotent replay (" + g.store + ")", pid: pid,
				tr: static("POST", g.base+"/v1/virtual-accounts", h, body)})
		}
		rs, tw := measureGroup(o, conns, reads...)
		add("read", rs)
		rep.timeWait = append(rep.timeWait, fmt.Sprintf("TIME-WAIT sockets to the mock's port after the gateways' refresh reads at %d connection(s): %d (%+d during them)",
			conns, timeWait(mockPort), tw))
		rs, _ = measureGroup(o, conns, stores...)
		add("store", rs)
		rs, _ = measureGroup(o, conns, creating...)
		add("create", rs)
		rs, _ = measureGroup(o, conns, replays...)
		add("replay", rs)
	}
	rep.timeWait = append(rep.timeWait, fmt.Sprintf("TIME-WAIT sockets to the mock's port at the end: %d (at the start of the loads: %d)", timeWait(mockPort), tw0))
	for _, g := range gws {
		d, how, err := g.batch()
		if err != nil {
			return err
		}
		line := fmt.Sprintf("1000-item native batch to completion (%s store): %s (%s)", g.store, d.Round(time.Millisecond), how)
		fmt.Println(line)
		rep.batches = append(rep.batches, line)
	}
	for _, g := range gws {
		line, err := idleRSS(g, "after the loads")
		if err != nil {
			return err
		}
		fmt.Println(line)
		rep.rss = append(rep.rss, line)
	}
	for _, l := range rep.timeWait {
		fmt.Println(l)
	}
	rep.ratios = ratios(rep.results)
	for _, l := range rep.ratios {
		fmt.Println(l)
	}
	rep.took, rep.loadAfter = time.Since(t0), loadAvg()
	fmt.Printf("took %s; load average before %s, after %s\n", rep.took.Round(time.Second), rep.loadBefore, rep.loadAfter)
	if o.out != "" {
		svg := strings.TrimSuffix(o.out, filepath.Ext(o.out)) + ".svg"
		if err := os.WriteFile(svg, chart(rep.results), 0o644); err != nil {
			return err
		}
		md := markdown(rep, filepath.Base(svg))
		if old, err := os.ReadFile(o.out); err == nil {
			if _, notes, ok := bytes.Cut(old, []byte(notesMarker)); ok {
				md = append(append(append(md, '\n'), notesMarker...), notes...)
			}
		}
		if err := os.WriteFile(o.out, md, 0o644); err != nil {
			return err
		}
		fmt.Println("wrote", o.out, "and", svg)
	}
	return nil
}

func find(rs []result, path string, conns int) (result, bool) {
	for _, r := range rs {
		if r.path == path && r.conns == conns {
			return r, true
		}
	}
	return result{}, false
}

// ratios compares the gateway's refresh reads with the bare proxy and the
// mock read directly, and reports the p50 the gateway adds at 1 connection.
func ratios(rs []result) []string {
	var out []string
	for _, conns := range []int{1, 32} {
		direct, _ := find(rs, "direct to the mock", conns)
		proxy, _ := find(rs, "bare proxy → mock", conns)
		for _, store := range []string{"memory", "redis"} {
			g, ok := find(rs, "gateway refresh read ("+store+")", conns)
			if !ok || proxy.rps == 0 || direct.rps == 0 {
				continue
			}
			out = append(out, fmt.Sprintf("refresh read (%s) at %d conn(s): gateway/bare-proxy %.2f×, gateway/direct %.2f× in requests/s; p50 %s over the bare proxy, %s over direct",
				store, conns, g.rps/proxy.rps, g.rps/direct.rps, (g.p50-proxy.p50).Round(time.Microsecond), (g.p50-direct.p50).Round(time.Microsecond)))
		}
	}
	return out
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// machine describes the machine the run measured.
func machine() []string {
	cpu := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	mem := "?"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		if f := strings.Fields(line); len(f) >= 2 {
			kb, _ := strconv.Atoi(f[1])
			mem = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		}
	}
	kernel := "?"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(b))
	}
	return []string{
		fmt.Sprintf("CPU: %s, %d logical CPUs (GOMAXPROCS %d)", cpu, runtime.NumCPU(), runtime.GOMAXPROCS(0)),
		"Memory: " + mem,
		fmt.Sprintf("OS: %s/%s, kernel %s; %s", runtime.GOOS, runtime.GOARCH, kernel, runtime.Version()),
	}
}

func markdown(rep *report, svg string) []byte {
	var b strings.Builder
	b.WriteString("# HTTP benchmarks\n\n")
	b.WriteString("Written by `make bench-http` (cmd/benchhttp): one run starts a batchva mock with no delays " +
		"(`mockbank -pending-delay 0 -process-delay 0`), a one-hop bare `httputil.ReverseProxy` to it (its transport keeps " +
		"64 idle connections per host), and the gateway against the mock with the memory store and with the Redis store " +
		"(each its own process, built from this tree, logging at info). Each path is driven by vegeta (as a library) " +
		"with 1 and with 32 workers, each on its own keep-alive connection, as fast as they go, for " +
		rep.durationPerPath.String() + " after a warm-up, in " + strconv.Itoa(rounds) + " turns taken in rotation with the other paths of " +
		"its group (reads, store reads, creates, replays), so that the rest of the machine's load weighs on each alike. " +
		"The load generator runs on the same machine as the servers.\n\n")
	b.WriteString("## Machine\n\n")
	for _, m := range rep.machine {
		b.WriteString("- " + m + "\n")
	}
	fmt.Fprintf(&b, "- Load average before the run: %s; after: %s (the machine is shared: other work ran at the same time)\n", rep.loadBefore, rep.loadAfter)
	fmt.Fprintf(&b, "- The run took %s\n\n", rep.took.Round(time.Second))
	b.WriteString("## Requests\n\n![requests per second](" + svg + ")\n\n")
	b.WriteString("CPU/request is the CPU time (user + system, from /proc/<pid>/stat) the process serving the path spent per " +
		"request: the mock for direct reads, the proxy alone for the proxy, the gateway alone for the gateway (the mock behind " +
		"either is not counted). On a shared machine it is steadier than requests/s. Load CPU/request is the load " +
		"generator's own, on the same cores.\n\n")
	b.WriteString("| path | conns | requests/s | p50 | p99 | CPU/request | load CPU/request | success | statuses |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rep.results {
		fmt.Fprintf(&b, "| %s | %d | %.0f | %s | %s | %d µs | %d µs | %.1f%% | %s |\n", r.path, r.conns, r.rps, ms(r.p50), ms(r.p99),
			r.cpuPerReq.Microseconds(), r.loadCPUPerReq.Microseconds(), 100*r.success, r.codes)
	}
	b.WriteString("\n## Ratios\n\n")
	for _, l := range rep.ratios {
		b.WriteString("- " + l + "\n")
	}
	b.WriteString("\n## Batch, connections, memory\n\n")
	b.WriteString("RSS is read before the loads and after them. After them the memory-store gateway also holds, in its own " +
		"memory, every account, job, event and idempotent answer the loads created; the Redis-store gateway holds them in Redis.\n\n")
	for _, group := range [][]string{rep.batches, rep.timeWait, rep.rss} {
		for _, l := range group {
			b.WriteString("- " + l + "\n")
		}
	}
	return []byte(b.String())
}

// notesMarker starts the hand-written part of the results file, which a
// run keeps as it was.
const notesMarker = "<!-- notes: kept by make bench-http -->"

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// chart draws requests/s per path as horizontal bars, one per connection
// count.
func chart(rs []result) []byte {
	const (
		left, barH, gap, width = 300, 14, 6, 520
	)
	maxRPS := 1.0
	for _, r := range rs {
		maxRPS = max(maxRPS, r.rps)
	}
	var paths []string
	seen := map[string]bool{}
	for _, r := range rs {
		if !seen[r.path] {
			seen[r.path] = true
			paths = append(paths, r.path)
		}
	}
	rowH := 2*barH + gap + 8
	h := 40 + len(paths)*rowH + 30
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", left+width+120, h)
	fmt.Fprintf(&b, `<text x="10" y="20" font-size="14" font-weight="bold">requests/s per path (light: 1 connection, dark: 32 connections)</text>`+"\n")
	for i, p := range paths {
		y := 40 + i*rowH
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", left-8, y+barH+4, escapeXML(p))
		for j, conns := range []int{1, 32} {
			r, ok := find(rs, p, conns)
			if !ok {
				continue
			}
			w := int(float64(width) * r.rps / maxRPS)
			color := "#9ecae1"
			if conns == 32 {
				color = "#3182bd"
			}
			by := y + j*barH
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"/>`+"\n", left, by, max(w, 1), barH-1, color)
			fmt.Fprintf(&b, `<text x="%d" y="%d">%.0f</text>`+"\n", left+max(w, 1)+4, by+barH-3, r.rps)
		}
	}
	b.WriteString("</svg>\n")
	return []byte(b.String())
}

func escapeXML(s string) string {
	var b bytes.Buffer
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
