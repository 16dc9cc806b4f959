package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vagate/vagate/core/bank"
)

// Redis key layout (Prefix defaults to "vagate"). Every key of one tenant
// carries the hash tag {<prefix>:t:<tenant>}, so each multi-key operation
// (an account and its tenant's index, in one MULTI) stays in one Cluster slot:
//
//	{<prefix>:t:<tenant>}:acct:<id>     account JSON
//	{<prefix>:t:<tenant>}:accts         sorted set of "<createdAt ns>|<id>" (lexicographic paging)
//	{<prefix>:t:<tenant>}:status:<s>    set of the ids of accounts in transitional status s
//	<prefix>:transit-tenants            set of tenants that had an account in a transitional
//	                                    status (added to before the account is written)
//	{<prefix>:t:<tenant>}:job…          jobs (see core/jobs/jobsredis)
//	{<prefix>:t:<tenant>}:events        stream of the tenant's events
//	<prefix>:ref:<provider>:<ref>       "<tenant>|<id>" (single-key lookup for provider callbacks)
//	{<prefix>:q}:jobq                   stream of queued jobs, consumer group "workers"
//	{<prefix>:q}:delayed                sorted set of deferred jobs "<tenant>\n<job>" by due time (ms);
//	                                    moved to the stream by a script when due
//
// Nothing on the request path uses KEYS or SCAN. Records are rewritten with
// optimistic transactions (WATCH/MULTI) so concurrent updates never lose one.

// RedisOptions tune the Redis store.
type RedisOptions struct {
	// Prefix starts every key (default "vagate").
	Prefix string
	// Visibility is how long a dequeued job may go without a heartbeat before
	// another instance takes it over (default 30s).
	Visibility time.Duration
	// Consumer names this instance in the queue's consumer group (default
	// host-pid-random).
	Consumer string
}

// Redis keeps accounts, the job queue and events in Redis, shared by
// every gateway instance.
type Redis struct {
	c    redis.UniversalClient
	opts RedisOptions
}

var (
	_ Accounts = (*Redis)(nil)
	_ Queue    = (*Redis)(nil)
	_ Events   = (*Redis)(nil)
)

// NewRedis returns a store over c.
func NewRedis(c redis.UniversalClient, opts *RedisOptions) *Redis {
	var o RedisOptions
	if opts != nil {
		o = *opts
	}
	if o.Prefix == "" {
		o.Prefix = "vagate"
	}
	if o.Visibility <= 0 {
		o.Visibility = 30 * time.Second
	}
	if o.Consumer == "" {
		host, _ := os.Hostname()
		b := make([]byte, 4)
		rand.Read(b)
		o.Consumer = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
	}
	return &Redis{c: c, opts: o}
}

// Ping checks that Redis answers.
func (r *Redis) Ping(ctx context.Context) error { return r.c.Ping(ctx).Err() }

var tagEscaper = strings.NewReplacer("%", "%25", "{", "%7B", "}", "%7D")

// TenantTag is the hash tag that starts every Redis key of one tenant under
// prefix, so that a tenant's keys share one Cluster slot.
func TenantTag(prefix, tenant string) string {
	return "{" + prefix + ":t:" + tagEscaper.Replace(tenant) + "}"
}

func (r *Redis) tenantTag(tenant string) string { return TenantTag(r.opts.Prefix, tenant) }

func (r *Redis) acctKey(tenant, id string) string { return r.tenantTag(tenant) + ":acct:" + id }
func (r *Redis) acctIndex(tenant string) string   { return r.tenantTag(tenant) + ":accts" }
func (r *Redis) eventsKey(tenant string) string   { return r.tenantTag(tenant) + ":events" }
func (r *Redis) refKey(p, ref string) string      { return r.opts.Prefix + ":ref:" + p + ":" + ref }
func (r *Redis) transitKey(tenant string, s bank.Status) string {
	return r.tenantTag(tenant) + ":status:" + string(s)
}
func (r *Redis) transitTenants() string { return r.opts.Prefix + ":transit-tenants" }
func (r *Redis) queueKey() string       { return "{" + r.opts.Prefix + ":q}:jobq" }
func (r *Redis) delayedKey() string     { return "{" + r.opts.Prefix + ":q}:delayed" }

// promoteScript moves due deferred jobs to the stream, atomically, so a job
// is never in both or neither.
var promoteScript = redis.NewScript(`
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 100)
for _, m in ipairs(due) do
  local nl = string.find(m, "\n", 1, true)
  redis.call('ZREM', KEYS[1], m)
  redis.call('XADD', KEYS[2], '*', 'tenant', string.sub(m, 1, nl - 1), 'job', string.sub(m, nl + 1))
end
return #due`)

const queueGroup = "workers"

// storedAccount keeps the fields bank.Account leaves out of its JSON.
type storedAccount struct {
	*bank.Account
	Tenant     string          `json:"tenant"`
	Raw        json.RawMessage `json:"raw,omitempty"`
	Version    int64           `json:"version,omitempty"`
	ProviderAt time.Time       `json:"providerAt,omitzero"`
}

func encodeAccount(a *bank.Account) ([]byte, error) {
	return json.Marshal(storedAccount{Account: a, Tenant: a.Tenant, Raw: a.Raw, Version: a.Version, ProviderAt: a.ProviderAt})
}

func decodeAccount(b []byte) (*bank.Account, error) {
	s := storedAccount{Account: &bank.Account{}}
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, err
	}
	s.Account.Tenant, s.Account.Raw, s.Account.Version, s.Account.ProviderAt = s.Tenant, s.Raw, s.Version, s.ProviderAt
	return s.Account, nil
}

// PutAccount inserts or replaces a.
func (r *Redis) PutAccount(ctx context.Context, a *bank.Account) error {
	_, err := r.updateAccount(ctx, a.Tenant, a.ID, func(x *bank.Account) error {
		*x = *a.Clone()
		return nil
	}, true)
	return err
}

// GetAccount returns the tenant's account.
func (r *Redis) GetAccount(ctx context.Context, tenant, id string) (*bank.Account, error) {
	b, err := r.c.Get(ctx, r.acctKey(tenant, id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, NotFound("account", id)
	}
	if err != nil {
		return nil, unavailable(err)
	}
	return decodeAccount(b)
}

// FindAccount finds an account by its provider reference.
func (r *Redis) FindAccount(ctx context.Context, providerName, ref string) (*bank.Account, error) {
	v, err := r.c.Get(ctx, r.refKey(providerName, ref)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, NotFound("account", providerName+"/"+ref)
	}
	if err != nil {
		return nil, unavailable(err)
	}
	tenant, id, _ := strings.Cut(v, "|")
	return r.GetAccount(ctx, tenant, id)
}

// SwapAccount saves a if the stored record is still at a.Version, else
// returns a *ConflictError; the saved copy has the next version.
func (r *Redis) SwapAccount(ctx context.Context, a *bank.Account) (*bank.Account, error) {
	return r.updateAccount(ctx, a.Tenant, a.ID, func(x *bank.Account) error {
		if x.Version != a.Version {
			return &ConflictError{Tenant: a.Tenant, ID: a.ID, Want: a.Version, Have: x.Version}
		}
		*x = *a.Clone()
		return nil
	}, false)
}

// TransitionalAccounts lists the accounts, of every tenant, in a
// transitional status (bank.Status.Transitional): one set per tenant and
// status, each read alone (no multi-key operation across tenants).
func (r *Redis) TransitionalAccounts(ctx context.Context) ([]AccountKey, error) {
	tenants, err := r.c.SMembers(ctx, r.transitTenants()).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	slices.Sort(tenants)
	var out []AccountKey
	for _, t := range tenants {
		for _, s := range bank.TransitionalStatuses() {
			ids, err := r.c.SMembers(ctx, r.transitKey(t, s)).Result()
			if err != nil {
				return nil, unavailable(err)
			}
			slices.Sort(ids)
			for _, id := range ids {
				out = append(out, AccountKey{Tenant: t, ID: id})
			}
		}
	}
	return out, nil
}

// ProviderAccounts lists the accounts, of every tenant, at the provider
// named providerName, sorted by tenant and id: it scans the provider index
// (one key per account, outside the tenants' slots).
func (r *Redis) ProviderAccounts(ctx context.Context, providerName string) ([]AccountKey, error) {
	pattern := globEscaper.Replace(r.refKey(providerName, "")) + "*"
	var out []AccountKey
	keys, err := scanAll(ctx, r.c, pattern)
	if err != nil {
		return nil, unavailable(err)
	}
	for start := 0; start < len(keys); start += 500 {
		batch := keys[start:min(start+500, len(keys))]
		vals := make([]*redis.StringCmd, len(batch))
		_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range batch {
				vals[i] = p.Get(ctx, k)
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, unavailable(err)
		}
		for _, v := range vals {
			tenant, id, ok := strings.Cut(v.Val(), "|")
			if v.Err() == nil && ok {
				out = append(out, AccountKey{Tenant: tenant, ID: id})
			}
		}
	}
	SortKeys(out)
	return out, nil
}

// scanAll returns every key matching pattern: on a Redis Cluster, those of
// every master (SCAN reads one node's keys).
func scanAll(ctx context.Context, c redis.UniversalClient, pattern string) ([]string, error) {
	scan := func(ctx context.Context, n redis.Cmdable) ([]string, error) {
		var keys []string
		iter := n.Scan(ctx, 0, pattern, 500).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		return keys, iter.Err()
	}
	cc, ok := c.(*redis.ClusterClient)
	if !ok {
		return scan(ctx, c)
	}
	var mu sync.Mutex
	var all []string
	err := cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		keys, err := scan(ctx, n)
		mu.Lock()
		all = append(all, keys...)
		mu.Unlock()
		return err
	})
	return all, err
}

// globEscaper escapes the characters SCAN's MATCH pattern treats specially.
var globEscaper = strings.NewReplacer(`\`, `\\`, "*", `\*`, "?", `\?`, "[", `\[`, "]", `\]`)

// UpdateAccount applies fn atomically.
func (r *Redis) UpdateAccount(ctx context.Context, tenant, id string, fn func(*bank.Account) error) (*bank.Account, error) {
	return r.updateAccount(ctx, tenant, id, fn, false)
}

// updateAccount applies fn atomically; with upsert a missing account starts
// empty instead of being NotFound.
func (r *Redis) updateAccount(ctx context.Context, tenant, id string, fn func(*bank.Account) error, upsert bool) (*bank.Account, error) {
	key, index := r.acctKey(tenant, id), r.acctIndex(tenant)
	var out *bank.Account
	var oldRef string
	err := r.retryWatch(ctx, func(tx *redis.Tx) error {
		var cur *bank.Account
		b, err := tx.Get(ctx, key).Bytes()
		switch {
		case errors.Is(err, redis.Nil):
			if !upsert {
				return NotFound("account", id)
			}
			cur = &bank.Account{}
		case err != nil:
			return err
		default:
			if cur, err = decodeAccount(b); err != nil {
				return err
			}
		}
		oldKey, hadOld := sortKey(cur), b != nil
		oldStatus, version := cur.Status, cur.Version
		oldRef = ""
		if hadOld {
			oldRef = r.refKey(cur.Provider, cur.ProviderAccountID)
		}
		if err := fn(cur); err != nil {
			return err
		}
		cur.Tenant, cur.ID, cur.Version = tenant, id, version+1
		nb, err := encodeAccount(cur)
		if err != nil {
			return err
		}
		if cur.Status.Transitional() {
			// The tenant directory lives outside the tenant's slot: a
			// single-key write, made first so that it never misses one.
			if err := r.c.SAdd(ctx, r.transitTenants(), tenant).Err(); err != nil {
				return err
			}
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, key, nb, 0)
			if hadOld && oldKey != sortKey(cur) {
				p.ZRem(ctx, index, oldKey)
			}
			p.ZAdd(ctx, index, redis.Z{Member: sortKey(cur)})
			if hadOld && oldStatus != cur.Status && oldStatus.Transitional() {
				p.SRem(ctx, r.transitKey(tenant, oldStatus), id)
			}
			if cur.Status.Transitional() {
				p.SAdd(ctx, r.transitKey(tenant, cur.Status), id)
			}
			return nil
		})
		out = cur
		return err
	}, key)
	if err != nil {
		return nil, err
	}
	// The provider index lives outside the tenant's slot: a single-key write.
	newRef := r.refKey(out.Provider, out.ProviderAccountID)
	if oldRef != "" && oldRef != newRef {
		r.c.Del(ctx, oldRef)
	}
	if err := r.c.Set(ctx, newRef, tenant+"|"+id, 0).Err(); err != nil {
		return nil, unavailable(err)
	}
	return out.Clone(), nil
}

// retryWatch runs fn in a WATCH transaction, retrying when another writer
// got in between.
func (r *Redis) retryWatch(ctx context.Context, fn func(*redis.Tx) error, keys ...string) error {
	for range 50 {
		err := r.c.Watch(ctx, fn, keys...)
		if !errors.Is(err, redis.TxFailedErr) {
			var be *bank.Error
			if err != nil && !errors.As(err, &be) && !isCallerError(err) {
				return unavailable(err)
			}
			return err
		}
		time.Sleep(time.Millisecond)
	}
	return &bank.Error{Code: bank.Unavailable, Err: fmt.Errorf("store: %w: too much contention on one record", ErrUnavailable)}
}

// isCallerError tells errors returned by an update function apart from Redis
// failures: anything that is not a network or Redis error is the caller's.
func isCallerError(err error) bool {
	var re redis.Error
	return !errors.As(err, &re) && !isNetErr(err)
}

// isNetErr reports a failure to reach Redis: a network error, a connection
// closed under the call, or a closed client.
func isNetErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, redis.ErrClosed) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET)
}

// Unavailable wraps a Redis failure as an Unavailable error that carries
// ErrUnavailable.
func Unavailable(err error) error {
	return &bank.Error{Code: bank.Unavailable, Err: fmt.Errorf("store: redis: %w: %w", ErrUnavailable, err)}
}

func unavailable(err error) error { return Unavailable(err) }

// ListAccounts pages through the tenant's accounts in creation order.
func (r *Redis) ListAccounts(ctx context.Context, tenant string, f AccountFilter, cursor string, limit int) ([]*bank.Account, string, error) {
	after, err := DecodeCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	min := "-"
	if after != "" {
		min = "(" + after
	}
	var out []*bank.Account
	batch := int64(max(limit*2, 50))
	for {
		keys, err := r.c.ZRangeByLex(ctx, r.acctIndex(tenant), &redis.ZRangeBy{Min: min, Max: "+", Count: batch}).Result()
		if err != nil {
			return nil, "", unavailable(err)
		}
		if len(keys) == 0 {
			return out, "", nil
		}
		ids := make([]string, len(keys))
		for i, k := range keys {
			ids[i] = r.acctKey(tenant, idOf(k))
		}
		vals, err := r.c.MGet(ctx, ids...).Result()
		if err != nil {
			return nil, "", unavailable(err)
		}
		for _, v := range vals {
			s, ok := v.(string)
			if !ok {
				continue
			}
			a, err := decodeAccount([]byte(s))
			if err != nil || !f.Match(a) {
				continue
			}
			if len(out) == limit {
				return out, EncodeCursor(sortKey(out[len(out)-1])), nil
			}
			out = append(out, a)
		}
		min = "(" + keys[len(keys)-1]
	}
}

// Enqueue adds the job to the shared stream.
func (r *Redis) Enqueue(ctx context.Context, tenant, jobID string) error {
	err := r.c.XAdd(ctx, &redis.XAddArgs{Stream: r.queueKey(), Values: map[string]any{"tenant": tenant, "job": jobID}}).Err()
	if err != nil {
		return unavailable(err)
	}
	return nil
}

var groupOnce sync.Map

func (r *Redis) ensureGroup(ctx context.Context) error {
	if _, ok := groupOnce.Load(r.queueKey()); ok {
		return nil
	}
	err := r.c.XGroupCreateMkStream(ctx, r.queueKey(), queueGroup, "0").Err()
	if err != nil && !redis.HasErrorPrefix(err, "BUSYGROUP") {
		return unavailable(err)
	}
	groupOnce.Store(r.queueKey(), true)
	return nil
}

// Dequeue takes a job: first one whose worker stopped heartbeating for the
// visibility timeout (XAUTOCLAIM), else a new one (XREADGROUP). Until ack, a
// heartbeat keeps the job from being taken over.
func (r *Redis) Dequeue(ctx context.Context) (*Lease, error) {
	if err := r.ensureGroup(ctx); err != nil {
		return nil, err
	}
	for {
		if err := promoteScript.Run(ctx, r.c, []string{r.delayedKey(), r.queueKey()}, time.Now().UnixMilli()).Err(); err != nil && !errors.Is(err, redis.Nil) {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, unavailable(err)
		}
		msgs, _, err := r.c.XAutoClaim(ctx, &redis.XAutoClaimArgs{
			Stream: r.queueKey(), Group: queueGroup, Consumer: r.opts.Consumer,
			MinIdle: r.opts.Visibility, Start: "0-0", Count: 1,
		}).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if redis.HasErrorPrefix(err, "NOGROUP") {
				groupOnce.Delete(r.queueKey())
				if err := r.ensureGroup(ctx); err != nil {
					return nil, err
				}
				continue
			}
			return nil, unavailable(err)
		}
		if len(msgs) == 0 {
			streams, err := r.c.XReadGroup(ctx, &redis.XReadGroupArgs{
				Group: queueGroup, Consumer: r.opts.Consumer, Streams: []string{r.queueKey(), ">"},
				Count: 1, Block: min(r.opts.Visibility/2, time.Second),
			}).Result()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if errors.Is(err, redis.Nil) {
				continue
			}
			if err != nil {
				if redis.HasErrorPrefix(err, "NOGROUP") {
					groupOnce.Delete(r.queueKey())
					continue
				}
				return nil, unavailable(err)
			}
			if len(streams) == 0 || len(streams[0].Messages) == 0 {
				continue
			}
			msgs = streams[0].Messages
		}
		m := msgs[0]
		tenant, _ := m.Values["tenant"].(string)
		job, _ := m.Values["job"].(string)
		return r.hold(m.ID, tenant, job), nil
	}
}

// hold heartbeats message id until the lease is acked (the message is
// acknowledged and deleted) or released (in one transaction, the job is
// queued again as a new message and the old one acknowledged and deleted,
// so any instance can take it at once).
func (r *Redis) hold(id, tenant, jobID string) *Lease {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(r.opts.Visibility / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				ctx, cancel := context.WithTimeout(context.Background(), r.opts.Visibility/3)
				r.c.XClaimJustID(ctx, &redis.XClaimArgs{Stream: r.queueKey(), Group: queueGroup,
					Consumer: r.opts.Consumer, MinIdle: 0, Messages: []string{id}})
				cancel()
			}
		}
	}()
	var once sync.Once
	// end acknowledges the message and, when requeue, queues the job again
	// at once (after 0) or deferred (after > 0), in one transaction.
	end := func(requeue bool, after time.Duration) {
		once.Do(func() {
			close(stop)
			<-done
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			// If this fails the message stays pending without a heartbeat,
			// and is claimed again after the visibility timeout.
			_, _ = r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
				switch {
				case requeue && after > 0:
					p.ZAdd(ctx, r.delayedKey(), redis.Z{Score: float64(time.Now().Add(after).UnixMilli()), Member: tenant + "\n" + jobID})
				case requeue:
					p.XAdd(ctx, &redis.XAddArgs{Stream: r.queueKey(), Values: map[string]any{"tenant": tenant, "job": jobID}})
				}
				p.XAck(ctx, r.queueKey(), queueGroup, id)
				p.XDel(ctx, r.queueKey(), id)
				return nil
			})
		})
	}
	return &Lease{Tenant: tenant, JobID: jobID, Ack: func() { end(false, 0) }, Release: func() { end(true, 0) },
		Defer: func(d time.Duration) { end(true, max(d, time.Millisecond)) }}
}

// AppendEvent adds e to its tenant's stream.
func (r *Redis) AppendEvent(ctx context.Context, e *bank.Event) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	err = r.c.XAdd(ctx, &redis.XAddArgs{Stream: r.eventsKey(e.Tenant), Values: map[string]any{"e": b}}).Err()
	if err != nil {
		return unavailable(err)
	}
	return nil
}

// streamID is the form of a Redis stream entry id.
var streamID = regexp.MustCompile(`^[0-9]{1,20}-[0-9]{1,20}$`)

// ListEvents pages through the tenant's stream.
func (r *Redis) ListEvents(ctx context.Context, tenant string, t bank.EventType, cursor string, limit int) ([]*bank.Event, string, error) {
	after, err := DecodeCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	start := "-"
	if after != "" {
		sid, _, _ := strings.Cut(after, "|")
		if !streamID.MatchString(sid) {
			return nil, "", NotFoundCursor()
		}
		start = "(" + sid
	}
	var out []*bank.Event
	next := cursor
	for len(out) < limit {
		msgs, err := r.c.XRangeN(ctx, r.eventsKey(tenant), start, "+", int64(limit-len(out))).Result()
		if err != nil {
			return nil, "", unavailable(err)
		}
		if len(msgs) == 0 {
			break
		}
		for _, m := range msgs {
			s, _ := m.Values["e"].(string)
			var e bank.Event
			if err := json.Unmarshal([]byte(s), &e); err != nil {
				continue
			}
			e.Tenant = tenant
			next = EncodeCursor(m.ID + "|" + e.ID)
			if t != "" && e.Type != t {
				continue
			}
			out = append(out, &e)
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
	return out, next, nil
}

// Client is the Redis client the store uses.
func (r *Redis) Client() redis.UniversalClient { return r.c }

// Prefix is the prefix of every key the store writes.
func (r *Redis) Prefix() string { return r.opts.Prefix }
