package masterfiatmock

import (
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vagate/vagate/mocks/fault"
	"github.com/vagate/vagate/mocks/hook"
	"github.com/vagate/vagate/mocks/mockhttp"
)

// Virtual account statuses, as the document lists them.
const (
	StatusCreated          = "CREATED"
	StatusActive           = "ACTIVE"
	StatusActivationFailed = "ACTIVATION_FAILED"
	StatusBlocked          = "BLOCKED"
	StatusUnblocking       = "UNBLOCKING"
	StatusClosed           = "CLOSED"
)

// Owner types.
const (
	OwnerMember  = "MEMBER"
	OwnerEndUser = "END_USER"
)

// Routing code types.
const (
	RoutingSortCode = "SORT_CODE"
	RoutingABA      = "ABA"
	RoutingWire     = "WIRE"
)

// Webhook events the mock emits.
const (
	EventCreated       = "VIRTUAL_ACCOUNT.CREATED"
	EventStatusUpdated = "VIRTUAL_ACCOUNT.STATUS_UPDATED"
)

// Scope is the OAuth scope every API call needs.
const Scope = "PAYMENTS"

// Limits of the mock's create body.
const (
	MaxLabel         = 255
	MaxMetadata      = 50
	MaxMetadataKey   = 40
	MaxMetadataValue = 500
	MaxBody          = 1 << 20
	MaxListLimit     = 100
)

// Webhook delivery: attempts in all, and the first wait before a retry (doubling).
const (
	WebhookAttempts = 3
	webhookBackoff  = 100 * time.Millisecond
)

// idPattern is the shape of every object id: a prefix and 18 lower-case alphanumerics.
var idPattern = regexp.MustCompile(`^[a-z]{3}_[a-z0-9]{1,64}$`)

// Client is one API client (OAuth client credentials) of the mock's member.
type Client struct {
	ID, Secret string
}

// DefaultClient is the client a mock holds when Options.Clients is nil.
func DefaultClient() Client { return Client{ID: "vagate", Secret: "vagate-secret"} }

// The member and business every client of the mock acts for.
const (
	MemberID   = "mbr_vagate000000000001"
	BusinessID = "biz_vagate000000000001"
)

// FiatAccount is a MASTER fiat account that virtual accounts are created under.
type FiatAccount struct {
	ID       string `json:"id"`
	Currency string `json:"currency"`
	// Country is where its virtual accounts are held (default by currency: GB, DE, US).
	Country string `json:"country"`
	Label   string `json:"label,omitempty"`
	// BankName is the underlying banking provider of its virtual accounts.
	BankName string `json:"bankName"`
	// AccountHolderName is the name on statements for member-owned virtual accounts.
	AccountHolderName string `json:"accountHolderName"`
}

// EndUser is an end user virtual accounts can be created for.
type EndUser struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// DefaultFiatAccounts are master fiat accounts in GBP, EUR and USD with fixed ids.
func DefaultFiatAccounts() []FiatAccount {
	return []FiatAccount{
		{ID: "fac_gbp000000000000001", Currency: "GBP", Country: "GB", Label: "GBP master"},
		{ID: "fac_eur000000000000001", Currency: "EUR", Country: "DE", Label: "EUR master"},
		{ID: "fac_usd000000000000001", Currency: "USD", Country: "US", Label: "USD master"},
	}
}

// DefaultEndUser is an end user with a fixed id.
func DefaultEndUser() EndUser {
	return EndUser{ID: "eus_vagate000000000001", Name: "Jane Smith"}
}

// Options configure a Mock; the zero value gives the defaults.
type Options struct {
	// Clients are the API clients; nil means []Client{DefaultClient()}.
	Clients []Client
	// FiatAccounts and EndUsers are seeded at start (and kept by Reset).
	FiatAccounts []FiatAccount
	EndUsers     []EndUser
	// ActivationDelay is how long an account stays CREATED (0 = 50ms, negative = none).
	ActivationDelay time.Duration
	// UnblockDelay is how long an account stays UNBLOCKING (0 = 50ms, negative = none).
	UnblockDelay time.Duration
	// ActivationFailureRate is the share of activations that end ACTIVATION_FAILED.
	ActivationFailureRate float64
	// Seed makes ids, bank details, activation failures and faults reproducible.
	Seed uint64
	// TokenTTL is the access token lifetime (0 = 3599s).
	TokenTTL time.Duration
	// WebhookClient sends webhooks (default: 5s timeout, redirects not followed).
	WebhookClient *http.Client
	// Strict reads the document's ambiguities the strict way (see the
	// package documentation, # Strict and lenient); false is lenient.
	Strict bool
	// RoutingCodesArray shows each bank detail's routingCodes as an array
	// of every code (the document's "one or more") instead of the object
	// of the first (the document's type).
	RoutingCodesArray bool
}

// Config is the part of the options QA can change at run time.
type Config struct {
	ActivationDelay       time.Duration
	UnblockDelay          time.Duration
	ActivationFailureRate float64
}

func (c Config) clean() Config {
	c.ActivationDelay = max(c.ActivationDelay, 0)
	c.UnblockDelay = max(c.UnblockDelay, 0)
	c.ActivationFailureRate = min(max(c.ActivationFailureRate, 0), 1)
	return c
}

// Mock is the in-memory provider; it is an http.Handler. Its Base serves
// it, holds its fault injector and the outbox of its webhooks, and gives it
// Reset (virtual accounts, webhook deliveries, webhook faults and fault
// rules are forgotten, pending transitions stopped, the options'
// configuration restored; clients, tokens, fiat accounts, end users and
// registered webhooks stay) and Close (transitions and webhook delivery
// stop).
type Mock struct {
	*mockhttp.Base
	opts     Options
	defaults Config
	wg       sync.WaitGroup

	mu        sync.Mutex
	closed    bool
	cfg       Config
	clients   map[string]Client
	tokens    map[string]token
	fiat      map[string]*FiatAccount
	fiatOrder []string
	endUsers  map[string]*EndUser
	euOrder   []string
	accounts  map[string]*account
	accOrder  []*account
	webhooks  map[string]*webhook
	whOrder   []*webhook
	timers    map[*time.Timer]struct{}
	rng       *mrand.Rand
	lastMS    int64
}

type token struct {
	client  string
	expires time.Time
}

// New returns a running mock; it panics if the seeded objects in opts are invalid.
func New(opts *Options) *Mock {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Clients == nil {
		o.Clients = []Client{DefaultClient()}
	}
	o.ActivationDelay = orDefault(o.ActivationDelay, 50*time.Millisecond)
	o.UnblockDelay = orDefault(o.UnblockDelay, 50*time.Millisecond)
	if o.TokenTTL <= 0 {
		o.TokenTTL = 3599 * time.Second
	}
	m := &Mock{
		opts:     o,
		defaults: Config{ActivationDelay: o.ActivationDelay, UnblockDelay: o.UnblockDelay, ActivationFailureRate: o.ActivationFailureRate}.clean(),
		clients:  map[string]Client{},
		tokens:   map[string]token{},
		fiat:     map[string]*FiatAccount{},
		endUsers: map[string]*EndUser{},
		webhooks: map[string]*webhook{},
		timers:   map[*time.Timer]struct{}{},
	}
	for _, c := range o.Clients {
		if c.ID == "" || c.Secret == "" {
			panic("masterfiatmock: a client needs an id and a secret")
		}
		m.clients[c.ID] = c
	}
	m.Base = mockhttp.NewBase(&mockhttp.BaseOptions{
		Faults: fault.Options{Seed: o.Seed, ErrorBody: faultBody},
		Webhooks: &hook.Options{Seed: o.Seed, Client: o.WebhookClient, Attempts: WebhookAttempts,
			Backoff: webhookBackoff, UserAgent: "masterfiatmock"},
		Reset: m.resetState,
		Stop:  m.stop,
	})
	m.routes()
	m.mu.Lock()
	m.resetLocked()
	m.mu.Unlock()
	for _, f := range o.FiatAccounts {
		if _, err := m.AddFiatAccount(f); err != nil {
			panic(err)
		}
	}
	for _, u := range o.EndUsers {
		if _, err := m.AddEndUser(u); err != nil {
			panic(err)
		}
	}
	return m
}

func orDefault(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

// resetLocked forgets virtual accounts, stops pending transitions and
// restores the configuration and random source of the options; m.mu must
// be held.
func (m *Mock) resetLocked() {
	m.stopTimersLocked()
	m.cfg = m.defaults
	m.accounts = map[string]*account{}
	m.accOrder = nil
	m.rng = mrand.New(mrand.NewPCG(m.opts.Seed, m.opts.Seed^0x6d61737465726669))
}

// stopTimersLocked cancels pending transitions; m.mu must be held.
func (m *Mock) stopTimersLocked() {
	for t := range m.timers {
		if t.Stop() {
			m.wg.Done()
		}
	}
	m.timers = map[*time.Timer]struct{}{}
}

// resetState forgets the mock's own state (Base.Reset).
func (m *Mock) resetState() {
	m.mu.Lock()
	m.resetLocked()
	m.mu.Unlock()
}

// stop stops transitions and waits for those running (Base.Close).
func (m *Mock) stop() {
	m.mu.Lock()
	m.closed = true
	m.stopTimersLocked()
	m.mu.Unlock()
	m.wg.Wait()
}

// SetConfig changes the delays and activation failure rate from now on.
func (m *Mock) SetConfig(c Config) {
	m.mu.Lock()
	m.cfg = c.clean()
	m.mu.Unlock()
}

// CurrentConfig returns the run-time configuration.
func (m *Mock) CurrentConfig() Config {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cfg
}

// defaultCountry is where virtual accounts of a currency are held unless set.
func defaultCountry(currency string) string {
	switch currency {
	case "GBP":
		return "GB"
	case "USD":
		return "US"
	case "EUR":
		return "DE"
	}
	return ""
}

var supportedCountries = map[string]bool{"GB": true, "DE": true, "DK": true, "LU": true, "US": true}

// AddFiatAccount adds a MASTER fiat account; an empty id is generated.
func (m *Mock) AddFiatAccount(f FiatAccount) (FiatAccount, error) {
	if !isCurrency(f.Currency) {
		return FiatAccount{}, fmt.Errorf("masterfiatmock: fiat account currency %q is not an ISO 4217 code", f.Currency)
	}
	if f.Country == "" {
		f.Country = defaultCountry(f.Currency)
	}
	if !supportedCountries[f.Country] {
		return FiatAccount{}, fmt.Errorf("masterfiatmock: fiat account country %q is not one of GB, DE, DK, LU, US", f.Country)
	}
	if f.BankName == "" {
		f.BankName = "Mock Partner Bank"
	}
	if f.AccountHolderName == "" {
		f.AccountHolderName = "Vagate Member Ltd"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if f.ID == "" {
		f.ID = m.newID("fac")
	}
	if !strings.HasPrefix(f.ID, "fac_") || !idPattern.MatchString(f.ID) {
		return FiatAccount{}, fmt.Errorf("masterfiatmock: fiat account id %q does not look like fac_<id>", f.ID)
	}
	if _, dup := m.fiat[f.ID]; dup {
		return FiatAccount{}, fmt.Errorf("masterfiatmock: fiat account %s exists", f.ID)
	}
	c := f
	m.fiat[f.ID] = &c
	m.fiatOrder = append(m.fiatOrder, f.ID)
	return f, nil
}

// AddEndUser adds an end user; an empty id is generated.
func (m *Mock) AddEndUser(u EndUser) (EndUser, error) {
	if strings.TrimSpace(u.Name) == "" {
		return EndUser{}, errors.New("masterfiatmock: end user name is empty")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if u.ID == "" {
		u.ID = m.newID("eus")
	}
	if !strings.HasPrefix(u.ID, "eus_") || !idPattern.MatchString(u.ID) {
		return EndUser{}, fmt.Errorf("masterfiatmock: end user id %q does not look like eus_<id>", u.ID)
	}
	if _, dup := m.endUsers[u.ID]; dup {
		return EndUser{}, fmt.Errorf("masterfiatmock: end user %s exists", u.ID)
	}
	c := u
	m.endUsers[u.ID] = &c
	m.euOrder = append(m.euOrder, u.ID)
	return u, nil
}

// FiatAccounts returns the master fiat accounts, in the order added.
func (m *Mock) FiatAccounts() []FiatAccount {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]FiatAccount, 0, len(m.fiatOrder))
	for _, id := range m.fiatOrder {
		out = append(out, *m.fiat[id])
	}
	return out
}

// EndUsers returns the end users, in the order added.
func (m *Mock) EndUsers() []EndUser {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]EndUser, 0, len(m.euOrder))
	for _, id := range m.euOrder {
		out = append(out, *m.endUsers[id])
	}
	return out
}

// CountByReference counts the virtual accounts whose metadata clientReference is ref.
func (m *Mock) CountByReference(ref string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, a := range m.accOrder {
		if v, ok := a.Metadata[ReferenceKey]; ok && v == ref {
			n++
		}
	}
	return n
}

// AccountCount counts the virtual accounts held.
func (m *Mock) AccountCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.accOrder)
}

// Account returns the virtual account with id as the API shows it.
func (m *Mock) Account(id string) (VirtualAccount, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.accounts[id]
	if !ok {
		return VirtualAccount{}, false
	}
	return a.view(m.opts.RoutingCodesArray), true
}

// ReferenceKey is the metadata key counted by CountByReference and the
// admin API: the one the vagate adapter stores its client reference under.
const ReferenceKey = "clientReference"

const idAlphabet = "0123456789abcdefghijklmnopqrstuvwxyz"

// newID returns prefix_ and 18 characters from the seeded source; m.mu must be held.
func (m *Mock) newID(prefix string) string {
	b := make([]byte, 0, len(prefix)+19)
	b = append(b, prefix...)
	b = append(b, '_')
	for range 18 {
		b = append(b, idAlphabet[m.rng.IntN(len(idAlphabet))])
	}
	return string(b)
}

// nowMS returns the current epoch milliseconds, strictly greater than any
// returned before, so every change has its own updatedAt; m.mu must be held.
func (m *Mock) nowMS() int64 {
	ms := time.Now().UnixMilli()
	if ms <= m.lastMS {
		ms = m.lastMS + 1
	}
	m.lastMS = ms
	return ms
}

// after runs f once d has passed, unless Reset or Close come first; m.mu must be held.
func (m *Mock) after(d time.Duration, f func()) {
	if m.closed {
		return
	}
	m.wg.Add(1)
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		defer m.wg.Done()
		m.mu.Lock()
		_, live := m.timers[t]
		delete(m.timers, t)
		m.mu.Unlock()
		if live {
			f()
		}
	})
	m.timers[t] = struct{}{}
}

func isCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := range 3 {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
