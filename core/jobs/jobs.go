// Package jobs runs batch create jobs: it accepts a validated, routed job,
// stores it, and processes it in the background, one provider call per chunk
// of items, with bounded concurrency per provider. Each chunk carries a
// provider idempotency key derived from the job id, the provider and the
// chunk index, so processing the same job again can never create twice.
//
// Job status follows the batch provider's enum: Pending until the first
// provider call, InProgress, then Completed (every item created),
// CompletedWithErrors (any item failed or is of unknown outcome), or
// Cancelled (a cancel arrived before every item was sent; items already
// sent keep their outcome).
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/provider"
	"github.com/vagate/vagate/core/store"
)

// Options tune an Engine; zero values are defaults.
type Options struct {
	// Workers is how many jobs run at once (default 16).
	Workers int
	// ConcurrencyPerProvider bounds concurrent provider calls (default 8).
	ConcurrencyPerProvider int
	// ItemTimeout bounds one chunk's create including async completion (default 5m).
	ItemTimeout time.Duration
	// ResendAttempts is how often a chunk whose outcome is unknown is resent
	// with the same provider idempotency key (default 3).
	ResendAttempts int
	// Backoff is the first wait before a resend (default 200ms, doubling).
	Backoff time.Duration
	// OnFinish is called once per finished job.
	OnFinish func(ctx context.Context, j *store.JobRecord)
	// OnAccount is called once per account a job creates.
	OnAccount func(ctx context.Context, a *bank.Account)
	Logger    *slog.Logger
	Now       func() time.Time
	// Tracer and Meter record spans per job, chunk and item, and job metrics.
	Tracer trace.TracerProvider
	Meter  metric.MeterProvider
}

// Engine accepts and processes jobs.
type Engine struct {
	reg      *gateway.Registry
	jobs     store.Jobs
	accounts store.Accounts
	queue    store.Queue
	opts     Options

	mu      sync.Mutex
	sems    map[string]chan struct{}
	waiters map[string][]chan struct{}

	tracer   trace.Tracer
	inFlight metric.Int64UpDownCounter
	duration metric.Float64Histogram
}

// New returns an engine; call Run to start its workers.
func New(reg *gateway.Registry, jobs store.Jobs, accounts store.Accounts, queue store.Queue, opts *Options) *Engine {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Workers <= 0 {
		o.Workers = 16
	}
	if o.ConcurrencyPerProvider <= 0 {
		o.ConcurrencyPerProvider = 8
	}
	if o.ItemTimeout <= 0 {
		o.ItemTimeout = 5 * time.Minute
	}
	if o.ResendAttempts <= 0 {
		o.ResendAttempts = 3
	}
	if o.Backoff <= 0 {
		o.Backoff = 200 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Tracer == nil {
		o.Tracer = tracenoop.NewTracerProvider()
	}
	if o.Meter == nil {
		o.Meter = metricnoop.NewMeterProvider()
	}
	e := &Engine{reg: reg, jobs: jobs, accounts: accounts, queue: queue, opts: o,
		sems: map[string]chan struct{}{}, waiters: map[string][]chan struct{}{}, tracer: o.Tracer.Tracer(instrumentation)}
	m := o.Meter.Meter(instrumentation)
	e.inFlight, _ = m.Int64UpDownCounter("vagate.jobs.in_flight", metric.WithDescription("jobs being processed by this instance"))
	e.duration, _ = m.Float64Histogram("vagate.jobs.duration", metric.WithUnit("s"),
		metric.WithDescription("from acceptance to completion, by final status"))
	return e
}

const instrumentation = "github.com/vagate/vagate/core/jobs"

// jobContext continues the trace of the request that accepted the job: the
// job span is its child, and links to it, so work picked up by another
// instance still leads back to the request.
func (e *Engine) jobContext(ctx context.Context, rec *store.JobRecord) (context.Context, trace.Span) {
	carrier := propagation.MapCarrier{"traceparent": rec.TraceParent}
	parent := propagation.TraceContext{}.Extract(context.Background(), carrier)
	var opts []trace.SpanStartOption
	if sc := trace.SpanContextFromContext(parent); sc.IsValid() {
		ctx = trace.ContextWithRemoteSpanContext(ctx, sc)
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: sc}))
	}
	opts = append(opts, trace.WithAttributes(attribute.String("vagate.job_id", rec.Job.ID), attribute.Int("vagate.items", len(rec.Items))))
	return e.tracer.Start(ctx, "job", opts...)
}

// Item is one routed item of a job.
type Item struct {
	Provider string
	Request  provider.CreateItem
}

// Spec is a validated, routed job.
type Spec struct {
	Items         []Item
	CallbackURL   string
	CustomHeaders map[string]string
	TraceParent   string
}

// Submit stores a new Pending job and queues it.
func (e *Engine) Submit(ctx context.Context, tenant string, spec *Spec) (*bank.Job, error) {
	if len(spec.Items) == 0 {
		return nil, bank.Errorf(bank.InvalidArgument, "a job needs at least one item")
	}
	now := e.opts.Now().UTC()
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	rec := &store.JobRecord{
		Job: bank.Job{ID: "job_" + id.String(), Tenant: tenant, Status: bank.JobPending,
			Total: len(spec.Items), CreatedAt: now, UpdatedAt: now},
		CallbackURL: spec.CallbackURL, CustomHeaders: spec.CustomHeaders, TraceParent: spec.TraceParent,
	}
	chunks := map[string]int{}
	counts := map[string]int{}
	for i, it := range spec.Items {
		p, ok := e.reg.Get(it.Provider)
		if !ok {
			return nil, bank.Errorf(bank.InvalidArgument, "item %d: unknown provider %q", i, it.Provider)
		}
		if counts[it.Provider] == p.Capabilities().MaxBatch {
			chunks[it.Provider]++
			counts[it.Provider] = 0
		}
		counts[it.Provider]++
		rec.Items = append(rec.Items, store.JobItem{
			Provider: it.Provider, Request: it.Request, Chunk: chunks[it.Provider],
			Result: bank.ItemResult{Index: i, ClientReference: it.Request.ClientReference, Provider: it.Provider, Outcome: bank.OutcomePending},
		})
	}
	if err := e.jobs.CreateJob(ctx, rec); err != nil {
		return nil, err
	}
	if err := e.queue.Enqueue(ctx, tenant, rec.Job.ID); err != nil {
		return nil, err
	}
	j := rec.Job
	return &j, nil
}

// Run processes queued jobs until ctx ends.
func (e *Engine) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for range e.opts.Workers {
		wg.Go(func() {
			for {
				tenant, id, ack, err := e.queue.Dequeue(ctx)
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					e.opts.Logger.Error("dequeue failed", "err", err)
					time.Sleep(100 * time.Millisecond)
					continue
				}
				if err := e.Process(ctx, tenant, id); err != nil && ctx.Err() == nil {
					e.opts.Logger.Error("job failed", "job_id", id, "err", err)
				}
				ack()
			}
		})
	}
	wg.Wait()
}

// Get returns the job record.
func (e *Engine) Get(ctx context.Context, tenant, id string) (*store.JobRecord, error) {
	return e.jobs.GetJob(ctx, tenant, id)
}

// Cancel asks the job to stop sending items. Items not yet sent end
// cancelled; items already sent keep their outcome. Cancelling a finished job
// is a FailedPrecondition error.
func (e *Engine) Cancel(ctx context.Context, tenant, id string) (*bank.Job, error) {
	rec, err := e.jobs.UpdateJob(ctx, tenant, id, func(r *store.JobRecord) error {
		if r.Job.Status.Finished() {
			return &bank.Error{Code: bank.FailedPrecondition, Err: fmt.Errorf("job %s is already %s", id, r.Job.Status)}
		}
		r.CancelRequested = true
		if r.Job.Status == bank.JobPending {
			e.finishPendingCancel(r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if rec.Job.Status.Finished() {
		e.finished(ctx, rec)
	}
	j := rec.Job
	return &j, nil
}

// finishPendingCancel cancels a job no worker has started.
func (e *Engine) finishPendingCancel(r *store.JobRecord) {
	for i := range r.Items {
		if r.Items[i].Result.Outcome == bank.OutcomePending {
			r.Items[i].Result.Outcome = bank.OutcomeCancelled
		}
	}
	e.tally(r)
}

// Wait blocks until the job finishes or ctx ends, and returns it.
func (e *Engine) Wait(ctx context.Context, tenant, id string) (*bank.Job, error) {
	ch := make(chan struct{})
	e.mu.Lock()
	e.waiters[id] = append(e.waiters[id], ch)
	e.mu.Unlock()
	defer e.dropWaiter(id, ch)
	for {
		rec, err := e.jobs.GetJob(ctx, tenant, id)
		if err != nil {
			return nil, err
		}
		if rec.Job.Status.Finished() {
			j := rec.Job
			return &j, nil
		}
		select {
		case <-ctx.Done():
			j := rec.Job
			return &j, nil
		case <-ch:
		case <-time.After(time.Second): // another instance may finish it
		}
	}
}

func (e *Engine) dropWaiter(id string, ch chan struct{}) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ws := e.waiters[id]
	for i, w := range ws {
		if w == ch {
			e.waiters[id] = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(e.waiters[id]) == 0 {
		delete(e.waiters, id)
	}
}

func (e *Engine) wake(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, w := range e.waiters[id] {
		select {
		case <-w:
		default:
			close(w)
		}
	}
	delete(e.waiters, id)
}

func (e *Engine) sem(providerName string) chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.sems[providerName]
	if !ok {
		s = make(chan struct{}, e.opts.ConcurrencyPerProvider)
		e.sems[providerName] = s
	}
	return s
}

// ChunkKey is the provider idempotency key of one chunk of a job.
func ChunkKey(jobID, providerName string, chunk int) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, fmt.Appendf(nil, "vagate:%s:%s:%d", jobID, providerName, chunk)).String()
}

// AccountID is the gateway id of the account a job item creates; it is the
// same however often the item is processed.
func AccountID(jobID string, index int) string {
	return "va_" + uuid.NewSHA1(uuid.NameSpaceURL, fmt.Appendf(nil, "vagate:%s:%d", jobID, index)).String()
}

type chunkRef struct {
	provider string
	chunk    int
}

// Process runs every unfinished item of a job. It is safe to call again for
// a job that was interrupted: submitted chunks are resumed by operation, and
// resent chunks carry the same provider idempotency key.
func (e *Engine) Process(ctx context.Context, tenant, id string) error {
	if cur, err := e.jobs.GetJob(ctx, tenant, id); err == nil && !cur.Job.Status.Finished() {
		var span trace.Span
		ctx, span = e.jobContext(ctx, cur)
		defer span.End()
		e.inFlight.Add(ctx, 1)
		defer e.inFlight.Add(context.WithoutCancel(ctx), -1)
	}
	rec, err := e.jobs.UpdateJob(ctx, tenant, id, func(r *store.JobRecord) error {
		if !r.Job.Status.Finished() && r.Job.Status == bank.JobPending {
			r.Job.Status = bank.JobInProgress
			r.Job.UpdatedAt = e.opts.Now().UTC()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if rec.Job.Status.Finished() {
		e.finished(ctx, rec)
		return nil
	}
	var order []chunkRef
	groups := map[chunkRef][]int{}
	for i, it := range rec.Items {
		if it.Result.Outcome.Final() {
			continue
		}
		k := chunkRef{it.Provider, it.Chunk}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	var wg sync.WaitGroup
	for _, k := range order {
		wg.Go(func() { e.runChunk(ctx, rec, k, groups[k]) })
	}
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	final, err := e.jobs.UpdateJob(ctx, tenant, id, func(r *store.JobRecord) error {
		e.tally(r)
		if !r.Job.Status.Finished() {
			// Items still pending here were left by a cancel race; settle them.
			for i := range r.Items {
				if r.Items[i].Result.Outcome == bank.OutcomePending {
					r.Items[i].Result.Outcome = bank.OutcomeCancelled
				}
			}
			e.tally(r)
		}
		return nil
	})
	if err != nil {
		return err
	}
	e.finished(ctx, final)
	return nil
}

func (e *Engine) finished(ctx context.Context, rec *store.JobRecord) {
	e.wake(rec.Job.ID)
	if rec.Job.CompletedAt != nil {
		e.duration.Record(ctx, rec.Job.CompletedAt.Sub(rec.Job.CreatedAt).Seconds(),
			metric.WithAttributes(attribute.String("status", string(rec.Job.Status))))
	}
	if e.opts.OnFinish != nil && rec.Job.Status.Finished() {
		e.opts.OnFinish(ctx, rec)
	}
}

// tally recomputes counts and, when no item is pending, the final status.
func (e *Engine) tally(r *store.JobRecord) {
	var created, failed, cancelled, unknown, pending int
	for _, it := range r.Items {
		switch it.Result.Outcome {
		case bank.OutcomeCreated:
			created++
		case bank.OutcomeFailed:
			failed++
		case bank.OutcomeCancelled:
			cancelled++
		case bank.OutcomeUnknown:
			unknown++
		default:
			pending++
		}
	}
	now := e.opts.Now().UTC()
	r.Job.Succeeded, r.Job.Failed, r.Job.Cancelled, r.Job.Unknown = created, failed, cancelled, unknown
	r.Job.UpdatedAt = now
	if pending > 0 {
		return
	}
	switch {
	case r.CancelRequested && cancelled > 0:
		r.Job.Status = bank.JobCancelled
	case created == len(r.Items):
		r.Job.Status = bank.JobCompleted
	default:
		r.Job.Status = bank.JobCompletedWithErrors
	}
	r.Job.CompletedAt = &now
}

// runChunk sends one chunk (or resumes it) and records its outcomes.
func (e *Engine) runChunk(ctx context.Context, rec *store.JobRecord, k chunkRef, idx []int) {
	p, ok := e.reg.Get(k.provider)
	if !ok {
		e.settle(ctx, rec, idx, nil, &bank.Error{Code: bank.FailedPrecondition, Err: fmt.Errorf("provider %q is no longer configured", k.provider)})
		return
	}
	sem := e.sem(k.provider)
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return
	}
	defer func() { <-sem }()

	// A cancel that arrived before this chunk was sent stops it.
	cur, err := e.jobs.GetJob(ctx, rec.Job.Tenant, rec.Job.ID)
	if err != nil {
		return
	}
	operation := cur.Items[idx[0]].Operation
	if cur.CancelRequested && operation == "" {
		e.cancelItems(ctx, rec, idx)
		return
	}
	req := &provider.CreateRequest{IdempotencyKey: ChunkKey(rec.Job.ID, k.provider, k.chunk), CustomHeaders: rec.CustomHeaders}
	for _, i := range idx {
		req.Items = append(req.Items, rec.Items[i].Request)
	}
	ctx, chunkSpan := e.tracer.Start(ctx, "job chunk", trace.WithAttributes(attribute.String("vagate.provider", k.provider),
		attribute.Int("vagate.chunk", k.chunk), attribute.Int("vagate.items", len(idx)), attribute.String("vagate.job_id", rec.Job.ID)))
	defer chunkSpan.End()
	defer e.endItemSpans(ctx, rec, idx)
	cctx, cancel := context.WithTimeout(ctx, e.opts.ItemTimeout)
	defer cancel()
	if !p.Capabilities().IdempotentCreate && operation == "" {
		if cur.Items[idx[0]].Sent {
			// Sent before an interruption, by a provider without keys: look
			// before sending again.
			if res, done := e.reconciled(cctx, p, req); done {
				e.settle(ctx, rec, idx, res, nil)
				return
			}
		}
		e.markSent(ctx, rec, idx)
	}
	results, err := e.create(cctx, p, req, operation, rec, idx)
	if ctx.Err() != nil {
		return // shutting down: leave the items for the next run
	}
	e.settle(ctx, rec, idx, results, err)
}

// endItemSpans records one span per item of a chunk with its outcome.
func (e *Engine) endItemSpans(ctx context.Context, rec *store.JobRecord, idx []int) {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return
	}
	cur, err := e.jobs.GetJob(context.WithoutCancel(ctx), rec.Job.Tenant, rec.Job.ID)
	if err != nil {
		return
	}
	for _, i := range idx {
		r := cur.Items[i].Result
		_, span := e.tracer.Start(ctx, "job item", trace.WithAttributes(attribute.Int("vagate.item", i),
			attribute.String("vagate.outcome", string(r.Outcome)), attribute.String("vagate.provider", cur.Items[i].Provider)))
		if r.Error != nil {
			span.SetStatus(codes.Error, r.Error.Code.String())
		}
		span.End()
	}
}

// reconciled looks a chunk's items up by client reference at a provider that
// takes no idempotency key. done is true when that settles every item: each
// found exactly once is created; any item it cannot tell about (no lookup,
// no reference, several accounts) is unknown. done is false when none was
// found, so the chunk can be sent.
func (e *Engine) reconciled(ctx context.Context, p *gateway.Provider, req *provider.CreateRequest) ([]provider.ItemResult, bool) {
	res := make([]provider.ItemResult, len(req.Items))
	found, unknown := 0, 0
	for n, it := range req.Items {
		if !p.Capabilities().FindByReference || it.ClientReference == "" {
			res[n].Err = &bank.Error{Code: bank.Unknown, Provider: p.Name(), Op: "reconcile",
				Err: errors.New("sent before an interruption; the provider takes no idempotency key and the item has no clientReference to look it up by")}
			unknown++
			continue
		}
		accs, err := p.FindByReference(ctx, it.ClientReference)
		switch {
		case err != nil:
			res[n].Err = &bank.Error{Code: bank.Unknown, Provider: p.Name(), Op: "reconcile", Err: fmt.Errorf("lookup by reference failed: %w", err)}
			unknown++
		case len(accs) == 1:
			res[n].Account = accs[0]
			found++
		case len(accs) > 1:
			res[n].Err = &bank.Error{Code: bank.Unknown, Provider: p.Name(), Op: "reconcile",
				Err: fmt.Errorf("%d accounts at the provider carry clientReference %q", len(accs), it.ClientReference)}
			unknown++
		}
	}
	if found == 0 && unknown == 0 {
		return nil, false
	}
	for n := range res {
		if res[n].Account == nil && res[n].Err == nil {
			res[n].Err = &bank.Error{Code: bank.Unknown, Provider: p.Name(), Op: "reconcile",
				Err: errors.New("not found at the provider, while other items of its request were: not resent")}
		}
	}
	return res, true
}

func (e *Engine) markSent(ctx context.Context, rec *store.JobRecord, idx []int) {
	_, err := e.jobs.UpdateJob(ctx, rec.Job.Tenant, rec.Job.ID, func(r *store.JobRecord) error {
		for _, i := range idx {
			r.Items[i].Sent = true
		}
		return nil
	})
	if err != nil {
		e.opts.Logger.Warn("marking a chunk as sent failed", "job_id", rec.Job.ID, "err", err)
	}
}

// create submits (or resumes) a chunk; a submit whose outcome is unknown is
// resent only with the same idempotency key, and only where the provider
// honours one; otherwise it is left unknown for reconciliation.
func (e *Engine) create(ctx context.Context, p *gateway.Provider, req *provider.CreateRequest, operation string, rec *store.JobRecord, idx []int) ([]provider.ItemResult, error) {
	wait := e.opts.Backoff
	for attempt := 1; ; attempt++ {
		if operation == "" {
			res, err := p.Submit(ctx, req)
			if err == nil && !res.Pending {
				return res.Items, nil
			}
			if err == nil {
				operation = res.Operation
				e.saveOperation(ctx, rec, idx, operation)
			} else {
				code := bank.Code(err)
				idem := p.Capabilities().IdempotentCreate
				if !code.OutcomeKnown() && !idem && code != bank.Canceled && ctx.Err() == nil {
					// No key to resend with: reconcile first, resend only
					// when the provider holds none of the items.
					if res, done := e.reconciled(ctx, p, req); done {
						return res, nil
					}
					if !p.Capabilities().FindByReference {
						return nil, err
					}
					if attempt >= e.opts.ResendAttempts {
						// The lookup just found none of the items: that is
						// the evidence that this last attempt created nothing.
						return nil, &bank.Error{Code: bank.Unavailable, Provider: p.Name(), Op: "create",
							Err: fmt.Errorf("%w; looked up by clientReference afterwards: not at the provider, so not created", err)}
					}
				} else if !(code == bank.Unavailable || code == bank.ResourceExhausted || (!code.OutcomeKnown() && idem && code != bank.Canceled)) ||
					attempt >= e.opts.ResendAttempts || ctx.Err() != nil {
					return nil, err
				}
				if ra := bank.RetryAfterOf(err); ra > wait {
					wait = ra
				}
				if !sleep(ctx, wait) {
					return nil, err
				}
				wait *= 2
				continue
			}
		}
		res, err := p.Await(ctx, operation, req)
		if err != nil {
			return nil, err
		}
		return res.Items, nil
	}
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

func (e *Engine) saveOperation(ctx context.Context, rec *store.JobRecord, idx []int, op string) {
	_, err := e.jobs.UpdateJob(ctx, rec.Job.Tenant, rec.Job.ID, func(r *store.JobRecord) error {
		for _, i := range idx {
			r.Items[i].Operation = op
		}
		return nil
	})
	if err != nil {
		e.opts.Logger.Warn("saving provider operation failed", "job_id", rec.Job.ID, "err", err)
	}
}

func (e *Engine) cancelItems(ctx context.Context, rec *store.JobRecord, idx []int) {
	e.jobs.UpdateJob(ctx, rec.Job.Tenant, rec.Job.ID, func(r *store.JobRecord) error {
		for _, i := range idx {
			if r.Items[i].Result.Outcome == bank.OutcomePending {
				r.Items[i].Result.Outcome = bank.OutcomeCancelled
			}
		}
		e.tally(r)
		return nil
	})
}

// settle records the outcome of a chunk: accounts are stored before the job
// says created, so a job never points at an account the store lacks.
func (e *Engine) settle(ctx context.Context, rec *store.JobRecord, idx []int, results []provider.ItemResult, chunkErr error) {
	now := e.opts.Now().UTC()
	type outcome struct {
		acc *bank.Account
		err error
	}
	outs := make([]outcome, len(idx))
	for n, i := range idx {
		switch {
		case chunkErr != nil:
			outs[n].err = chunkErr
		case n < len(results) && results[n].Err != nil:
			outs[n].err = results[n].Err
		case n < len(results):
			a := results[n].Account.Clone()
			item := rec.Items[i].Request
			a.ID, a.Tenant = AccountID(rec.Job.ID, i), rec.Job.Tenant
			if a.CustomerID == "" {
				a.CustomerID = item.CustomerID
			}
			if a.Metadata == nil && item.Metadata != nil {
				a.Metadata = item.Metadata
			}
			if a.CreatedAt.IsZero() {
				a.CreatedAt = now
			}
			if a.UpdatedAt.IsZero() {
				a.UpdatedAt = now
			}
			if err := e.accounts.PutAccount(ctx, a); err != nil {
				outs[n].err = &bank.Error{Code: bank.Unknown, Err: fmt.Errorf("account created at the provider but not recorded: %w", err)}
				continue
			}
			outs[n].acc = a
		default:
			outs[n].err = errors.New("no result for item")
		}
	}
	_, err := e.jobs.UpdateJob(ctx, rec.Job.Tenant, rec.Job.ID, func(r *store.JobRecord) error {
		for n, i := range idx {
			res := &r.Items[i].Result
			if res.Outcome.Final() {
				continue
			}
			if outs[n].acc != nil {
				res.Outcome, res.Account, res.Error = bank.OutcomeCreated, outs[n].acc, nil
				continue
			}
			code := bank.Code(outs[n].err)
			res.Error = &bank.Problem{Code: code, Message: outs[n].err.Error()}
			for _, f := range bank.FieldsOf(outs[n].err) {
				// Adapters name fields relative to the item.
				f.Pointer = fmt.Sprintf("/items/%d%s", i, f.Pointer)
				res.Error.Fields = append(res.Error.Fields, f)
			}
			if code.OutcomeKnown() {
				res.Outcome = bank.OutcomeFailed
			} else {
				res.Outcome = bank.OutcomeUnknown
			}
		}
		e.tally(r)
		return nil
	})
	if err != nil {
		e.opts.Logger.Error("recording chunk outcome failed", "job_id", rec.Job.ID, "err", err)
		return
	}
	if e.opts.OnAccount != nil {
		for _, o := range outs {
			if o.acc != nil {
				e.opts.OnAccount(ctx, o.acc)
			}
		}
	}
}
