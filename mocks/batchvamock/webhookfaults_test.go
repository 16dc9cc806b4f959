package batchvamock_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/vagate/vagate/mocks/fault"
)

// Completion callbacks go through the webhook faults QA scripts.
func TestCallbackWebhookFaults(t *testing.T) {
	tests := []struct {
		name string
		rule fault.WebhookRule
		want int
	}{
		{"delivered once", fault.WebhookRule{}, 1},
		{"duplicated", fault.WebhookRule{DuplicateRate: 1}, 2},
		{"dropped", fault.WebhookRule{DropRate: 1}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			if err := e.m.Faults().SetWebhooks(tc.rule); err != nil {
				t.Fatal(err)
			}
			s := newSink(t, nil)
			body := itemsBody(1, nil)
			body["callbackUrl"] = s.srv.URL
			if r := e.do(http.MethodPost, "/v1/virtual-accounts", e.tok, nil, body); r.status != http.StatusAccepted {
				t.Fatalf("create: %d %s", r.status, r.body)
			}
			for range tc.want {
				s.next(t)
			}
			select {
			case <-s.got:
				t.Errorf("more than %d callbacks", tc.want)
			case <-time.After(300 * time.Millisecond):
			}
			_, st := e.m.Faults().Webhooks()
			if st.Deliveries != 1 {
				t.Errorf("stats = %+v, want one delivery through the faults", st)
			}
		})
	}
}
