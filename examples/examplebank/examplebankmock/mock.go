// Package examplebankmock is the wire-level fake of the example bank that
// package examplebank speaks: an http.Handler over in-memory state, with the
// shared fault-injection admin API. It is its wire contract:
//
//	POST /v1/accounts        create one account; headers Authorization: Bearer <key>
//	                         and Idempotency-Key (required, at most 255 characters);
//	                         body {"currency", "holderName", "name", "reference"?};
//	                         201 with the account. The same key and body again
//	                         answer the same account (201, Idempotent-Replayed: true);
//	                         the same key with another body is 422 IDEMPOTENCY_KEY_REUSED.
//	GET  /v1/accounts/{id}   200 with the account, or 404 NOT_FOUND
//
// An account is {"id", "currency", "holderName", "name", "reference",
// "status": "OPEN", "accountNumber", "createdAt"}. Errors are
// {"error": {"code", "message"}}: 400 VALIDATION_ERROR (currency not EUR or
// GBP, holderName or name blank or over 140 characters, reference over 64,
// unknown fields), 401 UNAUTHORIZED, 404 NOT_FOUND, 415, 413.
//
// Admin (no auth): GET /__admin/accounts[?reference=R] lists what the mock
// holds (with countByReference when filtered); /__admin/faults is the
// fault injector of package mocks/fault.
package examplebankmock

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/vagate/vagate/mocks/fault"
	"github.com/vagate/vagate/mocks/mockhttp"
)

// DefaultAPIKey is the API key a mock accepts when Options.APIKeys is nil.
const DefaultAPIKey = "ek_test_vagate_examplebank"

// Limits of the provider, and the mock's own body cap.
const (
	MaxName      = 140
	MaxReference = 64
	MaxKey       = 255
	MaxBody      = 64 << 10
)

// Currencies the example bank holds accounts in.
var Currencies = []string{"EUR", "GBP"}

// Options configure a Mock; the zero value gives the defaults.
type Options struct {
	// APIKeys are the accepted bearer API keys; nil means []string{DefaultAPIKey}.
	APIKeys []string
	// Seed makes ids, account numbers and faults reproducible.
	Seed uint64
}

// Account is one account the mock holds, as the API shows it.
type Account struct {
	ID            string    `json:"id"`
	Currency      string    `json:"currency"`
	HolderName    string    `json:"holderName"`
	Name          string    `json:"name"`
	Reference     string    `json:"reference"`
	Status        string    `json:"status"`
	AccountNumber string    `json:"accountNumber"`
	CreatedAt     time.Time `json:"createdAt"`
}

// createBody is the create request.
type createBody struct {
	Currency   string `json:"currency"`
	HolderName string `json:"holderName"`
	Name       string `json:"name"`
	Reference  string `json:"reference"`
}

// keyed is what an idempotency key was first used for.
type keyed struct {
	body createBody
	id   string
}

// Mock is the in-memory example bank; it is an http.Handler.
type Mock struct {
	// Base serves the fault admin API and gives Faults, Reset and Close.
	*mockhttp.Base
	keys map[string]bool

	mu       sync.Mutex
	accounts map[string]*Account
	order    []*Account
	byKey    map[string]keyed
	rng      *rand.Rand
}

// New returns an empty mock.
func New(opts *Options) *Mock {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.APIKeys == nil {
		o.APIKeys = []string{DefaultAPIKey}
	}
	m := &Mock{keys: map[string]bool{}, accounts: map[string]*Account{}, byKey: map[string]keyed{},
		rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x5eed))}
	for _, k := range o.APIKeys {
		m.keys[k] = true
	}
	m.Base = mockhttp.NewBase(&mockhttp.BaseOptions{
		Faults: fault.Options{Seed: o.Seed, ErrorBody: mockhttp.FaultBody(func(status int, msg string) any {
			return errorBody(status, "", msg)
		})},
		Reset: m.resetState,
	})
	api := http.NewServeMux()
	api.HandleFunc("POST /v1/accounts", m.auth(m.handleCreate))
	api.HandleFunc("GET /v1/accounts/{id}", m.auth(m.handleGet))
	admin := http.NewServeMux()
	admin.HandleFunc("GET /__admin/accounts", m.handleAdminAccounts)
	m.Mount(mockhttp.Fallback(api, writeError), mockhttp.Fallback(admin, writeError), mockhttp.BufferBody(MaxBody, writeError))
	return m
}

// resetState forgets every account and idempotency key (Base.Reset).
func (m *Mock) resetState() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.accounts, m.order, m.byKey = map[string]*Account{}, nil, map[string]keyed{}
}

// CountByReference returns how many accounts the mock holds with reference.
func (m *Mock) CountByReference(reference string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, a := range m.order {
		if a.Reference == reference {
			n++
		}
	}
	return n
}

// AccountCount returns how many accounts the mock holds.
func (m *Mock) AccountCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.order)
}

// codes are the error codes of the statuses the mock answers with.
var codes = map[int]string{
	http.StatusBadRequest: "VALIDATION_ERROR", http.StatusUnauthorized: "UNAUTHORIZED", http.StatusNotFound: "NOT_FOUND",
	http.StatusUnprocessableEntity: "IDEMPOTENCY_KEY_REUSED", http.StatusUnsupportedMediaType: "UNSUPPORTED_MEDIA_TYPE",
	http.StatusRequestEntityTooLarge: "PAYLOAD_TOO_LARGE", http.StatusMethodNotAllowed: "METHOD_NOT_ALLOWED",
}

func errorBody(status int, code, msg string) any {
	if code == "" {
		code = codes[status]
	}
	if code == "" {
		code = fmt.Sprintf("HTTP_%d", status)
	}
	type detail struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	return struct {
		Error detail `json:"error"`
	}{detail{code, msg}}
}

func writeError(w http.ResponseWriter, status int, msg string) {
	mockhttp.WriteJSON(w, status, errorBody(status, "", msg))
}

// auth admits requests bearing one of the mock's API keys.
func (m *Mock) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !m.keys[strings.TrimSpace(key)] {
			writeError(w, http.StatusUnauthorized, "missing or invalid API key")
			return
		}
		next(w, r)
	}
}

func (m *Mock) handleCreate(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Idempotency-Key")
	if key == "" || len(key) > MaxKey {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("Idempotency-Key: required, at most %d characters", MaxKey))
		return
	}
	raw, ok := mockhttp.ReadJSONBody(w, r, MaxBody, writeError)
	if !ok {
		return
	}
	var b createBody
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		writeError(w, http.StatusBadRequest, "body: "+err.Error())
		return
	}
	if msg := validate(&b); msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	m.mu.Lock()
	if k, seen := m.byKey[key]; seen {
		a := *m.accounts[k.id]
		m.mu.Unlock()
		if k.body != b {
			writeError(w, http.StatusUnprocessableEntity, "Idempotency-Key was used with another body")
			return
		}
		w.Header().Set("Idempotent-Replayed", "true")
		mockhttp.WriteJSON(w, http.StatusCreated, a)
		return
	}
	a := &Account{ID: fmt.Sprintf("acc_%016x", m.rng.Uint64()), Currency: b.Currency, HolderName: b.HolderName, Name: b.Name,
		Reference: b.Reference, Status: "OPEN", AccountNumber: fmt.Sprintf("%012d", m.rng.Uint64N(1e12)),
		CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
	m.accounts[a.ID] = a
	m.order = append(m.order, a)
	m.byKey[key] = keyed{body: b, id: a.ID}
	out := *a
	m.mu.Unlock()
	mockhttp.WriteJSON(w, http.StatusCreated, out)
}

// validate names the first bad field of a create, or returns "".
func validate(b *createBody) string {
	switch {
	case !slices.Contains(Currencies, b.Currency):
		return fmt.Sprintf("currency: must be one of %s", strings.Join(Currencies, ", "))
	case strings.TrimSpace(b.HolderName) == "" || utf8.RuneCountInString(b.HolderName) > MaxName:
		return fmt.Sprintf("holderName: required, at most %d characters", MaxName)
	case strings.TrimSpace(b.Name) == "" || utf8.RuneCountInString(b.Name) > MaxName:
		return fmt.Sprintf("name: required, at most %d characters", MaxName)
	case utf8.RuneCountInString(b.Reference) > MaxReference:
		return fmt.Sprintf("reference: at most %d characters", MaxReference)
	}
	return ""
}

func (m *Mock) handleGet(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	a, ok := m.accounts[r.PathValue("id")]
	var out Account
	if ok {
		out = *a
	}
	m.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "no account "+r.PathValue("id"))
		return
	}
	mockhttp.WriteJSON(w, http.StatusOK, out)
}

func (m *Mock) handleAdminAccounts(w http.ResponseWriter, r *http.Request) {
	ref, byRef := r.URL.Query()["reference"]
	m.mu.Lock()
	var list []Account
	for _, a := range m.order {
		if !byRef || a.Reference == ref[0] {
			list = append(list, *a)
		}
	}
	m.mu.Unlock()
	mockhttp.WriteJSON(w, http.StatusOK, mockhttp.NewAccountList(list, byRef))
}
