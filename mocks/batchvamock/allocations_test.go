package batchvamock_test

import (
	"net/http"
	"slices"
	"testing"
)

// Every holder an identity PATCH names is recorded, refused ones too, so
// QA can see an account that was offered to two customers.
func TestAllocationAttemptsAreRecorded(t *testing.T) {
	e := newEnv(t, nil)
	job := e.create(map[string]any{"items": []map[string]any{{"currency": "USD", "unallocated": true}}}, nil)
	res := e.results(e.wait(job.JobID).JobID)
	number := res.Items[0].VirtualAccount.VirtualAccountNumber
	for _, c := range []struct {
		holder string
		status int
	}{{"Jane", http.StatusOK}, {"Jane", http.StatusOK}, {"John", http.StatusConflict}} {
		r := e.do(http.MethodPatch, "/v1/virtual-accounts/"+number, e.tok, nil,
			map[string]string{"accountHolderName": c.holder, "accountName": c.holder})
		if r.status != c.status {
			t.Fatalf("PATCH for %s: %d %s, want %d", c.holder, r.status, r.body, c.status)
		}
	}
	all := e.m.Allocations()
	if len(all) != 1 || !all[0].Allocated || all[0].AccountHolderName != "Jane" || !slices.Equal(all[0].Attempts, []string{"Jane", "John"}) {
		t.Errorf("allocations %+v, want Jane's with attempts Jane, John", all)
	}
	var admin struct {
		Accounts []struct {
			AllocationAttempts []string `json:"allocationAttempts"`
		} `json:"accounts"`
	}
	e.do(http.MethodGet, "/__admin/accounts", "", nil, nil).decode(t, &admin)
	if len(admin.Accounts) != 1 || !slices.Equal(admin.Accounts[0].AllocationAttempts, []string{"Jane", "John"}) {
		t.Errorf("admin accounts %+v", admin)
	}
}
