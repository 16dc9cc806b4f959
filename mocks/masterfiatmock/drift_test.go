package masterfiatmock_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/vagate/vagate/mocks/masterfiatmock"
)

// The drift operations change what the API shows, and send no webhook.
func TestAdminDrift(t *testing.T) {
	e := newEnv(t, nil)
	s := newSink(t)
	if r := e.do("POST", "/api/v1/webhooks", "-", `{"url":"`+s.srv.URL+`","events":["VIRTUAL_ACCOUNT.STATUS_UPDATED"]}`); r.status != 201 {
		t.Fatalf("webhook: %d %s", r.status, r.body)
	}
	a := e.create(gbp(""))
	e.waitStatus(a.ID, masterfiatmock.StatusActive)
	s.events(t, 1) // the activation
	get := func(id string) (int, masterfiatmock.VirtualAccount) {
		r := e.do("GET", "/api/v1/virtual-accounts/"+id, "-", "")
		var v masterfiatmock.VirtualAccount
		if r.status == 200 {
			r.decode(t, &v)
		}
		return r.status, v
	}
	tests := []struct {
		name, method, path, body string
		status                   int
		check                    func(t *testing.T, body string)
	}{
		{"status", "PATCH", "/__admin/accounts/" + a.ID, `{"status":"BLOCKED"}`, 200, func(t *testing.T, _ string) {
			if code, v := get(a.ID); code != 200 || v.Status != "BLOCKED" || v.UpdatedAt <= a.UpdatedAt {
				t.Errorf("after the change: %d %+v", code, v)
			}
		}},
		{"label", "PATCH", "/__admin/accounts/" + a.ID, `{"label":"Renamed","accountHolderName":"Someone"}`, 200, func(t *testing.T, _ string) {
			if _, v := get(a.ID); v.Label == nil || *v.Label != "Renamed" || v.Metadata["accountHolderName"] != "Someone" {
				t.Errorf("after the change: %+v", v)
			}
		}},
		{"bad status", "PATCH", "/__admin/accounts/" + a.ID, `{"status":"GONE"}`, 400, nil},
		{"unknown account", "PATCH", "/__admin/accounts/vac_nope", `{"status":"ACTIVE"}`, 404, nil},
		{"unasked", "POST", "/__admin/accounts", `{"currency":"EUR","label":"Stray"}`, 201, func(t *testing.T, body string) {
			id := body[strings.Index(body, `"id":"`)+6:]
			id = id[:strings.Index(id, `"`)]
			if code, v := get(id); code != 200 || v.Status != "ACTIVE" || len(v.BankDetails) != 1 || v.BankDetails[0].IBAN == "" {
				t.Errorf("unasked account: %d %+v", code, v)
			}
		}},
		{"no master account", "POST", "/__admin/accounts", `{"currency":"JPY"}`, 422, nil},
		{"lost", "DELETE", "/__admin/accounts/" + a.ID, "", 204, func(t *testing.T, _ string) {
			if code, _ := get(a.ID); code != http.StatusNotFound {
				t.Errorf("lost account answers %d, want 404", code)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.method, tc.path, "", tc.body)
			if r.status != tc.status {
				t.Fatalf("%d %s, want %d", r.status, r.body, tc.status)
			}
			if tc.check != nil {
				tc.check(t, string(r.body))
			}
		})
	}
	if n := e.m.AccountCount(); n != 1 {
		t.Errorf("the mock holds %d accounts, want 1 (the unasked one)", n)
	}
	if got := len(e.m.Deliveries()); got != 1 {
		t.Errorf("%d webhook deliveries, want only the activation's: drift is behind the client's back", got)
	}
}
