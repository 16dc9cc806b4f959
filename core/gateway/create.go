package gateway

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/provider"
)

// CreateOptions say where a create stands, and let its caller record its
// progress. The zero value (or nil) is a create never sent before.
type CreateOptions struct {
	// Operation is the asynchronous operation an earlier send started:
	// Create awaits it and sends nothing.
	Operation string
	// SentBefore says the request may have reached the provider already
	// (an earlier run was interrupted, or left its outcome unknown). A
	// provider without idempotency keys is then searched by the items'
	// gateway references before anything is sent, and no later failure
	// alone proves that nothing was created.
	SentBefore bool
	// BeforeSend is called once, just before the first send (after the
	// bulkhead let the create through). An error stops Create with
	// nothing sent; the error returned then wraps ErrNotSent.
	BeforeSend func() error
	// OnOperation is called with the operation of an asynchronous create
	// before Create waits for it, so that the wait can be resumed.
	OnOperation func(operation string)
	// FailFast is for a caller with somewhere else to send the create (a
	// fallback provider). An attempt the client refuses without sending it
	// (an open breaker) ends Create at once, instead of being waited out,
	// when nothing was sent before; the error wraps ErrFailFast. And after
	// a send whose outcome was unknown, once a lookup by reference found
	// none of the items, the next attempt ending without acting (refused
	// unsent, or answered unavailable or too many requests) ends Create
	// with an Unavailable error wrapping ErrNotCreated, the evidence that
	// nothing was created, instead of leaving the outcome unknown.
	FailFast bool
}

// ErrNotSent is wrapped by Create's error when CreateOptions.BeforeSend
// failed: nothing was sent, so the create's outcome is untouched.
var ErrNotSent = errors.New("create not sent")

// ErrNotCreated is wrapped by Create's (Unavailable) error when sends whose
// outcome was unknown were followed by a lookup by reference that found
// none of the items: the evidence that the provider created nothing.
var ErrNotCreated = errors.New("looked up by the gateway reference afterwards: not at the provider, so not created")

// Create creates req's items and, for asynchronous providers, waits until
// the provider finishes or ctx ends. req has met every rule already: it is
// the request of a job whose items Router.Plan accepted, or one
// CreateAccounts or ValidateCreate checked; Create does not check it again.
// It alone decides whether a create may be sent again:
//
//   - A provider that takes an idempotency key has the request resent with
//     the same key by the client's transport, and only there; an outcome
//     still unknown after that is left for the caller to check again later.
//   - A provider without one is never resent blindly: after a send whose
//     outcome is unknown (once Limits.SettleDelay has let it finish at the
//     provider), or, when SentBefore, before the first, the items are
//     looked up by their gateway reference; the request is sent again
//     only when none of them is found, at most Limits.MaxAttempts sends in
//     all. A lookup finding none after the last send is the evidence that
//     it created nothing.
//   - Either way, a request the client refused without sending it (an open
//     breaker, the rate limiter), or, without a key, a provider's "try
//     later" answer, is tried again after a backoff (or the Retry-After it
//     asked for), counting toward MaxAttempts.
//   - Once a send may have created the items (or SentBefore), a later
//     failure is Unknown, unless the provider refused the request as such.
//
// While it sends and looks up, Create holds one slot of the provider's
// bulkhead (Limits.MaxConcurrent); the waits of an asynchronous create
// between polls hold none.
func (p *Provider) Create(ctx context.Context, req *provider.CreateRequest, o *CreateOptions) ([]provider.ItemResult, error) {
	if o == nil {
		o = &CreateOptions{}
	}
	operation := o.Operation
	kick := p.kicked()
	if operation == "" {
		res, err := p.send(ctx, req, o)
		if err != nil {
			return nil, err
		}
		if !res.Pending {
			return res.Items, nil
		}
		operation = res.Operation
		if o.OnOperation != nil {
			o.OnOperation(operation)
		}
	}
	res, err := p.await(ctx, operation, req, kick)
	if err != nil {
		return nil, err
	}
	return res.Items, nil
}

// limits is the policy of the provider's client, or the defaults.
func (p *Provider) limits() Limits {
	if p.opts.Client != nil {
		return p.opts.Client.Limits()
	}
	return (*Limits)(nil).withDefaults()
}

// send sends a validated create request under one bulkhead slot, resending
// it where Create's rules allow, and returns its result: the items, or the
// operation of an asynchronous create.
func (p *Provider) send(ctx context.Context, req *provider.CreateRequest, o *CreateOptions) (*provider.CreateResult, error) {
	const op = "create"
	if c := p.opts.Client; c != nil {
		sctx, release, err := c.holdSlot(ctx)
		if err != nil {
			return nil, p.wrap(op, err)
		}
		defer release()
		ctx = sctx
	}
	idem := p.Supports(provider.CapIdempotentCreate)
	// lookedUp: a lookup after the last send found none of the items.
	lookedUp := false
	if o.SentBefore && !idem {
		// Sent before, by a provider without keys: look before sending again.
		if items, done := p.reconcile(ctx, req); done {
			return &provider.CreateResult{Items: items}, nil
		}
		lookedUp = true
	}
	withReferences(req, idem)
	lim := p.limits()
	wait := lim.BackoffMin
	uncertain := o.SentBefore // an earlier send may have created the items
	beforeSend := o.BeforeSend
	for attempt := 1; ; attempt++ {
		if beforeSend != nil {
			if err := beforeSend(); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrNotSent, err)
			}
			beforeSend = nil
		}
		res, err := p.submit(ctx, req)
		if err == nil {
			return res, nil
		}
		refused := errors.Is(err, ErrFailFast) // this attempt was not sent
		code := bank.Code(err)
		if o.FailFast {
			switch {
			case refused && !uncertain:
				return nil, err
			case uncertain && lookedUp && (refused || (code.OutcomeKnown() && !refusal(code))):
				// The lookup after the last send found nothing, and this
				// attempt was not sent, or failed without acting.
				return nil, &bank.Error{Code: bank.Unavailable, Provider: p.name, Op: op, Err: fmt.Errorf("%w; %w", err, ErrNotCreated)}
			}
		}
		if !refused {
			lookedUp = false
		}
		if uncertain && code.OutcomeKnown() && !refusal(code) {
			// This send failing says nothing of the earlier one.
			err = &bank.Error{Code: bank.Unknown, Provider: p.name, Op: op,
				Err: fmt.Errorf("an earlier attempt's outcome is unknown; the last one: %w", err)}
			code = bank.Unknown
		}
		uncertain = uncertain || !code.OutcomeKnown()
		switch {
		case ctx.Err() != nil || code == bank.Canceled:
			return nil, err
		case !code.OutcomeKnown() && !idem:
			// No key to resend with: look first, resend only when the
			// provider holds none of the items.
			if !p.Supports(provider.CapFindByReference) {
				return nil, err
			}
			// The send may still be running at the provider: give it time
			// to finish, or a lookup finding nothing proves nothing.
			if !sleep(ctx, lim.SettleDelay) {
				return nil, err
			}
			if items, done := p.reconcile(ctx, req); done {
				return &provider.CreateResult{Items: items}, nil
			}
			lookedUp = true
			if attempt >= lim.MaxAttempts {
				// The lookup just found none of the items: that is the
				// evidence that this last send created nothing.
				return nil, &bank.Error{Code: bank.Unavailable, Provider: p.name, Op: op,
					Err: fmt.Errorf("%w; %w", err, ErrNotCreated)}
			}
		case notSent(err, idem) && attempt < lim.MaxAttempts:
		default:
			return nil, err
		}
		if !sleep(ctx, max(wait, bank.RetryAfterOf(err))) {
			return nil, err
		}
		wait = min(wait*2, lim.BackoffMax)
	}
}

// notSent says whether err proves the request had no effect at the
// provider and may simply be tried again: the client refused it without
// sending anything (an open breaker, the rate limiter), or, for a provider
// without keys (whose transport sends a create once), the provider
// answered "unavailable" or "too many requests". With a key, the transport
// has already resent such answers as often as the limits allow.
func notSent(err error, idem bool) bool {
	if errors.Is(err, ErrFailFast) || errors.Is(err, ErrRateLimited) {
		return true
	}
	switch bank.Code(err) {
	case bank.Unavailable, bank.ResourceExhausted:
		return !idem
	}
	return false
}

// refusal says whether a provider's answer refuses the request as such (so
// no send of it, with the same key or items, can have created anything), as
// opposed to failing this attempt only.
func refusal(c bank.ErrorCode) bool {
	switch c {
	case bank.InvalidArgument, bank.FailedPrecondition, bank.AlreadyExists, bank.PermissionDenied, bank.NotFound:
		return true
	}
	return false
}

// withReferences gives every item without a gateway reference a random
// one, at a provider without idempotency keys: an unknown outcome is
// settled by looking the item up by a reference only the gateway makes
// (set in req, so the caller can look it up too).
func withReferences(req *provider.CreateRequest, idem bool) {
	if idem {
		return
	}
	for i := range req.Items {
		if req.Items[i].Reference == "" {
			req.Items[i].Reference = "vgr-" + strings.ReplaceAll(uuid.NewString(), "-", "")[:24]
		}
	}
}

// reconcile looks a request's items up by their gateway reference (never
// the client's clientReference, which another tenant may share) at a
// provider that takes no idempotency key. done is true when that settles
// every item: each found exactly once is created; any item it cannot tell
// about (no lookup, no reference, several accounts) is unknown. done is
// false when none was found, so the request can be sent.
func (p *Provider) reconcile(ctx context.Context, req *provider.CreateRequest) ([]provider.ItemResult, bool) {
	const op = "reconcile"
	res := make([]provider.ItemResult, len(req.Items))
	found, unknown := 0, 0
	for n, it := range req.Items {
		if !p.Supports(provider.CapFindByReference) || it.Reference == "" {
			res[n].Err = &bank.Error{Code: bank.Unknown, Provider: p.name, Op: op,
				Err: errors.New("sent before an interruption; the provider takes no idempotency key and cannot be searched by the gateway reference")}
			unknown++
			continue
		}
		accs, err := p.FindByReference(ctx, it.Reference)
		switch {
		case err != nil:
			res[n].Err = &bank.Error{Code: bank.Unknown, Provider: p.name, Op: op, Err: fmt.Errorf("lookup by reference failed: %w", err)}
			unknown++
		case len(accs) == 1:
			res[n].Account = accs[0]
			keepClientFields(res[n].Account, &req.Items[n])
			found++
		case len(accs) > 1:
			res[n].Err = &bank.Error{Code: bank.Unknown, Provider: p.name, Op: op,
				Err: fmt.Errorf("%d accounts at the provider carry the gateway reference %q", len(accs), it.Reference)}
			unknown++
		}
	}
	if found == 0 && unknown == 0 {
		return nil, false
	}
	for n := range res {
		if res[n].Account == nil && res[n].Err == nil {
			res[n].Err = &bank.Error{Code: bank.Unknown, Provider: p.name, Op: op,
				Err: errors.New("not found at the provider, while other items of its request were: not resent")}
		}
	}
	return res, true
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
