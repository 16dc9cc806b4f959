package batchvamock_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/vagate/vagate/mocks/batchvamock"
)

// FuzzCreateRequest drives the create body parser and validator through the
// handler: it never panics, answers 202 or 400 (413 when too large), and a
// refused body creates nothing. The seed corpus is in testdata/fuzz.
func FuzzCreateRequest(f *testing.F) {
	f.Add(readSeed(f, "000-unallocated-create.json"))
	f.Add(readSeed(f, "001-sample-request.json"))
	f.Add([]byte(`{"items":[{"currency":"USD","accountHolderName":"A","accountName":"B","clientReference":"R","dob":"1985-05-20"}]}`))
	m := batchvamock.New(&batchvamock.Options{PendingDelay: time.Hour})
	f.Cleanup(m.Close)
	tok, err := m.Token(batchvamock.DefaultClient().ID)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		before := m.JobCount()
		req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/v1/virtual-accounts", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusAccepted:
			if m.JobCount() != before+1 {
				t.Fatalf("202 but %d jobs, had %d", m.JobCount(), before)
			}
			m.Reset()
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			var e struct{ Error, Message string }
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" || e.Message == "" {
				t.Fatalf("error body %q", rec.Body.Bytes())
			}
			if m.JobCount() != before || m.AccountCount() != 0 {
				t.Fatalf("refused body left %d jobs (had %d), %d accounts", m.JobCount(), before, m.AccountCount())
			}
		default:
			t.Fatalf("status %d %s", rec.Code, rec.Body.Bytes())
		}
	})
}
