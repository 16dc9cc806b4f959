package idempotency

import (
	"context"
	"sync"
	"time"
)

// Memory is a Store for one process: a mutex-guarded map whose expired
// entries are checked on access and swept out periodically by Begin.
type Memory struct {
	opts Options
	now  func() time.Time

	mu        sync.Mutex
	m         map[memKey]*memEntry
	lastSweep time.Time
}

var _ Store = (*Memory)(nil)

type memKey struct{ scope, key string }

type memEntry struct {
	fingerprint string
	token       string    // owner of an unfinished claim
	record      *Record   // set once completed
	expires     time.Time // claim or record expiry
}

// NewMemory returns an empty in-memory Store.
func NewMemory(opts *Options) *Memory {
	return &Memory{opts: opts.withDefaults(), now: time.Now, m: make(map[memKey]*memEntry)}
}

// get returns the live entry for k, dropping it if it has expired. mu is held.
func (s *Memory) get(k memKey, now time.Time) *memEntry {
	e := s.m[k]
	if e != nil && !now.Before(e.expires) {
		delete(s.m, k)
		return nil
	}
	return e
}

// sweep drops every expired entry at most once per ClaimTTL. mu is held.
func (s *Memory) sweep(now time.Time) {
	if now.Sub(s.lastSweep) < s.opts.ClaimTTL {
		return
	}
	s.lastSweep = now
	for k, e := range s.m {
		if !now.Before(e.expires) {
			delete(s.m, k)
		}
	}
}

// Begin claims (scope, key) or reports why it cannot; see Store.
func (s *Memory) Begin(ctx context.Context, scope, key, fingerprint string) (*Claim, *Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	now := s.now()
	k := memKey{scope, key}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(now)
	if e := s.get(k, now); e != nil {
		switch {
		case e.fingerprint != fingerprint:
			return nil, nil, ErrFingerprintMismatch
		case e.record != nil:
			return nil, e.record.clone(), nil
		default:
			return nil, nil, ErrInFlight
		}
	}
	c := &Claim{Scope: scope, Key: key, Fingerprint: fingerprint, token: newToken()}
	s.m[k] = &memEntry{fingerprint: fingerprint, token: c.token, expires: now.Add(s.opts.ClaimTTL)}
	return c, nil, nil
}

// owned returns the entry of c if c still owns it. mu is held.
func (s *Memory) owned(c *Claim, now time.Time) (memKey, *memEntry, error) {
	if c == nil {
		return memKey{}, nil, errNilClaim
	}
	k := memKey{c.Scope, c.Key}
	e := s.get(k, now)
	if e == nil || e.record != nil || e.token != c.token {
		return k, nil, ErrClaimLost
	}
	return k, e, nil
}

// Complete stores rec under c's key for TTL if c still owns it.
func (s *Memory) Complete(ctx context.Context, c *Claim, rec *Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	_, e, err := s.owned(c, now)
	if err != nil {
		return err
	}
	e.record = newRecord(c, rec, now)
	e.token = ""
	e.expires = now.Add(s.opts.TTL)
	return nil
}

// Release drops c if it still owns its key.
func (s *Memory) Release(ctx context.Context, c *Claim) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	k, _, err := s.owned(c, now)
	if err != nil {
		return err
	}
	delete(s.m, k)
	return nil
}

// Len returns the number of entries held, expired ones included until swept.
func (s *Memory) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}
