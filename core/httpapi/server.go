package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/vagate/vagate/core/accounts"
	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/console"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/idempotency"
	"github.com/vagate/vagate/core/jobs"
	"github.com/vagate/vagate/core/pool"
	"github.com/vagate/vagate/core/store"
	"github.com/vagate/vagate/core/webhooks"
	"github.com/vagate/vagate/openapi"
)

// Deps are what the HTTP API serves from.
type Deps struct {
	Registry *gateway.Registry
	Router   *gateway.Router
	Engine   *jobs.Engine
	// Accounts reads and changes accounts; it reports their changes.
	Accounts *accounts.Service
	// Pool runs the unallocated pools (nil: the pool routes answer 501).
	Pool        *pool.Service
	Idempotency idempotency.Store
	Auth        *AuthConfig
	// Events is the tenant event log served at GET /v1/events.
	Events store.Events
	// Webhooks serves /v1/webhook-endpoints and checks a create's
	// callbackUrl (nil: those routes answer 501).
	Webhooks *webhooks.Service
	// Reconciler runs provider reconciliations (nil: 501).
	Reconciler Reconciler
	// Ready reports whether the state store is reachable.
	Ready  func(ctx context.Context) error
	Logger *slog.Logger
	// Tracer and Meter trace every request and count it (nil: none).
	Tracer trace.TracerProvider
	Meter  metric.MeterProvider
	// Metrics serves GET /metrics (nil: 501).
	Metrics http.Handler
	// Console remembers what the operator console shows beyond the
	// stores (nil: no provider history, recent jobs nor events).
	Console *console.Monitor
	// Mocks are the bundled mocks whose faults the console's QA panel
	// edits: name to base URL, their admin API under /__admin/faults
	// (nil: no QA panel).
	Mocks map[string]string
}

// Options tune the HTTP API.
type Options struct {
	// PublicURL prefixes statusUrl and resultUrl.
	PublicURL string
	// MaxPreferWait caps Prefer: wait=N (default 60s).
	MaxPreferWait time.Duration
	// MaxBodyBytes bounds request bodies (default 10 MiB).
	MaxBodyBytes int64
	// MaxWebhookBodyBytes bounds provider callback bodies on the public
	// webhook route (default 256 KiB).
	MaxWebhookBodyBytes int64
	// MetricsToken, when set, is the bearer secret GET /metrics requires;
	// empty: /metrics is open.
	MetricsToken string
	// TraceURLTemplate links the console to a trace UI: {traceId} is
	// replaced by a trace id (empty: no links).
	TraceURLTemplate string
}

// Server implements the generated openapi.ServerInterface.
type Server struct {
	d    Deps
	opts Options
}

var _ openapi.ServerInterface = (*Server)(nil)

// opMeta is what the document says about one route.
type opMeta struct {
	permission string
	public     bool
}

var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

// NewHandler builds the gin engine serving the whole API.
func NewHandler(d Deps, opts Options) (http.Handler, error) {
	if d.Registry == nil || d.Router == nil || d.Engine == nil || d.Accounts == nil || d.Idempotency == nil || d.Auth == nil {
		return nil, errors.New("httpapi: missing dependency")
	}
	if err := d.Auth.Validate(); err != nil {
		return nil, err
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Events == nil {
		d.Events = store.NewMemoryEvents()
	}
	if d.Ready == nil {
		d.Ready = func(context.Context) error { return nil }
	}
	if opts.MaxPreferWait <= 0 {
		opts.MaxPreferWait = 60 * time.Second
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 10 << 20
	}
	if opts.MaxWebhookBodyBytes <= 0 {
		opts.MaxWebhookBodyBytes = 256 << 10
	}
	opts.PublicURL = strings.TrimRight(opts.PublicURL, "/")
	ops, err := openapi.Operations()
	if err != nil {
		return nil, err
	}
	meta := map[string]opMeta{}
	for _, op := range ops {
		path := pathParam.ReplaceAllString(op.Path, ":$1")
		meta[op.Method+" "+path] = opMeta{permission: op.Permission, public: op.Permission == ""}
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.RemoveExtraSlash = true
	r.NoRoute(NotFoundRoute)
	r.NoMethod(MethodNotAllowed)
	authn := Authenticate(d.Auth)
	idem := Idempotency(d.Idempotency, &IdempotencyOptions{MaxBody: opts.MaxBodyBytes, Logger: d.Logger})
	r.Use(observe(d.Tracer, d.Meter, d.Logger), answerHeaders, RequestID(), Recovery(), limitBody(opts.MaxBodyBytes, opts.MaxWebhookBodyBytes))
	// Each step is its own handler, so middlewares that call c.Next()
	// themselves still run in order: authenticate, authorise, deduplicate.
	protected := func(c *gin.Context) (opMeta, bool) {
		m, ok := meta[c.Request.Method+" "+c.FullPath()]
		return m, ok && !m.public
	}
	r.Use(func(c *gin.Context) {
		if _, ok := protected(c); ok {
			authn(c)
			return
		}
		c.Next()
	}, func(c *gin.Context) {
		if m, ok := protected(c); ok && m.permission != "" {
			Require(m.permission)(c)
			return
		}
		c.Next()
	}, func(c *gin.Context) {
		if _, ok := protected(c); ok {
			idem(c)
			return
		}
		c.Next()
	})
	s := &Server{d: d, opts: opts}
	openapi.RegisterHandlersWithOptions(r, s, openapi.GinServerOptions{ErrorHandler: paramError})
	return r, nil
}

// answerHeaders marks every answer as not to be stored by caches (they
// carry tenant data) nor content-sniffed by browsers.
func answerHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	c.Next()
}

// methodLabel is r's method as a metric label: a standard method, else
// "OTHER", so that made-up methods cannot grow the series without bound.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "OTHER"
}

// webhookRoute is the public route providers post their callbacks to.
const webhookRoute = "/v1/providers/:name/webhooks"

// limitBody caps every request body, the public webhook route's at
// webhook bytes, the others' at n; reading past it fails, the handler
// answers 413 and the connection is closed.
func limitBody(n, webhook int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.Body != nil {
			limit := n
			if c.FullPath() == webhookRoute {
				limit = webhook
			}
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
		}
		c.Next()
	}
}

// paramPointers are the JSON pointer prefixes of parameters by where they are sent.
var paramPointers = map[openapi.ParamIn]string{
	openapi.ParamInPath: "/path/", openapi.ParamInQuery: "/query/",
	openapi.ParamInHeader: "/headers/", openapi.ParamInCookie: "/cookies/",
}

// paramError turns the generated wrappers' parameter errors into problems
// naming the parameter.
func paramError(c *gin.Context, err error, _ int) {
	p := NewProblem(http.StatusBadRequest, CodeValidationFailed, "a parameter is not valid")
	var pe *openapi.ParamError
	if errors.As(err, &pe) {
		p.Errors = []bank.FieldError{{Pointer: paramPointers[pe.In] + pe.Name, Message: "is not valid: " + pe.Err.Error()}}
		p.Detail = fmt.Sprintf("parameter %s is not valid", pe.Name)
	}
	WriteProblem(c, p)
}

// readRequestBody reads the (already size-limited) body; it writes 413 or 400 and
// returns false on failure.
func readRequestBody(c *gin.Context) ([]byte, bool) {
	if c.Request.Body == nil {
		return nil, true
	}
	b, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			WriteProblem(c, NewProblem(http.StatusRequestEntityTooLarge, CodePayloadTooLarge,
				fmt.Sprintf("the body is larger than %d bytes", mbe.Limit)))
			return nil, false
		}
		WriteProblem(c, NewProblem(http.StatusBadRequest, CodeInvalidBody, "the body could not be read"))
		return nil, false
	}
	return b, true
}

// jsonBody checks the content type, reads the body and checks that it is
// JSON (400 invalid_body otherwise); an empty body is left to the handler.
func jsonBody(c *gin.Context) ([]byte, bool) {
	if ct := c.ContentType(); ct != "" && ct != "application/json" && !strings.HasSuffix(ct, "+json") {
		WriteProblem(c, NewProblem(http.StatusUnsupportedMediaType, "unsupported_media_type",
			fmt.Sprintf("Content-Type %q is not supported; send application/json", ct)))
		return nil, false
	}
	b, ok := readRequestBody(c)
	if ok && len(bytes.TrimSpace(b)) > 0 && !json.Valid(b) {
		WriteProblem(c, NewProblem(http.StatusBadRequest, CodeInvalidBody, "the body is not valid JSON"))
		return nil, false
	}
	return b, ok
}

func invalid(c *gin.Context, detail string, fs []bank.FieldError) {
	p := NewProblem(http.StatusBadRequest, CodeValidationFailed, detail)
	p.Errors = fs
	WriteProblem(c, p)
}

func fail(c *gin.Context, err error) { WriteProblem(c, ProblemFromError(err)) }

func notImplemented(c *gin.Context, what string) {
	WriteProblem(c, NewProblem(http.StatusNotImplemented, CodeNotImplemented, what+" is not available in this version of the gateway"))
}

// pageLimit reads a list's limit: 1 to 200, default 50.
func pageLimit(l *int) (int, []bank.FieldError) {
	if l == nil {
		return 50, nil
	}
	if *l < 1 || *l > 200 {
		return 50, []bank.FieldError{{Pointer: "/query/limit", Message: "must be from 1 to 200"}}
	}
	return *l, nil
}
