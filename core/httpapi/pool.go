package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/pool"
	"github.com/vagate/vagate/openapi"
)

// maxPoolSize bounds a pool's target and low watermark.
const maxPoolSize = 100000

// retryLaterKey marks an answer that asks the client to try again later
// (an empty pool): the Idempotency middleware does not store it, so a
// retry with the same key runs again.
const retryLaterKey = "vagate.retryLater"

// GetPool lists the tenant's pools.
func (s *Server) GetPool(c *gin.Context) {
	if s.d.Pool == nil {
		notImplemented(c, "the unallocated pool")
		return
	}
	ps, err := s.d.Pool.List(c.Request.Context(), Tenant(c))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": ps})
}

// ConfigurePool sets a pool's target and low watermark.
func (s *Server) ConfigurePool(c *gin.Context, providerName string, currency openapi.Currency) {
	if s.d.Pool == nil {
		notImplemented(c, "the unallocated pool")
		return
	}
	body, ok := jsonBody(c)
	if !ok {
		return
	}
	var f fields
	if !bank.ValidCurrency(string(currency)) {
		f.add("/path/currency", "must be an ISO 4217 code of three upper-case letters")
	}
	target, low := 0, 0
	if m := f.jsonObject(body, "target", "lowWatermark"); m != nil {
		target = f.count("", m, "target", 0, maxPoolSize, true)
		low = f.count("", m, "lowWatermark", 0, maxPoolSize, true)
		if len(f) == 0 && low > target {
			f.add("/lowWatermark", "must not exceed target (%d)", target)
		}
	}
	if len(f) > 0 {
		invalid(c, "the pool settings are not valid; nothing was changed", f)
		return
	}
	p, err := s.d.Pool.Configure(c.Request.Context(), Tenant(c), providerName, string(currency), target, low, "api")
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, p)
}

// ClaimFromPool takes one account of a pool and allocates it to the holder.
func (s *Server) ClaimFromPool(c *gin.Context, _ openapi.ClaimFromPoolParams) {
	if s.d.Pool == nil {
		notImplemented(c, "the unallocated pool")
		return
	}
	body, ok := jsonBody(c)
	if !ok {
		return
	}
	req, fs := ParseClaim(body)
	key := strings.ToLower(c.GetHeader(HeaderIdempotencyKey))
	if key == "" {
		fs = append(fs, bank.FieldError{Pointer: "/headers/" + HeaderIdempotencyKey,
			Message: "is required to claim from the pool: it binds the claim, so that a retry gets the same account"})
	}
	if len(fs) > 0 {
		invalid(c, "the claim is not valid; nothing was claimed", fs)
		return
	}
	req.Key = key
	a, err := s.d.Pool.Claim(c.Request.Context(), Tenant(c), req)
	var ex *pool.ExhaustedError
	var busy *pool.BusyError
	switch {
	case errors.As(err, &ex):
		p := NewProblem(http.StatusConflict, CodePoolExhausted, ex.Error())
		if ex.RetryAfter > 0 {
			p.Detail += "; a replenish job is refilling it"
			p.RetryAfter = ex.RetryAfter
		}
		c.Set(retryLaterKey, true)
		WriteProblem(c, p)
	case errors.As(err, &busy):
		p := NewProblem(http.StatusConflict, CodeIdempotencyKeyInFlight, busy.Error())
		p.RetryAfter = busy.RetryAfter
		c.Set(inFlightKey, true)
		WriteProblem(c, p)
	case errors.Is(err, pool.ErrKeyReused):
		WriteProblem(c, NewProblem(http.StatusUnprocessableEntity, CodeIdempotencyKeyReused,
			"this Idempotency-Key was already used for a different claim"))
	case err != nil:
		fail(c, err)
	default:
		c.JSON(http.StatusOK, a)
	}
}

// ReplenishPool starts a replenish job by hand.
func (s *Server) ReplenishPool(c *gin.Context, _ openapi.ReplenishPoolParams) {
	if s.d.Pool == nil {
		notImplemented(c, "the unallocated pool")
		return
	}
	body, ok := jsonBody(c)
	if !ok {
		return
	}
	var f fields
	var currency, providerName string
	count := 0
	if m := f.jsonObject(body, "currency", "provider", "count"); m != nil {
		currency = f.currency(m)
		providerName, _ = f.str("", m, "provider")
		count = f.count("", m, "count", 1, MaxItems, false)
	}
	if len(f) > 0 {
		invalid(c, "the replenish request is not valid; nothing was started", f)
		return
	}
	job, err := s.d.Pool.Replenish(c.Request.Context(), Tenant(c), providerName, currency, count)
	var re *pool.ReplenishingError
	if errors.As(err, &re) {
		p := NewProblem(http.StatusConflict, CodeConflict, re.Error())
		p.RetryAfter = defaultUnavailableRetryWait
		WriteProblem(c, p)
		return
	}
	if err != nil {
		fail(c, err)
		return
	}
	statusURL := s.opts.PublicURL + "/v1/jobs/" + job.ID
	c.Header("Location", statusURL)
	c.JSON(http.StatusAccepted, openapi.JobAccepted{
		JobId: job.ID, Status: openapi.JobStatus(job.Status), StatusUrl: statusURL, ResultUrl: statusURL + "/results",
	})
}

// ParseClaim reads a claim request's shape strictly; the Idempotency-Key
// is the caller's to add. The rules on the holder's values are the
// provider's (gateway.Provider.ValidateAllocation, applied by the pool).
func ParseClaim(body []byte) (*pool.ClaimRequest, []bank.FieldError) {
	var f fields
	m := f.jsonObject(body, "currency", "provider", "accountHolderName", "accountName", "dob", "nativeLanguageName", "clientReference")
	if m == nil {
		return nil, f
	}
	r := &pool.ClaimRequest{Currency: f.currency(m)}
	r.Provider, _ = f.str("", m, "provider")
	opt := func(key string) *string {
		if v, ok := f.str("", m, key); ok {
			return &v
		}
		return nil
	}
	req := func(key string) *string {
		if absent(m, key) {
			f.add("/"+key, "is required to allocate the claimed account")
			return nil
		}
		return opt(key)
	}
	r.Holder.AccountHolderName = req("accountHolderName")
	r.Holder.AccountName = req("accountName")
	r.Holder.DOB = opt("dob")
	r.Holder.NativeLanguageName = opt("nativeLanguageName")
	r.Holder.ClientReference = opt("clientReference")
	if len(f) > 0 {
		return nil, f
	}
	return r, nil
}

// jsonObject reads the body as a JSON object with the known keys.
func (f *fields) jsonObject(body []byte, known ...string) map[string]json.RawMessage {
	if len(bytes.TrimSpace(body)) == 0 {
		f.add("", "the body is empty; send a JSON object")
		return nil
	}
	if !json.Valid(body) {
		f.add("", "the body is not valid JSON")
		return nil
	}
	return f.object("", body, known...)
}

// currency reads the required currency field; its form is a rule of the
// gateway's router.
func (f *fields) currency(m map[string]json.RawMessage) string {
	return f.required("", m, "currency")
}

// count reads a whole number field from lo to hi.
func (f *fields) count(ptr string, m map[string]json.RawMessage, key string, lo, hi int, required bool) int {
	raw, ok := m[key]
	if !ok || string(raw) == "null" {
		if required {
			f.add(ptr+"/"+key, "is required")
		}
		return 0
	}
	var n int
	if _, err := fmt.Sscan(string(raw), &n); err != nil || fmt.Sprint(n) != strings.TrimSpace(string(raw)) || n < lo || n > hi {
		f.add(ptr+"/"+key, "must be a whole number from %d to %d", lo, hi)
		return 0
	}
	return n
}
