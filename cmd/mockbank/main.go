// Command mockbank serves the bundled provider mocks, for QA and docker-compose.
//
//	mockbank -mock batchva -listen 127.0.0.1:9101 -seed 1 -pending-delay 20ms -process-delay 50ms
//	mockbank -mock all -listen 127.0.0.1:9101
//	mockbank -mock all -strict    # read the documents' ambiguities strictly
//
// With -mock all every bundled mock is served on its own port, the first on
// the -listen port and the next ones on the following ports, in the order of
// mocks/bundle (port 0 gives each a free port). One JSON log line per
// mock on stderr gives its URL. SIGINT or SIGTERM shuts down gracefully.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"

	"github.com/vagate/vagate/core/telemetry"
	"github.com/vagate/vagate/mocks/bundle"
	"github.com/vagate/vagate/mocks/fault"
	"github.com/vagate/vagate/mocks/hook"
)

// server is what a bundled mock is: a handler with background work to stop.
type server interface {
	http.Handler
	Close()
}

// shutdownTimeout bounds how long in-flight requests may finish after a signal.
const shutdownTimeout = 5 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "mockbank:", err)
		os.Exit(2)
	}
}

func mockNames() []string { return bundle.Styles() }

// run serves the selected mocks until ctx ends.
func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("mockbank", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("mock", "batchva", "mock to serve: "+strings.Join(mockNames(), ", ")+", or all")
	listen := fs.String("listen", "127.0.0.1:9101", "host:port of the first mock; with -mock all the others take the next ports")
	seed := fs.Uint64("seed", 1, "seed of the mocks' random choices")
	pending := fs.Duration("pending-delay", 20*time.Millisecond, "how long a job stays Pending (0 = none)")
	process := fs.Duration("process-delay", 50*time.Millisecond, "how long a job stays InProgress (0 = none)")
	failure := fs.Float64("item-failure-rate", 0, "share of items that fail at processing, 0 to 1")
	strict := fs.Bool("strict", false, "read each provider document's ambiguities strictly (e.g. optional signing headers become required); default lenient, as the documents say")
	otlp := fs.String("otlp-endpoint", os.Getenv("VAGATE_OTLP_ENDPOINT"), "OTLP/HTTP collector (host:port) for the mocks' spans; empty: not exported")
	contractEnv := fs.String("contract-env", "", "file to write, once every mock listens, with one `export VAGATE_CONTRACT_<STYLE>='<config block>'` line per mock (the adapters' contract mode)")
	faultsFile := fs.String("faults", "", `JSON file of faults to script at start: {"<mock>" or "*": {"rules": [fault rules], "webhooks": {webhook faults}}}; "*" scripts webhooks on the mocks that send them`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch {
	case *pending < 0:
		return errors.New("-pending-delay: must not be negative")
	case *process < 0:
		return errors.New("-process-delay: must not be negative")
	case *failure < 0 || *failure > 1:
		return errors.New("-item-failure-rate: must be between 0 and 1")
	}
	host, portText, err := net.SplitHostPort(*listen)
	if err != nil {
		return fmt.Errorf("-listen: %w", err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65535 {
		return fmt.Errorf("-listen: bad port %q", portText)
	}
	var selected []bundle.Mock
	for _, m := range bundle.Mocks {
		if *name == "all" || *name == m.Style {
			selected = append(selected, m)
		}
	}
	if len(selected) == 0 {
		return fmt.Errorf("-mock: unknown mock %q (have %s, all)", *name, strings.Join(mockNames(), ", "))
	}
	s := bundle.Settings{Seed: *seed, PendingDelay: noneIfZero(*pending), ProcessDelay: noneIfZero(*process), ItemFailureRate: *failure,
		Strict: *strict}
	script, err := loadFaults(*faultsFile)
	if err != nil {
		return err
	}

	listeners := make([]net.Listener, 0, len(selected))
	for i := range selected {
		p := port
		if port != 0 {
			p = port + i
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err != nil {
			for _, l := range listeners {
				l.Close()
			}
			return fmt.Errorf("listen for %s: %w", selected[i].Style, err)
		}
		listeners = append(listeners, ln)
	}

	tel, err := telemetry.New(ctx, telemetry.Config{ServiceName: "mockbank", OTLPEndpoint: *otlp, Insecure: true})
	if err != nil {
		return fmt.Errorf("-otlp-endpoint: %w", err)
	}
	defer tel.Shutdown(context.Background())
	log := slog.New(telemetry.LogHandler(slog.NewJSONHandler(stderr, nil)))
	type running struct {
		name string
		mock server
		srv  *http.Server
	}
	servers := make([]running, len(selected))
	env := make([]string, 0, len(selected))
	errc := make(chan error, len(selected))
	for i, sel := range selected {
		m, block := sel.New(s)
		url := "http://" + listeners[i].Addr().String()
		if *contractEnv != "" {
			line, err := contractLine(sel.Style, url, block)
			if err != nil {
				for _, r := range servers[:i] {
					r.mock.Close()
				}
				m.Close()
				return err
			}
			env = append(env, line)
		}
		if err := script.apply(sel.Style, m); err != nil {
			for _, r := range servers[:i] {
				r.mock.Close()
			}
			m.Close()
			return err
		}
		// Each mock extracts traceparent, so its spans join the caller's trace.
		h := otelhttp.NewHandler(m, "mock "+sel.Style, otelhttp.WithTracerProvider(tel.Tracer),
			otelhttp.WithPropagators(propagation.TraceContext{}),
			otelhttp.WithSpanNameFormatter(func(op string, _ *http.Request) string { return op }))
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		servers[i] = running{sel.Style, m, srv}
		go func() {
			if err := srv.Serve(listeners[i]); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("%s: %w", sel.Style, err)
			}
		}()
		log.Info("mock listening", "mock", sel.Style, "url", url,
			"seed", s.Seed, "pending_delay", s.PendingDelay.String(), "process_delay", s.ProcessDelay.String())
	}

	var serveErr error
	if *contractEnv != "" {
		serveErr = writeAtomic(*contractEnv, strings.Join(env, ""))
	}
	if serveErr == nil {
		select {
		case <-ctx.Done():
		case serveErr = <-errc:
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	for _, r := range servers {
		if err := r.srv.Shutdown(sctx); err != nil {
			r.srv.Close()
		}
		r.mock.Close()
		log.Info("mock stopped", "mock", r.name)
	}
	return serveErr
}

// faultScript is what -faults installs, per mock name or "*" for all.
type faultScript map[string]struct {
	Rules    []fault.Rule `json:"rules"`
	Webhooks *hook.Faults `json:"webhooks"`
}

// loadFaults reads and checks a -faults file; "" means none.
func loadFaults(path string) (faultScript, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("-faults: %w", err)
	}
	var fs faultScript
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fs); err != nil {
		return nil, fmt.Errorf("-faults %s: %w", path, err)
	}
	for name, f := range fs {
		if name != "*" && !slices.Contains(mockNames(), name) {
			return nil, fmt.Errorf("-faults %s: unknown mock %q (have %s, *)", path, name, strings.Join(mockNames(), ", "))
		}
		for i := range f.Rules {
			if err := f.Rules[i].Validate(); err != nil {
				return nil, fmt.Errorf("-faults %s: %s.rules[%d].%v", path, name, i, err)
			}
		}
		if f.Webhooks != nil {
			if err := f.Webhooks.Validate(); err != nil {
				return nil, fmt.Errorf("-faults %s: %s.webhooks.%v", path, name, err)
			}
		}
	}
	return fs, nil
}

// scriptable is what -faults needs of a mock: its fault injector and the
// outbox of its webhooks (nil when it sends none).
type scriptable interface {
	Faults() *fault.Injector
	Outbox() *hook.Outbox
}

// apply installs the script's faults for mock name on m. Webhook faults
// under "*" go to the mocks that send webhooks; under a mock's own name
// they must find one.
func (fs faultScript) apply(name string, m server) error {
	sm, ok := m.(scriptable)
	if !ok {
		return fmt.Errorf("mock %s has no fault injector", name)
	}
	for _, key := range []string{"*", name} {
		f, ok := fs[key]
		if !ok {
			continue
		}
		for _, r := range f.Rules {
			if _, err := sm.Faults().Add(r); err != nil {
				return fmt.Errorf("-faults: %s: %w", name, err)
			}
		}
		if f.Webhooks == nil {
			continue
		}
		switch out := sm.Outbox(); {
		case out != nil:
			if err := out.SetFaults(*f.Webhooks); err != nil {
				return fmt.Errorf("-faults: %s: %w", name, err)
			}
		case key != "*":
			return fmt.Errorf("-faults: %s.webhooks: mock %s sends no webhooks", name, name)
		}
	}
	return nil
}

// noneIfZero maps a zero delay flag to the mocks' "no delay" (a negative option).
func noneIfZero(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// contractLine is the shell line that points the adapters' contract mode at
// the mock of style served at url, with the mock's default credentials.
func contractLine(style, url string, block bundle.Block) (string, error) {
	b, err := block(url, "")
	if err != nil {
		return "", fmt.Errorf("%s: config block: %w", style, err)
	}
	js, err := json.Marshal(b)
	if err != nil {
		return "", fmt.Errorf("%s: config block: %w", style, err)
	}
	if bytes.ContainsRune(js, '\'') {
		return "", fmt.Errorf("%s: config block holds a single quote", style)
	}
	return fmt.Sprintf("export VAGATE_CONTRACT_%s='%s'\n", strings.ToUpper(style), js), nil
}

// writeAtomic writes text to path so a reader never sees it half written.
func writeAtomic(path, text string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o600); err != nil {
		return fmt.Errorf("-contract-env: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("-contract-env: %w", err)
	}
	return nil
}
