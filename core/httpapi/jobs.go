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

// CreateVirtualAccounts validates the whole request, routes every item, and
// starts a job; nothing is sent to any provider when anything is wrong.
func (s *Server) CreateVirtualAccounts(c *gin.Context, params openapi.CreateVirtualAccountsParams) {
	var wait time.Duration
	var fs []FieldError
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
	var spec *jobs.Spec
	var capErr error
	var denied []FieldError
	tenant := Tenant(c)
	if req != nil {
		var more []FieldError
		spec, more, denied, capErr = s.route(tenant, req)
		fs = mergeFields(fs, more)
	}
	if len(fs) > 0 {
		invalid(c, fmt.Sprintf("the request has %d invalid field(s); nothing was created", len(fs)), fs)
		return
	}
	if capErr != nil {
		fail(c, capErr)
		return
	}
	// Only a request valid in every other way learns which accounts it may not use.
	if len(denied) > 0 {
		p := NewProblem(http.StatusForbidden, CodeAccountNotAllowed,
			fmt.Sprintf("%d item(s) name a provider account this tenant may not use; nothing was created", len(denied)))
		p.Errors = denied
		WriteProblem(c, p)
		return
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
			c.JSON(http.StatusOK, done)
			return
		}
	}
	c.JSON(http.StatusAccepted, openapi.JobAccepted{
		JobId: job.ID, Status: openapi.JobStatus(job.Status), StatusUrl: statusURL, ResultUrl: statusURL + "/results",
	})
}

// route picks each item's provider and checks it against that provider's
// capabilities and limits, and against the provider accounts tenant may
// name (denied lists the items' params naming others).
func (s *Server) route(tenant string, req *CreateBody) (spec *jobs.Spec, fs, denied []FieldError, capErr error) {
	spec = &jobs.Spec{CustomHeaders: req.CustomHeaders}
	used := map[string]*gateway.Provider{}
	if req.CallbackURL != "" {
		fs = append(fs, FieldError{Pointer: "/callbackUrl",
			Detail: "must be the url of one of your webhook endpoints, and this gateway has none yet"})
	}
	for i, it := range req.Items {
		ptr := fmt.Sprintf("/items/%d", i)
		if !currencyRE.MatchString(it.Item.Currency) {
			continue // already reported by the parser
		}
		plan, fe := s.d.Router.Plan(ptr, it.Provider, &it.Item)
		if fe != nil {
			fs = append(fs, FieldError{Pointer: fe.Pointer, Detail: fe.Message})
			continue
		}
		p := plan.Provider
		used[p.Name()] = p
		for _, d := range p.CheckAccounts(tenant, ptr, &it.Item) {
			denied = append(denied, FieldError{Pointer: d.Pointer, Detail: d.Message})
		}
		bad, err := p.ValidateItem(ptr, &it.Item)
		if err != nil && capErr == nil {
			capErr = err
		}
		for _, b := range bad {
			fs = append(fs, FieldError{Pointer: b.Pointer, Detail: b.Message})
		}
		spec.Items = append(spec.Items, jobs.Item{Provider: p.Name(), Request: it.Item, RoutedBy: plan.RoutedBy, Fallbacks: plan.Fallbacks})
	}
	for _, p := range used {
		for _, b := range p.ValidateHeaders("/customHeaders", req.CustomHeaders) {
			fs = append(fs, FieldError{Pointer: b.Pointer, Detail: fmt.Sprintf("%s (provider %s)", b.Message, p.Name())})
		}
	}
	return spec, fs, denied, capErr
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

// CSVColumns are the columns of job results as CSV.
var CSVColumns = []string{"index", "clientReference", "provider", "outcome", "accountId", "providerAccountId",
	"status", "currency", "accountNumber", "iban", "errorCode", "errorMessage"}

// GetJobResults returns per-item results as JSON, or CSV on Accept: text/csv.
func (s *Server) GetJobResults(c *gin.Context, id openapi.JobID, params openapi.GetJobResultsParams) {
	rec, err := s.d.Engine.Get(c.Request.Context(), Tenant(c), id)
	if err != nil {
		fail(c, err)
		return
	}
	items := make([]bank.ItemResult, len(rec.Items))
	for i, it := range rec.Items {
		items[i] = it.Result
	}
	if params.Accept == nil || !strings.Contains(strings.ToLower(*params.Accept), "text/csv") {
		c.JSON(http.StatusOK, gin.H{"jobId": rec.Job.ID, "status": rec.Job.Status, "items": items})
		return
	}
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-results.csv"`, rec.Job.ID))
	c.Status(http.StatusOK)
	w := csv.NewWriter(c.Writer)
	w.Write(CSVColumns)
	for _, it := range items {
		row := []string{strconv.Itoa(it.Index), safeCell(it.ClientReference), it.Provider, string(it.Outcome), "", "", "", "", "", "", "", ""}
		if a := it.Account; a != nil {
			row[4], row[5], row[6], row[7] = a.ID, safeCell(a.ProviderAccountID), string(a.Status), a.Currency
			if len(a.BankDetails) > 0 {
				row[8], row[9] = safeCell(a.BankDetails[0].AccountNumber), safeCell(a.BankDetails[0].IBAN)
			}
		}
		if it.Error != nil {
			row[10], row[11] = it.Error.Code.String(), safeCell(it.Error.Message)
		}
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

// mergeFields appends more to fs, skipping pointers fs already names.
func mergeFields(fs, more []FieldError) []FieldError {
	seen := map[string]bool{}
	for _, f := range fs {
		seen[f.Pointer] = true
	}
	for _, f := range more {
		if !seen[f.Pointer] {
			seen[f.Pointer] = true
			fs = append(fs, f)
		}
	}
	return fs
}
