package provider_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/provider"
)

func TestCodeForStatus(t *testing.T) {
	tests := []struct {
		status int
		want   bank.ErrorCode
	}{
		{400, bank.InvalidArgument}, {401, bank.Unauthenticated}, {403, bank.PermissionDenied},
		{404, bank.NotFound}, {409, bank.AlreadyExists}, {412, bank.FailedPrecondition},
		{413, bank.InvalidArgument}, {422, bank.InvalidArgument}, {429, bank.ResourceExhausted},
		{418, bank.InvalidArgument}, {500, bank.Internal}, {501, bank.Unimplemented},
		{502, bank.Unavailable}, {503, bank.Unavailable}, {504, bank.DeadlineExceeded}, {599, bank.Internal},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			if got := provider.CodeForStatus(tc.status); got != tc.want {
				t.Errorf("CodeForStatus(%d) = %s, want %s", tc.status, got, tc.want)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"7", 7 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"-3", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"Sun, 06 Nov 1994 08:49:37 GMT", 0},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := provider.ParseRetryAfter(tc.in, now); got != tc.want {
				t.Errorf("ParseRetryAfter(%q) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestClassifyHTTP(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bank.ErrorCode
	}{
		{"nil", nil, bank.OK},
		{"status", fmt.Errorf("x: %w", &provider.StatusError{StatusCode: 503}), bank.Unavailable},
		{"malformed", &provider.MalformedError{Op: "get", Err: io.ErrUnexpectedEOF}, bank.Unknown},
		{"refused", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, bank.Unavailable},
		{"dial", &net.OpError{Op: "dial", Err: errors.New("no route")}, bank.Unavailable},
		{"dns", &net.DNSError{Err: "no such host", Name: "x"}, bank.Unavailable},
		{"timeout", &net.OpError{Op: "read", Err: timeoutErr{}}, bank.DeadlineExceeded},
		{"ctx deadline", context.DeadlineExceeded, bank.DeadlineExceeded},
		{"ctx canceled", context.Canceled, bank.Canceled},
		{"reset after send", &net.OpError{Op: "read", Err: syscall.ECONNRESET}, bank.Unknown},
		{"eof", io.EOF, bank.Unknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := provider.ClassifyHTTP(tc.err); got != tc.want {
				t.Errorf("ClassifyHTTP = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestReadJSON(t *testing.T) {
	decode := func(b []byte) (string, string) { return "CODE", string(b) }
	resp := func(status int, body string) *http.Response {
		req, _ := http.NewRequest("GET", "http://p/x", nil)
		return &http.Response{StatusCode: status, Body: io.NopCloser(strings.NewReader(body)), Header: http.Header{}, Request: req}
	}
	tests := []struct {
		name   string
		resp   *http.Response
		ok     bool
		out    bool
		want   bank.ErrorCode
		status int
	}{
		{"success decoded", resp(200, `{"a":1}`), true, true, bank.OK, 0},
		{"refusal", resp(409, `taken`), false, true, bank.AlreadyExists, 409},
		{"malformed success", resp(200, `{"a":`), true, true, bank.Unknown, 0},
		{"malformed success, nothing to decode into", resp(200, `<html>`), true, false, bank.Unknown, 0},
		{"empty success, nothing to decode into", resp(204, ``), true, false, bank.OK, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out map[string]any
			var dst any
			if tc.out {
				dst = &out
			}
			_, err := provider.ReadJSON(tc.resp, tc.ok, dst, decode)
			if got := provider.ClassifyHTTP(err); got != tc.want {
				t.Fatalf("err %v classified %s, want %s", err, got, tc.want)
			}
			var se *provider.StatusError
			if tc.status != 0 && (!errors.As(err, &se) || se.StatusCode != tc.status || se.ProviderCode != "CODE") {
				t.Errorf("err = %#v, want a StatusError %d with the provider's code", err, tc.status)
			}
			if tc.want == bank.OK && tc.out && out["a"] != 1.0 {
				t.Errorf("decoded %v", out)
			}
		})
	}
}
