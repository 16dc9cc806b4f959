// Package jobs runs batch create jobs: it accepts a validated, routed job,
// stores it, and processes it in the background, one provider create per
// chunk of items (gateway.Provider.Create, whose client's bulkhead bounds the
// creates in flight per provider). Each chunk carries a
// provider idempotency key derived from the job id, the provider and the
// chunk index, so processing the same job again can never create twice.
//
// # Failover
//
// An item a routing rule sent to a provider may list fallbacks
// (Item.Fallbacks). It moves to the next one that accepts it (its currency,
// needed capability, fields, money accounts and the job's custom headers)
// only on evidence that the provider it leaves created nothing: the
// provider's breaker was open before it was sent, or the provider answered
// Unavailable or ResourceExhausted after every retry the resend policy
// (gateway.Provider.Create) allows, or an outcome that was unknown was
// followed by a lookup by reference that found nothing
// (gateway.ErrNotCreated). An item whose outcome is unknown stays where it
// was sent until then: an account at two banks is worse than a slow one. An
// item that named its provider never fails over. The item's result, and the
// account it creates, record the providers it left and why
// (bank.Routing); the engine counts failovers (vagate.jobs.failovers).
//
// Job status follows the batch provider's enum: Pending until the first
// provider call, InProgress, then Completed (every item created),
// CompletedWithErrors (any item failed or is of unknown outcome), or
// Cancelled (a cancel arrived before every item was sent; items already
// sent keep their outcome).
package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
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
	// ItemTimeout bounds one chunk's create including async completion (default 5m).
	ItemTimeout time.Duration
	// Backoff is the pause before a worker takes the next job after one it
	// could not finish (a failing store) (default 200ms). Whether and when a
	// chunk is resent is the provider's decision (gateway.Provider.Create).
	Backoff time.Duration
	// Checks is how often an item of unknown outcome is checked again (by
	// lookup, or by a resend with the same idempotency key) before the job
	// finishes with it unknown, flagged as needing attention (default 8).
	Checks int
	// CheckBackoff is the first wait before a check (default 1s, doubling
	// up to 30s).
	CheckBackoff time.Duration
	// DrainTimeout is how long Run lets jobs in progress go on after its
	// context ends, before it interrupts them and hands them back to the
	// queue (default 20s).
	DrainTimeout time.Duration
	// OnFinish is called once per finished job, after OnAccount returned
	// for every account the job reports and before the job is stored as
	// finished: whoever sees the job finished can count on both.
	OnFinish func(ctx context.Context, j *bank.Job)
	// OnSubmit is called once per job accepted, after it is stored.
	OnSubmit func(ctx context.Context, j *bank.Job)
	// OnAccount is called once per account a job creates, after the item
	// is stored as created.
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
	jobs     Store
	accounts store.Accounts
	queue    store.Queue
	opts     Options

	mu      sync.Mutex
	waiters map[string][]chan struct{}

	tracer    trace.Tracer
	inFlight  metric.Int64UpDownCounter
	duration  metric.Float64Histogram
	failovers metric.Int64Counter
}

// New returns an engine; call Run to start its workers.
func New(reg *gateway.Registry, jobs Store, accounts store.Accounts, queue store.Queue, opts *Options) *Engine {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Workers <= 0 {
		o.Workers = 16
	}
	if o.ItemTimeout <= 0 {
		o.ItemTimeout = 5 * time.Minute
	}
	if o.Backoff <= 0 {
		o.Backoff = 200 * time.Millisecond
	}
	if o.Checks <= 0 {
		o.Checks = 8
	}
	if o.CheckBackoff <= 0 {
		o.CheckBackoff = time.Second
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 20 * time.Second
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
		waiters: map[string][]chan struct{}{}, tracer: o.Tracer.Tracer(instrumentation)}
	m := o.Meter.Meter(instrumentation)
	e.inFlight, _ = m.Int64UpDownCounter("vagate.jobs.in_flight", metric.WithDescription("jobs being processed by this instance"))
	e.duration, _ = m.Float64Histogram("vagate.jobs.duration", metric.WithUnit("s"),
		metric.WithDescription("from acceptance to completion, by final status"))
	e.failovers, _ = m.Int64Counter("vagate.jobs.failovers",
		metric.WithDescription("create items moved to a fallback provider, by provider left, provider taken and reason"))
	return e
}

const instrumentation = "github.com/vagate/vagate/core/jobs"

// jobContext continues the trace of the request that accepted the job: the
// job span is its child, and links to it, so work picked up by another
// instance still leads back to the request.
func (e *Engine) jobContext(ctx context.Context, rec *Header) (context.Context, trace.Span) {
	carrier := propagation.MapCarrier{"traceparent": rec.TraceParent}
	parent := propagation.TraceContext{}.Extract(context.Background(), carrier)
	var opts []trace.SpanStartOption
	if sc := trace.SpanContextFromContext(parent); sc.IsValid() {
		ctx = trace.ContextWithRemoteSpanContext(ctx, sc)
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: sc}))
	}
	opts = append(opts, trace.WithAttributes(attribute.String("vagate.job_id", rec.Job.ID), attribute.Int("vagate.items", rec.Job.Total)))
	return e.tracer.Start(ctx, "job", opts...)
}

// Item is one routed item of a job.
type Item struct {
	Provider string
	Request  provider.CreateItem
	// RoutedBy says how Provider was chosen (empty: not recorded).
	RoutedBy bank.RoutedBy
	// Fallbacks are the providers the item may fail over to, in order;
	// ignored for an item that named its provider (bank.RoutedByRequest).
	Fallbacks []string
}

// Spec is a validated, routed job.
type Spec struct {
	Items         []Item
	CallbackURL   string
	CustomHeaders map[string]string
	TraceParent   string
	// Identity, when set, identifies the request that asked for the job
	// (its tenant, Idempotency-Key and body): the job id, and so every
	// provider key and reference of its items, derive from it, so the same
	// request accepted twice makes one job.
	Identity string
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
	jobID := "job_" + id.String()
	if spec.Identity != "" {
		jobID = JobID(tenant, spec.Identity)
	}
	rec := &Record{Header: Header{
		Job: bank.Job{ID: jobID, Tenant: tenant, Status: bank.JobPending,
			Total: len(spec.Items), CreatedAt: now, UpdatedAt: now},
		CallbackURL: spec.CallbackURL, CustomHeaders: spec.CustomHeaders, TraceParent: spec.TraceParent,
	}}
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
		req := it.Request
		req.Reference = ItemReference(tenant, rec.Job.ID, i)
		item := ItemRecord{
			Provider: it.Provider, Request: req, Chunk: chunks[it.Provider],
			Result: bank.ItemResult{Index: i, ClientReference: it.Request.ClientReference, Provider: it.Provider, Outcome: bank.OutcomePending},
		}
		if it.RoutedBy != "" {
			item.Result.Routing = &bank.Routing{RoutedBy: it.RoutedBy}
		}
		if it.RoutedBy != bank.RoutedByRequest {
			item.Fallbacks = slices.Clone(it.Fallbacks)
		}
		rec.Items = append(rec.Items, item)
	}
	hdr := &rec.Header
	if err := e.jobs.Create(ctx, rec); err != nil {
		if spec.Identity == "" || bank.Code(err) != bank.AlreadyExists {
			return nil, err
		}
		// The same request was accepted before (its idempotency record
		// was lost): answer that job, never start a second one.
		cur, gerr := e.jobs.Header(ctx, tenant, rec.Job.ID)
		if gerr != nil {
			return nil, gerr
		}
		if cur.Queued {
			j := cur.Job
			return &j, nil
		}
		hdr = cur // accepted, but its queueing failed: queue it now
	}
	if err := e.queue.Enqueue(ctx, tenant, hdr.Job.ID); err != nil {
		return nil, err
	}
	if _, err := e.jobs.UpdateHeader(ctx, tenant, hdr.Job.ID, func(h *Header) error { h.Queued = true; return nil }); err != nil {
		// Queued all the same; a retry of the request that finds the flag
		// unset queues it again, and Process is safe to run twice.
		e.opts.Logger.Warn("marking a job queued failed", "job_id", hdr.Job.ID, "err", err)
	}
	j := hdr.Job
	if e.opts.OnSubmit != nil {
		e.opts.OnSubmit(ctx, &j)
	}
	return &j, nil
}

// Run processes queued jobs until ctx ends. Then it takes no new job, lets
// the jobs in progress go on for DrainTimeout, interrupts what is still
// running, and hands every unfinished job back to the queue (Release), so
// another instance, or this one after a restart, finishes it. A job is
// acknowledged only once it has finished.
func (e *Engine) Run(ctx context.Context) {
	work, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	go func() {
		select {
		case <-ctx.Done():
		case <-work.Done():
			return
		}
		e.opts.Logger.Info("draining jobs in progress", "grace", e.opts.DrainTimeout.String())
		t := time.NewTimer(e.opts.DrainTimeout)
		defer t.Stop()
		select {
		case <-t.C:
			stop()
		case <-work.Done():
		}
	}()
	var wg sync.WaitGroup
	for range e.opts.Workers {
		wg.Go(func() {
			for {
				l, err := e.queue.Dequeue(ctx)
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					e.opts.Logger.Error("dequeue failed", "err", err)
					sleep(ctx, 100*time.Millisecond)
					continue
				}
				err = e.Process(work, l.Tenant, l.JobID)
				var re *RecheckError
				switch {
				case err == nil:
					l.Ack()
				case errors.As(err, &re) && work.Err() == nil:
					l.Defer(re.After)
				case bank.Code(err) == bank.NotFound:
					// The job is gone (its record expired or never was): nothing to do.
					e.opts.Logger.Error("queued job not found", "job_id", l.JobID, "err", err)
					l.Ack()
				default:
					if work.Err() == nil {
						e.opts.Logger.Error("job unfinished; handing it back to the queue", "job_id", l.JobID, "err", err)
						sleep(ctx, e.opts.Backoff) // no hot loop on a failing store
					} else {
						e.opts.Logger.Info("job interrupted by shutdown; handing it back to the queue", "job_id", l.JobID)
					}
					l.Release()
				}
			}
		})
	}
	wg.Wait()
}

// Get returns the job with its items.
func (e *Engine) Get(ctx context.Context, tenant, id string) (*Record, error) {
	return e.jobs.Get(ctx, tenant, id)
}

// Job returns the job's status and counts, without reading its items.
func (e *Engine) Job(ctx context.Context, tenant, id string) (*bank.Job, error) {
	h, err := e.jobs.Header(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	j := h.Job
	return &j, nil
}

// Cancel asks the job to stop sending items. Items not yet sent end
// cancelled; items already sent keep their outcome. Cancelling a finished job
// is a FailedPrecondition error.
func (e *Engine) Cancel(ctx context.Context, tenant, id string) (*bank.Job, error) {
	var claimed bool
	h, err := e.jobs.UpdateHeader(ctx, tenant, id, func(h *Header) error {
		claimed = false
		if h.Job.Status.Finished() {
			return &bank.Error{Code: bank.FailedPrecondition, Err: fmt.Errorf("job %s is already %s", id, h.Job.Status)}
		}
		h.CancelRequested = true
		if h.Job.Status == bank.JobPending {
			// No worker has started it: it ends here, and no worker
			// starts it any more.
			now := e.opts.Now().UTC()
			h.Job.Status, h.Job.UpdatedAt, h.Job.CompletedAt = bank.JobCancelled, now, &now
			claimed = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if claimed {
		if cur, err := e.cancelPending(ctx, h); err != nil {
			// The worker that takes the job up cancels them.
			e.opts.Logger.Warn("recording the items of a cancelled job failed", "job_id", id, "err", err)
		} else {
			h = cur
		}
		j := h.Job
		e.finished(ctx, &j)
		if e.opts.OnFinish != nil {
			e.opts.OnFinish(ctx, &j)
		}
	}
	j := h.Job
	return &j, nil
}

// cancelPending records every pending item of a job cancelled.
func (e *Engine) cancelPending(ctx context.Context, h *Header) (*Header, error) {
	idx := make([]int, h.Job.Total)
	for i := range idx {
		idx[i] = i
	}
	if _, err := e.jobs.UpdateItems(ctx, h.Job.Tenant, h.Job.ID, idx, cancelIfPending); err != nil {
		return nil, err
	}
	return e.jobs.Header(ctx, h.Job.Tenant, h.Job.ID)
}

func cancelIfPending(it *ItemRecord) error {
	if it.Result.Outcome == bank.OutcomePending {
		it.Result.Outcome = bank.OutcomeCancelled
	}
	return nil
}

// Wait blocks until the job finishes or ctx ends, and returns it.
func (e *Engine) Wait(ctx context.Context, tenant, id string) (*bank.Job, error) {
	ch := make(chan struct{})
	e.mu.Lock()
	e.waiters[id] = append(e.waiters[id], ch)
	e.mu.Unlock()
	defer e.dropWaiter(id, ch)
	for {
		rec, err := e.jobs.Header(ctx, tenant, id)
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

// JobID is the id of the job Submit makes of a Spec with this Identity for
// tenant, known before the job is submitted.
func JobID(tenant, identity string) string {
	return "job_" + uuid.NewSHA1(uuid.NameSpaceURL, fmt.Appendf(nil, "vagate:job:%s\n%s", tenant, identity)).String()
}

// ChunkKey is the provider idempotency key of one chunk of a job.
func ChunkKey(jobID, providerName string, chunk int) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, fmt.Appendf(nil, "vagate:%s:%s:%d", jobID, providerName, chunk)).String()
}

// ItemReference is the gateway's own reference of a job item, sent to
// providers without idempotency keys and the only key an unknown outcome is
// looked up by. It is unique per tenant, job and item, and short enough for
// every provider's reference field (28 characters).
func ItemReference(tenant, jobID string, index int) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "vagate:item-reference:%s\n%s\n%d", tenant, jobID, index))
	return "vgr-" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:15]))
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
//
// Each item is read and written on its own; the whole job is read once at
// the start of a round and once at its end.
func (e *Engine) Process(ctx context.Context, tenant, id string) error {
	hdr, err := e.jobs.Header(ctx, tenant, id)
	if err != nil {
		return err
	}
	if !hdr.Job.Status.Finished() {
		var span trace.Span
		ctx, span = e.jobContext(ctx, hdr)
		defer span.End()
		e.inFlight.Add(ctx, 1)
		defer e.inFlight.Add(context.WithoutCancel(ctx), -1)
	}
	if hdr.Job.Status == bank.JobPending {
		hdr, err = e.jobs.UpdateHeader(ctx, tenant, id, func(h *Header) error {
			if h.Job.Status == bank.JobPending {
				h.Job.Status = bank.JobInProgress
				h.Job.UpdatedAt = e.opts.Now().UTC()
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if hdr.Job.Status.Finished() {
		if hdr.CancelRequested && Settled(&hdr.Job) < hdr.Job.Total {
			// Cancelled before it started, and recording its items
			// cancelled failed then: record them now.
			if _, err := e.cancelPending(ctx, hdr); err != nil {
				return err
			}
		}
		e.wake(id)
		return nil
	}
	rec, err := e.jobs.Get(ctx, tenant, id)
	if err != nil {
		return err
	}
	// One round: send every pending item, check again every unknown one.
	if order, groups := e.open(rec); len(order) > 0 {
		var wg sync.WaitGroup
		for _, k := range order {
			wg.Go(func() { e.runChunk(ctx, rec, k, groups[k]) })
		}
		wg.Wait()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if rec, err = e.jobs.Get(ctx, tenant, id); err != nil {
			return err
		}
		if n := len(e.pending(rec)); n > 0 && !rec.CancelRequested {
			// A store error left items unsettled: hand the job back.
			return fmt.Errorf("job %s: %d item(s) not settled", id, n)
		}
		if after, ok := e.recheck(rec); ok {
			return &RecheckError{JobID: id, After: after}
		}
	}
	return e.finish(ctx, rec)
}

// finish concludes a job none of whose items is left to work on: items a
// cancel stopped before they were sent end cancelled; then OnFinish learns
// of the job, and only then is it stored as finished, so that its
// job.completed event follows the events of its accounts (recorded as each
// item settled, by the runs of this Process that have all returned) and
// precedes anything done by whoever saw it finished.
func (e *Engine) finish(ctx context.Context, rec *Record) error {
	tenant, id := rec.Job.Tenant, rec.Job.ID
	if p := e.pending(rec); len(p) > 0 {
		if !rec.CancelRequested {
			// Never settle an item without evidence: try again later.
			return fmt.Errorf("job %s: %d item(s) not settled", id, len(p))
		}
		// A cancel that raced the last chunk: these were never sent.
		if _, err := e.jobs.UpdateItems(ctx, tenant, id, p, cancelIfPending); err != nil {
			return err
		}
	}
	h, err := e.jobs.Header(ctx, tenant, id)
	if err != nil {
		return err
	}
	if h.Job.Status.Finished() {
		e.wake(id)
		return nil
	}
	if n := h.Job.Total - Settled(&h.Job); n > 0 {
		return fmt.Errorf("job %s: %d item(s) not settled", id, n)
	}
	for _, it := range rec.Items {
		if it.Result.Outcome == bank.OutcomeUnknown {
			e.opts.Logger.Error("item outcome still unknown after every check: needs attention",
				"job_id", id, "item", it.Result.Index, "provider", it.Provider, "checks", it.Checks)
		}
	}
	final := h.Job
	now := e.opts.Now().UTC()
	switch {
	case h.CancelRequested && final.Cancelled > 0:
		final.Status = bank.JobCancelled
	case final.Succeeded == final.Total:
		final.Status = bank.JobCompleted
	default:
		final.Status = bank.JobCompletedWithErrors
	}
	final.UpdatedAt, final.CompletedAt = now, &now
	if e.opts.OnFinish != nil {
		e.opts.OnFinish(ctx, &final)
	}
	if _, err := e.jobs.UpdateHeader(ctx, tenant, id, func(h *Header) error {
		if !h.Job.Status.Finished() {
			h.Job.Status, h.Job.UpdatedAt, h.Job.CompletedAt = final.Status, final.UpdatedAt, final.CompletedAt
		}
		return nil
	}); err != nil {
		return err
	}
	e.finished(ctx, &final)
	return nil
}

// RecheckError says a job has items of unknown outcome to check again after
// a wait; Run defers the job that long, freeing its worker meanwhile.
type RecheckError struct {
	JobID string
	After time.Duration
}

// Error says when the job is checked again.
func (e *RecheckError) Error() string {
	return fmt.Sprintf("job %s: items of unknown outcome are checked again in %s", e.JobID, e.After)
}

// recheck says whether unknown items with checks left remain, and how long
// to wait before the next check: CheckBackoff doubling per check made, up
// to 30s.
func (e *Engine) recheck(r *Record) (time.Duration, bool) {
	checks, any := 0, false
	for _, it := range r.Items {
		if it.Result.Outcome == bank.OutcomeUnknown && e.unsettled(&it) {
			any = true
			checks = max(checks, it.Checks)
		}
	}
	wait := e.opts.CheckBackoff
	for i := 1; i < checks && wait < 30*time.Second; i++ {
		wait *= 2
	}
	return min(wait, 30*time.Second), any
}

// pending lists the items that were never settled (no outcome yet).
func (e *Engine) pending(r *Record) []int {
	var out []int
	for i, it := range r.Items {
		if it.Result.Outcome == bank.OutcomePending {
			out = append(out, i)
		}
	}
	return out
}

// open groups by chunk the items still to work on: pending ones, and unknown
// ones with checks left.
func (e *Engine) open(r *Record) ([]chunkRef, map[chunkRef][]int) {
	var order []chunkRef
	groups := map[chunkRef][]int{}
	for i, it := range r.Items {
		if !e.unsettled(&it) {
			continue
		}
		k := chunkRef{it.Provider, it.Chunk}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	return order, groups
}

// unsettled says whether an item is still to be worked on.
func (e *Engine) unsettled(it *ItemRecord) bool {
	switch it.Result.Outcome {
	case bank.OutcomePending:
		return true
	case bank.OutcomeUnknown:
		return it.Checks < e.opts.Checks
	}
	return false
}

// finished wakes the waiters of a job now stored as finished and records
// how long it took.
func (e *Engine) finished(ctx context.Context, j *bank.Job) {
	e.wake(j.ID)
	if j.CompletedAt != nil {
		e.duration.Record(ctx, j.CompletedAt.Sub(j.CreatedAt).Seconds(),
			metric.WithAttributes(attribute.String("status", string(j.Status))))
	}
}

// runChunk sends one chunk (or resumes it) and records its outcomes.
func (e *Engine) runChunk(ctx context.Context, rec *Record, k chunkRef, idx []int) {
	p, ok := e.reg.Get(k.provider)
	if !ok {
		e.settle(ctx, rec, idx, nil, nil, &bank.Error{Code: bank.FailedPrecondition, Err: fmt.Errorf("provider %q is no longer configured", k.provider)})
		return
	}
	cur, err := e.jobs.Items(ctx, rec.Job.Tenant, rec.Job.ID, idx)
	if err != nil {
		return
	}
	first := cur[0]
	sentBefore := first.Sent || first.Checks > 0 || first.Operation != ""
	if !sentBefore && p.BreakerState() == "open" {
		// Never sent, and the provider fails fast: items with somewhere
		// else to go go there without trying it.
		var stay []int
		var left []ItemRecord
		moves := map[int]move{}
		for n, i := range idx {
			if mv, ok := e.nextProvider(rec, &cur[n], bank.FailoverBreakerOpen); ok {
				moves[i] = mv
				continue
			}
			stay = append(stay, i)
			left = append(left, cur[n])
		}
		if len(moves) > 0 {
			e.failOver(ctx, rec, moves)
			if len(stay) == 0 {
				return
			}
			idx, cur, first = stay, left, left[0]
		}
	}
	// Fail fast when every item has somewhere else to go; an item without
	// one keeps the usual retries (and goes nowhere else).
	failFast := true
	for _, it := range cur {
		failFast = failFast && len(it.Fallbacks) > 0
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
	// SentBefore: an earlier run sent this chunk and may have created it,
	// so no later failure alone proves it was not created.
	opts := &gateway.CreateOptions{Operation: first.Operation, SentBefore: first.Sent || first.Checks > 0, FailFast: failFast,
		OnOperation: func(op string) { e.saveOperation(ctx, rec, idx, op) }}
	if first.Operation == "" && !first.Sent {
		// Never sent: once the provider's bulkhead lets it through, a
		// cancel that arrived meanwhile stops it; otherwise it is recorded
		// as sent before it is. Sent items are seen through.
		opts.BeforeSend = func() error {
			hdr, err := e.jobs.Header(ctx, rec.Job.Tenant, rec.Job.ID)
			if err != nil {
				return err
			}
			if hdr.CancelRequested {
				return errCancelled
			}
			return e.markSent(ctx, rec, idx)
		}
	}
	results, err := p.Create(cctx, req, opts)
	switch {
	case errors.Is(err, errCancelled):
		e.cancelItems(ctx, rec, idx)
		return
	case errors.Is(err, gateway.ErrNotSent):
		// Unrecorded, a send could be repeated blindly: don't send.
		e.opts.Logger.Warn("checking or marking a chunk as sent failed; not sending it now", "job_id", rec.Job.ID, "err", err)
		return
	}
	if ctx.Err() != nil {
		return // shutting down: leave the items for the next run
	}
	moves := e.settle(ctx, rec, idx, cur, results, err)
	e.failOver(ctx, rec, moves)
}

// move is an item's failover: the provider it goes to, the fallbacks left
// after it, and why it leaves the one it was at.
type move struct {
	to     string
	rest   []string
	reason bank.FailoverReason
}

// failoverReason says whether err, the outcome of an item at a provider, is
// evidence that the provider created nothing and the item may go to a
// fallback, and why.
func failoverReason(err error) (bank.FailoverReason, bool) {
	code := bank.Code(err)
	switch {
	case err == nil || !code.OutcomeKnown():
		return "", false
	case errors.Is(err, gateway.ErrNotCreated):
		return bank.FailoverNotCreated, true
	case errors.Is(err, gateway.ErrFailFast):
		return bank.FailoverBreakerOpen, true
	case code == bank.Unavailable:
		return bank.FailoverUnavailable, true
	case code == bank.ResourceExhausted:
		return bank.FailoverResourceExhausted, true
	}
	return "", false
}

// nextProvider picks the first of the item's fallbacks that accepts it: one
// still configured that serves its currency and needed capability, whose
// validation passes the item's fields and the job's custom headers, and
// whose money accounts the job's tenant may name. Fallbacks refusing it are
// skipped for good.
func (e *Engine) nextProvider(rec *Record, it *ItemRecord, reason bank.FailoverReason) (move, bool) {
	for n, name := range it.Fallbacks {
		p, ok := e.reg.Get(name)
		if !ok || !gateway.Serves(p, &it.Request) {
			continue
		}
		req := &provider.CreateRequest{Items: []provider.CreateItem{it.Request}, CustomHeaders: rec.CustomHeaders}
		if p.ValidateCreate(req) != nil || len(p.CheckAccounts(rec.Job.Tenant, "", &it.Request)) > 0 {
			continue
		}
		return move{to: name, rest: slices.Clone(it.Fallbacks[n+1:]), reason: reason}, true
	}
	return move{}, false
}

// failoverChunk is the chunk of an item that failed over: its own, so that
// its idempotency key at the fallback is shared with no other item.
func failoverChunk(index int) int { return -1 - index }

// failOver records each item of moves at its new provider, pending and
// never sent there, then sends it.
func (e *Engine) failOver(ctx context.Context, rec *Record, moves map[int]move) {
	if len(moves) == 0 {
		return
	}
	idx := slices.Sorted(maps.Keys(moves))
	saved, err := e.jobs.UpdateItems(ctx, rec.Job.Tenant, rec.Job.ID, idx, func(it *ItemRecord) error {
		mv := moves[it.Result.Index]
		if it.Result.Outcome.Final() {
			return nil
		}
		r := it.Result.Routing.Clone()
		if r == nil {
			r = &bank.Routing{}
		}
		r.RoutedBy, r.Reason, r.FailedOver = bank.RoutedByFallback, mv.reason, append(r.FailedOver, it.Provider)
		it.Provider, it.Fallbacks, it.Chunk = mv.to, mv.rest, failoverChunk(it.Result.Index)
		it.Sent, it.Operation, it.Checks = false, "", 0
		it.Result.Provider, it.Result.Routing, it.Result.Outcome, it.Result.Error = mv.to, r, bank.OutcomePending, nil
		return nil
	})
	if err != nil {
		// Left where they were: the next run tries them again there.
		e.opts.Logger.Error("recording a failover failed", "job_id", rec.Job.ID, "err", err)
		return
	}
	var wg sync.WaitGroup
	for n, it := range saved {
		if it.Result.Outcome != bank.OutcomePending || it.Result.Routing == nil || it.Result.Routing.RoutedBy != bank.RoutedByFallback {
			continue
		}
		left := it.Result.Routing.FailedOver[len(it.Result.Routing.FailedOver)-1]
		e.failovers.Add(ctx, 1, metric.WithAttributes(attribute.String("from", left), attribute.String("to", it.Provider),
			attribute.String("reason", string(it.Result.Routing.Reason))))
		e.opts.Logger.Info("job item failed over", "job_id", rec.Job.ID, "item", idx[n], "from", left, "to", it.Provider,
			"reason", string(it.Result.Routing.Reason))
		wg.Go(func() { e.runChunk(ctx, rec, chunkRef{it.Provider, it.Chunk}, []int{idx[n]}) })
	}
	wg.Wait()
}

// errCancelled stops a chunk whose job was cancelled before it was sent.
var errCancelled = errors.New("job cancelled before the chunk was sent")

// endItemSpans records one span per item of a chunk with its outcome.
func (e *Engine) endItemSpans(ctx context.Context, rec *Record, idx []int) {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return
	}
	cur, err := e.jobs.Items(context.WithoutCancel(ctx), rec.Job.Tenant, rec.Job.ID, idx)
	if err != nil {
		return
	}
	for n, i := range idx {
		r := cur[n].Result
		_, span := e.tracer.Start(ctx, "job item", trace.WithAttributes(attribute.Int("vagate.item", i),
			attribute.String("vagate.outcome", string(r.Outcome)), attribute.String("vagate.provider", cur[n].Provider)))
		if r.Error != nil {
			span.SetStatus(codes.Error, r.Error.Code.String())
		}
		span.End()
	}
}

func (e *Engine) markSent(ctx context.Context, rec *Record, idx []int) error {
	_, err := e.jobs.UpdateItems(ctx, rec.Job.Tenant, rec.Job.ID, idx, func(it *ItemRecord) error {
		it.Sent = true
		return nil
	})
	return err
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

func (e *Engine) saveOperation(ctx context.Context, rec *Record, idx []int, op string) {
	_, err := e.jobs.UpdateItems(ctx, rec.Job.Tenant, rec.Job.ID, idx, func(it *ItemRecord) error {
		it.Operation = op
		return nil
	})
	if err != nil {
		e.opts.Logger.Warn("saving provider operation failed", "job_id", rec.Job.ID, "err", err)
	}
}

func (e *Engine) cancelItems(ctx context.Context, rec *Record, idx []int) {
	if _, err := e.jobs.UpdateItems(ctx, rec.Job.Tenant, rec.Job.ID, idx, cancelIfPending); err != nil {
		e.opts.Logger.Warn("recording cancelled items failed", "job_id", rec.Job.ID, "err", err)
	}
}

// settle records the outcome of a chunk: accounts are stored before the job
// says created, so a job never points at an account the store lacks. cur
// holds the items as read before the chunk was sent. It returns the items
// that fail over instead of failing: they are left as they were, for
// failOver.
func (e *Engine) settle(ctx context.Context, rec *Record, idx []int, cur []ItemRecord, results []provider.ItemResult, chunkErr error) map[int]move {
	now := e.opts.Now().UTC()
	type outcome struct {
		acc    *bank.Account
		err    error
		jobRef string // the provider's job
	}
	outs := make([]outcome, len(idx))
	for n, i := range idx {
		if n < len(results) {
			outs[n].jobRef = results[n].ProviderJobID
		}
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
			if a.ClientReference == "" {
				a.ClientReference = item.ClientReference
			}
			if a.Metadata == nil && item.Metadata != nil {
				a.Metadata = item.Metadata
			}
			if n < len(cur) {
				a.Routing = cur[n].Result.Routing.Clone()
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
	moves := map[int]move{}
	for n, i := range idx {
		if n >= len(cur) || outs[n].acc != nil {
			continue
		}
		if reason, ok := failoverReason(outs[n].err); ok {
			if mv, ok := e.nextProvider(rec, &cur[n], reason); ok {
				moves[i] = mv
			}
		}
	}
	pos := make(map[int]int, len(idx))
	for n, i := range idx {
		pos[i] = n
	}
	_, err := e.jobs.UpdateItems(ctx, rec.Job.Tenant, rec.Job.ID, idx, func(it *ItemRecord) error {
		i := it.Result.Index
		n, ok := pos[i]
		if !ok {
			return fmt.Errorf("job %s: stored item %d is not where it belongs", rec.Job.ID, i)
		}
		res := &it.Result
		if res.Outcome.Final() {
			return nil
		}
		if _, ok := moves[i]; ok {
			return nil // failOver records it
		}
		if outs[n].jobRef != "" {
			res.ProviderJobID = outs[n].jobRef
		}
		if outs[n].acc != nil {
			res.Outcome, res.Account, res.Error = bank.OutcomeCreated, outs[n].acc, nil
			return nil
		}
		code := bank.Code(outs[n].err)
		res.Error = &bank.Problem{Code: code, Message: outs[n].err.Error(), ProviderCode: bank.ProviderCodeOf(outs[n].err)}
		for _, f := range bank.FieldsOf(outs[n].err) {
			// Adapters name fields relative to the item.
			f.Pointer = fmt.Sprintf("/items/%d%s", i, f.Pointer)
			res.Error.Fields = append(res.Error.Fields, f)
		}
		if code.OutcomeKnown() {
			res.Outcome = bank.OutcomeFailed
		} else {
			res.Outcome = bank.OutcomeUnknown
			if !errors.Is(outs[n].err, gateway.ErrFailFast) {
				// A check counts when it reached the provider; one the
				// breaker refused learned nothing.
				it.Checks++
			}
		}
		return nil
	})
	if err != nil {
		e.opts.Logger.Error("recording chunk outcome failed", "job_id", rec.Job.ID, "err", err)
		return nil
	}
	if e.opts.OnAccount != nil {
		for _, o := range outs {
			if o.acc != nil {
				e.opts.OnAccount(ctx, o.acc)
			}
		}
	}
	return moves
}
