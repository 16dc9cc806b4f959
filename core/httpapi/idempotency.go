package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/idempotency"
)

// Idempotency headers.
const (
	HeaderIdempotencyKey     = "Idempotency-Key"
	HeaderIdempotentReplayed = "Idempotent-Replayed"
)

// DefaultMaxIdempotentBody is the default IdempotencyOptions.MaxBody (10 MiB).
const DefaultMaxIdempotentBody = 10 << 20

// DefaultIdempotencyStoreTimeout is the default IdempotencyOptions.StoreTimeout.
const DefaultIdempotencyStoreTimeout = 5 * time.Second

// inFlightKey marks a response that is our own 409 in-flight problem.
const inFlightKey = "vagate.idempotencyInFlight"

// IdempotencyOptions tune the Idempotency middleware; nil means defaults.
type IdempotencyOptions struct {
	// MaxBody is the largest request body read for the fingerprint (default 10 MiB); larger is 413.
	MaxBody int64
	// Logger reports store failures after the response was written (default slog.Default()).
	Logger *slog.Logger
	// StoreTimeout bounds recording the response (Complete or Release),
	// which runs even if the client left; it starts when the handler has
	// finished, however long that took (default 5s).
	StoreTimeout time.Duration
}

// Idempotency makes POST, PATCH and DELETE requests carrying an Idempotency-Key (UUID) run at most once per tenant, route and key.
//
// It must run after Authenticate (the tenant scopes the key). A repeated
// request gets the stored status, headers and body back byte for byte with
// Idempotent-Replayed: true; the same key with another method, path, query or
// body is 422; the same key while the first request runs is 409. 5xx and 429
// responses are not stored, so a retry runs again.
func Idempotency(store idempotency.Store, opts *IdempotencyOptions) gin.HandlerFunc {
	maxBody := int64(DefaultMaxIdempotentBody)
	log := slog.Default()
	storeTimeout := DefaultIdempotencyStoreTimeout
	if opts != nil {
		if opts.MaxBody > 0 {
			maxBody = opts.MaxBody
		}
		if opts.StoreTimeout > 0 {
			storeTimeout = opts.StoreTimeout
		}
		if opts.Logger != nil {
			log = opts.Logger
		}
	}
	return func(c *gin.Context) {
		switch c.Request.Method {
		case http.MethodPost, http.MethodPatch, http.MethodDelete:
		default:
			c.Next()
			return
		}
		raw := c.GetHeader(HeaderIdempotencyKey)
		if raw == "" {
			c.Next()
			return
		}
		key, ok := canonicalUUID(raw)
		if !ok {
			p := NewProblem(http.StatusBadRequest, CodeInvalidIdempotencyKey, "the Idempotency-Key header must be a UUID")
			p.Errors = []bank.FieldError{{Pointer: "/headers/" + HeaderIdempotencyKey, Message: "must be a UUID such as 3f2b1c9e-8a4d-4e6f-9b1a-2c3d4e5f6a7b"}}
			WriteProblem(c, p)
			return
		}
		body, p := readBody(c, maxBody)
		if p != nil {
			WriteProblem(c, p)
			return
		}
		route := c.FullPath()
		if route == "" {
			route = c.Request.URL.Path
		}
		scope := Tenant(c) + " " + c.Request.Method + " " + route
		fp := fingerprint(c.Request.Method, c.Request.URL.RequestURI(), body)

		claim, rec, err := store.Begin(c.Request.Context(), scope, key, fp)
		switch {
		case errors.Is(err, idempotency.ErrFingerprintMismatch):
			WriteProblem(c, NewProblem(http.StatusUnprocessableEntity, CodeIdempotencyKeyReused,
				"this Idempotency-Key was already used for a different request"))
			return
		case errors.Is(err, idempotency.ErrInFlight):
			p := NewProblem(http.StatusConflict, CodeIdempotencyKeyInFlight,
				"a request with this Idempotency-Key is still being processed; retry later")
			p.RetryAfter = time.Second
			c.Set(inFlightKey, true)
			WriteProblem(c, p)
			return
		case err != nil:
			log.ErrorContext(c.Request.Context(), "idempotency store unavailable",
				"error", err, "trace_id", TraceID(c))
			p := NewProblem(http.StatusServiceUnavailable, CodeIdempotencyUnavailable,
				"idempotency keys cannot be checked right now; retry later")
			p.RetryAfter = time.Second
			WriteProblem(c, p)
			return
		case rec != nil:
			replay(c, rec)
			return
		}
		// Handlers derive what they create from the key and body, so that
		// even a lost record cannot make a second one.
		c.Set(requestIdentityKey, scope+"\n"+key+"\n"+fp)
		runClaimed(c, store, claim, log, storeTimeout)
	}
}

// requestIdentityKey holds the tenant, route, Idempotency-Key and body
// fingerprint of a keyed request.
const requestIdentityKey = "vagate.requestIdentity"

// RequestIdentity is a stable identity of a request that carried an
// Idempotency-Key: the same for every retry with that key and body (scoped
// to the tenant and route), empty for a request without a key.
func RequestIdentity(c *gin.Context) string { return c.GetString(requestIdentityKey) }

// canonicalUUID accepts only the 36-character hyphenated form and lowercases it.
func canonicalUUID(s string) (string, bool) {
	if len(s) != 36 {
		return "", false
	}
	if _, err := uuid.Parse(s); err != nil {
		return "", false
	}
	return strings.ToLower(s), true
}

// readBody reads at most limit bytes of the body and puts it back for the handler.
func readBody(c *gin.Context, limit int64) ([]byte, *Problem) {
	tooLarge := func() *Problem {
		return NewProblem(http.StatusRequestEntityTooLarge, CodePayloadTooLarge, "the request body is too large")
	}
	if c.Request.ContentLength > limit {
		return nil, tooLarge()
	}
	if c.Request.Body == nil || c.Request.Body == http.NoBody {
		return nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, limit+1))
	_ = c.Request.Body.Close()
	if err != nil {
		return nil, NewProblem(http.StatusBadRequest, CodeInvalidBody, "the request body could not be read")
	}
	if int64(len(body)) > limit {
		return nil, tooLarge()
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(body))
	return body, nil
}

// fingerprint identifies a request: method, path and query as sent, and body.
func fingerprint(method, requestURI string, body []byte) string {
	h := sha256.New()
	_, _ = io.WriteString(h, method+"\n"+requestURI+"\n")
	_, _ = h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// replay writes a stored response.
func replay(c *gin.Context, rec *idempotency.Record) {
	c.Abort()
	h := c.Writer.Header()
	for k, vs := range rec.Header {
		h[k] = append([]string(nil), vs...)
	}
	h.Set(HeaderIdempotentReplayed, "true")
	c.Writer.WriteHeader(rec.Status)
	_, _ = c.Writer.Write(rec.Body)
}

// runClaimed runs the rest of the chain under claim and stores or releases it.
func runClaimed(c *gin.Context, store idempotency.Store, claim *idempotency.Claim, log *slog.Logger, storeTimeout time.Duration) {
	w := &capture{ResponseWriter: c.Writer}
	c.Writer = w
	settled := false
	// The store's deadline starts when the handler is done, however long it
	// ran (Prefer: wait may hold a request longer than storeTimeout).
	storeCtx := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.WithoutCancel(c.Request.Context()), storeTimeout)
	}
	defer func() {
		if !settled { // the handler panicked: let a retry run
			ctx, cancel := storeCtx()
			defer cancel()
			_ = store.Release(ctx, claim)
		}
	}()
	c.Next()
	c.Writer = w.ResponseWriter
	settled = true
	ctx, cancel := storeCtx()
	defer cancel()

	status := w.Status()
	if status >= 500 || status == http.StatusTooManyRequests || c.GetBool(inFlightKey) || c.GetBool(retryLaterKey) {
		if err := store.Release(ctx, claim); err != nil {
			log.WarnContext(ctx, "idempotency release failed", "error", err, "trace_id", TraceID(c))
		}
		return
	}
	rec := &idempotency.Record{Status: status, Header: storedHeaders(w.Header()), Body: w.body.Bytes()}
	if err := store.Complete(ctx, claim, rec); err != nil {
		log.WarnContext(ctx, "idempotency complete failed: the response will not be replayed",
			"error", err, "trace_id", TraceID(c))
	}
}

// storedHeaders picks the response headers worth replaying. Per-request ones
// (X-Request-Id, traceparent) belong to the retry, not the original.
func storedHeaders(h http.Header) map[string][]string {
	out := map[string][]string{}
	for k, vs := range h {
		ck := http.CanonicalHeaderKey(k)
		switch {
		case ck == HeaderRequestID:
			continue
		case ck == "Content-Type", ck == "Location", ck == "Retry-After", ck == "Preference-Applied",
			strings.HasPrefix(ck, "X-"), strings.HasPrefix(ck, "Vagate-"):
			out[ck] = append([]string(nil), vs...)
		}
	}
	return out
}

// capture tees the response body so it can be stored.
type capture struct {
	gin.ResponseWriter
	body bytes.Buffer
}

// Write writes b and keeps a copy.
func (w *capture) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.body.Write(b[:n])
	return n, err
}

// WriteString writes s and keeps a copy.
func (w *capture) WriteString(s string) (int, error) {
	n, err := w.ResponseWriter.WriteString(s)
	w.body.WriteString(s[:n])
	return n, err
}
