package parentprimarymock

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	mrand "math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/vagate/vagate/mocks/fault"
	"github.com/vagate/vagate/mocks/mockhttp"
)

// Account types.
const (
	TypeVirtual = "VIRTUAL"
	TypePrimary = "PRIMARY"
)

// Virtual account states.
const (
	StatePending = "PENDING"
	StateReady   = "READY"
	StateBlocked = "BLOCKED"
	StateDeleted = "DELETED"
)

// Limits of the mock's API.
const (
	MaxBody              = 1 << 20
	MaxProductParameters = 50
	MaxRequestedBy       = 255
	MaxReason            = 255
	MaxNotes             = 1000
	DefaultMaxSkew       = 5 * time.Minute
)

// Partner is one API user of the mock: its API token authenticates requests
// and its signing secret keys their HMAC signatures.
type Partner struct {
	ID            string `json:"id"`
	APIToken      string `json:"apiToken"`
	SigningSecret string `json:"signingSecret"`
}

// DefaultPartner is the partner a mock holds when Options.Partners is nil.
func DefaultPartner() Partner {
	return Partner{
		ID:            "2ecf0e23-3215-462c-97c4-9e5a147656d7",
		APIToken:      "vagate-pp-api-token",
		SigningSecret: "vagate-pp-signing-secret",
	}
}

func (p *Partner) validate() error {
	switch {
	case !isUUID(p.ID):
		return fmt.Errorf("parentprimarymock: partner id %q is not a UUID", p.ID)
	case p.APIToken == "":
		return fmt.Errorf("parentprimarymock: partner %s: apiToken is empty", p.ID)
	case p.SigningSecret == "":
		return fmt.Errorf("parentprimarymock: partner %s: signingSecret is empty", p.ID)
	}
	return nil
}

// PrimaryAccount is a parent account virtual accounts are created under.
type PrimaryAccount struct {
	ID string `json:"id"`
	// PartnerID owns the account ("" = the default partner).
	PartnerID    string `json:"partnerId"`
	CurrencyCode string `json:"currencyCode"`
	// Balance is the opening available balance, e.g. "1000.00" ("" = 0).
	Balance string `json:"balance,omitempty"`
}

// DefaultPrimaryAccounts are GBP, EUR and USD parents of the default partner,
// each opened with 1,000,000.00.
func DefaultPrimaryAccounts() []PrimaryAccount {
	p := DefaultPartner().ID
	return []PrimaryAccount{
		{ID: "e0cab2dd-739f-43de-b131-3e423e935bf1", PartnerID: p, CurrencyCode: "GBP", Balance: "1000000.00"},
		{ID: "ae66fcb2-2852-4568-990d-accc78572e4d", PartnerID: p, CurrencyCode: "EUR", Balance: "1000000.00"},
		{ID: "5b1c8f3e-2d7a-4e8b-9f61-0c3d2a4b5e6f", PartnerID: p, CurrencyCode: "USD", Balance: "1000000.00"},
	}
}

// DefaultProducts is the product catalogue: product code → the currency of
// the accounts it opens.
func DefaultProducts() map[string]string {
	return map[string]string{
		"FIAT_ACCOUNT_UK_V1": "GBP",
		"FIAT_ACCOUNT_EU_V1": "EUR",
		"FIAT_ACCOUNT_US_V1": "USD",
	}
}

// Options configure a Mock; the zero value gives the defaults.
type Options struct {
	// Partners are the API users; nil means []Partner{DefaultPartner()}.
	Partners []Partner
	// PrimaryAccounts are held from the start and restored by Reset.
	PrimaryAccounts []PrimaryAccount
	// Products maps product codes to currencies; nil means DefaultProducts().
	Products map[string]string
	// ReadyDelay is how long a new virtual account stays PENDING (0 = READY at once).
	ReadyDelay time.Duration
	// MaxSkew is how far a request's date may be from the mock's clock (0 = 5m).
	MaxSkew time.Duration
	// Seed makes account ids and faults reproducible.
	Seed uint64
	// Now is the mock's clock (default time.Now).
	Now func() time.Time
	// Strict requires all four request headers the document marks
	// Optional (see the package documentation, # Strict and lenient);
	// false, the default, keeps them optional as the document says.
	Strict bool
}

// Config is the part of the options QA can change at run time.
type Config struct {
	// ReadyDelay is how long virtual accounts created from now on stay PENDING.
	ReadyDelay time.Duration
	// ClockOffset is added to the mock's clock, e.g. to make every request stale.
	ClockOffset time.Duration
	// MaxSkew is how far a request's date may be from the mock's clock.
	MaxSkew time.Duration
}

// account is a virtual account held by the mock.
type account struct {
	id, partnerID, externalRef, primaryID string
	currency, customerID, productCode     string
	params                                json.RawMessage // compact JSON object, or nil
	created, readyAt                      time.Time
	blocked                               bool
	deleted                               *Deletion
	balance                               int64 // minor units
	fingerprint                           string
}

// primary is a primary account held by the mock.
type primary struct {
	id, partnerID, currency string
	opening, balance        int64
	created                 time.Time
}

// Mock is the in-memory provider; it is an http.Handler. Its Base serves
// it, holds its fault injector and gives it Reset (virtual accounts,
// idempotency keys, nonces, transfers, admin-added primary accounts and
// fault rules are forgotten; the options' configuration and primary
// accounts, with their opening balances, restored; partners stay) and Close
// (it runs no background work, so Close does nothing).
type Mock struct {
	*mockhttp.Base
	opts     Options
	defaults Config
	products map[string]string

	mu         sync.Mutex
	cfg        Config
	partners   map[string]*Partner // by id
	byToken    map[string]*Partner
	primaries  map[string]*primary
	primOrder  []*primary
	accounts   map[string]*account
	accOrder   []*account
	createKeys map[string]*account // partner + "\x00" + key
	deleteKeys map[string]*account // partner + "\x00" + key
	nonces     map[string]time.Time
	nonceAdds  int
	transfers  []Transfer
	rng        *mrand.Rand
}

// New returns a mock; it panics if a partner or primary account in opts is invalid.
func New(opts *Options) *Mock {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Partners == nil {
		o.Partners = []Partner{DefaultPartner()}
	}
	if o.Products == nil {
		o.Products = DefaultProducts()
	}
	if o.MaxSkew <= 0 {
		o.MaxSkew = DefaultMaxSkew
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.ReadyDelay = max(o.ReadyDelay, 0)
	m := &Mock{
		opts:     o,
		defaults: Config{ReadyDelay: o.ReadyDelay, MaxSkew: o.MaxSkew},
		products: maps.Clone(o.Products),
		partners: map[string]*Partner{},
		byToken:  map[string]*Partner{},
	}
	for _, p := range o.Partners {
		if err := m.AddPartner(p); err != nil {
			panic(err)
		}
	}
	m.Base = mockhttp.NewBase(&mockhttp.BaseOptions{
		Faults: fault.Options{Seed: o.Seed, ErrorBody: faultBody},
		Reset:  m.resetState,
	})
	m.routes()
	m.mu.Lock()
	err := m.resetLocked()
	m.mu.Unlock()
	if err != nil {
		panic(err)
	}
	return m
}

// resetLocked forgets virtual accounts, keys, nonces and transfers, and
// restores the options' configuration, primary accounts and random source.
func (m *Mock) resetLocked() error {
	m.cfg = m.defaults
	m.primaries = map[string]*primary{}
	m.primOrder = nil
	m.accounts = map[string]*account{}
	m.accOrder = nil
	m.createKeys = map[string]*account{}
	m.deleteKeys = map[string]*account{}
	m.nonces = map[string]time.Time{}
	m.nonceAdds = 0
	m.transfers = nil
	m.rng = mrand.New(mrand.NewPCG(m.opts.Seed, m.opts.Seed^0x9a7e11d0c0ffee))
	for _, p := range m.opts.PrimaryAccounts {
		if _, err := m.addPrimaryLocked(p); err != nil {
			return err
		}
	}
	return nil
}

// resetState forgets the mock's own state (Base.Reset).
func (m *Mock) resetState() {
	m.mu.Lock()
	m.resetLocked()
	m.mu.Unlock()
}

// AddPartner adds an API user; its id and API token must be new.
func (m *Mock) AddPartner(p Partner) error {
	if err := p.validate(); err != nil {
		return err
	}
	p.ID = strings.ToLower(p.ID)
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.partners[p.ID]; ok {
		return fmt.Errorf("parentprimarymock: partner %s exists", p.ID)
	}
	if _, ok := m.byToken[p.APIToken]; ok {
		return errors.New("parentprimarymock: another partner has this apiToken")
	}
	m.partners[p.ID] = &p
	m.byToken[p.APIToken] = &p
	return nil
}

// UpdatePartner replaces the API token and/or signing secret ("" = keep) of a partner.
func (m *Mock) UpdatePartner(id, apiToken, signingSecret string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.partners[strings.ToLower(id)]
	if !ok {
		return fmt.Errorf("parentprimarymock: no partner %s", id)
	}
	if apiToken != "" && apiToken != p.APIToken {
		if _, taken := m.byToken[apiToken]; taken {
			return errors.New("parentprimarymock: another partner has this apiToken")
		}
		delete(m.byToken, p.APIToken)
		p.APIToken = apiToken
		m.byToken[apiToken] = p
	}
	if signingSecret != "" {
		p.SigningSecret = signingSecret
	}
	return nil
}

// AddPrimaryAccount adds a parent account ("" id = a new UUID) and returns it.
func (m *Mock) AddPrimaryAccount(p PrimaryAccount) (PrimaryAccount, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	pr, err := m.addPrimaryLocked(p)
	if err != nil {
		return PrimaryAccount{}, err
	}
	return pr.public(), nil
}

func (m *Mock) addPrimaryLocked(p PrimaryAccount) (*primary, error) {
	if p.ID == "" {
		p.ID = m.newID()
	}
	if p.PartnerID == "" {
		p.PartnerID = DefaultPartner().ID
	}
	p.ID, p.PartnerID = strings.ToLower(p.ID), strings.ToLower(p.PartnerID)
	switch {
	case !isUUID(p.ID):
		return nil, fmt.Errorf("id: %q is not a UUID", p.ID)
	case m.partners[p.PartnerID] == nil:
		return nil, fmt.Errorf("partnerId: no partner %s", p.PartnerID)
	case !isCurrency(p.CurrencyCode):
		return nil, fmt.Errorf("currencyCode: %q is not an ISO 4217 code", p.CurrencyCode)
	case m.primaries[p.ID] != nil || m.accounts[p.ID] != nil:
		return nil, fmt.Errorf("id: account %s exists", p.ID)
	}
	bal := int64(0)
	if p.Balance != "" {
		var ok bool
		if bal, ok = parseAmount(p.Balance); !ok {
			return nil, fmt.Errorf("balance: %q is not an amount like 100.00", p.Balance)
		}
	}
	pr := &primary{id: p.ID, partnerID: p.PartnerID, currency: p.CurrencyCode, opening: bal, balance: bal, created: m.nowLocked()}
	m.primaries[pr.id] = pr
	m.primOrder = append(m.primOrder, pr)
	return pr, nil
}

func (p *primary) public() PrimaryAccount {
	return PrimaryAccount{ID: p.id, PartnerID: p.partnerID, CurrencyCode: p.currency, Balance: formatAmount(p.balance)}
}

// PrimaryAccounts returns the primary accounts held, with current balances.
func (m *Mock) PrimaryAccounts() []PrimaryAccount {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]PrimaryAccount, len(m.primOrder))
	for i, p := range m.primOrder {
		out[i] = p.public()
	}
	return out
}

// ParentAccounts maps each currency to the id of the partner's first
// primary account in it ("" partner = the default partner).
func (m *Mock) ParentAccounts(partnerID string) map[string]string {
	if partnerID == "" {
		partnerID = DefaultPartner().ID
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]string{}
	for _, p := range m.primOrder {
		if _, ok := out[p.currency]; !ok && p.partnerID == strings.ToLower(partnerID) {
			out[p.currency] = p.id
		}
	}
	return out
}

// ProductCodes maps each currency to the first product code (in order) that opens it.
func (m *Mock) ProductCodes() map[string]string {
	out := map[string]string{}
	for _, code := range sortedKeys(m.products) {
		if _, ok := out[m.products[code]]; !ok {
			out[m.products[code]] = code
		}
	}
	return out
}

// Products returns the product catalogue: product code → currency.
func (m *Mock) Products() map[string]string { return maps.Clone(m.products) }

// SetConfig changes the run-time configuration.
func (m *Mock) SetConfig(c Config) {
	if c.MaxSkew <= 0 {
		c.MaxSkew = DefaultMaxSkew
	}
	c.ReadyDelay = max(c.ReadyDelay, 0)
	m.mu.Lock()
	m.cfg = c
	m.mu.Unlock()
}

// Config returns the run-time configuration.
func (m *Mock) Config() Config {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cfg
}

// Filter selects virtual accounts; empty members match anything.
type Filter struct {
	ClientReference   string
	ExternalReference string
	CustomerID        string
	State             string
}

func (f *Filter) match(a *account, now time.Time) bool {
	return (f.ClientReference == "" || a.param("clientReference") == f.ClientReference) &&
		(f.ExternalReference == "" || strings.EqualFold(a.externalRef, f.ExternalReference)) &&
		(f.CustomerID == "" || strings.EqualFold(a.customerID, f.CustomerID)) &&
		(f.State == "" || a.state(now) == f.State)
}

// Count counts the virtual accounts held that match f, across all partners,
// deleted ones included.
func (m *Mock) Count(f Filter) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.nowLocked()
	n := 0
	for _, a := range m.accOrder {
		if f.match(a, now) {
			n++
		}
	}
	return n
}

// CountByReference counts the virtual accounts whose productParameters
// clientReference is ref.
func (m *Mock) CountByReference(ref string) int { return m.Count(Filter{ClientReference: ref}) }

// AccountCount counts the virtual accounts held, deleted ones included.
func (m *Mock) AccountCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.accOrder)
}

// AccountRecord is a virtual account as the admin API shows it.
type AccountRecord struct {
	AccountView
	Deletion *Deletion `json:"deletion,omitempty"`
}

// Deletion is how and why a virtual account was deleted.
type Deletion struct {
	DeleteDate     time.Time `json:"deleteDate"`
	IdempotencyKey string    `json:"idempotencyKey"`
	RequestedBy    string    `json:"requestedBy"`
	Reason         string    `json:"reason"`
	Notes          *string   `json:"notes"`
}

// Accounts returns the virtual accounts that match f, oldest first.
func (m *Mock) Accounts(f Filter) []AccountRecord {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.nowLocked()
	out := []AccountRecord{}
	for _, a := range m.accOrder {
		if f.match(a, now) {
			out = append(out, a.record(now))
		}
	}
	return out
}

// Account returns one virtual account by id.
func (m *Mock) Account(id string) (AccountRecord, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.accounts[strings.ToLower(id)]
	if !ok {
		return AccountRecord{}, false
	}
	return a.record(m.nowLocked()), true
}

// SetBlocked blocks (a compliance hold: state BLOCKED) or releases a virtual account.
func (m *Mock) SetBlocked(id string, blocked bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.accounts[strings.ToLower(id)]
	switch {
	case !ok:
		return fmt.Errorf("no virtual account %s", id)
	case a.deleted != nil:
		return fmt.Errorf("virtual account %s is deleted", id)
	}
	a.blocked = blocked
	return nil
}

func (a *account) record(now time.Time) AccountRecord {
	r := AccountRecord{AccountView: a.view(now)}
	if a.deleted != nil {
		d := *a.deleted
		r.Deletion = &d
	}
	return r
}

// state is the account's state at now.
func (a *account) state(now time.Time) string {
	switch {
	case a.deleted != nil:
		return StateDeleted
	case a.blocked:
		return StateBlocked
	case now.Before(a.readyAt):
		return StatePending
	}
	return StateReady
}

// param returns a string member of productParameters, or "".
func (a *account) param(name string) string {
	if a.params == nil {
		return ""
	}
	var m map[string]any
	if json.Unmarshal(a.params, &m) != nil {
		return ""
	}
	s, _ := m[name].(string)
	return s
}

// nowLocked is the mock's clock; m.mu must be held.
func (m *Mock) nowLocked() time.Time { return m.opts.Now().Add(m.cfg.ClockOffset).UTC() }

// newID returns a version 4 UUID drawn from the seeded source; m.mu must be held.
func (m *Mock) newID() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], m.rng.Uint64())
	binary.LittleEndian.PutUint64(b[8:], m.rng.Uint64())
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return uuid.UUID(b).String()
}

// isUUID reports whether s is a UUID in its 36-character form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
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

// parseAmount reads a non-negative decimal with at most two decimals into
// minor units.
func parseAmount(s string) (int64, bool) {
	whole, frac, hasFrac := strings.Cut(s, ".")
	if whole == "" || len(whole) > 13 || (hasFrac && (len(frac) == 0 || len(frac) > 2)) {
		return 0, false
	}
	var n int64
	for _, r := range whole + frac {
		if r < '0' || r > '9' {
			return 0, false
		}
		n = n*10 + int64(r-'0')
	}
	for range 2 - len(frac) {
		n *= 10
	}
	return n, true
}

// formatAmount writes minor units as a decimal with two decimals.
func formatAmount(n int64) string {
	return fmt.Sprintf("%d.%02d", n/100, n%100)
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	k := slices.Collect(maps.Keys(m))
	sort.Strings(k)
	return k
}
