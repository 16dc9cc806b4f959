package batchvamock_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/vagate/vagate/mocks/batchvamock"
)

// The JSON examples of the provider's documents (shared/seeds 000 and 001), verbatim.
const (
	guideUnallocatedCreate = `{
"items": [
{
"currency": "USD",
"unallocated": true
},
{
"currency": "USD",
"unallocated": true
}
]
}`
	guideAllocation = `{
"accountHolderName": "Jane Smith",
"accountName": "Jane Smith",
"clientReference": "USER_ID_98765",
"dob": "1985-05-20",
"nativeLanguageName": "Jane Smith"
}`
	referenceAccountStructure = `{ "virtualAccountNumber": "1000327642", "bicCode": "BPBKBMHMXXX", "accountHolderName": "T1 Project Alpha Escrow", "accountName": "New Title T2", "currency": "USD", "balance": { "amount": "0", "currency": "USD" }, "category": "CMS Sub Acct" }`
	referenceIdempotencyKey   = "123e4567-e89b-12d3-a456-426614174000"
)

// referenceSample is the body of the reference's JavaScript sample, with its
// callbackUrl pointing at the test's receiver.
func referenceSample(callbackURL string) map[string]any {
	return map[string]any{
		"callbackUrl": callbackURL,
		"customHeaders": map[string]string{
			"X-Custom-Header-1": "CustomValue1",
			"X-Custom-Header-2": "CustomValue2",
			"X-Custom-Header-3": "CustomValue3",
		},
		"items": []map[string]any{
			{"currency": "USD", "accountHolderName": "Test Company Ltd", "accountName": "Test Virtual Account 001", "clientReference": "BATCH-REF-001"},
			{"currency": "USD", "accountHolderName": "Test Company Ltd", "accountName": "Test Virtual Account 002", "clientReference": "BATCH-REF-002"},
			{"currency": "USD", "unallocated": true, "clientReference": "UNALLOC-001"},
		},
	}
}

func TestSeedExamples(t *testing.T) {
	t.Run("guide unallocated create", func(t *testing.T) {
		e := newEnv(t, nil)
		acc := e.create(guideUnallocatedCreate, nil)
		if st := e.wait(acc.JobID); st.Status != batchvamock.StatusCompleted || st.SuccessfulItems != 2 {
			t.Fatalf("job = %+v, want Completed with 2 successes", st)
		}
		res := e.results(acc.JobID)
		if len(res.Items) != 2 {
			t.Fatalf("results hold %d items, want 2", len(res.Items))
		}
		for _, it := range res.Items {
			a := it.VirtualAccount
			if it.Status != batchvamock.ItemSucceeded || a == nil || a.AccountHolderName != "UNALLOCATED" || a.AccountName != "UNALLOCATED" || a.Allocated || a.Currency != "USD" {
				t.Errorf("item %d = %s %+v, want an unallocated USD account", it.Index, it.Status, a)
			}
		}
	})

	t.Run("guide allocation", func(t *testing.T) {
		e := newEnv(t, nil)
		acc := e.create(`{"items":[{"currency":"USD","unallocated":true}]}`, nil)
		e.wait(acc.JobID)
		number := e.results(acc.JobID).Items[0].VirtualAccount.VirtualAccountNumber
		path := "/v1/virtual-accounts/" + number
		tests := []struct {
			name   string
			body   string
			status int
			code   string
			check  func(t *testing.T, a account)
		}{
			{"allocate", guideAllocation, http.StatusOK, "", func(t *testing.T, a account) {
				if a.AccountHolderName != "Jane Smith" || a.AccountName != "Jane Smith" || !a.Allocated ||
					*a.ClientReference != "USER_ID_98765" || *a.Dob != "1985-05-20" || *a.NativeLanguageName != "Jane Smith" {
					t.Errorf("after allocation: %+v", a)
				}
			}},
			{"resend same allocation", guideAllocation, http.StatusOK, "", nil},
			{"change accountName", `{"accountName":"John Doe"}`, http.StatusConflict, "FIELD_IMMUTABLE", nil},
			{"change only clientReference", `{"clientReference":"USER_ID_11111"}`, http.StatusOK, "", func(t *testing.T, a account) {
				if *a.ClientReference != "USER_ID_11111" || a.AccountName != "Jane Smith" {
					t.Errorf("after reference change: %+v", a)
				}
			}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := e.do(http.MethodPatch, path, e.tok, nil, tc.body)
				if r.status != tc.status {
					t.Fatalf("status %d %s, want %d", r.status, r.body, tc.status)
				}
				if tc.code != "" {
					if code, _ := r.apiErr(t); code != tc.code {
						t.Errorf("error %s, want %s", code, tc.code)
					}
					return
				}
				var a account
				r.decode(t, &a)
				if tc.check != nil {
					tc.check(t, a)
				}
			})
		}
	})

	t.Run("reference sample request", func(t *testing.T) {
		e := newEnv(t, nil)
		cb := newSink(t, nil)
		hdr := map[string]string{"Accept": "application/json", "Idempotency-Key": referenceIdempotencyKey}
		first := e.do(http.MethodPost, "/v1/virtual-accounts", e.tok, hdr, referenceSample(cb.srv.URL))
		if first.status != http.StatusAccepted {
			t.Fatalf("create: %d %s", first.status, first.body)
		}
		var acc accepted
		first.decode(t, &acc)
		if acc.JobID == "" || acc.Status != batchvamock.StatusPending ||
			acc.StatusURL != e.srv.URL+"/v1/virtual-accounts/jobs/"+acc.JobID || acc.ResultURL != acc.StatusURL+"/results" {
			t.Fatalf("202 body = %+v", acc)
		}
		if st := e.wait(acc.JobID); st.Status != batchvamock.StatusCompleted {
			t.Fatalf("job = %+v, want Completed", st)
		}
		res := e.results(acc.JobID)
		if len(res.Items) != 3 {
			t.Fatalf("results hold %d items, want 3", len(res.Items))
		}
		if it := res.Items[2]; *it.ClientReference != "UNALLOC-001" || it.VirtualAccount.AccountName != "UNALLOCATED" {
			t.Errorf("third item = %+v, want the unallocated UNALLOC-001", it.VirtualAccount)
		}
		r, body := cb.next(t)
		for i := 1; i <= 3; i++ {
			k := "X-Custom-Header-" + string(rune('0'+i))
			if got := r.Header.Get(k); got != "CustomValue"+string(rune('0'+i)) {
				t.Errorf("callback %s = %q", k, got)
			}
		}
		var st jobStatus
		if err := json.Unmarshal(body, &st); err != nil || st.JobID != acc.JobID || st.Status != batchvamock.StatusCompleted {
			t.Errorf("callback body %s", body)
		}

		again := e.do(http.MethodPost, "/v1/virtual-accounts", e.tok, hdr, referenceSample(cb.srv.URL))
		if again.status != http.StatusAccepted || !bytes.Equal(again.body, first.body) {
			t.Errorf("resend: %d %s, want the stored %s", again.status, again.body, first.body)
		}
		if n, j := e.m.AccountCount(), e.m.JobCount(); n != 3 || j != 1 {
			t.Errorf("after resend: %d accounts, %d jobs, want 3 and 1", n, j)
		}
	})

	t.Run("virtual account structure", func(t *testing.T) {
		e := newEnv(t, nil)
		acc := e.create(referenceSample(""), nil)
		e.wait(acc.JobID)
		r := e.do(http.MethodGet, "/v1/virtual-accounts/jobs/"+acc.JobID+"/results", e.tok, nil, nil)
		var raw struct {
			Items []struct {
				VirtualAccount map[string]any `json:"virtualAccount"`
			} `json:"items"`
		}
		r.decode(t, &raw)
		var example map[string]any
		if err := json.Unmarshal([]byte(referenceAccountStructure), &example); err != nil {
			t.Fatal(err)
		}
		got := raw.Items[0].VirtualAccount
		for _, k := range keys("", example) {
			if !hasKey(got, k) {
				t.Errorf("result account lacks %s: %v", k, got)
			}
		}
		num, _ := got["virtualAccountNumber"].(string)
		if len(num) != 10 || strings.Trim(num, "0123456789") != "" {
			t.Errorf("virtualAccountNumber %q is not ten digits", num)
		}
		if got["bicCode"] != "BPBKBMHMXXX" || got["category"] != "CMS Sub Acct" {
			t.Errorf("bicCode/category = %v/%v", got["bicCode"], got["category"])
		}
		if b, _ := got["balance"].(map[string]any); b["amount"] != "0" || b["currency"] != "USD" {
			t.Errorf("balance = %v", got["balance"])
		}
	})
}

// keys lists the dotted paths of every member of m.
func keys(prefix string, m map[string]any) []string {
	var out []string
	for k, v := range m {
		out = append(out, prefix+k)
		if sub, ok := v.(map[string]any); ok {
			out = append(out, keys(prefix+k+".", sub)...)
		}
	}
	return out
}

func hasKey(m map[string]any, dotted string) bool {
	head, rest, nested := strings.Cut(dotted, ".")
	v, ok := m[head]
	if !ok || !nested {
		return ok
	}
	sub, ok := v.(map[string]any)
	return ok && hasKey(sub, rest)
}
