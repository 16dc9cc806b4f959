package httpapi_test

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vagate/vagate/adapters/subaccount"
	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/mocks/batchvamock"
	"github.com/vagate/vagate/mocks/subaccountmock"
)

// poolOf reads one pool of GET /v1/pool.
func poolOf(t *testing.T, a *api, tok, provider, currency string) bank.Pool {
	t.Helper()
	resp, body := a.call(t, "GET", "/v1/pool", tok, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /v1/pool: %d %s", resp.StatusCode, body)
	}
	var out struct{ Items []bank.Pool }
	json.Unmarshal(body, &out)
	for _, p := range out.Items {
		if p.Provider == provider && p.Currency == currency {
			return p
		}
	}
	return bank.Pool{}
}

func waitPool(t *testing.T, a *api, tok string, available int) bank.Pool {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p := poolOf(t, a, tok, "batchva", "USD")
		if p.Available == available && p.ReplenishJobID == "" {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("pool %+v, want %d available", p, available)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

const claimBody = `{"currency":"USD","provider":"batchva","accountHolderName":"Jane Smith","accountName":"Jane Smith","clientReference":"USER-1"}`

// The pool through the API: configure, fill, claim, replay, exhaust.
func TestPoolOverHTTP(t *testing.T) {
	a := newAPI(t)
	tok := a.token(t, "t1")
	resp, body := a.call(t, "PUT", "/v1/pool/batchva/USD", tok, strings.NewReader(`{"target":2,"lowWatermark":0}`))
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"target":2`) {
		t.Fatalf("configure: %d %s", resp.StatusCode, body)
	}
	waitPool(t, a, tok, 2)

	key := uuid.NewString()
	resp, body = a.call(t, "POST", "/v1/pool/claim", tok, strings.NewReader(claimBody), "Idempotency-Key", key)
	var acc bank.Account
	json.Unmarshal(body, &acc)
	if resp.StatusCode != 200 || acc.Status != bank.StatusActive || acc.AccountHolderName != "Jane Smith" || acc.ClientReference != "USER-1" {
		t.Fatalf("claim: %d %s", resp.StatusCode, body)
	}
	resp, again := a.call(t, "POST", "/v1/pool/claim", tok, strings.NewReader(claimBody), "Idempotency-Key", key)
	if resp.StatusCode != 200 || string(again) != string(body) || resp.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay: %d %s", resp.StatusCode, again)
	}
	resp, body = a.call(t, "POST", "/v1/pool/claim", tok, strings.NewReader(strings.Replace(claimBody, "Jane", "John", 2)), "Idempotency-Key", key)
	if resp.StatusCode != 422 || !strings.Contains(string(body), "idempotency_key_reused") {
		t.Errorf("same key, another holder: %d %s", resp.StatusCode, body)
	}
	resp, body = a.call(t, "POST", "/v1/pool/claim", tok, strings.NewReader(claimBody), "Idempotency-Key", uuid.NewString())
	var second bank.Account
	json.Unmarshal(body, &second)
	if resp.StatusCode != 200 || second.ID == acc.ID {
		t.Fatalf("second claim: %d %s", resp.StatusCode, body)
	}
	// Empty, with a target: 409 pool_exhausted with Retry-After, not stored
	// under the key.
	late := uuid.NewString()
	for range 2 {
		resp, body = a.call(t, "POST", "/v1/pool/claim", tok, strings.NewReader(claimBody), "Idempotency-Key", late)
		var p problem
		json.Unmarshal(body, &p)
		if resp.StatusCode != 409 || p.Code != "pool_exhausted" || p.Type != "https://vagate.dev/problems/pool_exhausted" ||
			resp.Header.Get("Retry-After") == "" || resp.Header.Get("Idempotent-Replayed") != "" {
			t.Errorf("claim on an empty pool: %d %v %s", resp.StatusCode, resp.Header, body)
		}
	}
	// The replenish it started refills the pool; the same key then claims.
	waitPool(t, a, tok, 2)
	resp, body = a.call(t, "POST", "/v1/pool/claim", tok, strings.NewReader(claimBody), "Idempotency-Key", late)
	if resp.StatusCode != 200 {
		t.Errorf("the same key after the refill: %d %s", resp.StatusCode, body)
	}
	if p := poolOf(t, a, tok, "batchva", "USD"); p.Claimed != 3 || p.Target != 2 {
		t.Errorf("pool %+v", p)
	}
	// Another tenant sees none of it.
	if p := poolOf(t, a, a.token(t, "t2"), "batchva", "USD"); p.Provider != "" {
		t.Errorf("tenant t2 sees %+v", p)
	}
}

// Bad requests name every bad field and change nothing.
func TestPoolBadRequests(t *testing.T) {
	a := newAPI(t)
	tok := a.token(t, "t1")
	tests := []struct {
		name, method, path, body string
		noKey                    bool
		status                   int
		pointers                 []string
	}{
		{"claim without a key", "POST", "/v1/pool/claim", claimBody, true, 400, []string{"/headers/Idempotency-Key"}},
		{"claim without names", "POST", "/v1/pool/claim", `{"currency":"USD"}`, false, 400, []string{"/accountHolderName", "/accountName"}},
		{"claim with an unknown field", "POST", "/v1/pool/claim", `{"currency":"USD","accountHolderName":"A","accountName":"B","customerId":"c"}`, false, 400, []string{"/customerId"}},
		{"claim with a bad currency and dob", "POST", "/v1/pool/claim", `{"currency":"usd","accountHolderName":"A","accountName":"B","dob":"2999-01-01"}`, false, 400, []string{"/currency", "/dob"}},
		{"claim at an unknown provider", "POST", "/v1/pool/claim", `{"currency":"USD","provider":"nope","accountHolderName":"A","accountName":"B"}`, false, 400, []string{"/provider"}},
		{"claim in a currency the provider lacks", "POST", "/v1/pool/claim", `{"currency":"JPY","provider":"batchva","accountHolderName":"A","accountName":"B"}`, false, 400, []string{"/currency"}},
		{"watermark above target", "PUT", "/v1/pool/batchva/USD", `{"target":2,"lowWatermark":3}`, false, 400, []string{"/lowWatermark"}},
		{"negative and fractional sizes", "PUT", "/v1/pool/batchva/USD", `{"target":-1,"lowWatermark":1.5}`, false, 400, []string{"/target", "/lowWatermark"}},
		{"bad currency in the path", "PUT", "/v1/pool/batchva/usd", `{"target":2,"lowWatermark":1}`, false, 400, []string{"/path/currency"}},
		{"replenish count out of range", "POST", "/v1/pool/replenish", `{"currency":"USD","count":1001}`, false, 400, []string{"/count"}},
		{"replenish without currency", "POST", "/v1/pool/replenish", `{"count":1}`, false, 400, []string{"/currency"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			if !tt.noKey {
				hdr = []string{"Idempotency-Key", uuid.NewString()}
			}
			resp, body := a.call(t, tt.method, tt.path, tok, strings.NewReader(tt.body), hdr...)
			var p problem
			json.Unmarshal(body, &p)
			if resp.StatusCode != tt.status {
				t.Fatalf("%d %s, want %d", resp.StatusCode, body, tt.status)
			}
			var got []string
			for _, e := range p.Errors {
				got = append(got, e.Pointer)
			}
			if strings.Join(got, ",") != strings.Join(tt.pointers, ",") {
				t.Errorf("pointers %v, want %v (%s)", got, tt.pointers, body)
			}
		})
	}
	if n := a.mock.AccountCount(); n != 0 {
		t.Errorf("bad requests created %d accounts", n)
	}
}

// A provider without unallocated accounts has no pool: 422.
func TestPoolAtProviderWithoutUnallocated(t *testing.T) {
	m := subaccountmock.New(&subaccountmock.Options{MainAccounts: subaccountmock.DefaultMainAccounts()})
	ms := httptest.NewServer(m)
	t.Cleanup(ms.Close)
	ad, err := subaccount.Open(subaccount.Config{BaseURL: ms.URL, APIKey: subaccount.Secret(subaccountmock.DefaultAPIKey),
		SettlementAccounts: m.SettlementAccounts()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := gateway.New("subaccount", ad, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := newAPIWith(t, memoryState(), apiWiring{extra: []*gateway.Provider{p}})
	tok := a.token(t, "t1")
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/v1/pool/claim", `{"currency":"NGN","provider":"subaccount","accountHolderName":"A","accountName":"B"}`},
		{"POST", "/v1/pool/replenish", `{"currency":"NGN","provider":"subaccount","count":1}`},
		{"PUT", "/v1/pool/subaccount/NGN", `{"target":1,"lowWatermark":0}`},
	} {
		resp, body := a.call(t, c.method, c.path, tok, strings.NewReader(c.body), "Idempotency-Key", uuid.NewString())
		var pr problem
		json.Unmarshal(body, &pr)
		if resp.StatusCode != 422 || pr.Code != "capability_not_supported" || !strings.Contains(pr.Detail, "subaccount") {
			t.Errorf("%s %s: %d %s", c.method, c.path, resp.StatusCode, body)
		}
	}
}

// One replenish per pool at a time; a direct allocation takes a pooled
// account out of the pool.
func TestReplenishAndDirectAllocation(t *testing.T) {
	a := newAPI(t)
	tok := a.token(t, "t1")
	a.mock.SetConfig(batchvamock.Config{PendingDelay: 300 * time.Millisecond, ProcessDelay: time.Millisecond})
	resp, body := a.call(t, "POST", "/v1/pool/replenish", tok, strings.NewReader(`{"currency":"USD","count":3}`), "Idempotency-Key", uuid.NewString())
	if resp.StatusCode != 202 || resp.Header.Get("Location") == "" || !strings.Contains(string(body), `"jobId":"job_`) {
		t.Fatalf("replenish: %d %s", resp.StatusCode, body)
	}
	resp, body = a.call(t, "POST", "/v1/pool/replenish", tok, strings.NewReader(`{"currency":"USD","count":3}`), "Idempotency-Key", uuid.NewString())
	if resp.StatusCode != 409 || !strings.Contains(string(body), `"code":"conflict"`) || resp.Header.Get("Retry-After") == "" {
		t.Errorf("second replenish while the first runs: %d %s", resp.StatusCode, body)
	}
	p := waitPool(t, a, tok, 3)
	if p.Target != 0 || p.Claimed != 0 {
		t.Errorf("pool %+v", p)
	}
	_, body = a.call(t, "GET", "/v1/virtual-accounts?status=UNALLOCATED&limit=1", tok, nil)
	var list struct{ Items []bank.Account }
	json.Unmarshal(body, &list)
	if len(list.Items) != 1 {
		t.Fatalf("list: %s", body)
	}
	resp, body = a.call(t, "PATCH", "/v1/virtual-accounts/"+list.Items[0].ID, tok, strings.NewReader(`{"accountHolderName":"D","accountName":"D"}`))
	if resp.StatusCode != 200 {
		t.Fatalf("direct allocation: %d %s", resp.StatusCode, body)
	}
	if p := poolOf(t, a, tok, "batchva", "USD"); p.Available != 2 {
		t.Errorf("after a direct allocation the pool holds %d, want 2", p.Available)
	}
	resp, body = a.call(t, "GET", "/v1/events?type=pool.replenished", tok, nil)
	if !strings.Contains(string(body), `"type":"pool.replenished"`) || !strings.Contains(string(body), `"pool":{"provider":"batchva"`) {
		t.Errorf("events: %d %s", resp.StatusCode, body)
	}
}
