package gateway_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/provider"
)

// One optional interface each, to compose adapters with any set of them.
type (
	withPoller    struct{}
	withAllocator struct{}
	withBlocker   struct{}
	withCloser    struct{}
	withFinder    struct{}
	withLister    struct{}
	withVerifier  struct{}
)

func (withPoller) PollCreate(context.Context, string, *provider.CreateRequest) (*provider.CreateResult, error) {
	return &provider.CreateResult{Pending: true, Operation: "op"}, nil
}
func (withAllocator) Allocate(context.Context, string, *provider.Allocation) (*bank.Account, error) {
	return &bank.Account{}, nil
}
func (withBlocker) Block(context.Context, string) (*bank.Account, error) { return &bank.Account{}, nil }
func (withBlocker) Unblock(context.Context, string) (*bank.Account, error) {
	return &bank.Account{}, nil
}
func (withCloser) Close(context.Context, string, *provider.CloseReason) (*bank.Account, error) {
	return &bank.Account{}, nil
}
func (withFinder) FindByReference(context.Context, string) ([]*bank.Account, error) { return nil, nil }
func (withLister) ListAccounts(context.Context, string) ([]*bank.Account, string, error) {
	return nil, "", nil
}
func (withVerifier) VerifyWebhook(*http.Request, []byte) ([]bank.ProviderEvent, error) {
	return nil, nil
}

// The gateway derives a provider's capabilities from the interfaces its
// adapter implements and the facts it declares; the declared Capabilities
// value names no interface-backed capability, so the two cannot disagree.
func TestCapabilitiesFromInterfaces(t *testing.T) {
	caps := func(edit func(*provider.Capabilities)) *fake {
		f := &fake{caps: baseCaps()}
		if edit != nil {
			edit(&f.caps)
		}
		return f
	}
	tests := []struct {
		name string
		a    provider.Adapter
		want []provider.Capability
	}{
		{"no optional interface", caps(nil), []provider.Capability{provider.CapCreate}},
		{"Poller", struct {
			*fake
			withPoller
		}{caps(nil), withPoller{}}, []provider.Capability{provider.CapCreate, provider.CapAsyncCreate}},
		{"Allocator", struct {
			*fake
			withAllocator
		}{caps(nil), withAllocator{}}, []provider.Capability{provider.CapCreate, provider.CapAllocate}},
		{"Blocker", struct {
			*fake
			withBlocker
		}{caps(nil), withBlocker{}}, []provider.Capability{provider.CapCreate, provider.CapBlock}},
		{"Closer", struct {
			*fake
			withCloser
		}{caps(nil), withCloser{}}, []provider.Capability{provider.CapCreate, provider.CapClose}},
		{"Finder", struct {
			*fake
			withFinder
		}{caps(nil), withFinder{}}, []provider.Capability{provider.CapCreate, provider.CapFindByReference}},
		{"Lister", struct {
			*fake
			withLister
		}{caps(nil), withLister{}}, []provider.Capability{provider.CapCreate, provider.CapList}},
		{"WebhookVerifier", struct {
			*fake
			withVerifier
		}{caps(nil), withVerifier{}}, []provider.Capability{provider.CapCreate, provider.CapWebhooks}},
		{"WebhookVerifier with webhooks disabled by its configuration", struct {
			*fake
			withVerifier
		}{caps(func(c *provider.Capabilities) { c.Disabled = []provider.Capability{provider.CapWebhooks} }), withVerifier{}},
			[]provider.Capability{provider.CapCreate}},
		{"declared idempotent create", caps(func(c *provider.Capabilities) { c.IdempotentCreate = true }),
			[]provider.Capability{provider.CapCreate, provider.CapIdempotentCreate}},
		{"declared unallocated, with Allocator", struct {
			*fake
			withAllocator
		}{caps(func(c *provider.Capabilities) { c.Unallocated = true }), withAllocator{}},
			[]provider.Capability{provider.CapCreate, provider.CapAllocate, provider.CapUnallocated}},
		{"every interface and fact", struct {
			*fake
			withPoller
			withAllocator
			withBlocker
			withCloser
			withFinder
			withLister
			withVerifier
		}{caps(func(c *provider.Capabilities) { c.Unallocated, c.IdempotentCreate = true, true }),
			withPoller{}, withAllocator{}, withBlocker{}, withCloser{}, withFinder{}, withLister{}, withVerifier{}},
			provider.AllCapabilities()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := gateway.New("fk", tc.a, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Supported(); !slices.Equal(got, tc.want) {
				t.Errorf("Supported() = %v, want %v", got, tc.want)
			}
			for _, c := range provider.AllCapabilities() {
				if got, want := p.Supports(c), slices.Contains(tc.want, c); got != want {
					t.Errorf("Supports(%s) = %v, want %v", c, got, want)
				}
			}
		})
	}
}

// A capability the adapter implements but its configuration disables is
// refused like one it lacks, naming the capability.
func TestDisabledCapabilityIsRefused(t *testing.T) {
	f := &fake{caps: baseCaps()}
	f.caps.Disabled = []provider.Capability{provider.CapWebhooks}
	p, err := gateway.New("fk", struct {
		*fake
		withVerifier
	}{f, withVerifier{}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.VerifyWebhook(&http.Request{}, nil)
	var ce *gateway.CapabilityError
	if bank.Code(err) != bank.Unimplemented || !errors.As(err, &ce) || ce.Capability != provider.CapWebhooks {
		t.Fatalf("err = %v, want a CapabilityError for webhooks", err)
	}
}
