package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

func TestRequestID(t *testing.T) {
	const in = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	tests := []struct {
		name, traceparent, wantTrace, wantFlags string
	}{
		{"valid incoming", in, "4bf92f3577b34da6a3ce929d0e0e4736", "01"},
		{"unsampled incoming", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", "4bf92f3577b34da6a3ce929d0e0e4736", "00"},
		{"future version with extra field", "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", "4bf92f3577b34da6a3ce929d0e0e4736", "01"},
		{"absent", "", "", "01"},
		{"uppercase hex is invalid", strings.ToUpper(in), "", "01"},
		{"zero trace id", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "", "01"},
		{"garbage", "hello", "", "01"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := gin.New()
			r.Use(RequestID())
			var seen string
			r.GET("/", func(c *gin.Context) { seen = TraceID(c) })
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			if tc.traceparent != "" {
				req.Header.Set("traceparent", tc.traceparent)
			}
			w := httptest.NewRecorder()
			r.ServeHTTP(w, req)
			if !traceIDRE.MatchString(seen) || (tc.wantTrace != "" && seen != tc.wantTrace) {
				t.Fatalf("TraceID = %q; want %q", seen, tc.wantTrace)
			}
			if got := w.Header().Get(HeaderRequestID); got != seen {
				t.Errorf("X-Request-Id = %q; want %q", got, seen)
			}
			tp := w.Header().Get(HeaderTraceparent)
			trace, flags, ok := parseTraceparent(tp)
			if !ok || trace != seen || flags != tc.wantFlags || tp == tc.traceparent {
				t.Errorf("response traceparent = %q; want trace %s, flags %s and a new parent id", tp, seen, tc.wantFlags)
			}
		})
	}
}

func TestParseTraceparent(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", true},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-", false},  // version 00 has exactly four fields
		{"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", true},  // later versions may add fields
		{"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", false},  // ...after a dash
		{"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false},   // forbidden version
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", false},   // zero parent id
		{"00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01", false},   // misplaced dash
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g", false},   // bad flags
		{"0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false},   // bad version
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", false},      // short
		{"00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01", false},   // separators
		{" 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false},  // leading space
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01", false},   // uppercase
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\n", false}, // trailing newline
		{"", false},
	}
	for _, tc := range tests {
		if _, _, ok := parseTraceparent(tc.in); ok != tc.ok {
			t.Errorf("parseTraceparent(%q) ok = %v; want %v", tc.in, ok, tc.ok)
		}
	}
}

func FuzzTraceparent(f *testing.F) {
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	f.Add("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	f.Add("")
	f.Fuzz(func(t *testing.T, h string) {
		trace, flags, ok := parseTraceparent(h)
		if !ok {
			if trace != "" || flags != "" {
				t.Fatalf("invalid %q returned %q %q", h, trace, flags)
			}
			return
		}
		if !traceIDRE.MatchString(trace) || trace == strings.Repeat("0", 32) || trace != h[3:35] {
			t.Fatalf("%q: bad trace id %q", h, trace)
		}
		if len(flags) != 2 || !isLowerHex(flags) || h[:2] == "ff" {
			t.Fatalf("%q: bad flags %q", h, flags)
		}
		// What we accept we can echo back in a form we accept too.
		if _, _, ok := parseTraceparent("00-" + trace + "-" + randomHex(8) + "-" + flags); !ok {
			t.Fatalf("%q: re-encoded header rejected", h)
		}
	})
}
