package parentprimarymock

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/vagate/vagate/mocks/fault"
	"github.com/vagate/vagate/mocks/mockhttp"
)

// Transfer is a movement of funds between a virtual account and its parent
// primary account, or between two virtual accounts of one parent.
type Transfer struct {
	ID            string    `json:"id"`
	FromAccountID string    `json:"fromAccountId"`
	ToAccountID   string    `json:"toAccountId"`
	Amount        string    `json:"amount"`
	CurrencyCode  string    `json:"currencyCode"`
	CreateDate    time.Time `json:"createDate"`
}

// TransferError is a refused transfer, with the provider's error code.
type TransferError struct {
	Code    string
	Message string
}

// Error gives the code and message.
func (e *TransferError) Error() string { return e.Code + ": " + e.Message }

// holder is one side of a transfer: a primary or a virtual account.
type holder struct {
	partner, currency, parent string // parent: the primary's own id, or the virtual's parent
	virtual                   *account
	primary                   *primary
}

func (h *holder) balance() *int64 {
	if h.virtual != nil {
		return &h.virtual.balance
	}
	return &h.primary.balance
}

func (m *Mock) holderLocked(id string) (*holder, bool) {
	id = strings.ToLower(id)
	if p, ok := m.primaries[id]; ok {
		return &holder{partner: p.partnerID, currency: p.currency, parent: p.id, primary: p}, true
	}
	if a, ok := m.accounts[id]; ok {
		return &holder{partner: a.partnerID, currency: a.currency, parent: a.primaryID, virtual: a}, true
	}
	return nil, false
}

// Transfer moves amount (e.g. "10.00") between accounts: virtual to
// virtual of the same parent, virtual to its parent, or parent to one of its
// virtual accounts. Both virtual accounts must be READY and the source must
// hold the funds. A refusal is a *TransferError.
func (m *Mock) Transfer(from, to, amount string) (Transfer, error) {
	n, ok := parseAmount(amount)
	if !ok || n == 0 {
		return Transfer{}, &TransferError{CodeValidation, "amount: must be a positive amount like 10.00"}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.nowLocked()
	src, ok1 := m.holderLocked(from)
	dst, ok2 := m.holderLocked(to)
	switch {
	case !ok1:
		return Transfer{}, &TransferError{CodeAccountNotFound, "fromAccountId: no account " + from}
	case !ok2:
		return Transfer{}, &TransferError{CodeAccountNotFound, "toAccountId: no account " + to}
	case src == dst || strings.EqualFold(from, to):
		return Transfer{}, &TransferError{CodeTransferNotAllowed, "the accounts must differ"}
	case src.partner != dst.partner || src.currency != dst.currency || src.parent != dst.parent:
		return Transfer{}, &TransferError{CodeTransferNotAllowed, "funds move only between a primary account and its virtual accounts, or between virtual accounts of one primary account"}
	case src.primary != nil && dst.primary != nil:
		return Transfer{}, &TransferError{CodeTransferNotAllowed, "funds move only between a primary account and its virtual accounts"}
	}
	for _, h := range []*holder{src, dst} {
		if h.virtual != nil && h.virtual.state(now) != StateReady {
			return Transfer{}, &TransferError{CodeAccountNotReady, "virtual account " + h.virtual.id + " is " + h.virtual.state(now)}
		}
	}
	if *src.balance() < n {
		return Transfer{}, &TransferError{CodeInsufficientFunds, "fromAccountId: available balance " + formatAmount(*src.balance()) + " " + src.currency}
	}
	*src.balance() -= n
	*dst.balance() += n
	t := Transfer{ID: m.newID(), FromAccountID: strings.ToLower(from), ToAccountID: strings.ToLower(to),
		Amount: formatAmount(n), CurrencyCode: src.currency, CreateDate: now.Truncate(time.Millisecond)}
	m.transfers = append(m.transfers, t)
	return t, nil
}

// Transfers returns the transfers made, oldest first.
func (m *Mock) Transfers() []Transfer {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Transfer{}, m.transfers...)
}

type adminConfig struct {
	ReadyDelay  *fault.Duration `json:"readyDelay,omitempty"`
	ClockOffset *fault.Duration `json:"clockOffset,omitempty"`
	MaxSkew     *fault.Duration `json:"maxSkew,omitempty"`
}

func configJSON(c Config) adminConfig {
	r, o, s := fault.Duration(c.ReadyDelay), fault.Duration(c.ClockOffset), fault.Duration(c.MaxSkew)
	return adminConfig{ReadyDelay: &r, ClockOffset: &o, MaxSkew: &s}
}

type primaryView struct {
	ID               string    `json:"id"`
	PartnerID        string    `json:"partnerId"`
	Type             string    `json:"type"`
	CurrencyCode     string    `json:"currencyCode"`
	CreateDate       time.Time `json:"createDate"`
	AvailableBalance string    `json:"availableBalance"`
}

func (p *primary) view() primaryView {
	return primaryView{ID: p.id, PartnerID: p.partnerID, Type: TypePrimary, CurrencyCode: p.currency,
		CreateDate: p.created, AvailableBalance: formatAmount(p.balance)}
}

func (m *Mock) adminRoutes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /__admin/accounts", m.adminAccounts)
	mux.HandleFunc("GET /__admin/accounts/{id}", func(w http.ResponseWriter, r *http.Request) {
		a, ok := m.Account(r.PathValue("id"))
		if !ok {
			writeError(w, http.StatusNotFound, CodeAccountNotFound, "no virtual account "+r.PathValue("id"))
			return
		}
		writeJSON(w, http.StatusOK, a)
	})
	mux.HandleFunc("PUT /__admin/accounts/{id}/state", m.adminSetState)
	mux.HandleFunc("DELETE /__admin/accounts/{id}", m.adminForget)
	mux.HandleFunc("GET /__admin/primary-accounts", func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		out := struct {
			PrimaryAccounts []primaryView `json:"primaryAccounts"`
		}{PrimaryAccounts: []primaryView{}}
		for _, p := range m.primOrder {
			out.PrimaryAccounts = append(out.PrimaryAccounts, p.view())
		}
		m.mu.Unlock()
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("POST /__admin/primary-accounts", m.adminAddPrimary)
	mux.HandleFunc("GET /__admin/transfers", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"transfers": m.Transfers()})
	})
	mux.HandleFunc("POST /__admin/transfers", m.adminTransfer)
	mux.HandleFunc("POST /__admin/partners", m.adminAddPartner)
	mux.HandleFunc("PATCH /__admin/partners/{id}", m.adminUpdatePartner)
	mux.HandleFunc("GET /__admin/products", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"products": m.products})
	})
	mux.HandleFunc("GET /__admin/config", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, configJSON(m.Config()))
	})
	mux.HandleFunc("PUT /__admin/config", m.adminSetConfig)
	mux.HandleFunc("DELETE /__admin/reset", mockhttp.NoContent(m.Reset))
	return mux
}

func (m *Mock) adminAccounts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := Filter{ClientReference: q.Get("clientReference"), ExternalReference: q.Get("externalReference"),
		CustomerID: q.Get("customerId"), State: q.Get("state")}
	accs := m.Accounts(f)
	writeJSON(w, http.StatusOK, struct {
		Accounts []AccountRecord `json:"accounts"`
		Count    int             `json:"count"`
	}{accs, len(accs)})
}

func (m *Mock) adminSetState(w http.ResponseWriter, r *http.Request) {
	var in struct {
		State string `json:"state"`
	}
	if !decodeStrict(w, r, &in) {
		return
	}
	if in.State != StateBlocked && in.State != StateReady {
		writeError(w, http.StatusBadRequest, "", "state: must be BLOCKED or READY (DELETED comes only from the API's DELETE)")
		return
	}
	if err := m.SetBlocked(r.PathValue("id"), in.State == StateBlocked); err != nil {
		writeError(w, http.StatusConflict, "", err.Error())
		return
	}
	a, _ := m.Account(r.PathValue("id"))
	writeJSON(w, http.StatusOK, a)
}

func (m *Mock) adminAddPrimary(w http.ResponseWriter, r *http.Request) {
	var in PrimaryAccount
	if !decodeStrict(w, r, &in) {
		return
	}
	p, err := m.AddPrimaryAccount(in)
	if err != nil {
		writeError(w, http.StatusBadRequest, "", err.Error())
		return
	}
	m.mu.Lock()
	v := m.primaries[p.ID].view()
	m.mu.Unlock()
	writeJSON(w, http.StatusCreated, v)
}

func (m *Mock) adminTransfer(w http.ResponseWriter, r *http.Request) {
	var in struct {
		FromAccountID string `json:"fromAccountId"`
		ToAccountID   string `json:"toAccountId"`
		Amount        string `json:"amount"`
	}
	if !decodeStrict(w, r, &in) {
		return
	}
	t, err := m.Transfer(in.FromAccountID, in.ToAccountID, in.Amount)
	if te, ok := err.(*TransferError); ok {
		status := http.StatusUnprocessableEntity
		switch te.Code {
		case CodeValidation:
			status = http.StatusBadRequest
		case CodeAccountNotFound:
			status = http.StatusNotFound
		}
		writeError(w, status, te.Code, te.Message)
		return
	}
	writeJSON(w, http.StatusCreated, t)
}

func (m *Mock) adminAddPartner(w http.ResponseWriter, r *http.Request) {
	var in Partner
	if !decodeStrict(w, r, &in) {
		return
	}
	if err := m.AddPartner(in); err != nil {
		writeError(w, http.StatusBadRequest, "", err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"id": strings.ToLower(in.ID)})
}

func (m *Mock) adminUpdatePartner(w http.ResponseWriter, r *http.Request) {
	var in struct {
		APIToken      string `json:"apiToken"`
		SigningSecret string `json:"signingSecret"`
	}
	if !decodeStrict(w, r, &in) {
		return
	}
	if err := m.UpdatePartner(r.PathValue("id"), in.APIToken, in.SigningSecret); err != nil {
		writeError(w, http.StatusBadRequest, "", err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (m *Mock) adminSetConfig(w http.ResponseWriter, r *http.Request) {
	var in adminConfig
	if !decodeStrict(w, r, &in) {
		return
	}
	var p problems
	if in.ReadyDelay != nil && *in.ReadyDelay < 0 {
		p.add("readyDelay", "must not be negative")
	}
	if in.MaxSkew != nil && *in.MaxSkew <= 0 {
		p.add("maxSkew", "must be positive")
	}
	if len(p) > 0 {
		writeErrorFields(w, http.StatusBadRequest, "", p.String(), p)
		return
	}
	m.mu.Lock()
	if in.ReadyDelay != nil {
		m.cfg.ReadyDelay = time.Duration(*in.ReadyDelay)
	}
	if in.ClockOffset != nil {
		m.cfg.ClockOffset = time.Duration(*in.ClockOffset)
	}
	if in.MaxSkew != nil {
		m.cfg.MaxSkew = time.Duration(*in.MaxSkew)
	}
	c := m.cfg
	m.mu.Unlock()
	writeJSON(w, http.StatusOK, configJSON(c))
}

// String describes the transfer for logs and test failures.
func (t Transfer) String() string {
	return fmt.Sprintf("%s %s %s→%s", t.Amount, t.CurrencyCode, t.FromAccountID, t.ToAccountID)
}

// adminForget loses a virtual account, as if the provider had dropped it:
// unlike the API's DELETE (which keeps it, DELETED), it is gone, and reads
// of it answer 404. Its idempotency keys are kept.
func (m *Mock) adminForget(w http.ResponseWriter, r *http.Request) {
	id := strings.ToLower(r.PathValue("id"))
	m.mu.Lock()
	a, ok := m.accounts[id]
	if ok {
		delete(m.accounts, id)
		m.accOrder = slices.DeleteFunc(m.accOrder, func(x *account) bool { return x == a })
	}
	m.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "", "no virtual account "+r.PathValue("id"))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
