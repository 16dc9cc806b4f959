// Package reconcileredis keeps reconciliation's leases, reports and open
// drifts in Redis, shared by every gateway instance.
//
// Key layout (Prefix defaults to "vagate"):
//
//	<prefix>:reconcile:lease:<name>        the lease holder, expiring with the lease
//	<prefix>:reconcile:report:<id>         report JSON (kept ReportTTL)
//	<prefix>:reconcile:latest:<provider>   the id of the provider's latest report
//	<prefix>:reconcile:open:<provider>     hash: drift fingerprint → drift JSON
//
// A lease is taken with SET NX PX, and renewed or released by scripts that
// act only for the holder, so an instance whose lease expired can never
// renew or release another's.
package reconcileredis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/reconcile"
	"github.com/vagate/vagate/core/store"
)

// Options tune the store.
type Options struct {
	// Prefix starts every key (default "vagate").
	Prefix string
	// ReportTTL is how long a report is kept (default 30 days).
	ReportTTL time.Duration
}

// Store is a reconcile.Store in Redis.
type Store struct {
	c    redis.UniversalClient
	opts Options
}

var _ reconcile.Store = (*Store)(nil)

// New returns a store over c.
func New(c redis.UniversalClient, opts *Options) *Store {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Prefix == "" {
		o.Prefix = "vagate"
	}
	if o.ReportTTL <= 0 {
		o.ReportTTL = 30 * 24 * time.Hour
	}
	return &Store{c: c, opts: o}
}

// key is a key of reconciliation's data. Every key shares one hash tag, so
// a script over a report and its provider's latest touches one Cluster
// slot; the data is small (a lease, a latest report and open drifts per
// provider, reports kept ReportTTL).
func (s *Store) key(parts ...string) string {
	k := "{" + s.opts.Prefix + ":reconcile}"
	for _, p := range parts {
		k += ":" + p
	}
	return k
}

var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`)

var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)

// AcquireLease takes the lease unless another holder has it.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	ok, err := s.c.SetNX(ctx, s.key("lease", name), holder, ttl).Result()
	if err != nil {
		return false, store.Unavailable(err)
	}
	if !ok {
		// Ours already (a repeated acquire): renew it.
		return s.RenewLease(ctx, name, holder, ttl)
	}
	return true, nil
}

// RenewLease extends holder's lease.
func (s *Store) RenewLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	n, err := renewScript.Run(ctx, s.c, []string{s.key("lease", name)}, holder, ttl.Milliseconds()).Int()
	if err != nil {
		return false, store.Unavailable(err)
	}
	return n == 1, nil
}

// ReleaseLease drops holder's lease.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	if err := releaseScript.Run(ctx, s.c, []string{s.key("lease", name)}, holder).Err(); err != nil {
		return store.Unavailable(err)
	}
	return nil
}

// saveScript stores a report and, unless the provider's latest started
// later, points the latest at it (stored as "<started unix ms>|<id>").
var saveScript = redis.NewScript(`
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local cur = redis.call('GET', KEYS[2])
if cur then
  local bar = string.find(cur, "|", 1, true)
  if bar and tonumber(string.sub(cur, 1, bar - 1)) > tonumber(ARGV[4]) then
    return 0
  end
end
redis.call('SET', KEYS[2], ARGV[4] .. "|" .. ARGV[3])
return 1`)

// SaveReport stores r and makes it the provider's latest unless that one
// started later.
func (s *Store) SaveReport(ctx context.Context, r *reconcile.Report) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	keys := []string{s.key("report", r.ID), s.key("latest", r.Provider)}
	if err := saveScript.Run(ctx, s.c, keys, b, s.opts.ReportTTL.Milliseconds(), r.ID, r.StartedAt.UnixMilli()).Err(); err != nil {
		return store.Unavailable(err)
	}
	return nil
}

// Report returns a report by id.
func (s *Store) Report(ctx context.Context, id string) (*reconcile.Report, error) {
	b, err := s.c.Get(ctx, s.key("report", id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, &bank.Error{Code: bank.NotFound, Err: fmt.Errorf("reconciliation %q not found", id)}
	}
	if err != nil {
		return nil, store.Unavailable(err)
	}
	var r reconcile.Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// LatestReport returns the provider's latest report.
func (s *Store) LatestReport(ctx context.Context, providerName string) (*reconcile.Report, error) {
	v, err := s.c.Get(ctx, s.key("latest", providerName)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, &bank.Error{Code: bank.NotFound, Err: fmt.Errorf("no reconciliation of provider %q", providerName)}
	}
	if err != nil {
		return nil, store.Unavailable(err)
	}
	_, id, _ := strings.Cut(v, "|")
	return s.Report(ctx, id)
}

// OpenDrifts returns the provider's open drifts.
func (s *Store) OpenDrifts(ctx context.Context, providerName string) (map[string]bank.Drift, error) {
	m, err := s.c.HGetAll(ctx, s.key("open", providerName)).Result()
	if err != nil {
		return nil, store.Unavailable(err)
	}
	out := make(map[string]bank.Drift, len(m))
	for fp, v := range m {
		var d bank.Drift
		if err := json.Unmarshal([]byte(v), &d); err != nil {
			return nil, err
		}
		out[fp] = d
	}
	return out, nil
}

// SetOpenDrifts replaces the provider's open drifts in one transaction.
func (s *Store) SetOpenDrifts(ctx context.Context, providerName string, open map[string]bank.Drift) error {
	k := s.key("open", providerName)
	vals := make([]any, 0, 2*len(open))
	for fp, d := range open {
		b, err := json.Marshal(d)
		if err != nil {
			return err
		}
		vals = append(vals, fp, b)
	}
	_, err := s.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, k)
		if len(vals) > 0 {
			p.HSet(ctx, k, vals...)
		}
		return nil
	})
	if err != nil {
		return store.Unavailable(err)
	}
	return nil
}
