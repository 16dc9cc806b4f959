package jobs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/jobs"
	"github.com/vagate/vagate/core/jobs/jobsmem"
	"github.com/vagate/vagate/core/provider"
	"github.com/vagate/vagate/core/store"
)

// Modes of a bankServer's create route.
const (
	modeOK      = "ok"      // create and answer
	modeDown    = "down"    // answer 503, create nothing
	modeDrop    = "drop"    // create, then drop the connection
	modeLost    = "lost"    // drop the connection, create nothing
	modeRefused = "refused" // answer 400, create nothing
	// modeCreateDown answers creates 503, lookups as usual.
	modeCreateDown = "create-down"
	// modeThrottled answers 429, creates nothing.
	modeThrottled = "throttled"
)

// bankServer is a provider over HTTP, so that the gateway's resilient
// client (breaker, resends) stands between it and the engine. It holds
// accounts by the gateway reference and, with keys, deduplicates creates by
// Idempotency-Key.
type bankServer struct {
	*httptest.Server
	mu       sync.Mutex
	mode     string
	then     string // the mode after the first dropped or lost create
	byRef    map[string]int
	byKey    map[string]string
	accounts int
}

func newBankServer(t *testing.T) *bankServer {
	b := &bankServer{mode: modeOK, byRef: map[string]int{}, byKey: map[string]string{}}
	b.Server = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(b.Close)
	return b
}

func (b *bankServer) setMode(m string) { b.mu.Lock(); b.mode, b.then = m, ""; b.mu.Unlock() }

// setModes starts in mode first, which turns into then after the first
// create it drops or loses.
func (b *bankServer) setModes(first, then string) {
	b.mu.Lock()
	b.mode, b.then = first, then
	b.mu.Unlock()
}

// count is how many accounts the bank holds for the gateway reference ref.
func (b *bankServer) count(ref string) int { b.mu.Lock(); defer b.mu.Unlock(); return b.byRef[ref] }

func (b *bankServer) total() int { b.mu.Lock(); defer b.mu.Unlock(); return b.accounts }

func (b *bankServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		ref := r.URL.Query().Get("reference")
		b.mu.Lock()
		n, mode := b.byRef[ref], b.mode
		b.mu.Unlock()
		if mode == modeDown {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("%s-%d", ref, i))
		}
		json.NewEncoder(w).Encode(map[string]any{"ids": out})
		return
	}
	var in struct{ Reference string }
	json.NewDecoder(r.Body).Decode(&in)
	b.mu.Lock()
	mode := b.mode
	key := r.Header.Get("Idempotency-Key")
	id, seen := b.byKey[key]
	switch {
	case mode == modeDown || mode == modeCreateDown || mode == modeLost || mode == modeRefused || mode == modeThrottled:
	case seen && key != "":
	default:
		b.byRef[in.Reference]++
		b.accounts++
		id = fmt.Sprintf("%s-%d", in.Reference, b.byRef[in.Reference]-1)
		if key != "" {
			b.byKey[key] = id
		}
	}
	if (mode == modeDrop || mode == modeLost) && b.then != "" {
		b.mode, b.then = b.then, ""
	}
	b.mu.Unlock()
	switch mode {
	case modeDown, modeCreateDown:
		w.WriteHeader(http.StatusServiceUnavailable)
	case modeRefused:
		w.WriteHeader(http.StatusBadRequest)
	case modeThrottled:
		w.WriteHeader(http.StatusTooManyRequests)
	case modeDrop, modeLost:
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	default:
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]string{"id": id})
	}
}

// httpBank is the adapter of a bankServer.
type httpBank struct {
	url  string
	hc   *http.Client
	idem bool
}

func (a *httpBank) Capabilities() provider.Capabilities {
	return provider.Capabilities{Style: "httpbank", Currencies: []string{"EUR"}, MaxBatch: 1, IdempotentCreate: a.idem}
}
func (a *httpBank) ErrorCode(err error) bank.ErrorCode { return provider.ClassifyHTTP(err) }
func (a *httpBank) GetAccount(context.Context, string) (*bank.Account, error) {
	return nil, &provider.StatusError{StatusCode: http.StatusNotFound}
}

func (a *httpBank) CreateAccounts(ctx context.Context, req *provider.CreateRequest) (*provider.CreateResult, error) {
	it := req.Items[0]
	body, _ := json.Marshal(map[string]string{"reference": it.Reference})
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, a.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if a.idem {
		r.Header.Set("Idempotency-Key", req.IdempotencyKey)
	}
	resp, err := a.hc.Do(r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return nil, &provider.StatusError{StatusCode: resp.StatusCode}
	}
	var out struct{ ID string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, err
	}
	acc := &bank.Account{ProviderAccountID: out.ID, Status: bank.StatusActive, Currency: it.Currency, Reference: it.Reference}
	return &provider.CreateResult{Items: []provider.ItemResult{{Account: acc}}}, nil
}

// findingBank is an httpBank that can be searched by the gateway reference.
type findingBank struct{ *httpBank }

func (a findingBank) FindByReference(ctx context.Context, ref string) ([]*bank.Account, error) {
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, a.url+"?reference="+url.QueryEscape(ref), nil)
	if err != nil {
		return nil, err
	}
	resp, err := a.hc.Do(r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out struct{ IDs []string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, err
	}
	var accs []*bank.Account
	for _, id := range out.IDs {
		accs = append(accs, &bank.Account{ProviderAccountID: id, Status: bank.StatusActive, Currency: "EUR", Reference: ref})
	}
	return accs, nil
}

// bankSpec describes one provider of a failover rig.
type bankSpec struct {
	idem, finder bool
}

type failoverRig struct {
	eng   *jobs.Engine
	banks map[string]*bankServer
}

// newFailoverRig serves a "primary" and a "fallback" bank, each behind its
// own resilient client whose breaker opens after 4 failed attempts.
func newFailoverRig(t *testing.T, primary, fallback bankSpec) *failoverRig {
	t.Helper()
	reg := gateway.NewRegistry()
	r := &failoverRig{banks: map[string]*bankServer{}}
	for name, spec := range map[string]bankSpec{"primary": primary, "fallback": fallback} {
		srv := newBankServer(t)
		l := gateway.Limits{AttemptTimeout: time.Second, MaxAttempts: 2, BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond,
			Breaker: gateway.BreakerLimits{MinRequests: 4, FailureRatio: 0.5, OpenFor: 300 * time.Millisecond, Window: time.Minute}}
		c := gateway.NewClient(name, &l, nil, nil)
		hb := &httpBank{url: srv.URL, hc: c.HTTP(), idem: spec.idem}
		var a provider.Adapter = hb
		if spec.finder {
			a = findingBank{hb}
		}
		p, err := gateway.New(name, a, &gateway.Options{Client: c})
		if err != nil {
			t.Fatal(err)
		}
		reg.Register(p)
		r.banks[name] = srv
	}
	mem := store.NewMemory()
	r.eng = jobs.New(reg, jobsmem.New(), mem, mem, &jobs.Options{Backoff: time.Millisecond, CheckBackoff: 10 * time.Millisecond, Checks: 100})
	return r
}

// euroItems are n EUR items routed by a rule to primary, with fallback as
// their fallback (or, explicit, naming primary themselves).
func euroItems(n int, explicit bool) []jobs.Item {
	out := make([]jobs.Item, n)
	for i := range out {
		out[i] = jobs.Item{Provider: "primary", RoutedBy: bank.RoutedByRule, Fallbacks: []string{"fallback"},
			Request: provider.CreateItem{Currency: "EUR", AccountHolderName: "A", AccountName: "B", ClientReference: fmt.Sprintf("E%d", i)}}
		if explicit {
			out[i].RoutedBy = bank.RoutedByRequest
		}
	}
	return out
}

// process runs the job to its end, checking unknown items again after
// each wait the engine asks for, while during(round) may change the banks.
func (r *failoverRig) process(t *testing.T, id string, during func(round int)) *jobs.Record {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for round := 0; ; round++ {
		if during != nil {
			during(round)
		}
		err := r.eng.Process(t.Context(), "t1", id)
		var re *jobs.RecheckError
		switch {
		case err == nil:
			rec, err := r.eng.Get(t.Context(), "t1", id)
			if err != nil {
				t.Fatal(err)
			}
			return rec
		case errors.As(err, &re):
			time.Sleep(re.After)
		default:
			time.Sleep(10 * time.Millisecond)
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s unfinished after 20s (round %d): %v", id, round, err)
		}
	}
}

// atOne checks that every item of rec is at exactly one bank, the one its
// result names, and returns how many items each bank took.
func (r *failoverRig) atOne(t *testing.T, rec *jobs.Record) map[string]int {
	t.Helper()
	took := map[string]int{}
	for _, it := range rec.Items {
		ref := it.Request.Reference
		n := 0
		for name, b := range r.banks {
			if c := b.count(ref); c > 0 {
				n += c
				if it.Result.Outcome == bank.OutcomeCreated && name != it.Result.Provider {
					t.Errorf("item %d: result says %s, but its account is at %s", it.Result.Index, it.Result.Provider, name)
				}
			}
		}
		switch {
		case n > 1:
			t.Errorf("item %d: %d accounts across the banks, want at most one", it.Result.Index, n)
		case it.Result.Outcome == bank.OutcomeCreated && n != 1:
			t.Errorf("item %d created, but %d accounts across the banks", it.Result.Index, n)
		}
		if it.Result.Outcome == bank.OutcomeCreated {
			took[it.Result.Provider]++
		}
	}
	return took
}

func (r *failoverRig) submit(t *testing.T, items []jobs.Item) string {
	t.Helper()
	j, err := r.eng.Submit(t.Context(), "t1", &jobs.Spec{Items: items})
	if err != nil {
		t.Fatal(err)
	}
	return j.ID
}

// A primary that is down (503) or throttling (429) sends every item to the
// fallback: the first after the primary refused them after every retry,
// the rest, once its breaker is open, without trying it. Each result and
// account says so.
func TestFailoverWhilePrimaryIsDown(t *testing.T) {
	tests := []struct {
		name    string
		primary bankSpec
		mode    string
		reason  bank.FailoverReason // of the items the primary answered
	}{
		{"down, keys", bankSpec{idem: true}, modeDown, bank.FailoverUnavailable},
		{"down, lookups", bankSpec{finder: true}, modeDown, bank.FailoverUnavailable},
		{"throttling, keys", bankSpec{idem: true}, modeThrottled, bank.FailoverResourceExhausted},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newFailoverRig(t, tc.primary, bankSpec{idem: true})
			r.banks["primary"].setMode(tc.mode)
			rec := r.process(t, r.submit(t, euroItems(30, false)), nil)
			if rec.Job.Status != bank.JobCompleted {
				t.Fatalf("job %s: %+v", rec.Job.Status, rec.Job)
			}
			if took := r.atOne(t, rec); took["fallback"] != 30 || r.banks["primary"].total() != 0 {
				t.Fatalf("took %v, primary holds %d: want all 30 at the fallback", took, r.banks["primary"].total())
			}
			reasons := map[bank.FailoverReason]int{}
			for _, it := range rec.Items {
				rt := it.Result.Routing
				if rt == nil || rt.RoutedBy != bank.RoutedByFallback || len(rt.FailedOver) != 1 || rt.FailedOver[0] != "primary" {
					t.Fatalf("item %d routing %+v", it.Result.Index, rt)
				}
				if a := it.Result.Account; a == nil || a.Routing == nil || a.Routing.Reason != rt.Reason || a.Provider != "fallback" {
					t.Fatalf("item %d account %+v", it.Result.Index, a)
				}
				reasons[rt.Reason]++
			}
			if reasons[bank.FailoverBreakerOpen] == 0 || reasons[tc.reason]+reasons[bank.FailoverBreakerOpen] != 30 {
				t.Errorf("reasons %v: want %s (before the breaker opened) or breaker_open, most breaker_open", reasons, tc.reason)
			}
			// One item alone, before any breaker opens: the primary's answer is the reason.
			one := newFailoverRig(t, tc.primary, bankSpec{idem: true})
			one.banks["primary"].setMode(tc.mode)
			rec = one.process(t, one.submit(t, euroItems(1, false)), nil)
			if rt := rec.Items[0].Result.Routing; rec.Items[0].Result.Provider != "fallback" || rt == nil || rt.Reason != tc.reason {
				t.Errorf("one item: %+v, routing %+v; want at the fallback for %s", rec.Items[0].Result, rt, tc.reason)
			}
		})
	}
}

// Items that named their provider never fail over; nor do items whose
// provider refused them (a refusal is not an outage).
func TestNoFailover(t *testing.T) {
	tests := []struct {
		name     string
		mode     string
		explicit bool
	}{
		{"named provider, primary down", modeDown, true},
		{"routed, primary refuses", modeRefused, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newFailoverRig(t, bankSpec{idem: true}, bankSpec{idem: true})
			r.banks["primary"].setMode(tc.mode)
			rec := r.process(t, r.submit(t, euroItems(3, tc.explicit)), nil)
			if rec.Job.Failed != 3 || r.banks["fallback"].total() != 0 {
				t.Fatalf("job %+v, fallback holds %d: want 3 failed, none at the fallback", rec.Job, r.banks["fallback"].total())
			}
			for _, it := range rec.Items {
				if it.Result.Provider != "primary" || (it.Result.Routing != nil && it.Result.Routing.RoutedBy == bank.RoutedByFallback) {
					t.Errorf("item %d: %+v", it.Result.Index, it.Result)
				}
			}
		})
	}
}

// An item whose outcome at the primary is unknown never goes to the
// fallback while nothing proves the primary created nothing. A primary with
// keys settles it by resending with the same key once it answers again (the
// item waits for it, never at two banks); a primary searched by reference
// fails it over once a lookup finds nothing, or settles it where the lookup
// finds it.
func TestUnknownOutcomeNeverAtTwoBanks(t *testing.T) {
	tests := []struct {
		name    string
		primary bankSpec
		first   string // mode of the first create, which then turns down
		later   string // mode once the item was unknown for a while
		want    string // the bank that ends with the item
		reason  bank.FailoverReason
	}{
		{"keys: created, answer dropped, down, back", bankSpec{idem: true}, modeDrop, modeOK, "primary", ""},
		{"lookup: created, answer dropped, down, back", bankSpec{finder: true}, modeDrop, modeOK, "primary", ""},
		{"lookup: lost uncreated, down, lookups back", bankSpec{finder: true}, modeLost, modeCreateDown, "fallback", bank.FailoverNotCreated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newFailoverRig(t, tc.primary, bankSpec{idem: true})
			p := r.banks["primary"]
			p.setModes(tc.first, modeDown)
			id := r.submit(t, euroItems(1, false))
			unknown := 0
			rec := r.process(t, id, func(round int) {
				cur, err := r.eng.Get(t.Context(), "t1", id)
				if err != nil {
					t.Fatal(err)
				}
				if cur.Items[0].Result.Outcome != bank.OutcomeUnknown {
					return
				}
				if r.banks["fallback"].total() != 0 {
					t.Fatalf("round %d: the item is unknown at the primary and already at the fallback", round)
				}
				if unknown++; unknown == 5 {
					p.setMode(tc.later)
				}
			})
			if unknown < 5 {
				t.Fatalf("the item was unknown for %d rounds, want it unknown while the primary was down: %+v", unknown, rec.Items[0].Result)
			}
			took := r.atOne(t, rec)
			if took[tc.want] != 1 {
				t.Fatalf("took %v, want the item at %s; result %+v", took, tc.want, rec.Items[0].Result)
			}
			if rt := rec.Items[0].Result.Routing; tc.reason != "" && (rt == nil || rt.Reason != tc.reason) {
				t.Errorf("routing %+v, want reason %s", rt, tc.reason)
			}
		})
	}
}
