// Package jobsmem keeps jobs in one process: a map of jobs, each with its
// own lock, its header as a value and each item as its own JSON document, so
// that writing one item neither copies the job nor waits for other jobs.
package jobsmem

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"sync"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/jobs"
	"github.com/vagate/vagate/core/store"
)

// Store is an in-memory jobs.Store.
type Store struct {
	mu   sync.RWMutex // guards the map only
	jobs map[string]*job
}

type job struct {
	mu     sync.Mutex
	header jobs.Header
	items  [][]byte // JSON per item
}

var _ jobs.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store { return &Store{jobs: map[string]*job{}} }

func key(tenant, id string) string { return tenant + "\n" + id }

func (s *Store) job(tenant, id string) (*job, error) {
	s.mu.RLock()
	j, ok := s.jobs[key(tenant, id)]
	s.mu.RUnlock()
	if !ok {
		return nil, store.NotFound("job", id)
	}
	return j, nil
}

func copyHeader(h *jobs.Header) *jobs.Header {
	c := *h
	c.CustomHeaders = maps.Clone(h.CustomHeaders)
	if h.Job.CompletedAt != nil {
		t := *h.Job.CompletedAt
		c.Job.CompletedAt = &t
	}
	return &c
}

// Create stores a new job.
func (s *Store) Create(_ context.Context, rec *jobs.Record) error {
	j := &job{header: *copyHeader(&rec.Header), items: make([][]byte, len(rec.Items))}
	j.header.Job.Succeeded, j.header.Job.Failed, j.header.Job.Cancelled, j.header.Job.Unknown = 0, 0, 0, 0
	for i := range rec.Items {
		b, err := json.Marshal(&rec.Items[i])
		if err != nil {
			return err
		}
		j.items[i] = b
		jobs.Count(&j.header.Job, rec.Items[i].Result.Outcome, 1)
	}
	k := key(rec.Job.Tenant, rec.Job.ID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.jobs[k]; dup {
		return &bank.Error{Code: bank.AlreadyExists, Err: fmt.Errorf("job %q exists", rec.Job.ID)}
	}
	s.jobs[k] = j
	return nil
}

// Get returns a copy of the job with every item.
func (s *Store) Get(_ context.Context, tenant, id string) (*jobs.Record, error) {
	j, err := s.job(tenant, id)
	if err != nil {
		return nil, err
	}
	j.mu.Lock()
	rec := &jobs.Record{Header: *copyHeader(&j.header)}
	raw := make([][]byte, len(j.items))
	copy(raw, j.items) // item documents are replaced, never changed in place
	j.mu.Unlock()
	rec.Items = make([]jobs.ItemRecord, len(raw))
	for i, b := range raw {
		if err := json.Unmarshal(b, &rec.Items[i]); err != nil {
			return nil, err
		}
	}
	return rec, nil
}

// Header returns a copy of the job's header.
func (s *Store) Header(_ context.Context, tenant, id string) (*jobs.Header, error) {
	j, err := s.job(tenant, id)
	if err != nil {
		return nil, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return copyHeader(&j.header), nil
}

// UpdateHeader applies fn under the job's lock.
func (s *Store) UpdateHeader(_ context.Context, tenant, id string, fn func(*jobs.Header) error) (*jobs.Header, error) {
	j, err := s.job(tenant, id)
	if err != nil {
		return nil, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	h := copyHeader(&j.header)
	if err := fn(h); err != nil {
		return nil, err
	}
	cur := j.header.Job
	h.Job.ID, h.Job.Tenant, h.Job.Total = cur.ID, cur.Tenant, cur.Total
	h.Job.Succeeded, h.Job.Failed, h.Job.Cancelled, h.Job.Unknown = cur.Succeeded, cur.Failed, cur.Cancelled, cur.Unknown
	j.header = *copyHeader(h)
	return h, nil
}

func checkIndexes(j *job, id string, idx []int) error {
	for _, i := range idx {
		if i < 0 || i >= len(j.items) {
			return &bank.Error{Code: bank.InvalidArgument, Err: fmt.Errorf("job %s has no item %d", id, i)}
		}
	}
	return nil
}

// Items returns copies of the items at idx.
func (s *Store) Items(_ context.Context, tenant, id string, idx []int) ([]jobs.ItemRecord, error) {
	j, err := s.job(tenant, id)
	if err != nil {
		return nil, err
	}
	j.mu.Lock()
	if err := checkIndexes(j, id, idx); err != nil {
		j.mu.Unlock()
		return nil, err
	}
	raw := make([][]byte, len(idx))
	for n, i := range idx {
		raw[n] = j.items[i]
	}
	j.mu.Unlock()
	out := make([]jobs.ItemRecord, len(idx))
	for n, b := range raw {
		if err := json.Unmarshal(b, &out[n]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// UpdateItems applies fn to the items at idx under the job's lock.
func (s *Store) UpdateItems(_ context.Context, tenant, id string, idx []int, fn func(*jobs.ItemRecord) error) ([]jobs.ItemRecord, error) {
	j, err := s.job(tenant, id)
	if err != nil {
		return nil, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := checkIndexes(j, id, idx); err != nil {
		return nil, err
	}
	out := make([]jobs.ItemRecord, len(idx))
	enc := make([][]byte, len(idx))
	counts := j.header.Job
	for n, i := range idx {
		if err := json.Unmarshal(j.items[i], &out[n]); err != nil {
			return nil, err
		}
		before := out[n].Result.Outcome
		if err := fn(&out[n]); err != nil {
			return nil, err
		}
		b, err := json.Marshal(&out[n])
		if err != nil {
			return nil, err
		}
		enc[n] = b
		jobs.Count(&counts, before, -1)
		jobs.Count(&counts, out[n].Result.Outcome, 1)
	}
	for n, i := range idx {
		j.items[i] = enc[n]
	}
	j.header.Job = counts
	return out, nil
}
