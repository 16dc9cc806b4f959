// Package store defines where vagate keeps its state, one interface per
// concern, and the in-memory implementation used by the embedded default.
// Jobs are kept by the stores of core/jobs (jobs.Store).
// Every implementation passes the same contract suite (storetest).
package store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vagate/vagate/core/bank"
)

// ErrUnavailable is in every error a store returns when the store itself
// failed (could not be reached, did not answer), so that callers can tell a
// state-store outage from a provider's: errors.Is(err, store.ErrUnavailable).
var ErrUnavailable = errors.New("state store unavailable")

// AccountFilter selects accounts in a list; empty fields match everything.
type AccountFilter struct {
	Provider        string
	Currency        string
	Status          bank.Status
	ClientReference string
	CustomerID      string
}

// Match reports whether a passes the filter.
func (f *AccountFilter) Match(a *bank.Account) bool {
	return (f.Provider == "" || a.Provider == f.Provider) &&
		(f.Currency == "" || a.Currency == f.Currency) &&
		(f.Status == "" || a.Status == f.Status) &&
		(f.ClientReference == "" || a.ClientReference == f.ClientReference) &&
		(f.CustomerID == "" || a.CustomerID == f.CustomerID)
}

// Accounts stores unified accounts, scoped by tenant.
type Accounts interface {
	// PutAccount inserts or replaces a by (a.Tenant, a.ID).
	PutAccount(ctx context.Context, a *bank.Account) error
	// GetAccount returns the tenant's account or a NotFound error.
	GetAccount(ctx context.Context, tenant, id string) (*bank.Account, error)
	// FindAccount finds an account by provider and provider account id, in
	// any tenant (inbound provider callbacks carry no tenant).
	FindAccount(ctx context.Context, providerName, providerAccountID string) (*bank.Account, error)
	// UpdateAccount applies fn atomically to the stored account and saves it.
	UpdateAccount(ctx context.Context, tenant, id string, fn func(*bank.Account) error) (*bank.Account, error)
	// ListAccounts returns up to limit accounts in creation order after cursor,
	// and the cursor of the next page ("" when there is none).
	ListAccounts(ctx context.Context, tenant string, f AccountFilter, cursor string, limit int) ([]*bank.Account, string, error)
}

// AccountKey names one stored account.
type AccountKey struct{ Tenant, ID string }

// ConflictError is the error of a compare-and-set account write
// (SwapAccount) when the stored record is no longer at the version the
// caller read: read it again and redo the change.
type ConflictError struct {
	Tenant, ID string
	// Want is the version the caller read; Have the stored one.
	Want, Have int64
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("account %q was written meanwhile (version %d, read at %d)", e.ID, e.Have, e.Want)
}

// Queue hands accepted jobs to workers.
type Queue interface {
	// Enqueue schedules a job for processing.
	Enqueue(ctx context.Context, tenant, jobID string) error
	// Dequeue blocks until a job is available or ctx ends. The worker holds
	// the job until it calls the lease's Ack or Release.
	Dequeue(ctx context.Context) (*Lease, error)
}

// Lease is a dequeued job, held by one worker. Ack when the job is finished;
// Release when it is not (shutting down, or a store error left items
// unsettled), so that another worker, here or on another instance, takes it
// up. A worker that dies without either loses nothing: the job becomes
// claimable after the queue's visibility timeout.
type Lease struct {
	Tenant, JobID string
	// Ack removes the job from the queue; Release hands it back. Only the
	// first call of Ack, Release or Defer counts.
	Ack, Release func()
	// Defer hands the job back to be taken again after d, freeing the worker
	// meanwhile (a job waiting to check items of unknown outcome again).
	Defer func(d time.Duration)
}

// NotFound is the error for a missing record.
func NotFound(what, id string) error {
	return &bank.Error{Code: bank.NotFound, Err: fmt.Errorf("%s %q not found", what, id)}
}

// sortKey orders accounts by creation time, then id.
func sortKey(a *bank.Account) string {
	return fmt.Sprintf("%020d|%s", a.CreatedAt.UnixNano(), a.ID)
}

// EncodeCursor makes an opaque cursor from a sort key.
func EncodeCursor(key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("v1|" + key))
}

// DecodeCursor reads a cursor; a malformed one is an InvalidArgument error.
func DecodeCursor(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !strings.HasPrefix(string(b), "v1|") || strings.Count(string(b), "|") != 2 {
		return "", &bank.Error{Code: bank.InvalidArgument, Err: fmt.Errorf("cursor is not valid"),
			Fields: []bank.FieldError{{Pointer: "/query/cursor", Message: "is not a cursor this API returned"}}}
	}
	return string(b[3:]), nil
}

// Clock is the time source of stores that expire records.
type Clock func() time.Time
