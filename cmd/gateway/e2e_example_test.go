package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vagate/vagate/examples/examplebank/examplebankmock"
	"github.com/vagate/vagate/mocks/fault"
)

// buildExampleGateway builds the gateway with the vagate_example tag, which
// lists the example provider style.
func buildExampleGateway(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gateway-example")
	build := exec.Command("go", "build", "-race", "-tags", "vagate_example", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the gateway with -tags vagate_example: %v\n%s", err, out)
	}
	return bin
}

// A fifth provider style, added without touching core/: the example
// adapter and its mock, its driver listed by a build-tagged file, and one
// config block. The gateway built with the tag creates an account at the
// example bank through the unified API, though the provider's first answer
// is lost, and reads it back; the bank holds it exactly once. The product
// binary refuses the style, naming the styles it knows.
func TestExampleProviderEndToEnd(t *testing.T) {
	mock := examplebankmock.New(&examplebankmock.Options{Seed: 1})
	srv := httptest.NewServer(mock)
	t.Cleanup(func() { srv.Close(); mock.Close() })
	cfg := filepath.Join(t.TempDir(), "vagate.yaml")
	doc := fmt.Sprintf(`auth:
  secret: example-provider-test-secret-0123456789abcdef
providers:
  - name: examplebank
    style: examplebank
    config: {baseUrl: %q, apiKey: %q}
`, srv.URL, examplebankmock.DefaultAPIKey)
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("the product binary ships no example style", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, binPath, "serve", "-config", cfg, "-listen", "127.0.0.1:0").CombinedOutput()
		if err == nil || !strings.Contains(startupError(string(out)), `providers[0] (examplebank): style: unknown provider style "examplebank" (known: batchva, subaccount, parentprimary, masterfiat)`) {
			t.Fatalf("product gateway with an examplebank block: err %v, output:\n%s", err, out)
		}
	})

	g := startBinary(t, buildExampleGateway(t), "-config", cfg)
	tok := mintToken(t, "example", "", "-config", cfg)
	// The first create reaches the bank, which creates the account, but its
	// answer is lost: the gateway resends with the same Idempotency-Key.
	if _, err := mock.Faults().Add(fault.Rule{Method: http.MethodPost, Path: "/v1/accounts", Action: fault.ActionDropResponse, Times: 1}); err != nil {
		t.Fatal(err)
	}
	res := runOneItem[saResult](t, g, tok,
		`{"provider":"examplebank","currency":"EUR","accountHolderName":"Jane Smith","accountName":"Jane EUR","clientReference":"EX-E2E-1"}`)
	if res.Outcome != "created" || res.Account == nil || res.Account.Provider != "examplebank" || res.Account.Status != "ACTIVE" ||
		res.Account.ProviderStatus != "OPEN" {
		t.Fatalf("result = %+v", res)
	}
	if fired := mock.Faults().Rules(); len(fired) != 1 || fired[0].Fired != 1 {
		t.Errorf("fault rules %+v, want the dropped answer to have happened once", fired)
	}

	r := g.do(t, "GET", "/v1/virtual-accounts/"+res.Account.ID+"?refresh=true", tok, "")
	want(t, r, 200, "read back")
	var acc struct {
		ProviderAccountID string `json:"providerAccountId"`
		Status            string `json:"status"`
		AccountHolderName string `json:"accountHolderName"`
		ClientReference   string `json:"clientReference"`
		BankDetails       []struct {
			Type          string `json:"type"`
			BankName      string `json:"bankName"`
			AccountNumber string `json:"accountNumber"`
		} `json:"bankDetails"`
	}
	if err := json.Unmarshal(r.body, &acc); err != nil {
		t.Fatal(err)
	}
	if acc.ProviderAccountID != res.Account.ProviderAccountID || acc.Status != "ACTIVE" || acc.AccountHolderName != "Jane Smith" ||
		acc.ClientReference != "EX-E2E-1" || len(acc.BankDetails) != 1 || acc.BankDetails[0].Type != "ACCOUNT_NUMBER" ||
		len(acc.BankDetails[0].AccountNumber) != 12 {
		t.Errorf("account = %s", r.body)
	}
	if n, all := mock.CountByReference("EX-E2E-1"), mock.AccountCount(); n != 1 || all != 1 {
		t.Errorf("the bank holds %d accounts for EX-E2E-1 and %d in all, want exactly 1", n, all)
	}
	r = g.do(t, "GET", "/v1/providers", tok, "")
	want(t, r, 200, "providers")
	if !strings.Contains(string(r.body), `"name":"examplebank"`) {
		t.Errorf("providers = %s", r.body)
	}
	if strings.Contains(g.logs.all(), examplebankmock.DefaultAPIKey) {
		t.Error("a log line shows the example bank's API key")
	}
}
