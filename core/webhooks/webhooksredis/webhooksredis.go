// Package webhooksredis keeps webhook endpoints and deliveries in Redis,
// shared by every gateway instance: a webhooks.Store.
//
// Key layout (Prefix defaults to "vagate"); a tenant's keys carry its hash
// tag (store.TenantTag), so the scripts that write several stay in one
// Cluster slot:
//
//	{<prefix>:t:<tenant>}:wh:eps               hash: endpoint id → endpoint JSON (secrets included)
//	{<prefix>:t:<tenant>}:wh:ev:<event>        event JSON kept for fan-out and redelivery (expires)
//	{<prefix>:t:<tenant>}:wh:d:<endpoint>:<event>  delivery JSON with its attempts (expires)
//	{<prefix>:t:<tenant>}:wh:ds:<endpoint>     sorted set of "<createdAt ns>|<event>" (lexicographic
//	                                           paging of the endpoint's deliveries)
//	<prefix>:wh:backlog                        sorted set of pending deliveries "<tenant>\n<endpoint>\n<event>"
//	                                           by creation time (ms), for the backlog metrics
//
// Records are rewritten with optimistic transactions (WATCH/MULTI). The
// backlog set lives outside any tenant's slot and is written after the
// delivery; a member left behind by a crash in between is dropped the next
// time Backlog finds it at the head.
package webhooksredis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/store"
	"github.com/vagate/vagate/core/webhooks"
)

// Options tune the store.
type Options struct {
	// Prefix starts every key (default "vagate").
	Prefix string
	// Retention is how long events and deliveries are kept (default 30 days).
	Retention time.Duration
}

// Store is a webhooks.Store in Redis.
type Store struct {
	c    redis.UniversalClient
	opts Options
}

var _ webhooks.Store = (*Store)(nil)

// New returns a store over c.
func New(c redis.UniversalClient, opts *Options) *Store {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Prefix == "" {
		o.Prefix = "vagate"
	}
	if o.Retention <= 0 {
		o.Retention = 30 * 24 * time.Hour
	}
	return &Store{c: c, opts: o}
}

func (s *Store) tag(tenant string) string { return store.TenantTag(s.opts.Prefix, tenant) }
func (s *Store) epsKey(tenant string) string {
	return s.tag(tenant) + ":wh:eps"
}
func (s *Store) eventKey(tenant, id string) string { return s.tag(tenant) + ":wh:ev:" + id }
func (s *Store) deliveryKey(tenant, ep, ev string) string {
	return s.tag(tenant) + ":wh:d:" + ep + ":" + ev
}
func (s *Store) indexKey(tenant, ep string) string { return s.tag(tenant) + ":wh:ds:" + ep }
func (s *Store) backlogKey() string                { return s.opts.Prefix + ":wh:backlog" }

func backlogMember(tenant, ep, ev string) string { return tenant + "\n" + ep + "\n" + ev }

// storedEndpoint is an endpoint as kept: secrets as plain strings (the
// Secret type redacts itself in JSON).
type storedEndpoint struct {
	ID                      string           `json:"id"`
	URL                     string           `json:"url"`
	Events                  []bank.EventType `json:"events,omitempty"`
	Description             string           `json:"description,omitempty"`
	Enabled                 bool             `json:"enabled"`
	DisabledReason          string           `json:"disabledReason,omitempty"`
	Secret                  string           `json:"secret"`
	PreviousSecret          string           `json:"previousSecret,omitempty"`
	PreviousSecretExpiresAt time.Time        `json:"previousSecretExpiresAt,omitzero"`
	FailingSince            time.Time        `json:"failingSince,omitzero"`
	CreatedAt               time.Time        `json:"createdAt"`
	UpdatedAt               time.Time        `json:"updatedAt"`
}

func encodeEndpoint(e *webhooks.Endpoint) ([]byte, error) {
	return json.Marshal(storedEndpoint{ID: e.ID, URL: e.URL, Events: e.Events, Description: e.Description,
		Enabled: e.Enabled, DisabledReason: e.DisabledReason, Secret: string(e.Secret), PreviousSecret: string(e.PreviousSecret),
		PreviousSecretExpiresAt: e.PreviousSecretExpiresAt, FailingSince: e.FailingSince, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt})
}

func decodeEndpoint(tenant string, b []byte) (*webhooks.Endpoint, error) {
	var s storedEndpoint
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, err
	}
	return &webhooks.Endpoint{ID: s.ID, Tenant: tenant, URL: s.URL, Events: s.Events, Description: s.Description,
		Enabled: s.Enabled, DisabledReason: s.DisabledReason, Secret: webhooks.Secret(s.Secret),
		PreviousSecret: webhooks.Secret(s.PreviousSecret), PreviousSecretExpiresAt: s.PreviousSecretExpiresAt,
		FailingSince: s.FailingSince, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}, nil
}

// storedDelivery is a delivery as kept.
type storedDelivery struct {
	EventType     bank.EventType          `json:"eventType"`
	Body          json.RawMessage         `json:"body"`
	Headers       map[string]string       `json:"headers,omitempty"`
	Status        webhooks.DeliveryStatus `json:"status"`
	Seq           int                     `json:"seq"`
	Queued        bool                    `json:"queued,omitempty"`
	Tries         int                     `json:"tries,omitempty"`
	Manual        bool                    `json:"manual,omitempty"`
	NextAttemptAt time.Time               `json:"nextAttemptAt,omitzero"`
	Attempts      []webhooks.Attempt      `json:"attempts,omitempty"`
	CreatedAt     time.Time               `json:"createdAt"`
	UpdatedAt     time.Time               `json:"updatedAt"`
}

func encodeDelivery(d *webhooks.Delivery) ([]byte, error) {
	return json.Marshal(storedDelivery{EventType: d.EventType, Body: d.Body, Headers: d.Headers, Status: d.Status,
		Seq: d.Seq, Queued: d.Queued, Tries: d.Tries, Manual: d.Manual, NextAttemptAt: d.NextAttemptAt,
		Attempts: d.Attempts, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt})
}

func decodeDelivery(tenant, ep, ev string, b []byte) (*webhooks.Delivery, error) {
	var s storedDelivery
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, err
	}
	return &webhooks.Delivery{Tenant: tenant, EndpointID: ep, EventID: ev, EventType: s.EventType, Body: s.Body,
		Headers: s.Headers, Status: s.Status, Seq: s.Seq, Queued: s.Queued, Tries: s.Tries, Manual: s.Manual,
		NextAttemptAt: s.NextAttemptAt, Attempts: s.Attempts, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}, nil
}

// sortKey orders an endpoint's deliveries by creation time, then event id.
func sortKey(d *webhooks.Delivery) string {
	return fmt.Sprintf("%020d|%s", d.CreatedAt.UnixNano(), d.EventID)
}

// createEndpointScript adds an endpoint unless the tenant has max.
// KEYS: endpoints hash. ARGV: id, JSON, max. Returns 1, 0 (id exists) or -1 (full).
var createEndpointScript = redis.NewScript(`
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return -1 end
return redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])`)

// CreateEndpoint stores a new endpoint.
func (s *Store) CreateEndpoint(ctx context.Context, e *webhooks.Endpoint, max int) error {
	b, err := encodeEndpoint(e)
	if err != nil {
		return err
	}
	n, err := createEndpointScript.Run(ctx, s.c, []string{s.epsKey(e.Tenant)}, e.ID, b, max).Int()
	switch {
	case err != nil:
		return store.Unavailable(err)
	case n == -1:
		return bank.Errorf(bank.FailedPrecondition, "a tenant has at most %d webhook endpoints", max)
	case n == 0:
		return bank.Errorf(bank.AlreadyExists, "webhook endpoint %q exists", e.ID)
	}
	return nil
}

// GetEndpoint returns the tenant's endpoint.
func (s *Store) GetEndpoint(ctx context.Context, tenant, id string) (*webhooks.Endpoint, error) {
	b, err := s.c.HGet(ctx, s.epsKey(tenant), id).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, store.NotFound("webhook endpoint", id)
	}
	if err != nil {
		return nil, store.Unavailable(err)
	}
	return decodeEndpoint(tenant, b)
}

// ListEndpoints returns the tenant's endpoints, oldest first.
func (s *Store) ListEndpoints(ctx context.Context, tenant string) ([]*webhooks.Endpoint, error) {
	m, err := s.c.HGetAll(ctx, s.epsKey(tenant)).Result()
	if err != nil {
		return nil, store.Unavailable(err)
	}
	out := make([]*webhooks.Endpoint, 0, len(m))
	for _, v := range m {
		e, err := decodeEndpoint(tenant, []byte(v))
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b *webhooks.Endpoint) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// callerError carries an error returned by an update function through a
// transaction, so that it is told apart from Redis failures.
type callerError struct{ err error }

func (e *callerError) Error() string { return e.err.Error() }

// watch runs fn in a WATCH transaction on key, retrying when another writer
// got in between.
func (s *Store) watch(ctx context.Context, key string, fn func(*redis.Tx) error) error {
	for range 50 {
		err := s.c.Watch(ctx, fn, key)
		if errors.Is(err, redis.TxFailedErr) {
			time.Sleep(time.Millisecond)
			continue
		}
		var ce *callerError
		if errors.As(err, &ce) {
			return ce.err
		}
		if err != nil {
			return store.Unavailable(err)
		}
		return nil
	}
	return &bank.Error{Code: bank.Unavailable, Err: fmt.Errorf("webhooks store: %w: too much contention on one record", store.ErrUnavailable)}
}

// UpdateEndpoint applies fn atomically.
func (s *Store) UpdateEndpoint(ctx context.Context, tenant, id string, fn func(*webhooks.Endpoint) error) (*webhooks.Endpoint, error) {
	key := s.epsKey(tenant)
	var out *webhooks.Endpoint
	err := s.watch(ctx, key, func(tx *redis.Tx) error {
		b, err := tx.HGet(ctx, key, id).Bytes()
		if errors.Is(err, redis.Nil) {
			return &callerError{store.NotFound("webhook endpoint", id)}
		}
		if err != nil {
			return err
		}
		e, err := decodeEndpoint(tenant, b)
		if err != nil {
			return &callerError{err}
		}
		if err := fn(e); err != nil {
			return &callerError{err}
		}
		e.Tenant, e.ID = tenant, id
		nb, err := encodeEndpoint(e)
		if err != nil {
			return &callerError{err}
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, key, id, nb)
			return nil
		})
		out = e
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteEndpoint removes the endpoint.
func (s *Store) DeleteEndpoint(ctx context.Context, tenant, id string) error {
	n, err := s.c.HDel(ctx, s.epsKey(tenant), id).Result()
	if err != nil {
		return store.Unavailable(err)
	}
	if n == 0 {
		return store.NotFound("webhook endpoint", id)
	}
	return nil
}

// PutEvent keeps an event for the retention period.
func (s *Store) PutEvent(ctx context.Context, e *bank.Event) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := s.c.Set(ctx, s.eventKey(e.Tenant, e.ID), b, s.opts.Retention).Err(); err != nil {
		return store.Unavailable(err)
	}
	return nil
}

// GetEvent returns a kept event.
func (s *Store) GetEvent(ctx context.Context, tenant, id string) (*bank.Event, error) {
	b, err := s.c.Get(ctx, s.eventKey(tenant, id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, store.NotFound("event", id)
	}
	if err != nil {
		return nil, store.Unavailable(err)
	}
	var e bank.Event
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, err
	}
	e.Tenant = tenant
	return &e, nil
}

// createDeliveryScript stores a delivery unless it exists, indexes it, and
// drops index entries older than the retention.
// KEYS: delivery, index. ARGV: JSON, ttl ms, sort key, cut-off ("(<ns>").
// Returns the existing JSON, or false when it stored the new one.
var createDeliveryScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then return cur end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], 0, ARGV[3])
redis.call('ZREMRANGEBYLEX', KEYS[2], '-', ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return false`)

// CreateDelivery stores d unless it exists.
func (s *Store) CreateDelivery(ctx context.Context, d *webhooks.Delivery) (*webhooks.Delivery, bool, error) {
	b, err := encodeDelivery(d)
	if err != nil {
		return nil, false, err
	}
	cut := fmt.Sprintf("(%020d", time.Now().Add(-s.opts.Retention).UnixNano())
	cur, err := createDeliveryScript.Run(ctx, s.c, []string{s.deliveryKey(d.Tenant, d.EndpointID, d.EventID), s.indexKey(d.Tenant, d.EndpointID)},
		b, s.opts.Retention.Milliseconds(), sortKey(d), cut).Text()
	switch {
	case errors.Is(err, redis.Nil):
		if d.Status == webhooks.DeliveryPending {
			if err := s.c.ZAdd(ctx, s.backlogKey(), redis.Z{Score: float64(d.CreatedAt.UnixMilli()),
				Member: backlogMember(d.Tenant, d.EndpointID, d.EventID)}).Err(); err != nil {
				return nil, false, store.Unavailable(err)
			}
		}
		return d.Clone(), true, nil
	case err != nil:
		return nil, false, store.Unavailable(err)
	}
	got, err := decodeDelivery(d.Tenant, d.EndpointID, d.EventID, []byte(cur))
	return got, false, err
}

// GetDelivery returns a delivery.
func (s *Store) GetDelivery(ctx context.Context, tenant, endpointID, eventID string) (*webhooks.Delivery, error) {
	b, err := s.c.Get(ctx, s.deliveryKey(tenant, endpointID, eventID)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, store.NotFound("delivery", endpointID+"/"+eventID)
	}
	if err != nil {
		return nil, store.Unavailable(err)
	}
	return decodeDelivery(tenant, endpointID, eventID, b)
}

// UpdateDelivery applies fn atomically, then keeps the backlog set in step.
func (s *Store) UpdateDelivery(ctx context.Context, tenant, endpointID, eventID string, fn func(*webhooks.Delivery) error) (*webhooks.Delivery, error) {
	key := s.deliveryKey(tenant, endpointID, eventID)
	var out *webhooks.Delivery
	err := s.watch(ctx, key, func(tx *redis.Tx) error {
		b, err := tx.Get(ctx, key).Bytes()
		if errors.Is(err, redis.Nil) {
			return &callerError{store.NotFound("delivery", endpointID+"/"+eventID)}
		}
		if err != nil {
			return err
		}
		d, err := decodeDelivery(tenant, endpointID, eventID, b)
		if err != nil {
			return &callerError{err}
		}
		if err := fn(d); err != nil {
			return &callerError{err}
		}
		d.Tenant, d.EndpointID, d.EventID = tenant, endpointID, eventID
		nb, err := encodeDelivery(d)
		if err != nil {
			return &callerError{err}
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, key, nb, s.opts.Retention)
			return nil
		})
		out = d
		return err
	})
	if err != nil {
		return nil, err
	}
	m := backlogMember(tenant, endpointID, eventID)
	if out.Status == webhooks.DeliveryPending {
		err = s.c.ZAdd(ctx, s.backlogKey(), redis.Z{Score: float64(out.CreatedAt.UnixMilli()), Member: m}).Err()
	} else {
		err = s.c.ZRem(ctx, s.backlogKey(), m).Err()
	}
	if err != nil {
		return nil, store.Unavailable(err)
	}
	return out, nil
}

// ListDeliveries pages through the endpoint's deliveries, newest first.
func (s *Store) ListDeliveries(ctx context.Context, tenant, endpointID, cursor string, limit int) ([]*webhooks.Delivery, string, error) {
	before, err := store.DecodeCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	max := "+"
	if before != "" {
		max = "(" + before
	}
	var out []*webhooks.Delivery
	for {
		keys, err := s.c.ZRevRangeByLex(ctx, s.indexKey(tenant, endpointID), &redis.ZRangeBy{Min: "-", Max: max, Count: int64(limit + 1)}).Result()
		if err != nil {
			return nil, "", store.Unavailable(err)
		}
		if len(keys) == 0 {
			return out, "", nil
		}
		ids := make([]string, len(keys))
		for i, k := range keys {
			_, ev, _ := strings.Cut(k, "|")
			ids[i] = s.deliveryKey(tenant, endpointID, ev)
		}
		vals, err := s.c.MGet(ctx, ids...).Result()
		if err != nil {
			return nil, "", store.Unavailable(err)
		}
		for i, v := range vals {
			str, ok := v.(string)
			if !ok {
				continue // expired
			}
			_, ev, _ := strings.Cut(keys[i], "|")
			d, err := decodeDelivery(tenant, endpointID, ev, []byte(str))
			if err != nil {
				continue
			}
			if len(out) == limit {
				return out, store.EncodeCursor(sortKey(out[len(out)-1])), nil
			}
			out = append(out, d)
		}
		max = "(" + keys[len(keys)-1]
	}
}

// Backlog counts pending deliveries and finds the oldest, dropping members
// at the head that are no longer pending.
func (s *Store) Backlog(ctx context.Context) (int64, time.Time, error) {
	for range 10 {
		head, err := s.c.ZRangeWithScores(ctx, s.backlogKey(), 0, 0).Result()
		if err != nil {
			return 0, time.Time{}, store.Unavailable(err)
		}
		if len(head) == 0 {
			return 0, time.Time{}, nil
		}
		m, _ := head[0].Member.(string)
		parts := strings.SplitN(m, "\n", 3)
		if len(parts) == 3 {
			d, err := s.GetDelivery(ctx, parts[0], parts[1], parts[2])
			if err == nil && d.Status == webhooks.DeliveryPending {
				n, err := s.c.ZCard(ctx, s.backlogKey()).Result()
				if err != nil {
					return 0, time.Time{}, store.Unavailable(err)
				}
				return n, time.UnixMilli(int64(head[0].Score)), nil
			}
			if err != nil && bank.Code(err) != bank.NotFound {
				return 0, time.Time{}, err
			}
		}
		if err := s.c.ZRem(ctx, s.backlogKey(), m).Err(); err != nil {
			return 0, time.Time{}, store.Unavailable(err)
		}
	}
	n, err := s.c.ZCard(ctx, s.backlogKey()).Result()
	if err != nil {
		return 0, time.Time{}, store.Unavailable(err)
	}
	return n, time.Time{}, nil
}
