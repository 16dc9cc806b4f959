package gateway_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/provider"
)

// scriptTransport plays one scripted result per attempt: "timeout" hangs
// until the attempt times out, "reset" drops the connection after the
// request was written, "refused" never connects, a number is that status.
type scriptTransport struct {
	steps []string
	n     atomic.Int32
}

func (s *scriptTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	i := int(s.n.Add(1)) - 1
	step := s.steps[min(i, len(s.steps)-1)]
	if step != "refused" && r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	addr := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 5), Port: 9102}
	switch step {
	case "timeout":
		<-r.Context().Done()
		return nil, r.Context().Err()
	case "reset":
		return nil, &net.OpError{Op: "read", Net: "tcp", Addr: addr, Err: syscall.ECONNRESET}
	case "refused":
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: addr, Err: syscall.ECONNREFUSED}
	}
	code := map[string]int{"200": 200, "400": 400, "429": 429, "500": 500, "503": 503, "504": 504}[step]
	return &http.Response{StatusCode: code, Status: http.StatusText(code), Header: http.Header{"Retry-After": {"0"}},
		Body: io.NopCloser(strings.NewReader(`{}`)), Request: r, ProtoMajor: 1, ProtoMinor: 1}, nil
}

// httpFake is an adapter that sends every call through the resilient client:
// a create is a keyed POST, a get a GET.
type httpFake struct {
	c   *gateway.Client
	url string // default: an internal address the scripted transport answers for
}

func (f *httpFake) Capabilities() provider.Capabilities {
	c := baseCaps()
	c.IdempotentCreate = true
	return c
}

func (f *httpFake) do(ctx context.Context, method string) error {
	url := f.url
	if url == "" {
		url = "http://10.0.0.5:9102/api/v1/accounts"
	}
	req, _ := http.NewRequestWithContext(ctx, method, url, strings.NewReader(`{"x":1}`))
	if method == http.MethodPost {
		req.Header.Set("Idempotency-Key", "3f2b1c9e-8a4d-4e6f-9b1a-2c3d4e5f6a7b")
	}
	resp, err := f.c.HTTP().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = provider.ReadJSON(resp, resp.StatusCode < 300, nil, nil)
	return err
}

func (f *httpFake) CreateAccounts(ctx context.Context, r *provider.CreateRequest) (*provider.CreateResult, error) {
	if err := f.do(ctx, http.MethodPost); err != nil {
		return nil, err
	}
	res := &provider.CreateResult{}
	for range r.Items {
		res.Items = append(res.Items, provider.ItemResult{Account: &bank.Account{ProviderAccountID: "a", Status: bank.StatusActive}})
	}
	return res, nil
}

func (f *httpFake) GetAccount(ctx context.Context, ref string) (*bank.Account, error) {
	if err := f.do(ctx, http.MethodGet); err != nil {
		return nil, err
	}
	return &bank.Account{ProviderAccountID: ref}, nil
}

func (f *httpFake) ErrorCode(err error) bank.ErrorCode { return provider.ClassifyHTTP(err) }

// TestCallOutcomeUnknownAfterAnUnknownAttempt proves that once an attempt of
// a write may have reached the provider (a timeout, a connection dropped
// after sending, a 500 or 504), the call's final failure is Unknown, never
// the "provider did not act" of the last attempt's 503; that only a success
// or a refusal settles it; and that reads are not affected.
func TestCallOutcomeUnknownAfterAnUnknownAttempt(t *testing.T) {
	tests := []struct {
		op    string
		steps []string
		want  bank.ErrorCode
	}{
		{"create", []string{"timeout", "503"}, bank.Unknown},
		{"create", []string{"reset", "503"}, bank.Unknown},
		{"create", []string{"500", "503"}, bank.Unknown},
		{"create", []string{"504", "503"}, bank.Unknown},
		{"create", []string{"timeout", "refused"}, bank.Unknown},
		{"create", []string{"timeout", "429"}, bank.Unknown},
		{"create", []string{"503", "503"}, bank.Unavailable},
		{"create", []string{"refused", "503"}, bank.Unavailable},
		{"create", []string{"429", "503"}, bank.Unavailable},
		{"create", []string{"503", "timeout"}, bank.DeadlineExceeded},
		{"create", []string{"timeout", "200"}, bank.OK},
		{"create", []string{"reset", "200"}, bank.OK},
		{"create", []string{"503", "400"}, bank.InvalidArgument},
		{"create", []string{"timeout", "400"}, bank.InvalidArgument},
		{"get", []string{"timeout", "503"}, bank.Unavailable},
		{"get", []string{"500", "503"}, bank.Unavailable},
	}
	for _, tc := range tests {
		t.Run(tc.op+"/"+strings.Join(tc.steps, ","), func(t *testing.T) {
			rt := &scriptTransport{steps: tc.steps}
			c := gateway.NewClient("p", fast(gateway.Limits{MaxAttempts: 2, AttemptTimeout: 50 * time.Millisecond}), rt, nil)
			p, err := gateway.New("p", &httpFake{c: c}, &gateway.Options{Client: c})
			if err != nil {
				t.Fatal(err)
			}
			if tc.op == "create" {
				_, err = p.Submit(t.Context(), &provider.CreateRequest{Items: []provider.CreateItem{named("r1")}})
			} else {
				_, err = p.GetAccount(t.Context(), "r1")
			}
			if n := int(rt.n.Load()); n != len(tc.steps) {
				t.Fatalf("%d attempts, want %d", n, len(tc.steps))
			}
			if got := bank.Code(err); got != tc.want {
				t.Fatalf("code %v (err %v), want %v", got, err, tc.want)
			}
			var ou *gateway.OutcomeUnknownError
			if tc.want == bank.Unknown {
				if !errors.As(err, &ou) || ou.Err == nil {
					t.Errorf("err %v does not wrap the last error in an OutcomeUnknownError", err)
				}
				if tc.steps[len(tc.steps)-1] == "503" {
					var se *provider.StatusError
					if !errors.As(err, &se) || se.StatusCode != 503 {
						t.Errorf("err %v does not wrap the last attempt's 503", err)
					}
				}
			} else if errors.As(err, &ou) {
				t.Errorf("err %v claims an unknown outcome", err)
			}
			if err != nil && strings.Contains(err.Error(), "10.0.0.5") {
				t.Errorf("error names the provider's address: %v", err)
			}
		})
	}
}
