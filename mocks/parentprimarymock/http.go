package parentprimarymock

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/vagate/vagate/mocks/mockhttp"
)

// apiError is the provider's error body.
type apiError struct {
	Code    string       `json:"code"`
	Message string       `json:"message"`
	Errors  []fieldError `json:"errors,omitempty"`
}

// fieldError names one bad member of a request body.
type fieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// problems collects field errors while a body is validated.
type problems []fieldError

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, fieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// String lists every problem as "field: message", "; "-separated.
func (p problems) String() string {
	parts := make([]string, len(p))
	for i, f := range p {
		parts[i] = f.Field + ": " + f.Message
	}
	return strings.Join(parts, "; ")
}

// Error codes the mock answers with, beyond the per-status defaults.
const (
	CodeValidation         = "VALIDATION_ERROR"
	CodeUnauthorized       = "UNAUTHORIZED"
	CodeRequestExpired     = "REQUEST_EXPIRED"
	CodeInvalidNonce       = "INVALID_NONCE"
	CodeNonceReused        = "NONCE_REUSED"
	CodeInvalidSignature   = "INVALID_SIGNATURE"
	CodeAccountNotFound    = "ACCOUNT_NOT_FOUND"
	CodeParentNotFound     = "PARENT_ACCOUNT_NOT_FOUND"
	CodeUnknownProduct     = "UNKNOWN_PRODUCT_CODE"
	CodeCurrencyMismatch   = "CURRENCY_MISMATCH"
	CodeKeyReused          = "IDEMPOTENCY_KEY_REUSED"
	CodeAccountDeleted     = "ACCOUNT_DELETED"
	CodeBalanceNotZero     = "BALANCE_NOT_ZERO"
	CodeInsufficientFunds  = "INSUFFICIENT_FUNDS"
	CodeTransferNotAllowed = "TRANSFER_NOT_ALLOWED"
	CodeAccountNotReady    = "ACCOUNT_NOT_READY"
)

// errorCodes names the error of each status the mock answers with by default.
var errorCodes = map[int]string{
	http.StatusBadRequest:            CodeValidation,
	http.StatusUnauthorized:          CodeUnauthorized,
	http.StatusForbidden:             "FORBIDDEN",
	http.StatusNotFound:              "NOT_FOUND",
	http.StatusMethodNotAllowed:      "METHOD_NOT_ALLOWED",
	http.StatusConflict:              "CONFLICT",
	http.StatusRequestEntityTooLarge: "PAYLOAD_TOO_LARGE",
	http.StatusUnsupportedMediaType:  "UNSUPPORTED_MEDIA_TYPE",
	http.StatusUnprocessableEntity:   "UNPROCESSABLE_ENTITY",
	http.StatusTooManyRequests:       "TOO_MANY_REQUESTS",
	http.StatusInternalServerError:   "INTERNAL_ERROR",
	http.StatusBadGateway:            "BAD_GATEWAY",
	http.StatusServiceUnavailable:    "SERVICE_UNAVAILABLE",
	http.StatusGatewayTimeout:        "GATEWAY_TIMEOUT",
}

// errorCode is the provider's default error code for status.
func errorCode(status int) string {
	if c, ok := errorCodes[status]; ok {
		return c
	}
	return "HTTP_" + strconv.Itoa(status)
}

// faultBody renders injected errors in the provider's shape.
var faultBody = mockhttp.FaultBody(func(status int, msg string) any {
	return apiError{Code: errorCode(status), Message: msg}
})

func writeJSON(w http.ResponseWriter, status int, v any) {
	if err := mockhttp.WriteJSON(w, status, v); err != nil {
		writeError(w, http.StatusInternalServerError, "", err.Error())
	}
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeErrorFields(w, status, code, msg, nil)
}

func writeErrorFields(w http.ResponseWriter, status int, code, msg string, p problems) {
	if code == "" {
		code = errorCode(status)
	}
	mockhttp.WriteJSON(w, status, apiError{Code: code, Message: msg, Errors: p})
}

// writeStatusError answers status with msg and the status's default code.
func writeStatusError(w http.ResponseWriter, status int, msg string) {
	writeError(w, status, "", msg)
}

// routes mounts the whole handler: admin routes unguarded, the API behind
// the fault injector and request authentication.
func (m *Mock) routes() {
	api := http.NewServeMux()
	api.HandleFunc("POST /v1/partner/accounts/virtual", m.handleCreate)
	api.HandleFunc("GET /v1/partner/accounts/virtual/{accountId}", m.handleGet)
	api.HandleFunc("DELETE /v1/partner/accounts/virtual/{accountId}", m.handleDelete)
	m.Mount(mockhttp.GuardedFallback(api, m.authenticate, writeStatusError),
		bufferBody(mockhttp.Fallback(m.adminRoutes(), writeStatusError)), bufferBody)
}

// bodyKey carries the buffered request body in the request context.
type bodyKey struct{}

// bufferBody reads the request body (up to MaxBody+1 bytes) before the fault
// injector runs: the signature covers it, and once a body is read to its end
// the server watches the connection, so a client that gives up on a held
// ("hang") request cancels it. A body over MaxBody is refused with 413.
func bufferBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b []byte
		if r.Body != nil && r.Body != http.NoBody {
			var err error
			b, err = io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
			if err != nil {
				writeError(w, http.StatusBadRequest, "", "body: "+err.Error())
				return
			}
			if len(b) > MaxBody {
				writeError(w, http.StatusRequestEntityTooLarge, "", fmt.Sprintf("body exceeds %d bytes", MaxBody))
				return
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		next.ServeHTTP(w, r.WithContext(contextWithBody(r.Context(), b)))
	})
}

// jsonBody checks the content type of a request that must carry JSON and
// returns its buffered body.
func jsonBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if !mockhttp.RequireJSON(w, r, writeStatusError) {
		return nil, false
	}
	return bodyOf(r), true
}

// decodeStrict reads a small admin JSON body, refusing unknown fields.
func decodeStrict(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(bytes.NewReader(bodyOf(r)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		msg := err.Error()
		if errors.Is(err, io.EOF) {
			msg = "a JSON object is required"
		}
		writeError(w, http.StatusBadRequest, "", "body: "+msg)
		return false
	}
	return true
}
