package mockhttp_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vagate/vagate/mocks/fault"
	"github.com/vagate/vagate/mocks/hook"
	"github.com/vagate/vagate/mocks/mockhttp"
)

// plain writes errors as "status msg" text, standing in for a provider's shape.
func plain(w http.ResponseWriter, status int, msg string) {
	w.WriteHeader(status)
	io.WriteString(w, msg)
}

func serve(h http.Handler, method, target, body string) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, rd))
	return rec
}

func TestBaseMount(t *testing.T) {
	named := func(s string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, s) })
	}
	tests := []struct {
		name     string
		webhooks *hook.Options
		hookCode int // status of GET on the webhook fault paths
	}{
		{"sends webhooks", &hook.Options{}, 200},
		{"sends none", nil, 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := mockhttp.NewBase(&mockhttp.BaseOptions{Webhooks: tc.webhooks})
			defer b.Close()
			if _, err := b.Faults().Add(fault.Rule{Path: "/api", Action: fault.ActionError, Status: 503}); err != nil {
				t.Fatal(err)
			}
			buffered := false
			buffer := func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { buffered = true; next.ServeHTTP(w, r) })
			}
			b.Mount(named("api"), named("admin"), buffer)
			if got := serve(b, "GET", "/other", "").Body.String(); got != "api" || !buffered {
				t.Errorf("api route: %q, buffered %v", got, buffered)
			}
			if got := serve(b, "GET", "/api", "").Code; got != 503 {
				t.Errorf("faulted route: status %d, want 503", got)
			}
			for _, p := range []string{"/__admin", "/__admin/accounts", "/__admin/faultsx", "/__admin/webhooks/deliveries"} {
				if got := serve(b, "GET", p, "").Body.String(); got != "admin" {
					t.Errorf("%s: %q, want admin", p, got)
				}
			}
			if got := serve(b, "GET", "/__admin/faults", "").Body.String(); !strings.Contains(got, `"rules"`) {
				t.Errorf("fault admin: %q", got)
			}
			for _, p := range []string{hook.AdminPath, hook.AdminAliasPath} {
				if got := serve(b, "GET", p, "").Code; got != tc.hookCode {
					t.Errorf("GET %s: %d, want %d", p, got, tc.hookCode)
				}
			}
			if (b.Outbox() != nil) != (tc.webhooks != nil) {
				t.Fatalf("outbox %v with webhook options %v", b.Outbox(), tc.webhooks)
			}
			if b.Outbox() == nil {
				return
			}
			if rec := serve(b, "PUT", hook.AdminPath, `{"dropRate":1}`); rec.Code != 200 {
				t.Fatalf("PUT webhook faults: %d %s", rec.Code, rec.Body)
			}
			if rec := serve(b, "DELETE", "/__admin/faults", ""); rec.Code != 204 {
				t.Fatalf("DELETE faults: %d", rec.Code)
			}
			if f, _ := b.Outbox().Faults(); f.DropRate != 0 || len(b.Faults().Rules()) != 0 {
				t.Errorf("DELETE /__admin/faults left webhook faults %+v or rules %+v", f, b.Faults().Rules())
			}
		})
	}
}

func TestBaseLifecycle(t *testing.T) {
	var resets, stops int
	b := mockhttp.NewBase(&mockhttp.BaseOptions{Webhooks: &hook.Options{},
		Reset: func() { resets++ }, Stop: func() { stops++ }})
	b.Faults().Add(fault.Rule{Action: fault.ActionReset})
	if err := b.Outbox().SetFaults(hook.Faults{DuplicateRate: 1}); err != nil {
		t.Fatal(err)
	}
	b.Outbox().Send(hook.Message{URL: "http://127.0.0.1:1/", Body: []byte(`{}`)})
	b.Reset()
	f, st := b.Outbox().Faults()
	if resets != 1 || len(b.Faults().Rules()) != 0 || f.DuplicateRate != 0 || st.Deliveries != 0 || len(b.Outbox().Deliveries()) != 0 {
		t.Errorf("after Reset: %d resets, rules %v, webhook faults %+v, stats %+v, deliveries %d",
			resets, b.Faults().Rules(), f, st, len(b.Outbox().Deliveries()))
	}
	b.Close()
	b.Close()
	b.Outbox().Send(hook.Message{URL: "http://127.0.0.1:1/"})
	if stops != 1 || len(b.Outbox().Deliveries()) != 0 {
		t.Errorf("after Close twice: %d stops, %d deliveries recorded", stops, len(b.Outbox().Deliveries()))
	}
}

func TestFallback(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /x", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "x") })
	guarded := 0
	guard := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { guarded++; next.ServeHTTP(w, r) })
	}
	for _, h := range []http.Handler{mockhttp.Fallback(mux, plain), mockhttp.GuardedFallback(mux, guard, plain)} {
		if rec := serve(h, "GET", "/x", ""); rec.Body.String() != "x" {
			t.Errorf("known route: %d %q", rec.Code, rec.Body)
		}
		rec := serve(h, "POST", "/x", "")
		if rec.Code != 405 || rec.Header().Get("Allow") == "" || rec.Body.String() != "method POST not allowed on /x" {
			t.Errorf("wrong method: %d %q Allow %q", rec.Code, rec.Body, rec.Header().Get("Allow"))
		}
		if rec := serve(h, "GET", "/y", ""); rec.Code != 404 || rec.Body.String() != "no route for /y" {
			t.Errorf("unknown route: %d %q", rec.Code, rec.Body)
		}
	}
	if guarded != 1 {
		t.Errorf("guard ran %d times, want once (known route only)", guarded)
	}
}

func TestBufferBody(t *testing.T) {
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	})
	h := mockhttp.BufferBody(4, plain)(echo)
	for _, body := range []string{"abc", "abcdefgh"} {
		if got := serve(h, "POST", "/", body).Body.String(); got != body {
			t.Errorf("body %q came through as %q", body, got)
		}
	}
}

func TestReadJSONBody(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b, ok := mockhttp.ReadJSONBody(w, r, 4, plain); ok {
			w.Write(b)
		}
	})
	req := func(ct, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		r.Header.Set("Content-Type", ct)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	if rec := req("application/json", "{}"); rec.Code != 200 || rec.Body.String() != "{}" {
		t.Errorf("ok: %d %q", rec.Code, rec.Body)
	}
	if rec := req("text/plain", "{}"); rec.Code != 415 {
		t.Errorf("text/plain: %d", rec.Code)
	}
	if rec := req("application/merge-patch+json", "{\"a\":1}"); rec.Code != 413 || rec.Body.String() != "body exceeds 4 bytes" {
		t.Errorf("too large: %d %q", rec.Code, rec.Body)
	}
}

func TestDecodeStrict(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v struct{ A int }
		if mockhttp.DecodeStrict(w, r, &v, plain) {
			w.WriteHeader(204)
		}
	})
	if rec := serve(h, "POST", "/", `{"A":1}`); rec.Code != 204 {
		t.Errorf("known field: %d %q", rec.Code, rec.Body)
	}
	if rec := serve(h, "POST", "/", `{"B":1}`); rec.Code != 400 || !strings.HasPrefix(rec.Body.String(), "body: ") {
		t.Errorf("unknown field: %d %q", rec.Code, rec.Body)
	}
}

func TestWriters(t *testing.T) {
	ct, b := mockhttp.FaultBody(func(status int, msg string) any {
		return map[string]any{"status": status, "msg": msg}
	})(599)
	if ct != "application/json" || string(b) != `{"msg":"injected error","status":599}` {
		t.Errorf("FaultBody: %s %s", ct, b)
	}
	rec := httptest.NewRecorder()
	if err := mockhttp.WriteJSON(rec, 201, mockhttp.NewAccountList[int](nil, true)); err != nil {
		t.Fatal(err)
	}
	if rec.Code != 201 || rec.Header().Get("Content-Type") != "application/json" ||
		rec.Body.String() != `{"accounts":[],"count":0,"countByReference":0}` {
		t.Errorf("WriteJSON: %d %q", rec.Code, rec.Body)
	}
	if err := mockhttp.WriteJSON(httptest.NewRecorder(), 200, func() {}); err == nil {
		t.Error("WriteJSON of a func: no error")
	}
	ran := false
	if rec := serve(mockhttp.NoContent(func() { ran = true }), "DELETE", "/", ""); rec.Code != 204 || !ran {
		t.Errorf("NoContent: %d, ran %v", rec.Code, ran)
	}
}
