package bank

import (
	"encoding/json"
	"time"
)

// Status is the unified lifecycle state of a virtual account.
type Status string

// Unified account statuses.
const (
	StatusPending     Status = "PENDING"
	StatusUnallocated Status = "UNALLOCATED"
	StatusActive      Status = "ACTIVE"
	StatusBlocked     Status = "BLOCKED"
	StatusUnblocking  Status = "UNBLOCKING"
	StatusClosed      Status = "CLOSED"
	StatusFailed      Status = "FAILED"
)

// Valid reports whether s is one of the unified statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusPending, StatusUnallocated, StatusActive, StatusBlocked,
		StatusUnblocking, StatusClosed, StatusFailed:
		return true
	}
	return false
}

// Terminal reports whether no further transition can leave s.
func (s Status) Terminal() bool { return s == StatusClosed || s == StatusFailed }

// Transitional reports whether an account in status s is expected to move on
// by itself (PENDING, UNBLOCKING), so that a missed webhook would leave it stale.
func (s Status) Transitional() bool { return s == StatusPending || s == StatusUnblocking }

// TransitionalStatuses lists the statuses for which Transitional is true.
func TransitionalStatuses() []Status { return []Status{StatusPending, StatusUnblocking} }

// RoutingCode is one national routing identifier of an account (sort code, ABA, ...).
type RoutingCode struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// BankDetails is how money reaches an account: one entry per deposit route.
type BankDetails struct {
	Type              string            `json:"type,omitempty"`
	BankName          string            `json:"bankName,omitempty"`
	AccountHolderName string            `json:"accountHolderName,omitempty"`
	Country           string            `json:"country,omitempty"`
	IBAN              string            `json:"iban,omitempty"`
	BIC               string            `json:"bic,omitempty"`
	AccountNumber     string            `json:"accountNumber,omitempty"`
	RoutingCodes      []RoutingCode     `json:"routingCodes,omitempty"`
	Extra             map[string]string `json:"extra,omitempty"`
}

// Balance is an account balance as decimal strings in the account currency.
type Balance struct {
	Currency  string `json:"currency"`
	Available string `json:"available"`
	Pending   string `json:"pending,omitempty"`
}

// Account is the unified virtual account.
type Account struct {
	ID                 string            `json:"id"`
	Tenant             string            `json:"-"`
	Provider           string            `json:"provider"`
	ProviderAccountID  string            `json:"providerAccountId"`
	Status             Status            `json:"status"`
	ProviderStatus     string            `json:"providerStatus"`
	Currency           string            `json:"currency"`
	AccountHolderName  string            `json:"accountHolderName,omitempty"`
	AccountName        string            `json:"accountName,omitempty"`
	DOB                string            `json:"dob,omitempty"`
	NativeLanguageName string            `json:"nativeLanguageName,omitempty"`
	ClientReference    string            `json:"clientReference,omitempty"`
	CustomerID         string            `json:"customerId,omitempty"`
	BankDetails        []BankDetails     `json:"bankDetails,omitempty"`
	Balance            *Balance          `json:"balance,omitempty"`
	Metadata           map[string]string `json:"metadata,omitempty"`
	CreatedAt          time.Time         `json:"createdAt"`
	UpdatedAt          time.Time         `json:"updatedAt"`
	AllocatedAt        *time.Time        `json:"allocatedAt,omitempty"`
	// Routing says which provider the gateway chose for the account and
	// why (a fallback, after the chosen one could not create it).
	Routing *Routing `json:"routing,omitempty"`
	// Reference is the gateway's own reconciliation key the account was
	// created with at a provider without idempotency keys (see
	// provider.CreateItem.Reference), as a lookup at the provider reported it.
	Reference string `json:"-"`
	// Raw is the provider's own representation, kept verbatim.
	Raw json.RawMessage `json:"-"`
	// Version counts the writes of the stored record: a store saves an
	// account over the version it was read at only (compare-and-set).
	Version int64 `json:"-"`
	// ProviderAt is when, by the provider's own clock where it says, the
	// newest state merged into the account held at the provider; an answer
	// or event about an older state never overwrites it.
	ProviderAt time.Time `json:"-"`
}

// AccountWithProviderData is an account as served on request with the
// provider's own object (GET /v1/virtual-accounts/{id}?include=provider).
type AccountWithProviderData struct {
	*Account
	// ProviderData is Account.Raw: the provider's object, verbatim; null
	// when the gateway holds none.
	ProviderData json.RawMessage `json:"providerData"`
}

// WithProviderData returns a with its raw provider object as ProviderData.
func (a *Account) WithProviderData() AccountWithProviderData {
	raw := a.Raw
	if len(raw) == 0 {
		raw = json.RawMessage("null")
	}
	return AccountWithProviderData{Account: a, ProviderData: raw}
}

// Clone returns a deep copy of a, safe to mutate.
func (a *Account) Clone() *Account {
	if a == nil {
		return nil
	}
	c := *a
	c.BankDetails = CloneBankDetails(a.BankDetails)
	if a.Balance != nil {
		b := *a.Balance
		c.Balance = &b
	}
	c.Metadata = cloneMap(a.Metadata)
	if a.AllocatedAt != nil {
		t := *a.AllocatedAt
		c.AllocatedAt = &t
	}
	c.Raw = append(json.RawMessage(nil), a.Raw...)
	c.Routing = a.Routing.Clone()
	return &c
}

// CloneBankDetails is a deep copy of ds (nil stays nil).
func CloneBankDetails(ds []BankDetails) []BankDetails {
	if ds == nil {
		return nil
	}
	c := make([]BankDetails, len(ds))
	for i, d := range ds {
		d.RoutingCodes = append([]RoutingCode(nil), d.RoutingCodes...)
		d.Extra = cloneMap(d.Extra)
		c[i] = d
	}
	return c
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
