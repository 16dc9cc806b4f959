package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runBinary runs the gateway binary with args and env (besides the test's
// own, VAGATE_CONFIG cleared) and returns its stdout, stderr and exit code.
func runBinary(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Env = append(append(os.Environ(), "VAGATE_CONFIG="), env...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("gateway %v did not finish: %s", args, errOut.String())
	}
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

// startupError is the error a gateway that failed to start logged (the err
// of its one ERROR line), or its whole output when it logged none.
func startupError(out string) string {
	for _, l := range strings.Split(out, "\n") {
		var rec struct{ Level, Err string }
		if json.Unmarshal([]byte(l), &rec) == nil && rec.Level == "ERROR" {
			return rec.Err
		}
	}
	return out
}

// Asking for help is a success: usage on stdout, exit 0.
func TestHelpExitsZero(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"serve", "-h"}, {"token", "-h"}, {"help"}} {
		out, errOut, code := runBinary(t, nil, args...)
		if code != 0 || !strings.Contains(out, "gateway token -tenant T") {
			t.Errorf("gateway %v: exit %d, stdout %q, stderr %q; want exit 0 and the usage on stdout", args, code, out, errOut)
		}
	}
	if _, errOut, code := runBinary(t, nil, "-no-such-flag"); code == 0 || !strings.Contains(errOut, "no-such-flag") {
		t.Errorf("a bad flag: exit %d, stderr %q; want a failure naming it", code, errOut)
	}
}

// gateway token -config reads the auth section only: the variables the
// rest of the file needs (Redis, provider secrets) need not be set.
func TestTokenConfigNeedsOnlyTheAuthSection(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "vagate.yaml")
	doc := `auth:
  secret: ${TEST_TOKEN_SECRET}
store:
  driver: redis
  redisUrl: ${TEST_NEVER_SET_REDIS_URL}
providers:
  - name: batchva
    style: batchva
    config:
      baseUrl: http://127.0.0.1:1
      clientSecret: ${TEST_NEVER_SET_PROVIDER_SECRET}
`
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	secret := strings.Repeat("z", 40)
	out, errOut, code := runBinary(t, []string{"TEST_TOKEN_SECRET=" + secret}, "token", "-config", cfg, "-tenant", "t1")
	tok := strings.TrimSpace(out)
	if code != 0 || strings.Count(tok, ".") != 2 {
		t.Fatalf("gateway token -config: exit %d, stdout %q, stderr %q; want a token", code, out, errOut)
	}
	mintedMu.Lock()
	minted = append(minted, tok)
	mintedMu.Unlock()
	// The token verifies at a gateway using the same secret.
	g := startGateway(t)
	other := mintToken(t, "t1", "")
	if r := g.do(t, "GET", "/v1/providers", tok, ""); r.status != 401 {
		t.Errorf("a token of another secret: %d, want 401", r.status)
	}
	if r := g.do(t, "GET", "/v1/providers", other, ""); r.status != 200 {
		t.Errorf("a development token: %d, want 200", r.status)
	}
	// The auth section itself is still judged.
	os.WriteFile(cfg, []byte("auth:\n  secret: short\n"), 0o600)
	if _, errOut, code := runBinary(t, nil, "token", "-config", cfg, "-tenant", "t1"); code == 0 || !strings.Contains(errOut, "auth.secret") {
		t.Errorf("a short secret: exit %d, stderr %q; want a failure naming auth.secret", code, errOut)
	}
}

// The start-up line names the bound address, whatever publicUrl says.
func TestListeningLineNamesTheBoundAddress(t *testing.T) {
	g := startGateway(t)
	for _, l := range strings.Split(g.logs.all(), "\n") {
		if !strings.Contains(l, `"msg":"gateway listening"`) {
			continue
		}
		var line struct{ Addr, URL, PublicURL string }
		json.Unmarshal([]byte(l), &line)
		host, port, err := net.SplitHostPort(line.Addr)
		if err != nil || host != "127.0.0.1" || port == "0" || line.URL != "http://"+line.Addr || line.PublicURL == "" {
			t.Errorf("listening line %s: want the bound address, its URL and the public URL", l)
		}
		return
	}
	t.Fatalf("no listening line:\n%s", g.logs.all())
}

// The whole config file is judged before Redis is dialled: a bad key in a
// provider block is reported with its line in the file even though nothing
// listens at the Redis URL; and an unreachable Redis is one structured
// error line, with no line of go-redis's own.
func TestStartupErrorsAreClearAndStructured(t *testing.T) {
	dir := t.TempDir()
	write := func(name, doc string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	base := `listen: 127.0.0.1:0
auth:
  secret: 0123456789abcdef0123456789abcdef-e2e
store:
  driver: redis
  redisUrl: redis://127.0.0.1:1/0
providers:
  - name: batchva
    style: batchva
    config:
      # the mock's address

      baseUrl: http://127.0.0.1:9
      clientId: vagate
`
	badBlock := write("bad-block.yaml", base+"      clientSecrett: x\n")
	_, errOut, code := runBinary(t, nil, "serve", "-config", badBlock)
	if code == 0 || !strings.Contains(errOut, "clientSecrett") || !strings.Contains(errOut, "line 15") ||
		!strings.Contains(errOut, "bad-block.yaml") || strings.Contains(errOut, "redis") {
		t.Errorf("a bad provider key with Redis down: exit %d, stderr:\n%s\nwant the key, its file and line 15, and nothing about Redis", code, errOut)
	}

	noRedis := write("no-redis.yaml", base+"      clientSecret: x\n")
	_, errOut, code = runBinary(t, nil, "serve", "-config", noRedis)
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	var errorLines []string
	for _, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Errorf("a line that is not JSON: %q", l)
			continue
		}
		if rec["level"] == "ERROR" {
			errorLines = append(errorLines, l)
		}
	}
	if code == 0 || len(errorLines) != 1 || !strings.Contains(errorLines[0], "unreachable") || !strings.Contains(errorLines[0], "127.0.0.1:1") {
		t.Errorf("Redis down: exit %d, stderr:\n%s\nwant exactly one JSON error line saying Redis is unreachable", code, errOut)
	}
}
