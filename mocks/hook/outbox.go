// Package hook delivers a bundled mock's outbound webhooks and callbacks
// and applies the webhook faults QA scripts. Every mock that sends webhooks
// hands each one to its Outbox as a Message; the mock only builds the body
// and signs it (Message.Sign), since each provider signs differently.
//
// # Delivery
//
// Messages to one target (a registered webhook, a callback URL) go out one
// at a time, in the order they were sent. An attempt not answered 2xx is
// retried after Options.Backoff, doubling, until Options.Attempts attempts
// in all; every attempt is signed anew over the same body. Redirects are not
// followed. Every message is recorded (Outbox.Deliveries): faults applied,
// attempts, last status, the headers of the last attempt.
//
// # Faults
//
// A script (Faults) has rates that apply to every message and rules that
// match messages by event and status; see Faults and Rule. A delayed message
// leaves its target's queue, so later messages overtake it; a reordered one
// is held until the target's next message has gone out; a corrupted one is
// signed over another body than the one sent. Random choices come from a
// source seeded by Options.Seed, so a run is reproducible for a seed and
// message order.
//
// # Admin API (mounted by each mock that sends webhooks)
//
//	GET    /__admin/faults/webhooks   {"rule": script, "rules": [rules with fired counts], "stats": Stats}
//	PUT    /__admin/faults/webhooks   replace the script (a Faults JSON object); answers it
//	DELETE /__admin/faults/webhooks   clear the script
//
// The same handler answers at /__admin/webhooks/faults, where the masterfiat
// mock first served its rules ({"rules": [...]}), so scripts written for
// either path keep working.
package hook

import (
	"bytes"
	"cmp"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Admin paths of the webhook fault script.
const (
	AdminPath      = "/__admin/faults/webhooks"
	AdminAliasPath = "/__admin/webhooks/faults"
)

// Message is one outbound webhook or callback.
type Message struct {
	// Target orders delivery: messages to one target go one at a time, in
	// order ("" = the URL).
	Target string
	URL    string
	// Event and Status are what fault rules match (the event name and the
	// status the message carries); either may be "".
	Event  string
	Status string
	Body   []byte
	// Header is sent with every attempt (Content-Type defaults to application/json).
	Header http.Header
	// Sign returns the signature headers of body; it is called for every
	// attempt, without the outbox's lock held. Nil sends unsigned.
	Sign func(body []byte) (http.Header, error)
	// Info is the mock's own description of the message, kept in its record.
	Info any
}

// Delivery is the record of one message (or of the second copy of a duplicated one).
type Delivery struct {
	Target, URL, Event, Status string
	Info                       any
	Body                       []byte
	// Fault lists the faults applied, comma-separated (drop, duplicate, corrupt, delay, reorder).
	Fault string
	// Copy is 2 for the second copy of a duplicated message.
	Copy int
	// Headers are the headers of the last attempt.
	Headers    http.Header
	Attempts   int
	LastStatus int
	LastError  string
	Delivered  bool
	Dropped    bool
}

// Options configure an Outbox.
type Options struct {
	// Seed makes fault choices reproducible.
	Seed uint64
	// Client sends the messages (default: 5s timeout, redirects not followed).
	Client *http.Client
	// Attempts is how many attempts a message gets in all (default 3).
	Attempts int
	// Backoff is the wait before the first retry, doubling after (default 100ms).
	Backoff time.Duration
	// UserAgent is sent with every attempt ("" = none set).
	UserAgent string
}

// Outbox delivers one mock's messages through its webhook faults.
type Outbox struct {
	opts   Options
	client *http.Client
	own    bool
	wg     sync.WaitGroup
	root   context.Context // cancelled by Close
	stop   context.CancelFunc

	mu      sync.Mutex
	closed  bool
	gen     context.Context // cancelled by Reset and Close
	genStop context.CancelFunc
	queues  map[string]*queue
	records []*Delivery
	script  Faults // Rules are kept in rules
	rules   []*Rule
	stats   Stats
	rng     *rand.Rand
}

// queue is one target's messages and the state of its worker.
type queue struct {
	ctx     context.Context
	cancel  context.CancelFunc
	items   []*entry
	notify  chan struct{}
	running bool
}

// entry is a message on its way, with the faults chosen for it.
type entry struct {
	msg     Message
	recs    []*Delivery // one, or two when duplicated
	delay   time.Duration
	reorder bool
	corrupt bool
	maxHold time.Duration
}

// New returns an empty outbox with no faults.
func New(opts *Options) *Outbox {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Attempts <= 0 {
		o.Attempts = 3
	}
	if o.Backoff <= 0 {
		o.Backoff = 100 * time.Millisecond
	}
	ob := &Outbox{opts: o, client: o.Client}
	if ob.client == nil {
		ob.own = true
		ob.client = &http.Client{
			Timeout:       5 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	ob.root, ob.stop = context.WithCancel(context.Background())
	ob.gen, ob.genStop = context.WithCancel(ob.root)
	ob.queues = map[string]*queue{}
	ob.rng = newRNG(o.Seed)
	return ob
}

func newRNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x776562686f6f6b73)) }

// Send records m and queues it for delivery through the faults. It never
// waits for delivery and never calls back into the caller, so a mock may
// call it with its own lock held to keep its events in the order they
// happened. After Close it does nothing.
func (o *Outbox) Send(m Message) {
	m.Body = slices.Clone(m.Body)
	m.Header = m.Header.Clone()
	target := cmp.Or(m.Target, m.URL)
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return
	}
	e := o.decideLocked(m)
	if e == nil {
		return
	}
	q := o.queues[target]
	if q == nil {
		q = &queue{notify: make(chan struct{}, 1)}
		q.ctx, q.cancel = context.WithCancel(o.gen)
		o.queues[target] = q
	}
	q.items = append(q.items, e)
	if q.running {
		select {
		case q.notify <- struct{}{}:
		default:
		}
		return
	}
	q.running = true
	o.wg.Add(1)
	go o.work(q)
}

// decideLocked records m and chooses its faults; it returns nil when m is dropped.
func (o *Outbox) decideLocked(m Message) *entry {
	o.stats.Deliveries++
	rec := &Delivery{Target: m.Target, URL: m.URL, Event: m.Event, Status: m.Status, Info: m.Info, Body: m.Body}
	o.records = append(o.records, rec)
	rule := o.pickLocked(&m)
	var action string
	if rule != nil {
		action = rule.Action
	}
	roll := func(rate float64) bool { return rate > 0 && (rate >= 1 || o.rng.Float64() < rate) }
	s := &o.script
	if action == Drop || roll(s.DropRate) {
		o.stats.Dropped++
		rec.Fault, rec.Dropped = Drop, true
		return nil
	}
	e := &entry{msg: m, recs: []*Delivery{rec}, maxHold: time.Duration(s.MaxHold)}
	if e.maxHold <= 0 {
		e.maxHold = 2 * time.Second
	}
	var faults []string
	if action == Duplicate || roll(s.DuplicateRate) {
		o.stats.Duplicated++
		faults = append(faults, Duplicate)
		c := *rec
		c.Copy = 2
		o.records = append(o.records, &c)
		e.recs = append(e.recs, &c)
	}
	if action == Corrupt || roll(s.CorruptRate) {
		o.stats.Corrupted++
		faults = append(faults, Corrupt)
		e.corrupt = true
	}
	e.delay = time.Duration(s.Delay)
	if s.Jitter > 0 {
		e.delay += time.Duration(o.rng.Int64N(int64(s.Jitter) + 1))
	}
	if action == Delay {
		e.delay += time.Duration(rule.Delay)
	}
	if e.delay > 0 {
		o.stats.Delayed++
		faults = append(faults, Delay)
	}
	e.reorder = action == Reorder || roll(s.ReorderRate)
	for _, r := range e.recs {
		r.Fault = strings.Join(faults, ",")
	}
	return e
}

func matches(r *Rule, m *Message) bool {
	return (r.Event == "" || r.Event == m.Event) && (r.Status == "" || r.Status == m.Status)
}

// pickLocked returns the first rule that matches m and fires.
func (o *Outbox) pickLocked(m *Message) *Rule {
	for _, r := range o.rules {
		if !matches(r, m) || (r.Times > 0 && r.Fired >= r.Times) {
			continue
		}
		if r.Rate > 0 && r.Rate < 1 && o.rng.Float64() >= r.Rate {
			continue
		}
		r.Fired++
		return r
	}
	return nil
}

// work sends q's messages in order until q is empty and holds nothing, or is cancelled.
func (o *Outbox) work(q *queue) {
	defer o.wg.Done()
	var held *entry
	var hold *time.Timer
	release := func() *entry {
		h := held
		held = nil
		if hold != nil {
			hold.Stop()
			hold = nil
		}
		return h
	}
	defer release()
	for {
		o.mu.Lock()
		if q.ctx.Err() != nil || (len(q.items) == 0 && held == nil) {
			q.running = false
			o.mu.Unlock()
			return
		}
		var e *entry
		if len(q.items) > 0 {
			e, q.items = q.items[0], q.items[1:]
			if e.reorder && held == nil {
				o.stats.Reordered++
				for _, r := range e.recs {
					r.Fault = strings.Trim(r.Fault+","+Reorder, ",")
				}
				held, hold = e, time.NewTimer(e.maxHold)
				o.mu.Unlock()
				continue
			}
		}
		o.mu.Unlock()
		if e != nil {
			o.process(q, e)
			if held != nil { // e overtook it
				o.process(q, release())
			}
			continue
		}
		select {
		case <-q.ctx.Done():
		case <-q.notify:
		case <-hold.C:
			o.process(q, release())
		}
	}
}

// process sends e now, or after its delay off the queue.
func (o *Outbox) process(q *queue, e *entry) {
	if e.delay <= 0 {
		o.deliver(q.ctx, e)
		return
	}
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		if sleep(q.ctx, e.delay) {
			o.deliver(q.ctx, e)
		}
	}()
}

// deliver sends every copy of e, each retried until a 2xx answer or Attempts attempts.
func (o *Outbox) deliver(ctx context.Context, e *entry) {
	for _, rec := range e.recs {
		wait := o.opts.Backoff
		for attempt := range o.opts.Attempts {
			if attempt > 0 {
				if !sleep(ctx, wait) {
					return
				}
				wait *= 2
			}
			code, errText, hdr := o.attempt(ctx, e)
			o.mu.Lock()
			rec.Attempts++
			rec.LastStatus, rec.LastError, rec.Headers = code, errText, hdr
			rec.Delivered = code >= 200 && code < 300
			delivered := rec.Delivered
			o.mu.Unlock()
			if delivered || ctx.Err() != nil {
				break
			}
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// attempt sends e once; it returns the answer's status (0 if none), the error and the headers sent.
func (o *Outbox) attempt(ctx context.Context, e *entry) (int, string, http.Header) {
	m := &e.msg
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.URL, bytes.NewReader(m.Body))
	if err != nil {
		return 0, err.Error(), nil
	}
	for k, v := range m.Header {
		req.Header[k] = slices.Clone(v)
	}
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if o.opts.UserAgent != "" {
		req.Header.Set("User-Agent", o.opts.UserAgent)
	}
	if m.Sign != nil {
		signed := m.Body
		if e.corrupt { // a signature over another body: it cannot verify
			signed = append(slices.Clone(m.Body), ' ')
		}
		h, err := m.Sign(signed)
		if err != nil {
			return 0, err.Error(), nil
		}
		for k, v := range h {
			req.Header[k] = slices.Clone(v)
		}
	}
	hdr := req.Header.Clone()
	resp, err := o.client.Do(req)
	if err != nil {
		return 0, err.Error(), hdr
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp.StatusCode, "", hdr
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

// Deliveries returns a copy of the records so far, oldest first.
func (o *Outbox) Deliveries() []Delivery {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]Delivery, len(o.records))
	for i, r := range o.records {
		out[i] = *r
		out[i].Headers = r.Headers.Clone()
		out[i].Body = slices.Clone(r.Body)
	}
	return out
}

// SetFaults replaces the fault script (the zero Faults clears it).
func (o *Outbox) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	rules := make([]*Rule, len(f.Rules))
	for i, r := range f.Rules {
		r.Fired = 0
		rules[i] = &r
	}
	f.Rules = nil
	o.mu.Lock()
	defer o.mu.Unlock()
	o.script, o.rules = f, rules
	return nil
}

// Faults returns the fault script, its rules with how often each fired, and what the faults did.
func (o *Outbox) Faults() (Faults, Stats) {
	o.mu.Lock()
	defer o.mu.Unlock()
	f := o.script
	f.Rules = make([]Rule, len(o.rules))
	for i, r := range o.rules {
		f.Rules[i] = *r
	}
	return f, o.stats
}

// ResetFaults clears the script and its counts and reseeds the random source.
func (o *Outbox) ResetFaults() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.script, o.rules, o.stats = Faults{}, nil, Stats{}
	o.rng = newRNG(o.opts.Seed)
}

// Cancel drops the messages queued or held for target and stops those in flight.
func (o *Outbox) Cancel(target string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if q := o.queues[target]; q != nil {
		q.cancel()
		delete(o.queues, target)
	}
}

// Reset stops every delivery and forgets the records, the script and its counts.
func (o *Outbox) Reset() {
	o.mu.Lock()
	o.genStop()
	o.gen, o.genStop = context.WithCancel(o.root)
	o.queues = map[string]*queue{}
	o.records = nil
	o.mu.Unlock()
	o.ResetFaults()
}

// Close stops every delivery and waits for them; later messages are ignored. It is idempotent.
func (o *Outbox) Close() {
	o.mu.Lock()
	o.closed = true
	o.genStop()
	o.stop()
	o.mu.Unlock()
	o.wg.Wait()
	if o.own {
		o.client.CloseIdleConnections()
	}
}
