// Package webhooksmem keeps webhook endpoints and deliveries in one process
// (the embedded default): a webhooks.Store.
package webhooksmem

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/store"
	"github.com/vagate/vagate/core/webhooks"
)

// Options tune the store.
type Options struct {
	// Retention is how long events and deliveries are kept (default 30 days).
	Retention time.Duration
	Now       func() time.Time
}

type dkey struct{ tenant, endpoint, event string }

type ekey struct{ tenant, id string }

// Store is a webhooks.Store in memory.
type Store struct {
	opts Options

	mu         sync.Mutex
	endpoints  map[string][]*webhooks.Endpoint // tenant → endpoints, oldest first
	events     map[ekey]*bank.Event
	eventOrder []ekey
	deliveries map[dkey]*webhooks.Delivery
	byEndpoint map[[2]string][]string // tenant, endpoint → sort keys of its deliveries, sorted
	pruned     time.Time
}

var _ webhooks.Store = (*Store)(nil)

// New returns an empty store.
func New(opts *Options) *Store {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Retention <= 0 {
		o.Retention = 30 * 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Store{opts: o, endpoints: map[string][]*webhooks.Endpoint{}, events: map[ekey]*bank.Event{},
		deliveries: map[dkey]*webhooks.Delivery{}, byEndpoint: map[[2]string][]string{}}
}

// CreateEndpoint stores a new endpoint.
func (s *Store) CreateEndpoint(_ context.Context, e *webhooks.Endpoint, max int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	eps := s.endpoints[e.Tenant]
	if len(eps) >= max {
		return bank.Errorf(bank.FailedPrecondition, "a tenant has at most %d webhook endpoints", max)
	}
	if slices.ContainsFunc(eps, func(x *webhooks.Endpoint) bool { return x.ID == e.ID }) {
		return bank.Errorf(bank.AlreadyExists, "webhook endpoint %q exists", e.ID)
	}
	s.endpoints[e.Tenant] = append(eps, e.Clone())
	return nil
}

func (s *Store) find(tenant, id string) (int, error) {
	i := slices.IndexFunc(s.endpoints[tenant], func(x *webhooks.Endpoint) bool { return x.ID == id })
	if i < 0 {
		return 0, store.NotFound("webhook endpoint", id)
	}
	return i, nil
}

// GetEndpoint returns the tenant's endpoint.
func (s *Store) GetEndpoint(_ context.Context, tenant, id string) (*webhooks.Endpoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, err := s.find(tenant, id)
	if err != nil {
		return nil, err
	}
	return s.endpoints[tenant][i].Clone(), nil
}

// ListEndpoints returns the tenant's endpoints, oldest first.
func (s *Store) ListEndpoints(_ context.Context, tenant string) ([]*webhooks.Endpoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*webhooks.Endpoint, 0, len(s.endpoints[tenant]))
	for _, e := range s.endpoints[tenant] {
		out = append(out, e.Clone())
	}
	slices.SortFunc(out, func(a, b *webhooks.Endpoint) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// UpdateEndpoint applies fn under the store's lock.
func (s *Store) UpdateEndpoint(_ context.Context, tenant, id string, fn func(*webhooks.Endpoint) error) (*webhooks.Endpoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, err := s.find(tenant, id)
	if err != nil {
		return nil, err
	}
	c := s.endpoints[tenant][i].Clone()
	if err := fn(c); err != nil {
		return nil, err
	}
	c.Tenant, c.ID = tenant, id
	s.endpoints[tenant][i] = c
	return c.Clone(), nil
}

// DeleteEndpoint removes the endpoint.
func (s *Store) DeleteEndpoint(_ context.Context, tenant, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, err := s.find(tenant, id)
	if err != nil {
		return err
	}
	s.endpoints[tenant] = slices.Delete(s.endpoints[tenant], i, i+1)
	return nil
}

// PutEvent keeps an event, and drops what has outlived the retention.
func (s *Store) PutEvent(_ context.Context, e *bank.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prune()
	c := *e
	k := ekey{e.Tenant, e.ID}
	if _, ok := s.events[k]; !ok {
		s.eventOrder = append(s.eventOrder, k)
	}
	s.events[k] = &c
	return nil
}

// prune drops events, and settled deliveries, older than the retention;
// at most once a minute.
func (s *Store) prune() {
	now := s.opts.Now()
	if now.Sub(s.pruned) < time.Minute {
		return
	}
	s.pruned = now
	cut := now.Add(-s.opts.Retention)
	n := 0
	for _, k := range s.eventOrder {
		e := s.events[k]
		if e == nil || !e.CreatedAt.Before(cut) {
			break
		}
		delete(s.events, k)
		n++
	}
	s.eventOrder = s.eventOrder[n:]
	for k, d := range s.deliveries {
		if d.Status != webhooks.DeliveryPending && d.UpdatedAt.Before(cut) {
			delete(s.deliveries, k)
			bk := [2]string{k.tenant, k.endpoint}
			s.byEndpoint[bk] = slices.DeleteFunc(s.byEndpoint[bk], func(sk string) bool { return sk == sortKey(d) })
		}
	}
}

// GetEvent returns a kept event.
func (s *Store) GetEvent(_ context.Context, tenant, id string) (*bank.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.events[ekey{tenant, id}]
	if !ok {
		return nil, store.NotFound("event", id)
	}
	c := *e
	return &c, nil
}

// CreateDelivery stores d unless it exists.
func (s *Store) CreateDelivery(_ context.Context, d *webhooks.Delivery) (*webhooks.Delivery, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := dkey{d.Tenant, d.EndpointID, d.EventID}
	if cur, ok := s.deliveries[k]; ok {
		return cur.Clone(), false, nil
	}
	s.deliveries[k] = d.Clone()
	bk := [2]string{d.Tenant, d.EndpointID}
	keys := s.byEndpoint[bk]
	i, _ := slices.BinarySearch(keys, sortKey(d))
	s.byEndpoint[bk] = slices.Insert(keys, i, sortKey(d))
	return d.Clone(), true, nil
}

// GetDelivery returns a delivery.
func (s *Store) GetDelivery(_ context.Context, tenant, endpointID, eventID string) (*webhooks.Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.deliveries[dkey{tenant, endpointID, eventID}]
	if !ok {
		return nil, store.NotFound("delivery", endpointID+"/"+eventID)
	}
	return d.Clone(), nil
}

// UpdateDelivery applies fn under the store's lock.
func (s *Store) UpdateDelivery(_ context.Context, tenant, endpointID, eventID string, fn func(*webhooks.Delivery) error) (*webhooks.Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := dkey{tenant, endpointID, eventID}
	d, ok := s.deliveries[k]
	if !ok {
		return nil, store.NotFound("delivery", endpointID+"/"+eventID)
	}
	c := d.Clone()
	if err := fn(c); err != nil {
		return nil, err
	}
	c.Tenant, c.EndpointID, c.EventID = tenant, endpointID, eventID
	s.deliveries[k] = c
	return c.Clone(), nil
}

// sortKey orders an endpoint's deliveries by creation time, then event id.
func sortKey(d *webhooks.Delivery) string {
	return fmt.Sprintf("%020d|%s", d.CreatedAt.UnixNano(), d.EventID)
}

// ListDeliveries pages through the endpoint's deliveries, newest first.
func (s *Store) ListDeliveries(_ context.Context, tenant, endpointID, cursor string, limit int) ([]*webhooks.Delivery, string, error) {
	before, err := store.DecodeCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := s.byEndpoint[[2]string{tenant, endpointID}]
	i := len(keys)
	if before != "" {
		i, _ = slices.BinarySearch(keys, before)
	}
	var out []*webhooks.Delivery
	for i--; i >= 0; i-- {
		if len(out) == limit {
			return out, store.EncodeCursor(sortKey(out[len(out)-1])), nil
		}
		_, id, _ := strings.Cut(keys[i], "|")
		out = append(out, s.deliveries[dkey{tenant, endpointID, id}].Clone())
	}
	return out, "", nil
}

// Backlog counts pending deliveries.
func (s *Store) Backlog(context.Context) (int64, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	var oldest time.Time
	for _, d := range s.deliveries {
		if d.Status != webhooks.DeliveryPending {
			continue
		}
		n++
		if oldest.IsZero() || d.CreatedAt.Before(oldest) {
			oldest = d.CreatedAt
		}
	}
	return n, oldest, nil
}
