// Package reconcile is the polling fallback for provider webhooks. A Watcher
// is told of every account change; an account left in a transitional status
// (PENDING, UNBLOCKING) is re-read from its provider with backoff until it
// leaves it, and the new state is stored and reported like any other change.
// Webhooks stay the fast path: when one moves the account on first, the
// watch ends without a provider call.
package reconcile

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/store"
)

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
func Transitional(s bank.Status) bool {
	return s == bank.StatusPending || s == bank.StatusUnblocking
}

// Watcher re-reads accounts in a transitional status until they leave it.
type Watcher struct {
	reg      *gateway.Registry
	accounts store.Accounts
	changed  ChangeFunc
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

// New returns a watcher that stores through accounts and reports the
// changes it makes to changed (which may be nil). Call Run to start it.
func New(reg *gateway.Registry, accounts store.Accounts, changed ChangeFunc, opts *Options) *Watcher {
	o := opts.withDefaults()
	return &Watcher{reg: reg, accounts: accounts, changed: changed, opts: o,
		sem: make(chan struct{}, o.Concurrency), wake: make(chan struct{}, 1), watching: map[key]*watch{}}
}

// Observe is the change hook: an account now in a transitional status is
// watched (once, however often it is observed). It never blocks.
func (w *Watcher) Observe(_ context.Context, _, after *bank.Account) {
	if after == nil || !Transitional(after.Status) {
		return
	}
	k := key{after.Tenant, after.ID}
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

var errMoved = errors.New("the account moved on while the provider was read")

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
		cur, err := w.accounts.GetAccount(ctx, k.tenant, k.id)
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
		p, ok := w.reg.Get(cur.Provider)
		if !ok {
			log.Warn("reconcile: provider no longer configured", "provider", cur.Provider)
			w.finish(k, true)
			return
		}
		fresh, err := w.read(ctx, p, cur.ProviderAccountID)
		if err != nil {
			log.Debug("reconcile: provider read failed", "provider", cur.Provider, "code", bank.Code(err).String())
			continue
		}
		if fresh.Status == cur.Status {
			continue
		}
		var before *bank.Account
		saved, err := w.accounts.UpdateAccount(ctx, k.tenant, k.id, func(x *bank.Account) error {
			if x.Status != cur.Status {
				return errMoved
			}
			before = x.Clone()
			merge(x, fresh, w.opts.Now().UTC())
			return nil
		})
		if err == nil {
			log.Info("reconcile: account updated from its provider", "provider", cur.Provider,
				"from", string(before.Status), "to", string(saved.Status))
			if w.changed != nil {
				w.changed(ctx, before, saved)
			}
			if !Transitional(saved.Status) && w.finish(k, false) {
				return
			}
		}
		idle, wait = 0, w.opts.Initial
	}
}

// read asks the provider, within the concurrency bound.
func (w *Watcher) read(ctx context.Context, p *gateway.Provider, ref string) (*bank.Account, error) {
	select {
	case w.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-w.sem }()
	return p.GetAccount(ctx, ref)
}

// merge copies what the provider reports onto the stored account, keeping
// the gateway's own fields, as core/httpapi does for provider answers. The
// stored updatedAt never goes back: it becomes the provider's updatedAt
// when later (so older webhooks are recognised as stale), else now.
func merge(stored, fresh *bank.Account, now time.Time) {
	wasUnallocated := stored.Status == bank.StatusUnallocated
	stored.Status, stored.ProviderStatus = fresh.Status, fresh.ProviderStatus
	stored.AccountHolderName, stored.AccountName = fresh.AccountHolderName, fresh.AccountName
	stored.DOB, stored.NativeLanguageName = fresh.DOB, fresh.NativeLanguageName
	if fresh.ClientReference != "" { // a provider that keeps none leaves the client's
		stored.ClientReference = fresh.ClientReference
	}
	if fresh.Currency != "" {
		stored.Currency = fresh.Currency
	}
	if fresh.BankDetails != nil {
		stored.BankDetails = fresh.BankDetails
	}
	if fresh.Balance != nil {
		stored.Balance = fresh.Balance
	}
	stored.Raw = fresh.Raw
	at := fresh.UpdatedAt
	if at.IsZero() {
		at = now
	}
	if at.After(stored.UpdatedAt) {
		stored.UpdatedAt = at.UTC()
	}
	if wasUnallocated && fresh.Status != bank.StatusUnallocated && stored.AllocatedAt == nil {
		t := now
		stored.AllocatedAt = &t
	}
}
