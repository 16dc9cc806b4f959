package batchvamock_test

import (
	"bytes"
	"encoding/csv"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vagate/vagate/mocks/batchvamock"
)

func TestJobLifecycle(t *testing.T) {
	e := newEnv(t, &batchvamock.Options{PendingDelay: 80 * time.Millisecond, ProcessDelay: 150 * time.Millisecond})
	acc := e.create(itemsBody(20, nil), nil)
	var seen []string
	var progress []int
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		var st jobStatus
		e.do(http.MethodGet, "/v1/virtual-accounts/jobs/"+acc.JobID, e.tok, nil, nil).decode(t, &st)
		if len(seen) == 0 || seen[len(seen)-1] != st.Status {
			seen = append(seen, st.Status)
		}
		progress = append(progress, st.ProcessedItems)
		if st.Status == batchvamock.StatusCompleted {
			if st.ProcessedItems != 20 || st.SuccessfulItems != 20 || st.FailedItems != 0 || st.CompletedAt == nil {
				t.Errorf("final status %+v", st)
			}
			break
		}
		time.Sleep(3 * time.Millisecond)
	}
	want := []string{batchvamock.StatusPending, batchvamock.StatusInProgress, batchvamock.StatusCompleted}
	if !slices.Equal(seen, want) {
		t.Fatalf("states %v, want %v", seen, want)
	}
	if !slices.IsSorted(progress) {
		t.Errorf("processedItems went backwards: %v", progress)
	}
	res := e.results(acc.JobID)
	numbers := map[string]bool{}
	for i, it := range res.Items {
		if it.Index != i || it.Status != batchvamock.ItemSucceeded || *it.ClientReference != "REF-"+strconv.Itoa(i) {
			t.Errorf("item %d = %+v, want index order", i, it)
		}
		numbers[it.VirtualAccount.VirtualAccountNumber] = true
	}
	if len(numbers) != 20 {
		t.Errorf("%d distinct account numbers, want 20", len(numbers))
	}
}

func TestItemFailures(t *testing.T) {
	tests := []struct {
		name       string
		rate       float64
		wantStatus string
		allFail    bool
	}{
		{"every item fails", 1, batchvamock.StatusCompletedWithErrors, true},
		{"some items fail", 0.5, batchvamock.StatusCompletedWithErrors, false},
		{"none fail", 0, batchvamock.StatusCompleted, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, &batchvamock.Options{Seed: 7})
			e.m.SetConfig(batchvamock.Config{PendingDelay: time.Millisecond, ProcessDelay: 5 * time.Millisecond, ItemFailureRate: tc.rate})
			acc := e.create(itemsBody(20, nil), nil)
			st := e.wait(acc.JobID)
			if st.Status != tc.wantStatus || st.SuccessfulItems+st.FailedItems != 20 {
				t.Fatalf("job = %+v, want %s", st, tc.wantStatus)
			}
			if tc.allFail && st.FailedItems != 20 {
				t.Errorf("%d items failed, want 20", st.FailedItems)
			}
			failed := 0
			for _, it := range e.results(acc.JobID).Items {
				if it.Status == batchvamock.ItemFailed {
					failed++
					if it.Error == nil || it.Error.Error != "ITEM_REJECTED" || it.Error.Message == "" || it.VirtualAccount != nil {
						t.Errorf("failed item %d = %+v", it.Index, it)
					}
				}
			}
			if failed != st.FailedItems || e.m.AccountCount() != 20-failed {
				t.Errorf("failed %d, status says %d, accounts %d", failed, st.FailedItems, e.m.AccountCount())
			}
		})
	}
}

func TestCancel(t *testing.T) {
	e := newEnv(t, &batchvamock.Options{PendingDelay: time.Hour})
	pending := e.create(itemsBody(2, nil), nil)
	e.m.SetConfig(batchvamock.Config{PendingDelay: time.Millisecond, ProcessDelay: time.Millisecond})
	done := e.create(itemsBody(1, nil), nil)
	e.wait(done.JobID)
	tests := []struct {
		name   string
		job    string
		status int
		want   string
	}{
		{"pending job", pending.JobID, http.StatusOK, batchvamock.StatusCancelled},
		{"already cancelled", pending.JobID, http.StatusConflict, "CONFLICT"},
		{"completed job", done.JobID, http.StatusConflict, "CONFLICT"},
		{"unknown job", uuid.NewString(), http.StatusNotFound, "NOT_FOUND"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(http.MethodDelete, "/v1/virtual-accounts/jobs/"+tc.job, e.tok, nil, nil)
			if r.status != tc.status {
				t.Fatalf("status %d %s, want %d", r.status, r.body, tc.status)
			}
			if tc.status == http.StatusOK {
				var st jobStatus
				r.decode(t, &st)
				if st.Status != tc.want {
					t.Errorf("status %s, want %s", st.Status, tc.want)
				}
				return
			}
			if code, _ := r.apiErr(t); code != tc.want {
				t.Errorf("error %s, want %s", code, tc.want)
			}
		})
	}
	if st := e.wait(pending.JobID); st.Status != batchvamock.StatusCancelled || st.ProcessedItems != 0 {
		t.Errorf("cancelled job = %+v", st)
	}
	if n := e.m.AccountCount(); n != 1 {
		t.Errorf("%d accounts, want only the completed job's 1", n)
	}
}

func TestCSV(t *testing.T) {
	e := newEnv(t, nil)
	acc := e.create(itemsBody(2, func(i int, it map[string]any) {
		if i == 1 {
			it["unallocated"] = true
		}
	}), nil)
	e.wait(acc.JobID)
	tests := []struct {
		name   string
		path   string
		accept string
		header []string
		rows   int
	}{
		{"results", acc.ResultURL, "text/csv", []string{"index", "clientReference", "status", "virtualAccountNumber", "bicCode",
			"accountHolderName", "accountName", "currency", "balanceAmount", "balanceCurrency", "category", "errorCode", "errorMessage"}, 2},
		{"results, csv preferred", acc.ResultURL, "application/json;q=0.5, text/csv", nil, 2},
		{"job status", acc.StatusURL, "text/csv", []string{"jobId", "status", "totalItems", "processedItems", "successfulItems",
			"failedItems", "createdAt", "updatedAt", "completedAt"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(http.MethodGet, tc.path, e.tok, map[string]string{"Accept": tc.accept}, nil)
			if r.status != http.StatusOK || r.header.Get("Content-Type") != "text/csv; charset=utf-8" {
				t.Fatalf("status %d type %q", r.status, r.header.Get("Content-Type"))
			}
			recs, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != tc.rows+1 {
				t.Fatalf("%d records, want header and %d rows", len(recs), tc.rows)
			}
			if tc.header != nil && !slices.Equal(recs[0], tc.header) {
				t.Errorf("header %v, want %v", recs[0], tc.header)
			}
		})
	}
	r := e.do(http.MethodGet, acc.ResultURL, e.tok, map[string]string{"Accept": "text/csv"}, nil)
	recs, _ := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
	row := recs[2]
	if row[0] != "1" || row[1] != "REF-1" || row[2] != "Succeeded" || len(row[3]) != 10 || row[4] != "BPBKBMHMXXX" ||
		row[5] != "UNALLOCATED" || row[6] != "UNALLOCATED" || row[7] != "USD" || row[8] != "0" || row[9] != "USD" || row[10] != "CMS Sub Acct" {
		t.Errorf("row %v", row)
	}
	pref := e.do(http.MethodGet, acc.ResultURL, e.tok, map[string]string{"Accept": "text/csv;q=0.5, application/json"}, nil)
	if pref.header.Get("Content-Type") != "application/json" {
		t.Errorf("preferred JSON answered %s", pref.header.Get("Content-Type"))
	}
}

// The documents offer application/json and text/csv and list no 406: every
// route answers CSV when asked, and an Accept naming neither type is
// answered JSON leniently, 400 strictly (nothing is created).
func TestContentNegotiation(t *testing.T) {
	for _, strict := range []bool{false, true} {
		e := newEnv(t, &batchvamock.Options{Strict: strict})
		acc := e.create(itemsBody(1, func(_ int, it map[string]any) { it["unallocated"] = false }), nil)
		e.wait(acc.JobID)
		number := e.results(acc.JobID).Items[0].VirtualAccount.VirtualAccountNumber
		tests := []struct {
			name, method, path string
			body               any
			status             int
			header             string // of the CSV answer
		}{
			{"create", http.MethodPost, "/v1/virtual-accounts", itemsBody(1, func(_ int, it map[string]any) { it["unallocated"] = false }),
				http.StatusAccepted, "jobId,status,statusUrl,resultUrl"},
			{"job status", http.MethodGet, acc.StatusURL, nil, http.StatusOK, "jobId,status,"},
			{"results", http.MethodGet, acc.ResultURL, nil, http.StatusOK, "index,clientReference,status,"},
			{"account", http.MethodGet, "/v1/virtual-accounts/" + number, nil, http.StatusOK, "virtualAccountNumber,bicCode,"},
			{"list", http.MethodGet, "/v1/virtual-accounts?clientReference=REF-0", nil, http.StatusOK, "virtualAccountNumber,bicCode,"},
			{"patch", http.MethodPatch, "/v1/virtual-accounts/" + number, `{"clientReference":"REF-0"}`, http.StatusOK, "virtualAccountNumber,bicCode,"},
		}
		mode := map[bool]string{false: "lenient", true: "strict"}[strict]
		for _, tc := range tests {
			t.Run(mode+"/"+tc.name+"/csv", func(t *testing.T) {
				r := e.do(tc.method, tc.path, e.tok, map[string]string{"Accept": "text/csv"}, tc.body)
				if r.status != tc.status || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") || !strings.HasPrefix(string(r.body), tc.header) {
					t.Errorf("status %d %s %q, want %d CSV starting %q", r.status, r.header.Get("Content-Type"), r.body, tc.status, tc.header)
				}
				if recs, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll(); err != nil || len(recs) < 2 {
					t.Errorf("CSV %q: %d records, %v", r.body, len(recs), err)
				}
			})
			t.Run(mode+"/"+tc.name+"/xml", func(t *testing.T) {
				before := e.m.JobCount()
				r := e.do(tc.method, tc.path, e.tok, map[string]string{"Accept": "application/xml"}, tc.body)
				switch {
				case strict:
					if code, _ := r.apiErr(t); r.status != http.StatusBadRequest || code != "VALIDATION_ERROR" || e.m.JobCount() != before {
						t.Errorf("status %d %s, want 400 VALIDATION_ERROR and nothing created", r.status, r.body)
					}
				case r.status != tc.status || r.header.Get("Content-Type") != "application/json":
					t.Errorf("status %d %s, want %d JSON", r.status, r.header.Get("Content-Type"), tc.status)
				}
			})
		}
	}
}

func TestIsolation(t *testing.T) {
	e := newEnv(t, nil)
	other := batchvamock.Client{ID: "other", Secret: "other-secret", SigningSecret: "s",
		Permissions: []string{batchvamock.PermissionCreate, batchvamock.PermissionRead, batchvamock.PermissionUpdate}}
	if err := e.m.AddClient(other); err != nil {
		t.Fatal(err)
	}
	if err := e.m.AddClient(other); err == nil {
		t.Error("AddClient accepted a duplicate id")
	}
	otherTok := e.login(other.ID, other.Secret)
	key := map[string]string{"Idempotency-Key": uuid.NewString()}
	mine := e.create(itemsBody(1, nil), key)
	e.wait(mine.JobID)
	number := e.results(mine.JobID).Items[0].VirtualAccount.VirtualAccountNumber
	tests := []struct {
		name, method, path string
		body               any
	}{
		{"job status", http.MethodGet, "/v1/virtual-accounts/jobs/" + mine.JobID, nil},
		{"results", http.MethodGet, "/v1/virtual-accounts/jobs/" + mine.JobID + "/results", nil},
		{"cancel", http.MethodDelete, "/v1/virtual-accounts/jobs/" + mine.JobID, nil},
		{"account", http.MethodGet, "/v1/virtual-accounts/" + number, nil},
		{"patch", http.MethodPatch, "/v1/virtual-accounts/" + number, `{"clientReference":"MINE"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.method, tc.path, otherTok, nil, tc.body)
			if code, _ := r.apiErr(t); r.status != http.StatusNotFound || code != "NOT_FOUND" {
				t.Errorf("status %d %s, want 404 NOT_FOUND", r.status, r.body)
			}
		})
	}
	t.Run("list", func(t *testing.T) {
		var l struct{ Items []account }
		e.do(http.MethodGet, "/v1/virtual-accounts?clientReference=REF-0", otherTok, nil, nil).decode(t, &l)
		if len(l.Items) != 0 {
			t.Errorf("other user lists %d accounts", len(l.Items))
		}
	})
	t.Run("same key, other user", func(t *testing.T) {
		r := e.do(http.MethodPost, "/v1/virtual-accounts", otherTok, key, itemsBody(1, nil))
		var theirs accepted
		r.decode(t, &theirs)
		if r.status != http.StatusAccepted || theirs.JobID == mine.JobID {
			t.Errorf("status %d job %s, want a new job", r.status, theirs.JobID)
		}
		if n := e.m.JobCount(); n != 2 {
			t.Errorf("%d jobs, want 2", n)
		}
	})
}

func TestConcurrentIdempotency(t *testing.T) {
	e := newEnv(t, nil)
	hdr := map[string]string{"Idempotency-Key": uuid.NewString()}
	body := itemsBody(3, nil)
	const n = 100
	answers := make([]resp, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { answers[i] = e.do(http.MethodPost, "/v1/virtual-accounts", e.tok, hdr, body) })
	}
	wg.Wait()
	for i, a := range answers {
		if a.status != http.StatusAccepted || !bytes.Equal(a.body, answers[0].body) {
			t.Fatalf("answer %d: %d %s, want 202 %s", i, a.status, a.body, answers[0].body)
		}
	}
	if j := e.m.JobCount(); j != 1 {
		t.Fatalf("%d jobs, want 1", j)
	}
	var acc accepted
	answers[0].decode(t, &acc)
	e.wait(acc.JobID)
	if got := e.m.AccountCount(); got != 3 {
		t.Errorf("%d accounts, want 3", got)
	}
}

func TestAccounts(t *testing.T) {
	e := newEnv(t, nil)
	acc := e.create(itemsBody(2, func(i int, it map[string]any) {
		it["clientReference"] = "SHARED"
		if i == 1 {
			it["unallocated"] = true
		}
	}), nil)
	e.wait(acc.JobID)
	res := e.results(acc.JobID)
	namedNo, unallocNo := res.Items[0].VirtualAccount.VirtualAccountNumber, res.Items[1].VirtualAccount.VirtualAccountNumber
	readOnly := mustToken(e, batchvamock.PermissionRead)
	tests := []struct {
		name, method, path string
		tok                string
		body               any
		status             int
		code               string
	}{
		{"get", http.MethodGet, "/v1/virtual-accounts/" + namedNo, readOnly, nil, 200, ""},
		{"get unknown", http.MethodGet, "/v1/virtual-accounts/9999999999", "", nil, 404, "NOT_FOUND"},
		{"list", http.MethodGet, "/v1/virtual-accounts?clientReference=SHARED", readOnly, nil, 200, ""},
		{"list without reference", http.MethodGet, "/v1/virtual-accounts", "", nil, 400, "VALIDATION_ERROR"},
		{"patch without update permission", http.MethodPatch, "/v1/virtual-accounts/" + namedNo, readOnly, `{"clientReference":"X"}`, 403, "FORBIDDEN"},
		{"patch unknown field", http.MethodPatch, "/v1/virtual-accounts/" + namedNo, "", `{"currency":"EUR"}`, 400, "VALIDATION_ERROR"},
		{"patch empty", http.MethodPatch, "/v1/virtual-accounts/" + namedNo, "", `{}`, 400, "VALIDATION_ERROR"},
		{"patch placeholder name", http.MethodPatch, "/v1/virtual-accounts/" + unallocNo, "", `{"accountHolderName":"UNALLOCATED","accountName":"X"}`, 400, "VALIDATION_ERROR"},
		{"allocate with one name", http.MethodPatch, "/v1/virtual-accounts/" + unallocNo, "", `{"accountName":"Jane"}`, 400, "VALIDATION_ERROR"},
		// "Immutable after first update": a named account takes one.
		{"patch named account's dob: the first update", http.MethodPatch, "/v1/virtual-accounts/" + namedNo, "", `{"dob":"1990-01-01"}`, 200, ""},
		{"patch named account's dob again", http.MethodPatch, "/v1/virtual-accounts/" + namedNo, "", `{"dob":"1991-01-01"}`, 409, "FIELD_IMMUTABLE"},
		{"patch named account's name after the first update", http.MethodPatch, "/v1/virtual-accounts/" + namedNo, "", `{"accountName":"Other"}`, 409, "FIELD_IMMUTABLE"},
		{"patch named account, same name", http.MethodPatch, "/v1/virtual-accounts/" + namedNo, "", `{"accountName":"Test Virtual Account"}`, 200, ""},
		// While unallocated, identity fields may change without allocating.
		{"unallocated dob only", http.MethodPatch, "/v1/virtual-accounts/" + unallocNo, "", `{"dob":"1985-05-20"}`, 200, ""},
		{"unallocated dob again", http.MethodPatch, "/v1/virtual-accounts/" + unallocNo, "", `{"dob":"1985-05-21","nativeLanguageName":"Jane"}`, 200, ""},
		{"patch unknown account", http.MethodPatch, "/v1/virtual-accounts/9999999999", "", `{"clientReference":"X"}`, 404, "NOT_FOUND"},
		{"method not allowed", http.MethodPut, "/v1/virtual-accounts/" + namedNo, "", `{}`, 405, "METHOD_NOT_ALLOWED"},
		{"unknown route", http.MethodGet, "/v2/nothing", "", nil, 404, "NOT_FOUND"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := tc.tok
			if tok == "" {
				tok = e.tok
			}
			r := e.do(tc.method, tc.path, tok, nil, tc.body)
			if r.status != tc.status {
				t.Fatalf("status %d %s, want %d", r.status, r.body, tc.status)
			}
			if tc.code != "" {
				if code, _ := r.apiErr(t); code != tc.code {
					t.Errorf("error %s, want %s", code, tc.code)
				}
			}
		})
	}
	if a := e.m.Allocations()[1]; a.Allocated || a.AccountHolderName != batchvamock.Placeholder {
		t.Errorf("after dob-only updates the unallocated account is %+v, want still unallocated", a)
	}
	if n := e.m.CountByReference("SHARED"); n != 2 {
		t.Errorf("CountByReference = %d, want 2", n)
	}
	var l struct{ Items []account }
	e.do(http.MethodGet, "/v1/virtual-accounts?clientReference=SHARED", e.tok, nil, nil).decode(t, &l)
	if len(l.Items) != 2 || l.Items[0].VirtualAccountNumber != namedNo {
		t.Errorf("list = %+v", l.Items)
	}
}
