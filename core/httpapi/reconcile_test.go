package httpapi_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/httpapi"
	"github.com/vagate/vagate/core/reconcile"
)

// Reconciliation is an operator's: started on demand (202, Location), read
// by id and as the provider's latest; a second start while one runs is 409.
func TestReconcileRoutes(t *testing.T) {
	gate := make(chan struct{})
	api := newAPIState(t, memoryState(), func(d *httpapi.Deps, _ *httpapi.Options) {
		st := reconcile.NewMemory(nil)
		d.Reconciler = reconcile.NewReconciler(d.Registry, d.Accounts, gateStore{st, gate}, nil)
	})
	op := api.token(t, "ops", httpapi.PermOperator)
	tenant := api.token(t, "t1", httpapi.PermReadVirtualAccount, httpapi.PermCreateVirtualAccount)
	tests := []struct {
		name, method, path, tok string
		status                  int
	}{
		{"a tenant may not reconcile", "POST", "/v1/providers/batchva/reconcile", tenant, 403},
		{"nor read runs", "GET", "/v1/providers/batchva/reconcile/latest", tenant, 403},
		{"never ran", "GET", "/v1/providers/batchva/reconcile/latest", op, 404},
		{"unknown provider", "POST", "/v1/providers/nope/reconcile", op, 404},
		{"unknown run", "GET", "/v1/reconciliations/rcn_nope", op, 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if resp, body := api.call(t, tc.method, tc.path, tc.tok, nil); resp.StatusCode != tc.status {
				t.Fatalf("%d %s, want %d", resp.StatusCode, body, tc.status)
			}
		})
	}
	resp, body := api.call(t, "POST", "/v1/providers/batchva/reconcile", op, nil)
	if resp.StatusCode != 202 || resp.Header.Get("Location") == "" {
		t.Fatalf("start: %d %s (Location %q)", resp.StatusCode, body, resp.Header.Get("Location"))
	}
	validate(t, "Reconciliation", body)
	var rep reconcile.Report
	json.Unmarshal(body, &rep)
	if rep.Status != reconcile.ReportRunning || rep.Provider != "batchva" || rep.Trigger != reconcile.TriggerOnDemand {
		t.Fatalf("started run %+v", rep)
	}
	if resp, body := api.call(t, "POST", "/v1/providers/batchva/reconcile", op, nil); resp.StatusCode != 409 {
		t.Fatalf("second start while running: %d %s, want 409", resp.StatusCode, body)
	}
	close(gate)
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, body := api.call(t, "GET", "/v1/reconciliations/"+rep.ID, op, nil)
		var got reconcile.Report
		json.Unmarshal(body, &got)
		if resp.StatusCode == 200 && got.Status == reconcile.ReportCompleted {
			validate(t, "Reconciliation", body)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run not completed: %d %s", resp.StatusCode, body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	resp, body = api.call(t, "GET", "/v1/providers/batchva/reconcile/latest", op, nil)
	var latest reconcile.Report
	json.Unmarshal(body, &latest)
	if resp.StatusCode != 200 || latest.ID != rep.ID {
		t.Fatalf("latest: %d %s", resp.StatusCode, body)
	}
	noRec := newAPIState(t, memoryState())
	if resp, body := noRec.call(t, "POST", "/v1/providers/batchva/reconcile", noRec.token(t, "ops", httpapi.PermOperator), nil); resp.StatusCode != 501 {
		t.Fatalf("without a reconciler: %d %s, want 501", resp.StatusCode, body)
	}
}

// gateStore holds a run's comparison until gate closes, so that it is
// still running when a second start comes.
type gateStore struct {
	*reconcile.Memory
	gate chan struct{}
}

func (g gateStore) OpenDrifts(ctx context.Context, p string) (map[string]bank.Drift, error) {
	<-g.gate
	return g.Memory.OpenDrifts(ctx, p)
}
