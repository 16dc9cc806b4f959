package provider_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
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
