package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/provider"
)

// refBank is a provider over HTTP that keeps accounts by the gateway
// reference, deduplicates creates by Idempotency-Key when one is sent, and
// answers each create by a script: "ok"; "lost" (created, answer 504);
// "gone" (not created, 504); "503" or "400" (refused, not created).
type refBank struct {
	script []string
	delay  time.Duration
	// postDelay slows creates only: the bank goes on creating after the
	// client stopped waiting.
	postDelay time.Duration

	mu       sync.Mutex
	posts    int
	byRef    map[string]int
	keys     map[string]bool
	inFlight atomic.Int32
	peak     atomic.Int32
}

func (b *refBank) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := b.inFlight.Add(1)
	defer b.inFlight.Add(-1)
	for p := b.peak.Load(); n > p && !b.peak.CompareAndSwap(p, n); p = b.peak.Load() {
	}
	time.Sleep(b.delay)
	if r.Method == http.MethodPost {
		time.Sleep(b.postDelay)
	}
	ref := r.URL.Query().Get("ref")
	b.mu.Lock()
	defer b.mu.Unlock()
	if r.Method == http.MethodGet {
		fmt.Fprint(w, b.byRef[ref])
		return
	}
	step := b.script[min(b.posts, len(b.script)-1)]
	b.posts++
	key := r.Header.Get("Idempotency-Key")
	if key != "" && b.keys[key] {
		step = "ok" // a replay of what the key created
	} else if step == "ok" || step == "lost" {
		b.byRef[ref]++
		if key != "" {
			b.keys[key] = true
		}
	}
	switch step {
	case "ok":
		w.WriteHeader(http.StatusCreated)
	case "lost", "gone":
		w.WriteHeader(http.StatusGatewayTimeout)
	case "503":
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusServiceUnavailable)
	case "400":
		w.WriteHeader(http.StatusBadRequest)
	}
}

// refAdapter sends one-item creates to a refBank through the client.
type refAdapter struct {
	c    *gateway.Client
	url  string
	keys bool
}

func (a *refAdapter) Capabilities() provider.Capabilities {
	c := baseCaps()
	c.MaxBatch, c.IdempotentCreate = 1, a.keys
	return c
}

func (a *refAdapter) do(ctx context.Context, method, ref, key string) (*http.Response, error) {
	req, _ := http.NewRequestWithContext(ctx, method, a.url+"?ref="+ref, strings.NewReader(`{}`))
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := a.c.HTTP().Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		resp.Body.Close()
		return nil, &provider.StatusError{StatusCode: resp.StatusCode}
	}
	return resp, nil
}

func (a *refAdapter) CreateAccounts(ctx context.Context, r *provider.CreateRequest) (*provider.CreateResult, error) {
	key := ""
	if a.keys {
		key = r.IdempotencyKey
	}
	resp, err := a.do(ctx, http.MethodPost, r.Items[0].Reference, key)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	return &provider.CreateResult{Items: []provider.ItemResult{{Account: &bank.Account{ProviderAccountID: r.Items[0].Reference,
		Reference: r.Items[0].Reference, Status: bank.StatusActive}}}}, nil
}

func (a *refAdapter) FindByReference(ctx context.Context, ref string) ([]*bank.Account, error) {
	resp, err := a.do(ctx, http.MethodGet, ref, "")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var n int
	if err := json.NewDecoder(resp.Body).Decode(&n); err != nil {
		return nil, err
	}
	var out []*bank.Account
	for range n {
		out = append(out, &bank.Account{ProviderAccountID: ref, Reference: ref, Status: bank.StatusActive})
	}
	return out, nil
}

func (a *refAdapter) GetAccount(context.Context, string) (*bank.Account, error) {
	return nil, &provider.StatusError{StatusCode: 404}
}

func (a *refAdapter) ErrorCode(err error) bank.ErrorCode { return provider.ClassifyHTTP(err) }

func newRefBank(t *testing.T, b *refBank, keys bool, l gateway.Limits) *gateway.Provider {
	t.Helper()
	b.byRef, b.keys = map[string]int{}, map[string]bool{}
	srv := httptest.NewServer(b)
	t.Cleanup(srv.Close)
	c := gateway.NewClient("rb", fast(l), nil, nil)
	p, err := gateway.New("rb", &refAdapter{c: c, url: srv.URL, keys: keys}, &gateway.Options{Client: c})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func refRequest(ref string) *provider.CreateRequest {
	it := named("r1")
	it.Reference = ref
	return &provider.CreateRequest{IdempotencyKey: "key-" + ref, Items: []provider.CreateItem{it}}
}

// TestCreateResendPolicy: Create alone decides when a create is sent again.
func TestCreateResendPolicy(t *testing.T) {
	tests := []struct {
		name     string
		keys     bool
		script   []string
		sent     bool // SentBefore, with the account already at the provider when created is 1 and posts 0
		posts    int
		accounts int
		want     bank.ErrorCode
		reason   string
	}{
		{"no key: lost answer found by lookup, not resent", false, []string{"lost"}, false, 1, 1, bank.OK, ""},
		{"no key: not created, looked up, resent", false, []string{"gone", "ok"}, false, 2, 1, bank.OK, ""},
		{"no key: never created, failed on the lookup's evidence", false, []string{"gone"}, false, 3, 0, bank.Unavailable, "not at the provider"},
		{"no key: unavailable is tried again", false, []string{"503", "ok"}, false, 2, 1, bank.OK, ""},
		{"no key, sent before: unavailable, then lookups find none: failed on their evidence", false, []string{"503"}, true, 3, 0, bank.Unavailable, "not at the provider"},
		{"no key: a refusal is final", false, []string{"400"}, false, 1, 0, bank.InvalidArgument, ""},
		{"no key: sent before and found: not sent again", false, []string{"ok"}, true, 0, 1, bank.OK, ""},
		{"key: the transport resends with the same key", true, []string{"503", "gone", "ok"}, false, 3, 1, bank.OK, ""},
		{"key: an unknown outcome is not resent by Create", true, []string{"gone"}, false, 3, 0, bank.DeadlineExceeded, ""},
		{"key: unavailable after an unknown send is unknown", true, []string{"503"}, true, 3, 0, bank.Unknown, "earlier attempt"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := &refBank{script: tc.script}
			p := newRefBank(t, b, tc.keys, gateway.Limits{MaxAttempts: 3})
			req := refRequest("vgr-1")
			if tc.sent && tc.posts == 0 {
				b.byRef["vgr-1"] = 1 // created by the earlier send
			}
			before := 0
			res, err := p.Create(t.Context(), req, &gateway.CreateOptions{SentBefore: tc.sent, BeforeSend: func() error { before++; return nil }})
			if err == nil && res[0].Err != nil {
				err = res[0].Err
			}
			if got := bank.Code(err); got != tc.want || (tc.reason != "" && !strings.Contains(fmt.Sprint(err), tc.reason)) {
				t.Errorf("code %v (%v), want %v mentioning %q", got, err, tc.want, tc.reason)
			}
			if b.posts != tc.posts || b.byRef["vgr-1"] != tc.accounts {
				t.Errorf("%d creates reached the provider, %d accounts; want %d, %d", b.posts, b.byRef["vgr-1"], tc.posts, tc.accounts)
			}
			if want := min(tc.posts, 1); before != want {
				t.Errorf("BeforeSend called %d times, want %d", before, want)
			}
		})
	}
}

// A send that outlives its attempt timeout may still create the account at
// the provider. Create leaves it SettleDelay to finish before looking the
// item up, so the lookup finds it and nothing is sent again; looked up at
// once, the lookup finds nothing and the resend makes a second account.
func TestCreateLetsATimedOutSendSettleBeforeLookingUp(t *testing.T) {
	tests := []struct {
		name     string
		settle   time.Duration
		accounts int
	}{
		{"settled, then looked up: found, not resent", 600 * time.Millisecond, 1},
		{"looked up while the send still runs: resent, a duplicate", time.Millisecond, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := &refBank{script: []string{"ok"}, postDelay: 250 * time.Millisecond}
			p := newRefBank(t, b, false, gateway.Limits{MaxAttempts: 2, AttemptTimeout: 100 * time.Millisecond, SettleDelay: tc.settle})
			res, err := p.Create(t.Context(), refRequest("vgr-1"), nil)
			time.Sleep(400 * time.Millisecond) // every send has finished at the bank
			b.mu.Lock()
			got := b.byRef["vgr-1"]
			b.mu.Unlock()
			if got != tc.accounts {
				t.Fatalf("%d accounts at the bank (Create: %v, %v), want %d", got, res, err, tc.accounts)
			}
			if tc.accounts == 1 && (err != nil || res[0].Err != nil || res[0].Account == nil) {
				t.Errorf("Create = %v, %v; want the account the lookup found", res, err)
			}
		})
	}
}

func TestCreateBeforeSendFailureSendsNothing(t *testing.T) {
	b := &refBank{script: []string{"ok"}}
	p := newRefBank(t, b, false, gateway.Limits{})
	stop := errors.New("store down")
	_, err := p.Create(t.Context(), refRequest("vgr-1"), &gateway.CreateOptions{BeforeSend: func() error { return stop }})
	if !errors.Is(err, gateway.ErrNotSent) || !errors.Is(err, stop) || b.posts != 0 {
		t.Errorf("err %v after %d sends; want ErrNotSent wrapping the cause, nothing sent", err, b.posts)
	}
}

// A create holds one bulkhead slot for its sends and lookups: with one
// slot, creates whose answers are lost still finish (their lookups take no
// second slot), one at a time, and each is marked sent only once its turn
// came.
func TestCreateHoldsOneBulkheadSlot(t *testing.T) {
	b := &refBank{script: []string{"lost"}, delay: 5 * time.Millisecond}
	p := newRefBank(t, b, false, gateway.Limits{MaxConcurrent: 1})
	var early atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := range 4 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			res, err := p.Create(ctx, refRequest(fmt.Sprintf("vgr-%d", i)), &gateway.CreateOptions{BeforeSend: func() error {
				if b.inFlight.Load() != 0 {
					early.Add(1) // marked sent while another create held the slot
				}
				return nil
			}})
			if err == nil {
				err = res[0].Err
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("create: %v", err)
		}
	}
	if early.Load() != 0 || b.peak.Load() != 1 || b.posts != 4 {
		t.Errorf("%d creates marked sent before their turn, %d requests in flight at once, %d sent; want 0, 1, 4", early.Load(), b.peak.Load(), b.posts)
	}
}

// A request the breaker refused was not sent: Create tries it again after
// the Retry-After the refusal carries, counting it toward MaxAttempts.
func TestCreateRetriesFailFast(t *testing.T) {
	b := &refBank{script: []string{"503", "503", "ok"}}
	p := newRefBank(t, b, false, gateway.Limits{MaxAttempts: 4,
		Breaker: gateway.BreakerLimits{FailureRatio: 0.5, MinRequests: 2, OpenFor: 100 * time.Millisecond, Probes: 1}})
	res, err := p.Create(t.Context(), refRequest("vgr-1"), nil)
	if err == nil {
		err = res[0].Err
	}
	if err != nil || b.posts != 3 || b.byRef["vgr-1"] != 1 {
		t.Errorf("err %v after %d sends, %d accounts; want created by the third send, after a refusal", err, b.posts, b.byRef["vgr-1"])
	}
}

// After a send that may have created the items, a later refusal by the
// breaker is Unknown, and still recognisable as a fail-fast refusal (the
// job engine counts no check for it).
func TestCreateFailFastAfterUnknownIsUnknown(t *testing.T) {
	b := &refBank{script: []string{"503"}}
	p := newRefBank(t, b, true, gateway.Limits{MaxAttempts: 1,
		Breaker: gateway.BreakerLimits{FailureRatio: 0.5, MinRequests: 1, OpenFor: time.Minute}})
	if _, err := p.Create(t.Context(), refRequest("vgr-1"), nil); bank.Code(err) != bank.Unavailable {
		t.Fatalf("first create: %v, want Unavailable", err)
	}
	_, err := p.Create(t.Context(), refRequest("vgr-1"), &gateway.CreateOptions{SentBefore: true})
	if bank.Code(err) != bank.Unknown || !errors.Is(err, gateway.ErrFailFast) || b.posts != 1 {
		t.Errorf("err %v (code %v) after %d sends; want Unknown wrapping ErrFailFast, nothing more sent", err, bank.Code(err), b.posts)
	}
}

// A create the client's rate limiter refused was never sent: Create tries
// it again once the limiter allows, even at a provider with idempotency
// keys, whose other "too many requests" answers the transport has already
// resent.
func TestCreateRefusedByTheRateLimiterIsTriedAgain(t *testing.T) {
	b := &refBank{script: []string{"ok"}}
	p := newRefBank(t, b, true, gateway.Limits{MaxAttempts: 3, RatePerSecond: 2, Burst: 1,
		AttemptTimeout: 100 * time.Millisecond, CallTimeout: 200 * time.Millisecond})
	for _, ref := range []string{"vgr-1", "vgr-2"} { // the second waits for a token longer than a call may
		res, err := p.Create(t.Context(), refRequest(ref), nil)
		if err == nil && res[0].Err != nil {
			err = res[0].Err
		}
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
	}
	if b.posts != 2 || b.byRef["vgr-2"] != 1 {
		t.Errorf("%d creates reached the provider, %d accounts for vgr-2; want 2, 1", b.posts, b.byRef["vgr-2"])
	}
}
