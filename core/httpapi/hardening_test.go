package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/vagate/vagate/core/httpapi"
	"github.com/vagate/vagate/core/store"
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
