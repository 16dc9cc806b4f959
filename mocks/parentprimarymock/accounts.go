package parentprimarymock

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// AccountView is a virtual account as the API shows it.
type AccountView struct {
	ID                string          `json:"id"`
	PartnerID         string          `json:"partnerId"`
	ExternalReference string          `json:"externalReference"`
	PrimaryAccountID  string          `json:"primaryAccountId"`
	Type              string          `json:"type"`
	CurrencyCode      string          `json:"currencyCode"`
	CreateDate        time.Time       `json:"createDate"`
	State             string          `json:"state"`
	CustomerID        string          `json:"customerId"`
	ProductCode       string          `json:"productCode"`
	ProductParameters json.RawMessage `json:"productParameters"`
	AvailableBalance  string          `json:"availableBalance"`
}

func (a *account) view(now time.Time) AccountView {
	params := json.RawMessage("null")
	if a.params != nil {
		params = append(json.RawMessage(nil), a.params...)
	}
	return AccountView{
		ID: a.id, PartnerID: a.partnerID, ExternalReference: a.externalRef, PrimaryAccountID: a.primaryID,
		Type: TypeVirtual, CurrencyCode: a.currency, CreateDate: a.created, State: a.state(now),
		CustomerID: a.customerID, ProductCode: a.productCode, ProductParameters: params,
		AvailableBalance: formatAmount(a.balance),
	}
}

// createRequest is a validated create body.
type createRequest struct {
	CustomerID        string
	IdempotencyKey    string
	ParentAccountID   string
	ProductCode       string
	ProductParameters json.RawMessage // compact object, or nil for absent/null
}

var productCodeRE = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,63}$`)

var createFields = []string{"customerId", "idempotencyKey", "parentAccountId", "productCode", "productParameters"}

// parseCreate decodes and validates a create body, listing every problem.
// UUIDs are returned in lower case.
func parseCreate(body []byte) (*createRequest, problems) {
	var p problems
	obj, ok := decodeObject(body, createFields, &p)
	if !ok {
		return nil, p
	}
	req := &createRequest{
		CustomerID:      uuidField(obj, "customerId", &p),
		IdempotencyKey:  uuidField(obj, "idempotencyKey", &p),
		ParentAccountID: uuidField(obj, "parentAccountId", &p),
	}
	if code, ok := stringField(obj, "productCode", true, &p); ok && !productCodeRE.MatchString(code) {
		p.add("productCode", "must be 1 to 64 upper-case letters, digits or underscores, starting with a letter (e.g. FIAT_ACCOUNT_UK_V1)")
	} else {
		req.ProductCode = code
	}
	if raw, ok := obj["productParameters"]; ok && !isNull(raw) {
		var m map[string]json.RawMessage
		switch {
		case json.Unmarshal(raw, &m) != nil || m == nil:
			p.add("productParameters", "must be an object or null")
		case len(m) > MaxProductParameters:
			p.add("productParameters", "at most %d members", MaxProductParameters)
		default:
			var buf bytes.Buffer
			json.Compact(&buf, raw)
			req.ProductParameters = buf.Bytes()
		}
	}
	if len(p) > 0 {
		return nil, p
	}
	return req, nil
}

// fingerprint identifies what a create asks for, to compare resends.
func (c *createRequest) fingerprint() string {
	params := "null"
	if c.ProductParameters != nil {
		var v any
		json.Unmarshal(c.ProductParameters, &v)
		b, _ := json.Marshal(v) // map keys sorted: member order does not matter
		params = string(b)
	}
	return strings.Join([]string{c.CustomerID, c.ParentAccountID, c.ProductCode, params}, "\x00")
}

// decodeObject reads body as one JSON object whose members are all in known.
func decodeObject(body []byte, known []string, p *problems) (map[string]json.RawMessage, bool) {
	if len(bytes.TrimSpace(body)) == 0 {
		p.add("body", "required")
		return nil, false
	}
	var obj map[string]json.RawMessage
	if !json.Valid(body) || json.Unmarshal(body, &obj) != nil || obj == nil {
		p.add("body", "must be a JSON object")
		return nil, false
	}
	for _, k := range sortedKeys(obj) {
		if !contains(known, k) {
			p.add(k, "unknown field")
		}
	}
	return obj, true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// stringField reads a string member; a required one must be present and not blank.
func stringField(obj map[string]json.RawMessage, name string, required bool, p *problems) (string, bool) {
	raw, ok := obj[name]
	if !ok || isNull(raw) {
		if required {
			p.add(name, "required")
		}
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		p.add(name, "must be a string")
		return "", false
	}
	if required && strings.TrimSpace(s) == "" {
		p.add(name, "must not be blank")
		return "", false
	}
	return s, true
}

// uuidField reads a required UUID member, lower-cased.
func uuidField(obj map[string]json.RawMessage, name string, p *problems) string {
	s, ok := stringField(obj, name, true, p)
	if !ok {
		return ""
	}
	if !isUUID(s) {
		p.add(name, "must be a UUID")
		return ""
	}
	return strings.ToLower(s)
}

// handleCreate serves POST /v1/partner/accounts/virtual.
func (m *Mock) handleCreate(w http.ResponseWriter, r *http.Request) {
	body, ok := jsonBody(w, r)
	if !ok {
		return
	}
	req, probs := parseCreate(body)
	if len(probs) > 0 {
		writeErrorFields(w, http.StatusBadRequest, CodeValidation, probs.String(), probs)
		return
	}
	status, code, msg, v := m.create(partnerOf(r), req)
	if status != http.StatusOK {
		writeError(w, status, code, msg)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// create opens a virtual account atomically; it returns the HTTP outcome.
func (m *Mock) create(partner string, req *createRequest) (status int, code, msg string, v AccountView) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.nowLocked()
	key := partner + "\x00" + req.IdempotencyKey
	fp := req.fingerprint()
	if a, ok := m.createKeys[key]; ok {
		if a.fingerprint != fp {
			return http.StatusConflict, CodeKeyReused, "idempotencyKey: already used for a different account request", v
		}
		return http.StatusOK, "", "", a.view(now)
	}
	parent, ok := m.primaries[req.ParentAccountID]
	if !ok || parent.partnerID != partner {
		return http.StatusUnprocessableEntity, CodeParentNotFound, "parentAccountId: no primary account " + req.ParentAccountID, v
	}
	cur, ok := m.products[req.ProductCode]
	if !ok {
		return http.StatusUnprocessableEntity, CodeUnknownProduct, "productCode: unknown product " + req.ProductCode, v
	}
	if cur != parent.currency {
		return http.StatusUnprocessableEntity, CodeCurrencyMismatch,
			"productCode: " + req.ProductCode + " opens " + cur + " accounts but the parent account is " + parent.currency, v
	}
	a := &account{
		id: m.newID(), partnerID: partner, externalRef: req.IdempotencyKey, primaryID: parent.id,
		currency: parent.currency, customerID: req.CustomerID, productCode: req.ProductCode,
		params: req.ProductParameters, created: now.Truncate(time.Millisecond), readyAt: now.Add(m.cfg.ReadyDelay),
		fingerprint: fp,
	}
	m.accounts[a.id] = a
	m.accOrder = append(m.accOrder, a)
	m.createKeys[key] = a
	return http.StatusOK, "", "", a.view(now)
}

// handleGet serves GET /v1/partner/accounts/virtual/{accountId}.
func (m *Mock) handleGet(w http.ResponseWriter, r *http.Request) {
	id := strings.ToLower(r.PathValue("accountId"))
	m.mu.Lock()
	a, ok := m.accounts[id]
	var v AccountView
	if ok && a.partnerID == partnerOf(r) {
		v = a.view(m.nowLocked())
	}
	m.mu.Unlock()
	if v.ID == "" {
		writeError(w, http.StatusNotFound, CodeAccountNotFound, "no virtual account "+r.PathValue("accountId"))
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// deleteRequest is a validated delete body.
type deleteRequest struct {
	IdempotencyKey string
	RequestedBy    string
	Reason         string
	Notes          *string
}

var deleteFields = []string{"idempotencyKey", "requestedBy", "reason", "notes"}

// parseDelete decodes and validates a delete body, listing every problem.
func parseDelete(body []byte) (*deleteRequest, problems) {
	var p problems
	obj, ok := decodeObject(body, deleteFields, &p)
	if !ok {
		return nil, p
	}
	req := &deleteRequest{IdempotencyKey: uuidField(obj, "idempotencyKey", &p)}
	for _, f := range []struct {
		name string
		dst  *string
		max  int
	}{{"requestedBy", &req.RequestedBy, MaxRequestedBy}, {"reason", &req.Reason, MaxReason}} {
		if s, ok := stringField(obj, f.name, true, &p); ok {
			if utf8.RuneCountInString(s) > f.max {
				p.add(f.name, "must be at most %d characters", f.max)
			}
			*f.dst = s
		}
	}
	switch raw, ok := obj["notes"]; {
	case !ok:
		p.add("notes", "required (it may be null)")
	case !isNull(raw):
		var s string
		if json.Unmarshal(raw, &s) != nil {
			p.add("notes", "must be a string or null")
		} else if utf8.RuneCountInString(s) > MaxNotes {
			p.add("notes", "must be at most %d characters", MaxNotes)
		} else {
			req.Notes = &s
		}
	}
	if len(p) > 0 {
		return nil, p
	}
	return req, nil
}

// handleDelete serves DELETE /v1/partner/accounts/virtual/{accountId}.
func (m *Mock) handleDelete(w http.ResponseWriter, r *http.Request) {
	body, ok := jsonBody(w, r)
	if !ok {
		return
	}
	req, probs := parseDelete(body)
	if len(probs) > 0 {
		writeErrorFields(w, http.StatusBadRequest, CodeValidation, probs.String(), probs)
		return
	}
	status, code, msg := m.delete(partnerOf(r), strings.ToLower(r.PathValue("accountId")), req)
	if status != http.StatusOK {
		writeError(w, status, code, msg)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// delete deletes a virtual account atomically; it returns the HTTP outcome.
func (m *Mock) delete(partner, id string, req *deleteRequest) (status int, code, msg string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := partner + "\x00" + req.IdempotencyKey
	if a, ok := m.deleteKeys[key]; ok {
		if a.id != id {
			return http.StatusConflict, CodeKeyReused, "idempotencyKey: already used to delete another account"
		}
		return http.StatusOK, "", ""
	}
	a, ok := m.accounts[id]
	switch {
	case !ok || a.partnerID != partner:
		return http.StatusNotFound, CodeAccountNotFound, "no virtual account " + id
	case a.deleted != nil:
		return http.StatusConflict, CodeAccountDeleted, "the virtual account is already deleted"
	case a.balance != 0:
		return http.StatusConflict, CodeBalanceNotZero, "the virtual account holds " + formatAmount(a.balance) + " " + a.currency + "; move the funds out first"
	}
	a.deleted = &Deletion{DeleteDate: m.nowLocked().Truncate(time.Millisecond), IdempotencyKey: req.IdempotencyKey,
		RequestedBy: req.RequestedBy, Reason: req.Reason, Notes: req.Notes}
	m.deleteKeys[key] = a
	return http.StatusOK, "", ""
}
