package httpapi

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/propagation"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/jobs"
	"github.com/vagate/vagate/openapi"
)

// CreateVirtualAccounts checks the request's shape, has the gateway check
// its values and route every item, and starts a job; nothing is sent to any
// provider when anything is wrong.
func (s *Server) CreateVirtualAccounts(c *gin.Context, params openapi.CreateVirtualAccountsParams) {
	var wait time.Duration
	var fs []bank.FieldError
	if params.Prefer != nil {
		w, fe := ParsePrefer(*params.Prefer, s.opts.MaxPreferWait)
		if fe != nil {
			fs = append(fs, *fe)
		}
		wait = w
	}
	body, ok := jsonBody(c)
	if !ok {
		return
	}
	req, bad := ParseCreate(body)
	fs = append(fs, bad...)
	var planned []gateway.Item
	var err error
	tenant := Tenant(c)
	if req != nil {
		cb, cerr := s.callbackField(c.Request.Context(), tenant, req.CallbackURL)
		if cerr != nil {
			fail(c, cerr)
			return
		}
		if cb != nil {
			fs = append(fs, *cb)
		}
		planned, err = s.d.Router.Plan(tenant, &req.Request)
		if bank.Code(err) == bank.InvalidArgument {
			fs = append(fs, bank.FieldsOf(err)...)
		}
	}
	if len(fs) > 0 {
		invalid(c, fmt.Sprintf("the request has %d invalid field(s); nothing was created", len(fs)), fs)
		return
	}
	if err != nil {
		fail(c, err) // a capability a provider lacks, or accounts the tenant may not use
		return
	}
	spec := &jobs.Spec{CallbackURL: req.CallbackURL, CustomHeaders: req.CustomHeaders}
	for _, it := range planned {
		spec.Items = append(spec.Items, jobs.Item{Provider: it.Provider, Request: it.Account, RoutedBy: it.RoutedBy, Fallbacks: it.Fallbacks})
	}
	// The job continues this request's trace, whichever instance runs it.
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(c.Request.Context(), carrier)
	spec.TraceParent = carrier["traceparent"]
	spec.Identity = RequestIdentity(c)
	job, err := s.d.Engine.Submit(c.Request.Context(), tenant, spec)
	if err != nil {
		fail(c, err)
		return
	}
	statusURL := s.opts.PublicURL + "/v1/jobs/" + job.ID
	c.Header("Location", statusURL)
	if wait > 0 {
		ctx, cancel := context.WithTimeout(c.Request.Context(), wait)
		done, err := s.d.Engine.Wait(ctx, tenant, job.ID)
		cancel()
		if err == nil && done.Status.Finished() {
			c.Header("Preference-Applied", "wait="+strconv.Itoa(int(wait/time.Second)))
			c.JSON(http.StatusOK, finishedJob{Job: done, JobID: done.ID, StatusURL: statusURL, ResultURL: statusURL + "/results"})
			return
		}
	}
	c.JSON(http.StatusAccepted, openapi.JobAccepted{
		JobId: job.ID, Status: openapi.JobStatus(job.Status), StatusUrl: statusURL, ResultUrl: statusURL + "/results",
	})
}

// finishedJob is the document's FinishedJob: a job that finished while its
// create waited, with the jobId and URLs the 202 answer carries.
type finishedJob struct {
	*bank.Job
	JobID     string `json:"jobId"`
	StatusURL string `json:"statusUrl"`
	ResultURL string `json:"resultUrl"`
}

// GetJob returns a job's status and counts.
func (s *Server) GetJob(c *gin.Context, id openapi.JobID) {
	job, err := s.d.Engine.Job(c.Request.Context(), Tenant(c), id)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, job)
}

// CancelJob cancels the items of a job not yet sent.
func (s *Server) CancelJob(c *gin.Context, id openapi.JobID, _ openapi.CancelJobParams) {
	job, err := s.d.Engine.Cancel(c.Request.Context(), Tenant(c), id)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, job)
}

// CSVColumns are the columns of job results as CSV: those of the JSON
// results, the first bank details and the balance, and the provider's own
// error code and job.
var CSVColumns = []string{"index", "clientReference", "provider", "outcome", "accountId", "providerAccountId",
	"status", "currency", "accountNumber", "iban", "errorCode", "errorMessage",
	"bic", "accountHolderName", "accountName", "balanceAvailable", "balanceCurrency", "category", "providerCode", "providerJobId"}

// GetJobResults returns per-item results as JSON, or as CSV on Accept:
// text/csv (the answer of GetJobResultsCsv).
func (s *Server) GetJobResults(c *gin.Context, id openapi.JobID, params openapi.GetJobResultsParams) {
	job, items, ok := s.jobResults(c, id)
	if !ok {
		return
	}
	if params.Accept != nil && strings.Contains(strings.ToLower(*params.Accept), "text/csv") {
		writeResultsCSV(c, job, items)
		return
	}
	c.JSON(http.StatusOK, gin.H{"jobId": job.ID, "status": job.Status, "items": items})
}

// GetJobResultsCsv returns per-item results as CSV.
func (s *Server) GetJobResultsCsv(c *gin.Context, id openapi.JobID) {
	if job, items, ok := s.jobResults(c, id); ok {
		writeResultsCSV(c, job, items)
	}
}

// jobResults reads a job's item results, an item with the provider shown
// as sent; it answers the problem and returns false when it cannot.
func (s *Server) jobResults(c *gin.Context, id string) (*bank.Job, []bank.ItemResult, bool) {
	rec, err := s.d.Engine.Get(c.Request.Context(), Tenant(c), id)
	if err != nil {
		fail(c, err)
		return nil, nil, false
	}
	items := make([]bank.ItemResult, len(rec.Items))
	for i, it := range rec.Items {
		items[i] = it.Result
		if it.Result.Outcome == bank.OutcomePending && it.Sent {
			items[i].Outcome = bank.OutcomeSent
		}
	}
	return &rec.Job, items, true
}

// writeResultsCSV answers a job's results as CSV.
func writeResultsCSV(c *gin.Context, job *bank.Job, items []bank.ItemResult) {
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-results.csv"`, job.ID))
	c.Status(http.StatusOK)
	w := csv.NewWriter(c.Writer)
	w.Write(CSVColumns)
	for _, it := range items {
		row := make([]string, len(CSVColumns))
		row[0], row[1], row[2], row[3] = strconv.Itoa(it.Index), safeCell(it.ClientReference), it.Provider, string(it.Outcome)
		if a := it.Account; a != nil {
			row[4], row[5], row[6], row[7] = a.ID, safeCell(a.ProviderAccountID), string(a.Status), a.Currency
			if len(a.BankDetails) > 0 {
				d := a.BankDetails[0]
				row[8], row[9], row[12], row[17] = safeCell(d.AccountNumber), safeCell(d.IBAN), safeCell(d.BIC), safeCell(d.Extra["category"])
			}
			row[13], row[14] = safeCell(a.AccountHolderName), safeCell(a.AccountName)
			if b := a.Balance; b != nil {
				row[15], row[16] = b.Available, b.Currency
			}
		}
		if it.Error != nil {
			row[10], row[11], row[18] = it.Error.Code.String(), safeCell(it.Error.Message), safeCell(it.Error.ProviderCode)
		}
		row[19] = safeCell(it.ProviderJobID)
		w.Write(row)
	}
	w.Flush()
}

// safeCell defuses spreadsheet formula injection in client-supplied text.
func safeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
