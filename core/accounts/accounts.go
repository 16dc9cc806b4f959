// Package accounts owns the rules for a stored virtual account: how what a
// provider reports about it (an answer to a read or a write, or a webhook
// event) is merged into the stored record, and in which order such reports
// win. The HTTP handlers, the provider webhook route and the reconciler all
// go through one Service; none of them writes an account to the store.
//
// # Order
//
// Every account record carries a version and is saved by compare-and-set:
// when another write got in between, the report is merged again into the
// fresh record. A report about a state older than the one stored never
// overwrites it. Reports are ordered by the provider's own time where it
// gives one (bank.Account.UpdatedAt as the adapter maps it, the event time
// of a webhook); a report without one is placed at the time the gateway
// asked (or received the webhook), so an answer without a provider time
// never overwrites a state the provider dated after the request was sent.
// The newest time merged is kept as bank.Account.ProviderAt.
//
// # Merge
//
// A provider that does not report a field leaves the stored value (a
// provider that keeps no client reference leaves the client's); the
// gateway's own fields (id, tenant, customer, metadata, creation time) are
// never taken from a provider.
package accounts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"time"

	"github.com/google/uuid"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/provider"
	"github.com/vagate/vagate/core/store"
)

// Store is what the service needs of a state store; store.Memory and
// store.Redis implement it.
type Store interface {
	// GetAccount returns the tenant's account or a NotFound error.
	GetAccount(ctx context.Context, tenant, id string) (*bank.Account, error)
	// FindAccount finds an account by provider and provider account id.
	FindAccount(ctx context.Context, providerName, providerAccountID string) (*bank.Account, error)
	// ListAccounts pages through the tenant's accounts.
	ListAccounts(ctx context.Context, tenant string, f store.AccountFilter, cursor string, limit int) ([]*bank.Account, string, error)
	// SwapAccount saves a over the stored version a.Version, or returns a
	// *store.ConflictError.
	SwapAccount(ctx context.Context, a *bank.Account) (*bank.Account, error)
	// TransitionalAccounts lists the accounts in a transitional status.
	TransitionalAccounts(ctx context.Context) ([]store.AccountKey, error)
	// ProviderAccounts lists the accounts, of every tenant, at a provider.
	ProviderAccounts(ctx context.Context, providerName string) ([]store.AccountKey, error)
	// PutAccount inserts or replaces a by (a.Tenant, a.ID).
	PutAccount(ctx context.Context, a *bank.Account) error
}

// ChangeFunc is told of every account change the service saves (before is
// the stored state, after the saved one).
type ChangeFunc func(ctx context.Context, before, after *bank.Account)

// Options tune a Service; zero values are defaults.
type Options struct {
	// Changed is told of every saved change (events, the reconciler).
	Changed ChangeFunc
	// Now is the gateway's clock (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

// Service reads and changes accounts: at their provider, then in the store.
type Service struct {
	reg  *gateway.Registry
	st   Store
	opts Options
}

// ErrNoProvider is in the error for an account whose provider is no longer
// configured (a FailedPrecondition bank.Error).
var ErrNoProvider = errors.New("the account's provider is no longer configured")

// maxSwaps bounds the compare-and-set attempts of one write.
const maxSwaps = 100

// New returns a service over the providers of reg and the accounts of st.
func New(reg *gateway.Registry, st Store, opts *Options) *Service {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Changed == nil {
		o.Changed = func(context.Context, *bank.Account, *bank.Account) {}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{reg: reg, st: st, opts: o}
}

// Get returns the tenant's stored account.
func (s *Service) Get(ctx context.Context, tenant, id string) (*bank.Account, error) {
	return s.st.GetAccount(ctx, tenant, id)
}

// List pages through the tenant's stored accounts in creation order.
func (s *Service) List(ctx context.Context, tenant string, f store.AccountFilter, cursor string, limit int) ([]*bank.Account, string, error) {
	return s.st.ListAccounts(ctx, tenant, f, cursor, limit)
}

// Transitional lists the stored accounts, of every tenant, in a
// transitional status: those to watch again after a restart.
func (s *Service) Transitional(ctx context.Context) ([]store.AccountKey, error) {
	return s.st.TransitionalAccounts(ctx)
}

// ProviderAccounts lists the stored accounts, of every tenant, at the
// provider named providerName.
func (s *Service) ProviderAccounts(ctx context.Context, providerName string) ([]store.AccountKey, error) {
	return s.st.ProviderAccounts(ctx, providerName)
}

// Find returns the stored account, of any tenant, with the provider's
// account id providerAccountID, or a NotFound error.
func (s *Service) Find(ctx context.Context, providerName, providerAccountID string) (*bank.Account, error) {
	return s.st.FindAccount(ctx, providerName, providerAccountID)
}

// Apply merges what a provider reported about the tenant's account, read
// outside the service (a reconciliation's listing), under the same order
// rules as every other report, and saves it.
func (s *Service) Apply(ctx context.Context, tenant, id string, r Report) (*bank.Account, error) {
	return s.save(ctx, tenant, id, r)
}

// Adopt records an account the gateway has no record of, as its provider
// reported it, under tenant with the id given (the gateway's own fields:
// id, tenant and times are set from a, the rest is the provider's). When
// the gateway holds an account with that provider account id already, it
// is returned and adopted is false.
func (s *Service) Adopt(ctx context.Context, tenant, id string, a *bank.Account) (acc *bank.Account, adopted bool, err error) {
	if cur, err := s.st.FindAccount(ctx, a.Provider, a.ProviderAccountID); err == nil {
		return cur, false, nil
	} else if bank.Code(err) != bank.NotFound {
		return nil, false, err
	}
	if cur, err := s.st.GetAccount(ctx, tenant, id); err == nil {
		return cur, false, nil
	} else if bank.Code(err) != bank.NotFound {
		return nil, false, err
	}
	n := a.Clone()
	n.Tenant, n.ID, n.Version = tenant, id, 0
	now := s.opts.Now().UTC()
	if n.CreatedAt.IsZero() {
		n.CreatedAt = now
	}
	if n.UpdatedAt.IsZero() {
		n.UpdatedAt = now
	}
	n.ProviderAt = n.UpdatedAt
	if err := s.st.PutAccount(ctx, n); err != nil {
		return nil, false, err
	}
	saved, err := s.st.GetAccount(ctx, tenant, id)
	if err != nil {
		return nil, false, err
	}
	s.opts.Changed(ctx, nil, saved)
	return saved, true, nil
}

// Refresh re-reads the account from its provider and saves what it reports.
func (s *Service) Refresh(ctx context.Context, tenant, id string) (*bank.Account, error) {
	return s.call(ctx, tenant, id, func(ctx context.Context, p *gateway.Provider, a *bank.Account) (*bank.Account, error) {
		return p.GetAccount(ctx, a.ProviderAccountID)
	})
}

// Allocate sets the identity fields of an unallocated account, or the
// client reference of any, at its provider, and saves the answer.
func (s *Service) Allocate(ctx context.Context, tenant, id string, upd *provider.Allocation) (*bank.Account, error) {
	return s.call(ctx, tenant, id, func(ctx context.Context, p *gateway.Provider, a *bank.Account) (*bank.Account, error) {
		return p.Allocate(ctx, a.ProviderAccountID, upd)
	})
}

// Block blocks the account at its provider and saves the answer.
func (s *Service) Block(ctx context.Context, tenant, id string) (*bank.Account, error) {
	return s.call(ctx, tenant, id, func(ctx context.Context, p *gateway.Provider, a *bank.Account) (*bank.Account, error) {
		return p.Block(ctx, a.ProviderAccountID)
	})
}

// Unblock unblocks the account at its provider and saves the answer.
func (s *Service) Unblock(ctx context.Context, tenant, id string) (*bank.Account, error) {
	return s.call(ctx, tenant, id, func(ctx context.Context, p *gateway.Provider, a *bank.Account) (*bank.Account, error) {
		return p.Unblock(ctx, a.ProviderAccountID)
	})
}

// Close closes the account at its provider and saves the answer. A closed
// account is a FailedPrecondition error; every close of one account carries
// the same provider idempotency key, and RequestedBy defaults to the tenant.
func (s *Service) Close(ctx context.Context, tenant, id string, r *provider.CloseReason) (*bank.Account, error) {
	var reason provider.CloseReason
	if r != nil {
		reason = *r
	}
	if reason.RequestedBy == "" {
		reason.RequestedBy = tenant
	}
	reason.IdempotencyKey = uuid.NewSHA1(uuid.NameSpaceURL, []byte("vagate:close:"+tenant+":"+id)).String()
	return s.call(ctx, tenant, id, func(ctx context.Context, p *gateway.Provider, a *bank.Account) (*bank.Account, error) {
		if a.Status == bank.StatusClosed {
			return nil, &bank.Error{Code: bank.FailedPrecondition, Err: errors.New("the account is already closed")}
		}
		return p.Close(ctx, a.ProviderAccountID, &reason)
	})
}

// ApplyEvent saves the account state a verified provider event carries. An
// event for an account this gateway does not hold is a NotFound error; one
// without an account state changes nothing.
func (s *Service) ApplyEvent(ctx context.Context, providerName string, ev *bank.ProviderEvent) (*bank.Account, error) {
	if ev.Type != bank.EventAccountUpdated || ev.Account == nil {
		return nil, nil
	}
	ref := ev.ProviderAccountID
	if ref == "" {
		ref = ev.Account.ProviderAccountID
	}
	a, err := s.st.FindAccount(ctx, providerName, ref)
	if err != nil {
		return nil, err
	}
	at := ev.At
	if at.IsZero() {
		at = ev.Account.UpdatedAt
	}
	return s.save(ctx, a.Tenant, a.ID, Report{Account: ev.Account, At: at, Asked: s.opts.Now()})
}

// call loads the account and its provider, makes the provider call and
// saves its answer, dated when the call was made where the answer carries
// no provider time.
func (s *Service) call(ctx context.Context, tenant, id string, f func(context.Context, *gateway.Provider, *bank.Account) (*bank.Account, error)) (*bank.Account, error) {
	a, err := s.st.GetAccount(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	p, ok := s.reg.Get(a.Provider)
	if !ok {
		return nil, &bank.Error{Code: bank.FailedPrecondition, Err: fmt.Errorf("%w: %q", ErrNoProvider, a.Provider)}
	}
	asked := s.opts.Now()
	fresh, err := f(ctx, p, a)
	if err != nil {
		return nil, err
	}
	return s.saveOver(ctx, tenant, id, Report{Account: fresh, At: fresh.UpdatedAt, Asked: asked}, a)
}

// save merges r into the stored account by compare-and-set, merging again
// into the fresh record when another write got in between, and reports the
// change. A report older than the stored state leaves it, and the stored
// account is returned.
func (s *Service) save(ctx context.Context, tenant, id string, r Report) (*bank.Account, error) {
	return s.saveOver(ctx, tenant, id, r, nil)
}

// saveOver is save starting from read, the stored account as read before
// the provider was asked (nil: read it now): one store read fewer per
// provider call. The compare-and-set still refuses a write over a record
// changed since, and the merge is then done again on a fresh read.
func (s *Service) saveOver(ctx context.Context, tenant, id string, r Report, read *bank.Account) (*bank.Account, error) {
	for range maxSwaps {
		cur := read
		read = nil
		if cur == nil {
			var err error
			if cur, err = s.st.GetAccount(ctx, tenant, id); err != nil {
				return nil, err
			}
		}
		next, ok := Merge(cur, r)
		if !ok {
			s.opts.Logger.DebugContext(ctx, "accounts: provider report older than the stored state; kept the stored one",
				"account_id", id, "provider", cur.Provider, "stored_status", string(cur.Status), "reported_status", string(r.Account.Status))
			return cur, nil
		}
		if reflect.DeepEqual(next, cur) {
			return cur, nil
		}
		saved, err := s.st.SwapAccount(ctx, next)
		var ce *store.ConflictError
		if errors.As(err, &ce) {
			continue
		}
		if err != nil {
			return nil, err
		}
		s.opts.Changed(ctx, cur, saved)
		return saved, nil
	}
	return nil, &bank.Error{Code: bank.Unavailable, Err: fmt.Errorf("account %q: too many concurrent writes", id)}
}

// Report is what a provider reported about an account.
type Report struct {
	// Account is the provider's view of the account.
	Account *bank.Account
	// At is when the reported state held by the provider's clock (zero:
	// the provider gives no time).
	At time.Time
	// Asked is when the gateway sent the request that was answered, or
	// received the event.
	Asked time.Time
}

// Merge returns stored with r merged in, and false (and stored) when r is
// about a state older than the stored one: dated before stored.ProviderAt,
// or undated and asked before it. It never changes stored.
func Merge(stored *bank.Account, r Report) (*bank.Account, bool) {
	at := r.At
	if at.IsZero() {
		at = r.Asked
	}
	if at.Before(stored.ProviderAt) {
		return stored, false
	}
	fresh := r.Account
	// A copy of stored, without copying what the report replaces.
	base := *stored
	if fresh.BankDetails != nil {
		base.BankDetails = nil
	}
	if fresh.Raw != nil {
		base.Raw = nil
	}
	m := base.Clone()
	wasUnallocated := m.Status == bank.StatusUnallocated
	if fresh.Status != "" {
		m.Status = fresh.Status
	}
	if fresh.ProviderStatus != "" {
		m.ProviderStatus = fresh.ProviderStatus
	}
	// A provider that does not report a field leaves the stored value.
	for _, f := range []struct {
		dst *string
		src string
	}{
		{&m.AccountHolderName, fresh.AccountHolderName}, {&m.AccountName, fresh.AccountName},
		{&m.DOB, fresh.DOB}, {&m.NativeLanguageName, fresh.NativeLanguageName},
		{&m.ClientReference, fresh.ClientReference}, {&m.Currency, fresh.Currency},
	} {
		if f.src != "" {
			*f.dst = f.src
		}
	}
	if fresh.BankDetails != nil {
		m.BankDetails = bank.CloneBankDetails(fresh.BankDetails)
	}
	if fresh.Balance != nil {
		b := *fresh.Balance
		m.Balance = &b
	}
	if fresh.Raw != nil {
		m.Raw = append([]byte(nil), fresh.Raw...)
	}
	at = at.UTC()
	m.ProviderAt = at
	// updatedAt never goes back.
	if at.After(m.UpdatedAt) {
		m.UpdatedAt = at
	}
	if wasUnallocated && m.Status != bank.StatusUnallocated && m.AllocatedAt == nil {
		t := r.Asked.UTC()
		m.AllocatedAt = &t
	}
	return m, true
}
