package pool

import (
	"context"
	"time"
)

// Key names one pool: a tenant's UNALLOCATED accounts at one provider in
// one currency.
type Key struct{ Tenant, Provider, Currency string }

// ClaimState is where a claim stands.
type ClaimState string

// Claim states. A claim leaves the store when its account goes back to the
// pool (Release) or is found unusable (Abandon); an allocated claim is kept
// for the retention period, then trimmed.
const (
	// Claiming: an attempt holds the claim until Until; only it talks to
	// the provider about the account.
	Claiming ClaimState = "claiming"
	// Quarantined: an attempt ended without knowing whether the provider
	// allocated the account; it stays tied to the claim, and is read at the
	// provider from Until on, before anything else is done with it.
	Quarantined ClaimState = "quarantined"
	// Resolving: a recovery holds the claim until Until while it reads the
	// account at the provider.
	Resolving ClaimState = "resolving"
	// Allocated: the account is allocated to the claim's holder.
	Allocated ClaimState = "allocated"
)

// Claim binds one account of a pool to one claim request.
type Claim struct {
	// ID derives from the tenant and the request's Idempotency-Key.
	ID string
	// Account is the gateway id of the account taken.
	Account string
	State   ClaimState
	// Fingerprint identifies the request; a claim ID presented with another
	// fingerprint is a reused key.
	Fingerprint string
	// Holder identifies the holder names the account is allocated to.
	Holder string
	// Token names the attempt or recovery holding the claim: transitions
	// that rely on nobody else talking to the provider require it.
	Token string
	// Until ends the hold of a claiming or resolving claim, or is when a
	// quarantined one may be resolved.
	Until time.Time
}

// TakeOutcome says what Take did.
type TakeOutcome int

// Take outcomes.
const (
	// TakeEmpty: no claim with this ID, and no account available.
	TakeEmpty TakeOutcome = iota
	// TakeNew: a new claim took the pool's next account; the caller holds it.
	TakeNew
	// TakeResumed: the claim existed, held by nobody (quarantined, or its
	// holder's time ran out); the caller holds it now, with its own token.
	TakeResumed
	// TakeAllocated: the claim is finished.
	TakeAllocated
	// TakeBusy: another attempt or a recovery holds the claim until Claim.Until.
	TakeBusy
	// TakeReused: the claim exists with another fingerprint.
	TakeReused
)

// TakeResult is Take's answer.
type TakeResult struct {
	Outcome TakeOutcome
	// Claim is the claim as stored after the take (none for TakeEmpty).
	Claim Claim
	// Available is how many accounts are left after a TakeNew, and
	// LowWatermark the pool's then.
	Available, LowWatermark int
}

// AccountState is what a pool knows of one account.
type AccountState string

// Account states in a pool.
const (
	// AccountUnknown: the pool never held the account.
	AccountUnknown AccountState = ""
	// AccountAvailable: ready to claim.
	AccountAvailable AccountState = "available"
	// AccountClaimed: taken by a claim that is not finished.
	AccountClaimed AccountState = "claimed"
	// AccountAllocated: allocated through a claim.
	AccountAllocated AccountState = "allocated"
	// AccountWithdrawn: taken out of the pool without a claim (allocated or
	// closed another way).
	AccountWithdrawn AccountState = "withdrawn"
	// AccountGone: a claim found it could not be allocated; never back.
	AccountGone AccountState = "gone"
)

// Settings are a pool's sizes.
type Settings struct {
	// Target is what a replenish tops the pool up to; 0: never replenished.
	Target int
	// LowWatermark: a claim leaving fewer available starts a replenish.
	LowWatermark int
	// Source says who set them: "config" or "api". Settings set through the
	// API are not overwritten by the config file.
	Source string
}

// Replenish is the pool's replenish job while it runs.
type Replenish struct {
	JobID string
	// Count is how many accounts the job creates.
	Count   int
	Started time.Time
}

// Stats is a pool's state as stored.
type Stats struct {
	Settings  Settings
	Available int
	// Claiming counts unfinished claims, Quarantined among them.
	Claiming    int
	Quarantined int
	// QuarantinedAccounts lists up to 100 quarantined accounts.
	QuarantinedAccounts []string
	// Claimed counts finished claims since the pool began.
	Claimed int
	// Replenish is the running replenish job (nil: none).
	Replenish *Replenish
}

// Store keeps pools. Every method is atomic on its pool; on Redis each
// pool's keys share one hash tag, so each call is one script in one Cluster
// slot. Times (leases, resolve times) are taken from the store's own clock,
// so that instances with skewed clocks agree. Every implementation passes
// the suite in core/pool/pooltest.
type Store interface {
	// Add makes accounts available unless the pool held them before (in any
	// state); it returns how many were added.
	Add(ctx context.Context, k Key, accounts ...string) (int, error)
	// Take runs the claim c.ID (Fingerprint, Holder and Token set): when the
	// claim exists it answers by its state, resuming it under c.Token when
	// nobody holds it; else it takes the next available account for it,
	// held under c.Token for lease.
	Take(ctx context.Context, k Key, c *Claim, lease time.Duration) (*TakeResult, error)
	// Finish records the claim allocated, whoever holds it: the account is
	// allocated to the claim's holder. False when the claim is gone or is
	// not for account.
	Finish(ctx context.Context, k Key, claimID, account string) (bool, error)
	// Release puts the claim's account back at the head of the pool and
	// forgets the claim, if token still holds it and it is not allocated.
	Release(ctx context.Context, k Key, claimID, token string) (bool, error)
	// Quarantine marks the claim's outcome unknown, to be resolved from
	// after on, if token still holds it and it is not allocated.
	Quarantine(ctx context.Context, k Key, claimID, token string, after time.Duration) (bool, error)
	// Abandon forgets the claim and marks its account gone (never available
	// again), if token still holds it and it is not allocated.
	Abandon(ctx context.Context, k Key, claimID, token string) (bool, error)
	// Recover holds, under token for lease, a claim due for resolution (a
	// quarantined claim whose time has come, or a claiming or resolving one
	// whose holder's time ran out) and returns it; nil when it is not due.
	Recover(ctx context.Context, k Key, claimID, token string, lease time.Duration) (*Claim, error)
	// Due lists up to limit unfinished claims whose time has come.
	Due(ctx context.Context, k Key, limit int) ([]string, error)
	// Withdraw takes an available account out of the pool for good and
	// returns the state it was in; other states are left as they are.
	Withdraw(ctx context.Context, k Key, account string) (AccountState, error)
	// Restore makes a withdrawn account available again.
	Restore(ctx context.Context, k Key, account string) (bool, error)
	// Stats returns the pool's state.
	Stats(ctx context.Context, k Key) (*Stats, error)
	// Configure sets the pool's settings and returns those in effect: s
	// unless force is false and the stored ones came from the API.
	Configure(ctx context.Context, k Key, s Settings, force bool) (Settings, error)
	// Pools lists every pool the store holds.
	Pools(ctx context.Context) ([]Key, error)
	// Lock makes r the pool's replenish for ttl unless one is running; it
	// returns the running one and false then.
	Lock(ctx context.Context, k Key, r Replenish, ttl time.Duration) (Replenish, bool, error)
	// Unlock ends the pool's replenish if it is jobID's.
	Unlock(ctx context.Context, k Key, jobID string) (bool, error)
	// Trim forgets up to limit claims allocated more than age ago, and their
	// accounts.
	Trim(ctx context.Context, k Key, age time.Duration, limit int) (int, error)
}
