package openapi

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/provider"
	"github.com/vagate/vagate/core/reconcile"
)

// The handlers marshal core/bank and core/provider types directly, so the
// schemas must describe exactly their JSON: the same field names, and
// values that validate.

func fullAccount() *bank.Account {
	at := time.Date(2025, 1, 2, 10, 0, 5, 0, time.UTC)
	return &bank.Account{
		ID: "va_1", Tenant: "t1", Provider: "batchva", ProviderAccountID: "1000327642",
		Status: bank.StatusActive, ProviderStatus: "Active", Currency: "USD",
		AccountHolderName: "Holder", AccountName: "Name", DOB: "1990-01-31",
		NativeLanguageName: "名前", ClientReference: "REF-1", CustomerID: "cus_1",
		BankDetails: []bank.BankDetails{{
			Type: "NUBAN", BankName: "Bank", AccountHolderName: "Holder", Country: "NG",
			IBAN: "GB33BUKB20201555555555", BIC: "BUKBGB22", AccountNumber: "0123456789",
			RoutingCodes: []bank.RoutingCode{{Type: "SORT_CODE", Value: "202015"}},
			Extra:        map[string]string{"bankCode": "058"},
		}},
		Balance:   &bank.Balance{Currency: "USD", Available: "1.00", Pending: "0"},
		Metadata:  map[string]string{"k": "v"},
		CreatedAt: at, UpdatedAt: at, AllocatedAt: &at,
		Routing: &bank.Routing{RoutedBy: bank.RoutedByFallback, Reason: bank.FailoverBreakerOpen, FailedOver: []string{"parentprimary"}},
		Raw:     json.RawMessage(`{"raw":true}`),
	}
}

func fullPool() *bank.Pool {
	return &bank.Pool{Provider: "batchva", Currency: "USD", Available: 5, Claiming: 2, Quarantined: 1,
		QuarantinedAccountIDs: []string{"va_1"}, Claimed: 7, Pending: 3, ReplenishJobID: "job_1", LowWatermark: 4, Target: 10}
}

func TestSchemasMatchModel(t *testing.T) {
	doc := loadValid(t)
	acct := fullAccount()
	done := time.Date(2025, 1, 2, 10, 1, 0, 0, time.UTC)
	limits := provider.Limits{ClientReference: 35, AccountName: 1, AccountHolderName: 1,
		NativeLanguageName: 255, CustomHeaders: 10, CustomHeaderKey: 50, CustomHeaderValue: 500}
	drift := &bank.Drift{Kind: bank.DriftStatusMismatch, Provider: "masterfiat", ProviderAccountID: "vac_1", AccountID: "va_1",
		Fields: []string{"status"}, Gateway: acct, AtProvider: acct, Action: bank.DriftReported, Error: "x", DetectedAt: done}
	tests := []struct {
		schema string
		value  any
	}{
		{"Account", acct},
		{"AccountWithProviderData", acct.WithProviderData()},
		{"BankDetails", acct.BankDetails[0]},
		{"RoutingCode", acct.BankDetails[0].RoutingCodes[0]},
		{"Balance", acct.Balance},
		{"Job", &bank.Job{ID: "job_1", Status: bank.JobCompletedWithErrors, Total: 3, Succeeded: 1,
			Failed: 1, Cancelled: 1, CreatedAt: done, UpdatedAt: done, CompletedAt: &done}},
		{"ItemResult", &bank.ItemResult{Index: 0, ClientReference: "REF-1", Provider: "batchva",
			Outcome: bank.OutcomeCreated, Account: acct, Routing: acct.Routing, ProviderJobID: "job-1",
			Error: &bank.Problem{Code: bank.InvalidArgument, Message: "bad"}}},
		{"Routing", acct.Routing},
		{"Drift", drift},
		{"Reconciliation", &reconcile.Report{ID: "rcn_1", Provider: "masterfiat", Status: reconcile.ReportCompleted,
			Trigger: reconcile.TriggerOnDemand, Mode: reconcile.ModeList, Instance: "host/1", StartedAt: done, FinishedAt: &done,
			GatewayAccounts: 3, ProviderAccounts: 4, Drifts: []bank.Drift{*drift}, StillOpen: 1, Resolved: 1, Skipped: 1, Error: "x"}},
		{"ItemError", &bank.Problem{Code: bank.InvalidArgument, Message: "refused", Fields: []bank.FieldError{{Pointer: "/items/0/currency", Message: "bad"}},
			ProviderCode: "ITEM_REJECTED"}},
		{"Limits", limits},
		{"ProblemFieldError", bank.FieldError{Pointer: "/items/0/currency", Message: "bad"}},
		{"PoolEntry", fullPool()},
		{"Event", &bank.Event{ID: "evt_1", Tenant: "t1", Type: bank.EventAccountStatusUpdated, CreatedAt: done,
			Data: bank.EventData{Account: acct, PreviousStatus: bank.StatusUnallocated}}},
		{"Event", &bank.Event{ID: "evt_2", Tenant: "t1", Type: bank.EventJobCompleted, CreatedAt: done,
			Data: bank.EventData{Job: &bank.Job{ID: "job_1", Status: bank.JobCompleted, Total: 1, Succeeded: 1, CreatedAt: done, UpdatedAt: done}}}},
		{"Event", &bank.Event{ID: "evt_3", Tenant: "t1", Type: bank.EventPoolLow, CreatedAt: done,
			Data: bank.EventData{Pool: fullPool()}}},
		{"Event", &bank.Event{ID: "evt_1", Tenant: "t1", Type: bank.EventEndpointDisabled, CreatedAt: done,
			Data: bank.EventData{WebhookEndpoint: &bank.EndpointRef{ID: "we_1", URL: "https://hooks.example.com/x", Reason: "gone"}}}},
		{"EventData", bank.EventData{Account: acct, Job: &bank.Job{ID: "job_1", Status: bank.JobCompleted, CreatedAt: done, UpdatedAt: done},
			PreviousStatus: bank.StatusPending, WebhookEndpoint: &bank.EndpointRef{ID: "we_1", URL: "https://hooks.example.com/x", Reason: "failing"}, Pool: fullPool(), Drift: drift,
			OperatorAction: &bank.OperatorAction{Action: "job.cancel", Target: "job_1", Operator: "ops", Detail: "x"}}},
		{"OperatorAction", &bank.OperatorAction{Action: "job.cancel", Target: "job_1", Operator: "ops", Detail: "x"}},
		{"WebhookEndpointRef", &bank.EndpointRef{ID: "we_1", URL: "https://hooks.example.com/x", Reason: "failing"}},
	}
	for _, tt := range tests {
		t.Run(tt.schema, func(t *testing.T) {
			schema := doc.Components.Schemas[tt.schema].Value
			b, err := json.Marshal(tt.value)
			if err != nil {
				t.Fatal(err)
			}
			var v map[string]any
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatal(err)
			}
			if err := schema.VisitJSON(v, openapi3.EnableFormatValidation()); err != nil {
				t.Errorf("%s does not validate: %v\n%s", tt.schema, err, b)
			}
			var goKeys, schemaKeys []string
			for k := range v {
				goKeys = append(goKeys, k)
			}
			for k := range properties(schema) {
				schemaKeys = append(schemaKeys, k)
			}
			sort.Strings(goKeys)
			sort.Strings(schemaKeys)
			for _, k := range goKeys {
				if !slices.Contains(schemaKeys, k) {
					t.Errorf("field %q of the Go type is not in schema %s", k, tt.schema)
				}
			}
			for _, k := range schemaKeys {
				if !slices.Contains(goKeys, k) {
					t.Errorf("schema %s has %q, which the Go type lacks", tt.schema, k)
				}
			}
		})
	}
}

func TestEnumsMatchModel(t *testing.T) {
	doc := loadValid(t)
	var codes []string
	for c := bank.ErrorCode(0); !strings.HasPrefix(c.String(), "ErrorCode("); c++ {
		codes = append(codes, c.String())
	}
	var capabilities []string
	for _, c := range provider.AllCapabilities() {
		capabilities = append(capabilities, string(c))
	}
	tests := map[string][]string{
		"Status": {string(bank.StatusPending), string(bank.StatusUnallocated), string(bank.StatusActive),
			string(bank.StatusBlocked), string(bank.StatusUnblocking), string(bank.StatusClosed), string(bank.StatusFailed)},
		"JobStatus": {string(bank.JobPending), string(bank.JobInProgress), string(bank.JobCompleted),
			string(bank.JobCompletedWithErrors), string(bank.JobCancelled)},
		"Outcome": {string(bank.OutcomePending), string(bank.OutcomeSent), string(bank.OutcomeCreated), string(bank.OutcomeFailed),
			string(bank.OutcomeCancelled), string(bank.OutcomeUnknown)},
		"ErrorCode":  codes,
		"Capability": capabilities,
		"EventType": {string(bank.EventAccountCreated), string(bank.EventAccountStatusUpdated), string(bank.EventAccountAllocated),
			string(bank.EventAccountClosed), string(bank.EventJobCompleted), string(bank.EventPoolLow), string(bank.EventPoolReplenished),
			string(bank.EventEndpointDisabled), string(bank.EventAccountFailover), string(bank.EventReconciliationDrift), string(bank.EventOperatorAction)},
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			var got []string
			for _, e := range doc.Components.Schemas[name].Value.Enum {
				got = append(got, e.(string))
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("enum %v, want %v", got, want)
			}
		})
	}
	for _, e := range tests["EventType"] {
		if !bank.EventType(e).Valid() {
			t.Errorf("bank.EventType(%q) is not valid", e)
		}
	}
	for _, s := range tests["Status"] {
		if !bank.Status(s).Valid() {
			t.Errorf("bank.Status(%q) is not valid", s)
		}
	}
}

// properties are a schema's properties, those of its allOf members included.
func properties(s *openapi3.Schema) map[string]*openapi3.SchemaRef {
	out := map[string]*openapi3.SchemaRef{}
	for _, sub := range s.AllOf {
		for k, v := range properties(sub.Value) {
			out[k] = v
		}
	}
	for k, v := range s.Properties {
		out[k] = v
	}
	return out
}
