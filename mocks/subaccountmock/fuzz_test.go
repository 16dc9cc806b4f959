package subaccountmock_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/vagate/vagate/mocks/subaccountmock"
)

// FuzzCreateBody drives the create body parser through the handler: it never
// panics, answers 201 or a refusal in the provider's error shape naming a
// field, and a refused body creates nothing. The seed corpus is in
// testdata/fuzz/FuzzCreateBody.
func FuzzCreateBody(f *testing.F) {
	f.Add([]byte(`{"classification":"institution","identifier":"procurement-123","currency":"NGN","client_reference":"proc-123"}`))
	f.Add([]byte(`{"classification":"customer","customer_id":"abcdef12-3456-7890-abcd-ef1234567890","currency":"NGN"}`))
	m := subaccountmock.New(&subaccountmock.Options{Seed: 1})
	f.Cleanup(m.Close)
	f.Fuzz(func(t *testing.T, body []byte) {
		before := m.AccountCount()
		req, ps := subaccountmock.ParseCreate(body)
		r := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/v2/sub-accounts", bytes.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+subaccountmock.DefaultAPIKey)
		r.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, r)
		switch rec.Code {
		case http.StatusCreated:
			if len(ps) > 0 || m.AccountCount() != before+1 {
				t.Fatalf("201 with problems %v or without an account", ps)
			}
			if req.Classification != subaccountmock.ClassificationInstitution && req.Classification != subaccountmock.ClassificationCustomer {
				t.Fatalf("201 for classification %q", req.Classification)
			}
			m.Reset()
		case http.StatusBadRequest, http.StatusConflict, http.StatusUnprocessableEntity, http.StatusRequestEntityTooLarge:
			var e struct {
				Error struct {
					Code, Message string
					Details       []subaccountmock.Problem
				}
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
				t.Fatalf("error body %q", rec.Body.Bytes())
			}
			if rec.Code == http.StatusBadRequest && len(e.Error.Details) == 0 {
				t.Fatalf("400 without details: %s", rec.Body.Bytes())
			}
			if m.AccountCount() != before {
				t.Fatalf("a refused body left an account")
			}
		default:
			t.Fatalf("status %d %s", rec.Code, rec.Body.Bytes())
		}
	})
}
