package batchvamock

import (
	"context"
	"encoding/csv"
	"encoding/json"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// job is one batch create.
type job struct {
	id, owner     string
	state         string
	items         []createItem
	results       []resultItem
	succeeded     int
	failed        int
	callbackURL   string
	customHeaders map[string]string
	createdAt     time.Time
	updatedAt     time.Time
	completedAt   *time.Time
	cfg           Config
	rng           *mrand.Rand
	ctx           context.Context // cancelled by DELETE, Reset and Close
	cancel        context.CancelFunc
}

type jobStatus struct {
	JobID           string     `json:"jobId"`
	Status          string     `json:"status"`
	TotalItems      int        `json:"totalItems"`
	ProcessedItems  int        `json:"processedItems"`
	SuccessfulItems int        `json:"successfulItems"`
	FailedItems     int        `json:"failedItems"`
	CreatedAt       time.Time  `json:"createdAt"`
	UpdatedAt       time.Time  `json:"updatedAt"`
	CompletedAt     *time.Time `json:"completedAt"`
}

type resultItem struct {
	Index           int          `json:"index"`
	ClientReference *string      `json:"clientReference"`
	Status          string       `json:"status"`
	VirtualAccount  *accountView `json:"virtualAccount,omitempty"`
	Error           *apiError    `json:"error,omitempty"`
}

type jobResults struct {
	JobID  string       `json:"jobId"`
	Status string       `json:"status"`
	Items  []resultItem `json:"items"`
}

// Item result statuses.
const (
	ItemSucceeded = "Succeeded"
	ItemFailed    = "Failed"
)

func now() time.Time { return time.Now().UTC() }

// newJobLocked registers a Pending job; m.mu must be held.
func (m *Mock) newJobLocked(owner string, req *createRequest) *job {
	t := now()
	j := &job{
		id:            m.newID(),
		owner:         owner,
		state:         StatusPending,
		items:         req.Items,
		results:       []resultItem{},
		callbackURL:   req.CallbackURL,
		customHeaders: req.CustomHeaders,
		createdAt:     t,
		updatedAt:     t,
		cfg:           m.cfg,
		rng:           mrand.New(mrand.NewPCG(m.rng.Uint64(), m.rng.Uint64())),
	}
	j.ctx, j.cancel = context.WithCancel(m.ctx)
	m.jobs[j.id] = j
	m.jobOrder = append(m.jobOrder, j)
	return j
}

func (j *job) status() jobStatus {
	return jobStatus{
		JobID:           j.id,
		Status:          j.state,
		TotalItems:      len(j.items),
		ProcessedItems:  len(j.results),
		SuccessfulItems: j.succeeded,
		FailedItems:     j.failed,
		CreatedAt:       j.createdAt,
		UpdatedAt:       j.updatedAt,
		CompletedAt:     j.completedAt,
	}
}

// sleep waits d or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// maxSteps is how many slices a job's items are processed in.
const maxSteps = 10

// run moves j through its states and then delivers its callback.
func (m *Mock) run(j *job) {
	defer m.wg.Done()
	defer j.cancel()
	if !sleep(j.ctx, j.cfg.PendingDelay) {
		return
	}
	m.mu.Lock()
	if j.ctx.Err() != nil || j.state != StatusPending {
		m.mu.Unlock()
		return
	}
	j.state, j.updatedAt = StatusInProgress, now()
	m.mu.Unlock()

	n := len(j.items)
	steps := min(n, maxSteps)
	var callback []byte
	for s := range steps {
		if !sleep(j.ctx, j.cfg.ProcessDelay/time.Duration(steps)) {
			return
		}
		m.mu.Lock()
		if j.ctx.Err() != nil {
			m.mu.Unlock()
			return
		}
		for i := s * n / steps; i < (s+1)*n/steps; i++ {
			m.processLocked(j, i)
		}
		j.updatedAt = now()
		if s == steps-1 {
			j.state = StatusCompleted
			if j.failed > 0 {
				j.state = StatusCompletedWithErrors
			}
			t := j.updatedAt
			j.completedAt = &t
			if j.callbackURL != "" {
				callback, _ = json.Marshal(j.status())
			}
		}
		m.mu.Unlock()
	}
	if callback != nil {
		// Sent under m.mu, after the liveness check, so a Reset either
		// forgets it or never sees it. Delivery outlives the job's run.
		m.mu.Lock()
		if j.ctx.Err() == nil {
			m.Outbox().Send(m.callback(j, callback))
		}
		m.mu.Unlock()
	}
}

// processLocked creates the account of item i, or fails it; m.mu must be held.
func (m *Mock) processLocked(j *job, i int) {
	it := j.items[i]
	res := resultItem{Index: i, ClientReference: it.ClientReference}
	if j.cfg.ItemFailureRate > 0 && j.rng.Float64() < j.cfg.ItemFailureRate {
		res.Status = ItemFailed
		res.Error = &apiError{Error: "ITEM_REJECTED", Message: "the bank rejected this item (simulated failure)"}
		j.failed++
	} else {
		t := now()
		a := &account{owner: j.owner, accountView: accountView{
			VirtualAccountNumber: m.newNumber(),
			BicCode:              BicCode,
			AccountHolderName:    it.AccountHolderName,
			AccountName:          it.AccountName,
			Currency:             it.Currency,
			Balance:              balance{Amount: "0", Currency: it.Currency},
			Category:             Category,
			ClientReference:      it.ClientReference,
			Dob:                  it.Dob,
			NativeLanguageName:   it.NativeLanguageName,
			Allocated:            !it.Unallocated,
			CreatedAt:            t,
			UpdatedAt:            t,
		}}
		m.accounts[a.VirtualAccountNumber] = a
		m.accOrder = append(m.accOrder, a)
		v := a.accountView
		res.Status, res.VirtualAccount = ItemSucceeded, &v
		j.succeeded++
	}
	j.results = append(j.results, res)
}

// lookupJob finds the caller's job or answers 404; m.mu must not be held.
func (m *Mock) lookupJob(w http.ResponseWriter, r *http.Request, owner string) (*job, bool) {
	m.mu.Lock()
	j, ok := m.jobs[r.PathValue("jobId")]
	m.mu.Unlock()
	if !ok || j.owner != owner {
		writeError(w, http.StatusNotFound, "", "no job "+r.PathValue("jobId"))
		return nil, false
	}
	return j, true
}

var statusCSVHeader = []string{"jobId", "status", "totalItems", "processedItems", "successfulItems", "failedItems", "createdAt", "updatedAt", "completedAt"}

var resultsCSVHeader = []string{"index", "clientReference", "status", "virtualAccountNumber", "bicCode", "accountHolderName",
	"accountName", "currency", "balanceAmount", "balanceCurrency", "category", "errorCode", "errorMessage"}

func writeStatus(w http.ResponseWriter, format string, st jobStatus) {
	if format == formatJSON {
		writeJSON(w, http.StatusOK, st)
		return
	}
	completed := ""
	if st.CompletedAt != nil {
		completed = st.CompletedAt.Format(time.RFC3339Nano)
	}
	writeCSV(w, statusCSVHeader, [][]string{{st.JobID, st.Status, strconv.Itoa(st.TotalItems), strconv.Itoa(st.ProcessedItems),
		strconv.Itoa(st.SuccessfulItems), strconv.Itoa(st.FailedItems), st.CreatedAt.Format(time.RFC3339Nano),
		st.UpdatedAt.Format(time.RFC3339Nano), completed}})
}

func writeCSV(w http.ResponseWriter, header []string, rows [][]string) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	cw := csv.NewWriter(w)
	cw.Write(header)
	cw.WriteAll(rows)
}

// readJob is the start of both job reads: the caller's permission, the
// format it accepts, and its own job; on failure the answer is written.
func (m *Mock) readJob(w http.ResponseWriter, r *http.Request) (*job, string, bool) {
	owner, ok := m.authorize(w, r, PermissionRead, PermissionCreate)
	if !ok {
		return nil, "", false
	}
	format, ok := m.negotiate(w, r)
	if !ok {
		return nil, "", false
	}
	j, ok := m.lookupJob(w, r, owner)
	return j, format, ok
}

// handleJob serves GET /v1/virtual-accounts/jobs/{jobId}.
func (m *Mock) handleJob(w http.ResponseWriter, r *http.Request) {
	j, format, ok := m.readJob(w, r)
	if !ok {
		return
	}
	m.mu.Lock()
	st := j.status()
	m.mu.Unlock()
	writeStatus(w, format, st)
}

// handleResults serves GET /v1/virtual-accounts/jobs/{jobId}/results.
func (m *Mock) handleResults(w http.ResponseWriter, r *http.Request) {
	j, format, ok := m.readJob(w, r)
	if !ok {
		return
	}
	m.mu.Lock()
	res := jobResults{JobID: j.id, Status: j.state, Items: append([]resultItem{}, j.results...)}
	m.mu.Unlock()
	if format == formatJSON {
		writeJSON(w, http.StatusOK, res)
		return
	}
	rows := make([][]string, len(res.Items))
	for i, it := range res.Items {
		row := make([]string, len(resultsCSVHeader))
		row[0], row[1], row[2] = strconv.Itoa(it.Index), deref(it.ClientReference), it.Status
		if a := it.VirtualAccount; a != nil {
			copy(row[3:11], []string{a.VirtualAccountNumber, a.BicCode, a.AccountHolderName, a.AccountName, a.Currency,
				a.Balance.Amount, a.Balance.Currency, a.Category})
		}
		if e := it.Error; e != nil {
			row[11], row[12] = e.Error, e.Message
		}
		rows[i] = row
	}
	writeCSV(w, resultsCSVHeader, rows)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// handleCancel serves DELETE /v1/virtual-accounts/jobs/{jobId}.
func (m *Mock) handleCancel(w http.ResponseWriter, r *http.Request) {
	owner, ok := m.authorize(w, r, PermissionCreate)
	if !ok {
		return
	}
	format, ok := m.negotiate(w, r)
	if !ok {
		return
	}
	j, ok := m.lookupJob(w, r, owner)
	if !ok {
		return
	}
	m.mu.Lock()
	if j.state != StatusPending {
		state := j.state
		m.mu.Unlock()
		writeError(w, http.StatusConflict, "", "job is "+state+"; only a Pending job can be cancelled")
		return
	}
	t := now()
	j.state, j.updatedAt, j.completedAt = StatusCancelled, t, &t
	j.cancel()
	st := j.status()
	m.mu.Unlock()
	writeStatus(w, format, st)
}
