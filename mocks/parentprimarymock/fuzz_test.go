package parentprimarymock_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/vagate/vagate/mocks/parentprimarymock"
)

// FuzzCreateBody drives the create body parser and validator through the
// signed handler: it never panics, answers 200, 400, 409 or 422 (413 when
// too large) in the error shape, and a refused body creates nothing. The
// seed corpus is in testdata/fuzz.
func FuzzCreateBody(f *testing.F) {
	f.Add([]byte(`{"customerId":"a2b9649e-df7f-4349-adff-1c57283fef10","idempotencyKey":"1483d25d-3f00-4d39-90ce-2379a130becd",` +
		`"parentAccountId":"e0cab2dd-739f-43de-b131-3e423e935bf1","productCode":"FIAT_ACCOUNT_UK_V1","productParameters":null}`))
	f.Add([]byte(`{"customerId":1,"productParameters":[]}`))
	m := parentprimarymock.New(&parentprimarymock.Options{PrimaryAccounts: parentprimarymock.DefaultPrimaryAccounts()})
	f.Cleanup(m.Close)
	p := parentprimarymock.DefaultPartner()
	n := 0
	f.Fuzz(func(t *testing.T, body []byte) {
		before := m.AccountCount()
		n++
		req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/v1/partner/accounts/virtual", bytes.NewReader(body))
		date, nonce := time.Now().UTC().Format(http.TimeFormat), fmt.Sprintf("fuzz-nonce-%012d", n)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+p.APIToken)
		req.Header.Set("Date", date)
		req.Header.Set("X-Alg-Nonce", nonce)
		req.Header.Set("X-Alg-Signature", parentprimarymock.Sign(p.SigningSecret, http.MethodPost, req.RequestURI, date, nonce, body))
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK:
			var a struct{ ID, State string }
			if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil || a.ID == "" || a.State == "" {
				t.Fatalf("200 body %q", rec.Body.Bytes())
			}
			if got := m.AccountCount(); got != before && got != before+1 {
				t.Fatalf("200 but %d accounts, had %d", got, before)
			}
		case http.StatusBadRequest, http.StatusConflict, http.StatusUnprocessableEntity, http.StatusRequestEntityTooLarge:
			var e struct{ Code, Message string }
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Code == "" || e.Message == "" {
				t.Fatalf("error body %q", rec.Body.Bytes())
			}
			if m.AccountCount() != before {
				t.Fatalf("refused body created an account")
			}
		default:
			t.Fatalf("status %d %s", rec.Code, rec.Body.Bytes())
		}
	})
}
