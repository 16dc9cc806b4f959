package masterfiatmock

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// RoutingCode is one routing code of an account's bank details.
type RoutingCode struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// BankDetails are the banking credentials assigned to a virtual account.
// The document types routingCodes as an object {type, value} but calls it
// "one or more routing codes": the API shows the first as that object, or
// every one as an array with Options.RoutingCodesArray.
type BankDetails struct {
	BankName          string        `json:"bankName"`
	AccountHolderName string        `json:"accountHolderName"`
	Country           string        `json:"country"`
	IBAN              string        `json:"iban,omitempty"`
	BIC               string        `json:"bic,omitempty"`
	AccountNumber     string        `json:"accountNumber,omitempty"`
	RoutingCodes      []RoutingCode `json:"-"`
	// routingArray shows routingCodes as an array.
	routingArray bool
}

// MarshalJSON shows routingCodes as one object, or as an array of them.
func (d BankDetails) MarshalJSON() ([]byte, error) {
	type plain BankDetails
	out := struct {
		plain
		RoutingCodes any `json:"routingCodes,omitempty"`
	}{plain: plain(d)}
	switch {
	case len(d.RoutingCodes) == 0:
	case d.routingArray:
		out.RoutingCodes = d.RoutingCodes
	default:
		out.RoutingCodes = d.RoutingCodes[0]
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads routingCodes as one object or an array of them.
func (d *BankDetails) UnmarshalJSON(b []byte) error {
	type plain BankDetails
	var in struct {
		plain
		RoutingCodes json.RawMessage `json:"routingCodes"`
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*d = BankDetails(in.plain)
	switch rc := bytes.TrimSpace(in.RoutingCodes); {
	case len(rc) == 0 || string(rc) == "null":
	case rc[0] == '{':
		var one RoutingCode
		if err := json.Unmarshal(rc, &one); err != nil {
			return err
		}
		d.RoutingCodes = []RoutingCode{one}
	default:
		d.routingArray = true
		return json.Unmarshal(rc, &d.RoutingCodes)
	}
	return nil
}

// Metadata is a virtual account's metadata, string values by key. The
// document types it as a string "in JSON key:value format": the API shows
// it as a string holding a JSON object ("{\"k\":\"v\"}"), or null.
type Metadata map[string]string

// MarshalJSON shows the metadata as a string holding a JSON object.
func (md Metadata) MarshalJSON() ([]byte, error) {
	if md == nil {
		return []byte("null"), nil
	}
	b, err := json.Marshal(map[string]string(md))
	if err != nil {
		return nil, err
	}
	return json.Marshal(string(b))
}

// UnmarshalJSON reads a string holding a JSON object, an object, or null.
func (md *Metadata) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*md = nil
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		b = []byte(s)
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*md = m
	return nil
}

// Owner is who owns a virtual account.
type Owner struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// VirtualAccount is the Virtual Account object exactly as the API shows it.
type VirtualAccount struct {
	ID                  string        `json:"id"`
	MasterFiatAccountID string        `json:"masterFiatAccountId"`
	Status              string        `json:"status"`
	Currency            string        `json:"currency"`
	Owner               Owner         `json:"owner"`
	BusinessID          string        `json:"businessId"`
	Label               *string       `json:"label"`
	BankDetails         []BankDetails `json:"bankDetails"`
	CreatedAt           int64         `json:"createdAt"`
	UpdatedAt           int64         `json:"updatedAt"`
	Metadata            Metadata      `json:"metadata"`
}

// account is a held virtual account; every change replaces the slices and
// maps it shares with views, never writes through them.
type account struct {
	VirtualAccount
	// gen counts status changes, so a scheduled transition can tell whether
	// the account moved on in the meantime.
	gen int
	// closure is what the close that closed it said.
	closure *Closure
}

// Closure is what a close request said: all optional.
type Closure struct {
	Reason      string `json:"reason,omitempty"`
	RequestedBy string `json:"requestedBy,omitempty"`
	Notes       string `json:"notes,omitempty"`
}

// view is the account as the API shows it; routingArray shows each bank
// detail's routing codes as an array (Options.RoutingCodesArray).
func (a *account) view(routingArray bool) VirtualAccount {
	v := a.VirtualAccount
	v.BankDetails = slices.Clone(a.BankDetails)
	for i := range v.BankDetails {
		v.BankDetails[i].routingArray = routingArray
	}
	v.Metadata = maps.Clone(a.Metadata)
	return v
}

type listResponse struct {
	Data       []VirtualAccount `json:"data"`
	NextCursor *string          `json:"nextCursor"`
}

// createRequest is a validated create body.
type createRequest struct {
	MasterFiatAccountID string
	Currency            string
	EndUserID           string
	Label               *string
	Metadata            Metadata
}

var createFields = []string{"masterFiatAccountId", "currency", "endUserId", "label", "metadata"}

// parseCreate decodes and validates a create body, collecting every
// problem; strict refuses metadata given as an object.
func parseCreate(body []byte, strict bool) (*createRequest, problems) {
	var p problems
	if !json.Valid(body) {
		p.add("body", "malformed JSON")
		return nil, p
	}
	var raw map[string]json.RawMessage
	if t := bytes.TrimSpace(body); len(t) == 0 || t[0] != '{' || json.Unmarshal(body, &raw) != nil {
		p.add("body", "must be a JSON object")
		return nil, p
	}
	for _, k := range sortedKeys(raw) {
		if !slices.Contains(createFields, k) {
			p.add(k, "unknown field")
		}
	}
	req := &createRequest{}
	str := func(name string) (string, bool) {
		v, ok := raw[name]
		if !ok || isNull(v) {
			return "", false
		}
		var s string
		if json.Unmarshal(v, &s) != nil {
			p.add(name, "must be a string")
			return "", false
		}
		return s, true
	}
	switch s, ok := str("masterFiatAccountId"); {
	case !ok || s == "":
		if !p.has("masterFiatAccountId") {
			p.add("masterFiatAccountId", "required")
		}
	case !strings.HasPrefix(s, "fac_") || !idPattern.MatchString(s):
		p.add("masterFiatAccountId", "must be a fiat account id (fac_...)")
	default:
		req.MasterFiatAccountID = s
	}
	switch s, ok := str("currency"); {
	case !ok || s == "":
		if !p.has("currency") {
			p.add("currency", "required")
		}
	case !isCurrency(s):
		p.add("currency", "must be a three-letter ISO 4217 code")
	default:
		req.Currency = s
	}
	if s, ok := str("endUserId"); ok {
		if !strings.HasPrefix(s, "eus_") || !idPattern.MatchString(s) {
			p.add("endUserId", "must be an end user id (eus_...)")
		} else {
			req.EndUserID = s
		}
	}
	if s, ok := str("label"); ok {
		switch {
		case strings.TrimSpace(s) == "":
			p.add("label", "must not be blank")
		case utf8.RuneCountInString(s) > MaxLabel:
			p.add("label", "must be at most %d characters", MaxLabel)
		case !utf8.ValidString(s):
			p.add("label", "must be valid UTF-8")
		default:
			req.Label = &s
		}
	}
	if v, ok := raw["metadata"]; ok && !isNull(v) {
		req.Metadata = parseMetadata(v, strict, &p)
	}
	if len(p) > 0 {
		return nil, p
	}
	return req, nil
}

// parseMetadata reads metadata as the document types it, a string holding
// a JSON object of string values ("" is none); leniently also as the object
// itself.
func parseMetadata(v json.RawMessage, strict bool, p *problems) Metadata {
	v = bytes.TrimSpace(v)
	if v[0] == '"' {
		var s string
		if json.Unmarshal(v, &s) != nil {
			p.add("metadata", "must be a string holding a JSON object of string values")
			return nil
		}
		if s == "" {
			return nil
		}
		v = bytes.TrimSpace([]byte(s))
		if len(v) == 0 || v[0] != '{' || !json.Valid(v) {
			p.add("metadata", "must be a string holding a JSON object of string values")
			return nil
		}
	} else if strict && v[0] == '{' {
		p.add("metadata", "must be a string holding a JSON object (strict mode: the document types metadata as a string)")
		return nil
	}
	var md map[string]json.RawMessage
	if v[0] != '{' || json.Unmarshal(v, &md) != nil {
		p.add("metadata", "must be a string holding a JSON object of string values")
		return nil
	}
	if len(md) > MaxMetadata {
		p.add("metadata", "must have at most %d keys, got %d", MaxMetadata, len(md))
	}
	out := make(Metadata, len(md))
	for _, k := range sortedKeys(md) {
		field := "metadata." + k
		var s string
		if isNull(md[k]) || json.Unmarshal(md[k], &s) != nil {
			p.add(field, "must be a string")
			continue
		}
		switch n := utf8.RuneCountInString(k); {
		case n == 0 || n > MaxMetadataKey:
			p.add(field, "key must be 1 to %d characters", MaxMetadataKey)
		case utf8.RuneCountInString(s) > MaxMetadataValue:
			p.add(field, "must be at most %d characters", MaxMetadataValue)
		}
		out[k] = s
	}
	return out
}

func isNull(v json.RawMessage) bool {
	t := bytes.TrimSpace(v)
	return len(t) == 0 || string(t) == "null"
}

// handleCreate serves POST /api/v1/virtual-accounts.
func (m *Mock) handleCreate(w http.ResponseWriter, r *http.Request) {
	body, ok := readJSONBody(w, r)
	if !ok {
		return
	}
	req, probs := parseCreate(body, m.opts.Strict)
	if len(probs) > 0 {
		writeProblems(w, probs)
		return
	}
	v, status, code, msg := m.create(req)
	if status != http.StatusCreated {
		writeError(w, status, code, msg)
		return
	}
	writeJSON(w, http.StatusCreated, v)
}

// create stores a new CREATED account and schedules its activation.
func (m *Mock) create(req *createRequest) (v VirtualAccount, status int, code, msg string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.fiat[req.MasterFiatAccountID]
	if !ok {
		return v, http.StatusUnprocessableEntity, "FIAT_ACCOUNT_NOT_FOUND", "masterFiatAccountId: no master fiat account " + req.MasterFiatAccountID
	}
	if f.Currency != req.Currency {
		return v, http.StatusUnprocessableEntity, "CURRENCY_MISMATCH",
			fmt.Sprintf("currency: %s does not match the master fiat account's currency %s", req.Currency, f.Currency)
	}
	owner := Owner{Type: OwnerMember, ID: MemberID}
	if req.EndUserID != "" {
		if _, ok := m.endUsers[req.EndUserID]; !ok {
			return v, http.StatusUnprocessableEntity, "END_USER_NOT_FOUND", "endUserId: no end user " + req.EndUserID
		}
		owner = Owner{Type: OwnerEndUser, ID: req.EndUserID}
	}
	now := m.nowMS()
	a := &account{VirtualAccount: VirtualAccount{
		ID: m.newID("vac"), MasterFiatAccountID: f.ID, Status: StatusCreated, Currency: f.Currency,
		Owner: owner, BusinessID: BusinessID, Label: req.Label, CreatedAt: now, UpdatedAt: now,
		Metadata: req.Metadata,
	}}
	m.accounts[a.ID] = a
	m.accOrder = append(m.accOrder, a)
	m.emitLocked(EventCreated, a, "")
	m.scheduleActivation(a)
	return a.view(m.opts.RoutingCodesArray), http.StatusCreated, "", ""
}

// scheduleActivation assigns bank details (or fails) after the activation delay; m.mu must be held.
func (m *Mock) scheduleActivation(a *account) {
	gen := a.gen
	m.after(m.cfg.ActivationDelay, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.accounts[a.ID] != a || a.gen != gen || a.Status != StatusCreated {
			return
		}
		if r := m.cfg.ActivationFailureRate; r > 0 && m.rng.Float64() < r {
			m.setStatusLocked(a, StatusActivationFailed)
			return
		}
		a.BankDetails = []BankDetails{m.bankDetailsLocked(a)}
		m.setStatusLocked(a, StatusActive)
	})
}

// scheduleUnblock makes an UNBLOCKING account ACTIVE after the unblock delay; m.mu must be held.
func (m *Mock) scheduleUnblock(a *account) {
	gen := a.gen
	m.after(m.cfg.UnblockDelay, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.accounts[a.ID] != a || a.gen != gen || a.Status != StatusUnblocking {
			return
		}
		m.setStatusLocked(a, StatusActive)
	})
}

// setStatusLocked changes the status, bumps updatedAt and emits the webhook; m.mu must be held.
func (m *Mock) setStatusLocked(a *account, status string) {
	prev := a.Status
	a.Status = status
	a.UpdatedAt = m.nowMS()
	a.gen++
	m.emitLocked(EventStatusUpdated, a, prev)
}

// bankDetailsLocked generates plausible bank details for the account's currency and country.
func (m *Mock) bankDetailsLocked(a *account) BankDetails {
	f := m.fiat[a.MasterFiatAccountID]
	holder := f.AccountHolderName
	if a.Owner.Type == OwnerEndUser {
		if u, ok := m.endUsers[a.Owner.ID]; ok {
			holder = u.Name
		}
	}
	d := BankDetails{BankName: f.BankName, AccountHolderName: holder, Country: f.Country}
	digits := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('0' + m.rng.IntN(10))
		}
		return string(b)
	}
	switch f.Country {
	case "US":
		d.AccountNumber = digits(12)
		aba := abaNumber(digits(8))
		d.RoutingCodes = []RoutingCode{{Type: RoutingABA, Value: aba}, {Type: RoutingWire, Value: aba}}
		d.BIC = "MOCKUS33XXX"
	case "GB":
		sort := "04" + digits(4)
		d.AccountNumber = digits(8)
		d.RoutingCodes = []RoutingCode{{Type: RoutingSortCode, Value: sort}}
		d.BIC = "MOCKGB2LXXX"
		d.IBAN = iban("GB", "MOCK"+sort+d.AccountNumber)
	case "DE":
		d.IBAN = iban("DE", "10010010"+digits(10))
		d.BIC = "MOCKDEFFXXX"
	case "DK":
		d.IBAN = iban("DK", "0040"+digits(10))
		d.BIC = "MOCKDKKKXXX"
	case "LU":
		d.IBAN = iban("LU", "001"+digits(13))
		d.BIC = "MOCKLULLXXX"
	}
	return d
}

// iban builds an IBAN with valid check digits (ISO 13616, mod 97).
func iban(country, bban string) string {
	var s strings.Builder
	for _, c := range bban + country + "00" {
		if c >= 'A' && c <= 'Z' {
			s.WriteString(strconv.Itoa(int(c-'A') + 10))
		} else {
			s.WriteRune(c)
		}
	}
	n, _ := new(big.Int).SetString(s.String(), 10)
	check := 98 - new(big.Int).Mod(n, big.NewInt(97)).Int64()
	return fmt.Sprintf("%s%02d%s", country, check, bban)
}

// abaNumber completes eight digits into an ABA routing number with a valid check digit.
func abaNumber(d8 string) string {
	w := [8]int{3, 7, 1, 3, 7, 1, 3, 7}
	sum := 0
	for i := range 8 {
		sum += int(d8[i]-'0') * w[i]
	}
	return d8 + strconv.Itoa((10-sum%10)%10)
}

// handleGet serves GET /api/v1/virtual-accounts/{id}.
func (m *Mock) handleGet(w http.ResponseWriter, r *http.Request) {
	v, ok := m.Account(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, "", "no virtual account "+r.PathValue("id"))
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// handleList serves GET /api/v1/virtual-accounts with filters and a cursor.
func (m *Mock) handleList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var p problems
	limit := 20
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxListLimit {
			p.add("limit", "must be from 1 to %d", MaxListLimit)
		}
		limit = n
	}
	md := map[string]string{}
	filters := map[string]string{}
	for k, vs := range q {
		switch {
		case k == "limit" || k == "cursor":
		case k == "masterFiatAccountId" || k == "endUserId" || k == "status" || k == "currency":
			filters[k] = vs[0]
		case strings.HasPrefix(k, "metadata[") && strings.HasSuffix(k, "]") && len(k) > len("metadata[]"):
			md[k[len("metadata["):len(k)-1]] = vs[0]
		default:
			p.add(k, "unknown query parameter")
		}
	}
	if len(p) > 0 {
		writeProblems(w, p)
		return
	}
	cursor := q.Get("cursor")
	out := listResponse{Data: []VirtualAccount{}}
	m.mu.Lock()
	started := cursor == ""
	for _, a := range m.accOrder {
		if !started {
			started = a.ID == cursor
			continue
		}
		if !matches(a, filters, md) {
			continue
		}
		if len(out.Data) == limit {
			last := out.Data[limit-1].ID
			out.NextCursor = &last
			break
		}
		out.Data = append(out.Data, a.view(m.opts.RoutingCodesArray))
	}
	m.mu.Unlock()
	if !started {
		writeError(w, http.StatusBadRequest, "VALIDATION_ERROR", "cursor: not a cursor this API returned")
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func matches(a *account, filters, md map[string]string) bool {
	for k, v := range filters {
		var got string
		switch k {
		case "masterFiatAccountId":
			got = a.MasterFiatAccountID
		case "status":
			got = a.Status
		case "currency":
			got = a.Currency
		case "endUserId":
			if a.Owner.Type != OwnerEndUser {
				return false
			}
			got = a.Owner.ID
		}
		if got != v {
			return false
		}
	}
	for k, v := range md {
		if got, ok := a.Metadata[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// Lifecycle operations.
const (
	opBlock   = "block"
	opUnblock = "unblock"
	opClose   = "close"
)

// handleLifecycle serves POST /api/v1/virtual-accounts/{id}/{block|unblock|close}.
func (m *Mock) handleLifecycle(op string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, ok := readJSONBody(w, r)
		if !ok {
			return
		}
		var closure *Closure
		if op == opClose && len(bytes.TrimSpace(body)) > 0 {
			closure = &Closure{}
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.DisallowUnknownFields()
			if err := dec.Decode(closure); err != nil {
				writeError(w, http.StatusBadRequest, "VALIDATION_ERROR", "body: only the optional strings reason, requestedBy and notes are accepted")
				return
			}
		} else if op != opClose && len(bytes.TrimSpace(body)) > 0 && string(bytes.TrimSpace(body)) != "{}" {
			writeError(w, http.StatusBadRequest, "VALIDATION_ERROR", "body: "+op+" takes no body")
			return
		}
		v, status, msg := m.transition(r.PathValue("id"), op, closure)
		switch status {
		case http.StatusOK:
			writeJSON(w, http.StatusOK, v)
		case http.StatusConflict:
			writeError(w, status, CodeInvalidTransition, msg)
		default:
			writeError(w, status, "", msg)
		}
	}
}

// CodeInvalidTransition is the error code of a lifecycle call the account's status does not allow.
const CodeInvalidTransition = "INVALID_STATUS_TRANSITION"

// transition applies a lifecycle operation atomically; a close records closure.
func (m *Mock) transition(id, op string, closure *Closure) (VirtualAccount, int, string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.accounts[id]
	if !ok {
		return VirtualAccount{}, http.StatusNotFound, "no virtual account " + id
	}
	refuse := func() (VirtualAccount, int, string) {
		return VirtualAccount{}, http.StatusConflict, fmt.Sprintf("cannot %s a virtual account in status %s", op, a.Status)
	}
	switch op {
	case opBlock:
		switch a.Status {
		case StatusActive:
			m.setStatusLocked(a, StatusBlocked)
		case StatusBlocked:
		default:
			return refuse()
		}
	case opUnblock:
		switch a.Status {
		case StatusBlocked:
			m.setStatusLocked(a, StatusUnblocking)
			m.scheduleUnblock(a)
		case StatusActive, StatusUnblocking:
		default:
			return refuse()
		}
	case opClose:
		switch a.Status {
		case StatusClosed, StatusActivationFailed:
			return refuse()
		}
		a.closure = closure
		m.setStatusLocked(a, StatusClosed)
	}
	return a.view(m.opts.RoutingCodesArray), http.StatusOK, ""
}

// Closure returns what the close of the account with id said, and false
// when it is not closed or its close said nothing.
func (m *Mock) Closure(id string) (Closure, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.accounts[id]
	if !ok || a.closure == nil {
		return Closure{}, false
	}
	return *a.closure, true
}

// ErrNotFound is returned for a virtual account the mock does not hold.
var ErrNotFound = errors.New("masterfiatmock: no such virtual account")

// ProviderBlock blocks an ACTIVE or UNBLOCKING account as the provider
// itself does for compliance reasons (the document: "A Fiat Account could be
// blocked by Fiat Republic for compliance reasons"), sending the status
// webhook as for any change. A BLOCKED account is answered unchanged; any
// other status is refused.
func (m *Mock) ProviderBlock(id string) (VirtualAccount, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.accounts[id]
	switch {
	case !ok:
		return VirtualAccount{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	case a.Status == StatusActive || a.Status == StatusUnblocking:
		m.setStatusLocked(a, StatusBlocked)
	case a.Status != StatusBlocked:
		return VirtualAccount{}, fmt.Errorf("masterfiatmock: cannot block a virtual account in status %s", a.Status)
	}
	return a.view(m.opts.RoutingCodesArray), nil
}
