package subaccountmock

import (
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/vagate/vagate/mocks/fault"
	"github.com/vagate/vagate/mocks/mockhttp"
)

type adminAccount struct {
	accountView
	Classification string `json:"classification"`
	Identifier     string `json:"identifier,omitempty"`
	CustomerID     string `json:"customer_id,omitempty"`
}

type adminConfig struct {
	AddressDelay *fault.Duration `json:"addressDelay,omitempty"`
}

func (m *Mock) adminRoutes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /__admin/accounts", m.adminAccounts)
	mux.HandleFunc("PATCH /__admin/accounts/{id}", m.adminDrift)
	mux.HandleFunc("DELETE /__admin/accounts/{id}", m.adminForget)
	mux.HandleFunc("GET /__admin/accounts/{id}/transactions", m.adminTransactions)
	mux.HandleFunc("GET /__admin/main-accounts", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"accounts": m.MainAccounts()})
	})
	mux.HandleFunc("POST /__admin/main-accounts", m.adminAddMain)
	mux.HandleFunc("POST /__admin/deposits", m.adminDeposit)
	mux.HandleFunc("GET /__admin/config", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, configJSON(m.Config()))
	})
	mux.HandleFunc("PUT /__admin/config", m.adminSetConfig)
	mux.HandleFunc("DELETE /__admin/reset", mockhttp.NoContent(m.Reset))
	return mockhttp.Fallback(mux, writeStatusError)
}

func configJSON(c Config) adminConfig {
	d := fault.Duration(c.AddressDelay)
	return adminConfig{AddressDelay: &d}
}

func (m *Mock) adminAccounts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ref, byRef := q.Get("clientReference"), q.Has("clientReference")
	var accs []adminAccount
	m.mu.Lock()
	for _, s := range m.subList {
		if !byRef || s.clientReference == ref {
			m.settle(s)
			accs = append(accs, adminAccount{s.view(), s.classification, s.identifier, s.customerID})
		}
	}
	m.mu.Unlock()
	writeJSON(w, http.StatusOK, mockhttp.NewAccountList(accs, byRef))
}

func (m *Mock) adminTransactions(w http.ResponseWriter, r *http.Request) {
	ps, err := m.Transactions(r.PathValue("id"))
	if err != nil {
		writeError(w, http.StatusNotFound, "", err.Error(), nil)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": ps})
}

func (m *Mock) adminAddMain(w http.ResponseWriter, r *http.Request) {
	var in MainAccount
	if !decodeStrict(w, r, &in) {
		return
	}
	if in.Available != 0 || in.Pending != 0 {
		writeError(w, http.StatusBadRequest, "", "balances start at zero; use POST /__admin/deposits", nil)
		return
	}
	a, err := m.AddMainAccount(in)
	if err != nil {
		writeError(w, http.StatusBadRequest, "", err.Error(), nil)
		return
	}
	writeJSON(w, http.StatusCreated, a)
}

func (m *Mock) adminDeposit(w http.ResponseWriter, r *http.Request) {
	var in Deposit
	if !decodeStrict(w, r, &in) {
		return
	}
	p, err := m.Deposit(in)
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, "", err.Error(), nil)
	case errors.Is(err, ErrNoAddress):
		writeError(w, http.StatusConflict, CodeNoDepositAddress, err.Error(), nil)
	case err != nil:
		writeError(w, http.StatusBadRequest, "", err.Error(), nil)
	default:
		writeJSON(w, http.StatusCreated, map[string]any{"data": p})
	}
}

func (m *Mock) adminSetConfig(w http.ResponseWriter, r *http.Request) {
	var in adminConfig
	if !decodeStrict(w, r, &in) {
		return
	}
	if in.AddressDelay != nil && *in.AddressDelay < 0 {
		writeError(w, http.StatusBadRequest, "", "addressDelay: must not be negative", nil)
		return
	}
	m.mu.Lock()
	if in.AddressDelay != nil {
		m.cfg.AddressDelay = time.Duration(*in.AddressDelay)
	}
	c := m.cfg
	m.mu.Unlock()
	writeJSON(w, http.StatusOK, configJSON(c))
}

// decodeStrict reads a small admin JSON body, refusing unknown fields.
func decodeStrict(w http.ResponseWriter, r *http.Request, v any) bool {
	return mockhttp.DecodeStrict(w, r, v, writeStatusError)
}

// adminDrift changes a sub-account behind the client's back: {state?,
// name?} (the name is the account's name; updated moves).
func (m *Mock) adminDrift(w http.ResponseWriter, r *http.Request) {
	var in struct {
		State *string `json:"state,omitempty"`
		Name  *string `json:"name,omitempty"`
	}
	if !decodeStrict(w, r, &in) {
		return
	}
	if in.State != nil && *in.State != StateActive && *in.State != StatePendingDepositAddress {
		writeError(w, http.StatusBadRequest, "VALIDATION_ERROR", "state: must be ACTIVE or PENDING_DEPOSIT_ADDRESS", nil)
		return
	}
	m.mu.Lock()
	s, ok := m.subs[r.PathValue("id")]
	if ok {
		if in.State != nil {
			s.state = *in.State
			if s.state == StatePendingDepositAddress {
				s.readyAt = m.now().Add(24 * time.Hour)
			}
		}
		if in.Name != nil {
			s.name = *in.Name
		}
		s.updated = m.now()
	}
	m.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "no sub-account "+r.PathValue("id"), nil)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// adminForget loses a sub-account, as if the provider had dropped it.
func (m *Mock) adminForget(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	m.mu.Lock()
	s, ok := m.subs[id]
	if ok {
		delete(m.subs, id)
		m.subList = slices.DeleteFunc(m.subList, func(x *subAccount) bool { return x == s })
	}
	m.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "no sub-account "+id, nil)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
