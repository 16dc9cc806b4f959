package batchvamock_test

import (
	"encoding/pem"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vagate/vagate/mocks/batchvamock"
	"github.com/vagate/vagate/mocks/fault"
)

func TestFaults(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do(http.MethodPost, "/__admin/faults", "", nil, `{"action":"error","status":503,"retryAfter":"1"}`)
	if r.status != http.StatusCreated {
		t.Fatalf("add rule: %d %s", r.status, r.body)
	}
	t.Run("api answers the injected error", func(t *testing.T) {
		for _, p := range []string{"/v1/virtual-accounts", "/v1/auth/token"} {
			r := e.do(http.MethodPost, p, e.tok, nil, itemsBody(1, nil))
			code, msg := r.apiErr(t)
			if r.status != 503 || code != "SERVICE_UNAVAILABLE" || msg == "" || r.header.Get("Retry-After") != "1" {
				t.Errorf("%s: %d %s", p, r.status, r.body)
			}
		}
		if n := e.m.JobCount(); n != 0 {
			t.Errorf("%d jobs behind a fault", n)
		}
	})
	t.Run("admin routes are not faulted", func(t *testing.T) {
		for _, p := range []string{"/__admin/jobs", "/__admin/faults", "/__admin/config"} {
			if r := e.do(http.MethodGet, p, "", nil, nil); r.status != http.StatusOK {
				t.Errorf("%s: %d %s", p, r.status, r.body)
			}
		}
	})
	t.Run("clearing", func(t *testing.T) {
		if r := e.do(http.MethodDelete, "/__admin/faults", "", nil, nil); r.status != http.StatusNoContent {
			t.Fatalf("clear: %d", r.status)
		}
		e.create(itemsBody(1, nil), nil)
	})
	t.Run("error shapes", func(t *testing.T) {
		for status, want := range map[int]string{400: "VALIDATION_ERROR", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND",
			409: "CONFLICT", 429: "TOO_MANY_REQUESTS", 500: "INTERNAL_ERROR", 503: "SERVICE_UNAVAILABLE"} {
			if _, err := e.m.Faults().Add(fault.Rule{Action: fault.ActionError, Status: status, Times: 1, Method: http.MethodGet}); err != nil {
				t.Fatal(err)
			}
			r := e.do(http.MethodGet, "/v1/virtual-accounts?clientReference=X", e.tok, nil, nil)
			if code, msg := r.apiErr(t); r.status != status || code != want || msg == "" {
				t.Errorf("injected %d: %d %s, want %s", status, r.status, r.body, want)
			}
		}
	})
}

func TestAdmin(t *testing.T) {
	e := newEnv(t, nil)
	acc := e.create(itemsBody(2, nil), nil)
	e.wait(acc.JobID)
	tests := []struct {
		name, method, path string
		body               any
		status             int
		check              func(t *testing.T, r resp)
	}{
		{"accounts by reference", http.MethodGet, "/__admin/accounts?clientReference=REF-1", nil, 200, func(t *testing.T, r resp) {
			var out struct {
				Accounts []struct {
					Owner string `json:"owner"`
				}
				CountByReference *int `json:"countByReference"`
			}
			r.decode(t, &out)
			if len(out.Accounts) != 1 || out.Accounts[0].Owner != "vagate" || out.CountByReference == nil || *out.CountByReference != 1 {
				t.Errorf("accounts %s", r.body)
			}
		}},
		{"jobs", http.MethodGet, "/__admin/jobs", nil, 200, func(t *testing.T, r resp) {
			var out struct{ Jobs []jobStatus }
			r.decode(t, &out)
			if len(out.Jobs) != 1 || out.Jobs[0].JobID != acc.JobID {
				t.Errorf("jobs %s", r.body)
			}
		}},
		{"set config", http.MethodPut, "/__admin/config", `{"pendingDelay":"1h","itemFailureRate":0.25}`, 200, func(t *testing.T, r resp) {
			var c struct {
				PendingDelay, ProcessDelay string
				ItemFailureRate            float64
			}
			r.decode(t, &c)
			if c.PendingDelay != "1h0m0s" || c.ProcessDelay != "10ms" || c.ItemFailureRate != 0.25 {
				t.Errorf("config %s", r.body)
			}
		}},
		{"bad config", http.MethodPut, "/__admin/config", `{"itemFailureRate":2}`, 400, nil},
		{"unknown config field", http.MethodPut, "/__admin/config", `{"speed":2}`, 400, nil},
		{"add rsa client", http.MethodPost, "/__admin/clients", `{"id":"qa","secret":"qs","permissions":["read-virtual-account"],"rsa":true}`, 201, nil},
		{"signing key", http.MethodGet, "/__admin/signing-key?clientId=qa", nil, 200, func(t *testing.T, r resp) {
			if b, _ := pem.Decode(r.body); b == nil || b.Type != "PUBLIC KEY" {
				t.Errorf("key %s", r.body)
			}
		}},
		{"signing key of an HMAC client", http.MethodGet, "/__admin/signing-key?clientId=vagate", nil, 404, nil},
		{"duplicate client", http.MethodPost, "/__admin/clients", `{"id":"qa","secret":"qs","signingSecret":"x"}`, 400, nil},
		{"unknown admin route", http.MethodGet, "/__admin/nothing", nil, 404, nil},
		{"reset", http.MethodDelete, "/__admin/reset", nil, 204, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.method, tc.path, "", nil, tc.body)
			if r.status != tc.status {
				t.Fatalf("status %d %s, want %d", r.status, r.body, tc.status)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
	if n, j := e.m.AccountCount(), e.m.JobCount(); n != 0 || j != 0 {
		t.Errorf("after reset: %d accounts, %d jobs", n, j)
	}
	if qa := e.login("qa", "qs"); qa == "" {
		t.Error("reset dropped an added client")
	}
	// Reset restored the options' configuration: jobs finish quickly again.
	if st := e.wait(e.create(itemsBody(1, nil), nil).JobID); st.Status != batchvamock.StatusCompleted {
		t.Errorf("after reset: job %+v", st)
	}
}

func TestResetStopsJobs(t *testing.T) {
	e := newEnv(t, &batchvamock.Options{PendingDelay: 30 * time.Millisecond})
	if _, err := e.m.Faults().Add(fault.Rule{Action: fault.ActionLatency, Latency: fault.Duration(time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	e.create(itemsBody(5, nil), nil)
	e.m.Reset()
	time.Sleep(80 * time.Millisecond)
	if n, j, f := e.m.AccountCount(), e.m.JobCount(), len(e.m.Faults().Rules()); n != 0 || j != 0 || f != 0 {
		t.Errorf("after reset: %d accounts, %d jobs, %d fault rules", n, j, f)
	}
}

func TestClose(t *testing.T) {
	m := batchvamock.New(&batchvamock.Options{PendingDelay: time.Hour})
	srv := newEnvFor(t, m)
	srv.create(itemsBody(1, nil), nil)
	done := make(chan struct{})
	go func() {
		m.Close()
		m.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not stop a pending job")
	}
	if r := srv.do(http.MethodPost, "/v1/virtual-accounts", srv.tok, nil, itemsBody(1, nil)); r.status != http.StatusServiceUnavailable {
		t.Errorf("create after Close: %d", r.status)
	}
}

// A request held by a hang fault ends when its client gives up, bodies too.
func TestHangReleasedWhenClientGivesUp(t *testing.T) {
	e := newEnv(t, nil)
	if _, err := e.m.Faults().Add(fault.Rule{Action: fault.ActionHang}); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 100 * time.Millisecond}
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		req, _ := http.NewRequestWithContext(t.Context(), method, e.srv.URL+"/v1/virtual-accounts", strings.NewReader(`{"items":[]}`))
		if _, err := client.Do(req); err == nil {
			t.Fatalf("%s: answered through a hang", method)
		}
	}
	start := time.Now()
	e.srv.Close() // waits for the held handlers
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("held requests ended %v after their clients gave up", d)
	}
}
