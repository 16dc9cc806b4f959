// Package provider defines what a provider adapter implements: the small
// required Adapter interface, optional capability interfaces discovered by
// type assertion, the Capabilities value an adapter declares, and the
// Capability vocabulary both are named by.
//
// Adapters are thin. They speak their provider's wire format, map it to the
// unified model in package bank, and classify their raw errors with
// ErrorCode. They never retry, sleep, log or trip breakers: package
// core/gateway does that once for all of them.
//
// New features arrive as new optional interfaces, never as changes to Adapter.
package provider

import (
	"context"
	"net/http"

	"github.com/vagate/vagate/core/bank"
)

// Adapter is the interface every provider adapter implements.
type Adapter interface {
	// Capabilities declares the provider's facts that no interface shows.
	Capabilities() Capabilities
	// CreateAccounts asks the provider to create every item of req. It returns
	// either the finished per-item results or, for asynchronous providers, a
	// pending result with an operation handle to poll (see Poller).
	CreateAccounts(ctx context.Context, req *CreateRequest) (*CreateResult, error)
	// GetAccount reads one account by the provider's own account id.
	GetAccount(ctx context.Context, ref string) (*bank.Account, error)
	// ErrorCode classifies an error returned by this adapter.
	ErrorCode(err error) bank.ErrorCode
}

// Poller is implemented by adapters whose creates finish asynchronously.
type Poller interface {
	// PollCreate reports the state of an operation returned by CreateAccounts.
	// req is the request that started it, so results map back to items.
	PollCreate(ctx context.Context, operation string, req *CreateRequest) (*CreateResult, error)
}

// Allocator is implemented by adapters that can update an account's holder
// details: the one-time allocation of an unallocated account, and changes to
// the client reference at any time.
type Allocator interface {
	Allocate(ctx context.Context, ref string, a *Allocation) (*bank.Account, error)
}

// Blocker is implemented by adapters that can block and unblock accounts.
type Blocker interface {
	Block(ctx context.Context, ref string) (*bank.Account, error)
	Unblock(ctx context.Context, ref string) (*bank.Account, error)
}

// Closer is implemented by adapters that can close or delete accounts.
type Closer interface {
	Close(ctx context.Context, ref string, r *CloseReason) (*bank.Account, error)
}

// Finder is implemented by adapters that can look accounts up by the gateway
// reference (CreateItem.Reference) they were created with; the gateway uses
// it to reconcile creates whose outcome is unknown. Every account returned
// carries that reference in bank.Account.Reference.
type Finder interface {
	FindByReference(ctx context.Context, reference string) ([]*bank.Account, error)
}

// Lister is implemented by adapters whose provider lists every account the
// gateway's credentials hold, page by page. Reconciliation uses it to find
// accounts the gateway has no record of; without it, accounts are only
// looked up one by one (GetAccount).
type Lister interface {
	// ListAccounts returns one page of accounts, starting at cursor (""
	// for the first page), and the cursor of the next page ("" after the
	// last). Accounts carry the gateway reference they were created with,
	// where the provider keeps one (bank.Account.Reference).
	ListAccounts(ctx context.Context, cursor string) ([]*bank.Account, string, error)
}

// WebhookVerifier is implemented by adapters whose provider calls back. It
// must authenticate the request before returning anything it says.
type WebhookVerifier interface {
	VerifyWebhook(r *http.Request, body []byte) ([]bank.ProviderEvent, error)
}

// Capabilities is what an adapter declares about its provider: the facts
// no interface can show. What the adapter can do beyond create (allocate,
// block, close, poll, find, verify callbacks) is not declared here: the
// gateway discovers it from the optional interfaces the adapter implements.
type Capabilities struct {
	// Style names the provider style (batchva, masterfiat, ...).
	Style string
	// Currencies lists the ISO 4217 codes the provider accepts.
	Currencies []string
	// MaxBatch is the most items one native create call takes; 1 means the
	// provider creates one account per call.
	MaxBatch int
	// IdempotentCreate means the provider honours an idempotency key on
	// create, so a resend with the same key cannot create twice
	// (CapIdempotentCreate).
	IdempotentCreate bool
	// Unallocated means accounts can be created without a holder and
	// allocated later; the adapter must implement Allocator (CapUnallocated).
	Unallocated bool
	// Disabled lists interface-backed capabilities the adapter implements
	// but its configuration leaves off, such as CapWebhooks when no callback
	// secret is configured. The gateway refuses them as unsupported.
	Disabled []Capability
	// Limits are the provider's documented field limits.
	Limits Limits
}

// Limits are documented field limits, checked before anything is sent.
type Limits struct {
	ClientReference    int `json:"clientReference,omitempty"`
	AccountName        int `json:"accountName,omitempty"`
	AccountHolderName  int `json:"accountHolderName,omitempty"`
	NativeLanguageName int `json:"nativeLanguageName,omitempty"`
	CustomHeaders      int `json:"customHeaders,omitempty"`
	CustomHeaderKey    int `json:"customHeaderKey,omitempty"`
	CustomHeaderValue  int `json:"customHeaderValue,omitempty"`
}

// SupportsCurrency reports whether c is in Currencies.
func (c Capabilities) SupportsCurrency(cur string) bool {
	for _, x := range c.Currencies {
		if x == cur {
			return true
		}
	}
	return false
}

// CreateRequest is one create call: one or more items.
type CreateRequest struct {
	// IdempotencyKey is a UUID derived deterministically from the gateway job
	// and the items' place in it. Adapters send it (or keys derived from it)
	// to providers that support one, so that a resend never creates twice.
	IdempotencyKey string
	// CustomHeaders are echoed by providers that echo them in callbacks.
	CustomHeaders map[string]string
	Items         []CreateItem
}

// CreateItem is one account to create.
type CreateItem struct {
	Currency           string
	Unallocated        bool
	AccountHolderName  string
	AccountName        string
	DOB                string
	NativeLanguageName string
	ClientReference    string
	CustomerID         string
	Metadata           map[string]string
	// Reference is the gateway's own key for this item, unique per tenant,
	// job and item (never the client's free-form clientReference). Adapters
	// of providers without an idempotency key carry it in a provider field
	// they can list by, so Finder can tell this item's account from any
	// other tenant's.
	Reference string `json:"reference,omitempty"`
	// Params carries provider-specific fields (parentAccountId, ...).
	Params map[string]string
}

// CreateResult is the answer to CreateAccounts or PollCreate.
type CreateResult struct {
	// Pending means the provider has not finished; poll Operation.
	Pending bool
	// Operation is the provider-side handle of an asynchronous create.
	Operation string
	// Items holds one result per request item, in order, once not Pending.
	Items []ItemResult
}

// ItemResult is the outcome of one item: an account or an error.
type ItemResult struct {
	Account *bank.Account
	Err     error
	// ProviderJobID is the provider's job the item was processed in, for a
	// provider that creates in jobs ("" otherwise).
	ProviderJobID string
}

// Allocation holds the fields of an update; nil fields are left unchanged.
type Allocation struct {
	AccountHolderName  *string
	AccountName        *string
	DOB                *string
	NativeLanguageName *string
	ClientReference    *string
}

// Identity reports whether a sets any identity field (anything but the reference).
func (a *Allocation) Identity() bool {
	return a.AccountHolderName != nil || a.AccountName != nil || a.DOB != nil || a.NativeLanguageName != nil
}

// CloseReason says who closes an account and why.
type CloseReason struct {
	// IdempotencyKey makes a resent close safe where the provider takes one.
	IdempotencyKey string
	Reason         string
	RequestedBy    string
	Notes          string
}

// ParamsValidator is implemented by adapters that read provider-specific
// fields (CreateItem.Params). It reports bad or missing keys with pointers
// relative to the params object ("/parentAccountId"). An adapter that does
// not implement it takes no params, and any given is refused.
type ParamsValidator interface {
	ValidateParams(currency string, params map[string]string) []bank.FieldError
}

// ItemValidator is implemented by adapters with rules on a whole item (a
// field the provider requires in a given form, combinations of fields). It
// reports bad fields with pointers relative to the item ("/customerId"),
// before anything is sent.
type ItemValidator interface {
	ValidateItem(it *CreateItem) []bank.FieldError
}

// AttemptSigner is implemented by adapters whose requests must be signed
// anew for every attempt (a fresh nonce and date). The portable layer's HTTP
// client calls it just before each attempt, retries included.
type AttemptSigner interface {
	SignAttempt(r *http.Request) error
}

// MoneyAccounts is implemented by adapters whose providerParams may name a
// provider-side money account (a settlement, master or parent account at the
// provider). The gateway lets a tenant name only the accounts the adapter's
// config sets as defaults and those the provider's tenantAccounts allow it,
// and refuses any other before anything is sent.
type MoneyAccounts interface {
	// MoneyAccountParams lists the providerParams keys that name a money account.
	MoneyAccountParams() []string
	// DefaultMoneyAccounts lists the account ids the adapter's config sets as defaults.
	DefaultMoneyAccounts() []string
}
