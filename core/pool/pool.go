// Package pool keeps stocks of UNALLOCATED accounts ready to hand to a
// customer at once (the batch provider's pre-provisioning), claims them one
// at a time, and replenishes them.
//
// A pool is keyed by tenant, provider and currency. Its accounts are the
// tenant's UNALLOCATED accounts at that provider in that currency: every
// such account a job creates joins it (a replenish job's, or a plain create
// with unallocated: true), and so do those already stored when the pool is
// configured. An account allocated or closed another way leaves it.
//
// # Claim
//
// A claim takes the pool's next account and allocates it at the provider
// (the one-time PATCH) to the holder in the request, through the accounts
// service. An account number is never handed to two holders:
//
//   - Taking is one atomic step of the store (on Redis a Lua script on the
//     pool's one hash tag): the account leaves the available list and is
//     bound to the claim, whose id derives from the tenant and the
//     request's Idempotency-Key, before anything is sent. A retried claim
//     (the same key) finds its claim and answers with the same account; the
//     same key with another body is refused.
//   - Only the attempt holding the claim talks to the provider about the
//     account, for at most ClaimTimeout; its hold lasts ClaimTimeout +
//     ResolveAfter, so a request still in flight when it ends has had time
//     to land.
//   - When the provider refuses the allocation with a known outcome (a bad
//     field, a rate limit, an open breaker: nothing happened), the account
//     goes back to the head of the pool and the error is returned. When the
//     provider says the account can no longer be allocated (allocated or
//     gone another way) the account is dropped from the pool for good and
//     the claim takes the next one.
//   - When the outcome is unknown (a timeout, a provider failure after the
//     request was sent, a state-store failure around the write), the
//     account is quarantined: it stays bound to its claim, is reported by
//     GET /v1/pool, and is never offered to another claim. The first thing
//     done with it is a read at the provider: by a retry of the same claim
//     (which then allocates it to the same holder if it is still
//     unallocated), or by the recovery sweep after ResolveAfter, which
//     finishes the claim when the account is allocated to its holder, puts
//     it back in the pool when it is still unallocated, and drops it when
//     it belongs to someone else.
//   - A claim whose instance died (kill -9) is one whose hold ran out: the
//     sweep of any instance resolves it the same way.
//   - A direct PATCH of a pooled account takes it out of the pool first; an
//     account held by a claim cannot be allocated that way.
//
// Without a provider, a claim goes to the pool of the provider the routing
// rules pick for unallocated accounts of the currency; it never spills over
// to another provider's pool. An empty pool answers at once (an ExhaustedError,
// with a retry time when a replenish is running or starts); a claim never
// waits for stock. The Idempotency-Key is required.
//
// # Replenish
//
// A pool has a target and a low watermark (the config file's pool.pools,
// or PUT /v1/pool/{provider}/{currency}; settings set through the API win
// over the file from then on). A pool whose settings are new or changed is
// filled to its target at once; afterwards a claim that leaves fewer than
// the low watermark available, or finds the pool empty, starts a replenish
// job (the job engine, unallocated items, provider idempotency keys) of
// target − available accounts, at most 1000 per job; the sweep starts one
// too for a pool it finds below its watermark. Only one replenish per pool
// runs at a time across instances: a lock in the store holds the job's id,
// released when the job finishes (or, should that be missed, by the sweep
// once the job is finished or was never stored, and at the latest after
// ReplenishTimeout). A pool with target 0 is never replenished by the
// gateway. POST /v1/pool/replenish starts one by hand.
//
// # Visibility
//
// Stats gives available, claiming, quarantined (with their account ids),
// claimed, the running replenish and its pending count, target and low
// watermark. Events: pool.low when a claim takes the pool below its low
// watermark (once per crossing), pool.replenished when its replenish job
// finishes; allocations show as virtual_account.allocated through the
// accounts service. Gauges per pool (tenant, provider, currency):
// vagate.pool.available, .claiming, .quarantined, .claimed, .pending,
// .target, .low_watermark, as last read (by the sweep, or a read of the
// pool); and the counter vagate.pool.claims by outcome.
//
// # Stores
//
// Store is kept by poolmem (one process) and poolredis (shared; each pool's
// keys under one hash tag, every operation one Lua script, times from the
// Redis clock). A finished claim is remembered for Retention (24h, as long
// as an Idempotency-Key), then forgotten with its account's entry; the
// count of claimed accounts stays.
package pool

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"

	"github.com/vagate/vagate/core/accounts"
	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/jobs"
	"github.com/vagate/vagate/core/provider"
	"github.com/vagate/vagate/core/store"
)

// Accounts is what the pool needs of the accounts service.
type Accounts interface {
	// Get returns the tenant's stored account.
	Get(ctx context.Context, tenant, id string) (*bank.Account, error)
	// Allocate sets the holder at the provider and saves the answer.
	Allocate(ctx context.Context, tenant, id string, upd *provider.Allocation) (*bank.Account, error)
	// Refresh reads the account at its provider and saves what it reports.
	Refresh(ctx context.Context, tenant, id string) (*bank.Account, error)
	// List pages through the tenant's stored accounts.
	List(ctx context.Context, tenant string, f store.AccountFilter, cursor string, limit int) ([]*bank.Account, string, error)
}

// Jobs is what the pool needs of the job engine.
type Jobs interface {
	// Submit accepts a job.
	Submit(ctx context.Context, tenant string, spec *jobs.Spec) (*bank.Job, error)
	// Job returns a job's status and counts.
	Job(ctx context.Context, tenant, id string) (*bank.Job, error)
	// Get returns a job with its items.
	Get(ctx context.Context, tenant, id string) (*jobs.Record, error)
}

// Options tune a Service; zero values are defaults.
type Options struct {
	// ClaimTimeout bounds one claim attempt's calls to the provider
	// (default 20s).
	ClaimTimeout time.Duration
	// ResolveAfter is how long after an unknown outcome (or after an
	// attempt's time ran out) the account is read at the provider
	// (default 10s).
	ResolveAfter time.Duration
	// SweepInterval is how often the recovery sweep runs (default 5s).
	SweepInterval time.Duration
	// RetryAfter is the advice given with an empty pool that a replenish
	// is refilling (default 5s).
	RetryAfter time.Duration
	// ReplenishTimeout is the longest a replenish lock holds (default 1h).
	ReplenishTimeout time.Duration
	// Retention is how long a finished claim is remembered for retries with
	// its key (default 24h, as long as Idempotency-Keys).
	Retention time.Duration
	// OnLow is told when a claim takes a pool below its low watermark.
	OnLow func(ctx context.Context, tenant string, p *bank.Pool)
	// OnReplenished is told when a pool's replenish job finished.
	OnReplenished func(ctx context.Context, tenant string, p *bank.Pool, j *bank.Job)
	Logger        *slog.Logger
	Meter         metric.MeterProvider
}

// MaxReplenish is the most accounts one replenish job creates.
const MaxReplenish = 1000

// Service runs pools.
type Service struct {
	reg    *gateway.Registry
	router *gateway.Router
	st     Store
	acc    Accounts
	jobs   Jobs
	opts   Options

	kicking sync.Map // Key → struct{}: a replenish check under way here

	mu    sync.Mutex
	cache map[Key]*bank.Pool // for the gauges, refreshed by the sweep

	claims metric.Int64Counter
}

// New returns a service; call Run to start its sweep.
func New(reg *gateway.Registry, router *gateway.Router, st Store, acc Accounts, j Jobs, opts *Options) *Service {
	var o Options
	if opts != nil {
		o = *opts
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.ClaimTimeout, 20*time.Second)
	def(&o.ResolveAfter, 10*time.Second)
	def(&o.SweepInterval, 5*time.Second)
	def(&o.RetryAfter, 5*time.Second)
	def(&o.ReplenishTimeout, time.Hour)
	def(&o.Retention, 24*time.Hour)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Meter == nil {
		o.Meter = metricnoop.NewMeterProvider()
	}
	s := &Service{reg: reg, router: router, st: st, acc: acc, jobs: j, opts: o, cache: map[Key]*bank.Pool{}}
	s.instrument()
	return s
}

const instrumentation = "github.com/vagate/vagate/core/pool"

// lease is how long an attempt or a recovery holds a claim.
func (s *Service) lease() time.Duration { return s.opts.ClaimTimeout + s.opts.ResolveAfter }

// ExhaustedError is the error of a claim on an empty pool.
type ExhaustedError struct {
	Provider, Currency string
	// RetryAfter is when stock is expected back: a replenish is running or
	// started. Zero: no replenish is coming (the pool has no target).
	RetryAfter time.Duration
}

// Error names the pool.
func (e *ExhaustedError) Error() string {
	return fmt.Sprintf("the %s pool at provider %s has no UNALLOCATED account to claim", e.Currency, e.Provider)
}

// BusyError is the error of a claim whose Idempotency-Key another attempt,
// or a recovery, is still working on.
type BusyError struct{ RetryAfter time.Duration }

// Error says to retry.
func (e *BusyError) Error() string {
	return "a claim with this Idempotency-Key is still being processed; retry later"
}

// ErrKeyReused is the error of a claim whose Idempotency-Key was used for
// another claim request.
var ErrKeyReused = errors.New("pool: this Idempotency-Key was used for a different claim")

// ReplenishingError is the error of a replenish asked for while the pool's
// replenish job runs.
type ReplenishingError struct{ JobID string }

// Error names the running job.
func (e *ReplenishingError) Error() string {
	return fmt.Sprintf("a replenish job for this pool is running (%s); retry when it finishes", e.JobID)
}

// ClaimRequest is one claim.
type ClaimRequest struct {
	Currency string
	// Provider, when set, names the pool's provider; else the routing rules pick it.
	Provider string
	// Holder is the allocation sent to the provider; both names are required.
	Holder provider.Allocation
	// Key is the request's Idempotency-Key (required).
	Key string
}

// ClaimID is the id of the claim of tenant's Idempotency-Key.
func ClaimID(tenant, key string) string {
	sum := sha256.Sum256([]byte("vagate:pool-claim:" + tenant + "\n" + key))
	return "clm_" + hex.EncodeToString(sum[:16])
}

func deref(s *string) string {
	if s == nil {
		return "\x00"
	}
	return *s
}

// fingerprint identifies the claim request.
func (r *ClaimRequest) fingerprint() string {
	h := r.Holder
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\n%s\n%q\n%q\n%q\n%q\n%q", r.Currency, r.Provider, deref(h.AccountHolderName),
		deref(h.AccountName), deref(h.DOB), deref(h.NativeLanguageName), deref(h.ClientReference)))
	return hex.EncodeToString(sum[:16])
}

// holderOf identifies the names an account is allocated to, ignoring case
// and spacing (a provider may normalise names).
func holderOf(holderName, accountName string) string {
	norm := func(s string) string { return strings.ToUpper(strings.Join(strings.Fields(s), " ")) }
	sum := sha256.Sum256([]byte(norm(holderName) + "\n" + norm(accountName)))
	return hex.EncodeToString(sum[:8])
}

func newToken() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Resolve returns the pool of tenant for a currency and an optional
// provider (else routed), with the provider, checking the provider keeps
// unallocated accounts.
func (s *Service) Resolve(tenant, providerName, currency string) (*gateway.Provider, Key, error) {
	item := &provider.CreateItem{Currency: currency, Unallocated: true}
	var p *gateway.Provider
	if providerName != "" {
		var ok bool
		if p, ok = s.reg.Get(providerName); !ok {
			return nil, Key{}, &bank.Error{Code: bank.InvalidArgument, Err: fmt.Errorf("unknown provider %q", providerName),
				Fields: []bank.FieldError{{Pointer: "/provider", Message: fmt.Sprintf("unknown provider %q (configured: %v)", providerName, s.reg.Names())}}}
		}
	} else {
		var fe *bank.FieldError
		if p, fe = s.router.Route("", "", item); fe != nil {
			return nil, Key{}, &bank.Error{Code: bank.InvalidArgument, Err: errors.New(fe.Message), Fields: []bank.FieldError{*fe}}
		}
	}
	c := p.Capabilities()
	if !p.Supports(provider.CapUnallocated) {
		return nil, Key{}, &bank.Error{Code: bank.Unimplemented, Provider: p.Name(), Op: "pool",
			Err: &gateway.CapabilityError{Provider: p.Name(), Capability: provider.CapUnallocated}}
	}
	if !c.SupportsCurrency(currency) {
		return nil, Key{}, &bank.Error{Code: bank.InvalidArgument, Err: fmt.Errorf("provider %s does not keep %s accounts", p.Name(), currency),
			Fields: []bank.FieldError{{Pointer: "/currency", Message: fmt.Sprintf("provider %s does not keep %s accounts (it keeps %v)", p.Name(), currency, c.Currencies)}}}
	}
	return p, Key{Tenant: tenant, Provider: p.Name(), Currency: currency}, nil
}

// maxTakes bounds the accounts one claim goes through when it finds taken
// ones that can no longer be allocated.
const maxTakes = 10

// Claim takes one account of the pool and allocates it to the holder; see
// the package documentation for what happens when something fails.
func (s *Service) Claim(ctx context.Context, tenant string, r *ClaimRequest) (*bank.Account, error) {
	if r.Key == "" {
		return nil, &bank.Error{Code: bank.InvalidArgument, Err: errors.New("a claim needs an Idempotency-Key"),
			Fields: []bank.FieldError{{Pointer: "/headers/Idempotency-Key", Message: "is required to claim from the pool"}}}
	}
	if r.Holder.AccountHolderName == nil || r.Holder.AccountName == nil {
		return nil, &bank.Error{Code: bank.InvalidArgument, Err: errors.New("a claim names the holder"),
			Fields: []bank.FieldError{{Pointer: "/accountHolderName", Message: "both names are required to allocate an account"}}}
	}
	p, k, err := s.Resolve(tenant, r.Provider, r.Currency)
	if err != nil {
		// Every bad field in one answer: the holder's with the currency's.
		var be, he *bank.Error
		if errors.As(err, &be) && be.Code == bank.InvalidArgument &&
			errors.As(gateway.ValidateAllocationUnified(&r.Holder), &he) {
			be.Fields = append(be.Fields, he.Fields...)
		}
		return nil, err
	}
	if err := p.ValidateAllocation(&r.Holder); err != nil {
		return nil, err
	}
	// The claim is seen through even if the client hangs up: a retry with
	// its key then finds it finished.
	ctx = context.WithoutCancel(ctx)
	c := &Claim{ID: ClaimID(tenant, r.Key), Fingerprint: r.fingerprint(),
		Holder: holderOf(*r.Holder.AccountHolderName, *r.Holder.AccountName)}
	for range maxTakes {
		c.Token = newToken()
		res, err := s.st.Take(ctx, k, c, s.lease())
		if err != nil {
			return nil, err
		}
		switch res.Outcome {
		case TakeEmpty:
			s.count(ctx, k, "exhausted")
			return nil, s.exhausted(ctx, k)
		case TakeReused:
			return nil, ErrKeyReused
		case TakeBusy:
			return nil, &BusyError{RetryAfter: max(time.Until(res.Claim.Until), time.Second)}
		case TakeAllocated:
			return s.acc.Get(ctx, tenant, res.Claim.Account)
		case TakeNew:
			s.taken(ctx, k, res.Available, res.LowWatermark)
		}
		a, err := s.attempt(ctx, k, &res.Claim, res.Outcome == TakeResumed, &r.Holder)
		if errors.Is(err, errGone) {
			continue
		}
		return a, err
	}
	return nil, &bank.Error{Code: bank.Unavailable, Err: fmt.Errorf("pool %s/%s: %d accounts in a row could not be allocated", k.Provider, k.Currency, maxTakes)}
}

// errGone says the claim's account could not be allocated and was dropped:
// take the next one.
var errGone = errors.New("pool: the account can no longer be allocated")

// outcome classifies a failed read or allocation of a claimed account.
type outcome int

const (
	// unknown: the provider may have allocated it.
	unknown outcome = iota
	// refused: nothing happened; the account is as it was.
	refused
	// gone: the account cannot be allocated (any more).
	gone
)

func classify(err error) outcome {
	if errors.Is(err, store.ErrUnavailable) {
		// A store error never decides an outcome: the provider may have
		// answered before the save failed.
		return unknown
	}
	var be *bank.Error
	if !errors.As(err, &be) {
		return unknown
	}
	if be.Provider == "" {
		switch {
		case errors.Is(err, accounts.ErrNoProvider):
			return refused
		case be.Code == bank.NotFound:
			return gone
		}
		return unknown
	}
	switch be.Code {
	case bank.FailedPrecondition, bank.NotFound, bank.AlreadyExists:
		return gone
	}
	if be.Code.OutcomeKnown() {
		return refused
	}
	return unknown
}

// attempt allocates the claim's account to the holder, holding the claim.
func (s *Service) attempt(ctx context.Context, k Key, c *Claim, resumed bool, holder *provider.Allocation) (*bank.Account, error) {
	actx, cancel := context.WithTimeout(ctx, s.opts.ClaimTimeout)
	defer cancel()
	log := s.opts.Logger.With("pool_provider", k.Provider, "currency", k.Currency, "claim_id", c.ID, "account_id", c.Account)
	var a *bank.Account
	var err error
	if resumed {
		// Its outcome was unknown: read it at the provider before anything else.
		a, err = s.acc.Refresh(actx, k.Tenant, c.Account)
	} else {
		a, err = s.acc.Get(actx, k.Tenant, c.Account)
	}
	if err != nil {
		switch {
		case classify(err) == gone:
			return nil, s.abandon(ctx, k, c, log, err)
		case !resumed:
			// Nothing was sent: the account goes back.
			s.release(ctx, k, c, log)
		default:
			s.quarantine(ctx, k, c, log)
		}
		return nil, err
	}
	switch {
	case a.Status == bank.StatusUnallocated:
	case holderOf(a.AccountHolderName, a.AccountName) == c.Holder:
		return s.finish(ctx, k, c, a, log), nil
	default:
		return nil, s.abandon(ctx, k, c, log, fmt.Errorf("the account is %s for another holder", a.Status))
	}
	out, err := s.acc.Allocate(actx, k.Tenant, c.Account, holder)
	if err == nil && out.Status == bank.StatusUnallocated {
		err = &bank.Error{Code: bank.Unknown, Provider: k.Provider, Op: "allocate", Err: errors.New("the provider answered the allocation with the account still unallocated")}
	}
	if err == nil {
		return s.finish(ctx, k, c, out, log), nil
	}
	switch classify(err) {
	case gone:
		return nil, s.abandon(ctx, k, c, log, err)
	case refused:
		s.release(ctx, k, c, log)
		s.count(ctx, k, "refused")
	default:
		log.Warn("pool: allocation outcome unknown; the account is quarantined until it is read at the provider", "err", err)
		s.quarantine(ctx, k, c, log)
	}
	return nil, err
}

// bg is a short context for bookkeeping after a provider call.
func bg(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
}

func (s *Service) finish(ctx context.Context, k Key, c *Claim, a *bank.Account, log *slog.Logger) *bank.Account {
	bctx, cancel := bg(ctx)
	defer cancel()
	if _, err := s.st.Finish(bctx, k, c.ID, c.Account); err != nil {
		// The account is the holder's all the same; the sweep finishes the
		// claim once its hold runs out.
		log.Warn("pool: recording a claim allocated failed; the sweep records it", "err", err)
	}
	s.count(ctx, k, "allocated")
	return a
}

func (s *Service) release(ctx context.Context, k Key, c *Claim, log *slog.Logger) {
	bctx, cancel := bg(ctx)
	defer cancel()
	if _, err := s.st.Release(bctx, k, c.ID, c.Token); err != nil {
		log.Warn("pool: putting an account back failed; the sweep reads it at the provider", "err", err)
	}
}

func (s *Service) quarantine(ctx context.Context, k Key, c *Claim, log *slog.Logger) {
	bctx, cancel := bg(ctx)
	defer cancel()
	if _, err := s.st.Quarantine(bctx, k, c.ID, c.Token, s.opts.ResolveAfter); err != nil {
		log.Warn("pool: quarantining an account failed; the sweep reads it once the claim's hold runs out", "err", err)
	}
	s.count(ctx, k, "quarantined")
}

// abandon drops the claim's account from the pool for good and returns
// errGone (or the store's error).
func (s *Service) abandon(ctx context.Context, k Key, c *Claim, log *slog.Logger, why error) error {
	log.Warn("pool: a claimed account cannot be allocated; dropped from the pool", "reason", why)
	bctx, cancel := bg(ctx)
	defer cancel()
	if _, err := s.st.Abandon(bctx, k, c.ID, c.Token); err != nil {
		return err
	}
	return errGone
}

// taken follows a new take: pool.low on crossing the watermark, and a
// replenish when below it.
func (s *Service) taken(ctx context.Context, k Key, left, low int) {
	if left >= low {
		return
	}
	if left == low-1 && s.opts.OnLow != nil {
		if st, err := s.st.Stats(ctx, k); err == nil {
			s.opts.OnLow(ctx, k.Tenant, s.view(k, st, s.pending(ctx, k, st)))
		}
	}
	s.kick(k)
}

// exhausted is the error of a claim on an empty pool; it starts a replenish.
func (s *Service) exhausted(ctx context.Context, k Key) error {
	e := &ExhaustedError{Provider: k.Provider, Currency: k.Currency}
	st, err := s.st.Stats(ctx, k)
	if err != nil || st.Settings.Target == 0 {
		return e
	}
	e.RetryAfter = s.opts.RetryAfter
	if st.Replenish == nil {
		s.kick(k)
	}
	return e
}

// kick checks in the background whether the pool needs a replenish, at
// most once at a time per pool in this instance.
func (s *Service) kick(k Key) {
	if _, busy := s.kicking.LoadOrStore(k, struct{}{}); busy {
		return
	}
	go func() {
		defer s.kicking.Delete(k)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := s.replenish(ctx, k, 0, false); err != nil {
			var re *ReplenishingError
			if !errors.As(err, &re) {
				s.opts.Logger.Warn("pool: starting a replenish failed", "provider", k.Provider, "currency", k.Currency, "err", err)
			}
		}
	}()
}

// replenish starts a job of count accounts (0: up to the target) unless
// one runs. Automatic ones (manual false) start only below the watermark
// or on an empty pool, and only for a pool with a target.
func (s *Service) replenish(ctx context.Context, k Key, count int, manual bool) (*bank.Job, error) {
	st, err := s.st.Stats(ctx, k)
	if err != nil {
		return nil, err
	}
	if st.Replenish != nil {
		return nil, &ReplenishingError{JobID: st.Replenish.JobID}
	}
	if count == 0 {
		count = st.Settings.Target - st.Available
		if !manual && (st.Settings.Target == 0 || (st.Available >= st.Settings.LowWatermark && st.Available > 0)) {
			return nil, nil
		}
	}
	if count <= 0 {
		return nil, nil
	}
	count = min(count, MaxReplenish)
	identity := "pool-replenish:" + k.Provider + ":" + k.Currency + ":" + newToken()
	jobID := jobs.JobID(k.Tenant, identity)
	held, ok, err := s.st.Lock(ctx, k, Replenish{JobID: jobID, Count: count}, s.opts.ReplenishTimeout)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, &ReplenishingError{JobID: held.JobID}
	}
	spec := &jobs.Spec{Identity: identity}
	for range count {
		spec.Items = append(spec.Items, jobs.Item{Provider: k.Provider, Request: provider.CreateItem{Currency: k.Currency, Unallocated: true}})
	}
	j, err := s.jobs.Submit(ctx, k.Tenant, spec)
	if err != nil {
		s.st.Unlock(context.WithoutCancel(ctx), k, jobID)
		return nil, err
	}
	s.opts.Logger.Info("pool: replenishing", "tenant", k.Tenant, "provider", k.Provider, "currency", k.Currency,
		"job_id", j.ID, "count", count, "available", st.Available, "target", st.Settings.Target)
	return j, nil
}

// Replenish starts a replenish job by hand: count accounts, or (0) what
// the pool lacks of its target.
func (s *Service) Replenish(ctx context.Context, tenant, providerName, currency string, count int) (*bank.Job, error) {
	_, k, err := s.Resolve(tenant, providerName, currency)
	if err != nil {
		return nil, err
	}
	j, err := s.replenish(ctx, k, count, true)
	if err == nil && j == nil {
		return nil, &bank.Error{Code: bank.FailedPrecondition, Err: fmt.Errorf("the pool holds its target already; name a count to add more")}
	}
	return j, err
}

// Configure sets a pool's target and low watermark (source "config" or
// "api"; the file's settings do not overwrite the API's). New or changed
// settings fill the pool to its target; the tenant's UNALLOCATED accounts
// already stored join it.
func (s *Service) Configure(ctx context.Context, tenant, providerName, currency string, target, low int, source string) (*bank.Pool, error) {
	if target < 0 || low < 0 || (low > target) {
		return nil, &bank.Error{Code: bank.InvalidArgument, Err: errors.New("a pool needs 0 <= lowWatermark <= target"),
			Fields: []bank.FieldError{{Pointer: "/lowWatermark", Message: "must be from 0 to target"}}}
	}
	_, k, err := s.Resolve(tenant, providerName, currency)
	if err != nil {
		return nil, err
	}
	before, err := s.st.Stats(ctx, k)
	if err != nil {
		return nil, err
	}
	set, err := s.st.Configure(ctx, k, Settings{Target: target, LowWatermark: low, Source: source}, source != "config")
	if err != nil {
		return nil, err
	}
	if err := s.sync(ctx, k); err != nil {
		s.opts.Logger.Warn("pool: adding the stored UNALLOCATED accounts failed", "provider", k.Provider, "currency", k.Currency, "err", err)
	}
	if set.Target != before.Settings.Target || set.LowWatermark != before.Settings.LowWatermark {
		if _, err := s.replenish(ctx, k, 0, true); err != nil {
			var re *ReplenishingError
			if !errors.As(err, &re) {
				s.opts.Logger.Warn("pool: filling the pool failed", "provider", k.Provider, "currency", k.Currency, "err", err)
			}
		}
	}
	return s.Get(ctx, tenant, k.Provider, currency)
}

// sync adds the tenant's stored UNALLOCATED accounts of the pool.
func (s *Service) sync(ctx context.Context, k Key) error {
	f := store.AccountFilter{Provider: k.Provider, Currency: k.Currency, Status: bank.StatusUnallocated}
	cursor := ""
	for {
		as, next, err := s.acc.List(ctx, k.Tenant, f, cursor, 200)
		if err != nil {
			return err
		}
		ids := make([]string, len(as))
		for i, a := range as {
			ids[i] = a.ID
		}
		if _, err := s.st.Add(ctx, k, ids...); err != nil {
			return err
		}
		if next == "" {
			return nil
		}
		cursor = next
	}
}

// Get returns one pool of the tenant.
func (s *Service) Get(ctx context.Context, tenant, providerName, currency string) (*bank.Pool, error) {
	k := Key{Tenant: tenant, Provider: providerName, Currency: currency}
	st, err := s.st.Stats(ctx, k)
	if err != nil {
		return nil, err
	}
	return s.observe(k, s.view(k, st, s.pending(ctx, k, st))), nil
}

// observe keeps p for the gauges and returns it.
func (s *Service) observe(k Key, p *bank.Pool) *bank.Pool {
	c := *p
	s.mu.Lock()
	s.cache[k] = &c
	s.mu.Unlock()
	return p
}

// List returns the tenant's pools: those configured and those holding accounts.
func (s *Service) List(ctx context.Context, tenant string) ([]*bank.Pool, error) {
	keys, err := s.st.Pools(ctx)
	if err != nil {
		return nil, err
	}
	out := []*bank.Pool{}
	for _, k := range keys {
		if k.Tenant != tenant {
			continue
		}
		st, err := s.st.Stats(ctx, k)
		if err != nil {
			return nil, err
		}
		out = append(out, s.observe(k, s.view(k, st, s.pending(ctx, k, st))))
	}
	return out, nil
}

// pending is how many accounts the running replenish job has yet to settle.
func (s *Service) pending(ctx context.Context, k Key, st *Stats) int {
	if st.Replenish == nil {
		return 0
	}
	j, err := s.jobs.Job(ctx, k.Tenant, st.Replenish.JobID)
	if err != nil {
		return st.Replenish.Count
	}
	return max(j.Total-jobs.Settled(j), 0)
}

func (s *Service) view(k Key, st *Stats, pending int) *bank.Pool {
	p := &bank.Pool{Provider: k.Provider, Currency: k.Currency, Available: st.Available, Claiming: st.Claiming,
		Quarantined: st.Quarantined, QuarantinedAccountIDs: st.QuarantinedAccounts, Claimed: st.Claimed, Pending: pending,
		LowWatermark: st.Settings.LowWatermark, Target: st.Settings.Target}
	if st.Replenish != nil {
		p.ReplenishJobID = st.Replenish.JobID
	}
	return p
}

// keyOf is the pool an account belongs to.
func keyOf(a *bank.Account) Key {
	return Key{Tenant: a.Tenant, Provider: a.Provider, Currency: a.Currency}
}

// AccountCreated adds a newly created UNALLOCATED account to its pool (the
// job engine's OnAccount).
func (s *Service) AccountCreated(ctx context.Context, a *bank.Account) {
	if a == nil || a.Status != bank.StatusUnallocated {
		return
	}
	if _, err := s.st.Add(ctx, keyOf(a), a.ID); err != nil {
		s.opts.Logger.Warn("pool: adding a new account failed; its job's end adds it", "account_id", a.ID, "err", err)
	}
}

// AccountChanged takes an account that left UNALLOCATED other than by a
// claim out of its pool (the accounts service's change hook).
func (s *Service) AccountChanged(ctx context.Context, before, after *bank.Account) {
	if before == nil || after == nil || before.Status != bank.StatusUnallocated || after.Status == bank.StatusUnallocated {
		return
	}
	if _, err := s.st.Withdraw(ctx, keyOf(after), after.ID); err != nil {
		s.opts.Logger.Warn("pool: taking an allocated account out of its pool failed; a claim that takes it drops it", "account_id", after.ID, "err", err)
	}
}

// ErrClaimed is the error of a direct allocation of an account a claim holds.
var ErrClaimed = errors.New("pool: the account is being claimed from the pool")

// Withdraw takes a, about to be allocated directly (PATCH), out of its
// pool: ErrClaimed when a claim holds it. Restore puts it back when the
// allocation is known not to have happened.
func (s *Service) Withdraw(ctx context.Context, a *bank.Account) error {
	if a.Status != bank.StatusUnallocated {
		return nil
	}
	st, err := s.st.Withdraw(ctx, keyOf(a), a.ID)
	if err != nil {
		return err
	}
	if st == AccountClaimed {
		return &bank.Error{Code: bank.FailedPrecondition, Err: ErrClaimed}
	}
	return nil
}

// Restore makes an account Withdraw took available again, after its
// allocation failed with a known outcome.
func (s *Service) Restore(ctx context.Context, a *bank.Account, err error) {
	if a.Status != bank.StatusUnallocated || classify(err) != refused {
		return
	}
	if _, err := s.st.Restore(ctx, keyOf(a), a.ID); err != nil {
		s.opts.Logger.Warn("pool: putting an account back failed", "account_id", a.ID, "err", err)
	}
}

// JobFinished adds the UNALLOCATED accounts a finished job created to
// their pools, and ends the replenish of each pool it was the job of (the
// job engine's OnFinish).
func (s *Service) JobFinished(ctx context.Context, j *bank.Job) {
	rec, err := s.jobs.Get(ctx, j.Tenant, j.ID)
	if err != nil {
		s.opts.Logger.Warn("pool: reading a finished job failed", "job_id", j.ID, "err", err)
		return
	}
	s.settleJob(ctx, rec, j)
}

func (s *Service) settleJob(ctx context.Context, rec *jobs.Record, j *bank.Job) {
	add := map[Key][]string{}
	var order []Key
	for _, it := range rec.Items {
		if !it.Request.Unallocated {
			continue
		}
		k := Key{Tenant: j.Tenant, Provider: it.Provider, Currency: it.Request.Currency}
		if _, ok := add[k]; !ok {
			order = append(order, k)
			add[k] = nil
		}
		if a := it.Result.Account; it.Result.Outcome == bank.OutcomeCreated && a != nil && a.Status == bank.StatusUnallocated {
			add[k] = append(add[k], a.ID)
		}
	}
	for _, k := range order {
		if _, err := s.st.Add(ctx, k, add[k]...); err != nil {
			s.opts.Logger.Warn("pool: adding a job's accounts failed", "job_id", j.ID, "err", err)
			continue
		}
		mine, err := s.st.Unlock(ctx, k, j.ID)
		if err != nil || !mine {
			continue
		}
		st, err := s.st.Stats(ctx, k)
		if err != nil {
			continue
		}
		s.opts.Logger.Info("pool: replenished", "tenant", k.Tenant, "provider", k.Provider, "currency", k.Currency,
			"job_id", j.ID, "created", j.Succeeded, "available", st.Available)
		if s.opts.OnReplenished != nil {
			s.opts.OnReplenished(ctx, k.Tenant, s.view(k, st, 0), j)
		}
		if st.Settings.Target > 0 && st.Available < st.Settings.LowWatermark && j.Succeeded > 0 {
			s.kick(k)
		}
	}
}

// Run sweeps every pool each SweepInterval until ctx ends: it resolves
// claims whose time has come, ends replenish locks whose job is over,
// replenishes pools below their watermark, forgets claims past their
// retention, and refreshes the gauges.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(s.opts.SweepInterval)
	defer t.Stop()
	for {
		s.Sweep(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Sweep runs one round of Run.
func (s *Service) Sweep(ctx context.Context) {
	keys, err := s.st.Pools(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.opts.Logger.Warn("pool: sweep could not list the pools", "err", err)
		}
		return
	}
	seen := map[Key]bool{}
	for _, k := range keys {
		if ctx.Err() != nil {
			return
		}
		seen[k] = true
		s.sweepPool(ctx, k)
	}
	s.mu.Lock()
	for k := range s.cache {
		if !seen[k] {
			delete(s.cache, k)
		}
	}
	s.mu.Unlock()
}

func (s *Service) sweepPool(ctx context.Context, k Key) {
	ids, err := s.st.Due(ctx, k, 100)
	if err != nil {
		s.opts.Logger.Warn("pool: sweep could not list due claims", "provider", k.Provider, "currency", k.Currency, "err", err)
	}
	for _, id := range ids {
		s.recover(ctx, k, id)
	}
	st, err := s.st.Stats(ctx, k)
	if err != nil {
		return
	}
	if r := st.Replenish; r != nil {
		s.checkReplenish(ctx, k, r)
	} else if st.Settings.Target > 0 && st.Available < st.Settings.LowWatermark {
		s.kick(k)
	}
	if _, err := s.st.Trim(ctx, k, s.opts.Retention, 1000); err != nil {
		s.opts.Logger.Warn("pool: trimming old claims failed", "err", err)
	}
	if st, err = s.st.Stats(ctx, k); err == nil {
		s.observe(k, s.view(k, st, s.pending(ctx, k, st)))
	}
}

// checkReplenish ends a replenish lock whose job finished (its end was
// missed) or was never stored.
func (s *Service) checkReplenish(ctx context.Context, k Key, r *Replenish) {
	j, err := s.jobs.Job(ctx, k.Tenant, r.JobID)
	switch {
	case bank.Code(err) == bank.NotFound && time.Since(r.Started) > time.Minute:
		if ok, _ := s.st.Unlock(ctx, k, r.JobID); ok {
			s.opts.Logger.Warn("pool: replenish job was never stored; its lock is released", "job_id", r.JobID)
		}
	case err == nil && j.Status.Finished():
		if rec, err := s.jobs.Get(ctx, k.Tenant, r.JobID); err == nil {
			s.settleJob(ctx, rec, &rec.Job)
		}
	}
}

// recover resolves a claim whose time has come by reading its account at
// the provider.
func (s *Service) recover(ctx context.Context, k Key, id string) {
	token := newToken()
	c, err := s.st.Recover(ctx, k, id, token, s.lease())
	if err != nil || c == nil {
		return
	}
	log := s.opts.Logger.With("pool_provider", k.Provider, "currency", k.Currency, "claim_id", c.ID, "account_id", c.Account)
	rctx, cancel := context.WithTimeout(ctx, s.opts.ClaimTimeout)
	a, err := s.acc.Refresh(rctx, k.Tenant, c.Account)
	cancel()
	switch {
	case err != nil && classify(err) == gone:
		s.abandon(ctx, k, c, log, err)
	case err != nil:
		log.Warn("pool: a quarantined account could not be read at the provider; it stays quarantined", "err", err)
		s.quarantine(ctx, k, c, log)
	case a.Status == bank.StatusUnallocated:
		log.Info("pool: a claim left unfinished found its account unallocated at the provider; back in the pool")
		s.release(ctx, k, c, log)
	case holderOf(a.AccountHolderName, a.AccountName) == c.Holder:
		log.Info("pool: a claim left unfinished found its account allocated to its holder; claim finished")
		s.finish(ctx, k, c, a, log)
	default:
		log.Error("pool: a claimed account is allocated to someone else than its claim's holder; dropped from the pool",
			"status", string(a.Status))
		s.abandon(ctx, k, c, log, errors.New("allocated outside its claim"))
	}
}

// Setup applies the configured pools at start-up (a start-up error names
// the first that cannot be set up).
func (s *Service) Setup(ctx context.Context, pools []Config) error {
	for i, pc := range pools {
		if _, err := s.Configure(ctx, pc.Tenant, pc.Provider, pc.Currency, pc.Target, pc.LowWatermark, "config"); err != nil {
			return fmt.Errorf("pool.pools[%d] (%s %s %s): %w", i, pc.Tenant, pc.Provider, pc.Currency, err)
		}
	}
	return nil
}

// Config is one configured pool.
type Config struct {
	Tenant, Provider, Currency string
	Target, LowWatermark       int
}

// count adds one claim outcome to vagate.pool.claims.
func (s *Service) count(ctx context.Context, k Key, outcome string) {
	s.claims.Add(context.WithoutCancel(ctx), 1, metric.WithAttributes(attribute.String("vagate.provider", k.Provider),
		attribute.String("currency", k.Currency), attribute.String("outcome", outcome)))
}

// instrument registers the pool gauges, read from the sweep's cache.
func (s *Service) instrument() {
	m := s.opts.Meter.Meter(instrumentation)
	s.claims, _ = m.Int64Counter("vagate.pool.claims", metric.WithDescription("pool claims, by provider, currency and outcome (allocated, refused, quarantined, exhausted)"))
	gauges := []struct {
		name, desc string
		v          func(*bank.Pool) int
	}{
		{"vagate.pool.available", "UNALLOCATED accounts ready to claim", func(p *bank.Pool) int { return p.Available }},
		{"vagate.pool.claiming", "accounts taken by claims not finished", func(p *bank.Pool) int { return p.Claiming }},
		{"vagate.pool.quarantined", "claimed accounts whose allocation outcome is not known yet", func(p *bank.Pool) int { return p.Quarantined }},
		{"vagate.pool.claimed", "accounts allocated through claims", func(p *bank.Pool) int { return p.Claimed }},
		{"vagate.pool.pending", "accounts the running replenish job has yet to create", func(p *bank.Pool) int { return p.Pending }},
		{"vagate.pool.target", "the pool's target", func(p *bank.Pool) int { return p.Target }},
		{"vagate.pool.low_watermark", "the pool's low watermark", func(p *bank.Pool) int { return p.LowWatermark }},
	}
	var obs []metric.Observable
	var gs []metric.Int64ObservableGauge
	for _, g := range gauges {
		o, err := m.Int64ObservableGauge(g.name, metric.WithDescription(g.desc))
		if err != nil {
			continue
		}
		obs = append(obs, o)
		gs = append(gs, o)
	}
	if len(gs) != len(gauges) {
		return
	}
	m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		for k, p := range s.cache {
			attrs := metric.WithAttributes(attribute.String("tenant", k.Tenant), attribute.String("vagate.provider", k.Provider),
				attribute.String("currency", k.Currency))
			for i, g := range gauges {
				o.ObserveInt64(gs[i], int64(g.v(p)), attrs)
			}
		}
		return nil
	}, obs...)
}
