package gateway_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/provider"
)

// fake is a scriptable in-memory adapter.
type fake struct {
	caps    provider.Capabilities
	create  func(*provider.CreateRequest) (*provider.CreateResult, error)
	poll    func(string) (*provider.CreateResult, error)
	get     func(string) (*bank.Account, error)
	polls   atomic.Int32
	creates atomic.Int32
}

func (f *fake) Capabilities() provider.Capabilities { return f.caps }
func (f *fake) CreateAccounts(_ context.Context, r *provider.CreateRequest) (*provider.CreateResult, error) {
	f.creates.Add(1)
	return f.create(r)
}
func (f *fake) GetAccount(_ context.Context, ref string) (*bank.Account, error) { return f.get(ref) }
func (f *fake) ErrorCode(err error) bank.ErrorCode                              { return provider.ClassifyHTTP(err) }

type asyncFake struct{ *fake }

func (f asyncFake) PollCreate(_ context.Context, op string, _ *provider.CreateRequest) (*provider.CreateResult, error) {
	f.polls.Add(1)
	return f.poll(op)
}

func baseCaps() provider.Capabilities {
	return provider.Capabilities{Style: "fake", Currencies: []string{"USD", "EUR"}, MaxBatch: 10,
		Limits: provider.Limits{ClientReference: 5, NativeLanguageName: 8, CustomHeaders: 1, CustomHeaderKey: 3, CustomHeaderValue: 3}}
}

func named(ref string) provider.CreateItem {
	return provider.CreateItem{Currency: "USD", AccountHolderName: "A", AccountName: "B", ClientReference: ref}
}

func newFake(t *testing.T) (*fake, *gateway.Provider) {
	f := &fake{caps: baseCaps()}
	f.create = func(r *provider.CreateRequest) (*provider.CreateResult, error) {
		res := &provider.CreateResult{}
		for _, it := range r.Items {
			res.Items = append(res.Items, provider.ItemResult{Account: &bank.Account{ProviderAccountID: "x" + it.ClientReference, Status: bank.StatusActive}})
		}
		return res, nil
	}
	p, err := gateway.New("fk", f, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f, p
}

func TestNewChecksCapabilities(t *testing.T) {
	tests := []struct {
		name string
		edit func(*provider.Capabilities)
		want string
	}{
		{"no style", func(c *provider.Capabilities) { c.Style = "" }, "style"},
		{"no batch", func(c *provider.Capabilities) { c.MaxBatch = 0 }, "maxBatch"},
		{"no currencies", func(c *provider.Capabilities) { c.Currencies = nil }, "currencies"},
		{"unallocated without allocator", func(c *provider.Capabilities) { c.Unallocated = true }, "Allocator"},
		{"disables an unknown capability", func(c *provider.Capabilities) { c.Disabled = []provider.Capability{"teleport"} }, "teleport"},
		{"disables create", func(c *provider.Capabilities) { c.Disabled = []provider.Capability{provider.CapCreate} }, "create"},
		{"disables a declared fact", func(c *provider.Capabilities) { c.Disabled = []provider.Capability{provider.CapIdempotentCreate} }, "idempotentCreate"},
		{"disables what it does not implement", func(c *provider.Capabilities) { c.Disabled = []provider.Capability{provider.CapBlock} }, "block"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fake{caps: baseCaps()}
			tc.edit(&f.caps)
			_, err := gateway.New("fk", f, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one mentioning %s", err, tc.want)
			}
		})
	}
	if _, err := gateway.New("", &fake{caps: baseCaps()}, nil); err == nil {
		t.Error("empty name accepted")
	}
}

func TestValidateCreate(t *testing.T) {
	tests := []struct {
		name    string
		req     *provider.CreateRequest
		code    bank.ErrorCode
		pointer []string
	}{
		{"ok", &provider.CreateRequest{Items: []provider.CreateItem{named("r1")}}, bank.OK, nil},
		{"no items", &provider.CreateRequest{}, bank.InvalidArgument, []string{"/items"}},
		{"every bad field listed", &provider.CreateRequest{Items: []provider.CreateItem{
			named("r1"),
			{Currency: "usd", ClientReference: "toolong", NativeLanguageName: "123456789", DOB: "1985-13-01"},
			{Currency: "GBP", AccountHolderName: "A", AccountName: "B", DOB: "2999-01-01"},
		}}, bank.InvalidArgument, []string{"/items/1/currency", "/items/1/accountHolderName", "/items/1/accountName",
			"/items/1/nativeLanguageName", "/items/1/clientReference", "/items/1/dob", "/items/2/currency", "/items/2/dob"}},
		{"headers", &provider.CreateRequest{CustomHeaders: map[string]string{"abcd": "v", "k": "long"}, Items: []provider.CreateItem{named("")}},
			bank.InvalidArgument, []string{"/customHeaders", "/customHeaders/abcd", "/customHeaders/k"}},
		{"unallocated unsupported", &provider.CreateRequest{Items: []provider.CreateItem{{Currency: "USD", Unallocated: true}}}, bank.Unimplemented, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, p := newFake(t)
			_, err := p.CreateAccounts(t.Context(), tc.req)
			if got := bank.Code(err); got != tc.code {
				t.Fatalf("code = %s (%v), want %s", got, err, tc.code)
			}
			var got []string
			for _, fe := range bank.FieldsOf(err) {
				got = append(got, fe.Pointer)
			}
			for _, want := range tc.pointer {
				if !strings.Contains(strings.Join(got, " ")+" ", want+" ") {
					t.Errorf("fields %v do not name %s", got, want)
				}
			}
			if tc.code != bank.OK && f.creates.Load() != 0 {
				t.Errorf("an invalid request reached the adapter")
			}
			if tc.code == bank.Unimplemented {
				var ce *gateway.CapabilityError
				if !errors.As(err, &ce) || ce.Provider != "fk" || ce.Capability != provider.CapUnallocated {
					t.Errorf("err = %v, want a CapabilityError naming fk and unallocated", err)
				}
			}
		})
	}
}

func TestValidateAllocation(t *testing.T) {
	s := func(v string) *string { return &v }
	f := &allocFake{fake: &fake{caps: baseCaps()}}
	p, err := gateway.New("fk", f, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		a    *provider.Allocation
		ok   bool
	}{
		{"empty", &provider.Allocation{}, false},
		{"nil", nil, false},
		{"reference", &provider.Allocation{ClientReference: s("abc")}, true},
		{"reference too long", &provider.Allocation{ClientReference: s("abcdef")}, false},
		{"blank name", &provider.Allocation{AccountName: s("  ")}, false},
		{"bad dob", &provider.Allocation{AccountName: s("A"), DOB: s("yesterday")}, false},
		{"names", &provider.Allocation{AccountName: s("A"), AccountHolderName: s("B"), DOB: s("1985-05-20")}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.Allocate(t.Context(), "ref", tc.a)
			if tc.ok != (err == nil) {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if !tc.ok && bank.Code(err) != bank.InvalidArgument {
				t.Errorf("code = %s, want invalid_argument", bank.Code(err))
			}
		})
	}
}

type allocFake struct{ *fake }

func (f *allocFake) Allocate(context.Context, string, *provider.Allocation) (*bank.Account, error) {
	return &bank.Account{ProviderAccountID: "ref"}, nil
}

func TestWrapOnce(t *testing.T) {
	f, p := newFake(t)
	f.get = func(string) (*bank.Account, error) {
		return nil, &provider.StatusError{Method: "GET", URL: "u", StatusCode: 429, RetryAfter: 4 * time.Second}
	}
	_, err := p.GetAccount(t.Context(), "ref")
	var be *bank.Error
	if !errors.As(err, &be) || be.Provider != "fk" || be.Op != "get" || be.Code != bank.ResourceExhausted || be.RetryAfter != 4*time.Second {
		t.Fatalf("err = %#v", err)
	}
	var inner *bank.Error
	if errors.As(be.Err, &inner) {
		t.Errorf("error wrapped twice: %v", err)
	}
	if _, err := p.GetAccount(t.Context(), ""); bank.Code(err) != bank.InvalidArgument {
		t.Errorf("empty ref: %v", err)
	}
}

func TestCheckResult(t *testing.T) {
	f, p := newFake(t)
	f.create = func(r *provider.CreateRequest) (*provider.CreateResult, error) {
		return &provider.CreateResult{Items: []provider.ItemResult{{Err: io.EOF}, {}}}, nil
	}
	res, err := p.CreateAccounts(t.Context(), &provider.CreateRequest{Items: []provider.CreateItem{named("a"), named("b")}})
	if err != nil {
		t.Fatal(err)
	}
	var be *bank.Error
	if !errors.As(res[0].Err, &be) || be.Provider != "fk" {
		t.Errorf("item error not wrapped: %v", res[0].Err)
	}
	if res[1].Err == nil {
		t.Errorf("item with neither account nor error passed as success")
	}
	f.create = func(r *provider.CreateRequest) (*provider.CreateResult, error) { return &provider.CreateResult{}, nil }
	if _, err := p.CreateAccounts(t.Context(), &provider.CreateRequest{Items: []provider.CreateItem{named("a")}}); err == nil {
		t.Error("a result count mismatch passed")
	}
}

func TestAwait(t *testing.T) {
	newAsync := func(t *testing.T, poll func(n int32) (*provider.CreateResult, error)) (*asyncFake, *gateway.Provider) {
		f := asyncFake{&fake{caps: baseCaps()}}
		f.create = func(*provider.CreateRequest) (*provider.CreateResult, error) {
			return &provider.CreateResult{Pending: true, Operation: "op1"}, nil
		}
		f.poll = func(string) (*provider.CreateResult, error) { return poll(f.polls.Load()) }
		p, err := gateway.New("fk", f, &gateway.Options{PollInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		return &f, p
	}
	done := &provider.CreateResult{Items: []provider.ItemResult{{Account: &bank.Account{ProviderAccountID: "1"}}}}
	req := &provider.CreateRequest{Items: []provider.CreateItem{named("a")}}

	t.Run("callback wakes the wait", func(t *testing.T) {
		f, p := newAsync(t, func(int32) (*provider.CreateResult, error) { return done, nil })
		got := make(chan error, 1)
		go func() { _, err := p.CreateAccounts(t.Context(), req); got <- err }()
		// The poll interval is an hour: only Notify can finish this in time.
		deadline := time.After(10 * time.Second)
		for {
			p.Notify()
			select {
			case err := <-got:
				if err != nil || f.polls.Load() != 1 {
					t.Fatalf("err = %v after %d polls", err, f.polls.Load())
				}
				return
			case <-time.After(10 * time.Millisecond):
			case <-deadline:
				t.Fatal("Notify did not wake Await")
			}
		}
	})
	t.Run("a callback before the wait starts still wakes it", func(t *testing.T) {
		f, p := newAsync(t, func(int32) (*provider.CreateResult, error) { return done, nil })
		create := f.create
		f.create = func(r *provider.CreateRequest) (*provider.CreateResult, error) {
			res, err := create(r)
			p.Notify() // the provider's job finished, and it called back, before its answer to the create came
			return res, err
		}
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		if _, err := p.CreateAccounts(ctx, req); err != nil || f.polls.Load() != 1 {
			t.Fatalf("err = %v after %d polls: the callback was missed", err, f.polls.Load())
		}
	})
	t.Run("transient poll errors are tolerated", func(t *testing.T) {
		f, _ := newAsync(t, func(n int32) (*provider.CreateResult, error) {
			if n < 3 {
				return nil, &provider.StatusError{StatusCode: 503}
			}
			return done, nil
		})
		p2, _ := gateway.New("fk", f, &gateway.Options{PollInterval: time.Millisecond})
		if _, err := p2.CreateAccounts(t.Context(), req); err != nil {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("permanent poll error ends the wait", func(t *testing.T) {
		f, _ := newAsync(t, func(int32) (*provider.CreateResult, error) { return nil, &provider.StatusError{StatusCode: 403} })
		p, _ := gateway.New("fk", f, &gateway.Options{PollInterval: time.Millisecond})
		if _, err := p.CreateAccounts(t.Context(), req); bank.Code(err) != bank.PermissionDenied {
			t.Fatalf("err = %v, want permission denied", err)
		}
	})
	t.Run("context ends the wait", func(t *testing.T) {
		_, p := newAsync(t, func(int32) (*provider.CreateResult, error) {
			return &provider.CreateResult{Pending: true, Operation: "op1"}, nil
		})
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		defer cancel()
		if _, err := p.CreateAccounts(ctx, req); bank.Code(err) != bank.DeadlineExceeded {
			t.Fatalf("err = %v, want deadline exceeded", err)
		}
	})
}

func TestUnsupportedOperations(t *testing.T) {
	_, p := newFake(t)
	ops := map[string]struct {
		call func() error
		want provider.Capability
	}{
		"allocate": {func() error { _, err := p.Allocate(t.Context(), "r", &provider.Allocation{}); return err }, provider.CapAllocate},
		"block":    {func() error { _, err := p.Block(t.Context(), "r"); return err }, provider.CapBlock},
		"unblock":  {func() error { _, err := p.Unblock(t.Context(), "r"); return err }, provider.CapBlock},
		"close":    {func() error { _, err := p.Close(t.Context(), "r", nil); return err }, provider.CapClose},
		"find":     {func() error { _, err := p.FindByReference(t.Context(), "r"); return err }, provider.CapFindByReference},
		"webhook":  {func() error { _, err := p.VerifyWebhook(&http.Request{}, nil); return err }, provider.CapWebhooks},
		"poll":     {func() error { _, err := p.Poll(t.Context(), "op", &provider.CreateRequest{}); return err }, provider.CapAsyncCreate},
	}
	for name, op := range ops {
		t.Run(name, func(t *testing.T) {
			err := op.call()
			var ce *gateway.CapabilityError
			if bank.Code(err) != bank.Unimplemented || !errors.As(err, &ce) || ce.Capability != op.want || ce.Provider != "fk" {
				t.Fatalf("err = %v, want unimplemented capability error naming fk and %s", err, op.want)
			}
		})
	}
}

func TestRegistry(t *testing.T) {
	r := gateway.NewRegistry()
	_, a := newFake(t)
	b, _ := gateway.New("aa", &fake{caps: baseCaps()}, nil)
	if err := r.Register(a); err != nil {
		t.Fatal(err)
	}
	if err := r.Register(b); err != nil {
		t.Fatal(err)
	}
	if err := r.Register(a); err == nil {
		t.Error("duplicate name accepted")
	}
	if got := strings.Join(r.Names(), ","); got != "aa,fk" {
		t.Errorf("Names = %s", got)
	}
	if p, ok := r.Get("fk"); !ok || p != a {
		t.Error("Get(fk) failed")
	}
	if _, ok := r.Get("zz"); ok {
		t.Error("Get(zz) found something")
	}
	if all := r.All(); len(all) != 2 || all[0] != b {
		t.Errorf("All = %v", all)
	}
}

func TestHealth(t *testing.T) {
	f, p := newFake(t)
	calls := 0
	f.get = func(string) (*bank.Account, error) {
		calls++
		switch calls % 4 {
		case 0:
			return nil, &provider.StatusError{StatusCode: 503} // provider-side
		case 1:
			return nil, &provider.StatusError{StatusCode: 404} // the caller's doing
		}
		return &bank.Account{ProviderAccountID: "r"}, nil
	}
	for range 8 {
		p.GetAccount(t.Context(), "r")
	}
	h := p.Health()
	if h.RecentRequests != 8 || h.RecentErrorRate != 0.25 || h.InFlight != 0 || h.LastErrorAt == nil || !strings.Contains(h.LastError, "503") {
		t.Errorf("health = %+v, want 8 calls, 25%% provider-side errors", h)
	}
	for range 200 {
		p.GetAccount(t.Context(), "r")
	}
	if h := p.Health(); h.RecentRequests != 100 {
		t.Errorf("window holds %d calls, want 100", h.RecentRequests)
	}
}

// webhookFake verifies no callback.
type webhookFake struct{ *fake }

func (webhookFake) VerifyWebhook(*http.Request, []byte) ([]bank.ProviderEvent, error) {
	return nil, errors.New("bad signature")
}

// An unverifiable callback is the caller's Unauthenticated, recognisable
// by type whatever the operation is called.
func TestUnverifiedWebhookIsAWebhookError(t *testing.T) {
	f := &fake{caps: baseCaps()}
	p, err := gateway.New("fk", webhookFake{f}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.VerifyWebhook(&http.Request{}, []byte(`{}`))
	var we *gateway.WebhookError
	if bank.Code(err) != bank.Unauthenticated || !errors.As(err, &we) || we.Provider != "fk" || !strings.Contains(err.Error(), "bad signature") {
		t.Errorf("err = %v, want Unauthenticated with a WebhookError from fk", err)
	}
}
