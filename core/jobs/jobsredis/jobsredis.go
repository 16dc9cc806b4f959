// Package jobsredis keeps jobs in Redis, shared by every gateway instance.
//
// Key layout (Prefix defaults to "vagate"); the keys of one job carry its
// tenant's hash tag, so the scripts that write several of them stay in one
// Cluster slot:
//
//	{<prefix>:t:<tenant>}:jobh:<id>   header JSON (its counts left out)
//	{<prefix>:t:<tenant>}:jobn:<id>   hash of counts: created, failed, cancelled, unknown
//	{<prefix>:t:<tenant>}:jobi:<id>   hash of items: field "<index>" → item JSON
//
// Writing items is one script call that compares each item with the version
// read (by SHA-1), replaces it and moves the counts by HINCRBY; nothing ever
// rewrites a whole job after it is created.
package jobsredis

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/jobs"
	"github.com/vagate/vagate/core/store"
)

// Options tune the store.
type Options struct {
	// Prefix starts every key (default "vagate").
	Prefix string
}

// Store is a jobs.Store in Redis.
type Store struct {
	c      redis.UniversalClient
	prefix string
}

var _ jobs.Store = (*Store)(nil)

// New returns a store over c.
func New(c redis.UniversalClient, opts *Options) *Store {
	s := &Store{c: c, prefix: "vagate"}
	if opts != nil && opts.Prefix != "" {
		s.prefix = opts.Prefix
	}
	return s
}

func (s *Store) keys(tenant, id string) (header, counts, items string) {
	t := store.TenantTag(s.prefix, tenant)
	return t + ":jobh:" + id, t + ":jobn:" + id, t + ":jobi:" + id
}

var countNames = [4]string{"created", "failed", "cancelled", "unknown"}

func counts(j *bank.Job) [4]int { return [4]int{j.Succeeded, j.Failed, j.Cancelled, j.Unknown} }

// createScript stores a job unless its header exists.
// KEYS: header, counts, items. ARGV: header JSON, 4 counts, then index/item pairs.
var createScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], 'created', ARGV[2], 'failed', ARGV[3], 'cancelled', ARGV[4], 'unknown', ARGV[5])
for i = 6, #ARGV, 2 do redis.call('HSET', KEYS[3], ARGV[i], ARGV[i+1]) end
return 1`)

// itemsScript replaces items if each is still the version read.
// KEYS: items, counts. ARGV: n, then n triples (index, SHA-1 of the version
// read, new JSON), then 4 count deltas. Returns 1 when saved, 0 on a
// conflict, -1 when an item is missing.
var itemsScript = redis.NewScript(`
local n = tonumber(ARGV[1])
for k = 0, n - 1 do
  local cur = redis.call('HGET', KEYS[1], ARGV[2 + 3 * k])
  if not cur then return -1 end
  if redis.sha1hex(cur) ~= ARGV[3 + 3 * k] then return 0 end
end
for k = 0, n - 1 do redis.call('HSET', KEYS[1], ARGV[2 + 3 * k], ARGV[4 + 3 * k]) end
local names = {'created', 'failed', 'cancelled', 'unknown'}
for k = 1, 4 do
  local d = tonumber(ARGV[1 + 3 * n + k])
  if d ~= 0 then redis.call('HINCRBY', KEYS[2], names[k], d) end
end
return 1`)

func encodeHeader(h *jobs.Header) ([]byte, error) {
	c := *h
	c.Job.Succeeded, c.Job.Failed, c.Job.Cancelled, c.Job.Unknown = 0, 0, 0, 0
	return json.Marshal(&c)
}

func decodeHeader(b []byte, tenant string, n map[string]string) (*jobs.Header, error) {
	var h jobs.Header
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, err
	}
	h.Job.Tenant = tenant
	dst := [4]*int{&h.Job.Succeeded, &h.Job.Failed, &h.Job.Cancelled, &h.Job.Unknown}
	for k, name := range countNames {
		*dst[k], _ = strconv.Atoi(n[name])
	}
	return &h, nil
}

// Create stores a new job.
func (s *Store) Create(ctx context.Context, rec *jobs.Record) error {
	hk, nk, ik := s.keys(rec.Job.Tenant, rec.Job.ID)
	hb, err := encodeHeader(&rec.Header)
	if err != nil {
		return err
	}
	var c bank.Job
	args := make([]any, 0, 5+2*len(rec.Items))
	args = append(args, hb)
	pairs := make([]any, 0, 2*len(rec.Items))
	for i := range rec.Items {
		b, err := json.Marshal(&rec.Items[i])
		if err != nil {
			return err
		}
		jobs.Count(&c, rec.Items[i].Result.Outcome, 1)
		pairs = append(pairs, strconv.Itoa(i), b)
	}
	for _, v := range counts(&c) {
		args = append(args, v)
	}
	args = append(args, pairs...)
	ok, err := createScript.Run(ctx, s.c, []string{hk, nk, ik}, args...).Int()
	if err != nil {
		return store.Unavailable(err)
	}
	if ok == 0 {
		return &bank.Error{Code: bank.AlreadyExists, Err: fmt.Errorf("job %q exists", rec.Job.ID)}
	}
	return nil
}

// Get returns the job with every item, read in one transaction.
func (s *Store) Get(ctx context.Context, tenant, id string) (*jobs.Record, error) {
	hk, nk, ik := s.keys(tenant, id)
	var hc *redis.StringCmd
	var nc, ic *redis.MapStringStringCmd
	_, err := s.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		hc, nc, ic = p.Get(ctx, hk), p.HGetAll(ctx, nk), p.HGetAll(ctx, ik)
		return nil
	})
	if errors.Is(err, redis.Nil) || errors.Is(hc.Err(), redis.Nil) {
		return nil, store.NotFound("job", id)
	}
	if err != nil {
		return nil, store.Unavailable(err)
	}
	h, err := decodeHeader([]byte(hc.Val()), tenant, nc.Val())
	if err != nil {
		return nil, err
	}
	rec := &jobs.Record{Header: *h, Items: make([]jobs.ItemRecord, h.Job.Total)}
	for f, v := range ic.Val() {
		i, err := strconv.Atoi(f)
		if err != nil || i < 0 || i >= len(rec.Items) {
			return nil, fmt.Errorf("job %s: stray item field %q", id, f)
		}
		if err := json.Unmarshal([]byte(v), &rec.Items[i]); err != nil {
			return nil, err
		}
	}
	return rec, nil
}

// Header returns the job without its items.
func (s *Store) Header(ctx context.Context, tenant, id string) (*jobs.Header, error) {
	hk, nk, _ := s.keys(tenant, id)
	var hc *redis.StringCmd
	var nc *redis.MapStringStringCmd
	_, err := s.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		hc, nc = p.Get(ctx, hk), p.HGetAll(ctx, nk)
		return nil
	})
	if errors.Is(err, redis.Nil) || errors.Is(hc.Err(), redis.Nil) {
		return nil, store.NotFound("job", id)
	}
	if err != nil {
		return nil, store.Unavailable(err)
	}
	return decodeHeader([]byte(hc.Val()), tenant, nc.Val())
}

// callerError marks an error returned by an update function, so that it is
// handed back as is.
type callerError struct{ err error }

func (e *callerError) Error() string { return e.err.Error() }
func (e *callerError) Unwrap() error { return e.err }

// UpdateHeader applies fn in an optimistic transaction on the header.
func (s *Store) UpdateHeader(ctx context.Context, tenant, id string, fn func(*jobs.Header) error) (*jobs.Header, error) {
	hk, nk, _ := s.keys(tenant, id)
	var out *jobs.Header
	for range 50 {
		err := s.c.Watch(ctx, func(tx *redis.Tx) error {
			b, err := tx.Get(ctx, hk).Bytes()
			if errors.Is(err, redis.Nil) {
				return &callerError{store.NotFound("job", id)}
			}
			if err != nil {
				return err
			}
			n, err := tx.HGetAll(ctx, nk).Result()
			if err != nil {
				return err
			}
			h, err := decodeHeader(b, tenant, n)
			if err != nil {
				return &callerError{err}
			}
			cur := h.Job
			if err := fn(h); err != nil {
				return &callerError{err}
			}
			h.Job.ID, h.Job.Tenant, h.Job.Total = cur.ID, cur.Tenant, cur.Total
			h.Job.Succeeded, h.Job.Failed, h.Job.Cancelled, h.Job.Unknown = cur.Succeeded, cur.Failed, cur.Cancelled, cur.Unknown
			nb, err := encodeHeader(h)
			if err != nil {
				return &callerError{err}
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, hk, nb, 0)
				return nil
			})
			out = h
			return err
		}, hk)
		var ce *callerError
		switch {
		case err == nil:
			return out, nil
		case errors.As(err, &ce):
			return nil, ce.err
		case errors.Is(err, redis.TxFailedErr):
			time.Sleep(time.Millisecond)
			continue
		default:
			return nil, store.Unavailable(err)
		}
	}
	return nil, store.Unavailable(fmt.Errorf("job %s: too much contention on its header", id))
}

func fields(idx []int) []string {
	f := make([]string, len(idx))
	for n, i := range idx {
		f[n] = strconv.Itoa(i)
	}
	return f
}

// read returns the stored JSON of the items at idx.
func (s *Store) read(ctx context.Context, tenant, id string, idx []int) ([]string, error) {
	hk, _, ik := s.keys(tenant, id)
	vals, err := s.c.HMGet(ctx, ik, fields(idx)...).Result()
	if err != nil {
		return nil, store.Unavailable(err)
	}
	out := make([]string, len(idx))
	for n, v := range vals {
		str, ok := v.(string)
		if !ok {
			return nil, s.missing(ctx, hk, id, idx[n])
		}
		out[n] = str
	}
	return out, nil
}

// missing tells a missing job from a missing item.
func (s *Store) missing(ctx context.Context, hk, id string, i int) error {
	n, err := s.c.Exists(ctx, hk).Result()
	switch {
	case err != nil:
		return store.Unavailable(err)
	case n == 0:
		return store.NotFound("job", id)
	}
	return &bank.Error{Code: bank.InvalidArgument, Err: fmt.Errorf("job %s has no item %d", id, i)}
}

// Items returns the items at idx.
func (s *Store) Items(ctx context.Context, tenant, id string, idx []int) ([]jobs.ItemRecord, error) {
	raw, err := s.read(ctx, tenant, id, idx)
	if err != nil {
		return nil, err
	}
	out := make([]jobs.ItemRecord, len(idx))
	for n, b := range raw {
		if err := json.Unmarshal([]byte(b), &out[n]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// UpdateItems reads the items at idx, applies fn, and saves them with one
// script call that fails on a concurrent change; then it tries again.
func (s *Store) UpdateItems(ctx context.Context, tenant, id string, idx []int, fn func(*jobs.ItemRecord) error) ([]jobs.ItemRecord, error) {
	hk, nk, ik := s.keys(tenant, id)
	for range 50 {
		raw, err := s.read(ctx, tenant, id, idx)
		if err != nil {
			return nil, err
		}
		out := make([]jobs.ItemRecord, len(idx))
		args := make([]any, 0, 1+3*len(idx)+4)
		args = append(args, len(idx))
		var d bank.Job
		for n, b := range raw {
			if err := json.Unmarshal([]byte(b), &out[n]); err != nil {
				return nil, err
			}
			before := out[n].Result.Outcome
			if err := fn(&out[n]); err != nil {
				return nil, err
			}
			nb, err := json.Marshal(&out[n])
			if err != nil {
				return nil, err
			}
			sum := sha1.Sum([]byte(b))
			args = append(args, strconv.Itoa(idx[n]), hex.EncodeToString(sum[:]), nb)
			jobs.Count(&d, before, -1)
			jobs.Count(&d, out[n].Result.Outcome, 1)
		}
		for _, v := range counts(&d) {
			args = append(args, v)
		}
		res, err := itemsScript.Run(ctx, s.c, []string{ik, nk}, args...).Int()
		switch {
		case err != nil:
			return nil, store.Unavailable(err)
		case res == 1:
			return out, nil
		case res == -1:
			return nil, s.missing(ctx, hk, id, idx[0])
		}
		time.Sleep(time.Millisecond) // another writer got in between
	}
	return nil, store.Unavailable(fmt.Errorf("job %s: too much contention on its items", id))
}
