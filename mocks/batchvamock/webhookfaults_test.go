package batchvamock_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/vagate/vagate/mocks/batchvamock"
	"github.com/vagate/vagate/mocks/hook"
)

// Completion callbacks go through the webhook faults QA scripts, and their
// records say what the faults did.
func TestCallbackWebhookFaults(t *testing.T) {
	tests := []struct {
		name    string
		faults  hook.Faults
		want    int // callbacks received
		records int
		fault   string
	}{
		{"delivered once", hook.Faults{}, 1, 1, ""},
		{"duplicated", hook.Faults{DuplicateRate: 1}, 2, 2, "duplicate"},
		{"dropped", hook.Faults{DropRate: 1}, 0, 1, "drop"},
		{"rule by job status", hook.Faults{Rules: []hook.Rule{{Action: hook.Duplicate, Status: batchvamock.StatusCompleted}}}, 2, 2, "duplicate"},
		{"rule for another status", hook.Faults{Rules: []hook.Rule{{Action: hook.Drop, Status: batchvamock.StatusCancelled}}}, 1, 1, ""},
		{"corrupt signature", hook.Faults{CorruptRate: 1}, 1, 1, "corrupt"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			if err := e.m.Outbox().SetFaults(tc.faults); err != nil {
				t.Fatal(err)
			}
			s := newSink(t, nil)
			body := itemsBody(1, nil)
			body["callbackUrl"] = s.srv.URL
			if r := e.do(http.MethodPost, "/v1/virtual-accounts", e.tok, nil, body); r.status != http.StatusAccepted {
				t.Fatalf("create: %d %s", r.status, r.body)
			}
			for range tc.want {
				r, b := s.next(t)
				if ok := verify(r, b, batchvamock.DefaultClient().SigningSecret, nil); ok != (tc.fault != "corrupt") {
					t.Errorf("callback verifies: %v", ok)
				}
			}
			select {
			case <-s.got:
				t.Errorf("more than %d callbacks", tc.want)
			case <-time.After(300 * time.Millisecond):
			}
			recs := e.m.Callbacks()
			if len(recs) != tc.records {
				t.Fatalf("records %+v, want %d", recs, tc.records)
			}
			for _, r := range recs {
				if r.Fault != tc.fault || r.Dropped != (tc.fault == "drop") || r.Delivered == r.Dropped || r.JobID == "" {
					t.Errorf("record %+v, want fault %q", r, tc.fault)
				}
			}
			if _, st := e.m.Outbox().Faults(); st.Deliveries != 1 {
				t.Errorf("stats = %+v, want one delivery through the faults", st)
			}
		})
	}
}
