package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/provider"
	"github.com/vagate/vagate/core/store"
)

// ProblemTypeBase prefixes every problem code to form the problem type URI.
const ProblemTypeBase = "https://vagate.dev/problems/"

// ProblemContentType is the media type of problem responses.
const ProblemContentType = "application/problem+json"

// Problem codes written by this package.
const (
	CodeValidationFailed       = "validation_failed"
	CodeNotFound               = "not_found"
	CodeConflict               = "conflict"
	CodeFailedPrecondition     = "failed_precondition"
	CodeRateLimited            = "rate_limited"
	CodeProviderUnavailable    = "provider_unavailable"
	CodeProviderTimeout        = "provider_timeout"
	CodeCapabilityNotSupported = "capability_not_supported"
	CodeNotImplemented         = "not_implemented"
	CodeProviderError          = "provider_error"
	CodeProviderAuthFailed     = "provider_auth_failed"
	CodeUnauthenticated        = "unauthenticated"
	CodePermissionDenied       = "permission_denied"
	CodeAccountNotAllowed      = "account_not_allowed"
	CodeRequestCanceled        = "request_canceled"
	CodeInternal               = "internal"
	CodeMethodNotAllowed       = "method_not_allowed"
	CodeInvalidIdempotencyKey  = "invalid_idempotency_key"
	CodeIdempotencyKeyReused   = "idempotency_key_reused"
	CodeIdempotencyKeyInFlight = "idempotency_key_in_flight"
	CodeIdempotencyUnavailable = "idempotency_unavailable"
	CodeStoreUnavailable       = "store_unavailable"
	CodePayloadTooLarge        = "payload_too_large"
	CodeInvalidBody            = "invalid_body"
	CodePoolExhausted          = "pool_exhausted"
)

// Retry-After defaults when the error carries no advice.
const (
	defaultRateLimitRetryAfter  = time.Second
	defaultUnavailableRetryWait = 5 * time.Second
)

// titles are the fixed, human-readable summaries of each problem code.
var titles = map[string]string{
	CodeValidationFailed:       "Validation failed",
	CodeNotFound:               "Not found",
	CodeConflict:               "Conflict",
	CodeFailedPrecondition:     "Failed precondition",
	CodeRateLimited:            "Rate limited",
	CodeProviderUnavailable:    "Provider unavailable",
	CodeProviderTimeout:        "Provider timeout",
	CodeCapabilityNotSupported: "Capability not supported",
	CodeNotImplemented:         "Not implemented",
	CodeProviderError:          "Provider error",
	CodeProviderAuthFailed:     "Provider authentication failed",
	CodeUnauthenticated:        "Unauthenticated",
	CodePermissionDenied:       "Permission denied",
	CodeAccountNotAllowed:      "Account not allowed",
	CodeRequestCanceled:        "Request canceled",
	CodeInternal:               "Internal error",
	CodeMethodNotAllowed:       "Method not allowed",
	CodeInvalidIdempotencyKey:  "Invalid idempotency key",
	CodeIdempotencyKeyReused:   "Idempotency key reused",
	CodeIdempotencyKeyInFlight: "Idempotency key in flight",
	CodeIdempotencyUnavailable: "Idempotency unavailable",
	CodeStoreUnavailable:       "State store unavailable",
	CodePayloadTooLarge:        "Payload too large",
	CodeInvalidBody:            "Invalid body",
	CodePoolExhausted:          "Pool exhausted",
	"field_immutable":          "Field immutable",
	"unsupported_media_type":   "Unsupported media type",
}

// Problem is an RFC 9457 problem detail; it is also an error, so handlers may return one.
type Problem struct {
	Type     string            `json:"type"`
	Title    string            `json:"title"`
	Status   int               `json:"status"`
	Detail   string            `json:"detail,omitempty"`
	Code     string            `json:"code"`
	Instance string            `json:"instance,omitempty"`
	Errors   []bank.FieldError `json:"errors,omitempty"`
	TraceID  string            `json:"traceId,omitempty"`
	// Capability is the capability a provider lacks (capability_not_supported only).
	Capability provider.Capability `json:"capability,omitempty"`
	RetryAfter time.Duration       `json:"-"`
}

// NewProblem returns a problem with the type and title that belong to code.
func NewProblem(status int, code, detail string) *Problem {
	title, ok := titles[code]
	if !ok {
		title = http.StatusText(status)
	}
	return &Problem{Type: ProblemTypeBase + code, Title: title, Status: status, Detail: detail, Code: code}
}

// Error returns the problem code and detail.
func (p *Problem) Error() string {
	if p.Detail == "" {
		return p.Code
	}
	return p.Code + ": " + p.Detail
}

// WriteProblem writes p as application/problem+json with Retry-After, the
// trace id and the request path as its instance, and aborts the chain.
func WriteProblem(c *gin.Context, p *Problem) {
	c.Abort()
	if p == nil {
		p = NewProblem(http.StatusInternalServerError, CodeInternal, "internal error")
	}
	q := *p
	if q.Status == 0 {
		q.Status = http.StatusInternalServerError
	}
	if q.Code == "" {
		q.Code = CodeInternal
	}
	if q.Type == "" {
		q.Type = ProblemTypeBase + q.Code
	}
	if q.Title == "" {
		q.Title = NewProblem(q.Status, q.Code, "").Title
	}
	if q.TraceID == "" {
		q.TraceID = TraceID(c)
	}
	if q.Instance == "" && c.Request != nil {
		q.Instance = c.Request.URL.EscapedPath()
	}
	if c.Writer.Written() {
		return // too late: the handler has already answered
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(&q) // a Problem always encodes
	h := c.Writer.Header()
	if q.RetryAfter > 0 {
		h.Set("Retry-After", retryAfterSeconds(q.RetryAfter))
	}
	c.Data(q.Status, ProblemContentType, buf.Bytes())
}

// retryAfterSeconds rounds d up to whole seconds, at least one.
func retryAfterSeconds(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	return strconv.FormatInt(max(s, 1), 10)
}

// ProblemFromError is the one table from bank.ErrorCode to HTTP status and problem code; nil gives nil.
func ProblemFromError(err error) *Problem {
	if err == nil {
		return nil
	}
	var p *Problem
	if errors.As(err, &p) {
		q := *p
		return &q
	}
	if errors.Is(err, store.ErrUnavailable) {
		q := NewProblem(http.StatusServiceUnavailable, CodeStoreUnavailable, "the gateway's state store is temporarily unavailable; retry later")
		q.RetryAfter = defaultUnavailableRetryWait
		return q
	}
	var ane *gateway.AccountNotAllowedError
	if errors.As(err, &ane) {
		q := NewProblem(http.StatusForbidden, CodeAccountNotAllowed, ane.Error()+"; nothing was created")
		q.Errors = fieldsOf(err)
		return q
	}
	var be *bank.Error
	errors.As(err, &be)
	prov, op := "", ""
	if be != nil {
		prov, op = be.Provider, be.Op
	}
	switch bank.Code(err) {
	case bank.InvalidArgument:
		q := NewProblem(http.StatusBadRequest, CodeValidationFailed, clientDetail(err, be))
		q.Errors = fieldsOf(err)
		return q
	case bank.NotFound:
		return NewProblem(http.StatusNotFound, CodeNotFound, clientDetail(err, be))
	case bank.AlreadyExists:
		return NewProblem(http.StatusConflict, CodeConflict, clientDetail(err, be))
	case bank.FailedPrecondition:
		return NewProblem(http.StatusConflict, CodeFailedPrecondition, clientDetail(err, be))
	case bank.ResourceExhausted:
		q := NewProblem(http.StatusTooManyRequests, CodeRateLimited, "too many requests; retry later")
		if prov != "" {
			q.Detail = fmt.Sprintf("provider %s is rate limiting requests; retry later", prov)
		}
		q.RetryAfter = retryAfterOr(err, defaultRateLimitRetryAfter)
		return q
	case bank.Unavailable:
		q := NewProblem(http.StatusServiceUnavailable, CodeProviderUnavailable, "the service is temporarily unavailable; retry later")
		if prov != "" {
			q.Detail = fmt.Sprintf("provider %s is unavailable; retry later", prov)
		}
		q.RetryAfter = retryAfterOr(err, defaultUnavailableRetryWait)
		return q
	case bank.DeadlineExceeded:
		if prov != "" {
			return NewProblem(http.StatusGatewayTimeout, CodeProviderTimeout,
				fmt.Sprintf("provider %s did not answer %s in time", prov, orWord(op, "the request")))
		}
		return NewProblem(http.StatusGatewayTimeout, CodeProviderTimeout, "the request timed out")
	case bank.Unimplemented:
		var ce *gateway.CapabilityError
		if errors.As(err, &ce) {
			q := NewProblem(http.StatusUnprocessableEntity, CodeCapabilityNotSupported,
				fmt.Sprintf("provider %s does not support capability %s", ce.Provider, ce.Capability))
			q.Capability = ce.Capability
			return q
		}
		if prov != "" {
			return NewProblem(http.StatusNotImplemented, CodeNotImplemented,
				fmt.Sprintf("provider %s does not implement %s", prov, orWord(op, "this operation")))
		}
		return NewProblem(http.StatusNotImplemented, CodeNotImplemented, "not implemented")
	case bank.Internal, bank.Unknown:
		if prov != "" {
			return NewProblem(http.StatusBadGateway, CodeProviderError,
				fmt.Sprintf("provider %s failed during %s", prov, orWord(op, "the request")))
		}
	case bank.Unauthenticated, bank.PermissionDenied:
		var we *gateway.WebhookError
		switch {
		case errors.As(err, &we):
			// The provider is our caller here: its callback is refused.
			return NewProblem(http.StatusUnauthorized, CodeUnauthenticated,
				fmt.Sprintf("the callback could not be verified as coming from provider %s", we.Provider))
		case prov != "":
			// Our credentials at the provider are wrong: never the client's fault.
			return NewProblem(http.StatusBadGateway, CodeProviderAuthFailed,
				fmt.Sprintf("provider %s rejected the gateway's credentials during %s", prov, orWord(op, "the request")))
		case bank.Code(err) == bank.Unauthenticated:
			return NewProblem(http.StatusUnauthorized, CodeUnauthenticated, clientDetail(err, be))
		default:
			return NewProblem(http.StatusForbidden, CodePermissionDenied, clientDetail(err, be))
		}
	case bank.Canceled:
		return NewProblem(http.StatusServiceUnavailable, CodeRequestCanceled, "the request was canceled")
	}
	return NewProblem(http.StatusInternalServerError, CodeInternal, "internal error")
}

// fieldsOf returns the bad fields err names, their messages redacted.
func fieldsOf(err error) []bank.FieldError {
	var out []bank.FieldError
	for _, f := range bank.FieldsOf(err) {
		out = append(out, bank.FieldError{Pointer: f.Pointer, Message: redact(f.Message)})
	}
	return out
}

func orWord(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

func retryAfterOr(err error, d time.Duration) time.Duration {
	if ra := bank.RetryAfterOf(err); ra > 0 {
		return ra
	}
	var se *provider.StatusError
	if errors.As(err, &se) && se.RetryAfter > 0 {
		return se.RetryAfter
	}
	return d
}

// clientDetail describes a client-side failure (4xx) without provider URLs or
// credentials: the provider's own code and message, or our error message.
func clientDetail(err error, be *bank.Error) string {
	var msg string
	var se *provider.StatusError
	switch {
	case errors.As(err, &se):
		msg = se.Message
		if se.ProviderCode != "" {
			msg = se.ProviderCode + ": " + msg
		}
	case be != nil && be.Err != nil:
		msg = be.Err.Error()
	case be != nil:
		msg = be.Code.String()
	default:
		msg = err.Error()
	}
	if be != nil && be.Provider != "" {
		msg = "provider " + be.Provider + ": " + msg
	}
	return redact(msg)
}

var redactions = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+`), "$1 [redacted]"},
	{regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*`), "[redacted]"},
	{regexp.MustCompile(`://[^/\s@]+@`), "://[redacted]@"},
	{regexp.MustCompile(`(?i)\b(password|passwd|secret|token|api[_-]?key|client[_-]?secret)=[^&\s]+`), "$1=[redacted]"},
}

// redact removes anything that looks like a credential from s.
func redact(s string) string {
	for _, r := range redactions {
		s = r.re.ReplaceAllString(s, r.with)
	}
	return s
}

// NotFoundRoute answers a request that matches no route with a 404 problem.
func NotFoundRoute(c *gin.Context) {
	WriteProblem(c, NewProblem(http.StatusNotFound, CodeNotFound,
		fmt.Sprintf("no route for %s %s", c.Request.Method, c.Request.URL.Path)))
}

// MethodNotAllowed answers a request whose path exists under other methods with a 405 problem.
func MethodNotAllowed(c *gin.Context) {
	detail := fmt.Sprintf("%s is not allowed on %s", c.Request.Method, c.Request.URL.Path)
	if allow := c.Writer.Header().Get("Allow"); allow != "" {
		detail += "; allowed: " + allow
	}
	WriteProblem(c, NewProblem(http.StatusMethodNotAllowed, CodeMethodNotAllowed, detail))
}
