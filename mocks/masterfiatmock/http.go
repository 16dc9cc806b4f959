package masterfiatmock

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vagate/vagate/mocks/mockhttp"
)

// apiError is the provider's error body.
type apiError struct {
	Code    string       `json:"code"`
	Message string       `json:"message"`
	Errors  []fieldError `json:"errors,omitempty"`
}

type fieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// problems collects validation failures.
type problems []fieldError

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, fieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (p problems) has(field string) bool {
	return slices.ContainsFunc(p, func(f fieldError) bool { return f.Field == field })
}

func (p problems) String() string {
	parts := make([]string, len(p))
	for i, f := range p {
		parts[i] = f.Field + ": " + f.Message
	}
	return strings.Join(parts, "; ")
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
	http.StatusUnprocessableEntity:   "UNPROCESSABLE_ENTITY",
	http.StatusTooManyRequests:       "TOO_MANY_REQUESTS",
	http.StatusInternalServerError:   "INTERNAL_ERROR",
	http.StatusBadGateway:            "BAD_GATEWAY",
	http.StatusServiceUnavailable:    "SERVICE_UNAVAILABLE",
	http.StatusGatewayTimeout:        "GATEWAY_TIMEOUT",
}

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
	if code == "" {
		code = errorCode(status)
	}
	writeJSON(w, status, apiError{Code: code, Message: msg})
}

// writeStatusError answers status with msg and the status's default code.
func writeStatusError(w http.ResponseWriter, status int, msg string) {
	writeError(w, status, "", msg)
}

func writeProblems(w http.ResponseWriter, p problems) {
	writeJSON(w, http.StatusBadRequest, apiError{Code: "VALIDATION_ERROR", Message: p.String(), Errors: p})
}

// routes mounts the whole handler: admin routes unguarded, the API behind the fault injector.
func (m *Mock) routes() {
	api := http.NewServeMux()
	api.HandleFunc("POST /passport/oauth/token", m.handleToken)
	api.HandleFunc("POST /api/v1/virtual-accounts", m.auth(m.handleCreate))
	api.HandleFunc("GET /api/v1/virtual-accounts", m.auth(m.handleList))
	api.HandleFunc("GET /api/v1/virtual-accounts/{id}", m.auth(m.handleGet))
	api.HandleFunc("POST /api/v1/virtual-accounts/{id}/block", m.auth(m.handleLifecycle(opBlock)))
	api.HandleFunc("POST /api/v1/virtual-accounts/{id}/unblock", m.auth(m.handleLifecycle(opUnblock)))
	api.HandleFunc("POST /api/v1/virtual-accounts/{id}/close", m.auth(m.handleLifecycle(opClose)))
	api.HandleFunc("GET /api/v1/fiat-accounts", m.auth(m.handleListFiat))
	api.HandleFunc("GET /api/v1/fiat-accounts/{id}", m.auth(m.handleGetFiat))
	api.HandleFunc("POST /api/v1/webhooks", m.auth(m.handleCreateWebhook))
	api.HandleFunc("GET /api/v1/webhooks", m.auth(m.handleListWebhooks))
	api.HandleFunc("DELETE /api/v1/webhooks/{id}", m.auth(m.handleDeleteWebhook))
	m.Mount(mockhttp.Fallback(api, writeStatusError), m.adminRoutes(), mockhttp.BufferBody(MaxBody, writeStatusError))
}

// readJSONBody checks the content type and reads the body within MaxBody.
func readJSONBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	return mockhttp.ReadJSONBody(w, r, MaxBody, writeStatusError)
}

// auth admits requests with a valid bearer token.
func (m *Mock) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			tok, ok = strings.CutPrefix(h, "bearer ")
		}
		m.mu.Lock()
		t, known := m.tokens[tok]
		m.mu.Unlock()
		if !ok || tok == "" || !known || time.Now().After(t.expires) {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "", "a valid bearer token is required")
			return
		}
		next(w, r)
	}
}

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// Token issues an access token for a client, as the token endpoint would.
func (m *Mock) Token(clientID string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.clients[clientID]; !ok {
		return "", fmt.Errorf("masterfiatmock: unknown client %q", clientID)
	}
	return m.issueLocked(clientID), nil
}

func (m *Mock) issueLocked(clientID string) string {
	b := make([]byte, 24)
	rand.Read(b)
	tok := hex.EncodeToString(b)
	now := time.Now()
	for k, t := range m.tokens {
		if now.After(t.expires) {
			delete(m.tokens, k)
		}
	}
	m.tokens[tok] = token{client: clientID, expires: now.Add(m.opts.TokenTTL)}
	return tok
}

// handleToken serves POST /passport/oauth/token (OAuth 2.0 client credentials).
func (m *Mock) handleToken(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<16))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", "body too large or unreadable"})
		return
	}
	form := url.Values{}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/x-www-form-urlencoded", "":
		if form, err = url.ParseQuery(string(body)); err != nil {
			writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", "body is not form-encoded"})
			return
		}
	case "application/json":
		var j map[string]string
		if json.Unmarshal(body, &j) != nil {
			writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", "body must be an object of strings"})
			return
		}
		for k, v := range j {
			form.Set(k, v)
		}
	default:
		writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", "Content-Type must be application/x-www-form-urlencoded"})
		return
	}
	id, secret := form.Get("client_id"), form.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok && id == "" {
		id, secret = u, p
	}
	switch {
	case form.Get("grant_type") != "client_credentials":
		writeJSON(w, http.StatusBadRequest, oauthError{"unsupported_grant_type", "grant_type must be client_credentials"})
		return
	case !slices.Contains(strings.Fields(form.Get("scope")), Scope):
		writeJSON(w, http.StatusBadRequest, oauthError{"invalid_scope", "scope must include " + Scope})
		return
	}
	m.mu.Lock()
	c, ok := m.clients[id]
	if !ok || subtle.ConstantTimeCompare([]byte(c.Secret), []byte(secret)) != 1 {
		m.mu.Unlock()
		writeJSON(w, http.StatusUnauthorized, oauthError{"invalid_client", "unknown client or wrong secret"})
		return
	}
	tok := m.issueLocked(c.ID)
	m.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, tokenResponse{AccessToken: tok, TokenType: "bearer", ExpiresIn: int64(m.opts.TokenTTL / time.Second)})
}

// fiatView is the fiat account object as the API shows it.
type fiatView struct {
	ID         string   `json:"id"`
	BusinessID string   `json:"businessId"`
	Owner      Owner    `json:"owner"`
	Currency   string   `json:"currency"`
	Label      *string  `json:"label"`
	Status     string   `json:"status"`
	Tags       []string `json:"tags"`
}

func fiatOf(f *FiatAccount) fiatView {
	v := fiatView{ID: f.ID, BusinessID: BusinessID, Owner: Owner{Type: OwnerMember, ID: MemberID},
		Currency: f.Currency, Status: StatusActive, Tags: []string{"MASTER"}}
	if f.Label != "" {
		l := f.Label
		v.Label = &l
	}
	return v
}

// handleListFiat serves GET /api/v1/fiat-accounts.
func (m *Mock) handleListFiat(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	out := struct {
		Data []fiatView `json:"data"`
	}{Data: []fiatView{}}
	for _, id := range m.fiatOrder {
		out.Data = append(out.Data, fiatOf(m.fiat[id]))
	}
	m.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// handleGetFiat serves GET /api/v1/fiat-accounts/{id}.
func (m *Mock) handleGetFiat(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	f, ok := m.fiat[r.PathValue("id")]
	var v fiatView
	if ok {
		v = fiatOf(f)
	}
	m.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "", "no fiat account "+r.PathValue("id"))
		return
	}
	writeJSON(w, http.StatusOK, v)
}
