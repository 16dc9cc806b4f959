package batchvamock

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

type balance struct {
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
}

// accountView is the account as the API shows it.
type accountView struct {
	VirtualAccountNumber string    `json:"virtualAccountNumber"`
	BicCode              string    `json:"bicCode"`
	AccountHolderName    string    `json:"accountHolderName"`
	AccountName          string    `json:"accountName"`
	Currency             string    `json:"currency"`
	Balance              balance   `json:"balance"`
	Category             string    `json:"category"`
	ClientReference      *string   `json:"clientReference"`
	Dob                  *string   `json:"dob"`
	NativeLanguageName   *string   `json:"nativeLanguageName"`
	Allocated            bool      `json:"allocated"`
	CreatedAt            time.Time `json:"createdAt"`
	UpdatedAt            time.Time `json:"updatedAt"`
}

// account is a held account; string pointers are replaced, never written through.
type account struct {
	accountView
	owner string
	// fixed is set once an update has set identity fields of an allocated
	// account (allocating it, or the first update of one named at
	// creation): they are immutable after that first update.
	fixed bool
	// holders lists the distinct accountHolderName values PATCHes that set
	// identity fields named, accepted or refused (QA: an account offered to
	// two customers shows two).
	holders []string
}

type accountList struct {
	Items []accountView `json:"items"`
}

// handleGetAccount serves GET /v1/virtual-accounts/{number}.
func (m *Mock) handleGetAccount(w http.ResponseWriter, r *http.Request) {
	owner, ok := m.authorize(w, r, PermissionRead, PermissionCreate)
	if !ok {
		return
	}
	format, ok := m.negotiate(w, r)
	if !ok {
		return
	}
	m.mu.Lock()
	a, ok := m.accounts[r.PathValue("number")]
	var v accountView
	if ok && a.owner == owner {
		v = a.accountView
	}
	m.mu.Unlock()
	if v.VirtualAccountNumber == "" {
		writeError(w, http.StatusNotFound, "", "no virtual account "+r.PathValue("number"))
		return
	}
	writeAccounts(w, format, v)
}

// handleList serves GET /v1/virtual-accounts?clientReference=R.
func (m *Mock) handleList(w http.ResponseWriter, r *http.Request) {
	owner, ok := m.authorize(w, r, PermissionRead, PermissionCreate)
	if !ok {
		return
	}
	format, ok := m.negotiate(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	if !q.Has("clientReference") {
		writeError(w, http.StatusBadRequest, "", "clientReference: required")
		return
	}
	ref := q.Get("clientReference")
	out := accountList{Items: []accountView{}}
	m.mu.Lock()
	for _, a := range m.accOrder {
		if a.owner == owner && deref(a.ClientReference) == ref {
			out.Items = append(out.Items, a.accountView)
		}
	}
	m.mu.Unlock()
	if format == formatCSV {
		writeAccounts(w, format, out.Items...)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

var accountCSVHeader = []string{"virtualAccountNumber", "bicCode", "accountHolderName", "accountName", "currency", "balanceAmount",
	"balanceCurrency", "category", "clientReference", "dob", "nativeLanguageName", "allocated", "createdAt", "updatedAt"}

// writeAccounts answers one account as JSON, or accounts as CSV rows.
func writeAccounts(w http.ResponseWriter, format string, vs ...accountView) {
	if format == formatJSON {
		writeJSON(w, http.StatusOK, vs[0])
		return
	}
	rows := make([][]string, len(vs))
	for i, v := range vs {
		rows[i] = []string{v.VirtualAccountNumber, v.BicCode, v.AccountHolderName, v.AccountName, v.Currency, v.Balance.Amount,
			v.Balance.Currency, v.Category, deref(v.ClientReference), deref(v.Dob), deref(v.NativeLanguageName),
			strconv.FormatBool(v.Allocated), v.CreatedAt.Format(time.RFC3339Nano), v.UpdatedAt.Format(time.RFC3339Nano)}
	}
	writeCSV(w, accountCSVHeader, rows)
}

// patch is a validated PATCH body; nil means not sent.
type patch struct {
	AccountHolderName, AccountName, Dob, NativeLanguageName, ClientReference *string
}

func (p *patch) identity() bool {
	return p.AccountHolderName != nil || p.AccountName != nil || p.Dob != nil || p.NativeLanguageName != nil
}

// parsePatch decodes and validates a PATCH body, collecting every problem.
func parsePatch(body []byte) (*patch, problems) {
	var p problems
	if len(strings.TrimSpace(string(body))) == 0 {
		p.add("body", "required")
		return nil, p
	}
	o, ok := object{}, false
	if json.Valid(body) {
		o, ok = decodeObject(body, patchFields)
	}
	if !ok {
		p.add("body", "must be a JSON object")
		return nil, p
	}
	for _, u := range o.unknown {
		p.add(u, "unknown field")
	}
	for _, d := range o.dups {
		p.add(d, "duplicate field")
	}
	u := &patch{
		AccountHolderName:  o.stringField("accountHolderName", "accountHolderName", &p),
		AccountName:        o.stringField("accountName", "accountName", &p),
		Dob:                o.stringField("dob", "dob", &p),
		NativeLanguageName: o.stringField("nativeLanguageName", "nativeLanguageName", &p),
		ClientReference:    o.stringField("clientReference", "clientReference", &p),
	}
	for _, f := range []struct {
		field string
		v     *string
	}{{"accountHolderName", u.AccountHolderName}, {"accountName", u.AccountName}} {
		field, v := f.field, f.v
		switch {
		case v == nil:
		case strings.TrimSpace(*v) == "":
			p.add(field, "must not be blank")
		case strings.EqualFold(strings.TrimSpace(*v), Placeholder):
			p.add(field, "must not be the placeholder %s", Placeholder)
		}
	}
	if u.Dob != nil && !validDate(*u.Dob) {
		p.add("dob", "must be a date YYYY-MM-DD")
	}
	if v := u.NativeLanguageName; v != nil {
		switch {
		case *v == "":
			p.add("nativeLanguageName", "must not be empty")
		case chars(*v) > MaxNativeLanguageName:
			p.add("nativeLanguageName", "must be at most %d characters", MaxNativeLanguageName)
		}
	}
	if v := u.ClientReference; v != nil && chars(*v) > MaxClientReference {
		p.add("clientReference", "must be at most %d characters", MaxClientReference)
	}
	if len(p) == 0 && !u.identity() && u.ClientReference == nil {
		p.add("body", "at least one of accountHolderName, accountName, dob, nativeLanguageName, clientReference is required")
	}
	if len(p) > 0 {
		return nil, p
	}
	return u, nil
}

// handlePatch serves PATCH /v1/virtual-accounts/{number}.
func (m *Mock) handlePatch(w http.ResponseWriter, r *http.Request) {
	owner, ok := m.authorize(w, r, PermissionUpdate)
	if !ok {
		return
	}
	format, ok := m.negotiate(w, r)
	if !ok {
		return
	}
	body, ok := readJSONBody(w, r)
	if !ok {
		return
	}
	u, probs := parsePatch(body)
	if len(probs) > 0 {
		writeError(w, http.StatusBadRequest, "", probs.String())
		return
	}
	status, code, msg, v := m.applyPatch(owner, r.PathValue("number"), u)
	if status != http.StatusOK {
		writeError(w, status, code, msg)
		return
	}
	writeAccounts(w, format, v)
}

// applyPatch updates the account atomically; it returns the HTTP outcome.
func (m *Mock) applyPatch(owner, number string, u *patch) (status int, code, msg string, v accountView) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.accounts[number]
	if !ok || a.owner != owner {
		return http.StatusNotFound, "", "no virtual account " + number, v
	}
	if u.identity() {
		if u.AccountHolderName != nil && !slices.Contains(a.holders, *u.AccountHolderName) {
			a.holders = append(a.holders, *u.AccountHolderName)
		}
		names := u.AccountHolderName != nil || u.AccountName != nil
		switch {
		case a.fixed:
			var changed []string
			for _, f := range []struct {
				name string
				want *string
				have string
			}{
				{"accountHolderName", u.AccountHolderName, a.AccountHolderName},
				{"accountName", u.AccountName, a.AccountName},
				{"dob", u.Dob, deref(a.Dob)},
				{"nativeLanguageName", u.NativeLanguageName, deref(a.NativeLanguageName)},
			} {
				if f.want != nil && *f.want != f.have {
					changed = append(changed, f.name)
				}
			}
			if len(changed) > 0 {
				return http.StatusConflict, "FIELD_IMMUTABLE",
					strings.Join(changed, ", ") + ": immutable after the first update; only clientReference can change", v
			}
		case !a.Allocated && names:
			// The allocation: the customer's real details, both names.
			var p problems
			if u.AccountHolderName == nil {
				p.add("accountHolderName", "required to allocate an unallocated account")
			}
			if u.AccountName == nil {
				p.add("accountName", "required to allocate an unallocated account")
			}
			if len(p) > 0 {
				return http.StatusBadRequest, "", p.String(), v
			}
		}
		if u.AccountHolderName != nil {
			a.AccountHolderName = *u.AccountHolderName
		}
		if u.AccountName != nil {
			a.AccountName = *u.AccountName
		}
		if u.Dob != nil {
			a.Dob = u.Dob
		}
		if u.NativeLanguageName != nil {
			a.NativeLanguageName = u.NativeLanguageName
		}
		// While unallocated, dob and nativeLanguageName may change any
		// number of times; the update that names the customer allocates
		// the account, and an allocated account's first update fixes it.
		if a.Allocated || names {
			a.Allocated, a.fixed = true, true
		}
	}
	if u.ClientReference != nil {
		a.ClientReference = optional(u.ClientReference)
	}
	a.UpdatedAt = now()
	return http.StatusOK, "", "", a.accountView
}
