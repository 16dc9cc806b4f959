// Package reconcile keeps the gateway's account records in step with the
// providers'. It does two things.
//
// The Reconciler compares every record of a provider with what the
// provider holds (listing its accounts where the adapter implements
// provider.Lister, else looking each up), reports each drift once as it is
// found, repairs the safe ones (a status catching up with the provider)
// through the accounts service, and adopts or reports accounts the gateway
// has no record of. One instance at a time reconciles a provider (a lease
// in Store); runs are periodic or on demand, and leave a Report.
//
// The Watcher is the polling fallback for provider webhooks. A Watcher
// is told of every account change; an account left in a transitional status
// (PENDING, UNBLOCKING) is re-read from its provider with backoff until it
// leaves it, and the new state is stored and reported like any other change.
// Webhooks stay the fast path: when one moves the account on first, the
// watch ends without a provider call. What the provider reports is saved
// through the accounts service (core/accounts), which owns the merge and
// its order. After a restart, Resume finds the accounts left transitional
// in the store and watches them again.
package reconcile

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/vagate/vagate/core/accounts"
	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/store"
)

// Accounts is what the watcher reads and refreshes accounts through:
// *accounts.Service.
type Accounts interface {
	// Get returns the stored account.
	Get(ctx context.Context, tenant, id string) (*bank.Account, error)
	// Refresh re-reads the account from its provider and saves what it
	// reports (reporting the change to the service's change hook).
	Refresh(ctx context.Context, tenant, id string) (*bank.Account, error)
	// Transitional lists the stored accounts in a transitional status.
	Transitional(ctx context.Context) ([]store.AccountKey, error)
}

var _ Accounts = (*accounts.Service)(nil)

// ChangeFunc is told of an account change (before is nil for a new account).
type ChangeFunc func(ctx context.Context, before, after *bank.Account)

// Options tune a Watcher; zero values are defaults.
type Options struct {
	// Initial is the wait before the first re-read (default 1s); it doubles
	// up to Max (default 30s).
	Initial time.Duration
	Max     time.Duration
	// Attempts bounds the re-reads of one watch that find no change (default 10).
	Attempts int
	// Concurrency bounds provider reads in flight (default 4).
	Concurrency int
	Logger      *slog.Logger
	Now         func() time.Time
}

func (o *Options) withDefaults() Options {
	var r Options
	if o != nil {
		r = *o
	}
	if r.Initial <= 0 {
		r.Initial = time.Second
	}
	if r.Max <= 0 {
		r.Max = 30 * time.Second
	}
	r.Max = max(r.Max, r.Initial)
	if r.Attempts <= 0 {
		r.Attempts = 10
	}
	if r.Concurrency <= 0 {
		r.Concurrency = 4
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	return r
}

// Transitional reports whether an account in status s is expected to move on
// by itself, so that a missed webhook would leave it stale.
func Transitional(s bank.Status) bool { return s.Transitional() }

// Watcher re-reads accounts in a transitional status until they leave it.
type Watcher struct {
	accounts Accounts
	opts     Options
	sem      chan struct{}
	wake     chan struct{}

	mu       sync.Mutex
	stopped  bool
	queue    []key
	watching map[key]*watch
}

type key struct{ tenant, id string }

// watch is one account being watched; renewed is set when it is observed
// in a transitional status again while the watch runs.
type watch struct{ renewed bool }

// New returns a watcher that refreshes accounts through accounts (whose
// change hook should call Observe). Call Run to start it.
func New(accounts Accounts, opts *Options) *Watcher {
	o := opts.withDefaults()
	return &Watcher{accounts: accounts, opts: o,
		sem: make(chan struct{}, o.Concurrency), wake: make(chan struct{}, 1), watching: map[key]*watch{}}
}

// Observe is the change hook: an account now in a transitional status is
// watched (once, however often it is observed). It never blocks.
func (w *Watcher) Observe(_ context.Context, _, after *bank.Account) {
	if after == nil || !Transitional(after.Status) {
		return
	}
	w.watch(key{after.Tenant, after.ID})
}

// Resume watches every account the store holds in a transitional status:
// those an earlier run (on this instance or one that died) left watched.
// It returns the number found.
func (w *Watcher) Resume(ctx context.Context) (int, error) {
	ks, err := w.accounts.Transitional(ctx)
	if err != nil {
		return 0, err
	}
	for _, k := range ks {
		w.watch(key{k.Tenant, k.ID})
	}
	return len(ks), nil
}

// watch starts watching k, or marks a running watch renewed.
func (w *Watcher) watch(k key) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	if wt, ok := w.watching[k]; ok {
		wt.renewed = true
		return
	}
	w.watching[k] = &watch{}
	w.queue = append(w.queue, k)
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Hook returns next composed with Observe: the change is reported to next
// (if not nil), then watched.
func (w *Watcher) Hook(next ChangeFunc) ChangeFunc {
	return func(ctx context.Context, before, after *bank.Account) {
		if next != nil {
			next(ctx, before, after)
		}
		w.Observe(ctx, before, after)
	}
}

// Run watches observed accounts until ctx ends, then waits for every watch
// to stop. Accounts observed before Run are watched once it starts; after
// it returns, observations are ignored.
func (w *Watcher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		w.mu.Lock()
		q := w.queue
		w.queue = nil
		w.mu.Unlock()
		for _, k := range q {
			wg.Go(func() { w.run(ctx, k) })
		}
		select {
		case <-ctx.Done():
			w.mu.Lock()
			w.stopped = true
			w.queue = nil
			// Queued accounts no goroutine took are not watched any more.
			clear(w.watching)
			w.mu.Unlock()
			return
		case <-w.wake:
		}
	}
}

// Watching reports how many accounts are being watched.
func (w *Watcher) Watching() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.watching)
}

// beginRead clears the renewal mark before the stored account is read.
func (w *Watcher) beginRead(k key) {
	w.mu.Lock()
	if wt, ok := w.watching[k]; ok {
		wt.renewed = false
	}
	w.mu.Unlock()
}

// finish ends the watch unless it was renewed since the last read.
func (w *Watcher) finish(k key, force bool) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if wt, ok := w.watching[k]; ok && wt.renewed && !force {
		wt.renewed = false
		return false
	}
	delete(w.watching, k)
	return true
}

// run re-reads one account with backoff until it leaves its transitional
// status, its watch is exhausted, or ctx ends.
func (w *Watcher) run(ctx context.Context, k key) {
	log := w.opts.Logger.With("account_id", k.id)
	wait := w.opts.Initial
	for idle := 0; ; {
		if idle >= w.opts.Attempts {
			log.Warn("reconcile: account still transitional; giving up", "attempts", idle)
			w.finish(k, true)
			return
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			w.finish(k, true)
			return
		case <-t.C:
		}
		wait = min(wait*2, w.opts.Max)
		idle++
		w.beginRead(k)
		cur, err := w.accounts.Get(ctx, k.tenant, k.id)
		if err != nil {
			if bank.Code(err) == bank.NotFound {
				w.finish(k, true)
				return
			}
			continue
		}
		if !Transitional(cur.Status) {
			if w.finish(k, false) {
				return
			}
			idle, wait = 0, w.opts.Initial
			continue
		}
		saved, err := w.refresh(ctx, k)
		if errors.Is(err, accounts.ErrNoProvider) {
			log.Warn("reconcile: provider no longer configured", "provider", cur.Provider)
			w.finish(k, true)
			return
		}
		if err != nil {
			log.Debug("reconcile: provider read failed", "provider", cur.Provider, "code", bank.Code(err).String())
			continue
		}
		if saved.Status == cur.Status {
			continue
		}
		log.Info("reconcile: account updated from its provider", "provider", cur.Provider,
			"from", string(cur.Status), "to", string(saved.Status))
		if !Transitional(saved.Status) && w.finish(k, false) {
			return
		}
		idle, wait = 0, w.opts.Initial
	}
}

// refresh re-reads the account from its provider, within the concurrency
// bound.
func (w *Watcher) refresh(ctx context.Context, k key) (*bank.Account, error) {
	select {
	case w.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-w.sem }()
	return w.accounts.Refresh(ctx, k.tenant, k.id)
}
