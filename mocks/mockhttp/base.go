package mockhttp

import (
	"net/http"
	"strings"
	"sync"

	"github.com/vagate/vagate/mocks/fault"
	"github.com/vagate/vagate/mocks/hook"
)

// BaseOptions configure a Base.
type BaseOptions struct {
	// Faults configure the fault injector of the API routes.
	Faults fault.Options
	// Webhooks configure the outbox of a mock that sends webhooks or
	// callbacks; nil for one that sends none.
	Webhooks *hook.Options
	// Reset forgets the mock's own state; Base.Reset calls it first.
	Reset func()
	// Stop ends the mock's own background work and waits for it; Base.Close
	// calls it once, before it closes the outbox.
	Stop func()
}

// Base is the lifecycle every bundled mock embeds: the fault injector, the
// outbox of its webhooks, the routing of its admin API and of its faults,
// Reset and Close.
type Base struct {
	faults  *fault.Injector
	outbox  *hook.Outbox
	reset   func()
	stop    func()
	handler http.Handler
	once    sync.Once
}

// NewBase returns a Base; call Mount before serving.
func NewBase(opts *BaseOptions) *Base {
	var o BaseOptions
	if opts != nil {
		o = *opts
	}
	b := &Base{faults: fault.New(&o.Faults), reset: o.Reset, stop: o.Stop}
	if o.Webhooks != nil {
		b.outbox = hook.New(o.Webhooks)
	}
	return b
}

// Mount sets what ServeHTTP serves: /__admin/faults… from the fault
// injector, the webhook fault script (hook.AdminPath and
// hook.AdminAliasPath) from the outbox, the rest of /__admin… from admin,
// and everything else from api behind buffer and the fault middleware.
// DELETE /__admin/faults clears the webhook fault script too. A mock without
// an outbox answers the webhook fault paths 404.
func (b *Base) Mount(api, admin http.Handler, buffer func(http.Handler) http.Handler) {
	guarded := buffer(b.faults.Middleware(api))
	faultAdmin := b.faults.AdminHandler()
	var hookAdmin http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusNotFound, map[string]string{"error": "NOT_FOUND", "message": "this mock sends no webhooks"})
	})
	if b.outbox != nil {
		hookAdmin = b.outbox.AdminHandler()
	}
	b.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case p == hook.AdminPath || p == hook.AdminAliasPath:
			hookAdmin.ServeHTTP(w, r)
		case p == "/__admin/faults" || strings.HasPrefix(p, "/__admin/faults/"):
			if p == "/__admin/faults" && r.Method == http.MethodDelete && b.outbox != nil {
				b.outbox.ResetFaults()
			}
			faultAdmin.ServeHTTP(w, r)
		case p == "/__admin" || strings.HasPrefix(p, "/__admin/"):
			admin.ServeHTTP(w, r)
		default:
			guarded.ServeHTTP(w, r)
		}
	})
}

// ServeHTTP serves the provider API behind the fault injector, and the admin API.
func (b *Base) ServeHTTP(w http.ResponseWriter, r *http.Request) { b.handler.ServeHTTP(w, r) }

// Faults returns the fault injector of the API routes.
func (b *Base) Faults() *fault.Injector { return b.faults }

// Outbox returns the outbox of the mock's webhooks; nil when it sends none.
func (b *Base) Outbox() *hook.Outbox { return b.outbox }

// Reset forgets the mock's state, its fault rules, and its webhook
// deliveries and webhook faults, and reseeds their random sources.
func (b *Base) Reset() {
	if b.reset != nil {
		b.reset()
	}
	b.faults.Reset()
	if b.outbox != nil {
		b.outbox.Reset()
	}
}

// Close stops the mock's background work and webhook delivery and waits for
// them; it is idempotent.
func (b *Base) Close() {
	b.once.Do(func() {
		if b.stop != nil {
			b.stop()
		}
		if b.outbox != nil {
			b.outbox.Close()
		}
	})
}
