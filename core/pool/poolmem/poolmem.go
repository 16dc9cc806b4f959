// Package poolmem keeps pools in one process: the embedded default's
// pool.Store. It passes the same suite as the Redis store (pooltest).
package poolmem

import (
	"context"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vagate/vagate/core/pool"
)

// Options tune the store.
type Options struct {
	// Now is the store's clock (default time.Now).
	Now func() time.Time
}

// Store is a pool.Store in memory; one mutex guards every pool.
type Store struct {
	mu    sync.Mutex
	now   func() time.Time
	pools map[pool.Key]*state
}

var _ pool.Store = (*Store)(nil)

// New returns an empty store.
func New(opts *Options) *Store {
	s := &Store{now: time.Now, pools: map[pool.Key]*state{}}
	if opts != nil && opts.Now != nil {
		s.now = opts.Now
	}
	return s
}

type state struct {
	avail    []string
	accounts map[string]pool.AccountState
	claims   map[string]*pool.Claim
	done     map[string]time.Time // allocated claims by finish time
	settings pool.Settings
	claimed  int
	lock     *pool.Replenish
	lockEnd  time.Time
}

// get returns the pool's state, creating it; the caller holds s.mu.
func (s *Store) get(k pool.Key) *state {
	p := s.pools[k]
	if p == nil {
		p = &state{accounts: map[string]pool.AccountState{}, claims: map[string]*pool.Claim{}, done: map[string]time.Time{}}
		s.pools[k] = p
	}
	return p
}

// Add makes new accounts available.
func (s *Store) Add(_ context.Context, k pool.Key, accounts ...string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, n := s.get(k), 0
	for _, a := range accounts {
		if _, ok := p.accounts[a]; ok {
			continue
		}
		p.accounts[a] = pool.AccountAvailable
		p.avail = append(p.avail, a)
		n++
	}
	return n, nil
}

// Take runs a claim.
func (s *Store) Take(_ context.Context, k pool.Key, c *pool.Claim, lease time.Duration) (*pool.TakeResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now, p := s.now(), s.get(k)
	if cur, ok := p.claims[c.ID]; ok {
		switch {
		case cur.Fingerprint != c.Fingerprint:
			return &pool.TakeResult{Outcome: pool.TakeReused, Claim: *cur}, nil
		case cur.State == pool.Allocated:
			return &pool.TakeResult{Outcome: pool.TakeAllocated, Claim: *cur}, nil
		case (cur.State == pool.Claiming || cur.State == pool.Resolving) && cur.Until.After(now):
			return &pool.TakeResult{Outcome: pool.TakeBusy, Claim: *cur}, nil
		}
		cur.State, cur.Token, cur.Until = pool.Claiming, c.Token, now.Add(lease)
		return &pool.TakeResult{Outcome: pool.TakeResumed, Claim: *cur}, nil
	}
	for len(p.avail) > 0 {
		a := p.avail[0]
		p.avail = p.avail[1:]
		if p.accounts[a] != pool.AccountAvailable {
			continue
		}
		p.accounts[a] = pool.AccountClaimed
		cl := &pool.Claim{ID: c.ID, Account: a, State: pool.Claiming, Fingerprint: c.Fingerprint, Holder: c.Holder,
			Token: c.Token, Until: now.Add(lease)}
		p.claims[c.ID] = cl
		return &pool.TakeResult{Outcome: pool.TakeNew, Claim: *cl, Available: len(p.avail), LowWatermark: p.settings.LowWatermark}, nil
	}
	return &pool.TakeResult{Outcome: pool.TakeEmpty}, nil
}

// held returns the claim if token holds it and it is not allocated.
func held(p *state, claimID, token string) *pool.Claim {
	c, ok := p.claims[claimID]
	if !ok || c.Token != token || c.State == pool.Allocated {
		return nil
	}
	return c
}

// Finish records a claim allocated.
func (s *Store) Finish(_ context.Context, k pool.Key, claimID, account string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.get(k)
	c, ok := p.claims[claimID]
	if !ok || c.Account != account {
		return false, nil
	}
	if c.State != pool.Allocated {
		now := s.now()
		c.State, c.Until = pool.Allocated, now
		p.accounts[account] = pool.AccountAllocated
		p.done[claimID] = now
		p.claimed++
	}
	return true, nil
}

// Release puts the claim's account back at the head of the pool.
func (s *Store) Release(_ context.Context, k pool.Key, claimID, token string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.get(k)
	c := held(p, claimID, token)
	if c == nil {
		return false, nil
	}
	delete(p.claims, claimID)
	p.accounts[c.Account] = pool.AccountAvailable
	p.avail = append([]string{c.Account}, p.avail...)
	return true, nil
}

// Quarantine marks the claim's outcome unknown.
func (s *Store) Quarantine(_ context.Context, k pool.Key, claimID, token string, after time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := held(s.get(k), claimID, token)
	if c == nil {
		return false, nil
	}
	c.State, c.Until = pool.Quarantined, s.now().Add(after)
	return true, nil
}

// Abandon forgets the claim and marks its account gone.
func (s *Store) Abandon(_ context.Context, k pool.Key, claimID, token string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.get(k)
	c := held(p, claimID, token)
	if c == nil {
		return false, nil
	}
	delete(p.claims, claimID)
	p.accounts[c.Account] = pool.AccountGone
	return true, nil
}

// due reports whether an unfinished claim's time has come.
func due(c *pool.Claim, now time.Time) bool {
	return c.State != pool.Allocated && !c.Until.After(now)
}

// Recover holds a claim due for resolution.
func (s *Store) Recover(_ context.Context, k pool.Key, claimID, token string, lease time.Duration) (*pool.Claim, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	c, ok := s.get(k).claims[claimID]
	if !ok || !due(c, now) {
		return nil, nil
	}
	if c.State != pool.Quarantined {
		// Its holder's time ran out: its outcome is as unknown as a
		// quarantined one's.
		c.State = pool.Quarantined
	}
	out := *c
	out.State, out.Token, out.Until = pool.Resolving, token, now.Add(lease)
	c.Token, c.Until = token, out.Until
	c.State = pool.Resolving
	return &out, nil
}

// Due lists unfinished claims whose time has come, earliest first.
func (s *Store) Due(_ context.Context, k pool.Key, limit int) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var cs []*pool.Claim
	for _, c := range s.get(k).claims {
		if due(c, now) {
			cs = append(cs, c)
		}
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].Until.Before(cs[j].Until) })
	var out []string
	for _, c := range cs {
		if len(out) == limit {
			break
		}
		out = append(out, c.ID)
	}
	return out, nil
}

// Withdraw takes an available account out of the pool.
func (s *Store) Withdraw(_ context.Context, k pool.Key, account string) (pool.AccountState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.get(k)
	st := p.accounts[account]
	if st == pool.AccountAvailable {
		p.accounts[account] = pool.AccountWithdrawn
		if i := slices.Index(p.avail, account); i >= 0 {
			p.avail = slices.Delete(p.avail, i, i+1)
		}
	}
	return st, nil
}

// Restore makes a withdrawn account available again.
func (s *Store) Restore(_ context.Context, k pool.Key, account string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.get(k)
	if p.accounts[account] != pool.AccountWithdrawn {
		return false, nil
	}
	p.accounts[account] = pool.AccountAvailable
	p.avail = append([]string{account}, p.avail...)
	return true, nil
}

// Stats returns the pool's state.
func (s *Store) Stats(_ context.Context, k pool.Key) (*pool.Stats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.get(k)
	out := &pool.Stats{Settings: p.settings, Available: len(p.avail), Claimed: p.claimed}
	var quarantined []string
	for _, c := range p.claims {
		if c.State == pool.Allocated {
			continue
		}
		out.Claiming++
		if c.State == pool.Quarantined || c.State == pool.Resolving {
			out.Quarantined++
			quarantined = append(quarantined, c.Account)
		}
	}
	slices.Sort(quarantined)
	out.QuarantinedAccounts = quarantined[:min(len(quarantined), 100)]
	if p.lock != nil && s.now().Before(p.lockEnd) {
		r := *p.lock
		out.Replenish = &r
	}
	return out, nil
}

// Configure sets the pool's settings.
func (s *Store) Configure(_ context.Context, k pool.Key, set pool.Settings, force bool) (pool.Settings, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.get(k)
	if !force && p.settings.Source == "api" {
		return p.settings, nil
	}
	p.settings = set
	return set, nil
}

// Pools lists every pool, sorted.
func (s *Store) Pools(context.Context) ([]pool.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]pool.Key, 0, len(s.pools))
	for k := range s.pools {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b pool.Key) int {
		return strings.Compare(a.Tenant+"\n"+a.Provider+"\n"+a.Currency, b.Tenant+"\n"+b.Provider+"\n"+b.Currency)
	})
	return out, nil
}

// Lock makes r the pool's replenish unless one is running.
func (s *Store) Lock(_ context.Context, k pool.Key, r pool.Replenish, ttl time.Duration) (pool.Replenish, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, now := s.get(k), s.now()
	if p.lock != nil && now.Before(p.lockEnd) {
		return *p.lock, false, nil
	}
	r.Started = now
	p.lock, p.lockEnd = &r, now.Add(ttl)
	return r, true, nil
}

// Unlock ends the pool's replenish if it is jobID's.
func (s *Store) Unlock(_ context.Context, k pool.Key, jobID string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.get(k)
	if p.lock == nil || p.lock.JobID != jobID || !s.now().Before(p.lockEnd) {
		return false, nil
	}
	p.lock = nil
	return true, nil
}

// Trim forgets claims allocated more than age ago.
func (s *Store) Trim(_ context.Context, k pool.Key, age time.Duration, limit int) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, cut, n := s.get(k), s.now().Add(-age), 0
	for id, at := range p.done {
		if n == limit {
			break
		}
		if at.After(cut) {
			continue
		}
		if c, ok := p.claims[id]; ok {
			delete(p.accounts, c.Account)
			delete(p.claims, id)
		}
		delete(p.done, id)
		n++
	}
	return n, nil
}
