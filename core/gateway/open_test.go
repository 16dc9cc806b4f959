package gateway_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/provider"
)

// envAdapter reads accounts with a GET through the client it was opened with.
type envAdapter struct {
	env provider.Env
	url string
}

func (a *envAdapter) Capabilities() provider.Capabilities { return baseCaps() }

func (a *envAdapter) CreateAccounts(context.Context, *provider.CreateRequest) (*provider.CreateResult, error) {
	return nil, errors.New("not used")
}

func (a *envAdapter) GetAccount(ctx context.Context, ref string) (*bank.Account, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.url+"/accounts/"+ref, nil)
	if err != nil {
		return nil, err
	}
	resp, err := a.env.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if _, err := provider.ReadJSON(resp, resp.StatusCode == http.StatusOK, nil, nil); err != nil {
		return nil, err
	}
	return &bank.Account{ProviderAccountID: ref, Status: bank.StatusActive}, nil
}

func (a *envAdapter) ErrorCode(err error) bank.ErrorCode { return provider.ClassifyHTTP(err) }

// moneyAdapter is an envAdapter whose params may name a provider-side money account.
type moneyAdapter struct{ envAdapter }

func (a *moneyAdapter) MoneyAccountParams() []string   { return []string{"settlementAccountId"} }
func (a *moneyAdapter) DefaultMoneyAccounts() []string { return []string{"acc-default"} }

var errOpen = errors.New("bad config block")

// gateway.Open builds the provider's resilient client, opens the adapter
// through it and wraps it; OpenDriver does the same from a driver and its
// config block.
func TestOpen(t *testing.T) {
	tenants := map[string][]string{"tenant-a": {"acc-1"}}
	tests := []struct {
		name    string
		open    func(url string) func(provider.Env) (provider.Adapter, error)
		tenants map[string][]string
		wantErr func(err error) bool
		// hits is how many requests one GetAccount sends when the first answer is 503.
		hits int32
	}{
		{name: "requests go through the resilient client: a read answered 503 is retried",
			open: func(url string) func(provider.Env) (provider.Adapter, error) {
				return func(env provider.Env) (provider.Adapter, error) { return &envAdapter{env: env, url: url}, nil }
			}, hits: 2},
		{name: "tenantAccounts accepted for an adapter with money accounts", tenants: tenants,
			open: func(url string) func(provider.Env) (provider.Adapter, error) {
				return func(env provider.Env) (provider.Adapter, error) {
					return &moneyAdapter{envAdapter{env: env, url: url}}, nil
				}
			}, hits: 2},
		{name: "tenantAccounts refused for an adapter without money accounts", tenants: tenants,
			open: func(url string) func(provider.Env) (provider.Adapter, error) {
				return func(env provider.Env) (provider.Adapter, error) { return &envAdapter{env: env, url: url}, nil }
			},
			wantErr: func(err error) bool { return err != nil && strings.HasPrefix(err.Error(), "tenantAccounts:") }},
		{name: "an opener error is returned",
			open: func(string) func(provider.Env) (provider.Adapter, error) {
				return func(provider.Env) (provider.Adapter, error) { return nil, errOpen }
			},
			wantErr: func(err error) bool { return errors.Is(err, errOpen) }},
		{name: "an adapter refused by the portable layer is an error",
			open: func(string) func(provider.Env) (provider.Adapter, error) {
				return func(provider.Env) (provider.Adapter, error) { return &badCapsAdapter{}, nil }
			},
			wantErr: func(err error) bool { return err != nil && strings.Contains(err.Error(), "maxBatch") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &scripted{answer: func(n int32, _ *http.Request) int { return map[bool]int{true: 503, false: 200}[n == 1] }}
			srv := s.server(t)
			var env provider.Env
			open := tc.open(srv.URL)
			p, err := gateway.Open("bank-a", func(e provider.Env) (provider.Adapter, error) { env = e; return open(e) },
				&gateway.OpenOptions{Limits: fast(gateway.Limits{MaxAttempts: 3}), WebhookURL: "http://gw.test/v1/providers/bank-a/webhooks",
					TenantAccounts: tc.tenants})
			if tc.wantErr != nil {
				if p != nil || !tc.wantErr(err) {
					t.Fatalf("Open = %v, %v; want no provider and the expected error", p, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if env.Name != "bank-a" || env.WebhookURL != "http://gw.test/v1/providers/bank-a/webhooks" || env.HTTPClient == nil {
				t.Errorf("adapter opened with %+v", env)
			}
			if p.Name() != "bank-a" {
				t.Errorf("provider name %q", p.Name())
			}
			if _, err := p.GetAccount(t.Context(), "acc-1"); err != nil {
				t.Fatalf("GetAccount: %v", err)
			}
			if got := s.hits.Load(); got != tc.hits {
				t.Errorf("GetAccount sent %d requests, want %d", got, tc.hits)
			}
		})
	}
}

// badCapsAdapter declares no batch size, which gateway.New refuses.
type badCapsAdapter struct{ envAdapter }

func (a *badCapsAdapter) Capabilities() provider.Capabilities {
	c := baseCaps()
	c.MaxBatch = 0
	return c
}

// OpenDriver opens the driver's adapter from the block decode reads, and
// returns the decode's error.
func TestOpenDriver(t *testing.T) {
	type block struct{ BaseURL string }
	d := provider.Driver{Style: "fake", Open: func(decode func(any) error, env provider.Env) (provider.Adapter, error) {
		var b block
		if err := decode(&b); err != nil {
			return nil, err
		}
		return &envAdapter{env: env, url: b.BaseURL}, nil
	}}
	tests := []struct {
		name    string
		decode  func(url string) func(into any) error
		wantErr error
	}{
		{"the block's baseUrl is reached", func(url string) func(any) error {
			return func(into any) error { into.(*block).BaseURL = url; return nil }
		}, nil},
		{"a decode error is returned", func(string) func(any) error {
			return func(any) error { return errOpen }
		}, errOpen},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &scripted{answer: func(int32, *http.Request) int { return 200 }}
			srv := s.server(t)
			p, err := gateway.OpenDriver("bank-b", d, tc.decode(srv.URL), nil)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("OpenDriver err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("OpenDriver: %v", err)
			}
			if _, err := p.GetAccount(t.Context(), "acc-1"); err != nil || s.hits.Load() != 1 {
				t.Fatalf("GetAccount = %v after %d requests; want the block's baseUrl reached once", err, s.hits.Load())
			}
		})
	}
}
