package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/vagate/vagate/core/httpapi"
	"github.com/vagate/vagate/core/store"
	"github.com/vagate/vagate/core/telemetry"
)

func TestWebhookRouteHasItsOwnSmallBodyLimit(t *testing.T) {
	a := newAPIState(t, memoryState())
	big := `{"event":"x","pad":"` + strings.Repeat("a", 300<<10) + `"}`
	resp, body := a.call(t, http.MethodPost, "/v1/providers/batchva/webhooks", "", strings.NewReader(big))
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), "payload_too_large") {
		t.Errorf("300 KiB callback: %d %s, want 413 payload_too_large", resp.StatusCode, body)
	}
	// The create route keeps maxBodyBytes (1 MiB here): the same size is read and judged.
	create := `{"items":[]}` + strings.Repeat(" ", 300<<10)
	resp, body = a.call(t, http.MethodPost, "/v1/virtual-accounts", a.token(t, "t1"), strings.NewReader(create))
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("300 KiB create: %d %s, want 400 (read, then refused for its content)", resp.StatusCode, body)
	}
}

func TestStoreOutageIsStoreUnavailableNotProviderUnavailable(t *testing.T) {
	// A Redis store whose server does not answer: nothing listens on port 1.
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { c.Close() })
	st := memoryState()
	st.accounts = store.NewRedis(c, &store.RedisOptions{Prefix: "vagate-test-outage"})
	a := newAPIState(t, st)
	resp, body := a.call(t, http.MethodGet, "/v1/virtual-accounts/"+uuid.NewString(), a.token(t, "t1"), nil)
	var p problem
	json.Unmarshal(body, &p)
	if resp.StatusCode != http.StatusServiceUnavailable || p.Code != httpapi.CodeStoreUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("store outage: %d %s (Retry-After %q), want 503 store_unavailable with Retry-After", resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
	if strings.Contains(string(body), "127.0.0.1") {
		t.Errorf("the answer shows the store's address: %s", body)
	}
}

func TestReadyzNeverShowsTheStoreAddress(t *testing.T) {
	a := newAPIState(t, memoryState(), func(d *httpapi.Deps, _ *httpapi.Options) {
		d.Ready = func(context.Context) error {
			return errors.New("dial tcp 10.1.2.3:6379: connect: connection refused (redis://:pw@redis.internal:6379/0)")
		}
	})
	resp, body := a.call(t, http.MethodGet, "/readyz", "", nil)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), httpapi.CodeStoreUnavailable) {
		t.Errorf("/readyz with the store down: %d %s, want 503 store_unavailable", resp.StatusCode, body)
	}
	for _, leak := range []string{"10.1.2.3", "6379", "redis", "pw@"} {
		if strings.Contains(string(body), leak) {
			t.Errorf("/readyz shows %q: %s", leak, body)
		}
	}
}

func TestEveryAnswerIsNoStoreAndNoSniff(t *testing.T) {
	a := newAPIState(t, memoryState())
	tok := a.token(t, "t1")
	for _, tc := range []struct{ method, path, tok string }{
		{http.MethodGet, "/v1/virtual-accounts", tok},                     // 200
		{http.MethodGet, "/v1/virtual-accounts", ""},                      // 401
		{http.MethodGet, "/v1/virtual-accounts/" + uuid.NewString(), tok}, // 404
		{http.MethodGet, "/v1/nothing-here", tok},                         // unmatched
		{http.MethodPost, "/v1/providers/batchva/webhooks", ""},           // public, refused
		{http.MethodGet, "/healthz", ""},
	} {
		resp, body := a.call(t, tc.method, tc.path, tc.tok, nil)
		if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s %s: %d %.80s: Cache-Control %q, X-Content-Type-Options %q", tc.method, tc.path, resp.StatusCode, body,
				resp.Header.Get("Cache-Control"), resp.Header.Get("X-Content-Type-Options"))
		}
	}
}

func TestMetricsMethodLabelIsBoundedAndTokenRestrictsMetrics(t *testing.T) {
	tel, err := telemetry.New(t.Context(), telemetry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tel.Shutdown(context.Background()) })
	const metricsToken = "metrics-secret-0123456789"
	a := newAPIState(t, memoryState(), func(d *httpapi.Deps, o *httpapi.Options) {
		d.Meter, d.Metrics = tel.Meter, tel.MetricsHandler()
		o.MetricsToken = metricsToken
	})
	for i := range 5 {
		a.call(t, fmt.Sprintf("MADEUP%d", i), "/healthz", "", nil)
	}
	for _, tok := range []string{"", "wrong-token"} {
		if resp, body := a.call(t, http.MethodGet, "/metrics", tok, nil); resp.StatusCode != http.StatusUnauthorized || strings.Contains(string(body), "vagate_http") {
			t.Errorf("/metrics with token %q: %d, want 401 without metrics", tok, resp.StatusCode)
		}
	}
	resp, body := a.call(t, http.MethodGet, "/metrics", metricsToken, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics with the token: %d %s", resp.StatusCode, body)
	}
	if strings.Contains(string(body), "MADEUP") || !strings.Contains(string(body), `http_request_method="OTHER"`) {
		t.Errorf("made-up methods are not folded into OTHER:\n%s", grepLines(string(body), "http_request_method"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// A replayed answer is counted in vagate_idempotency_replays_total, the
// metric the README lists.
func TestIdempotencyReplaysAreCounted(t *testing.T) {
	tel, err := telemetry.New(t.Context(), telemetry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tel.Shutdown(context.Background()) })
	a := newAPIState(t, memoryState(), func(d *httpapi.Deps, _ *httpapi.Options) {
		d.Meter, d.Metrics = tel.Meter, tel.MetricsHandler()
	})
	tok, key := a.token(t, "t1"), uuid.NewString()
	body := `{"items":[{"currency":"USD","accountHolderName":"R","accountName":"R"}]}`
	for i := range 3 {
		resp, b := a.call(t, http.MethodPost, "/v1/virtual-accounts", tok, strings.NewReader(body), "Idempotency-Key", key)
		if resp.StatusCode != http.StatusAccepted || (i > 0) != (resp.Header.Get("Idempotent-Replayed") == "true") {
			t.Fatalf("create %d: %d %s (replayed %q)", i, resp.StatusCode, b, resp.Header.Get("Idempotent-Replayed"))
		}
	}
	_, m := a.call(t, http.MethodGet, "/metrics", "", nil)
	if want := `vagate_idempotency_replays_total{http_route="/v1/virtual-accounts"} 2`; !strings.Contains(string(m), want) {
		t.Errorf("/metrics lacks %s:\n%s", want, grepLines(string(m), "idempotency"))
	}
}
