package batchvamock

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
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
	http.StatusNotAcceptable:         "NOT_ACCEPTABLE",
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
func faultBody(status int) (string, []byte) {
	msg := http.StatusText(status)
	if msg == "" {
		msg = "injected error"
	}
	b, _ := json.Marshal(apiError{Error: errorCode(status), Message: msg})
	return "application/json", b
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "INTERNAL_ERROR", err.Error())
		return
	}
	writeRaw(w, status, b)
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	if code == "" {
		code = errorCode(status)
	}
	b, _ := json.Marshal(apiError{Error: code, Message: msg})
	writeRaw(w, status, b)
}

// routes builds the whole handler: admin routes unguarded, the API behind the fault injector.
func (m *Mock) routes() http.Handler {
	api := http.NewServeMux()
	api.HandleFunc("POST /v1/auth/token", m.handleToken)
	api.HandleFunc("POST /v1/virtual-accounts", m.handleCreate)
	api.HandleFunc("GET /v1/virtual-accounts", m.handleList)
	api.HandleFunc("GET /v1/virtual-accounts/{number}", m.handleGetAccount)
	api.HandleFunc("PATCH /v1/virtual-accounts/{number}", m.handlePatch)
	api.HandleFunc("GET /v1/virtual-accounts/jobs/{jobId}", m.handleJob)
	api.HandleFunc("DELETE /v1/virtual-accounts/jobs/{jobId}", m.handleCancel)
	api.HandleFunc("GET /v1/virtual-accounts/jobs/{jobId}/results", m.handleResults)
	guarded := bufferBody(m.faults.Middleware(withErrorFallback(api)))
	admin := m.adminRoutes()
	faults := m.faults.AdminHandler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case p == "/__admin/faults" || strings.HasPrefix(p, "/__admin/faults/"):
			faults.ServeHTTP(w, r)
		case p == "/__admin" || strings.HasPrefix(p, "/__admin/"):
			admin.ServeHTTP(w, r)
		default:
			guarded.ServeHTTP(w, r)
		}
	})
}

// bufferBody reads the request body before the fault injector runs: once a
// body is read to its end the server watches the connection, so a client
// that gives up on a held ("hang") request cancels it instead of leaving it
// for the fault's full hang time. A body over MaxBody is left for the
// handler to refuse.
func bufferBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			b, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
			if err != nil {
				writeError(w, http.StatusBadRequest, "", "body: "+err.Error())
				return
			}
			rest := r.Body
			if len(b) <= MaxBody {
				rest = http.NoBody
			}
			r.Body = readCloser{io.MultiReader(bytes.NewReader(b), rest), r.Body}
		}
		next.ServeHTTP(w, r)
	})
}

type readCloser struct {
	io.Reader
	io.Closer
}

// withErrorFallback answers unknown routes and methods in the provider's error shape.
func withErrorFallback(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		rec := &headerRecorder{header: http.Header{}}
		h.ServeHTTP(rec, r)
		if rec.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", rec.header.Get("Allow"))
			writeError(w, http.StatusMethodNotAllowed, "", fmt.Sprintf("method %s not allowed on %s", r.Method, r.URL.Path))
			return
		}
		writeError(w, http.StatusNotFound, "", "no route for "+r.URL.Path)
	})
}

type headerRecorder struct {
	header http.Header
	status int
}

func (h *headerRecorder) Header() http.Header         { return h.header }
func (h *headerRecorder) WriteHeader(s int)           { h.status = s }
func (h *headerRecorder) Write(b []byte) (int, error) { return len(b), nil }

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

// negotiate answers 406 when the client accepts none of the route's formats.
func negotiate(w http.ResponseWriter, r *http.Request, csv bool) (string, bool) {
	f := acceptFormat(r.Header.Get("Accept"), csv)
	if f == "" {
		offered := "application/json"
		if csv {
			offered += " or text/csv"
		}
		writeError(w, http.StatusNotAcceptable, "", "this resource is available as "+offered)
		return "", false
	}
	return f, true
}

// readJSONBody checks the content type and reads the body within MaxBody.
func readJSONBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			writeError(w, http.StatusUnsupportedMediaType, "", "Content-Type must be application/json")
			return nil, false
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, http.StatusRequestEntityTooLarge, "", fmt.Sprintf("body exceeds %d bytes", MaxBody))
			return nil, false
		}
		writeError(w, http.StatusBadRequest, "", "body: "+err.Error())
		return nil, false
	}
	return body, true
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
