// Package fault is the fault injector every bundled mock shares. QA scripts
// faults per route and method through a JSON admin API; the injector runs as
// middleware in front of the mock's own handler.
//
// Admin API (mounted by each mock under /__admin/faults):
//
//	GET    /__admin/faults        list the active rules
//	POST   /__admin/faults        add one rule (JSON Rule); returns it with its id
//	DELETE /__admin/faults        remove every rule and reseed the random source
//	DELETE /__admin/faults/{id}   remove one rule
//
// (Faults of a mock's outbound webhooks are package hook's, at
// /__admin/faults/webhooks.)
//
// A rule matches a request by method ("" = any) and path (a path.Match
// pattern, "" = any), fires with probability Rate (0 = always) at most Times
// times (0 = unbounded), and does one Action:
//
//	latency        wait Latency (+ uniform jitter up to Jitter), then serve normally
//	error          answer Status (with Retry-After if set) and the mock's error body
//	hang           hold the request until the client gives up
//	reset          close the connection with a TCP reset before answering
//	malformed      answer Status (default 200) with a body that is not valid JSON
//	truncate       serve normally, then send only the first half of the body
//	drop_response  serve normally (the create happens), then reset the connection
//
// Random choices come from a source seeded by Options.Seed, so a run is
// reproducible for a given seed and request order.
package fault

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"path"
	"strconv"
	"sync"
	"time"
)

// Actions a rule can take.
const (
	ActionLatency      = "latency"
	ActionError        = "error"
	ActionHang         = "hang"
	ActionReset        = "reset"
	ActionMalformed    = "malformed"
	ActionTruncate     = "truncate"
	ActionDropResponse = "drop_response"
)

// Duration is a time.Duration that reads and writes JSON as "250ms" or as nanoseconds.
type Duration time.Duration

// MarshalJSON writes d as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "1.5s" or an integer of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		*d = Duration(v)
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("duration must be a string like \"250ms\" or nanoseconds")
	}
	*d = Duration(n)
	return nil
}

// Rule is one scripted fault.
type Rule struct {
	ID         string   `json:"id,omitempty"`
	Method     string   `json:"method,omitempty"`
	Path       string   `json:"path,omitempty"`
	Action     string   `json:"action"`
	Rate       float64  `json:"rate,omitempty"`
	Times      int      `json:"times,omitempty"`
	Status     int      `json:"status,omitempty"`
	RetryAfter string   `json:"retryAfter,omitempty"`
	Latency    Duration `json:"latency,omitempty"`
	Jitter     Duration `json:"jitter,omitempty"`
	// Fired counts how often the rule has fired.
	Fired int `json:"fired"`
}

// Validate checks a rule before it is installed.
func (r *Rule) Validate() error {
	switch r.Action {
	case ActionLatency:
		if r.Latency <= 0 {
			return fmt.Errorf("latency: latency must be positive")
		}
	case ActionError:
		if r.Status < 400 || r.Status > 599 {
			return fmt.Errorf("status: error needs a status from 400 to 599")
		}
	case ActionMalformed:
		if r.Status != 0 && (r.Status < 200 || r.Status > 599) {
			return fmt.Errorf("status: must be from 200 to 599")
		}
	case ActionHang, ActionReset, ActionTruncate, ActionDropResponse:
	default:
		return fmt.Errorf("action: unknown action %q", r.Action)
	}
	if r.Rate < 0 || r.Rate > 1 {
		return fmt.Errorf("rate: must be between 0 and 1")
	}
	if r.Times < 0 {
		return fmt.Errorf("times: must not be negative")
	}
	if r.Latency < 0 || r.Jitter < 0 {
		return fmt.Errorf("latency: must not be negative")
	}
	if r.Path != "" {
		if _, err := path.Match(r.Path, "/"); err != nil {
			return fmt.Errorf("path: bad pattern: %v", err)
		}
	}
	return nil
}

// Options configure an Injector.
type Options struct {
	// Seed makes random choices reproducible.
	Seed uint64
	// ErrorBody renders the mock's own error body for a status.
	ErrorBody func(status int) (contentType string, body []byte)
	// MaxHang bounds how long a hang holds a request (default 2 minutes).
	MaxHang time.Duration
}

// Injector holds the active rules.
type Injector struct {
	opts  Options
	mu    sync.Mutex
	rules []*Rule
	rng   *rand.Rand
	next  int
}

// New returns an injector with no rules.
func New(opts *Options) *Injector {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MaxHang <= 0 {
		o.MaxHang = 2 * time.Minute
	}
	if o.ErrorBody == nil {
		o.ErrorBody = func(status int) (string, []byte) {
			return "application/json", fmt.Appendf(nil, `{"error":"INJECTED","message":%q}`, http.StatusText(status))
		}
	}
	return &Injector{opts: o, rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))}
}

// Add installs r and returns its id.
func (in *Injector) Add(r Rule) (Rule, error) {
	if err := r.Validate(); err != nil {
		return Rule{}, err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.next++
	r.ID = "f" + strconv.Itoa(in.next)
	r.Fired = 0
	in.rules = append(in.rules, &r)
	return r, nil
}

// Remove deletes the rule with id; it reports whether one existed.
func (in *Injector) Remove(id string) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	for i, r := range in.rules {
		if r.ID == id {
			in.rules = append(in.rules[:i], in.rules[i+1:]...)
			return true
		}
	}
	return false
}

// Reset removes every rule and reseeds the random source.
func (in *Injector) Reset() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.rules = nil
	in.rng = rand.New(rand.NewPCG(in.opts.Seed, in.opts.Seed^0x9e3779b97f4a7c15))
}

// Rules returns a copy of the active rules.
func (in *Injector) Rules() []Rule {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make([]Rule, len(in.rules))
	for i, r := range in.rules {
		out[i] = *r
	}
	return out
}

// pick returns the first rule that matches and fires for the request, and
// the latency-only rules that fire before it.
func (in *Injector) pick(r *http.Request) (delay time.Duration, fired *Rule) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, rule := range in.rules {
		if rule.Method != "" && rule.Method != r.Method {
			continue
		}
		if rule.Path != "" {
			if ok, _ := path.Match(rule.Path, r.URL.Path); !ok {
				continue
			}
		}
		if rule.Times > 0 && rule.Fired >= rule.Times {
			continue
		}
		if rule.Rate > 0 && rule.Rate < 1 && in.rng.Float64() >= rule.Rate {
			continue
		}
		rule.Fired++
		if rule.Action == ActionLatency {
			d := time.Duration(rule.Latency)
			if rule.Jitter > 0 {
				d += time.Duration(in.rng.Int64N(int64(rule.Jitter) + 1))
			}
			delay += d
			continue
		}
		c := *rule
		return delay, &c
	}
	return delay, nil
}

// Middleware runs the fault rules in front of next.
func (in *Injector) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		delay, rule := in.pick(r)
		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-r.Context().Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		if rule == nil {
			next.ServeHTTP(w, r)
			return
		}
		switch rule.Action {
		case ActionError:
			if rule.RetryAfter != "" {
				w.Header().Set("Retry-After", rule.RetryAfter)
			}
			ct, body := in.opts.ErrorBody(rule.Status)
			w.Header().Set("Content-Type", ct)
			w.WriteHeader(rule.Status)
			w.Write(body)
		case ActionHang:
			// Consume the body so the server watches the connection and
			// cancels the request context when the client gives up.
			io.Copy(io.Discard, io.LimitReader(r.Body, 16<<20))
			t := time.NewTimer(in.opts.MaxHang)
			defer t.Stop()
			select {
			case <-r.Context().Done():
			case <-t.C:
			}
			reset(w)
		case ActionReset:
			reset(w)
		case ActionMalformed:
			status := rule.Status
			if status == 0 {
				status = http.StatusOK
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			w.Write([]byte(`{"malformed": [1, 2,`))
		case ActionTruncate:
			rec := &recorder{header: http.Header{}}
			next.ServeHTTP(rec, r)
			copyHeader(w.Header(), rec.header)
			w.Header().Del("Content-Length")
			w.WriteHeader(rec.statusOr200())
			b := rec.body.Bytes()
			w.Write(b[:len(b)/2])
		case ActionDropResponse:
			rec := &recorder{header: http.Header{}}
			next.ServeHTTP(rec, r)
			reset(w)
		}
	})
}

// reset closes the client connection abruptly (TCP RST where possible).
func reset(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	conn, _, err := rc.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) WriteHeader(s int)           { r.status = s }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) statusOr200() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}

func copyHeader(dst, src http.Header) {
	for k, v := range src {
		dst[k] = v
	}
}

// AdminHandler serves the fault admin API; mount it at /__admin/faults and
// /__admin/faults/.
func (in *Injector) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /__admin/faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"rules": in.Rules()})
	})
	mux.HandleFunc("POST /__admin/faults", func(w http.ResponseWriter, r *http.Request) {
		var rule Rule
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rule); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "INVALID_RULE", "message": err.Error()})
			return
		}
		added, err := in.Add(rule)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "INVALID_RULE", "message": err.Error()})
			return
		}
		writeJSON(w, http.StatusCreated, added)
	})
	mux.HandleFunc("DELETE /__admin/faults", func(w http.ResponseWriter, r *http.Request) {
		in.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /__admin/faults/{id}", func(w http.ResponseWriter, r *http.Request) {
		if !in.Remove(r.PathValue("id")) {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "NOT_FOUND", "message": "no such rule"})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
