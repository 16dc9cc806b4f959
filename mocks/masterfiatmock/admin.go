package masterfiatmock

import (
	"errors"
	"net/http"
	"time"

	"github.com/vagate/vagate/mocks/fault"
	"github.com/vagate/vagate/mocks/mockhttp"
)

type adminConfig struct {
	ActivationDelay       *fault.Duration `json:"activationDelay,omitempty"`
	UnblockDelay          *fault.Duration `json:"unblockDelay,omitempty"`
	ActivationFailureRate *float64        `json:"activationFailureRate,omitempty"`
}

func configJSON(c Config) adminConfig {
	a, u, f := fault.Duration(c.ActivationDelay), fault.Duration(c.UnblockDelay), c.ActivationFailureRate
	return adminConfig{ActivationDelay: &a, UnblockDelay: &u, ActivationFailureRate: &f}
}

func (m *Mock) adminRoutes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /__admin/accounts", m.adminAccounts)
	mux.HandleFunc("POST /__admin/accounts", m.adminCreateAccount)
	mux.HandleFunc("PATCH /__admin/accounts/{id}", m.adminPatchAccount)
	mux.HandleFunc("DELETE /__admin/accounts/{id}", m.adminDeleteAccount)
	mux.HandleFunc("POST /__admin/accounts/{id}/block", func(w http.ResponseWriter, r *http.Request) {
		v, err := m.ProviderBlock(r.PathValue("id"))
		switch {
		case errors.Is(err, ErrNotFound):
			writeError(w, http.StatusNotFound, "", err.Error())
			return
		case err != nil:
			writeError(w, http.StatusConflict, CodeInvalidTransition, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, v)
	})
	mux.HandleFunc("GET /__admin/fiat-accounts", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"fiatAccounts": m.FiatAccounts()})
	})
	mux.HandleFunc("POST /__admin/fiat-accounts", func(w http.ResponseWriter, r *http.Request) {
		var in FiatAccount
		if !decodeStrict(w, r, &in) {
			return
		}
		f, err := m.AddFiatAccount(in)
		if err != nil {
			writeError(w, http.StatusBadRequest, "VALIDATION_ERROR", err.Error())
			return
		}
		writeJSON(w, http.StatusCreated, f)
	})
	mux.HandleFunc("GET /__admin/end-users", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"endUsers": m.EndUsers()})
	})
	mux.HandleFunc("POST /__admin/end-users", func(w http.ResponseWriter, r *http.Request) {
		var in EndUser
		if !decodeStrict(w, r, &in) {
			return
		}
		u, err := m.AddEndUser(in)
		if err != nil {
			writeError(w, http.StatusBadRequest, "VALIDATION_ERROR", err.Error())
			return
		}
		writeJSON(w, http.StatusCreated, u)
	})
	mux.HandleFunc("GET /__admin/webhooks", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"webhooks": m.Webhooks()})
	})
	mux.HandleFunc("GET /__admin/webhooks/deliveries", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"deliveries": m.Deliveries()})
	})
	mux.HandleFunc("GET /__admin/config", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, configJSON(m.CurrentConfig()))
	})
	mux.HandleFunc("PUT /__admin/config", m.adminSetConfig)
	mux.HandleFunc("DELETE /__admin/reset", mockhttp.NoContent(m.Reset))
	return mockhttp.Fallback(mux, writeStatusError)
}

func (m *Mock) adminAccounts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ref, byRef := q.Get(ReferenceKey), q.Has(ReferenceKey)
	var accs []VirtualAccount
	m.mu.Lock()
	for _, a := range m.accOrder {
		if v, ok := a.Metadata[ReferenceKey]; !byRef || (ok && v == ref) {
			accs = append(accs, a.view(m.opts.RoutingCodesArray))
		}
	}
	m.mu.Unlock()
	writeJSON(w, http.StatusOK, mockhttp.NewAccountList(accs, byRef))
}

func (m *Mock) adminSetConfig(w http.ResponseWriter, r *http.Request) {
	var in adminConfig
	if !decodeStrict(w, r, &in) {
		return
	}
	var p problems
	if in.ActivationDelay != nil && *in.ActivationDelay < 0 {
		p.add("activationDelay", "must not be negative")
	}
	if in.UnblockDelay != nil && *in.UnblockDelay < 0 {
		p.add("unblockDelay", "must not be negative")
	}
	if f := in.ActivationFailureRate; f != nil && (*f < 0 || *f > 1) {
		p.add("activationFailureRate", "must be between 0 and 1")
	}
	if len(p) > 0 {
		writeProblems(w, p)
		return
	}
	m.mu.Lock()
	if in.ActivationDelay != nil {
		m.cfg.ActivationDelay = time.Duration(*in.ActivationDelay)
	}
	if in.UnblockDelay != nil {
		m.cfg.UnblockDelay = time.Duration(*in.UnblockDelay)
	}
	if in.ActivationFailureRate != nil {
		m.cfg.ActivationFailureRate = *in.ActivationFailureRate
	}
	c := m.cfg
	m.mu.Unlock()
	writeJSON(w, http.StatusOK, configJSON(c))
}

// decodeStrict reads a small admin JSON body, refusing unknown fields.
func decodeStrict(w http.ResponseWriter, r *http.Request, v any) bool {
	return mockhttp.DecodeStrict(w, r, v, writeStatusError)
}
