package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
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
		"unknown mock": `{"nobank":{"rules":[]}}`,
		"bad rule":     `{"*":{"rules":[{"action":"explode"}]}}`,
		"bad webhooks": `{"*":{"webhooks":{"dropRate":3}}}`,
		"unknown key":  `{"*":{"rulez":[]}}`,
	} {
		err := run(t.Context(), []string{"-faults", write(name+".json", body)}, &logs)
		if err == nil || !strings.Contains(err.Error(), "-faults") {
			t.Errorf("%s: err = %v, want one naming -faults", name, err)
		}
	}
}
