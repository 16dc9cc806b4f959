package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vagate/vagate/mocks/bundle"
)

// syncBuffer is a log sink safe for the test to read while run writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// urls waits for n "mock listening" lines and returns their mock → url.
func (b *syncBuffer) urls(t *testing.T, n int) map[string]string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		out := map[string]string{}
		sc := bufio.NewScanner(strings.NewReader(b.String()))
		for sc.Scan() {
			var line struct{ Msg, Mock, URL string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "mock listening" {
				out[line.Mock] = line.URL
			}
		}
		if len(out) >= n {
			return out
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no listening lines in %q", b.String())
	return nil
}

func TestRun(t *testing.T) {
	for _, name := range append(mockNames(), "all") {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			var logs syncBuffer
			done := make(chan error, 1)
			go func() {
				done <- run(ctx, []string{"-mock", name, "-listen", "127.0.0.1:0", "-seed", "3", "-pending-delay", "0"}, &logs)
			}()
			want := 1
			if name == "all" {
				want = len(bundle.Mocks)
			}
			urls := logs.urls(t, want)
			for mock, url := range urls {
				if mock != "batchva" {
					continue
				}
				res, err := http.Post(url+"/v1/auth/token", "application/json", strings.NewReader(`{"clientId":"vagate","clientSecret":"vagate-secret"}`))
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					t.Errorf("%s token: %d", mock, res.StatusCode)
				}
			}
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("run did not stop")
			}
			if strings.Contains(logs.String(), "vagate-secret") {
				t.Error("logs show a secret")
			}
			if !strings.Contains(logs.String(), `"msg":"mock stopped"`) {
				t.Errorf("no stop line in %s", logs.String())
			}
		})
	}
}

func TestRunRefusesBadFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown mock", []string{"-mock", "nope"}, "-mock"},
		{"bad listen", []string{"-listen", "nohost"}, "-listen"},
		{"bad port", []string{"-listen", "127.0.0.1:x"}, "-listen"},
		{"failure rate", []string{"-item-failure-rate", "2"}, "-item-failure-rate"},
		{"negative delay", []string{"-pending-delay", "-1s"}, "-pending-delay"},
		{"extra argument", []string{"extra"}, "unexpected"},
		{"unknown flag", []string{"-nope"}, "not defined"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs syncBuffer
			err := run(t.Context(), tc.args, &logs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one naming %s", err, tc.want)
			}
		})
	}
}

func TestFaultsFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o600)
		return p
	}
	good := write("good.json", `{"*":{"rules":[{"method":"GET","path":"/nowhere","action":"error","status":500}]},
		"batchva":{"rules":[{"method":"POST","path":"/v1/auth/token","action":"error","status":503,"retryAfter":"2"}],"webhooks":{"dropRate":1}}}`)
	ctx, cancel := context.WithCancel(t.Context())
	var logs syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-mock", "all", "-listen", "127.0.0.1:0", "-faults", good}, &logs) }()
	urls := logs.urls(t, len(bundle.Mocks))
	res, err := http.Post(urls["batchva"]+"/v1/auth/token", "application/json", strings.NewReader(`{"clientId":"vagate","clientSecret":"vagate-secret"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 503 || res.Header.Get("Retry-After") != "2" {
		t.Errorf("scripted fault not applied: %d %v", res.StatusCode, res.Header)
	}
	for name, url := range urls {
		r, err := http.Get(url + "/__admin/faults")
		if err != nil {
			t.Fatal(err)
		}
		var got struct{ Rules []json.RawMessage }
		json.NewDecoder(r.Body).Decode(&got)
		r.Body.Close()
		want := 1
		if name == "batchva" {
			want = 2
		}
		if len(got.Rules) != want {
			t.Errorf("%s has %d rules, want %d", name, len(got.Rules), want)
		}
	}
	cancel()
	<-done
	for name, body := range map[string]string{
		"unknown mock":     `{"nobank":{"rules":[]}}`,
		"bad rule":         `{"*":{"rules":[{"action":"explode"}]}}`,
		"bad webhooks":     `{"*":{"webhooks":{"dropRate":3}}}`,
		"unknown key":      `{"*":{"rulez":[]}}`,
		"bad webhook rule": `{"masterfiat":{"webhooks":{"rules":[{"action":"explode"}]}}}`,
	} {
		err := run(t.Context(), []string{"-faults", write(name+".json", body)}, &logs)
		if err == nil || !strings.Contains(err.Error(), "-faults") {
			t.Errorf("%s: err = %v, want one naming -faults", name, err)
		}
	}
	noHooks := write("nohooks.json", `{"parentprimary":{"webhooks":{"dropRate":1}}}`)
	err = run(t.Context(), []string{"-mock", "parentprimary", "-listen", "127.0.0.1:0", "-faults", noHooks}, &logs)
	if err == nil || !strings.Contains(err.Error(), "sends no webhooks") {
		t.Errorf("webhook faults for a mock that sends none: err = %v", err)
	}
}

// receiver counts the webhooks and callbacks that reach each path.
type receiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	got map[string]int
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{got: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		io.Copy(io.Discard, req.Body)
		r.mu.Lock()
		r.got[req.URL.Path]++
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) count(path string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got[path]
}

// call sends a request to a mock and decodes its JSON answer into out (when not nil).
func call(t *testing.T, method, url, token, contentType, body string, out any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		t.Fatalf("%s %s: %d %s", method, url, res.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, url, err, b)
		}
	}
}

// webhookSenders cause one outbound callback at each mock that sends them,
// through its HTTP API, to hookURL; records reads the mock's delivery
// records from its admin API.
var webhookSenders = []struct {
	name    string
	cause   func(t *testing.T, mockURL, hookURL string)
	records string
}{
	{"batchva", func(t *testing.T, mockURL, hookURL string) {
		var tok struct{ AccessToken string }
		call(t, "POST", mockURL+"/v1/auth/token", "", "application/json", `{"clientId":"vagate","clientSecret":"vagate-secret"}`, &tok)
		call(t, "POST", mockURL+"/v1/virtual-accounts", tok.AccessToken, "application/json",
			`{"callbackUrl":"`+hookURL+`","items":[{"currency":"USD","accountHolderName":"Ada","accountName":"Ada Ltd"}]}`, nil)
	}, "/__admin/callbacks"},
	{"masterfiat", func(t *testing.T, mockURL, hookURL string) {
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		call(t, "POST", mockURL+"/passport/oauth/token", "", "application/x-www-form-urlencoded",
			"grant_type=client_credentials&scope=PAYMENTS&client_id=vagate&client_secret=vagate-secret", &tok)
		call(t, "POST", mockURL+"/api/v1/webhooks", tok.AccessToken, "application/json",
			`{"url":"`+hookURL+`","events":["VIRTUAL_ACCOUNT.CREATED"]}`, nil)
		call(t, "POST", mockURL+"/api/v1/virtual-accounts", tok.AccessToken, "application/json",
			`{"masterFiatAccountId":"fac_gbp000000000000001","currency":"GBP"}`, nil)
	}, "/__admin/webhooks/deliveries"},
}

// A -faults file's webhook faults act on every mock that sends webhooks,
// scripted per mock or for all under "*".
func TestFaultsFileWebhooks(t *testing.T) {
	tests := []struct {
		name   string
		script string
		want   int    // callbacks each receiver gets
		fault  string // what each delivery record says
	}{
		{"none", `{}`, 1, ""},
		{"per mock", `{"batchva":{"webhooks":{"duplicateRate":1}},
			"masterfiat":{"webhooks":{"rules":[{"action":"duplicate","event":"VIRTUAL_ACCOUNT.CREATED"}]}}}`, 2, "duplicate"},
		{"all mocks", `{"*":{"webhooks":{"dropRate":1}}}`, 0, "drop"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "faults.json")
			if err := os.WriteFile(path, []byte(tc.script), 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			var logs syncBuffer
			done := make(chan error, 1)
			go func() {
				done <- run(ctx, []string{"-mock", "all", "-listen", "127.0.0.1:0", "-pending-delay", "0", "-process-delay", "0", "-faults", path}, &logs)
			}()
			t.Cleanup(func() { cancel(); <-done })
			urls := logs.urls(t, len(mockNames()))
			recv := newReceiver(t)
			for _, s := range webhookSenders {
				s.cause(t, urls[s.name], recv.srv.URL+"/"+s.name)
			}
			for _, s := range webhookSenders {
				var recs []struct {
					Fault     string
					Dropped   bool
					Delivered bool
				}
				deadline := time.Now().Add(5 * time.Second)
				for {
					var out map[string]json.RawMessage
					call(t, "GET", urls[s.name]+s.records, "", "", "", &out)
					for _, v := range out {
						json.Unmarshal(v, &recs)
					}
					settled := len(recs) == max(tc.want, 1)
					for _, r := range recs {
						settled = settled && (r.Dropped || r.Delivered)
					}
					if settled && recv.count("/"+s.name) == tc.want {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("%s: received %d callbacks, records %+v; want %d", s.name, recv.count("/"+s.name), recs, tc.want)
					}
					time.Sleep(10 * time.Millisecond)
				}
				for _, r := range recs {
					if r.Fault != tc.fault || r.Dropped != (tc.fault == "drop") {
						t.Errorf("%s: record %+v, want fault %q", s.name, r, tc.fault)
					}
				}
			}
			time.Sleep(200 * time.Millisecond) // nothing more arrives
			for _, s := range webhookSenders {
				if got := recv.count("/" + s.name); got != tc.want {
					t.Errorf("%s: %d callbacks, want %d", s.name, got, tc.want)
				}
			}
		})
	}
}

// -contract-env writes, once the mocks listen, one shell line per mock whose
// config block points at that mock's URL.
func TestContractEnv(t *testing.T) {
	path := filepath.Join(t.TempDir(), "contract.env")
	ctx, cancel := context.WithCancel(t.Context())
	var logs syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-mock", "all", "-listen", "127.0.0.1:0", "-contract-env", path}, &logs)
	}()
	urls := logs.urls(t, len(bundle.Mocks))
	var text []byte
	for range 100 {
		if b, err := os.ReadFile(path); err == nil {
			text = b
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	lines := strings.Split(strings.TrimSpace(string(text)), "\n")
	if len(lines) != len(bundle.Mocks) {
		t.Fatalf("%d lines, want %d: %q", len(lines), len(bundle.Mocks), text)
	}
	for i, m := range bundle.Mocks {
		prefix := "export VAGATE_CONTRACT_" + strings.ToUpper(m.Style) + "='"
		line := lines[i]
		if !strings.HasPrefix(line, prefix) || !strings.HasSuffix(line, "'") {
			t.Errorf("line %d = %q, want %s...'", i, line, prefix)
			continue
		}
		var block struct {
			BaseURL string `json:"baseUrl"`
		}
		if err := json.Unmarshal([]byte(strings.TrimSuffix(strings.TrimPrefix(line, prefix), "'")), &block); err != nil || block.BaseURL != urls[m.Style] {
			t.Errorf("%s: block %q: baseUrl %q (%v), want %q", m.Style, line, block.BaseURL, err, urls[m.Style])
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// -strict reads the documents' ambiguities strictly: parentprimary's
// Optional request headers become required, so the document's example,
// sent as it shows it (no headers), is accepted only without -strict.
func TestStrictFlag(t *testing.T) {
	const example = `{"customerId":"a2b9649e-df7f-4349-adff-1c57283fef10","idempotencyKey":"1483d25d-3f00-4d39-90ce-2379a130becd",
		"parentAccountId":"e0cab2dd-739f-43de-b131-3e423e935bf1","productCode":"FIAT_ACCOUNT_UK_V1"}`
	tests := []struct {
		name   string
		args   []string
		status int
	}{
		{"lenient by default", nil, http.StatusOK},
		{"strict", []string{"-strict"}, http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			var logs syncBuffer
			done := make(chan error, 1)
			go func() {
				done <- run(ctx, append([]string{"-mock", "parentprimary", "-listen", "127.0.0.1:0"}, tc.args...), &logs)
			}()
			url := logs.urls(t, 1)["parentprimary"]
			res, err := http.Post(url+"/v1/partner/accounts/virtual", "application/json", strings.NewReader(example))
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tc.status {
				t.Errorf("the document's example without headers: %d, want %d", res.StatusCode, tc.status)
			}
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
		})
	}
}
