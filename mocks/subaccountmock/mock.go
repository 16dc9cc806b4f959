package subaccountmock

import (
	"encoding/binary"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/vagate/vagate/mocks/fault"
	"github.com/vagate/vagate/mocks/mockhttp"
)

// DefaultAPIKey is the API key a mock accepts when Options.APIKeys is nil.
const DefaultAPIKey = "sk_test_vagate_subaccount"

// Account states.
const (
	StateActive                = "ACTIVE"
	StatePendingDepositAddress = "PENDING_DEPOSIT_ADDRESS"
)

// Classifications of a sub-account.
const (
	ClassificationInstitution = "institution"
	ClassificationCustomer    = "customer"
)

// TypeVirtualExternal is the account type of sub-accounts and of the main
// accounts they may settle into.
const TypeVirtualExternal = "VIRTUAL_EXTERNAL"

// Limits from the provider's document, and the mock's own body cap.
const (
	MaxIdentifier      = 64
	MaxClientReference = 64
	MaxBody            = 1 << 20
	MaxPerPage         = 100
	DefaultPerPage     = 50
)

// Fixed deposit-address values (those of the document's example).
const (
	BankName = "Waza Bank"
	BankCode = "778604"
	NIPCode  = "115829"
)

// currencies the mock bank supports, with their precision (decimal places).
var currencies = map[string]int{"NGN": 2, "USD": 2, "EUR": 2, "GBP": 2}

// MainAccount is one of the institution's main accounts, the targets of settlement.
type MainAccount struct {
	ID       string `json:"id"`
	Currency string `json:"currency"`
	// Type is the account type; only VIRTUAL_EXTERNAL accounts take settlement.
	Type string `json:"type"`
	Name string `json:"name"`
	// Available and Pending are the balances in minor units.
	Available int64 `json:"available"`
	Pending   int64 `json:"pending"`
}

// The settlement accounts of the document's two example requests.
const (
	DocInstitutionSettlementID = "abcdef12-3456-7890-abcd-ef1234567890"
	DocCustomerSettlementID    = "fedcba98-7654-3210-fedc-ba9876543210"
)

// DefaultMainAccounts are the main accounts a mock holds when
// Options.MainAccounts is nil: one VIRTUAL_EXTERNAL account in NGN and one
// in USD, then the two NGN settlement accounts the document's example
// requests name, so those requests succeed verbatim.
func DefaultMainAccounts() []MainAccount {
	return []MainAccount{
		{ID: "5e771e00-0000-4000-8000-00000000a9a1", Currency: "NGN", Type: TypeVirtualExternal, Name: "Main NGN"},
		{ID: "5e771e00-0000-4000-8000-00000000a9a2", Currency: "USD", Type: TypeVirtualExternal, Name: "Main USD"},
		{ID: DocInstitutionSettlementID, Currency: "NGN", Type: TypeVirtualExternal, Name: "Document example NGN (institution)"},
		{ID: DocCustomerSettlementID, Currency: "NGN", Type: TypeVirtualExternal, Name: "Document example NGN (customer)"},
	}
}

// Options configure a Mock; the zero value gives the defaults.
type Options struct {
	// APIKeys are the accepted bearer API keys; nil means []string{DefaultAPIKey}.
	APIKeys []string
	// MainAccounts are seeded at start and again on Reset; nil means DefaultMainAccounts().
	MainAccounts []MainAccount
	// AddressDelay is how long new sub-accounts stay PENDING_DEPOSIT_ADDRESS (0 = none).
	AddressDelay time.Duration
	// Seed makes ids, account numbers and faults reproducible.
	Seed uint64
	// Now is the mock's clock (default time.Now).
	Now func() time.Time
	// Strict reads the document's ambiguities the strict way (see the
	// package documentation, # Strict and lenient); false is lenient.
	Strict bool
}

// Config is the part of the options QA can change at run time.
type Config struct {
	// AddressDelay is how long sub-accounts created from now on wait for
	// their deposit address.
	AddressDelay time.Duration
}

// Payment is one deposit the mock recorded.
type Payment struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	State    string `json:"state"`
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	// AccountID is the account credited: the settlement account when the
	// deposit was routed.
	AccountID string `json:"account_id"`
	// OnBehalfOfAccountID is the sub-account the deposit was made to, when
	// it was routed to its settlement account.
	OnBehalfOfAccountID string    `json:"on_behalf_of_account_id,omitempty"`
	Reference           string    `json:"reference,omitempty"`
	SenderName          string    `json:"sender_name,omitempty"`
	CreatedDate         time.Time `json:"created_date"`
}

// Deposit is an inbound transfer to simulate.
type Deposit struct {
	AccountID  string `json:"account_id"`
	Amount     int64  `json:"amount"`
	Pending    bool   `json:"pending,omitempty"`
	Reference  string `json:"reference,omitempty"`
	SenderName string `json:"sender_name,omitempty"`
}

// subAccount is one sub-account held by the mock.
type subAccount struct {
	id              string
	classification  string
	identifier      string
	customerID      string
	currency        string
	clientReference string
	settlementID    string
	parentID        string
	name            string
	accountName     string
	accountNumber   string
	created         time.Time
	updated         time.Time
	readyAt         time.Time // when the deposit address is generated
	state           string
	available       int64
	pending         int64
}

// Errors of the Go API.
var (
	ErrNotFound  = errors.New("subaccountmock: no such account")
	ErrNoAddress = errors.New("subaccountmock: the sub-account has no deposit address yet")
)

// Mock is the in-memory provider; it is an http.Handler. Its Base serves
// it, holds its fault injector and gives it Reset (every sub-account,
// payment, fault rule and main account added after start is forgotten; the
// seeded main accounts, with zero balances, the options' configuration and
// the seeded random sources restored) and Close (it runs no background
// work, so Close does nothing).
type Mock struct {
	*mockhttp.Base
	opts Options
	keys map[string]bool
	seed []MainAccount

	mu       sync.Mutex
	cfg      Config
	mains    map[string]*MainAccount
	mainList []*MainAccount
	subs     map[string]*subAccount
	subList  []*subAccount
	payments []*Payment
	rng      *mrand.Rand
	next     uint64
}

// New returns a mock; it panics if a main account in opts is invalid.
func New(opts *Options) *Mock {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.APIKeys == nil {
		o.APIKeys = []string{DefaultAPIKey}
	}
	if o.MainAccounts == nil {
		o.MainAccounts = DefaultMainAccounts()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.AddressDelay = max(o.AddressDelay, 0)
	m := &Mock{opts: o, keys: map[string]bool{}}
	for _, k := range o.APIKeys {
		m.keys[k] = true
	}
	m.Base = mockhttp.NewBase(&mockhttp.BaseOptions{
		Faults: fault.Options{Seed: o.Seed, ErrorBody: faultBody},
		Reset:  m.resetState,
	})
	m.routes()
	m.mu.Lock()
	m.resetLocked()
	for _, a := range o.MainAccounts {
		added, err := m.addMainLocked(a)
		if err != nil {
			m.mu.Unlock()
			panic(err)
		}
		m.seed = append(m.seed, added)
	}
	m.resetLocked() // reseed the sources so a run after Reset repeats one after New
	m.mu.Unlock()
	return m
}

func (m *Mock) resetLocked() {
	m.cfg = Config{AddressDelay: m.opts.AddressDelay}
	m.mains = map[string]*MainAccount{}
	m.mainList = nil
	m.subs = map[string]*subAccount{}
	m.subList = nil
	m.payments = nil
	m.rng = mrand.New(mrand.NewPCG(m.opts.Seed, m.opts.Seed^0x50bacc0a7e55))
	m.next = 4_000_000_000 + m.rng.Uint64N(999_999_999)
	for _, a := range m.seed {
		a.Available, a.Pending = 0, 0
		c := a
		m.mains[c.ID] = &c
		m.mainList = append(m.mainList, &c)
	}
}

// resetState forgets the mock's own state (Base.Reset).
func (m *Mock) resetState() {
	m.mu.Lock()
	m.resetLocked()
	m.mu.Unlock()
}

// SetConfig changes the configuration for sub-accounts created from now on.
func (m *Mock) SetConfig(c Config) {
	m.mu.Lock()
	m.cfg = Config{AddressDelay: max(c.AddressDelay, 0)}
	m.mu.Unlock()
}

// Config returns the current configuration.
func (m *Mock) Config() Config {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cfg
}

// AddMainAccount adds a main account (ID generated when empty, Type
// VIRTUAL_EXTERNAL when empty) and returns it.
func (m *Mock) AddMainAccount(a MainAccount) (MainAccount, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.addMainLocked(a)
}

func (m *Mock) addMainLocked(a MainAccount) (MainAccount, error) {
	if a.ID == "" {
		a.ID = m.newID()
	}
	if a.Type == "" {
		a.Type = TypeVirtualExternal
	}
	if a.Name == "" {
		a.Name = "Main " + a.Currency
	}
	switch {
	case !isUUID(a.ID):
		return MainAccount{}, fmt.Errorf("id: %q is not a UUID", a.ID)
	case m.mains[a.ID] != nil || m.subs[a.ID] != nil:
		return MainAccount{}, fmt.Errorf("id: account %s exists", a.ID)
	case !isCurrency(a.Currency):
		return MainAccount{}, fmt.Errorf("currency: %q is not an ISO 4217 code", a.Currency)
	}
	if _, ok := currencies[a.Currency]; !ok {
		return MainAccount{}, fmt.Errorf("currency: %s is not supported (NGN, USD, EUR, GBP)", a.Currency)
	}
	c := a
	m.mains[c.ID] = &c
	m.mainList = append(m.mainList, &c)
	return c, nil
}

// MainAccounts returns a copy of the main accounts, oldest first.
func (m *Mock) MainAccounts() []MainAccount {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]MainAccount, len(m.mainList))
	for i, a := range m.mainList {
		out[i] = *a
	}
	return out
}

// SettlementAccounts maps each currency to its first VIRTUAL_EXTERNAL main
// account: the settlement accounts an adapter is configured with.
func (m *Mock) SettlementAccounts() map[string]string {
	out := map[string]string{}
	for _, a := range m.MainAccounts() {
		if _, ok := out[a.Currency]; !ok && a.Type == TypeVirtualExternal {
			out[a.Currency] = a.ID
		}
	}
	return out
}

// CountByReference counts the sub-accounts held with clientReference.
func (m *Mock) CountByReference(clientReference string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, s := range m.subList {
		if s.clientReference == clientReference {
			n++
		}
	}
	return n
}

// AccountCount counts the sub-accounts held.
func (m *Mock) AccountCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.subList)
}

// Deposit simulates an inbound transfer to a sub-account (or a main
// account). A deposit to a sub-account with a settlement account credits the
// settlement account and records on_behalf_of_account_id.
func (m *Mock) Deposit(d Deposit) (Payment, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if d.Amount <= 0 {
		return Payment{}, errors.New("amount: must be a positive integer of minor units")
	}
	p := &Payment{ID: m.newID(), Type: "DEPOSIT", State: "COMPLETED", Amount: d.Amount,
		Reference: d.Reference, SenderName: d.SenderName, CreatedDate: m.now()}
	if d.Pending {
		p.State = "PENDING"
	}
	credit := func(avail, pend *int64) {
		if d.Pending {
			*pend += d.Amount
		} else {
			*avail += d.Amount
		}
	}
	if s := m.subLocked(d.AccountID); s != nil {
		if s.state != StateActive {
			return Payment{}, ErrNoAddress
		}
		p.Currency = s.currency
		if main := m.mains[s.settlementID]; s.settlementID != "" && main != nil {
			p.AccountID, p.OnBehalfOfAccountID = main.ID, s.id
			credit(&main.Available, &main.Pending)
		} else {
			p.AccountID = s.id
			credit(&s.available, &s.pending)
			s.updated = p.CreatedDate
		}
	} else if main := m.mains[d.AccountID]; main != nil {
		p.Currency, p.AccountID = main.Currency, main.ID
		credit(&main.Available, &main.Pending)
	} else {
		return Payment{}, ErrNotFound
	}
	m.payments = append(m.payments, p)
	return *p, nil
}

// Transactions lists the payments credited to accountID or made on its
// behalf, oldest first.
func (m *Mock) Transactions(accountID string) ([]Payment, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.subLocked(accountID) == nil && m.mains[accountID] == nil {
		return nil, ErrNotFound
	}
	out := []Payment{}
	for _, p := range m.payments {
		if p.AccountID == accountID || p.OnBehalfOfAccountID == accountID {
			out = append(out, *p)
		}
	}
	return out, nil
}

// subLocked returns a sub-account with its deposit address generated when
// due; m.mu must be held.
func (m *Mock) subLocked(id string) *subAccount {
	s := m.subs[id]
	if s != nil {
		m.settle(s)
	}
	return s
}

// settle moves s to ACTIVE once its deposit address is due.
func (m *Mock) settle(s *subAccount) {
	if s.state == StatePendingDepositAddress && !m.now().Before(s.readyAt) {
		s.state, s.updated = StateActive, s.readyAt
	}
}

func (m *Mock) now() time.Time { return m.opts.Now().UTC() }

// newID returns a version 4 UUID drawn from the seeded source; m.mu must be held.
func (m *Mock) newID() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], m.rng.Uint64())
	binary.LittleEndian.PutUint64(b[8:], m.rng.Uint64())
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return uuid.UUID(b).String()
}

// newNumber returns the next ten-digit NUBAN; m.mu must be held.
func (m *Mock) newNumber() string {
	n := m.next
	m.next++
	return fmt.Sprintf("%010d", n)
}

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
