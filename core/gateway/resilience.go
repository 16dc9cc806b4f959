package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/sony/gobreaker/v2"
	"golang.org/x/time/rate"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/provider"
)

// Limits is one provider's resilience policy. Zero fields take defaults.
type Limits struct {
	// AttemptTimeout bounds one HTTP attempt (default 10s).
	AttemptTimeout time.Duration
	// CallTimeout bounds one call, every attempt and wait included (default 30s).
	CallTimeout time.Duration
	// MaxAttempts bounds the attempts of a call that may be resent, and the
	// sends of a create (see Provider.Create) (default 3).
	MaxAttempts int
	// BackoffMin and BackoffMax bound the full-jitter backoff (100ms, 5s).
	BackoffMin, BackoffMax time.Duration
	// MaxConcurrent bounds the attempts in flight to the provider, and the
	// creates being sent: a create holds one slot for all its sends and
	// lookups (default 16). It is the provider's only bulkhead.
	MaxConcurrent int
	// RatePerSecond limits attempts per second; 0 means no limit.
	RatePerSecond float64
	// Burst is the rate limiter's burst (default: RatePerSecond, at least 1).
	Burst int
	// SettleDelay is how long a create whose send's outcome is unknown (it
	// timed out, or its connection broke) is left to finish at the provider
	// before it is looked up by reference, at a provider without
	// idempotency keys: a lookup made while that send may still be running
	// there proves nothing (default 1s; raise it for a provider whose
	// creates may go on that long after the gateway stopped waiting).
	SettleDelay time.Duration
	// Breaker configures the circuit breaker.
	Breaker BreakerLimits
	// Conns configures the connections to the provider.
	Conns ConnLimits
}

// ConnLimits configure the pool of connections to a provider. The pool is
// sized to the bulkhead, so that every attempt in flight can find an idle
// connection when it ends and the next one reuses it, instead of each
// attempt beyond the pool's size opening a new connection and leaving the
// old one in TIME-WAIT.
type ConnLimits struct {
	// IdlePerHost is how many idle connections are kept per provider host
	// (at least MaxConcurrent; default twice MaxConcurrent: a connection goes
	// back to the pool a moment after its attempt frees its bulkhead slot,
	// so the next attempt may dial one more, which the pool must keep rather
	// than close).
	IdlePerHost int
	// IdleTimeout closes a connection idle this long (default 90s).
	IdleTimeout time.Duration
	// KeepAlive is the TCP keep-alive probe period (default 30s).
	KeepAlive time.Duration
	// DialTimeout bounds opening a connection, TLS handshake apart (default 5s).
	DialTimeout time.Duration
	// DisableHTTP2 keeps to HTTP/1.1 even when the provider offers HTTP/2
	// (by default HTTP/2 is used where the provider's TLS offers it).
	DisableHTTP2 bool
}

// BreakerLimits configure the circuit breaker. It opens when, over the
// rolling Window, at least MinRequests attempts were made and the share of
// provider-side failures reached FailureRatio.
type BreakerLimits struct {
	FailureRatio float64       // default 0.5
	MinRequests  uint32        // default 10
	Window       time.Duration // default 30s, in 10 buckets
	// OpenFor is how long it fails fast before letting probes through (default 10s).
	OpenFor time.Duration
	// Probes is how many attempts half-open lets through (default 3).
	Probes uint32
}

func (l *Limits) withDefaults() Limits {
	var r Limits
	if l != nil {
		r = *l
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&r.AttemptTimeout, 10*time.Second)
	def(&r.CallTimeout, 30*time.Second)
	def(&r.BackoffMin, 100*time.Millisecond)
	def(&r.BackoffMax, 5*time.Second)
	def(&r.Breaker.Window, 30*time.Second)
	def(&r.Breaker.OpenFor, 10*time.Second)
	def(&r.SettleDelay, time.Second)
	if r.MaxAttempts <= 0 {
		r.MaxAttempts = 3
	}
	if r.MaxConcurrent <= 0 {
		r.MaxConcurrent = 16
	}
	if r.Burst <= 0 {
		r.Burst = max(1, int(r.RatePerSecond))
	}
	if r.Breaker.FailureRatio <= 0 || r.Breaker.FailureRatio > 1 {
		r.Breaker.FailureRatio = 0.5
	}
	if r.Breaker.MinRequests == 0 {
		r.Breaker.MinRequests = 10
	}
	if r.Breaker.Probes == 0 {
		r.Breaker.Probes = 3
	}
	if r.Conns.IdlePerHost <= 0 {
		r.Conns.IdlePerHost = 2 * r.MaxConcurrent
	}
	r.Conns.IdlePerHost = max(r.Conns.IdlePerHost, r.MaxConcurrent)
	def(&r.Conns.IdleTimeout, 90*time.Second)
	def(&r.Conns.KeepAlive, 30*time.Second)
	def(&r.Conns.DialTimeout, 5*time.Second)
	return r
}

// newTransport is the transport to a provider sized by c: keep-alive on,
// idle connections per host at least the bulkhead, HTTP/2 where offered.
func newTransport(c ConnLimits) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: c.DialTimeout, KeepAlive: c.KeepAlive}).DialContext
	t.DisableKeepAlives = false
	t.MaxIdleConns = 0 // no limit across hosts; IdlePerHost bounds each
	t.MaxIdleConnsPerHost = c.IdlePerHost
	t.IdleConnTimeout = c.IdleTimeout
	t.ForceAttemptHTTP2 = !c.DisableHTTP2
	if c.DisableHTTP2 {
		t.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return t
}

// Client is the HTTP client one provider's adapter sends through: per
// attempt a rate limit, a bulkhead, a circuit breaker and a timeout; per call
// an overall deadline and retries (go-retryablehttp) of requests that are
// safe to resend.
type Client struct {
	name    string
	limits  Limits
	log     *slog.Logger
	breaker *gobreaker.CircuitBreaker[*http.Response]
	sem     chan struct{}
	limiter *rate.Limiter
	http    *http.Client
	signer  atomic.Pointer[provider.AttemptSigner]
	attempt *attemptTransport
	tel     *clientTelemetry

	// mu guards since and changes. It is a leaf lock: OnStateChange takes it
	// while the breaker holds its own lock, so nothing may call into the
	// breaker (or anything else) while holding mu.
	mu       sync.Mutex
	since    time.Time // when the breaker last changed state
	changes  int
	attempts atomic.Int64
	retries  atomic.Int64
}

// NewClient builds the client for provider name over base (nil: a
// transport sized by l.Conns, see ConnLimits).
func NewClient(name string, l *Limits, base http.RoundTripper, log *slog.Logger) *Client {
	lim := l.withDefaults()
	if base == nil {
		base = newTransport(lim.Conns)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Client{name: name, limits: lim, log: log, sem: make(chan struct{}, lim.MaxConcurrent), since: time.Now()}
	if lim.RatePerSecond > 0 {
		c.limiter = rate.NewLimiter(rate.Limit(lim.RatePerSecond), lim.Burst)
	}
	b := lim.Breaker
	c.breaker = gobreaker.NewCircuitBreaker[*http.Response](gobreaker.Settings{
		Name:         name,
		MaxRequests:  b.Probes,
		Interval:     b.Window,
		BucketPeriod: b.Window / 10,
		Timeout:      b.OpenFor,
		ReadyToTrip: func(n gobreaker.Counts) bool {
			valid := n.TotalSuccesses + n.TotalFailures
			return valid >= b.MinRequests && float64(n.TotalFailures) >= b.FailureRatio*float64(valid)
		},
		IsExcluded: func(err error) bool { return errors.Is(err, context.Canceled) },
		// OnStateChange runs under the breaker's lock: it must not call the
		// breaker, and takes only the leaf lock c.mu.
		OnStateChange: func(_ string, from, to gobreaker.State) {
			c.mu.Lock()
			c.since, c.changes = time.Now(), c.changes+1
			c.mu.Unlock()
			log.Warn("provider circuit breaker changed state", "provider", name, "from", from.String(), "to", to.String())
		},
	})
	c.attempt = &attemptTransport{c: c, base: base}
	rc := &retryablehttp.Client{
		HTTPClient:   &http.Client{Transport: c.attempt},
		RetryWaitMin: lim.BackoffMin,
		RetryWaitMax: lim.BackoffMax,
		RetryMax:     lim.MaxAttempts - 1,
		CheckRetry:   c.checkRetry,
		Backoff:      FullJitterBackoff,
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	c.http = &http.Client{Transport: &callTransport{c: c, next: &retryablehttp.RoundTripper{Client: rc}}}
	return c
}

// HTTP is the client to hand to the adapter.
func (c *Client) HTTP() *http.Client { return c.http }

// SetSigner installs the adapter's per-attempt signer.
func (c *Client) SetSigner(s provider.AttemptSigner) { c.signer.Store(&s) }

// BreakerStatus is a snapshot of the breaker.
type BreakerStatus struct {
	State    string
	Since    time.Time
	Changes  int
	Requests uint32
	Failures uint32
	Attempts int64
	Retries  int64
}

// Breaker reports the breaker's state and its rolling counts.
//
// The breaker is read before c.mu is taken, never under it: reading its state
// may move it from open to half-open, and that transition calls back into
// OnStateChange, which takes c.mu.
func (c *Client) Breaker() BreakerStatus {
	state := c.breaker.State()
	n := c.breaker.Counts()
	c.mu.Lock()
	since, changes := c.since, c.changes
	c.mu.Unlock()
	return BreakerStatus{State: state.String(), Since: since, Changes: changes,
		Requests: n.TotalSuccesses + n.TotalFailures, Failures: n.TotalFailures,
		Attempts: c.attempts.Load(), Retries: c.retries.Load()}
}

// Limits returns the policy in force.
func (c *Client) Limits() Limits { return c.limits }

type callInfoKey struct{}

// callInfo travels with a request's context through every attempt.
type callInfo struct {
	method   string
	resend   bool
	attempts atomic.Int32

	mu      sync.Mutex
	unknown error // the first attempt of a write whose outcome is unknown
}

// writes reports whether the request can change state at the provider.
func (i *callInfo) writes() bool {
	switch i.method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// attempted records one attempt that reached the transport: a write whose
// attempt failed after the request may have been sent (a timeout, a reset
// connection, a 500 or 504) leaves the request's outcome unknown until a
// later attempt settles it.
func (i *callInfo) attempted(resp *http.Response, err error) {
	if i == nil || !i.writes() {
		return
	}
	var why error
	switch {
	case err != nil && !provider.TransportCode(err).OutcomeKnown():
		why = withoutURLs(err)
	case err == nil && !provider.CodeForStatus(resp.StatusCode).OutcomeKnown() && resp.StatusCode >= 500:
		why = fmt.Errorf("provider answered %d", resp.StatusCode)
	default:
		return
	}
	i.mu.Lock()
	if i.unknown == nil {
		i.unknown = why
	}
	i.mu.Unlock()
}

// resentByTransport records that the HTTP transport sent an attempt again
// on a new connection after the first broke: the first may have reached the
// provider, so the request's outcome is unknown until a later answer settles
// it.
func (i *callInfo) resentByTransport() {
	if i == nil || !i.writes() {
		return
	}
	i.mu.Lock()
	if i.unknown == nil {
		i.unknown = errors.New("its connection broke and the HTTP transport sent it again")
	}
	i.mu.Unlock()
}

// unsettled is the unknown attempt, if the request's final answer does not
// settle it: a success or a refusal settles it, a failure does not.
func (i *callInfo) unsettled(resp *http.Response, err error) error {
	if i == nil {
		return nil
	}
	if err == nil && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests {
		return nil
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.unknown
}

type outcomeKey struct{}

// callOutcome collects, over one provider call, the requests that failed
// after an attempt whose outcome is unknown.
type callOutcome struct {
	mu      sync.Mutex
	unknown error
}

func (o *callOutcome) record(err error) {
	if o == nil || err == nil {
		return
	}
	o.mu.Lock()
	if o.unknown == nil {
		o.unknown = err
	}
	o.mu.Unlock()
}

func (o *callOutcome) get() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.unknown
}

// OutcomeUnknownError is the final error of a call one of whose earlier
// attempts may have reached the provider (it timed out, its connection
// dropped after the request was sent, or the provider answered 500 or 504):
// whatever the last attempt said, the provider may have acted.
type OutcomeUnknownError struct {
	// Earlier describes the attempt whose outcome is unknown.
	Earlier error
	// Err is the call's last error.
	Err error
}

// Error names both the earlier attempt and the last error.
func (e *OutcomeUnknownError) Error() string {
	return fmt.Sprintf("outcome unknown: an earlier attempt failed after it may have reached the provider (%v); the last: %v", e.Earlier, e.Err)
}

// Unwrap returns the last error.
func (e *OutcomeUnknownError) Unwrap() error { return e.Err }

type resendKey struct{}

// withResend marks the requests of a call made with ctx as safe to resend.
// Only the Provider sets it, per operation: for reads, and for writes the
// provider deduplicates by an idempotency key. The transport decides
// nothing by itself beyond HTTP's safe methods: a header such as
// Idempotency-Key on a request does not make it resendable.
func withResend(ctx context.Context) context.Context {
	return context.WithValue(ctx, resendKey{}, true)
}

// resendable says whether the requests of a call made with ctx may be
// resent: those that cannot change state (GET, HEAD, OPTIONS), and any of
// a call the Provider marked with withResend.
func resendable(ctx context.Context, method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	ok, _ := ctx.Value(resendKey{}).(bool)
	return ok
}

// callTransport bounds the whole call and records what may be resent.
type callTransport struct {
	c    *Client
	next http.RoundTripper
}

func (t *callTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	info := &callInfo{method: r.Method, resend: resendable(r.Context(), r.Method)}
	ctx, cancel := context.WithTimeout(context.WithValue(r.Context(), callInfoKey{}, info), t.c.limits.CallTimeout)
	resp, err := t.next.RoundTrip(r.WithContext(ctx))
	if o, ok := r.Context().Value(outcomeKey{}).(*callOutcome); ok {
		o.record(info.unsettled(resp, err))
	}
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// attemptTransport sends one attempt through the limiter, the bulkhead and
// the breaker, with its own timeout.
type attemptTransport struct {
	c    *Client
	base http.RoundTripper
}

// errFailedStatus lets the breaker count a 5xx or 429 answer as a failure.
type errFailedStatus struct{ resp *http.Response }

func (e *errFailedStatus) Error() string {
	return fmt.Sprintf("provider answered %d", e.resp.StatusCode)
}

func (t *attemptTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c := t.c
	ctx := r.Context()
	var n int32 = 1
	if info, ok := ctx.Value(callInfoKey{}).(*callInfo); ok {
		if n = info.attempts.Add(1); n > 1 {
			c.retries.Add(1)
		}
	}
	c.attempts.Add(1)
	ctx, span, header := c.startAttempt(ctx, n, r)
	resp, err := t.send(ctx, r, header)
	c.endAttempt(ctx, span, n, resp, err)
	return resp, err
}

// send is one attempt of r, with header as its headers, through the
// limiter, the bulkhead (unless its call holds a slot already, see
// holdSlot) and the breaker.
func (t *attemptTransport) send(ctx context.Context, r *http.Request, header http.Header) (*http.Response, error) {
	c := t.c
	if c.limiter != nil {
		if err := c.limiter.Wait(ctx); err != nil {
			return nil, &bank.Error{Code: bank.ResourceExhausted, Provider: c.name, Op: opRateLimit, RetryAfter: time.Second,
				Err: fmt.Errorf("%w: %w", ErrRateLimited, err)}
		}
	}
	release := func() {}
	if held, _ := ctx.Value(slotKey{}).(*Client); held != c {
		select {
		case c.sem <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		release = func() { <-c.sem }
	}
	// The attempt's timeout starts once it holds its slot. net/http resends
	// a request that carries an Idempotency-Key (or no body) by itself when
	// a reused connection breaks, even after the provider read and acted on
	// it. Count the connections the attempt used, so such a hidden resend
	// still leaves the outcome unknown.
	actx, cancel := context.WithTimeout(ctx, c.limits.AttemptTimeout)
	var conns atomic.Int32
	actx = httptrace.WithClientTrace(actx, &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { conns.Add(1) }})
	ar := r.WithContext(actx) // the one copy of r this attempt makes
	ar.Header = header
	if s := c.signer.Load(); s != nil {
		if err := (*s).SignAttempt(ar); err != nil {
			cancel()
			release()
			return nil, err
		}
	}
	info, _ := ctx.Value(callInfoKey{}).(*callInfo)
	sent := false
	resp, err := c.breaker.Execute(func() (*http.Response, error) {
		sent = true
		resp, err := t.base.RoundTrip(ar)
		info.attempted(resp, err)
		if conns.Load() > 1 {
			info.resentByTransport()
		}
		if err != nil {
			cancel()
			return nil, err
		}
		resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			return resp, &errFailedStatus{resp}
		}
		return resp, nil
	})
	if !sent {
		cancel() // the breaker refused the attempt
	}
	var fs *errFailedStatus
	switch {
	case errors.As(err, &fs):
		resp, err = fs.resp, nil
	case errors.Is(err, gobreaker.ErrOpenState), errors.Is(err, gobreaker.ErrTooManyRequests):
		release()
		return nil, &bank.Error{Code: bank.Unavailable, Provider: c.name, Op: "breaker", RetryAfter: c.openRemaining(),
			Err: fmt.Errorf("circuit breaker for provider %q is %s: %w (%w)", c.name, c.breaker.State(), ErrFailFast, err)}
	}
	if err != nil {
		release()
		return nil, err
	}
	resp.Body = &releaseBody{ReadCloser: resp.Body, release: release}
	return resp, nil
}

// opRateLimit is the operation named by the refusals of the rate limiter.
const opRateLimit = "rate-limit"

// ErrRateLimited is wrapped by the errors of attempts the client's rate
// limiter refused (no token in time for the call's deadline): nothing was
// sent.
var ErrRateLimited = errors.New("refused by the gateway's rate limiter")

type slotKey struct{}

// holdSlot takes one slot of the bulkhead for a sequence of calls (a
// create's sends and lookups), until release is called. Attempts made with
// the returned context take no slot of their own: a sequence holding one
// while waiting for a second could deadlock the bulkhead.
func (c *Client) holdSlot(ctx context.Context) (_ context.Context, release func(), _ error) {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx, nil, ctx.Err()
	}
	return context.WithValue(ctx, slotKey{}, c), sync.OnceFunc(func() { <-c.sem }), nil
}

// openRemaining is how long the breaker stays open, at least a second.
func (c *Client) openRemaining() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.limits.Breaker.OpenFor - time.Since(c.since)
	return max(d, time.Second).Round(time.Second)
}

// ErrFailFast is wrapped by the errors of calls the client refused without
// sending anything to the provider: an open (or half-open and busy)
// circuit breaker. Those errors wrap gobreaker's ErrOpenState or
// ErrTooManyRequests too.
var ErrFailFast = errors.New("failing fast")

// ShouldRetry decides whether an attempt may be resent: only requests the
// Provider marked safe to resend (reads, and writes deduplicated by an
// idempotency key),
// and only after a transport failure or a 408, 429, 500, 502, 503 or 504.
// A fast-failing breaker and a caller that gave up are final.
func ShouldRetry(resendable bool, status int, err error) bool {
	if !resendable {
		return false
	}
	if err != nil {
		return !errors.Is(err, context.Canceled) && !errors.Is(err, ErrFailFast)
	}
	switch status {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

func (c *Client) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	info, _ := ctx.Value(callInfoKey{}).(*callInfo)
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	if !ShouldRetry(info != nil && info.resend, status, err) {
		return false, nil
	}
	return !outlastsCall(ctx, resp), nil
}

// outlastsCall says whether the wait a 429 or 503 answer asks for
// (Retry-After) ends after the call's deadline. Such a wait is not waited
// for: the answer goes back to the caller with its Retry-After, so the
// call ends with the provider's refusal and its advice, not with an
// expired deadline that would leave a write's outcome in doubt.
func outlastsCall(ctx context.Context, resp *http.Response) bool {
	if resp == nil || (resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable) {
		return false
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		return false
	}
	now := time.Now()
	return now.Add(provider.ParseRetryAfter(resp.Header.Get("Retry-After"), now)).After(deadline)
}

// FullJitterBackoff waits a random time up to min·2^attempt (capped at max),
// or what the provider's Retry-After asks for on a 429 or 503.
func FullJitterBackoff(lo, hi time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if d := provider.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); d > 0 {
			return d
		}
	}
	ceil := lo << min(attempt, 30)
	if ceil <= 0 || ceil > hi {
		ceil = hi
	}
	return time.Duration(rand.Int64N(int64(ceil) + 1))
}

type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

type releaseBody struct {
	io.ReadCloser
	once    sync.Once
	release func()
}

// Close drains what a reader left of a short answer before closing, so that
// its connection goes back to the pool instead of being closed.
func (b *releaseBody) Close() error {
	_, _ = io.CopyN(io.Discard, b.ReadCloser, 4<<10)
	err := b.ReadCloser.Close()
	b.once.Do(b.release)
	return err
}
