package batchvamock

import (
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/vagate/vagate/mocks/mockhttp"
)

// apiError is the provider's error body.
type apiError struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// errorCodes names the error of each status the mock answers with.
var errorCodes = map[int]string{
	http.StatusBadRequest:            "VALIDATION_ERROR",
	http.StatusUnauthorized:          "UNAUTHORIZED",
	http.StatusForbidden:             "FORBIDDEN",
	http.StatusNotFound:              "NOT_FOUND",
	http.StatusMethodNotAllowed:      "METHOD_NOT_ALLOWED",
	http.StatusConflict:              "CONFLICT",
	http.StatusRequestEntityTooLarge: "PAYLOAD_TOO_LARGE",
	http.StatusUnsupportedMediaType:  "UNSUPPORTED_MEDIA_TYPE",
	http.StatusTooManyRequests:       "TOO_MANY_REQUESTS",
	http.StatusInternalServerError:   "INTERNAL_ERROR",
	http.StatusBadGateway:            "BAD_GATEWAY",
	http.StatusServiceUnavailable:    "SERVICE_UNAVAILABLE",
	http.StatusGatewayTimeout:        "GATEWAY_TIMEOUT",
}

// errorCode is the provider's error code for status.
func errorCode(status int) string {
	if c, ok := errorCodes[status]; ok {
		return c
	}
	text := http.StatusText(status)
	if text == "" {
		return "HTTP_" + strconv.Itoa(status)
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		case r == ' ' || r == '-':
			return '_'
		}
		return -1
	}, text)
}

// faultBody renders injected errors in the provider's shape.
var faultBody = mockhttp.FaultBody(func(status int, msg string) any {
	return apiError{Error: errorCode(status), Message: msg}
})

func writeJSON(w http.ResponseWriter, status int, v any) {
	if err := mockhttp.WriteJSON(w, status, v); err != nil {
		writeError(w, http.StatusInternalServerError, "INTERNAL_ERROR", err.Error())
	}
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	if code == "" {
		code = errorCode(status)
	}
	mockhttp.WriteJSON(w, status, apiError{Error: code, Message: msg})
}

// writeStatusError answers status with msg and the status's default code.
func writeStatusError(w http.ResponseWriter, status int, msg string) {
	writeError(w, status, "", msg)
}

// routes mounts the whole handler: admin routes unguarded, the API behind the fault injector.
func (m *Mock) routes() {
	api := http.NewServeMux()
	api.HandleFunc("POST /v1/auth/token", m.handleToken)
	api.HandleFunc("POST /v1/virtual-accounts", m.handleCreate)
	api.HandleFunc("GET /v1/virtual-accounts", m.handleList)
	api.HandleFunc("GET /v1/virtual-accounts/{number}", m.handleGetAccount)
	api.HandleFunc("PATCH /v1/virtual-accounts/{number}", m.handlePatch)
	api.HandleFunc("GET /v1/virtual-accounts/jobs/{jobId}", m.handleJob)
	api.HandleFunc("DELETE /v1/virtual-accounts/jobs/{jobId}", m.handleCancel)
	api.HandleFunc("GET /v1/virtual-accounts/jobs/{jobId}/results", m.handleResults)
	m.Mount(mockhttp.Fallback(api, writeStatusError), m.adminRoutes(), mockhttp.BufferBody(MaxBody, writeStatusError))
}

// Response formats.
const (
	formatJSON = "json"
	formatCSV  = "csv"
)

// acceptFormat picks the response format from the Accept header; csv says
// whether the route can answer CSV. It returns "" when nothing acceptable.
func acceptFormat(accept string, csv bool) string {
	if strings.TrimSpace(accept) == "" {
		return formatJSON
	}
	best, bestQ, bestSpecific := "", 0.0, false
	for part := range strings.SplitSeq(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				continue
			}
			q = f
		}
		if q <= 0 {
			continue
		}
		var f string
		specific := false
		switch mt {
		case "application/json":
			f, specific = formatJSON, true
		case "application/*", "*/*":
			f = formatJSON
		case "text/csv":
			if csv {
				f, specific = formatCSV, true
			}
		case "text/*":
			if csv {
				f = formatCSV
			}
		}
		if f == "" {
			continue
		}
		if best == "" || q > bestQ || (q == bestQ && specific && !bestSpecific) {
			best, bestQ, bestSpecific = f, q, specific
		}
	}
	return best
}

// negotiate picks the answer's format from the Accept header, as the
// document's Content Negotiation says: application/json (also when Accept
// is omitted) or text/csv. A header naming neither is answered JSON
// leniently; strictly it is 400, the document listing no 406.
func (m *Mock) negotiate(w http.ResponseWriter, r *http.Request) (string, bool) {
	f := acceptFormat(r.Header.Get("Accept"), true)
	if f != "" {
		return f, true
	}
	if m.opts.Strict {
		writeError(w, http.StatusBadRequest, "", "Accept: must be application/json or text/csv (strict mode)")
		return "", false
	}
	return formatJSON, true
}

// readJSONBody checks the content type and reads the body within MaxBody.
func readJSONBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	return mockhttp.ReadJSONBody(w, r, MaxBody, writeStatusError)
}

// baseURL is the absolute base of the URLs the mock hands out.
func (m *Mock) baseURL(r *http.Request) string {
	if m.opts.BaseURL != "" {
		return m.opts.BaseURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
