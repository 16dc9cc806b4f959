package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vagate/vagate/config"
	"github.com/vagate/vagate/mocks/batchvamock"
	"github.com/vagate/vagate/mocks/masterfiatmock"
	"github.com/vagate/vagate/mocks/parentprimarymock"
	"github.com/vagate/vagate/mocks/subaccountmock"
)

// binPath is the gateway binary the end-to-end tests start.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vagate-e2e")
	if err != nil {
		panic(err)
	}
	binPath = filepath.Join(dir, "gateway")
	build := exec.Command("go", "build", "-race", "-o", binPath, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the gateway:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// logBuffer collects the process's stderr and signals lines as they arrive.
type logBuffer struct {
	mu    sync.Mutex
	lines []string
	ch    chan string
}

func (b *logBuffer) all() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.lines, "\n")
}

type gw struct {
	cmd *exec.Cmd
	// killed is set when a test kills the process on purpose.
	killed bool
	base   string
	// mock is the batchva mock's URL; mocks holds every embedded mock's URL by style.
	mock   string
	mocks  map[string]string
	logs   *logBuffer
	stdout *bytes.Buffer
}

var mockField = regexp.MustCompile(`"mock":"([^"]+)"`)

var urlField = regexp.MustCompile(`"url":"([^"]+)"`)

// startGateway runs the real binary on loopback ports chosen by the system.
func startGateway(t *testing.T, args ...string) *gw {
	t.Helper()
	return startBinary(t, binPath, args...)
}

// startBinary is startGateway for the gateway binary at bin.
func startBinary(t *testing.T, bin string, args ...string) *gw {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "-listen", "127.0.0.1:0", "-mock-port", "0"}, args...)...)
	cmd.Stdin = nil
	cmd.Env = append(os.Environ(), "VAGATE_CONFIG=")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	g := &gw{cmd: cmd, logs: &logBuffer{ch: make(chan string, 1024)}, stdout: &bytes.Buffer{}, mocks: map[string]string{}}
	cmd.Stdout = &syncWriter{w: g.stdout}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			g.logs.mu.Lock()
			g.logs.lines = append(g.logs.lines, sc.Text())
			g.logs.mu.Unlock()
			select {
			case g.logs.ch <- sc.Text():
			default:
			}
		}
		close(g.logs.ch)
	}()
	t.Cleanup(func() {
		// Enforced for every gateway the tests run, whatever they did.
		defer noSecretsIn(t, g.logs)
		if g.killed {
			return
		}
		cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("gateway exited with %v; logs:\n%s", err, g.logs.all())
			}
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			t.Errorf("gateway did not stop within 20s of SIGINT")
		}
	})
	deadline := time.After(30 * time.Second)
	for g.base == "" {
		select {
		case line, ok := <-g.logs.ch:
			if !ok {
				t.Fatalf("gateway exited early:\n%s", g.logs.all())
			}
			m := urlField.FindStringSubmatch(line)
			switch {
			case m != nil && strings.Contains(line, "embedded mock listening"):
				if name := mockField.FindStringSubmatch(line); name != nil {
					g.mocks[name[1]] = m[1]
				}
				g.mock = g.mocks["batchva"]
			case m != nil && strings.Contains(line, "gateway listening"):
				g.base = m[1]
			}
		case <-deadline:
			t.Fatalf("gateway did not start within 30s:\n%s", g.logs.all())
		}
	}
	return g
}

// out is what the process has printed on stdout so far.
func (g *gw) out() string {
	w := g.cmd.Stdout.(*syncWriter)
	w.mu.Lock()
	defer w.mu.Unlock()
	return g.stdout.String()
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// mintToken mints a token with the binary's own token command.
func mintToken(t *testing.T, tenant, permissions string, configArgs ...string) string {
	t.Helper()
	args := append([]string{"token", "-tenant", tenant}, configArgs...)
	if permissions != "" {
		args = append(args, "-permissions", permissions)
	}
	cmd := exec.Command(binPath, args...)
	cmd.Env = append(os.Environ(), "VAGATE_CONFIG=")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("gateway token: %v", err)
	}
	tok := strings.TrimSpace(string(out))
	mintedMu.Lock()
	minted = append(minted, tok)
	mintedMu.Unlock()
	return tok
}

// minted holds every token the tests minted, to look for in logs.
var (
	mintedMu sync.Mutex
	minted   []string
)

// noSecretsIn fails the test when a log line holds a secret.
func noSecretsIn(t *testing.T, logs *logBuffer) {
	for _, l := range strings.Split(logs.all(), "\n") {
		for _, secret := range secrets() {
			if secret != "" && strings.Contains(l, secret) {
				t.Errorf("a log line contains a secret, token or date of birth (%.6s...): %.200s", secret, l)
			}
		}
	}
}

// secrets are what no gateway log line may contain: every token minted,
// every bundled mock's default credentials, the development signing secret,
// and the dates of birth the tests send.
func secrets() []string {
	mintedMu.Lock()
	defer mintedMu.Unlock()
	s := append([]string{
		string(config.DevSecret),
		batchvamock.DefaultClient().Secret, batchvamock.DefaultClient().SigningSecret,
		masterfiatmock.DefaultClient().Secret,
		parentprimarymock.DefaultPartner().APIToken, parentprimarymock.DefaultPartner().SigningSecret,
		subaccountmock.DefaultAPIKey,
		"1985-05-20",
	}, minted...)
	return s
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r *reply) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("not JSON (%d): %s", r.status, r.body)
	}
	return m
}

// kill stops the process at once (SIGKILL), as a crash would.
func (g *gw) kill(t *testing.T) {
	t.Helper()
	g.killed = true
	if err := g.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	g.cmd.Wait()
}

// term sends SIGTERM, as a deploy does, waits for the process to exit,
// fails the test unless it exits 0, and returns how long it took.
func (g *gw) term(t *testing.T) time.Duration {
	t.Helper()
	g.killed = true // stopped here, not by the cleanup
	start := time.Now()
	if err := g.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- g.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("gateway exited with %v after SIGTERM; logs:\n%s", err, g.logs.all())
		}
	case <-time.After(60 * time.Second):
		g.cmd.Process.Kill()
		t.Fatalf("gateway did not stop within 60s of SIGTERM")
	}
	return time.Since(start)
}

func (g *gw) do(t *testing.T, method, path, tok, body string, hdr ...string) *reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, g.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return &reply{status: resp.StatusCode, header: resp.Header, body: b}
}

func want(t *testing.T, r *reply, status int, what string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d: %s", what, r.status, status, r.body)
	}
}

// mockCount is how many accounts the embedded mock holds (for a reference, if given).
func (g *gw) mockCount(t *testing.T, ref string) int {
	t.Helper()
	url := g.mock + "/__admin/accounts"
	if ref != "" {
		url += "?clientReference=" + ref
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Count            int  `json:"count"`
		CountByReference *int `json:"countByReference"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	if ref != "" && out.CountByReference != nil {
		return *out.CountByReference
	}
	return out.Count
}

func (g *gw) waitJob(t *testing.T, tok, id string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := g.do(t, "GET", "/v1/jobs/"+id, tok, "")
		want(t, r, 200, "get job")
		j := r.json(t)
		switch j["status"] {
		case "Completed", "CompletedWithErrors", "Cancelled":
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %v after 20s", id, j["status"])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The walk of a platform's first day, through the real binary.
func TestEndToEnd(t *testing.T) {
	t.Setenv("VAGATE_LOG_LEVEL", "debug") // the most the gateway logs: still no secret
	g := startGateway(t)
	dev := mintToken(t, "dev", "")
	other := mintToken(t, "other", "")
	readOnly := mintToken(t, "dev", "read-virtual-account")

	// A batch of 3 named and 2 unallocated accounts.
	create := `{"items":[
		{"currency":"USD","accountHolderName":"Test Company Ltd","accountName":"Test Virtual Account 001","clientReference":"E2E-1"},
		{"currency":"USD","accountHolderName":"Test Company Ltd","accountName":"Test Virtual Account 002","clientReference":"E2E-2"},
		{"currency":"EUR","accountHolderName":"Jane Smith","accountName":"Jane Smith","clientReference":"E2E-3","dob":"1985-05-20"},
		{"currency":"USD","unallocated":true,"clientReference":"E2E-U1"},
		{"currency":"USD","unallocated":true,"clientReference":"E2E-U2"}]}`
	key := uuid.NewString()
	r := g.do(t, "POST", "/v1/virtual-accounts", dev, create, "Idempotency-Key", key)
	want(t, r, 202, "create")
	acc := r.json(t)
	jobID, _ := acc["jobId"].(string)
	if acc["status"] != "Pending" || acc["statusUrl"] != g.base+"/v1/jobs/"+jobID || acc["resultUrl"] != g.base+"/v1/jobs/"+jobID+"/results" {
		t.Fatalf("202 body = %s", r.body)
	}
	job := g.waitJob(t, dev, jobID)
	if job["status"] != "Completed" || job["succeeded"] != 5.0 {
		t.Fatalf("job = %v", job)
	}

	// Results as JSON and as CSV.
	r = g.do(t, "GET", "/v1/jobs/"+jobID+"/results", dev, "")
	want(t, r, 200, "results")
	var results struct {
		Items []struct {
			Index           int    `json:"index"`
			ClientReference string `json:"clientReference"`
			Outcome         string `json:"outcome"`
			Account         struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			} `json:"account"`
		} `json:"items"`
	}
	json.Unmarshal(r.body, &results)
	if len(results.Items) != 5 {
		t.Fatalf("results: %s", r.body)
	}
	for i, it := range results.Items {
		wantStatus := "ACTIVE"
		if i >= 3 {
			wantStatus = "UNALLOCATED"
		}
		if it.Index != i || it.Outcome != "created" || it.Account.Status != wantStatus || it.Account.ID == "" {
			t.Errorf("result %d = %+v", i, it)
		}
		if n := g.mockCount(t, it.ClientReference); n != 1 {
			t.Errorf("mock holds %d accounts for %s, want 1", n, it.ClientReference)
		}
	}
	r = g.do(t, "GET", "/v1/jobs/"+jobID+"/results", dev, "", "Accept", "text/csv")
	want(t, r, 200, "results csv")
	rows, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
	if err != nil || len(rows) != 6 || rows[0][0] != "index" || rows[4][1] != "E2E-U1" || rows[4][3] != "created" {
		t.Fatalf("csv = %q, %v", r.body, err)
	}
	// The provider's columns are there too: bic, names, balance, category, its job.
	col := map[string]int{}
	for i, c := range rows[0] {
		col[c] = i
	}
	if row := rows[1]; row[col["bic"]] != "BPBKBMHMXXX" || row[col["accountName"]] == "" || row[col["balanceAvailable"]] != "0" ||
		row[col["balanceCurrency"]] != "USD" || row[col["category"]] != "CMS Sub Acct" || row[col["providerJobId"]] == "" {
		t.Errorf("csv row 1 = %q (columns %q)", row, rows[0])
	}
	if csvDoc := g.do(t, "GET", "/v1/jobs/"+jobID+"/results.csv", dev, ""); csvDoc.status != 200 || !bytes.Equal(csvDoc.body, r.body) ||
		!strings.HasPrefix(csvDoc.header.Get("Content-Type"), "text/csv") {
		t.Errorf("results.csv = %d %s %q, want the CSV of Accept: text/csv", csvDoc.status, csvDoc.header.Get("Content-Type"), csvDoc.body)
	}

	// Allocate an unallocated account, then try to rename it.
	un := results.Items[3].Account.ID
	r = g.do(t, "PATCH", "/v1/virtual-accounts/"+un, dev, `{"accountHolderName":"Jane Smith","accountName":"Jane Smith","dob":"1985-05-20","clientReference":"USER_ID_98765"}`,
		"Idempotency-Key", uuid.NewString())
	want(t, r, 200, "allocate")
	if a := r.json(t); a["status"] != "ACTIVE" || a["accountName"] != "Jane Smith" || a["allocatedAt"] == nil {
		t.Fatalf("allocated = %s", r.body)
	}
	r = g.do(t, "PATCH", "/v1/virtual-accounts/"+un, dev, `{"accountName":"John Doe"}`)
	want(t, r, 409, "rename after allocation")
	if p := r.json(t); p["code"] != "field_immutable" || !strings.Contains(string(r.body), "/accountName") {
		t.Errorf("problem = %s", r.body)
	}
	r = g.do(t, "PATCH", "/v1/virtual-accounts/"+un, dev, `{"clientReference":"USER_ID_11111"}`)
	want(t, r, 200, "change clientReference")
	if a := r.json(t); a["clientReference"] != "USER_ID_11111" || a["accountName"] != "Jane Smith" {
		t.Errorf("after reference change: %s", r.body)
	}

	// List with a filter, two pages.
	r = g.do(t, "GET", "/v1/virtual-accounts?currency=USD&limit=2", dev, "")
	want(t, r, 200, "list page 1")
	var page struct {
		Items []struct {
			ID       string `json:"id"`
			Currency string `json:"currency"`
		} `json:"items"`
		NextCursor string `json:"nextCursor"`
	}
	json.Unmarshal(r.body, &page)
	if len(page.Items) != 2 || page.NextCursor == "" {
		t.Fatalf("page 1 = %s", r.body)
	}
	first := slices.Clone(page.Items)
	r = g.do(t, "GET", "/v1/virtual-accounts?currency=USD&limit=2&cursor="+page.NextCursor, dev, "")
	want(t, r, 200, "list page 2")
	page.Items, page.NextCursor = nil, ""
	json.Unmarshal(r.body, &page)
	if len(page.Items) != 2 || page.NextCursor != "" || page.Items[0].ID == first[0].ID || page.Items[0].ID == first[1].ID {
		t.Fatalf("page 2 = %s (page 1 %v)", r.body, first)
	}
	for _, it := range append(first, page.Items...) {
		if it.Currency != "USD" {
			t.Errorf("filter let %s through", it.Currency)
		}
	}

	// Replays: same key and body → the stored answer; another body → 422.
	before := g.mockCount(t, "")
	r = g.do(t, "POST", "/v1/virtual-accounts", dev, create, "Idempotency-Key", key)
	want(t, r, 202, "replay")
	if r.header.Get("Idempotent-Replayed") != "true" || r.json(t)["jobId"] != jobID {
		t.Errorf("replay: %v %s", r.header, r.body)
	}
	r = g.do(t, "POST", "/v1/virtual-accounts", dev, `{"items":[{"currency":"USD","unallocated":true}]}`, "Idempotency-Key", key)
	want(t, r, 422, "key reused with another body")
	if r.json(t)["code"] != "idempotency_key_reused" {
		t.Errorf("problem = %s", r.body)
	}

	// 50 concurrent identical requests: exactly one job.
	key50 := uuid.NewString()
	body50 := `{"items":[{"currency":"USD","unallocated":true,"clientReference":"E2E-50"}]}`
	var wg sync.WaitGroup
	var mu sync.Mutex
	jobs, statuses := map[string]bool{}, map[int]int{}
	for range 50 {
		wg.Go(func() {
			r := g.do(t, "POST", "/v1/virtual-accounts", dev, body50, "Idempotency-Key", key50)
			mu.Lock()
			defer mu.Unlock()
			statuses[r.status]++
			if r.status == 202 {
				var a struct{ JobID string }
				json.Unmarshal(r.body, &a)
				jobs[a.JobID] = true
			}
		})
	}
	wg.Wait()
	if len(jobs) != 1 || statuses[202]+statuses[409] != 50 {
		t.Fatalf("50 concurrent identical creates: %d jobs, statuses %v; want one job, the rest 202 replays or 409", len(jobs), statuses)
	}
	for id := range jobs {
		g.waitJob(t, dev, id)
	}
	if n := g.mockCount(t, "E2E-50"); n != 1 {
		t.Errorf("mock holds %d accounts for E2E-50, want 1", n)
	}
	if n := g.mockCount(t, ""); n != before+1 {
		t.Errorf("mock holds %d accounts, want %d: a replay created something", n, before+1)
	}

	// Tenancy and permissions.
	r = g.do(t, "GET", "/v1/virtual-accounts/"+un, other, "")
	want(t, r, 404, "another tenant's account")
	if bytes.Contains(r.body, []byte("Jane")) {
		t.Errorf("404 leaks data: %s", r.body)
	}
	want(t, g.do(t, "GET", "/v1/jobs/"+jobID, other, ""), 404, "another tenant's job")
	r = g.do(t, "POST", "/v1/virtual-accounts", readOnly, body50)
	want(t, r, 403, "create without permission")
	if !strings.Contains(r.json(t)["detail"].(string), "create-virtual-account") {
		t.Errorf("403 does not name the permission: %s", r.body)
	}
	want(t, g.do(t, "GET", "/v1/virtual-accounts/"+un, "", ""), 401, "no token")
	want(t, g.do(t, "GET", "/v1/virtual-accounts/"+un, readOnly, ""), 200, "read with read permission")

	// Secrets never reach the logs, and every request line has its trace id.
	logs := g.logs.all()
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, `"msg":"request"`) && !strings.Contains(l, `"trace_id"`) {
			t.Errorf("request log line without trace_id: %s", l)
		}
	}
	for _, secret := range []string{dev, other, "vagate-secret", "vagate-signing-secret", "1985-05-20"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain a secret or personal data (%.12s...)", secret)
		}
	}
}

// Unknown routes and methods answer problems; health, readiness and the
// document are served without a token.
func TestOperationalRoutes(t *testing.T) {
	g := startGateway(t)
	dev := mintToken(t, "dev", "")
	for _, tc := range []struct {
		method, path, tok string
		status            int
		ctype             string
	}{
		{"GET", "/healthz", "", 200, "application/json"},
		{"GET", "/readyz", "", 200, "application/json"},
		{"GET", "/openapi.yaml", "", 200, "application/yaml"},
		{"GET", "/nope", dev, 404, "application/problem+json"},
		{"PUT", "/v1/jobs/x", dev, 405, "application/problem+json"},
		{"GET", "/v1/pool", dev, 200, "application/json"},
		{"POST", "/v1/virtual-accounts/x/block", dev, 404, "application/problem+json"},
		{"GET", "/v1/providers", "", 401, "application/problem+json"},
		{"POST", "/v1/providers/batchva/webhooks", "", 401, "application/problem+json"},
	} {
		r := g.do(t, tc.method, tc.path, tc.tok, "")
		if r.status != tc.status || !strings.HasPrefix(r.header.Get("Content-Type"), tc.ctype) {
			t.Errorf("%s %s = %d %s, want %d %s: %s", tc.method, tc.path, r.status, r.header.Get("Content-Type"), tc.status, tc.ctype, r.body)
		}
		if strings.HasPrefix(tc.ctype, "application/problem") && !bytes.Contains(r.body, []byte(`"traceId"`)) {
			t.Errorf("%s %s: problem without traceId: %s", tc.method, tc.path, r.body)
		}
	}
	r := g.do(t, "GET", "/v1/providers", dev, "")
	want(t, r, 200, "providers")
	if !bytes.Contains(r.body, []byte(`"name":"batchva"`)) || !bytes.Contains(r.body, []byte(`"breakerState"`)) {
		t.Errorf("providers = %s", r.body)
	}
}

// The README's tour runs as written against the real binary, twice in a
// row against one gateway, with the two lines the banner prints for it.
func TestReadmeTour(t *testing.T) {
	for _, tool := range []string{"curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the README tour needs %s: %v", tool, err)
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(readme)
	begin, end := strings.Index(s, "<!-- tour:begin -->"), strings.Index(s, "<!-- tour:end -->")
	if begin < 0 || end < begin {
		t.Fatal("README has no tour markers")
	}
	block := s[begin:end]
	block = block[strings.Index(block, "```sh\n")+len("```sh\n") : strings.LastIndex(block, "```")]
	g := startGateway(t)

	// The banner's two export lines, as the README has the reader paste them.
	var exports []string
	for deadline := time.Now().Add(10 * time.Second); len(exports) < 2; time.Sleep(50 * time.Millisecond) {
		exports = exports[:0]
		for _, l := range strings.Split(g.out(), "\n") {
			if l = strings.TrimSpace(l); strings.HasPrefix(l, "export BASE=") || strings.HasPrefix(l, "export TOKEN=") {
				exports = append(exports, l)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the banner does not print export BASE= and export TOKEN=:\n%s", g.out())
		}
	}
	if exports[0] != "export BASE="+g.base {
		t.Errorf("banner prints %q, want export BASE=%s", exports[0], g.base)
	}
	tok := strings.TrimPrefix(exports[1], "export TOKEN=")
	mintedMu.Lock()
	minted = append(minted, tok)
	mintedMu.Unlock()

	var claimed []string
	for run := 1; run <= 2; run++ {
		cmd := exec.Command("bash", "-e", "-o", "pipefail", "-c", strings.Join(exports, "\n")+"\n"+block)
		cmd.Env = append(os.Environ(), "BASE=", "TOKEN=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("run %d: tour failed: %v\n%s", run, err, out)
		}
		for _, want := range []string{`"status":"Completed"`, "idempotent-replayed: true", "index,clientReference,provider,outcome",
			`"status":"ACTIVE"`, `"allocatedAt"`, "field_immutable", "HTTP 409", `"clientReference":"USER_ID_11111"`, "HTTP 400",
			`"pointer":"/items/0/currency"`, `"pointer":"/items/0/accountHolderName"`, `"pointer":"/items/0/clientReference"`,
			`"name":"batchva"`, `"type":"pool.low"`, `"type":"pool.replenished"`, `"available":3,"claiming":0`} {
			if !strings.Contains(strings.ToLower(string(out)), strings.ToLower(want)) {
				t.Errorf("run %d: tour output lacks %s:\n%s", run, want, out)
			}
		}
		// Three claims: the first two with one key (the same account), the third another.
		var ids []string
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(l, `{"claimed":`) && strings.Contains(l, `"accountHolderName":"Ada Lovelace"`) && strings.Contains(l, `"status":"ACTIVE"`) {
				ids = append(ids, l)
			}
		}
		if len(ids) != 3 || ids[0] != ids[1] || ids[1] == ids[2] {
			t.Errorf("run %d: claims %q, want three ACTIVE, the first two the same account", run, ids)
		}
		claimed = append(claimed, ids...)
	}
	if len(claimed) == 6 && (claimed[0] == claimed[3] || claimed[2] == claimed[5]) {
		t.Errorf("the second run's claims %q repeat the first run's", claimed)
	}
}

// After traffic, /metrics exposes request, provider, breaker and job metrics
// with their labels; every request's log line carries its trace id.
func TestMetricsAndLogCorrelation(t *testing.T) {
	g := startGateway(t)
	dev := mintToken(t, "dev", "")
	parent := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	r := g.do(t, "POST", "/v1/virtual-accounts", dev, `{"items":[{"currency":"USD","accountHolderName":"M","accountName":"M"}]}`,
		"Prefer", "wait=10", "traceparent", parent)
	want(t, r, 200, "create")
	want(t, g.do(t, "GET", "/v1/jobs/nope", dev, ""), 404, "missing job")
	r = g.do(t, "GET", "/metrics", "", "")
	want(t, r, 200, "metrics")
	m := string(r.body)
	for _, line := range []string{
		`vagate_http_requests_total{http_request_method="POST",http_response_status_code="200",http_route="/v1/virtual-accounts"`,
		`vagate_http_requests_total{http_request_method="GET",http_response_status_code="404",http_route="/v1/jobs/:id"`,
		`vagate_provider_calls_total{vagate_error_code="ok",vagate_operation="create",vagate_provider="batchva"`,
		`vagate_provider_call_duration_seconds_bucket{vagate_error_code="ok",vagate_operation="poll",vagate_provider="batchva"`,
		`vagate_provider_attempts_total{outcome="ok",vagate_operation="create",vagate_provider="batchva"`,
		`vagate_provider_breaker_state{vagate_provider="batchva"} 0`,
		`vagate_jobs_duration_seconds_count{status="Completed"`,
	} {
		if !strings.Contains(m, line) {
			t.Errorf("/metrics lacks %s", line)
		}
	}
	// The access log line of the create carries the caller's trace id.
	found := false
	for _, l := range strings.Split(g.logs.all(), "\n") {
		if strings.Contains(l, `"msg":"request"`) && strings.Contains(l, `"route":"/v1/virtual-accounts"`) {
			found = true
			if !strings.Contains(l, `"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"`) || !strings.Contains(l, `"span_id"`) {
				t.Errorf("request log line without the request's trace_id/span_id: %s", l)
			}
			if n := strings.Count(l, `"trace_id"`); n != 1 {
				t.Errorf("request log line with %d trace_id fields, want 1: %s", n, l)
			}
		}
	}
	if !found {
		t.Error("no access log line for the create")
	}
}

// adminDo calls an embedded mock's admin API and decodes its answer into
// out. It works from t.Cleanup too (the test's context is done by then).
func adminDo(t *testing.T, base, method, path, body string, out any) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
	}
	return resp.StatusCode
}

// runOneItem creates one item, waits for its job, and decodes its result into T.
func runOneItem[T any](t *testing.T, g *gw, tok, item string) T {
	t.Helper()
	r := g.do(t, "POST", "/v1/virtual-accounts", tok, `{"items":[`+item+`]}`, "Idempotency-Key", uuid.NewString())
	want(t, r, 202, "create")
	id, _ := r.json(t)["jobId"].(string)
	g.waitJob(t, tok, id)
	r = g.do(t, "GET", "/v1/jobs/"+id+"/results", tok, "")
	want(t, r, 200, "results")
	var res struct{ Items []T }
	if err := json.Unmarshal(r.body, &res); err != nil || len(res.Items) != 1 {
		t.Fatalf("results: %s", r.body)
	}
	return res.Items[0]
}

func TestDevSecretInConfigFileRefusesToStart(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "vagate.yaml")
	doc := fmt.Sprintf("auth:\n  secret: %s\nmocks:\n  embedded: true\n", string(config.DevSecret))
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, "serve", "-config", cfg, "-listen", "127.0.0.1:0", "-mock-port", "0")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "auth.secret") {
		t.Fatalf("gateway with the development secret in its file: err %v, output:\n%s", err, out)
	}
}

// Every metric the README names is on /metrics once the traffic it counts
// has happened: a create, its replay, a retried provider read, a pool and
// a claim from it.
func TestReadmeMetricsAreEmitted(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	names := regexp.MustCompile("`(vagate_[a-z0-9_]+)`").FindAllStringSubmatch(string(readme), -1)
	if len(names) < 10 {
		t.Fatalf("the README names %d metrics; has its format changed?", len(names))
	}
	g := startGateway(t)
	dev := mintToken(t, "dev", "")
	// The first poll of the job is answered 503 once: a read, retried.
	adminDo(t, g.mock, "POST", "/__admin/faults", `{"method":"GET","path":"/v1/virtual-accounts/jobs/*","action":"error","status":503,"times":1}`, nil)
	key := uuid.NewString()
	body := `{"items":[{"currency":"USD","accountHolderName":"M","accountName":"M"}]}`
	want(t, g.do(t, "POST", "/v1/virtual-accounts", dev, body, "Idempotency-Key", key, "Prefer", "wait=10"), 200, "create")
	if r := g.do(t, "POST", "/v1/virtual-accounts", dev, body, "Idempotency-Key", key, "Prefer", "wait=10"); r.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %v", r.status, r.header)
	}
	want(t, g.do(t, "PUT", "/v1/pool/batchva/USD", dev, `{"target":1,"lowWatermark":0}`), 200, "pool")
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(string(g.do(t, "GET", "/v1/pool", dev, "").body), `"available":1`); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the pool never filled")
		}
	}
	want(t, g.do(t, "POST", "/v1/pool/claim", dev, `{"currency":"USD","accountHolderName":"A","accountName":"A"}`, "Idempotency-Key", uuid.NewString()), 200, "claim")
	m := "\n" + string(g.do(t, "GET", "/metrics", "", "").body)
	for _, n := range names {
		if !strings.Contains(m, "\n"+n[1]) {
			t.Errorf("/metrics has no %s, which the README lists", n[1])
		}
	}
}
