package gateway_test

import (
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/provider"
)

// TestAdapterErrorsNameNoProviderURL proves that the errors the gateway
// hands out (call errors, item errors in job results, the health's
// lastError) name no provider URL, host or address, while keeping the
// wrapped errors for classification.
func TestAdapterErrorsNameNoProviderURL(t *testing.T) {
	const base = "http://10.0.0.5:9102/api/v1/accounts"
	addr := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 5), Port: 9102}
	tests := []struct {
		name  string
		err   error
		is    error
		code  bank.ErrorCode
		keeps string
	}{
		{"url.Error", &url.Error{Op: "Post", URL: base + "?page=2", Err: io.EOF}, io.EOF, bank.Unknown, "Post: EOF"},
		{"wrapped url.Error", errors.Join(errors.New("create"), &url.Error{Op: "Get", URL: base, Err: io.ErrUnexpectedEOF}), io.ErrUnexpectedEOF, bank.Unknown, "Get: unexpected EOF"},
		{"status error", &provider.StatusError{Method: "POST", URL: base, StatusCode: 503, Message: "busy"}, nil, bank.Unavailable, "POST /api/v1/accounts: HTTP 503"},
		{"net.OpError", &url.Error{Op: "Post", URL: base, Err: &net.OpError{Op: "read", Net: "tcp", Addr: addr, Err: syscall.ECONNRESET}}, syscall.ECONNRESET, bank.Unknown, "Post: read tcp: "},
		{"dns error", &url.Error{Op: "Post", URL: base, Err: &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Name: "bank.internal", Server: "10.0.0.53:53", Err: "no such host", IsNotFound: true}}}, nil, bank.Unavailable, "no such host"},
	}
	leaks := []string{"10.0.0.5", "http://", "bank.internal", "9102"}
	check := func(t *testing.T, what, msg string) {
		t.Helper()
		for _, l := range leaks {
			if strings.Contains(msg, l) {
				t.Errorf("%s %q names %q", what, msg, l)
			}
		}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, p := newFake(t)
			f.get = func(string) (*bank.Account, error) { return nil, tc.err }
			_, err := p.GetAccount(t.Context(), "r")
			check(t, "call error", err.Error())
			check(t, "lastError", p.Health().LastError)
			if !strings.Contains(err.Error(), tc.keeps) {
				t.Errorf("call error %q lost %q", err, tc.keeps)
			}
			if got := bank.Code(err); got != tc.code {
				t.Errorf("code %v, want %v", got, tc.code)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("call error %v no longer wraps %v", err, tc.is)
			}

			f.create = func(r *provider.CreateRequest) (*provider.CreateResult, error) {
				return &provider.CreateResult{Items: []provider.ItemResult{{Err: tc.err}}}, nil
			}
			items, err := p.CreateAccounts(t.Context(), &provider.CreateRequest{Items: []provider.CreateItem{named("r1")}})
			if err != nil || len(items) != 1 || items[0].Err == nil {
				t.Fatalf("create: %v %v", items, err)
			}
			check(t, "item error", items[0].Err.Error())
		})
	}

	t.Run("breaker error from the client", func(t *testing.T) {
		rt := &scriptTransport{steps: []string{"503"}}
		c := gateway.NewClient("p", fast(gateway.Limits{MaxAttempts: 1, Breaker: gateway.BreakerLimits{MinRequests: 1, OpenFor: time.Minute}}), rt, nil)
		p, err := gateway.New("p", &httpFake{c: c}, &gateway.Options{Client: c})
		if err != nil {
			t.Fatal(err)
		}
		p.GetAccount(t.Context(), "r") // opens the breaker
		_, err = p.GetAccount(t.Context(), "r")
		if bank.Code(err) != bank.Unavailable || !errors.Is(err, gateway.ErrFailFast) || !errors.Is(err, gobreaker.ErrOpenState) {
			t.Fatalf("err %v, want the breaker's fast Unavailable", err)
		}
		check(t, "call error", err.Error())
		check(t, "lastError", p.Health().LastError)
	})
}
