package masterfiatmock_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/vagate/vagate/mocks/masterfiatmock"
)

// FuzzCreateRequest drives the create body parser and validator through the
// handler: it never panics, answers 201, 400 or 422 in the error shape, and
// a refused body creates nothing. The seed corpus is in testdata/fuzz.
func FuzzCreateRequest(f *testing.F) {
	f.Add([]byte(`{"masterFiatAccountId":"fac_gbp000000000000001","currency":"GBP","label":"L","metadata":{"clientReference":"R"}}`))
	f.Add([]byte(`{"masterFiatAccountId":"fac_eur000000000000001","currency":"GBP"}`))
	m := masterfiatmock.New(&masterfiatmock.Options{ActivationDelay: time.Hour,
		FiatAccounts: masterfiatmock.DefaultFiatAccounts(), EndUsers: []masterfiatmock.EndUser{masterfiatmock.DefaultEndUser()}})
	f.Cleanup(m.Close)
	tok, err := m.Token(masterfiatmock.DefaultClient().ID)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		before := m.AccountCount()
		req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/api/v1/virtual-accounts", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusCreated:
			var v masterfiatmock.VirtualAccount
			if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil || v.Status != masterfiatmock.StatusCreated || m.AccountCount() != before+1 {
				t.Fatalf("201 %s (%d accounts, had %d)", rec.Body.Bytes(), m.AccountCount(), before)
			}
			m.Reset()
		case http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusRequestEntityTooLarge:
			var e struct{ Code, Message string }
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Code == "" || e.Message == "" {
				t.Fatalf("error body %q", rec.Body.Bytes())
			}
			if m.AccountCount() != before {
				t.Fatalf("refused body left %d accounts (had %d)", m.AccountCount(), before)
			}
		default:
			t.Fatalf("status %d %s", rec.Code, rec.Body.Bytes())
		}
	})
}
