package reconcile

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/vagate/vagate/core/bank"
)

// Store keeps what reconciliation needs across runs and instances: the
// lease that lets one instance at a time reconcile a provider, the reports,
// and the drifts reported and not resolved yet. Memory (one process) and
// reconcileredis (shared by instances) implement it.
type Store interface {
	// AcquireLease takes the lease name for holder for ttl, unless another
	// holder has it and it has not expired; it reports whether it did.
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	// RenewLease extends holder's lease by ttl; false when holder no
	// longer has it.
	RenewLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	// ReleaseLease gives up holder's lease (nothing when another has it).
	ReleaseLease(ctx context.Context, name, holder string) error
	// SaveReport inserts or replaces a report, and makes it its provider's
	// latest when it is newer (by StartedAt) than the latest.
	SaveReport(ctx context.Context, r *Report) error
	// Report returns a report by id, or a NotFound error.
	Report(ctx context.Context, id string) (*Report, error)
	// LatestReport returns the provider's latest report, or a NotFound error.
	LatestReport(ctx context.Context, providerName string) (*Report, error)
	// OpenDrifts returns the provider's drifts reported and not resolved,
	// by fingerprint.
	OpenDrifts(ctx context.Context, providerName string) (map[string]bank.Drift, error)
	// SetOpenDrifts replaces the provider's open drifts.
	SetOpenDrifts(ctx context.Context, providerName string, open map[string]bank.Drift) error
}

// Memory is a Store for one process.
type Memory struct {
	mu      sync.Mutex
	now     func() time.Time
	leases  map[string]lease
	reports map[string]*Report
	latest  map[string]string
	open    map[string]map[string]bank.Drift
}

type lease struct {
	holder string
	until  time.Time
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty memory store; now is its clock (nil: time.Now).
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, leases: map[string]lease{}, reports: map[string]*Report{}, latest: map[string]string{},
		open: map[string]map[string]bank.Drift{}}
}

// AcquireLease takes the lease unless another holder has it unexpired.
func (m *Memory) AcquireLease(_ context.Context, name, holder string, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if l, ok := m.leases[name]; ok && l.holder != holder && now.Before(l.until) {
		return false, nil
	}
	m.leases[name] = lease{holder, now.Add(ttl)}
	return true, nil
}

// RenewLease extends holder's unexpired lease.
func (m *Memory) RenewLease(_ context.Context, name, holder string, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	l, ok := m.leases[name]
	if !ok || l.holder != holder || !now.Before(l.until) {
		return false, nil
	}
	m.leases[name] = lease{holder, now.Add(ttl)}
	return true, nil
}

// ReleaseLease drops holder's lease.
func (m *Memory) ReleaseLease(_ context.Context, name, holder string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.leases[name]; ok && l.holder == holder {
		delete(m.leases, name)
	}
	return nil
}

// SaveReport stores a copy of r.
func (m *Memory) SaveReport(_ context.Context, r *Report) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reports[r.ID] = r.Clone()
	if cur, ok := m.reports[m.latest[r.Provider]]; !ok || cur.ID == r.ID || !r.StartedAt.Before(cur.StartedAt) {
		m.latest[r.Provider] = r.ID
	}
	return nil
}

// Report returns a copy of the report.
func (m *Memory) Report(_ context.Context, id string) (*Report, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.reports[id]
	if !ok {
		return nil, notFound("reconciliation", id)
	}
	return r.Clone(), nil
}

// LatestReport returns a copy of the provider's latest report.
func (m *Memory) LatestReport(ctx context.Context, providerName string) (*Report, error) {
	m.mu.Lock()
	id, ok := m.latest[providerName]
	m.mu.Unlock()
	if !ok {
		return nil, notFound("reconciliation of provider", providerName)
	}
	return m.Report(ctx, id)
}

// OpenDrifts returns a copy of the provider's open drifts.
func (m *Memory) OpenDrifts(_ context.Context, providerName string) (map[string]bank.Drift, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.open[providerName]), nil
}

// SetOpenDrifts replaces the provider's open drifts.
func (m *Memory) SetOpenDrifts(_ context.Context, providerName string, open map[string]bank.Drift) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.open[providerName] = maps.Clone(open)
	return nil
}

func notFound(what, id string) error {
	return &bank.Error{Code: bank.NotFound, Err: fmt.Errorf("%s %q not found", what, id)}
}
