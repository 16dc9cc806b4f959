package main

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vagate/vagate/mocks/masterfiatmock"
)

// masterfiatSetup starts a masterfiat mock in the test process that sends
// no webhook (none is registered) and activates accounts after activation,
// and writes a config for gateways sharing state in Redis under a fresh
// prefix.
func masterfiatSetup(t *testing.T, activation time.Duration) (cfgPath string) {
	t.Helper()
	url := redisURL(t)
	mock := masterfiatmock.New(&masterfiatmock.Options{ActivationDelay: activation,
		FiatAccounts: masterfiatmock.DefaultFiatAccounts(), EndUsers: []masterfiatmock.EndUser{masterfiatmock.DefaultEndUser()}})
	srv := httptest.NewServer(mock)
	t.Cleanup(func() { srv.Close(); mock.Close() })
	prefix := freshPrefix(t, url, "vagate-e2e")
	var fiat []string
	for _, f := range mock.FiatAccounts() {
		fiat = append(fiat, fmt.Sprintf("%s: %q", f.Currency, f.ID))
	}
	def := masterfiatmock.DefaultClient()
	cfg := fmt.Sprintf(`
auth:
  secret: shared-state-test-secret-0123456789abcdef
store:
  driver: redis
  redisUrl: %s
  prefix: %s
jobs:
  visibilityTimeout: 1s
  drainTimeout: 500ms
providers:
  - name: masterfiat
    style: masterfiat
    config: {baseUrl: %q, clientId: %q, clientSecret: %q, masterFiatAccounts: {%s}}
`, url, prefix, srv.URL, def.ID, def.Secret, strings.Join(fiat, ", "))
	cfgPath = filepath.Join(t.TempDir(), "vagate.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfgPath
}

// An instance killed (-9) with accounts still PENDING at their provider,
// whose webhooks never come: the instance started after it finds them in
// the store and polls them until they are ACTIVE.
func TestKilledInstancePendingAccountsBecomeActive(t *testing.T) {
	cfg := masterfiatSetup(t, 4*time.Second)
	tok := mintToken(t, "dev", "", "-config", cfg)
	a := startGateway(t, "-config", cfg)
	var ids []string
	for i := range 3 {
		acc := mfCreate(t, a, tok, "GBP", fmt.Sprintf("KILL-PENDING-%d", i))
		if acc.Status != "PENDING" {
			t.Fatalf("created %+v, want PENDING", acc)
		}
		ids = append(ids, acc.ID)
	}
	a.kill(t)

	b := startGateway(t, "-config", cfg)
	for _, id := range ids {
		if got := mfRead(t, b.do(t, "GET", "/v1/virtual-accounts/"+id, tok, ""), "get"); got.Status != "PENDING" {
			t.Fatalf("account %s is %s before the provider activated it", id, got.Status)
		}
	}
	deadline := time.Now().Add(25 * time.Second)
	for _, id := range ids {
		for {
			got := mfRead(t, b.do(t, "GET", "/v1/virtual-accounts/"+id, tok, ""), "get")
			if got.Status == "ACTIVE" {
				if got.ProviderStatus != "ACTIVE" || len(got.BankDetails) != 1 || !strings.HasPrefix(got.ClientReference, "KILL-PENDING-") {
					t.Errorf("active account %+v", got)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("account %s is still %s on the instance started after the kill; logs:\n%s", id, got.Status, b.logs.all())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if logs := b.logs.all(); !strings.Contains(logs, "watching accounts left transitional") {
		t.Errorf("the new instance did not report resuming the watch; logs:\n%s", logs)
	}
}
