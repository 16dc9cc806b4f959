// Package gateway is vagate's portable layer. Provider wraps one adapter and
// is the only way the rest of vagate calls it. The package owns every rule a
// request's values must meet (the unified limits, each adapter's declared
// capabilities and limits, its item and params validators; see Router.Plan)
// and applies them once, before anything is sent. Provider also refuses
// missing capabilities with Unimplemented, waits for asynchronous creates
// (polling, woken early by verified callbacks), and wraps every adapter
// error exactly once in a *bank.Error naming provider and operation.
//
// Resilience (breakers, retries, limits) and telemetry live here too, so that
// adapters stay thin and behave alike.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/provider"
)

// Options tune a Provider; the zero value is usable.
type Options struct {
	// Tracer and Meter record a span and metrics per call (nil: none).
	Tracer trace.TracerProvider
	Meter  metric.MeterProvider
	// Client is the resilient HTTP client the adapter was opened with; the
	// provider reports its breaker and installs the adapter's AttemptSigner
	// on it.
	Client *Client
	// PollInterval is the first wait between polls of an asynchronous create
	// (default 200ms); it doubles up to MaxPollInterval (default 5s).
	PollInterval    time.Duration
	MaxPollInterval time.Duration
	// TenantAccounts lists, per tenant, the provider-side money accounts
	// (see provider.MoneyAccounts) that tenant may name in providerParams
	// besides the adapter's defaults. A tenant not listed may name only the
	// defaults.
	TenantAccounts map[string][]string
}

func (o *Options) withDefaults() Options {
	var r Options
	if o != nil {
		r = *o
	}
	if r.PollInterval <= 0 {
		r.PollInterval = 200 * time.Millisecond
	}
	if r.MaxPollInterval <= 0 {
		r.MaxPollInterval = 5 * time.Second
	}
	if r.MaxPollInterval < r.PollInterval {
		r.MaxPollInterval = r.PollInterval
	}
	return r
}

// Provider is the portable wrapper around one adapter.
type Provider struct {
	name      string
	a         provider.Adapter
	caps      provider.Capabilities
	supported []provider.Capability // derived once, in New
	opts      Options

	mu     sync.Mutex
	kick   chan struct{} // closed and replaced when a provider job finishes
	health health
	forced forced
	tel    *providerTelemetry
}

// New wraps adapter a under name. It derives what the provider supports from
// the interfaces the adapter implements and the facts it declares, and
// refuses declarations that contradict each other.
func New(name string, a provider.Adapter, opts *Options) (*Provider, error) {
	if name == "" {
		return nil, errors.New("gateway: provider name is empty")
	}
	if a == nil {
		return nil, fmt.Errorf("gateway: provider %q: adapter is nil", name)
	}
	caps := a.Capabilities()
	supported, err := supportedBy(a, caps)
	if err != nil {
		return nil, fmt.Errorf("gateway: provider %q: %w", name, err)
	}
	p := &Provider{name: name, a: a, caps: caps, supported: supported, opts: opts.withDefaults(), kick: make(chan struct{})}
	p.tel = newProviderTelemetry(p.opts.Tracer, p.opts.Meter)
	if s, ok := a.(provider.AttemptSigner); ok && p.opts.Client != nil {
		p.opts.Client.SetSigner(s)
	}
	return p, nil
}

// interfaces maps each capability an adapter has by implementing an
// optional interface to the check for that interface.
var interfaces = map[provider.Capability]func(provider.Adapter) bool{
	provider.CapAsyncCreate:     implements[provider.Poller],
	provider.CapAllocate:        implements[provider.Allocator],
	provider.CapBlock:           implements[provider.Blocker],
	provider.CapClose:           implements[provider.Closer],
	provider.CapFindByReference: implements[provider.Finder],
	provider.CapList:            implements[provider.Lister],
	provider.CapWebhooks:        implements[provider.WebhookVerifier],
}

func implements[T any](a provider.Adapter) bool { _, ok := a.(T); return ok }

// supportedBy lists, in listing order, the capabilities of a: create; those
// of the interfaces it implements, less those its configuration disables;
// and the facts it declares.
func supportedBy(a provider.Adapter, c provider.Capabilities) ([]provider.Capability, error) {
	if c.Style == "" {
		return nil, errors.New("capabilities: style is empty")
	}
	if c.MaxBatch < 1 {
		return nil, errors.New("capabilities: maxBatch must be at least 1")
	}
	if len(c.Currencies) == 0 {
		return nil, errors.New("capabilities: no currencies")
	}
	for _, d := range c.Disabled {
		switch has, ok := interfaces[d]; {
		case !ok:
			return nil, fmt.Errorf("capabilities: disabled %q is not a capability of an optional interface", d)
		case !has(a):
			return nil, fmt.Errorf("capabilities: disabled %q, which the adapter does not implement", d)
		}
	}
	var out []provider.Capability
	for _, cp := range provider.AllCapabilities() {
		var has bool
		switch cp {
		case provider.CapCreate:
			has = true
		case provider.CapUnallocated:
			has = c.Unallocated
		case provider.CapIdempotentCreate:
			has = c.IdempotentCreate
		default:
			check, ok := interfaces[cp]
			has = ok && check(a) && !slices.Contains(c.Disabled, cp)
		}
		if has {
			out = append(out, cp)
		}
	}
	if c.Unallocated && !slices.Contains(out, provider.CapAllocate) {
		return nil, errors.New("capabilities: unallocated without Allocator: an unallocated account could never be allocated")
	}
	return out, nil
}

// Name is the configured provider name.
func (p *Provider) Name() string { return p.name }

// Capabilities is what the adapter declared.
func (p *Provider) Capabilities() provider.Capabilities { return p.caps }

// Supports reports whether the provider has capability c.
func (p *Provider) Supports(c provider.Capability) bool { return slices.Contains(p.supported, c) }

// Supported lists the provider's capabilities in listing order (see
// provider.AllCapabilities).
func (p *Provider) Supported() []provider.Capability { return slices.Clone(p.supported) }

// Adapter returns the wrapped adapter, for As-style access in tests.
func (p *Provider) Adapter() provider.Adapter { return p.a }

// wrap classifies err once and names the provider and operation. The
// message keeps no provider URL or address: they are internal, and the
// error reaches job results and GET /v1/providers.
func (p *Provider) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var be *bank.Error
	if errors.As(err, &be) && be.Provider != "" {
		if error(be) == err {
			return err
		}
		// Classified by the client below a wrapper such as *url.Error
		// that names the URL: keep the classification, drop the wrapper.
		e := *be
		e.Err = withoutURLs(be.Err)
		return &e
	}
	e := &bank.Error{Code: p.a.ErrorCode(err), Provider: p.name, Op: op, Err: withoutURLs(err)}
	if errors.As(err, &be) {
		e.Fields = be.Fields
		e.RetryAfter = be.RetryAfter
	}
	var se *provider.StatusError
	if errors.As(err, &se) && e.RetryAfter == 0 {
		e.RetryAfter = se.RetryAfter
	}
	switch {
	case errors.Is(err, context.Canceled):
		e.Code = bank.Canceled
	case errors.Is(err, context.DeadlineExceeded) && e.Code == bank.Unknown:
		e.Code = bank.DeadlineExceeded
	}
	return e
}

// call runs one adapter call: the single place every provider call passes
// through, so that health, and the resilience and telemetry built on it,
// see all of them. The returned error is wrapped once.
//
// A call that failed after one of its writes may have reached the provider
// (see OutcomeUnknownError) is Unknown, whatever its last attempt said: a
// later 503 does not undo what an earlier attempt may have done.
func (p *Provider) call(ctx context.Context, op string, f func(ctx context.Context) error) error {
	if err := p.forcedOpen(op); err != nil {
		return err
	}
	ctx, end := p.startCall(ctx, op)
	done := p.track(ctx)
	o := &callOutcome{}
	err := p.settle(op, p.wrap(op, f(context.WithValue(ctx, outcomeKey{}, o))), o)
	done(err)
	end(err)
	return err
}

// settle reports err as Unknown when it claims a known outcome but an
// earlier attempt of the call left the outcome unknown.
func (p *Provider) settle(op string, err error, o *callOutcome) error {
	earlier := o.get()
	if err == nil || earlier == nil || !bank.Code(err).OutcomeKnown() {
		return err
	}
	last := err
	if be, ok := err.(*bank.Error); ok && be.Err != nil {
		last = be.Err
	}
	return &bank.Error{Code: bank.Unknown, Provider: p.name, Op: op, Err: &OutcomeUnknownError{Earlier: earlier, Err: last}}
}

// accountCall runs an adapter call that answers with one account.
func (p *Provider) accountCall(ctx context.Context, op string, f func(ctx context.Context) (*bank.Account, error)) (*bank.Account, error) {
	var acc *bank.Account
	if err := p.call(ctx, op, func(ctx context.Context) (err error) { acc, err = f(ctx); return err }); err != nil {
		return nil, err
	}
	if acc == nil {
		return nil, p.wrap(op, &provider.MalformedError{Op: op, Err: errors.New("adapter returned no account")})
	}
	acc.Provider = p.name
	return acc, nil
}

// unsupported is the error for a capability the provider lacks.
func (p *Provider) unsupported(op string, capability provider.Capability) error {
	return &bank.Error{
		Code: bank.Unimplemented, Provider: p.name, Op: op,
		Err: &CapabilityError{Provider: p.name, Capability: capability},
	}
}

// CapabilityError says which capability a provider lacks.
type CapabilityError struct {
	Provider   string
	Capability provider.Capability
}

// Error names the provider and capability.
func (e *CapabilityError) Error() string {
	return fmt.Sprintf("provider %q does not support capability %s", e.Provider, e.Capability)
}

// WebhookError says that an inbound callback could not be verified as
// coming from its provider. There the provider is the gateway's caller, so
// the refusal is the caller's Unauthenticated, not a failure of the
// gateway's own credentials.
type WebhookError struct {
	Provider string
	Err      error
}

// Error names the provider and why the callback was refused.
func (e *WebhookError) Error() string {
	return fmt.Sprintf("callback not verified as coming from provider %q: %v", e.Provider, e.Err)
}

// Unwrap returns the adapter's reason.
func (e *WebhookError) Unwrap() error { return e.Err }

// CreateAccounts validates req, creates its items and, for asynchronous
// providers, waits until the provider finishes or ctx ends: ValidateCreate,
// then Create with no history. Per-item errors are wrapped.
func (p *Provider) CreateAccounts(ctx context.Context, req *provider.CreateRequest) ([]provider.ItemResult, error) {
	if err := p.ValidateCreate(req); err != nil {
		return nil, err
	}
	return p.Create(ctx, req, nil)
}

// Submit validates req and sends it once, without waiting for an
// asynchronous provider to finish, and without Create's resends and
// lookups. A pending result carries the operation to Await.
func (p *Provider) Submit(ctx context.Context, req *provider.CreateRequest) (*provider.CreateResult, error) {
	if err := p.ValidateCreate(req); err != nil {
		return nil, err
	}
	withReferences(req, p.Supports(provider.CapIdempotentCreate))
	return p.submit(ctx, req)
}

// submit sends a validated request once. Only a provider that deduplicates
// creates by idempotency key has its transport resend it.
func (p *Provider) submit(ctx context.Context, req *provider.CreateRequest) (*provider.CreateResult, error) {
	const op = "create"
	if p.Supports(provider.CapIdempotentCreate) {
		ctx = withResend(ctx)
	}
	var res *provider.CreateResult
	if err := p.call(ctx, op, func(ctx context.Context) (err error) { res, err = p.a.CreateAccounts(ctx, req); return err }); err != nil {
		return nil, err
	}
	return p.checkResult(op, req, res)
}

func (p *Provider) checkResult(op string, req *provider.CreateRequest, res *provider.CreateResult) (*provider.CreateResult, error) {
	if res == nil {
		return nil, p.wrap(op, errors.New("adapter returned no result"))
	}
	if res.Pending {
		if res.Operation == "" {
			return nil, p.wrap(op, errors.New("adapter returned a pending result without an operation"))
		}
		return res, nil
	}
	if len(res.Items) != len(req.Items) {
		return nil, p.wrap(op, fmt.Errorf("adapter returned %d results for %d items", len(res.Items), len(req.Items)))
	}
	for i := range res.Items {
		it := &res.Items[i]
		if it.Err != nil {
			it.Err = p.wrap(op, it.Err)
			it.Account = nil
			continue
		}
		if it.Account == nil {
			it.Err = p.wrap(op, fmt.Errorf("adapter returned neither account nor error for item %d", i))
			continue
		}
		it.Account.Provider = p.name
		keepClientFields(it.Account, &req.Items[i])
	}
	return res, nil
}

// keepClientFields gives acc the fields the client gave its item that the
// provider reported none of: the gateway keeps what the provider has no
// place for (names, reference, identity details), as given.
func keepClientFields(acc *bank.Account, it *provider.CreateItem) {
	for _, f := range []struct {
		dst *string
		src string
	}{
		{&acc.ClientReference, it.ClientReference}, {&acc.AccountHolderName, it.AccountHolderName},
		{&acc.AccountName, it.AccountName}, {&acc.DOB, it.DOB}, {&acc.NativeLanguageName, it.NativeLanguageName},
	} {
		if *f.dst == "" {
			*f.dst = f.src
		}
	}
}

// Poll asks once for the state of an asynchronous create.
func (p *Provider) Poll(ctx context.Context, operation string, req *provider.CreateRequest) (*provider.CreateResult, error) {
	const op = "poll"
	pl, ok := p.a.(provider.Poller)
	if !ok || !p.Supports(provider.CapAsyncCreate) {
		return nil, p.unsupported(op, provider.CapAsyncCreate)
	}
	ctx = withResend(ctx)
	var res *provider.CreateResult
	if err := p.call(ctx, op, func(ctx context.Context) (err error) { res, err = pl.PollCreate(ctx, operation, req); return err }); err != nil {
		return nil, err
	}
	return p.checkResult(op, req, res)
}

// Await polls operation until it finishes or ctx ends, with a doubling
// interval; a verified job callback (Notify) wakes it early. Transient poll
// failures are tolerated until ctx ends; a permanent one ends the wait.
func (p *Provider) Await(ctx context.Context, operation string, req *provider.CreateRequest) (*provider.CreateResult, error) {
	return p.await(ctx, operation, req, p.kicked())
}

// kicked is the channel the next Notify closes.
func (p *Provider) kicked() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.kick
}

// await is Await, its first wait ended by kick: the channel taken before
// the create was sent, so that a callback arriving before the wait starts
// (a provider job that finished at once) is not missed.
func (p *Provider) await(ctx context.Context, operation string, req *provider.CreateRequest, kick <-chan struct{}) (*provider.CreateResult, error) {
	wait := p.opts.PollInterval
	for {
		if kick == nil {
			kick = p.kicked()
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, p.wrap("poll", ctx.Err())
		case <-kick:
			t.Stop()
		case <-t.C:
		}
		kick = nil
		res, err := p.Poll(ctx, operation, req)
		if err == nil && !res.Pending {
			return res, nil
		}
		if err != nil && !transient(bank.Code(err)) {
			return nil, err
		}
		wait = min(wait*2, p.opts.MaxPollInterval)
	}
}

func transient(c bank.ErrorCode) bool {
	switch c {
	case bank.Unavailable, bank.ResourceExhausted, bank.DeadlineExceeded, bank.Internal, bank.Unknown:
		return true
	}
	return false
}

// Notify wakes every Await on this provider so it polls now. The gateway
// calls it when a verified callback says a provider job finished.
func (p *Provider) Notify() {
	p.mu.Lock()
	close(p.kick)
	p.kick = make(chan struct{})
	p.mu.Unlock()
}

// GetAccount reads one account from the provider.
func (p *Provider) GetAccount(ctx context.Context, ref string) (*bank.Account, error) {
	const op = "get"
	if ref == "" {
		return nil, &bank.Error{Code: bank.InvalidArgument, Provider: p.name, Op: op, Err: errors.New("empty account reference")}
	}
	ctx = withResend(ctx)
	return p.accountCall(ctx, op, func(ctx context.Context) (*bank.Account, error) { return p.a.GetAccount(ctx, ref) })
}

// FindByReference lists the provider's accounts created with the gateway
// reference (provider.CreateItem.Reference); an account the adapter returns
// with any other reference is dropped, never bound.
func (p *Provider) FindByReference(ctx context.Context, reference string) ([]*bank.Account, error) {
	const op = "find"
	f, ok := p.a.(provider.Finder)
	if !ok || !p.Supports(provider.CapFindByReference) {
		return nil, p.unsupported(op, provider.CapFindByReference)
	}
	ctx = withResend(ctx)
	var as []*bank.Account
	if reference == "" {
		return nil, &bank.Error{Code: bank.InvalidArgument, Provider: p.name, Op: op, Err: errors.New("empty reference")}
	}
	if err := p.call(ctx, op, func(ctx context.Context) (err error) { as, err = f.FindByReference(ctx, reference); return err }); err != nil {
		return nil, err
	}
	out := as[:0]
	for _, a := range as {
		if a == nil || a.Reference != reference {
			continue
		}
		a.Provider = p.name
		out = append(out, a)
	}
	return out, nil
}

// ListAccounts reads one page of the provider's accounts (see
// provider.Lister); an empty next cursor means it was the last.
func (p *Provider) ListAccounts(ctx context.Context, cursor string) ([]*bank.Account, string, error) {
	const op = "list"
	l, ok := p.a.(provider.Lister)
	if !ok || !p.Supports(provider.CapList) {
		return nil, "", p.unsupported(op, provider.CapList)
	}
	ctx = withResend(ctx)
	var as []*bank.Account
	var next string
	if err := p.call(ctx, op, func(ctx context.Context) (err error) { as, next, err = l.ListAccounts(ctx, cursor); return err }); err != nil {
		return nil, "", err
	}
	out := as[:0]
	for _, a := range as {
		if a == nil {
			continue
		}
		a.Provider = p.name
		out = append(out, a)
	}
	if next == cursor && next != "" {
		return nil, "", p.wrap(op, &provider.MalformedError{Op: op, Err: errors.New("the next page's cursor is the one asked for")})
	}
	return out, next, nil
}

// Allocate updates holder details or the client reference of an account.
func (p *Provider) Allocate(ctx context.Context, ref string, a *provider.Allocation) (*bank.Account, error) {
	const op = "allocate"
	al, ok := p.a.(provider.Allocator)
	if !ok || !p.Supports(provider.CapAllocate) {
		return nil, p.unsupported(op, provider.CapAllocate)
	}
	if err := p.ValidateAllocation(a); err != nil {
		return nil, err
	}
	// Setting the same fields again changes nothing: safe to resend.
	ctx = withResend(ctx)
	return p.accountCall(ctx, op, func(ctx context.Context) (*bank.Account, error) { return al.Allocate(ctx, ref, a) })
}

// Block blocks an account.
func (p *Provider) Block(ctx context.Context, ref string) (*bank.Account, error) {
	return p.blocker(ctx, "block", ref, provider.Blocker.Block)
}

// Unblock unblocks an account.
func (p *Provider) Unblock(ctx context.Context, ref string) (*bank.Account, error) {
	return p.blocker(ctx, "unblock", ref, provider.Blocker.Unblock)
}

func (p *Provider) blocker(ctx context.Context, op, ref string, f func(provider.Blocker, context.Context, string) (*bank.Account, error)) (*bank.Account, error) {
	b, ok := p.a.(provider.Blocker)
	if !ok || !p.Supports(provider.CapBlock) {
		return nil, p.unsupported(op, provider.CapBlock)
	}
	return p.accountCall(ctx, op, func(ctx context.Context) (*bank.Account, error) { return f(b, ctx, ref) })
}

// Close closes an account.
func (p *Provider) Close(ctx context.Context, ref string, r *provider.CloseReason) (*bank.Account, error) {
	const op = "close"
	c, ok := p.a.(provider.Closer)
	if !ok || !p.Supports(provider.CapClose) {
		return nil, p.unsupported(op, provider.CapClose)
	}
	if r == nil {
		r = &provider.CloseReason{}
	}
	if err := p.validateClose(r); err != nil {
		return nil, err
	}
	return p.accountCall(ctx, op, func(ctx context.Context) (*bank.Account, error) { return c.Close(ctx, ref, r) })
}

// VerifyWebhook authenticates an inbound callback and returns what it says.
// Any failure is Unauthenticated, with a *WebhookError: nothing from an
// unverified body is believed.
func (p *Provider) VerifyWebhook(r *http.Request, body []byte) ([]bank.ProviderEvent, error) {
	const op = "webhook"
	v, ok := p.a.(provider.WebhookVerifier)
	if !ok || !p.Supports(provider.CapWebhooks) {
		return nil, p.unsupported(op, provider.CapWebhooks)
	}
	evs, err := v.VerifyWebhook(r, body)
	if err != nil {
		return nil, &bank.Error{Code: bank.Unauthenticated, Provider: p.name, Op: op, Err: &WebhookError{Provider: p.name, Err: err}}
	}
	for _, ev := range evs {
		if ev.Type == bank.EventJobFinished {
			p.Notify()
			break
		}
	}
	return evs, nil
}
