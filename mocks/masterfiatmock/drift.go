package masterfiatmock

import (
	"net/http"
	"slices"
)

// Drift operations of the admin API: they change what the provider holds
// behind its clients' backs (no webhook is sent), so that reconciliation
// has something to find.

// driftPatch is the body of PATCH /__admin/accounts/{id}.
type driftPatch struct {
	Status            *string `json:"status,omitempty"`
	Label             *string `json:"label,omitempty"`
	AccountHolderName *string `json:"accountHolderName,omitempty"`
}

// driftCreate is the body of POST /__admin/accounts.
type driftCreate struct {
	Currency string            `json:"currency"`
	Status   string            `json:"status,omitempty"`
	Label    *string           `json:"label,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`
	// CreatedAt (epoch ms) dates the account, default now.
	CreatedAt int64 `json:"createdAt,omitempty"`
}

var statuses = []string{StatusCreated, StatusActive, StatusActivationFailed, StatusBlocked, StatusUnblocking, StatusClosed}

// adminPatchAccount changes an account's status, label or holder name
// silently: updatedAt moves, scheduled transitions are dropped.
func (m *Mock) adminPatchAccount(w http.ResponseWriter, r *http.Request) {
	var in driftPatch
	if !decodeStrict(w, r, &in) {
		return
	}
	if in.Status != nil && !slices.Contains(statuses, *in.Status) {
		writeError(w, http.StatusBadRequest, "VALIDATION_ERROR", "status: must be one of CREATED, ACTIVE, ACTIVATION_FAILED, BLOCKED, UNBLOCKING, CLOSED")
		return
	}
	m.mu.Lock()
	a, ok := m.accounts[r.PathValue("id")]
	if !ok {
		m.mu.Unlock()
		writeError(w, http.StatusNotFound, "NOT_FOUND", "no virtual account "+r.PathValue("id"))
		return
	}
	if in.Status != nil {
		a.Status = *in.Status
		a.gen++
	}
	if in.Label != nil {
		l := *in.Label
		a.Label = &l
	}
	if in.AccountHolderName != nil {
		md := map[string]string{}
		for k, v := range a.Metadata {
			md[k] = v
		}
		md["accountHolderName"] = *in.AccountHolderName
		a.Metadata = md
	}
	a.UpdatedAt = m.nowMS()
	v := a.view(m.opts.RoutingCodesArray)
	m.mu.Unlock()
	writeJSON(w, http.StatusOK, v)
}

// adminDeleteAccount forgets an account, as if the provider lost it.
func (m *Mock) adminDeleteAccount(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	m.mu.Lock()
	a, ok := m.accounts[id]
	if ok {
		delete(m.accounts, id)
		m.accOrder = slices.DeleteFunc(m.accOrder, func(x *account) bool { return x == a })
	}
	m.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "no virtual account "+id)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// adminCreateAccount creates an account no client asked for, under the
// master fiat account of its currency, with bank details, ACTIVE unless a
// status is given.
func (m *Mock) adminCreateAccount(w http.ResponseWriter, r *http.Request) {
	var in driftCreate
	if !decodeStrict(w, r, &in) {
		return
	}
	if in.Status == "" {
		in.Status = StatusActive
	}
	if !slices.Contains(statuses, in.Status) {
		writeError(w, http.StatusBadRequest, "VALIDATION_ERROR", "status: must be one of CREATED, ACTIVE, ACTIVATION_FAILED, BLOCKED, UNBLOCKING, CLOSED")
		return
	}
	m.mu.Lock()
	var fiat *FiatAccount
	for _, id := range sortedKeys(m.fiat) {
		if f := m.fiat[id]; f.Currency == in.Currency {
			fiat = f
			break
		}
	}
	if fiat == nil {
		m.mu.Unlock()
		writeError(w, http.StatusUnprocessableEntity, "FIAT_ACCOUNT_NOT_FOUND", "currency: no master fiat account in "+in.Currency)
		return
	}
	now := m.nowMS()
	created := now
	if in.CreatedAt > 0 {
		created = in.CreatedAt
	}
	a := &account{VirtualAccount: VirtualAccount{
		ID: m.newID("vac"), MasterFiatAccountID: fiat.ID, Status: in.Status, Currency: fiat.Currency,
		Owner: Owner{Type: OwnerMember, ID: MemberID}, BusinessID: BusinessID, Label: in.Label,
		CreatedAt: created, UpdatedAt: now, Metadata: in.Metadata,
	}}
	a.BankDetails = []BankDetails{m.bankDetailsLocked(a)}
	m.accounts[a.ID] = a
	m.accOrder = append(m.accOrder, a)
	v := a.view(m.opts.RoutingCodesArray)
	m.mu.Unlock()
	writeJSON(w, http.StatusCreated, v)
}
