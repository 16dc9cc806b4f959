package gateway

import (
	"fmt"
	"slices"
	"sync"
)

// Registry holds the configured providers by name. Providers are registered
// explicitly at start-up; there is no global registry.
type Registry struct {
	mu sync.RWMutex
	m  map[string]*Provider
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{m: map[string]*Provider{}} }

// Register adds p; a second provider with the same name is an error.
func (r *Registry) Register(p *Provider) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.m[p.Name()]; dup {
		return fmt.Errorf("gateway: provider %q registered twice", p.Name())
	}
	r.m[p.Name()] = p
	return nil
}

// Get returns the provider called name.
func (r *Registry) Get(name string) (*Provider, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	p, ok := r.m[name]
	return p, ok
}

// Names returns the registered names, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.m))
	for n := range r.m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// All returns the registered providers, sorted by name.
func (r *Registry) All() []*Provider {
	names := r.Names()
	ps := make([]*Provider, len(names))
	for i, n := range names {
		ps[i], _ = r.Get(n)
	}
	return ps
}
