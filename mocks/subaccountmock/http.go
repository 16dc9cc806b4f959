package subaccountmock

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/vagate/vagate/mocks/mockhttp"
)

// Provider error codes, one per status the mock answers with.
const (
	CodeValidation          = "VALIDATION_ERROR"
	CodeUnauthorized        = "UNAUTHORIZED"
	CodeNotFound            = "NOT_FOUND"
	CodeMethodNotAllowed    = "METHOD_NOT_ALLOWED"
	CodeDuplicateIdentifier = "DUPLICATE_IDENTIFIER"
	CodeNoDepositAddress    = "NO_DEPOSIT_ADDRESS"
	CodeTooLarge            = "PAYLOAD_TOO_LARGE"
	CodeUnsupportedMedia    = "UNSUPPORTED_MEDIA_TYPE"
	CodeSettlementAccount   = "SETTLEMENT_ACCOUNT_INVALID"
	CodeTooManyRequests     = "TOO_MANY_REQUESTS"
	CodeInternal            = "INTERNAL_ERROR"
)

var statusCodes = map[int]string{
	http.StatusBadRequest:            CodeValidation,
	http.StatusUnauthorized:          CodeUnauthorized,
	http.StatusForbidden:             "FORBIDDEN",
	http.StatusNotFound:              CodeNotFound,
	http.StatusMethodNotAllowed:      CodeMethodNotAllowed,
	http.StatusConflict:              "CONFLICT",
	http.StatusRequestEntityTooLarge: CodeTooLarge,
	http.StatusUnsupportedMediaType:  CodeUnsupportedMedia,
	http.StatusUnprocessableEntity:   "UNPROCESSABLE_ENTITY",
	http.StatusTooManyRequests:       CodeTooManyRequests,
	http.StatusInternalServerError:   CodeInternal,
	http.StatusBadGateway:            "BAD_GATEWAY",
	http.StatusServiceUnavailable:    "SERVICE_UNAVAILABLE",
	http.StatusGatewayTimeout:        "GATEWAY_TIMEOUT",
}

func statusCode(status int) string {
	if c, ok := statusCodes[status]; ok {
		return c
	}
	return "HTTP_" + strconv.Itoa(status)
}

// ErrorBody is the provider's error envelope.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the content of the error envelope.
type ErrorDetail struct {
	Code    string    `json:"code"`
	Message string    `json:"message"`
	Details []Problem `json:"details,omitempty"`
}

// faultBody renders injected errors in the provider's shape.
var faultBody = mockhttp.FaultBody(func(status int, msg string) any {
	return ErrorBody{ErrorDetail{Code: statusCode(status), Message: msg}}
})

func writeJSON(w http.ResponseWriter, status int, v any) {
	if err := mockhttp.WriteJSON(w, status, v); err != nil {
		writeError(w, http.StatusInternalServerError, "", err.Error(), nil)
	}
}

func writeError(w http.ResponseWriter, status int, code, msg string, details []Problem) {
	if code == "" {
		code = statusCode(status)
	}
	writeJSON(w, status, ErrorBody{ErrorDetail{Code: code, Message: msg, Details: details}})
}

// writeStatusError answers status with msg and the status's default code.
func writeStatusError(w http.ResponseWriter, status int, msg string) {
	writeError(w, status, "", msg, nil)
}

// routes mounts the whole handler: admin routes unguarded, the API behind the fault injector.
func (m *Mock) routes() {
	api := http.NewServeMux()
	api.HandleFunc("POST /v2/sub-accounts", m.auth(m.handleCreate))
	api.HandleFunc("GET /v2/sub-accounts", m.auth(m.handleList))
	api.HandleFunc("GET /v2/sub-accounts/{id}", m.auth(m.handleGet))
	m.Mount(mockhttp.Fallback(api, writeStatusError), m.adminRoutes(), mockhttp.BufferBody(MaxBody, writeStatusError))
}

// auth admits requests bearing one of the mock's API keys.
func (m *Mock) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !m.keys[strings.TrimSpace(key)] {
			writeError(w, http.StatusUnauthorized, "", "missing or invalid API key", nil)
			return
		}
		next(w, r)
	}
}

// readJSONBody checks the content type and reads the body within MaxBody.
func readJSONBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	return mockhttp.ReadJSONBody(w, r, MaxBody, writeStatusError)
}

// Wire views.

type balanceView struct {
	Available int64 `json:"available"`
	Pending   int64 `json:"pending"`
}

type nubanData struct {
	NIPCode       string `json:"nip_code"`
	BankCode      string `json:"bank_code"`
	BankName      string `json:"bank_name"`
	AccountName   string `json:"account_name"`
	AccountNumber string `json:"account_number"`
}

type depositAddress struct {
	Type string    `json:"type"`
	Data nubanData `json:"data"`
}

type accountView struct {
	ID                  string           `json:"id"`
	State               string           `json:"state"`
	CreatedDate         string           `json:"created_date"`
	UpdatedDate         string           `json:"updated_date"`
	Currency            string           `json:"currency"`
	CurrencyPrecision   int              `json:"currency_precision"`
	Type                string           `json:"type"`
	Name                string           `json:"name"`
	Balance             balanceView      `json:"balance"`
	DepositAddresses    []depositAddress `json:"deposit_addresses"`
	SettlementAccountID *string          `json:"settlement_account_id"`
	ParentAccountID     *string          `json:"parent_account_id"`
	ClientReference     *string          `json:"client_reference"`
}

func orNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// view renders s; m.mu must be held and s settled.
func (s *subAccount) view() accountView {
	v := accountView{
		ID: s.id, State: s.state, CreatedDate: stamp(s.created), UpdatedDate: stamp(s.updated),
		Currency: s.currency, CurrencyPrecision: currencies[s.currency], Type: TypeVirtualExternal, Name: s.name,
		Balance:             balanceView{Available: s.available, Pending: s.pending},
		DepositAddresses:    []depositAddress{},
		SettlementAccountID: orNull(s.settlementID), ParentAccountID: orNull(s.parentID),
		ClientReference: orNull(s.clientReference),
	}
	if s.state == StateActive {
		v.DepositAddresses = append(v.DepositAddresses, depositAddress{Type: "NUBAN", Data: nubanData{
			NIPCode: NIPCode, BankCode: BankCode, BankName: BankName, AccountName: s.accountName, AccountNumber: s.accountNumber,
		}})
	}
	return v
}

type envelope struct {
	Data any `json:"data"`
}

func (m *Mock) handleCreate(w http.ResponseWriter, r *http.Request) {
	body, ok := readJSONBody(w, r)
	if !ok {
		return
	}
	req, ps := ParseCreate(body)
	if len(ps) == 0 && m.opts.Strict {
		ps = req.StrictProblems()
	}
	if len(ps) > 0 {
		writeError(w, http.StatusBadRequest, "", problemsMessage(ps), ps)
		return
	}
	v, status, code, p := m.create(req)
	if status != http.StatusCreated {
		writeError(w, status, code, problemsMessage([]Problem{p}), []Problem{p})
		return
	}
	writeJSON(w, http.StatusCreated, envelope{v})
}

// create applies a valid request to the state: the settlement account and
// identifier checks, then the new sub-account.
func (m *Mock) create(req CreateRequest) (accountView, int, string, Problem) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if id := req.SettlementAccountID; id != "" {
		refuse := func(msg string) (accountView, int, string, Problem) {
			return accountView{}, http.StatusUnprocessableEntity, CodeSettlementAccount, Problem{Field: "settlement_account_id", Message: msg}
		}
		main := m.mains[id]
		switch {
		case main == nil && m.subs[id] != nil:
			return refuse("account " + id + " is a sub-account, not a main account")
		case main == nil:
			return refuse("no main account " + id)
		case main.Type != TypeVirtualExternal:
			return refuse(fmt.Sprintf("main account %s is of type %s, not %s", id, main.Type, TypeVirtualExternal))
		case main.Currency != req.Currency:
			return refuse(fmt.Sprintf("main account %s is in %s; the sub-account currency %s must match", id, main.Currency, req.Currency))
		}
	}
	if req.Classification == ClassificationInstitution {
		for _, s := range m.subList {
			if s.classification == ClassificationInstitution && s.identifier == req.Identifier {
				return accountView{}, http.StatusConflict, CodeDuplicateIdentifier,
					Problem{Field: "identifier", Message: fmt.Sprintf("an institution sub-account with identifier %q exists (%s)", req.Identifier, s.id)}
			}
		}
	}
	now := m.now()
	s := &subAccount{
		id: m.newID(), classification: req.Classification, identifier: req.Identifier, customerID: req.CustomerID,
		currency: req.Currency, clientReference: req.ClientReference, settlementID: req.SettlementAccountID,
		accountNumber: m.newNumber(), created: now, updated: now, readyAt: now.Add(m.cfg.AddressDelay), state: StatePendingDepositAddress,
	}
	if req.Classification == ClassificationInstitution {
		s.name, s.accountName = req.Identifier, "Institution - "+req.Identifier
	} else {
		s.name = "Customer " + req.CustomerID[:8]
		s.accountName = "Customer - " + s.name
	}
	for _, a := range m.mainList {
		if a.Currency == req.Currency {
			s.parentID = a.ID
			break
		}
	}
	if m.cfg.AddressDelay == 0 {
		s.state = StateActive
	}
	m.subs[s.id] = s
	m.subList = append(m.subList, s)
	return s.view(), http.StatusCreated, "", Problem{}
}

func (m *Mock) handleGet(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	m.mu.Lock()
	s := m.subLocked(id)
	var v accountView
	if s != nil {
		v = s.view()
	}
	m.mu.Unlock()
	if s == nil {
		writeError(w, http.StatusNotFound, "", "no sub-account "+id, nil)
		return
	}
	writeJSON(w, http.StatusOK, envelope{v})
}

type listMeta struct {
	Page    int `json:"page"`
	PerPage int `json:"per_page"`
	Total   int `json:"total"`
}

type listView struct {
	Data []accountView `json:"data"`
	Meta listMeta      `json:"meta"`
}

func (m *Mock) handleList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var ps []Problem
	num := func(name string, def, hi int) int {
		v := q.Get(name)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || (hi > 0 && n > hi) {
			msg := "must be a positive integer"
			if hi > 0 {
				msg = fmt.Sprintf("must be an integer from 1 to %d", hi)
			}
			ps = append(ps, Problem{Field: name, Message: msg})
		}
		return n
	}
	page, perPage := num("page", 1, 0), num("per_page", DefaultPerPage, MaxPerPage)
	if len(ps) > 0 {
		writeError(w, http.StatusBadRequest, "", problemsMessage(ps), ps)
		return
	}
	ref, byRef := q.Get("client_reference"), q.Has("client_reference")
	out := listView{Data: []accountView{}, Meta: listMeta{Page: page, PerPage: perPage}}
	m.mu.Lock()
	var match []*subAccount
	for _, s := range m.subList {
		if !byRef || s.clientReference == ref {
			match = append(match, s)
		}
	}
	out.Meta.Total = len(match)
	if page-1 < (len(match)+perPage-1)/perPage {
		start := (page - 1) * perPage
		for _, s := range match[start:min(start+perPage, len(match))] {
			m.settle(s)
			out.Data = append(out.Data, s.view())
		}
	}
	m.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}
