package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
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
