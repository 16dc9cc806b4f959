package batchvamock_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vagate/vagate/mocks/batchvamock"
	"github.com/vagate/vagate/mocks/seedcheck"
)

// readSeed reads one example of the provider's documents from testdata/seed.
func readSeed(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "seed", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The fields of the reference's answers, which it lists instead of showing.
var (
	acceptedFields = []string{"jobId", "resultUrl", "status", "statusUrl"} // "Response 202 fields"
	errorFields    = []string{"error", "message"}                          // "Response 400 fields", and 401, 403, 429, 500
)

// accountExtra are the members the mock's account has beyond the
// reference's Virtual Account Structure (its package documentation).
var accountExtra = []string{"allocated", "clientReference", "createdAt", "dob", "nativeLanguageName", "updatedAt"}

// fieldsOf lists the members of a JSON object, sorted.
func fieldsOf(t *testing.T, body []byte) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// capture answers every callback 204 and keeps it: the reference's sample
// calls back https://my-callback-url.com.
type capture struct{ got chan *http.Request }

func (c capture) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
	}
	c.got <- r
	return &http.Response{StatusCode: http.StatusNoContent, Body: http.NoBody, Header: http.Header{}, Request: r}, nil
}

// resultAccounts returns the virtualAccount of each result of a job, as answered.
func (e *env) resultAccounts(jobID string) [][]byte {
	e.t.Helper()
	r := e.do(http.MethodGet, "/v1/virtual-accounts/jobs/"+jobID+"/results", e.tok, nil, nil)
	var res struct {
		Items []struct {
			VirtualAccount json.RawMessage `json:"virtualAccount"`
		} `json:"items"`
	}
	r.decode(e.t, &res)
	out := make([][]byte, len(res.Items))
	for i, it := range res.Items {
		out[i] = it.VirtualAccount
	}
	return out
}

// checkAccount compares an account the mock answered with the reference's
// Virtual Account Structure, whose names and other echoed members are set
// to want's.
func checkAccount(t *testing.T, what string, raw []byte, want map[string]any) {
	t.Helper()
	example, err := seedcheck.With(readSeed(t, "001-account-structure.json"), want)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range seedcheck.Compare(example, raw, seedcheck.Generated{"virtualAccountNumber": `^\d{10}$`}) {
		t.Errorf("%s: %s", what, d)
	}
	if extra := seedcheck.Extra(example, raw); !slices.Equal(extra, accountExtra) {
		t.Errorf("%s: members beyond the documented structure = %v, want %v", what, extra, accountExtra)
	}
}

// Every JSON example of the documents (shared/seeds 000 and 001), sent
// verbatim, in both modes: the answers have the fields the reference lists
// and the values of its Virtual Account Structure. Strictly, the
// reference's own sample is refused: it leaves out the unallocated flag its
// field list marks required.
func TestSeedExamples(t *testing.T) {
	for _, strict := range []bool{false, true} {
		mode := map[bool]string{false: "lenient", true: "strict"}[strict]
		t.Run(mode+"/guide: unallocated create", func(t *testing.T) {
			e := newEnv(t, &batchvamock.Options{Strict: strict})
			r := e.do(http.MethodPost, "/v1/virtual-accounts", e.tok, nil, readSeed(t, "000-unallocated-create.json"))
			if r.status != http.StatusAccepted || !slices.Equal(fieldsOf(t, r.body), acceptedFields) {
				t.Fatalf("create: %d %s, want 202 with %v", r.status, r.body, acceptedFields)
			}
			var acc accepted
			r.decode(t, &acc)
			if st := e.wait(acc.JobID); st.Status != batchvamock.StatusCompleted || st.SuccessfulItems != 2 {
				t.Fatalf("job = %+v, want Completed with 2", st)
			}
			for _, raw := range e.resultAccounts(acc.JobID) {
				checkAccount(t, "unallocated account", raw, map[string]any{
					"accountHolderName": batchvamock.Placeholder, "accountName": batchvamock.Placeholder})
			}
		})

		t.Run(mode+"/guide: allocation", func(t *testing.T) {
			e := newEnv(t, &batchvamock.Options{Strict: strict})
			acc := e.create(readSeed(t, "000-unallocated-create.json"), nil)
			e.wait(acc.JobID)
			number := e.results(acc.JobID).Items[0].VirtualAccount.VirtualAccountNumber
			r := e.do(http.MethodPatch, "/v1/virtual-accounts/"+number, e.tok, nil, readSeed(t, "000-allocation.json"))
			if r.status != http.StatusOK {
				t.Fatalf("allocation: %d %s", r.status, r.body)
			}
			var a account
			r.decode(t, &a)
			checkAccount(t, "allocated account", r.body, map[string]any{"accountHolderName": "Jane Smith", "accountName": "Jane Smith"})
			if !a.Allocated || *a.ClientReference != "USER_ID_98765" || *a.Dob != "1985-05-20" || *a.NativeLanguageName != "Jane Smith" {
				t.Errorf("allocation not applied: %+v", a)
			}
		})

		t.Run(mode+"/reference: account structure", func(t *testing.T) {
			e := newEnv(t, &batchvamock.Options{Strict: strict})
			// An item with the structure's own values, so every member but
			// the generated number must come back equal.
			acc := e.create(`{"items":[{"currency":"USD","accountHolderName":"T1 Project Alpha Escrow","accountName":"New Title T2","unallocated":false}]}`, nil)
			e.wait(acc.JobID)
			checkAccount(t, "created account", e.resultAccounts(acc.JobID)[0], nil)
		})

		t.Run(mode+"/reference: sample request", func(t *testing.T) {
			cb := capture{got: make(chan *http.Request, 8)}
			e := newEnv(t, &batchvamock.Options{Strict: strict, CallbackClient: &http.Client{Transport: cb}})
			hdr := map[string]string{"Accept": "application/json", "Idempotency-Key": "123e4567-e89b-12d3-a456-426614174000"}
			r := e.do(http.MethodPost, "/v1/virtual-accounts", e.tok, hdr, readSeed(t, "001-sample-request.json"))
			if strict {
				code, msg := r.apiErr(t)
				if r.status != http.StatusBadRequest || code != "VALIDATION_ERROR" || !strings.Contains(msg, "items[0].unallocated") ||
					!strings.Contains(msg, "items[1].unallocated") || !slices.Equal(fieldsOf(t, r.body), errorFields) {
					t.Errorf("strict: %d %s, want 400 naming the missing unallocated flags", r.status, r.body)
				}
				return
			}
			if r.status != http.StatusAccepted || !slices.Equal(fieldsOf(t, r.body), acceptedFields) {
				t.Fatalf("create: %d %s, want 202 with %v", r.status, r.body, acceptedFields)
			}
			var acc accepted
			r.decode(t, &acc)
			e.wait(acc.JobID)
			res := e.resultAccounts(acc.JobID)
			if len(res) != 3 {
				t.Fatalf("%d results, want 3", len(res))
			}
			for i, want := range []map[string]any{
				{"accountHolderName": "Test Company Ltd", "accountName": "Test Virtual Account 001"},
				{"accountHolderName": "Test Company Ltd", "accountName": "Test Virtual Account 002"},
				{"accountHolderName": batchvamock.Placeholder, "accountName": batchvamock.Placeholder},
			} {
				checkAccount(t, "item "+string(rune('0'+i)), res[i], want)
			}
			select {
			case c := <-cb.got:
				if c.URL.String() != "https://my-callback-url.com" || c.Header.Get("X-Custom-Header-2") != "CustomValue2" || c.Header.Get(batchvamock.HeaderSignature) == "" {
					t.Errorf("callback to %s with %v", c.URL, c.Header)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("no callback")
			}
			again := e.do(http.MethodPost, "/v1/virtual-accounts", e.tok, hdr, readSeed(t, "001-sample-request.json"))
			if again.status != http.StatusAccepted || !bytes.Equal(again.body, r.body) || e.m.AccountCount() != 3 {
				t.Errorf("the same key again: %d %s and %d accounts, want the stored answer and 3", again.status, again.body, e.m.AccountCount())
			}
		})
	}
}
