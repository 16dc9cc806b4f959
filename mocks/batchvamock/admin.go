package batchvamock

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"slices"
	"time"

	"github.com/vagate/vagate/mocks/fault"
	"github.com/vagate/vagate/mocks/mockhttp"
)

type adminAccount struct {
	accountView
	Owner string `json:"owner"`
	// AllocationAttempts are the distinct holders identity PATCHes named.
	AllocationAttempts []string `json:"allocationAttempts,omitempty"`
}

type adminJob struct {
	jobStatus
	Owner         string            `json:"owner"`
	CallbackURL   string            `json:"callbackUrl,omitempty"`
	CustomHeaders map[string]string `json:"customHeaders,omitempty"`
}

type adminConfig struct {
	PendingDelay    *fault.Duration `json:"pendingDelay,omitempty"`
	ProcessDelay    *fault.Duration `json:"processDelay,omitempty"`
	ItemFailureRate *float64        `json:"itemFailureRate,omitempty"`
	RateLimit       *float64        `json:"rateLimit,omitempty"`
	RateBurst       *int            `json:"rateBurst,omitempty"`
}

type adminClient struct {
	ID            string   `json:"id"`
	Secret        string   `json:"secret,omitempty"`
	Permissions   []string `json:"permissions"`
	SigningSecret string   `json:"signingSecret,omitempty"`
	RSA           bool     `json:"rsa"`
}

func (m *Mock) adminRoutes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /__admin/accounts", m.adminAccounts)
	mux.HandleFunc("GET /__admin/jobs", m.adminJobs)
	mux.HandleFunc("GET /__admin/callbacks", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"callbacks": m.Callbacks()})
	})
	mux.HandleFunc("GET /__admin/signing-key", m.adminSigningKey)
	mux.HandleFunc("POST /__admin/clients", m.adminAddClient)
	mux.HandleFunc("GET /__admin/config", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, configJSON(m.config()))
	})
	mux.HandleFunc("PUT /__admin/config", m.adminSetConfig)
	mux.HandleFunc("DELETE /__admin/reset", mockhttp.NoContent(m.Reset))
	return mockhttp.Fallback(mux, writeStatusError)
}

func configJSON(c Config) adminConfig {
	p, q, f, r, b := fault.Duration(c.PendingDelay), fault.Duration(c.ProcessDelay), c.ItemFailureRate, c.RateLimit, c.RateBurst
	return adminConfig{PendingDelay: &p, ProcessDelay: &q, ItemFailureRate: &f, RateLimit: &r, RateBurst: &b}
}

func (m *Mock) adminAccounts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ref, byRef := q.Get("clientReference"), q.Has("clientReference")
	var accs []adminAccount
	m.mu.Lock()
	for _, a := range m.accOrder {
		if !byRef || deref(a.ClientReference) == ref {
			accs = append(accs, adminAccount{a.accountView, a.owner, slices.Clone(a.holders)})
		}
	}
	m.mu.Unlock()
	writeJSON(w, http.StatusOK, mockhttp.NewAccountList(accs, byRef))
}

func (m *Mock) adminJobs(w http.ResponseWriter, r *http.Request) {
	out := struct {
		Jobs []adminJob `json:"jobs"`
	}{Jobs: []adminJob{}}
	m.mu.Lock()
	for _, j := range m.jobOrder {
		out.Jobs = append(out.Jobs, adminJob{j.status(), j.owner, j.callbackURL, j.customHeaders})
	}
	m.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (m *Mock) adminSigningKey(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("clientId")
	c, ok := m.client(id)
	if !ok || c.RSAKey == nil {
		writeError(w, http.StatusNotFound, "", "no client "+id+" with response signing enabled")
		return
	}
	der, err := x509.MarshalPKIXPublicKey(&c.RSAKey.PublicKey)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Write(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func (m *Mock) adminAddClient(w http.ResponseWriter, r *http.Request) {
	var in adminClient
	if !decodeStrict(w, r, &in) {
		return
	}
	c := Client{ID: in.ID, Secret: in.Secret, Permissions: in.Permissions, SigningSecret: in.SigningSecret}
	if in.RSA {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "", err.Error())
			return
		}
		c.RSAKey = key
	}
	if err := m.AddClient(c); err != nil {
		writeError(w, http.StatusBadRequest, "", err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, adminClient{ID: c.ID, Permissions: c.Permissions, RSA: in.RSA})
}

func (m *Mock) adminSetConfig(w http.ResponseWriter, r *http.Request) {
	var in adminConfig
	if !decodeStrict(w, r, &in) {
		return
	}
	var p problems
	if in.PendingDelay != nil && *in.PendingDelay < 0 {
		p.add("pendingDelay", "must not be negative")
	}
	if in.ProcessDelay != nil && *in.ProcessDelay < 0 {
		p.add("processDelay", "must not be negative")
	}
	if in.ItemFailureRate != nil && (*in.ItemFailureRate < 0 || *in.ItemFailureRate > 1) {
		p.add("itemFailureRate", "must be between 0 and 1")
	}
	if in.RateLimit != nil && *in.RateLimit < 0 {
		p.add("rateLimit", "must not be negative (0 = no limit)")
	}
	if in.RateBurst != nil && *in.RateBurst < 0 {
		p.add("rateBurst", "must not be negative")
	}
	if len(p) > 0 {
		writeError(w, http.StatusBadRequest, "", p.String())
		return
	}
	c := m.config()
	if in.PendingDelay != nil {
		c.PendingDelay = time.Duration(*in.PendingDelay)
	}
	if in.ProcessDelay != nil {
		c.ProcessDelay = time.Duration(*in.ProcessDelay)
	}
	if in.ItemFailureRate != nil {
		c.ItemFailureRate = *in.ItemFailureRate
	}
	if in.RateLimit != nil {
		c.RateLimit = *in.RateLimit
		if in.RateBurst == nil {
			c.RateBurst = 0 // the default for the new limit
		}
	}
	if in.RateBurst != nil {
		c.RateBurst = *in.RateBurst
	}
	m.SetConfig(c)
	writeJSON(w, http.StatusOK, configJSON(m.config()))
}

// decodeStrict reads a small admin JSON body, refusing unknown fields.
func decodeStrict(w http.ResponseWriter, r *http.Request, v any) bool {
	return mockhttp.DecodeStrict(w, r, v, writeStatusError)
}
