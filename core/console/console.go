// Package console keeps what the operator console shows beyond the stores:
// a short history of every provider's health (for sparklines), the jobs
// and events this instance saw lately, across tenants, and the tenants it
// has heard of. It also embeds the console page itself (assets/), served
// by core/httpapi at /console.
//
// What it keeps is this instance's view, in memory and bounded: jobs and
// events accepted by other instances appear once this one sees them.
package console

import (
	"context"
	"embed"
	"slices"
	"sync"
	"time"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/store"
)

// Assets are the console page's files: index.html, console.js, console.css.
//
//go:embed assets
var Assets embed.FS

// Options tune a Monitor.
type Options struct {
	// Interval is how often provider health is sampled (default 1s).
	Interval time.Duration
	// History is how many samples are kept per provider (default 60).
	History int
	// Jobs and Events bound the recent jobs and events kept (default 50 and 100).
	Jobs, Events int
}

// Sample is one provider health reading.
type Sample struct {
	At        time.Time `json:"at"`
	State     string    `json:"state"`
	ErrorRate float64   `json:"errorRate"`
	LatencyMs float64   `json:"latencyMs"`
	InFlight  int       `json:"inFlight"`
}

// JobRef names a job across tenants.
type JobRef struct {
	Tenant string
	ID     string
}

// Monitor samples provider health and remembers recent jobs and events.
type Monitor struct {
	reg  *gateway.Registry
	opts Options

	mu      sync.Mutex
	history map[string][]Sample
	jobs    []JobRef // oldest first
	events  []*bank.Event
	tenants map[string]bool
}

// New returns a monitor of the providers of reg; opts may be nil.
func New(reg *gateway.Registry, opts *Options) *Monitor {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.History <= 0 {
		o.History = 60
	}
	if o.Jobs <= 0 {
		o.Jobs = 50
	}
	if o.Events <= 0 {
		o.Events = 100
	}
	return &Monitor{reg: reg, opts: o, history: map[string][]Sample{}, tenants: map[string]bool{}}
}

// Run samples provider health every Interval until ctx ends.
func (m *Monitor) Run(ctx context.Context) {
	t := time.NewTicker(m.opts.Interval)
	defer t.Stop()
	m.Sample()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.Sample()
		}
	}
}

// Sample records one health reading of every provider.
func (m *Monitor) Sample() {
	now := time.Now().UTC()
	var samples []Sample
	names := []string{}
	for _, p := range m.reg.All() { // read outside the lock: a breaker read may call back
		h := p.Health()
		samples = append(samples, Sample{At: now, State: p.BreakerState(), ErrorRate: h.RecentErrorRate,
			LatencyMs: float64(h.RecentLatency.Microseconds()) / 1000, InFlight: h.InFlight})
		names = append(names, p.Name())
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, n := range names {
		h := append(m.history[n], samples[i])
		if len(h) > m.opts.History {
			h = slices.Clone(h[len(h)-m.opts.History:])
		}
		m.history[n] = h
	}
}

// History returns the provider's recent samples, oldest first.
func (m *Monitor) History(name string) []Sample {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.history[name])
}

// JobSeen remembers a job accepted or finished (jobs.Options OnSubmit and OnFinish).
func (m *Monitor) JobSeen(_ context.Context, j *bank.Job) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tenants[j.Tenant] = true
	ref := JobRef{Tenant: j.Tenant, ID: j.ID}
	if i := slices.Index(m.jobs, ref); i >= 0 {
		return
	}
	m.jobs = append(m.jobs, ref)
	if len(m.jobs) > m.opts.Jobs {
		m.jobs = slices.Clone(m.jobs[len(m.jobs)-m.opts.Jobs:])
	}
}

// Jobs returns the recent jobs, newest first.
func (m *Monitor) Jobs() []JobRef {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := slices.Clone(m.jobs)
	slices.Reverse(out)
	return out
}

// TenantSeen remembers a tenant, e.g. one with a configured pool.
func (m *Monitor) TenantSeen(tenant string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tenants[tenant] = true
}

// Tenants returns the tenants heard of, sorted.
func (m *Monitor) Tenants() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, len(m.tenants))
	for t := range m.tenants {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// Events returns the recent events of every tenant, newest first.
func (m *Monitor) Events() []*bank.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := slices.Clone(m.events)
	slices.Reverse(out)
	return out
}

func (m *Monitor) eventSeen(e *bank.Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tenants[e.Tenant] = true
	m.events = append(m.events, e)
	if len(m.events) > m.opts.Events {
		m.events = slices.Clone(m.events[len(m.events)-m.opts.Events:])
	}
}

// Tap returns log, remembering every event appended through it.
func (m *Monitor) Tap(log store.Events) store.Events { return &tap{Events: log, m: m} }

type tap struct {
	store.Events
	m *Monitor
}

func (t *tap) AppendEvent(ctx context.Context, e *bank.Event) error {
	if err := t.Events.AppendEvent(ctx, e); err != nil {
		return err
	}
	c := *e
	t.m.eventSeen(&c)
	return nil
}
