package reconcile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"

	"github.com/vagate/vagate/core/accounts"
	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/provider"
	"github.com/vagate/vagate/core/store"
)

// Ledger is what the reconciler reads and repairs the gateway's accounts
// through: *accounts.Service, which owns every write.
type Ledger interface {
	// Get returns the tenant's stored account.
	Get(ctx context.Context, tenant, id string) (*bank.Account, error)
	// ProviderAccounts lists the stored accounts, of every tenant, at a provider.
	ProviderAccounts(ctx context.Context, providerName string) ([]store.AccountKey, error)
	// Find returns the stored account with a provider account id.
	Find(ctx context.Context, providerName, providerAccountID string) (*bank.Account, error)
	// Apply merges a provider's report into the stored account.
	Apply(ctx context.Context, tenant, id string, r accounts.Report) (*bank.Account, error)
	// Adopt records an account the gateway had no record of.
	Adopt(ctx context.Context, tenant, id string, a *bank.Account) (*bank.Account, bool, error)
}

var _ Ledger = (*accounts.Service)(nil)

// ReportStatus is the state of a reconciliation run.
type ReportStatus string

// Report statuses.
const (
	ReportRunning   ReportStatus = "running"
	ReportCompleted ReportStatus = "completed"
	ReportFailed    ReportStatus = "failed"
)

// Triggers of a run.
const (
	TriggerOnDemand = "on_demand"
	TriggerPeriodic = "periodic"
)

// Modes of a run: whether the provider's accounts were listed (so accounts
// unknown to the gateway are found too) or only looked up one by one.
const (
	ModeList   = "list"
	ModeLookup = "lookup"
)

// Report is what one reconciliation run of a provider found and did.
type Report struct {
	ID       string       `json:"id"`
	Provider string       `json:"provider"`
	Status   ReportStatus `json:"status"`
	Trigger  string       `json:"trigger"`
	Mode     string       `json:"mode,omitempty"`
	// Instance names the gateway instance that ran it.
	Instance   string     `json:"instance"`
	StartedAt  time.Time  `json:"startedAt"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
	// GatewayAccounts is how many of the gateway's records were compared;
	// ProviderAccounts how many accounts the provider listed.
	GatewayAccounts  int `json:"gatewayAccounts"`
	ProviderAccounts int `json:"providerAccounts"`
	// Drifts are the drifts this run found that no earlier run had reported.
	Drifts []bank.Drift `json:"drifts"`
	// StillOpen counts drifts an earlier run reported (and could not
	// repair) that are still there; Resolved those no longer found.
	StillOpen int `json:"stillOpen"`
	Resolved  int `json:"resolved"`
	// Skipped counts accounts not compared: created at the provider within
	// the grace period, or a lookup failed.
	Skipped int    `json:"skipped"`
	Error   string `json:"error,omitempty"`
}

// Clone returns a deep copy of r.
func (r *Report) Clone() *Report {
	c := *r
	if r.FinishedAt != nil {
		t := *r.FinishedAt
		c.FinishedAt = &t
	}
	c.Drifts = slices.Clone(r.Drifts)
	return &c
}

// DriftFunc is told of each new drift, with the tenant whose log it
// belongs to: the account's, or the quarantine tenant for an account no
// tenant holds.
type DriftFunc func(ctx context.Context, tenant string, d *bank.Drift)

// ReconcilerOptions tune a Reconciler; zero values are defaults.
type ReconcilerOptions struct {
	// Interval runs every provider periodically (0: on demand only).
	Interval time.Duration
	// AdoptUnknown records accounts the gateway has no record of under
	// QuarantineTenant; otherwise they are only reported.
	AdoptUnknown bool
	// QuarantineTenant holds adopted accounts and the drift events about
	// accounts no tenant holds (default "quarantine").
	QuarantineTenant string
	// Grace leaves alone provider accounts created more recently than this
	// (a job may still be recording them) (default 2m).
	Grace time.Duration
	// LeaseTTL is how long a run's lease lasts unrenewed (default 30s);
	// the run renews it every third of that.
	LeaseTTL time.Duration
	// Instance names this gateway instance in reports (default host/pid).
	Instance string
	// OnDrift is told of every new drift (events).
	OnDrift DriftFunc
	Logger  *slog.Logger
	Meter   metric.MeterProvider
	Now     func() time.Time
}

// Reconciler compares the gateway's account records with each provider's:
// accounts the provider has and the gateway does not (adopted under the
// quarantine tenant, or reported), accounts the gateway has and the
// provider lost, and status and identity mismatches. Only a status catching
// up with the provider's, for an account the gateway does not hold in a
// terminal status, is repaired by itself (through the accounts service);
// the rest is reported. Each new drift is reported once (DriftFunc) and
// stays open, unreported again, until a run no longer finds it. A run holds
// its provider's lease in Store, so one instance at a time reconciles a
// provider.
type Reconciler struct {
	reg    *gateway.Registry
	ledger Ledger
	st     Store
	opts   ReconcilerOptions

	mu   sync.Mutex
	base context.Context
	runs sync.WaitGroup

	runsMetric   metric.Int64Counter
	driftsMetric metric.Int64Counter
}

// NewReconciler returns a reconciler of the providers of reg; call Serve
// to run it periodically and to give on-demand runs their lifetime.
func NewReconciler(reg *gateway.Registry, ledger Ledger, st Store, opts *ReconcilerOptions) *Reconciler {
	var o ReconcilerOptions
	if opts != nil {
		o = *opts
	}
	if o.QuarantineTenant == "" {
		o.QuarantineTenant = "quarantine"
	}
	if o.Grace == 0 {
		o.Grace = 2 * time.Minute
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = 30 * time.Second
	}
	if o.Instance == "" {
		host, _ := os.Hostname()
		o.Instance = fmt.Sprintf("%s/%d", host, os.Getpid())
	}
	if o.OnDrift == nil {
		o.OnDrift = func(context.Context, string, *bank.Drift) {}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Meter == nil {
		o.Meter = metricnoop.NewMeterProvider()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	r := &Reconciler{reg: reg, ledger: ledger, st: st, opts: o, base: context.Background()}
	m := o.Meter.Meter("github.com/vagate/vagate/core/reconcile")
	r.runsMetric, _ = m.Int64Counter("vagate.reconcile.runs", metric.WithDescription("reconciliation runs, by provider and final status"))
	r.driftsMetric, _ = m.Int64Counter("vagate.reconcile.drifts", metric.WithDescription("new drifts found, by provider, kind and action"))
	return r
}

// ErrRunning is in the (AlreadyExists) error of a run asked for while
// another run of the provider holds its lease, on this or another instance.
var ErrRunning = errors.New("a reconciliation of this provider is running")

// Serve gives on-demand runs their lifetime and, with an Interval, runs
// every provider periodically (skipping one whose latest run finished less
// than an interval ago, on any instance) until ctx ends; then it waits for
// the runs in progress, which stop with ctx.
func (r *Reconciler) Serve(ctx context.Context) {
	r.mu.Lock()
	r.base = ctx
	r.mu.Unlock()
	defer r.runs.Wait()
	if r.opts.Interval <= 0 {
		<-ctx.Done()
		return
	}
	t := time.NewTicker(r.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, name := range r.reg.Names() {
			if ctx.Err() != nil {
				return
			}
			if r.recent(ctx, name) {
				continue
			}
			if _, err := r.Run(ctx, name, TriggerPeriodic); err != nil && !errors.Is(err, ErrRunning) && !errors.Is(err, errRecent) {
				r.opts.Logger.Warn("reconcile: periodic run failed", "provider", name, "err", err)
			}
		}
	}
}

// Start begins a run of the provider in the background and returns its
// report, running. A run already holding the provider's lease makes it an
// AlreadyExists error wrapping ErrRunning; an unknown provider a NotFound.
func (r *Reconciler) Start(ctx context.Context, providerName, trigger string) (*Report, error) {
	p, rep, holder, err := r.begin(ctx, providerName, trigger)
	if err != nil {
		return nil, err
	}
	out := rep.Clone()
	r.mu.Lock()
	base := r.base
	r.runs.Add(1)
	r.mu.Unlock()
	go func() {
		defer r.runs.Done()
		r.run(base, p, rep, holder)
	}()
	return out, nil
}

// Run runs the provider's reconciliation and returns its finished report;
// errors as Start.
func (r *Reconciler) Run(ctx context.Context, providerName, trigger string) (*Report, error) {
	p, rep, holder, err := r.begin(ctx, providerName, trigger)
	if err != nil {
		return nil, err
	}
	r.run(ctx, p, rep, holder)
	return rep.Clone(), nil
}

// Report returns a run's report.
func (r *Reconciler) Report(ctx context.Context, id string) (*Report, error) {
	return r.st.Report(ctx, id)
}

// Latest returns the provider's latest report.
func (r *Reconciler) Latest(ctx context.Context, providerName string) (*Report, error) {
	if _, ok := r.reg.Get(providerName); !ok {
		return nil, notFound("provider", providerName)
	}
	return r.st.LatestReport(ctx, providerName)
}

func leaseName(providerName string) string { return "reconcile:" + providerName }

// errRecent skips a periodic run of a provider reconciled within the interval.
var errRecent = errors.New("reconciled less than an interval ago")

// recent says whether the provider's latest run finished less than an
// interval ago.
func (r *Reconciler) recent(ctx context.Context, providerName string) bool {
	last, err := r.st.LatestReport(ctx, providerName)
	return err == nil && last.FinishedAt != nil && r.opts.Now().Sub(*last.FinishedAt) < r.opts.Interval
}

// begin takes the provider's lease and saves the new run's report.
func (r *Reconciler) begin(ctx context.Context, providerName, trigger string) (*gateway.Provider, *Report, string, error) {
	p, ok := r.reg.Get(providerName)
	if !ok {
		return nil, nil, "", notFound("provider", providerName)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, nil, "", err
	}
	rep := &Report{ID: "rcn_" + id.String(), Provider: providerName, Status: ReportRunning, Trigger: trigger,
		Instance: r.opts.Instance, StartedAt: r.opts.Now().UTC(), Drifts: []bank.Drift{}}
	holder := r.opts.Instance + "/" + rep.ID
	got, err := r.st.AcquireLease(ctx, leaseName(providerName), holder, r.opts.LeaseTTL)
	if err != nil {
		return nil, nil, "", err
	}
	if !got {
		return nil, nil, "", &bank.Error{Code: bank.AlreadyExists, Provider: providerName, Op: "reconcile", Err: ErrRunning}
	}
	if trigger == TriggerPeriodic && r.recent(ctx, providerName) {
		// Another instance finished a run since this one looked.
		r.st.ReleaseLease(context.WithoutCancel(ctx), leaseName(providerName), holder)
		return nil, nil, "", errRecent
	}
	if err := r.st.SaveReport(ctx, rep); err != nil {
		r.st.ReleaseLease(context.WithoutCancel(ctx), leaseName(providerName), holder)
		return nil, nil, "", err
	}
	return p, rep, holder, nil
}

// run compares, renewing the lease meanwhile, and saves the report.
func (r *Reconciler) run(ctx context.Context, p *gateway.Provider, rep *Report, holder string) {
	name := leaseName(p.Name())
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		t := time.NewTicker(r.opts.LeaseTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if ok, err := r.st.RenewLease(ctx, name, holder, r.opts.LeaseTTL); err == nil && !ok {
				cancel(errors.New("the run's lease was lost (it expired and another instance may have taken it)"))
				return
			}
		}
	}()
	err := r.compare(ctx, p, rep)
	if cause := context.Cause(ctx); err == nil && cause != nil {
		err = cause
	}
	cancel(nil)
	<-renewed
	done := r.opts.Now().UTC()
	rep.FinishedAt = &done
	rep.Status = ReportCompleted
	if err != nil {
		rep.Status, rep.Error = ReportFailed, err.Error()
		r.opts.Logger.Warn("reconcile: run failed", "provider", p.Name(), "reconciliation_id", rep.ID, "err", err)
	}
	bg := context.WithoutCancel(ctx)
	if err := r.st.SaveReport(bg, rep); err != nil {
		r.opts.Logger.Error("reconcile: saving the report failed", "reconciliation_id", rep.ID, "err", err)
	}
	r.st.ReleaseLease(bg, name, holder)
	r.runsMetric.Add(bg, 1, metric.WithAttributes(attribute.String("provider", p.Name()), attribute.String("status", string(rep.Status))))
	r.opts.Logger.Info("reconcile: run finished", "provider", p.Name(), "reconciliation_id", rep.ID, "status", string(rep.Status),
		"new_drifts", len(rep.Drifts), "still_open", rep.StillOpen, "resolved", rep.Resolved)
}

// maxPages bounds the pages of one listing.
const maxPages = 100000

// found is one drift a run found, with the tenant whose log it belongs to.
type found struct {
	tenant string
	drift  bank.Drift
}

// compare runs the comparison and records its drifts.
func (r *Reconciler) compare(ctx context.Context, p *gateway.Provider, rep *Report) error {
	keys, err := r.ledger.ProviderAccounts(ctx, p.Name())
	if err != nil {
		return err
	}
	gw := map[string]*bank.Account{}
	for _, k := range keys {
		a, err := r.ledger.Get(ctx, k.Tenant, k.ID)
		if bank.Code(err) == bank.NotFound {
			continue
		}
		if err != nil {
			return err
		}
		gw[a.ProviderAccountID] = a
	}
	rep.GatewayAccounts = len(gw)
	var drifts []found
	if p.Supports(provider.CapList) {
		rep.Mode = ModeList
		seen := map[string]bool{}
		cursor := ""
		for range maxPages {
			asked := r.opts.Now()
			page, next, err := p.ListAccounts(ctx, cursor)
			if err != nil {
				return fmt.Errorf("listing the provider's accounts: %w", err)
			}
			for _, acc := range page {
				if seen[acc.ProviderAccountID] {
					continue
				}
				seen[acc.ProviderAccountID] = true
				rep.ProviderAccounts++
				if g, ok := gw[acc.ProviderAccountID]; ok {
					drifts = append(drifts, r.compareOne(ctx, g, acc, asked)...)
					continue
				}
				if f, ok := r.unknown(ctx, rep, acc); ok {
					drifts = append(drifts, f)
				}
			}
			if next == "" {
				break
			}
			cursor = next
		}
		for _, pid := range slices.Sorted(maps.Keys(gw)) {
			if !seen[pid] {
				drifts = append(drifts, r.lookup(ctx, p, rep, gw[pid])...)
			}
		}
	} else {
		rep.Mode = ModeLookup
		for _, pid := range slices.Sorted(maps.Keys(gw)) {
			drifts = append(drifts, r.lookup(ctx, p, rep, gw[pid])...)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return r.record(ctx, p.Name(), rep, drifts)
}

// lookup reads one of the gateway's accounts from the provider and
// compares it; one the provider does not have is missing there.
func (r *Reconciler) lookup(ctx context.Context, p *gateway.Provider, rep *Report, g *bank.Account) []found {
	asked := r.opts.Now()
	fresh, err := p.GetAccount(ctx, g.ProviderAccountID)
	switch {
	case bank.Code(err) == bank.NotFound:
		return []found{{g.Tenant, bank.Drift{Kind: bank.DriftMissingAtProvider, Provider: p.Name(), ProviderAccountID: g.ProviderAccountID,
			AccountID: g.ID, Gateway: g, Action: bank.DriftReported}}}
	case err != nil:
		rep.Skipped++
		r.opts.Logger.Debug("reconcile: lookup failed", "provider", p.Name(), "account_id", g.ID, "code", bank.Code(err).String())
		return nil
	}
	return r.compareOne(ctx, g, fresh, asked)
}

// unknown handles an account the provider has and the gateway's snapshot
// did not: one created within the grace period, or recorded meanwhile, is
// left alone; the rest is adopted (AdoptUnknown) or reported.
func (r *Reconciler) unknown(ctx context.Context, rep *Report, acc *bank.Account) (found, bool) {
	if !acc.CreatedAt.IsZero() && r.opts.Now().Sub(acc.CreatedAt) < r.opts.Grace {
		rep.Skipped++
		return found{}, false
	}
	if _, err := r.ledger.Find(ctx, acc.Provider, acc.ProviderAccountID); err == nil {
		return found{}, false
	} else if bank.Code(err) != bank.NotFound {
		rep.Skipped++
		return found{}, false
	}
	d := bank.Drift{Kind: bank.DriftUnknownAtGateway, Provider: acc.Provider, ProviderAccountID: acc.ProviderAccountID,
		AtProvider: acc, Action: bank.DriftReported}
	if r.opts.AdoptUnknown {
		id := AdoptedID(acc.Provider, acc.ProviderAccountID)
		saved, adopted, err := r.ledger.Adopt(ctx, r.opts.QuarantineTenant, id, acc)
		switch {
		case err != nil:
			d.Error = "adopting it failed: " + err.Error()
		case !adopted && saved.Tenant == r.opts.QuarantineTenant && saved.ID == id:
			return found{}, false // adopted by an earlier run
		case !adopted:
			return found{}, false // recorded meanwhile
		default:
			d.Action, d.AccountID = bank.DriftAdopted, id
		}
	}
	return found{r.opts.QuarantineTenant, d}, true
}

// AdoptedID is the gateway id an account unknown to the gateway is adopted
// under: the same on every run and instance.
func AdoptedID(providerName, providerAccountID string) string {
	return "va_" + uuid.NewSHA1(uuid.NameSpaceURL, fmt.Appendf(nil, "vagate:adopt:%s\n%s", providerName, providerAccountID)).String()
}

// compareOne compares the gateway's record g with the provider's fresh
// view, asked at asked, and repairs a status that may catch up.
func (r *Reconciler) compareOne(ctx context.Context, g, fresh *bank.Account, asked time.Time) []found {
	var out []found
	base := bank.Drift{Provider: g.Provider, ProviderAccountID: g.ProviderAccountID, AccountID: g.ID, Gateway: g, AtProvider: fresh}
	if fresh.Status != "" && fresh.Status != g.Status {
		d := base
		d.Kind, d.Fields, d.Action = bank.DriftStatusMismatch, []string{"status"}, bank.DriftReported
		switch {
		case g.Status.Terminal():
			d.Error = fmt.Sprintf("the gateway's record is %s, a terminal status: not changed by itself", g.Status)
		default:
			// Only the status catches up: identity fields are the
			// client's and never change by themselves.
			rep := accounts.Report{Account: &bank.Account{Status: fresh.Status, ProviderStatus: fresh.ProviderStatus}, At: fresh.UpdatedAt, Asked: asked}
			saved, err := r.ledger.Apply(ctx, g.Tenant, g.ID, rep)
			switch {
			case err != nil:
				d.Error = "repairing it failed: " + err.Error()
			case saved.Status == fresh.Status:
				d.Action = bank.DriftRepaired
			case saved.Version != g.Version:
				return nil // changed meanwhile: the next run compares again
			default:
				d.Error = "the provider's state is dated before the gateway's record: not applied"
			}
		}
		out = append(out, found{g.Tenant, d})
	}
	if fields := identityDiff(g, fresh); len(fields) > 0 {
		d := base
		d.Kind, d.Fields, d.Action = bank.DriftIdentityMismatch, fields, bank.DriftReported
		out = append(out, found{g.Tenant, d})
	}
	return out
}

// identityDiff names the identity fields both sides give and that differ.
func identityDiff(g, p *bank.Account) []string {
	var out []string
	for _, f := range []struct {
		name string
		a, b string
	}{
		{"currency", g.Currency, p.Currency},
		{"accountHolderName", g.AccountHolderName, p.AccountHolderName},
		{"accountName", g.AccountName, p.AccountName},
	} {
		if f.a != "" && f.b != "" && f.a != f.b {
			out = append(out, f.name)
		}
	}
	if a, b := routes(g), routes(p); len(a) > 0 && len(b) > 0 && !slices.Equal(a, b) {
		out = append(out, "bankDetails")
	}
	return out
}

// routes lists the IBANs and account numbers of an account, sorted.
func routes(a *bank.Account) []string {
	var out []string
	for _, d := range a.BankDetails {
		if d.IBAN != "" {
			out = append(out, "iban:"+d.IBAN)
		}
		if d.AccountNumber != "" {
			out = append(out, "number:"+d.AccountNumber)
		}
	}
	slices.Sort(out)
	return out
}

// fingerprint identifies a drift across runs: its kind, account and the
// values that differ.
func fingerprint(d *bank.Drift) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n%s\n%s\n%s", d.Kind, d.Provider, d.ProviderAccountID, d.AccountID)
	if d.Gateway != nil && d.AtProvider != nil {
		for _, f := range d.Fields {
			fmt.Fprintf(&b, "\n%s=%s|%s", f, field(d.Gateway, f), field(d.AtProvider, f))
		}
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:16])
}

// field is the value of a compared field of a.
func field(a *bank.Account, name string) string {
	switch name {
	case "status":
		return string(a.Status)
	case "currency":
		return a.Currency
	case "accountHolderName":
		return a.AccountHolderName
	case "accountName":
		return a.AccountName
	case "bankDetails":
		return strings.Join(routes(a), ",")
	}
	return ""
}

// record reports the new drifts (events, metrics, the report) and keeps
// the ones left open for the next run.
func (r *Reconciler) record(ctx context.Context, providerName string, rep *Report, drifts []found) error {
	prev, err := r.st.OpenDrifts(ctx, providerName)
	if err != nil {
		return err
	}
	open := map[string]bank.Drift{}
	now := r.opts.Now().UTC()
	for _, f := range drifts {
		d := f.drift
		d.DetectedAt = now
		fp := fingerprint(&d)
		if d.Action == bank.DriftReported {
			if old, ok := prev[fp]; ok {
				open[fp] = old
				rep.StillOpen++
				continue
			}
			open[fp] = d
		}
		rep.Drifts = append(rep.Drifts, d)
		r.driftsMetric.Add(ctx, 1, metric.WithAttributes(attribute.String("provider", providerName),
			attribute.String("kind", string(d.Kind)), attribute.String("action", string(d.Action))))
		r.opts.Logger.Warn("reconcile: drift", "provider", providerName, "kind", string(d.Kind), "action", string(d.Action),
			"provider_account_id", d.ProviderAccountID, "account_id", d.AccountID)
		r.opts.OnDrift(ctx, f.tenant, &d)
	}
	for fp := range prev {
		if _, ok := open[fp]; !ok {
			rep.Resolved++
		}
	}
	return r.st.SetOpenDrifts(ctx, providerName, open)
}
