package subaccountmock_test

import (
	"net/http"
	"testing"

	"github.com/vagate/vagate/mocks/subaccountmock"
)

// The drift operations change what the API shows.
func TestAdminDrift(t *testing.T) {
	m := newMock(t, &subaccountmock.Options{MainAccounts: subaccountmock.DefaultMainAccounts()})
	a := create(t, m, institution("drift-1", "ref-1", mainNGN))
	read := func() (int, account) {
		r := call(t, m, "GET", "/v2/sub-accounts/"+a.ID, "")
		var env struct{ Data account }
		if r.status == http.StatusOK {
			r.decode(t, &env)
		}
		return r.status, env.Data
	}
	tests := []struct {
		name, method, path, body string
		status                   int
		check                    func(t *testing.T)
	}{
		{"state", "PATCH", "/__admin/accounts/" + a.ID, `{"state":"PENDING_DEPOSIT_ADDRESS"}`, 204, func(t *testing.T) {
			if code, got := read(); code != 200 || got.State != subaccountmock.StatePendingDepositAddress {
				t.Errorf("after the change: %d %+v", code, got)
			}
		}},
		{"name", "PATCH", "/__admin/accounts/" + a.ID, `{"name":"Renamed"}`, 204, func(t *testing.T) {
			if _, got := read(); got.Name != "Renamed" {
				t.Errorf("after the change: %+v", got)
			}
		}},
		{"bad state", "PATCH", "/__admin/accounts/" + a.ID, `{"state":"GONE"}`, 400, nil},
		{"unknown", "PATCH", "/__admin/accounts/nope", `{"name":"x"}`, 404, nil},
		{"lost", "DELETE", "/__admin/accounts/" + a.ID, "", 204, func(t *testing.T) {
			if code, _ := read(); code != http.StatusNotFound {
				t.Errorf("lost sub-account answers %d, want 404", code)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if r := call(t, m, tc.method, tc.path, tc.body); r.status != tc.status {
				t.Fatalf("%d %s, want %d", r.status, r.body, tc.status)
			}
			if tc.check != nil {
				tc.check(t)
			}
		})
	}
}
