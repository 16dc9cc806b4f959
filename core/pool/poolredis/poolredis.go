// Package poolredis keeps pools in Redis, shared by every gateway instance.
//
// Key layout (Prefix defaults to "vagate"). Every key of one pool carries
// the pool's own hash tag, so each operation is one Lua script on one
// Cluster slot, and pools spread over the cluster:
//
//	{<prefix>:pool:<tenant>:<provider>:<currency>}:avail   list of available account ids, next first
//	{…}:acct     hash account id → its state in the pool (available, claimed, allocated, withdrawn, gone)
//	{…}:claims   hash claim id → "state|account|fingerprint|holder|token|until ms"
//	{…}:due      sorted set of unfinished claim ids by the time their hold ends (ms)
//	{…}:quar     set of claim ids whose outcome is unknown (quarantined, or being resolved)
//	{…}:done     sorted set of allocated claim ids by finish time (ms), for trimming
//	{…}:meta     hash target, low, source, claimed
//	{…}:lock     "jobId|count|started ms" of the running replenish, with an expiry
//	<prefix>:pools   set of pool keys as JSON [tenant, provider, currency]
//
// The parts of a tag are escaped (% { } : as %25 %7B %7D %3A) so no two pools
// share one. Times come from the Redis server's clock (TIME), so instances
// with skewed clocks agree on leases. A claim takes an account with LPOP and
// marks it claimed in the same script: two claims can never take one
// account, whichever instances run them.
package poolredis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vagate/vagate/core/pool"
	"github.com/vagate/vagate/core/store"
)

// Options tune the store.
type Options struct {
	// Prefix starts every key (default "vagate").
	Prefix string
}

// Store is a pool.Store in Redis.
type Store struct {
	c          redis.UniversalClient
	prefix     string
	registered sync.Map // pool.Key → true once in the pools set
}

var _ pool.Store = (*Store)(nil)

// New returns a store over c.
func New(c redis.UniversalClient, opts *Options) *Store {
	s := &Store{c: c, prefix: "vagate"}
	if opts != nil && opts.Prefix != "" {
		s.prefix = opts.Prefix
	}
	return s
}

var tagEscaper = strings.NewReplacer("%", "%25", "{", "%7B", "}", "%7D", ":", "%3A")

// keys are a pool's keys, in the order every script takes them.
func (s *Store) keys(k pool.Key) []string {
	tag := "{" + s.prefix + ":pool:" + tagEscaper.Replace(k.Tenant) + ":" + tagEscaper.Replace(k.Provider) + ":" +
		tagEscaper.Replace(k.Currency) + "}"
	return []string{tag + ":avail", tag + ":acct", tag + ":claims", tag + ":due", tag + ":quar", tag + ":done", tag + ":meta", tag + ":lock"}
}

func (s *Store) poolsKey() string { return s.prefix + ":pools" }

// prelude is shared by every script: the server's clock in ms, and the claim record codec.
const prelude = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function parse(s)
  local f, i = {}, 1
  while true do
    local j = string.find(s, '|', i, true)
    if not j then f[#f + 1] = string.sub(s, i); break end
    f[#f + 1] = string.sub(s, i, j - 1)
    i = j + 1
  end
  return {state = f[1], account = f[2], fp = f[3], holder = f[4], token = f[5], untilMs = tonumber(f[6])}
end
local function enc(c)
  return table.concat({c.state, c.account, c.fp, c.holder, c.token, string.format('%d', c.untilMs)}, '|')
end
local function held(cid, token)
  local cur = redis.call('HGET', KEYS[3], cid)
  if not cur then return nil end
  local c = parse(cur)
  if c.token ~= token or c.state == 'allocated' then return nil end
  return c
end
`

func script(body string) *redis.Script { return redis.NewScript(prelude + body) }

// ARGV: account ids. Returns how many were added.
var addScript = script(`
local n = 0
for _, id in ipairs(ARGV) do
  if redis.call('HSETNX', KEYS[2], id, 'available') == 1 then
    redis.call('RPUSH', KEYS[1], id)
    n = n + 1
  end
end
return n`)

// ARGV: claim id, fingerprint, holder, token, lease ms.
var takeScript = script(`
local now = now_ms()
local cur = redis.call('HGET', KEYS[3], ARGV[1])
if cur then
  local c = parse(cur)
  if c.fp ~= ARGV[2] then return {'reused', cur} end
  if c.state == 'allocated' then return {'allocated', cur} end
  if (c.state == 'claiming' or c.state == 'resolving') and c.untilMs > now then return {'busy', cur} end
  c.state, c.token, c.untilMs = 'claiming', ARGV[4], now + tonumber(ARGV[5])
  local rec = enc(c)
  redis.call('HSET', KEYS[3], ARGV[1], rec)
  redis.call('ZADD', KEYS[4], c.untilMs, ARGV[1])
  redis.call('SREM', KEYS[5], ARGV[1])
  return {'resumed', rec}
end
while true do
  local id = redis.call('LPOP', KEYS[1])
  if not id then return {'empty', ''} end
  if redis.call('HGET', KEYS[2], id) == 'available' then
    redis.call('HSET', KEYS[2], id, 'claimed')
    local c = {state = 'claiming', account = id, fp = ARGV[2], holder = ARGV[3], token = ARGV[4], untilMs = now + tonumber(ARGV[5])}
    local rec = enc(c)
    redis.call('HSET', KEYS[3], ARGV[1], rec)
    redis.call('ZADD', KEYS[4], c.untilMs, ARGV[1])
    return {'taken', rec, redis.call('LLEN', KEYS[1]), tonumber(redis.call('HGET', KEYS[7], 'low') or '0')}
  end
end`)

// ARGV: claim id, account.
var finishScript = script(`
local cur = redis.call('HGET', KEYS[3], ARGV[1])
if not cur then return 0 end
local c = parse(cur)
if c.account ~= ARGV[2] then return 0 end
if c.state == 'allocated' then return 1 end
local now = now_ms()
c.state, c.untilMs = 'allocated', now
redis.call('HSET', KEYS[3], ARGV[1], enc(c))
redis.call('HSET', KEYS[2], c.account, 'allocated')
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('SREM', KEYS[5], ARGV[1])
redis.call('ZADD', KEYS[6], now, ARGV[1])
redis.call('HINCRBY', KEYS[7], 'claimed', 1)
return 1`)

// ARGV: claim id, token.
var releaseScript = script(`
local c = held(ARGV[1], ARGV[2])
if not c then return 0 end
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('SREM', KEYS[5], ARGV[1])
redis.call('HSET', KEYS[2], c.account, 'available')
redis.call('LPUSH', KEYS[1], c.account)
return 1`)

// ARGV: claim id, token, after ms.
var quarantineScript = script(`
local c = held(ARGV[1], ARGV[2])
if not c then return 0 end
c.state, c.untilMs = 'quarantined', now_ms() + tonumber(ARGV[3])
redis.call('HSET', KEYS[3], ARGV[1], enc(c))
redis.call('ZADD', KEYS[4], c.untilMs, ARGV[1])
redis.call('SADD', KEYS[5], ARGV[1])
return 1`)

// ARGV: claim id, token.
var abandonScript = script(`
local c = held(ARGV[1], ARGV[2])
if not c then return 0 end
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('SREM', KEYS[5], ARGV[1])
redis.call('HSET', KEYS[2], c.account, 'gone')
return 1`)

// ARGV: claim id, token, lease ms. Returns the held claim or false.
var recoverScript = script(`
local cur = redis.call('HGET', KEYS[3], ARGV[1])
if not cur then return false end
local c = parse(cur)
local now = now_ms()
if c.state == 'allocated' or c.untilMs > now then return false end
c.state, c.token, c.untilMs = 'resolving', ARGV[2], now + tonumber(ARGV[3])
local rec = enc(c)
redis.call('HSET', KEYS[3], ARGV[1], rec)
redis.call('ZADD', KEYS[4], c.untilMs, ARGV[1])
redis.call('SADD', KEYS[5], ARGV[1])
return rec`)

// ARGV: limit.
var dueScript = script(`
return redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now_ms(), 'LIMIT', 0, tonumber(ARGV[1]))`)

// ARGV: account. Returns the state it was in.
var withdrawScript = script(`
local st = redis.call('HGET', KEYS[2], ARGV[1])
if st == 'available' then
  redis.call('LREM', KEYS[1], 1, ARGV[1])
  redis.call('HSET', KEYS[2], ARGV[1], 'withdrawn')
end
return st or ''`)

// ARGV: account.
var restoreScript = script(`
if redis.call('HGET', KEYS[2], ARGV[1]) ~= 'withdrawn' then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], 'available')
redis.call('LPUSH', KEYS[1], ARGV[1])
return 1`)

// Returns available, claiming, quarantined, then meta claimed, target,
// low, source, the lock, and up to 100 quarantined accounts.
var statsScript = script(`
local meta = redis.call('HMGET', KEYS[7], 'claimed', 'target', 'low', 'source')
local out = {redis.call('LLEN', KEYS[1]), redis.call('ZCARD', KEYS[4]), redis.call('SCARD', KEYS[5]),
  meta[1] or '0', meta[2] or '0', meta[3] or '0', meta[4] or '', redis.call('GET', KEYS[8]) or ''}
local ids = redis.call('SRANDMEMBER', KEYS[5], 100)
if #ids > 0 then
  for _, rec in ipairs(redis.call('HMGET', KEYS[3], unpack(ids))) do
    if rec then out[#out + 1] = parse(rec).account end
  end
end
return out`)

// ARGV: target, low, source, force ("1"). Returns the settings in effect.
var configureScript = script(`
local cur = redis.call('HMGET', KEYS[7], 'target', 'low', 'source')
if ARGV[4] ~= '1' and cur[3] == 'api' then return {cur[1] or '0', cur[2] or '0', cur[3]} end
redis.call('HSET', KEYS[7], 'target', ARGV[1], 'low', ARGV[2], 'source', ARGV[3])
return {ARGV[1], ARGV[2], ARGV[3]}`)

// ARGV: job id, count, ttl ms. Returns {1, lock} when taken, {0, lock} when held.
var lockScript = script(`
local cur = redis.call('GET', KEYS[8])
if cur then return {0, cur} end
local v = ARGV[1] .. '|' .. ARGV[2] .. '|' .. string.format('%d', now_ms())
redis.call('SET', KEYS[8], v, 'PX', tonumber(ARGV[3]))
return {1, v}`)

// ARGV: job id.
var unlockScript = script(`
local cur = redis.call('GET', KEYS[8])
if not cur or string.sub(cur, 1, #ARGV[1] + 1) ~= ARGV[1] .. '|' then return 0 end
redis.call('DEL', KEYS[8])
return 1`)

// ARGV: age ms, limit.
var trimScript = script(`
local ids = redis.call('ZRANGEBYSCORE', KEYS[6], '-inf', now_ms() - tonumber(ARGV[1]), 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do
  local cur = redis.call('HGET', KEYS[3], id)
  if cur then
    redis.call('HDEL', KEYS[2], parse(cur).account)
    redis.call('HDEL', KEYS[3], id)
  end
  redis.call('ZREM', KEYS[6], id)
end
return #ids`)

// run runs a script on the pool's keys; a Redis failure is a store.Unavailable error.
func (s *Store) run(ctx context.Context, sc *redis.Script, k pool.Key, args ...any) (any, error) {
	v, err := sc.Run(ctx, s.c, s.keys(k), args...).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, store.Unavailable(err)
	}
	return v, nil
}

func (s *Store) runInt(ctx context.Context, sc *redis.Script, k pool.Key, args ...any) (int, error) {
	v, err := s.run(ctx, sc, k, args...)
	if err != nil {
		return 0, err
	}
	n, _ := v.(int64)
	return int(n), nil
}

// register adds the pool to the set of pools once per process.
func (s *Store) register(ctx context.Context, k pool.Key) error {
	if _, ok := s.registered.Load(k); ok {
		return nil
	}
	b, _ := json.Marshal([]string{k.Tenant, k.Provider, k.Currency})
	if err := s.c.SAdd(ctx, s.poolsKey(), b).Err(); err != nil {
		return store.Unavailable(err)
	}
	s.registered.Store(k, true)
	return nil
}

func ms(d time.Duration) int64 { return max(d.Milliseconds(), 1) }

// Add makes new accounts available.
func (s *Store) Add(ctx context.Context, k pool.Key, accounts ...string) (int, error) {
	if len(accounts) == 0 {
		return 0, nil
	}
	for _, a := range accounts {
		if strings.Contains(a, "|") || a == "" {
			return 0, fmt.Errorf("poolredis: account id %q cannot be pooled", a)
		}
	}
	if err := s.register(ctx, k); err != nil {
		return 0, err
	}
	args := make([]any, len(accounts))
	for i, a := range accounts {
		args[i] = a
	}
	return s.runInt(ctx, addScript, k, args...)
}

// decodeClaim reads a claim record.
func decodeClaim(id, rec string) (pool.Claim, error) {
	f := strings.Split(rec, "|")
	if len(f) != 6 {
		return pool.Claim{}, fmt.Errorf("poolredis: claim %s: malformed record", id)
	}
	until, err := strconv.ParseInt(f[5], 10, 64)
	if err != nil {
		return pool.Claim{}, fmt.Errorf("poolredis: claim %s: malformed time: %w", id, err)
	}
	return pool.Claim{ID: id, State: pool.ClaimState(f[0]), Account: f[1], Fingerprint: f[2], Holder: f[3], Token: f[4],
		Until: time.UnixMilli(until)}, nil
}

var takeOutcomes = map[string]pool.TakeOutcome{"empty": pool.TakeEmpty, "taken": pool.TakeNew, "resumed": pool.TakeResumed,
	"allocated": pool.TakeAllocated, "busy": pool.TakeBusy, "reused": pool.TakeReused}

// Take runs a claim.
func (s *Store) Take(ctx context.Context, k pool.Key, c *pool.Claim, lease time.Duration) (*pool.TakeResult, error) {
	for _, f := range []string{c.ID, c.Fingerprint, c.Holder, c.Token} {
		if strings.Contains(f, "|") {
			return nil, fmt.Errorf("poolredis: claim %s: a field holds '|'", c.ID)
		}
	}
	v, err := s.run(ctx, takeScript, k, c.ID, c.Fingerprint, c.Holder, c.Token, ms(lease))
	if err != nil {
		return nil, err
	}
	vs, _ := v.([]any)
	if len(vs) < 2 {
		return nil, fmt.Errorf("poolredis: take: unexpected answer %v", v)
	}
	word, _ := vs[0].(string)
	out := &pool.TakeResult{Outcome: takeOutcomes[word]}
	if rec, _ := vs[1].(string); rec != "" {
		if out.Claim, err = decodeClaim(c.ID, rec); err != nil {
			return nil, err
		}
	}
	if len(vs) > 3 {
		out.Available, out.LowWatermark = atoi(vs[2]), atoi(vs[3])
	}
	return out, nil
}

func ok(n int, err error) (bool, error) { return n == 1, err }

// Finish records a claim allocated.
func (s *Store) Finish(ctx context.Context, k pool.Key, claimID, account string) (bool, error) {
	return ok(s.runInt(ctx, finishScript, k, claimID, account))
}

// Release puts the claim's account back at the head of the pool.
func (s *Store) Release(ctx context.Context, k pool.Key, claimID, token string) (bool, error) {
	return ok(s.runInt(ctx, releaseScript, k, claimID, token))
}

// Quarantine marks the claim's outcome unknown.
func (s *Store) Quarantine(ctx context.Context, k pool.Key, claimID, token string, after time.Duration) (bool, error) {
	return ok(s.runInt(ctx, quarantineScript, k, claimID, token, ms(after)))
}

// Abandon forgets the claim and marks its account gone.
func (s *Store) Abandon(ctx context.Context, k pool.Key, claimID, token string) (bool, error) {
	return ok(s.runInt(ctx, abandonScript, k, claimID, token))
}

// Recover holds a claim due for resolution.
func (s *Store) Recover(ctx context.Context, k pool.Key, claimID, token string, lease time.Duration) (*pool.Claim, error) {
	v, err := s.run(ctx, recoverScript, k, claimID, token, ms(lease))
	if err != nil {
		return nil, err
	}
	rec, _ := v.(string)
	if rec == "" {
		return nil, nil
	}
	c, err := decodeClaim(claimID, rec)
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// Due lists unfinished claims whose time has come, earliest first.
func (s *Store) Due(ctx context.Context, k pool.Key, limit int) ([]string, error) {
	v, err := s.run(ctx, dueScript, k, limit)
	if err != nil {
		return nil, err
	}
	vs, _ := v.([]any)
	out := make([]string, 0, len(vs))
	for _, x := range vs {
		if id, ok := x.(string); ok {
			out = append(out, id)
		}
	}
	return out, nil
}

// Withdraw takes an available account out of the pool.
func (s *Store) Withdraw(ctx context.Context, k pool.Key, account string) (pool.AccountState, error) {
	v, err := s.run(ctx, withdrawScript, k, account)
	if err != nil {
		return "", err
	}
	st, _ := v.(string)
	return pool.AccountState(st), nil
}

// Restore makes a withdrawn account available again.
func (s *Store) Restore(ctx context.Context, k pool.Key, account string) (bool, error) {
	return ok(s.runInt(ctx, restoreScript, k, account))
}

func atoi(v any) int {
	switch x := v.(type) {
	case int64:
		return int(x)
	case string:
		n, _ := strconv.Atoi(x)
		return n
	}
	return 0
}

// Stats returns the pool's state.
func (s *Store) Stats(ctx context.Context, k pool.Key) (*pool.Stats, error) {
	v, err := s.run(ctx, statsScript, k)
	if err != nil {
		return nil, err
	}
	vs, _ := v.([]any)
	if len(vs) < 8 {
		return nil, fmt.Errorf("poolredis: stats: unexpected answer %v", v)
	}
	source, _ := vs[6].(string)
	out := &pool.Stats{Available: atoi(vs[0]), Claiming: atoi(vs[1]), Quarantined: atoi(vs[2]), Claimed: atoi(vs[3]),
		Settings: pool.Settings{Target: atoi(vs[4]), LowWatermark: atoi(vs[5]), Source: source}}
	if lock, _ := vs[7].(string); lock != "" {
		r, err := decodeLock(lock)
		if err != nil {
			return nil, err
		}
		out.Replenish = &r
	}
	for _, x := range vs[8:] {
		if a, ok := x.(string); ok {
			out.QuarantinedAccounts = append(out.QuarantinedAccounts, a)
		}
	}
	slices.Sort(out.QuarantinedAccounts)
	return out, nil
}

func decodeLock(v string) (pool.Replenish, error) {
	f := strings.Split(v, "|")
	if len(f) != 3 {
		return pool.Replenish{}, fmt.Errorf("poolredis: malformed replenish lock %q", v)
	}
	n, _ := strconv.Atoi(f[1])
	at, _ := strconv.ParseInt(f[2], 10, 64)
	return pool.Replenish{JobID: f[0], Count: n, Started: time.UnixMilli(at)}, nil
}

// Configure sets the pool's settings.
func (s *Store) Configure(ctx context.Context, k pool.Key, set pool.Settings, force bool) (pool.Settings, error) {
	if err := s.register(ctx, k); err != nil {
		return pool.Settings{}, err
	}
	f := "0"
	if force {
		f = "1"
	}
	v, err := s.run(ctx, configureScript, k, set.Target, set.LowWatermark, set.Source, f)
	if err != nil {
		return pool.Settings{}, err
	}
	vs, _ := v.([]any)
	if len(vs) != 3 {
		return pool.Settings{}, fmt.Errorf("poolredis: configure: unexpected answer %v", v)
	}
	source, _ := vs[2].(string)
	return pool.Settings{Target: atoi(vs[0]), LowWatermark: atoi(vs[1]), Source: source}, nil
}

// Pools lists every pool, sorted.
func (s *Store) Pools(ctx context.Context) ([]pool.Key, error) {
	ms, err := s.c.SMembers(ctx, s.poolsKey()).Result()
	if err != nil {
		return nil, store.Unavailable(err)
	}
	out := make([]pool.Key, 0, len(ms))
	for _, m := range ms {
		var f []string
		if json.Unmarshal([]byte(m), &f) != nil || len(f) != 3 {
			continue
		}
		out = append(out, pool.Key{Tenant: f[0], Provider: f[1], Currency: f[2]})
	}
	slices.SortFunc(out, func(a, b pool.Key) int {
		return strings.Compare(a.Tenant+"\n"+a.Provider+"\n"+a.Currency, b.Tenant+"\n"+b.Provider+"\n"+b.Currency)
	})
	return out, nil
}

// Lock makes r the pool's replenish unless one is running.
func (s *Store) Lock(ctx context.Context, k pool.Key, r pool.Replenish, ttl time.Duration) (pool.Replenish, bool, error) {
	if strings.Contains(r.JobID, "|") {
		return pool.Replenish{}, false, fmt.Errorf("poolredis: job id %q cannot hold a lock", r.JobID)
	}
	v, err := s.run(ctx, lockScript, k, r.JobID, r.Count, ms(ttl))
	if err != nil {
		return pool.Replenish{}, false, err
	}
	vs, _ := v.([]any)
	if len(vs) != 2 {
		return pool.Replenish{}, false, fmt.Errorf("poolredis: lock: unexpected answer %v", v)
	}
	lock, _ := vs[1].(string)
	held, err := decodeLock(lock)
	return held, atoi(vs[0]) == 1, err
}

// Unlock ends the pool's replenish if it is jobID's.
func (s *Store) Unlock(ctx context.Context, k pool.Key, jobID string) (bool, error) {
	return ok(s.runInt(ctx, unlockScript, k, jobID))
}

// Trim forgets claims allocated more than age ago.
func (s *Store) Trim(ctx context.Context, k pool.Key, age time.Duration, limit int) (int, error) {
	return s.runInt(ctx, trimScript, k, ms(age), limit)
}

// Prefix is the prefix of every key the store writes.
func (s *Store) Prefix() string { return s.prefix }
