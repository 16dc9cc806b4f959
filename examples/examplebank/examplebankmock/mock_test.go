package examplebankmock_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vagate/vagate/examples/examplebank/examplebankmock"
)

// The mock's wire contract, one exchange at a time against a mock holding
// one account created with key "k1".
func TestContract(t *testing.T) {
	m := examplebankmock.New(&examplebankmock.Options{Seed: 1})
	srv := httptest.NewServer(m)
	t.Cleanup(srv.Close)
	const body = `{"currency":"EUR","holderName":"Jane Smith","name":"Jane EUR","reference":"R-1"}`
	send := func(t *testing.T, method, path, key, auth, body string) (int, http.Header, map[string]any) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), method, srv.URL+path, strings.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, resp.Header, out
	}
	key := examplebankmock.DefaultAPIKey
	status, _, first := send(t, "POST", "/v1/accounts", "k1", key, body)
	if status != 201 || first["status"] != "OPEN" || first["reference"] != "R-1" || len(first["accountNumber"].(string)) != 12 {
		t.Fatalf("create: %d %v", status, first)
	}
	id := first["id"].(string)
	errCode := func(out map[string]any) any {
		e, _ := out["error"].(map[string]any)
		return e["code"]
	}
	tests := []struct {
		name, method, path, key, auth, body string
		status                              int
		check                               func(h http.Header, out map[string]any) bool
	}{
		{"same key and body: the same account, replayed", "POST", "/v1/accounts", "k1", key, body, 201,
			func(h http.Header, out map[string]any) bool {
				return out["id"] == id && h.Get("Idempotent-Replayed") == "true"
			}},
		{"same key, another body: refused", "POST", "/v1/accounts", "k1", key, strings.Replace(body, "R-1", "R-2", 1), 422,
			func(_ http.Header, out map[string]any) bool { return errCode(out) == "IDEMPOTENCY_KEY_REUSED" }},
		{"no key", "POST", "/v1/accounts", "", key, body, 400, nil},
		{"bad currency", "POST", "/v1/accounts", "k2", key, strings.Replace(body, "EUR", "USD", 1), 400,
			func(_ http.Header, out map[string]any) bool { return errCode(out) == "VALIDATION_ERROR" }},
		{"unknown field", "POST", "/v1/accounts", "k3", key, `{"currency":"EUR","holderName":"A","name":"B","iban":"x"}`, 400, nil},
		{"bad API key", "POST", "/v1/accounts", "k4", "nope", body, 401, nil},
		{"get", "GET", "/v1/accounts/" + id, "", key, "", 200,
			func(_ http.Header, out map[string]any) bool {
				return out["id"] == id && out["holderName"] == "Jane Smith"
			}},
		{"get a missing account", "GET", "/v1/accounts/acc_0", "", key, "", 404,
			func(_ http.Header, out map[string]any) bool { return errCode(out) == "NOT_FOUND" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, h, out := send(t, tc.method, tc.path, tc.key, tc.auth, tc.body)
			if status != tc.status || (tc.check != nil && !tc.check(h, out)) {
				t.Errorf("%d %v, want %d", status, out, tc.status)
			}
		})
	}
	if n := m.AccountCount(); n != 1 {
		t.Errorf("mock holds %d accounts, want 1", n)
	}
	var list struct{ CountByReference *int }
	resp, err := http.Get(srv.URL + "/__admin/accounts?reference=R-1")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if list.CountByReference == nil || *list.CountByReference != 1 {
		t.Errorf("admin countByReference = %v, want 1", list.CountByReference)
	}
}
