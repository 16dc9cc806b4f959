package fault_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vagate/vagate/mocks/fault"
)

func server(t *testing.T, in *fault.Injector) (*httptest.Server, *atomic.Int32) {
	var served atomic.Int32
	mux := http.NewServeMux()
	mux.Handle("/__admin/faults", in.AdminHandler())
	mux.Handle("/__admin/faults/", in.AdminHandler())
	mux.Handle("/", in.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true,"padding":"0123456789"}`))
	})))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, &served
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		r    fault.Rule
		ok   bool
	}{
		{"error", fault.Rule{Action: fault.ActionError, Status: 503}, true},
		{"error needs status", fault.Rule{Action: fault.ActionError}, false},
		{"error 2xx", fault.Rule{Action: fault.ActionError, Status: 200}, false},
		{"latency needs duration", fault.Rule{Action: fault.ActionLatency}, false},
		{"unknown action", fault.Rule{Action: "explode"}, false},
		{"rate above 1", fault.Rule{Action: fault.ActionHang, Rate: 1.5}, false},
		{"bad path", fault.Rule{Action: fault.ActionReset, Path: "[x"}, false},
		{"negative times", fault.Rule{Action: fault.ActionReset, Times: -1}, false},
		{"malformed", fault.Rule{Action: fault.ActionMalformed}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.r.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestActions(t *testing.T) {
	tests := []struct {
		name   string
		rule   fault.Rule
		check  func(t *testing.T, resp *http.Response, err error)
		served int32
	}{
		{"error with retry-after", fault.Rule{Action: fault.ActionError, Status: 429, RetryAfter: "7"}, func(t *testing.T, resp *http.Response, err error) {
			if err != nil || resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "7" {
				t.Fatalf("resp = %v, %v", resp, err)
			}
			b, _ := io.ReadAll(resp.Body)
			if !bytes.Contains(b, []byte(`"error":"INJECTED"`)) {
				t.Errorf("body = %s", b)
			}
		}, 0},
		{"malformed", fault.Rule{Action: fault.ActionMalformed}, func(t *testing.T, resp *http.Response, err error) {
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || json.Valid(b) {
				t.Errorf("status %d body %q, want 200 and invalid JSON", resp.StatusCode, b)
			}
		}, 0},
		{"truncate runs the handler", fault.Rule{Action: fault.ActionTruncate}, func(t *testing.T, resp *http.Response, err error) {
			b, _ := io.ReadAll(resp.Body)
			if json.Valid(b) || len(b) == 0 {
				t.Errorf("body %q, want a truncated JSON document", b)
			}
		}, 1},
		{"reset", fault.Rule{Action: fault.ActionReset}, func(t *testing.T, resp *http.Response, err error) {
			if err == nil {
				t.Fatalf("got %d, want a connection error", resp.StatusCode)
			}
		}, 0},
		{"drop_response acts then drops", fault.Rule{Action: fault.ActionDropResponse}, func(t *testing.T, resp *http.Response, err error) {
			if err == nil {
				t.Fatalf("got %d, want a connection error", resp.StatusCode)
			}
		}, 1},
		{"latency then serve", fault.Rule{Action: fault.ActionLatency, Latency: fault.Duration(30 * time.Millisecond)}, func(t *testing.T, resp *http.Response, err error) {
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("resp = %v, %v", resp, err)
			}
		}, 1},
		{"other path untouched", fault.Rule{Action: fault.ActionError, Status: 500, Path: "/other/*"}, func(t *testing.T, resp *http.Response, err error) {
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("resp = %v, %v", resp, err)
			}
		}, 1},
		{"other method untouched", fault.Rule{Action: fault.ActionError, Status: 500, Method: "GET"}, func(t *testing.T, resp *http.Response, err error) {
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("resp = %v, %v", resp, err)
			}
		}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := fault.New(&fault.Options{Seed: 1})
			srv, served := server(t, in)
			if _, err := in.Add(tc.rule); err != nil {
				t.Fatal(err)
			}
			resp, err := http.Post(srv.URL+"/v1/things", "application/json", strings.NewReader(`{}`))
			tc.check(t, resp, err)
			if resp != nil {
				resp.Body.Close()
			}
			if got := served.Load(); got != tc.served {
				t.Errorf("handler ran %d times, want %d", got, tc.served)
			}
		})
	}
}

func TestHangUntilClientGivesUp(t *testing.T) {
	in := fault.New(nil)
	srv, served := server(t, in)
	in.Add(fault.Rule{Action: fault.ActionHang})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/x", strings.NewReader(`{"a":1}`))
	start := time.Now()
	_, err := http.DefaultClient.Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	srv.Close() // returns only once the hanging handler noticed the client left
	if d := time.Since(start); d > 10*time.Second || served.Load() != 0 {
		t.Errorf("hang held the server %s after the client gave up; handler ran %d", d, served.Load())
	}
}

func TestRateReproducibleAndTimes(t *testing.T) {
	pattern := func(seed uint64) string {
		in := fault.New(&fault.Options{Seed: seed})
		srv, _ := server(t, in)
		in.Add(fault.Rule{Action: fault.ActionError, Status: 503, Rate: 0.5})
		var b strings.Builder
		for range 40 {
			resp, err := http.Get(srv.URL + "/x")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode == 503 {
				b.WriteByte('x')
			} else {
				b.WriteByte('.')
			}
		}
		return b.String()
	}
	a, b := pattern(7), pattern(7)
	if a != b {
		t.Errorf("same seed, different faults:\n%s\n%s", a, b)
	}
	if n := strings.Count(a, "x"); n < 8 || n > 32 {
		t.Errorf("rate 0.5 fired %d/40 times", n)
	}
	in := fault.New(nil)
	srv, _ := server(t, in)
	in.Add(fault.Rule{Action: fault.ActionError, Status: 500, Times: 2})
	var codes []int
	for range 4 {
		resp, _ := http.Get(srv.URL + "/x")
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
	}
	if codes[0] != 500 || codes[1] != 500 || codes[2] != 200 || codes[3] != 200 {
		t.Errorf("times=2 gave %v", codes)
	}
	if r := in.Rules(); len(r) != 1 || r[0].Fired != 2 {
		t.Errorf("rules = %+v", r)
	}
}

func TestAdminAPI(t *testing.T) {
	in := fault.New(nil)
	srv, _ := server(t, in)
	post := func(body string) *http.Response {
		resp, err := http.Post(srv.URL+"/__admin/faults", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := post(`{"method":"GET","path":"/x","action":"error","status":503,"retryAfter":"2"}`)
	var r fault.Rule
	json.NewDecoder(resp.Body).Decode(&r)
	resp.Body.Close()
	if resp.StatusCode != 201 || r.ID == "" {
		t.Fatalf("add: %d %+v", resp.StatusCode, r)
	}
	for _, bad := range []string{`{"action":"error"}`, `{"action":"latency","latency":"soon"}`, `{"action":"hang","bogus":1}`, `nope`} {
		if resp := post(bad); resp.StatusCode != 400 {
			t.Errorf("%s: status %d, want 400", bad, resp.StatusCode)
		}
	}
	post(`{"action":"latency","latency":"5ms","jitter":"1ms"}`)
	if got, _ := http.Get(srv.URL + "/x"); got.StatusCode != 503 {
		t.Errorf("rule not applied: %d", got.StatusCode)
	}
	req, _ := http.NewRequest("DELETE", srv.URL+"/__admin/faults/"+r.ID, nil)
	if resp, _ := http.DefaultClient.Do(req); resp.StatusCode != 204 {
		t.Errorf("delete one: %d", resp.StatusCode)
	}
	if resp, _ := http.DefaultClient.Do(req); resp.StatusCode != 404 {
		t.Errorf("delete again: %d", resp.StatusCode)
	}
	req, _ = http.NewRequest("DELETE", srv.URL+"/__admin/faults", nil)
	if resp, _ := http.DefaultClient.Do(req); resp.StatusCode != 204 || len(in.Rules()) != 0 {
		t.Errorf("reset: %d, %d rules left", resp.StatusCode, len(in.Rules()))
	}
}
