package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// cli runs the gateway binary's ops command against base with tok and
// returns its stdout, stderr and exit code.
func cli(t *testing.T, base, tok string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Env = append(os.Environ(), "VAGATE_CONFIG=", "VAGATE_URL="+base, "VAGATE_TOKEN="+tok)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// The ops CLI over a running gateway: each command's table, its -o json,
// and exit codes scripts can rely on (0 done, 3 refused, 4 a watched job
// that finished with errors).
func TestOpsCLI(t *testing.T) {
	g := startGateway(t)
	tok := mintToken(t, "cli", "")
	r := g.do(t, "POST", "/v1/virtual-accounts", tok,
		`{"items":[{"currency":"USD","accountHolderName":"Jane Smith","accountName":"Jane"},{"currency":"USD","accountHolderName":"John Smith","accountName":"John"}]}`,
		"Idempotency-Key", uuid.NewString())
	want(t, r, 202, "create")
	okJob, _ := r.json(t)["jobId"].(string)

	// A job whose items the provider refuses finishes CompletedWithErrors.
	adminDo(t, g.mocks["masterfiat"], "POST", "/__admin/faults", `{"action":"error","status":400,"method":"POST"}`, nil)
	r = g.do(t, "POST", "/v1/virtual-accounts", tok,
		`{"items":[{"provider":"masterfiat","currency":"GBP","accountHolderName":"Jane Smith","accountName":"Jane","clientReference":"CLI-BAD-1"}]}`,
		"Idempotency-Key", uuid.NewString())
	want(t, r, 202, "create a failing job")
	badJob, _ := r.json(t)["jobId"].(string)

	out, errOut, code := cli(t, g.base, tok, "jobs", "watch", okJob)
	if code != 0 || !strings.Contains(out, "100%") || !strings.Contains(out, "Completed") {
		t.Fatalf("jobs watch on a good job: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = cli(t, g.base, tok, "jobs", "watch", badJob)
	if code != 4 || !strings.Contains(errOut, "CompletedWithErrors") {
		t.Fatalf("jobs watch on a failing job: exit %d, want 4\n%s%s", code, out, errOut)
	}
	adminDo(t, g.mocks["masterfiat"], "DELETE", "/__admin/faults", "", nil)

	res := g.do(t, "GET", "/v1/jobs/"+okJob+"/results", tok, "")
	var results struct {
		Items []struct{ Account struct{ ID string } }
	}
	json.Unmarshal(res.body, &results)
	if len(results.Items) != 2 {
		t.Fatalf("results: %s", res.body)
	}
	acct := results.Items[0].Account.ID

	tests := []struct {
		name     string
		args     []string
		tok      string
		code     int
		contains []string
	}{
		{"providers", []string{"providers"}, tok, 0, []string{"NAME", "batchva", "masterfiat", "parentprimary", "subaccount", "closed"}},
		{"jobs get", []string{"jobs", "get", okJob}, tok, 0, []string{okJob, "Completed", "2/2"}},
		{"jobs results", []string{"jobs", "results", okJob}, tok, 0, []string{"OUTCOME", "created", acct}},
		{"jobs cancel of a finished job is refused", []string{"jobs", "cancel", okJob}, tok, 3, nil},
		{"accounts get", []string{"accounts", "get", acct}, tok, 0, []string{acct, "USD"}},
		{"accounts list", []string{"accounts", "list", "-currency", "USD"}, tok, 0, []string{acct}},
		{"pool ls", []string{"pool", "ls"}, tok, 0, []string{"AVAILABLE"}},
		{"pool replenish of no pool is refused", []string{"pool", "replenish", "-currency", "USD"}, tok, 3, nil},
		{"events tail", []string{"events", "tail"}, tok, 0, []string{"job.completed", "virtual_account.created"}},
		{"webhooks ls", []string{"webhooks", "ls"}, tok, 0, []string{"URL"}},
		{"webhooks redeliver of nothing is refused", []string{"webhooks", "redeliver", "we_nope", "evt_nope"}, tok, 3, nil},
		{"a bad token is refused", []string{"providers"}, "nope", 3, nil},
		{"bad usage", []string{"jobs", "get"}, tok, 1, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := cli(t, g.base, tc.tok, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.code, out, errOut)
			}
			for _, w := range tc.contains {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if code == 3 && !strings.Contains(errOut, "the gateway answered") {
				t.Errorf("a refusal does not say what the gateway answered: %s", errOut)
			}
			if code != 0 {
				return
			}
			// -o json is the gateway's JSON, for scripts.
			if tc.args[0] == "events" {
				return // one JSON event per line
			}
			jout, errOut, code := cli(t, g.base, tc.tok, append(tc.args, "-o", "json")...)
			if code != 0 || !json.Valid([]byte(jout)) {
				t.Fatalf("-o json: exit %d, valid %v\n%s%s", code, json.Valid([]byte(jout)), jout, errOut)
			}
		})
	}
	out, _, _ = cli(t, g.base, tok, "providers", "-o", "json")
	var provs struct{ Items []struct{ Name string } }
	if json.Unmarshal([]byte(out), &provs); len(provs.Items) != 4 {
		t.Errorf("providers -o json: %s", out)
	}
}

// config check validates a file without starting: every example passes
// (with its environment set), a broken one fails naming the key.
func TestConfigCheck(t *testing.T) {
	env := []string{"VAGATE_JWT_SECRET=" + strings.Repeat("s", 40), "REDIS_URL=redis://127.0.0.1:6379/0", "VAGATE_METRICS_TOKEN=metrics-token",
		"BCB_CLIENT_ID=id", "BCB_CLIENT_SECRET=" + strings.Repeat("c", 32), "BCB_SIGNING_SECRET=" + strings.Repeat("k", 32),
		"BATCHVA_CLIENT_SECRET=" + strings.Repeat("c", 32), "BATCHVA_SIGNING_SECRET=" + strings.Repeat("k", 32),
		"SUBACCOUNT_API_KEY=" + strings.Repeat("a", 32), "PARENTPRIMARY_API_TOKEN=" + strings.Repeat("t", 32),
		"PARENTPRIMARY_SIGNING_SECRET=" + strings.Repeat("p", 32), "MASTERFIAT_CLIENT_SECRET=" + strings.Repeat("m", 32),
		"REDIS_PASSWORD=" + strings.Repeat("r", 32), "SENTINEL_PASSWORD=" + strings.Repeat("q", 32), "SETTLE_API_KEY=" + strings.Repeat("s", 32)}
	run := func(file string) (string, int) {
		cmd := exec.Command(binPath, "config", "check", file)
		cmd.Env = append(append(os.Environ(), "VAGATE_CONFIG="), env...)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return string(out), ee.ExitCode()
		}
		return string(out), 0
	}
	examples, _ := filepath.Glob("../../config/*.yaml")
	if len(examples) < 2 {
		t.Fatalf("examples: %v", examples)
	}
	for _, f := range examples {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if out, code := run(f); code != 0 || !strings.Contains(out, "valid") {
				t.Fatalf("exit %d: %s", code, out)
			}
		})
	}
	example, err := os.ReadFile("../../config/vagate.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	broken := []struct{ name, from, to, key string }{
		{"bad trace URL", `traceUrlTemplate: "http://localhost:16686/trace/{traceId}"`, `traceUrlTemplate: "jaeger/trace"`, "telemetry.traceUrlTemplate"},
		{"bad listen", "listen: 0.0.0.0:8080", "listen: nowhere", "listen"},
		{"unknown key", "log:\n  level: info", "log:\n  level: info\n  colour: true", "colour"},
	}
	for _, b := range broken {
		t.Run(b.name, func(t *testing.T) {
			if !bytes.Contains(example, []byte(b.from)) {
				t.Fatalf("the example lacks %q", b.from)
			}
			f := filepath.Join(t.TempDir(), "broken.yaml")
			os.WriteFile(f, bytes.Replace(example, []byte(b.from), []byte(b.to), 1), 0o600)
			out, code := run(f)
			if code != 1 || !strings.Contains(out, b.key) {
				t.Fatalf("exit %d, want 1 naming %q: %s", code, b.key, out)
			}
		})
	}
}
