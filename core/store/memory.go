package store

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vagate/vagate/core/bank"
)

// Memory keeps accounts and the job queue in one process.
type Memory struct {
	mu       sync.RWMutex
	accounts map[string]map[string]*bank.Account // tenant → id → account
	order    map[string][]string                 // tenant → sorted sort keys
	byRef    map[string]*bank.Account            // provider|providerAccountID → account
	transit  map[AccountKey]bool                 // accounts in a transitional status

	qmu   sync.Mutex
	queue []queued
	qcond chan struct{}
}

type queued struct{ tenant, id string }

// NewMemory returns an empty memory store.
func NewMemory() *Memory {
	return &Memory{
		accounts: map[string]map[string]*bank.Account{},
		order:    map[string][]string{},
		byRef:    map[string]*bank.Account{},
		qcond:    make(chan struct{}),
	}
}

var (
	_ Accounts = (*Memory)(nil)
	_ Queue    = (*Memory)(nil)
)

// PutAccount inserts or replaces a.
func (m *Memory) PutAccount(_ context.Context, a *bank.Account) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.put(a.Clone())
	return nil
}

// put stores a as the next version of its record and indexes it.
func (m *Memory) put(a *bank.Account) {
	t := m.accounts[a.Tenant]
	if t == nil {
		t = map[string]*bank.Account{}
		m.accounts[a.Tenant] = t
	}
	a.Version = 1
	k := sortKey(a)
	ordered := false // a's key is in m.order already
	if old, ok := t[a.ID]; ok {
		a.Version = old.Version + 1
		// An update keeps its creation time, and so its place in the
		// order: moving the key would shift every later one.
		if was := sortKey(old); was == k {
			ordered = true
		} else {
			m.removeKey(a.Tenant, was)
		}
		delete(m.byRef, old.Provider+"|"+old.ProviderAccountID)
	}
	if m.transit == nil {
		m.transit = map[AccountKey]bool{}
	}
	if k := (AccountKey{a.Tenant, a.ID}); a.Status.Transitional() {
		m.transit[k] = true
	} else {
		delete(m.transit, k)
	}
	t[a.ID] = a
	if !ordered {
		keys := m.order[a.Tenant]
		i, _ := slices.BinarySearch(keys, k)
		m.order[a.Tenant] = slices.Insert(keys, i, k)
	}
	m.byRef[a.Provider+"|"+a.ProviderAccountID] = a
}

func (m *Memory) removeKey(tenant, k string) {
	keys := m.order[tenant]
	if i, ok := slices.BinarySearch(keys, k); ok {
		m.order[tenant] = slices.Delete(keys, i, i+1)
	}
}

// GetAccount returns the tenant's account.
func (m *Memory) GetAccount(_ context.Context, tenant, id string) (*bank.Account, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	a, ok := m.accounts[tenant][id]
	if !ok {
		return nil, NotFound("account", id)
	}
	return a.Clone(), nil
}

// FindAccount finds an account by its provider reference.
func (m *Memory) FindAccount(_ context.Context, providerName, ref string) (*bank.Account, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	a, ok := m.byRef[providerName+"|"+ref]
	if !ok {
		return nil, NotFound("account", providerName+"/"+ref)
	}
	return a.Clone(), nil
}

// ProviderAccounts lists the accounts, of every tenant, at the provider
// named providerName, sorted by tenant and id.
func (m *Memory) ProviderAccounts(_ context.Context, providerName string) ([]AccountKey, error) {
	m.mu.RLock()
	var out []AccountKey
	for k, a := range m.byRef {
		if strings.HasPrefix(k, providerName+"|") {
			out = append(out, AccountKey{a.Tenant, a.ID})
		}
	}
	m.mu.RUnlock()
	SortKeys(out)
	return out, nil
}

// SortKeys sorts account keys by tenant, then id.
func SortKeys(ks []AccountKey) {
	slices.SortFunc(ks, func(a, b AccountKey) int {
		if c := strings.Compare(a.Tenant, b.Tenant); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// UpdateAccount applies fn under the store's lock.
func (m *Memory) UpdateAccount(_ context.Context, tenant, id string, fn func(*bank.Account) error) (*bank.Account, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.accounts[tenant][id]
	if !ok {
		return nil, NotFound("account", id)
	}
	c := a.Clone()
	if err := fn(c); err != nil {
		return nil, err
	}
	c.Tenant, c.ID = tenant, id
	m.put(c)
	return c.Clone(), nil
}

// SwapAccount saves a if the stored record is still at a.Version, else
// returns a *ConflictError; the saved copy has the next version.
func (m *Memory) SwapAccount(_ context.Context, a *bank.Account) (*bank.Account, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.accounts[a.Tenant][a.ID]
	if !ok {
		return nil, NotFound("account", a.ID)
	}
	if old.Version != a.Version {
		return nil, &ConflictError{Tenant: a.Tenant, ID: a.ID, Want: a.Version, Have: old.Version}
	}
	c := a.Clone()
	m.put(c)
	return c.Clone(), nil
}

// TransitionalAccounts lists the accounts, of every tenant, in a
// transitional status (bank.Status.Transitional).
func (m *Memory) TransitionalAccounts(context.Context) ([]AccountKey, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]AccountKey, 0, len(m.transit))
	for k := range m.transit {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b AccountKey) int {
		if a.Tenant != b.Tenant {
			return strings.Compare(a.Tenant, b.Tenant)
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// ListAccounts pages through the tenant's accounts in creation order.
func (m *Memory) ListAccounts(_ context.Context, tenant string, f AccountFilter, cursor string, limit int) ([]*bank.Account, string, error) {
	after, err := DecodeCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	keys := m.order[tenant]
	i := 0
	if after != "" {
		i, _ = slices.BinarySearch(keys, after)
		if i < len(keys) && keys[i] == after {
			i++
		}
	}
	var out []*bank.Account
	for ; i < len(keys); i++ {
		a := m.accounts[tenant][idOf(keys[i])]
		if !f.Match(a) {
			continue
		}
		if len(out) == limit {
			return out, EncodeCursor(sortKey(out[len(out)-1])), nil
		}
		out = append(out, a.Clone())
	}
	return out, "", nil
}

func idOf(key string) string {
	for i := range len(key) {
		if key[i] == '|' {
			return key[i+1:]
		}
	}
	return key
}

// Enqueue schedules a job.
func (m *Memory) Enqueue(_ context.Context, tenant, jobID string) error {
	m.qmu.Lock()
	m.queue = append(m.queue, queued{tenant, jobID})
	close(m.qcond)
	m.qcond = make(chan struct{})
	m.qmu.Unlock()
	return nil
}

// Dequeue takes the oldest queued job, waiting for one if needed. A released
// job goes to the back of the queue.
func (m *Memory) Dequeue(ctx context.Context) (*Lease, error) {
	for {
		m.qmu.Lock()
		if len(m.queue) > 0 {
			q := m.queue[0]
			m.queue = m.queue[1:]
			m.qmu.Unlock()
			var once sync.Once
			requeue := func() { _ = m.Enqueue(context.Background(), q.tenant, q.id) }
			return &Lease{Tenant: q.tenant, JobID: q.id,
				Ack:     func() { once.Do(func() {}) },
				Release: func() { once.Do(requeue) },
				Defer:   func(d time.Duration) { once.Do(func() { time.AfterFunc(d, requeue) }) },
			}, nil
		}
		wait := m.qcond
		m.qmu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-wait:
		}
	}
}
