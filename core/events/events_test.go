package events_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/events"
	"github.com/vagate/vagate/core/store"
)

func TestAccountChanged(t *testing.T) {
	acct := func(s bank.Status) *bank.Account { return &bank.Account{ID: "va_1", Tenant: "t1", Status: s} }
	tests := []struct {
		name          string
		before, after *bank.Account
		want          string
	}{
		{"created", nil, acct(bank.StatusPending), "[virtual_account.created]"},
		{"no status change", acct(bank.StatusActive), acct(bank.StatusActive), "[]"},
		{"activated", acct(bank.StatusPending), acct(bank.StatusActive), "[virtual_account.status_updated]"},
		{"allocated", acct(bank.StatusUnallocated), acct(bank.StatusActive), "[virtual_account.status_updated virtual_account.allocated]"},
		{"closed", acct(bank.StatusBlocked), acct(bank.StatusClosed), "[virtual_account.status_updated virtual_account.closed]"},
		{"activation failed is no allocation", acct(bank.StatusUnallocated), acct(bank.StatusFailed), "[virtual_account.status_updated]"},
		{"nothing after", acct(bank.StatusActive), nil, "[]"},
		{"created at a fallback", nil, &bank.Account{ID: "va_1", Tenant: "t1", Status: bank.StatusPending,
			Routing: &bank.Routing{RoutedBy: bank.RoutedByFallback, Reason: bank.FailoverBreakerOpen, FailedOver: []string{"a"}}},
			"[virtual_account.created virtual_account.failover]"},
		{"created by a rule", nil, &bank.Account{ID: "va_1", Tenant: "t1", Status: bank.StatusPending,
			Routing: &bank.Routing{RoutedBy: bank.RoutedByRule}}, "[virtual_account.created]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			log := store.NewMemoryEvents()
			events.NewRecorder(log, nil).AccountChanged(context.Background(), tc.before, tc.after)
			evs, _, _ := log.ListEvents(context.Background(), "t1", "", "", 10)
			var got []string
			for _, e := range evs {
				got = append(got, string(e.Type))
				if e.Data.Account == nil || e.ID == "" || e.CreatedAt.IsZero() {
					t.Errorf("event %+v lacks its account, id or time", e)
				}
				if e.Type == bank.EventAccountStatusUpdated && e.Data.PreviousStatus != tc.before.Status {
					t.Errorf("previousStatus = %s", e.Data.PreviousStatus)
				}
			}
			if fmt.Sprint(got) != tc.want && !(tc.want == "[]" && len(got) == 0) {
				t.Errorf("events = %v, want %s", got, tc.want)
			}
		})
	}
	log := store.NewMemoryEvents()
	d := &bank.Drift{Kind: bank.DriftStatusMismatch, Provider: "p", ProviderAccountID: "x", Action: bank.DriftRepaired,
		Gateway: acct(bank.StatusActive), AtProvider: acct(bank.StatusBlocked)}
	events.NewRecorder(log, nil).Drift(context.Background(), "t1", d)
	if evs, _, _ := log.ListEvents(context.Background(), "t1", bank.EventReconciliationDrift, "", 10); len(evs) != 1 ||
		evs[0].Data.Drift.Gateway.Status != bank.StatusActive || evs[0].Data.Drift.AtProvider.Status != bank.StatusBlocked {
		t.Errorf("reconciliation.drift = %+v", evs)
	}
	log = store.NewMemoryEvents()
	events.NewRecorder(log, nil).JobFinished(context.Background(), &bank.Job{ID: "job_1", Tenant: "t1", Status: bank.JobCompleted})
	if evs, _, _ := log.ListEvents(context.Background(), "t1", bank.EventJobCompleted, "", 10); len(evs) != 1 || evs[0].Data.Job.ID != "job_1" {
		t.Errorf("job.completed = %+v", evs)
	}
}
