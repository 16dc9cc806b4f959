package httpapi_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/vagate/vagate/mocks/batchvamock"
)

// GET /v1/virtual-accounts/{id}?include=provider adds the provider's own
// object, verbatim as last received: equal to what the provider answers
// for the account, and the newer one after a refresh. Without include
// there is none; another value is a 400 naming the parameter.
func TestProviderData(t *testing.T) {
	a := newAPI(t)
	tok := a.token(t, "t1")
	_, body := a.call(t, "POST", "/v1/virtual-accounts", tok, strings.NewReader(`{"items":[{"currency":"USD","accountHolderName":"A","accountName":"B","clientReference":"PD-1"}]}`), "Prefer", "wait=10")
	var job struct{ ID string }
	json.Unmarshal(body, &job)
	_, body = a.call(t, "GET", "/v1/jobs/"+job.ID+"/results", tok, nil)
	var res struct {
		Items []struct {
			Account struct{ ID, ProviderAccountID string }
		}
	}
	if err := json.Unmarshal(body, &res); err != nil || len(res.Items) != 1 {
		t.Fatalf("results %s: %v", body, err)
	}
	id, number := res.Items[0].Account.ID, res.Items[0].Account.ProviderAccountID
	mt, err := a.mock.Token(batchvamock.DefaultClient().ID)
	if err != nil {
		t.Fatal(err)
	}
	// atProvider is the provider's own answer for the account.
	atProvider := func(t *testing.T, method, patch string) any {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), method, a.mockURL+"/v1/virtual-accounts/"+number, strings.NewReader(patch))
		req.Header.Set("Authorization", "Bearer "+mt)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s at the provider: %v %v", method, resp, err)
		}
		defer resp.Body.Close()
		var v any
		json.NewDecoder(resp.Body).Decode(&v)
		return v
	}
	tests := []struct {
		name   string
		query  string
		tenant string
		before func(t *testing.T) any // changes the provider's copy; returns the provider's object expected
		status int
		// wantData: the answer has providerData equal to the provider's object.
		wantData bool
	}{
		{"without include", "", "t1", nil, http.StatusOK, false},
		{"include=provider", "?include=provider", "t1", func(t *testing.T) any { return atProvider(t, http.MethodGet, "") }, http.StatusOK, true},
		{"include=provider after a refresh", "?include=provider&refresh=true", "t1", func(t *testing.T) any {
			return atProvider(t, http.MethodPatch, `{"clientReference":"PD-2"}`)
		}, http.StatusOK, true},
		{"unknown include", "?include=everything", "t1", nil, http.StatusBadRequest, false},
		{"another tenant", "?include=provider", "t2", nil, http.StatusNotFound, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var want any
			if tc.before != nil {
				want = tc.before(t)
			}
			resp, body := a.call(t, "GET", "/v1/virtual-accounts/"+id+tc.query, a.token(t, tc.tenant), nil)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d %s, want %d", resp.StatusCode, body, tc.status)
			}
			var got map[string]any
			json.Unmarshal(body, &got)
			pd, has := got["providerData"]
			switch {
			case tc.status == http.StatusBadRequest:
				if !strings.Contains(string(body), `"pointer":"/query/include"`) {
					t.Errorf("problem %s does not name /query/include", body)
				}
			case tc.wantData && !reflect.DeepEqual(pd, want):
				t.Errorf("providerData = %v\nwant the provider's object %v", pd, want)
			case !tc.wantData && has:
				t.Errorf("providerData served without include=provider: %s", body)
			}
			if tc.wantData && got["id"] != id {
				t.Errorf("the unified account is not there: %s", body)
			}
		})
	}
}
