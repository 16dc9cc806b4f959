package adaptertest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/provider"
)

// testAsyncCreate: an adapter whose creates finish later (provider.Poller)
// answers a create with a pending operation; polling it ends with one
// result per item, in order; a finished operation polls the same again
// (the job engine resumes a create by its operation after a restart); an
// operation the provider does not know is NotFound.
func testAsyncCreate(t *testing.T, f *fixture) {
	p := f.p
	if _, ok := p.Adapter().(provider.Poller); !ok {
		if p.Supports(provider.CapAsyncCreate) {
			t.Fatalf("provider declares asyncCreate but its adapter is no provider.Poller")
		}
		t.Logf("creates finish at once (no provider.Poller); UnsupportedCapabilities checks that Poll is refused")
		return
	}
	ph, ok := f.h.(PollHarness)
	if !ok {
		t.Fatalf("the adapter is a provider.Poller: its harness must implement adaptertest.PollHarness")
	}
	items := withReferences([]provider.CreateItem{f.h.Item(ref(t)), f.h.Item(ref(t)), f.h.Item(ref(t))})
	req := &provider.CreateRequest{IdempotencyKey: newKey(), Items: items}
	sub, err := p.Submit(ctx(t), req)
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	if !sub.Pending || sub.Operation == "" {
		t.Fatalf("Submit = pending %v, operation %q; want a pending create with an operation to poll", sub.Pending, sub.Operation)
	}
	res := pollDone(t, f, sub.Operation, req)
	seen := map[string]bool{}
	for i, r := range res.Items {
		if r.Err != nil {
			t.Fatalf("item %d: %v", i, r.Err)
		}
		checkCreated(t, f, items[i], r.Account)
		if seen[r.Account.ProviderAccountID] {
			t.Errorf("item %d: providerAccountId %s returned twice", i, r.Account.ProviderAccountID)
		}
		seen[r.Account.ProviderAccountID] = true
		f.wantCount(t, items[i].ClientReference, 1, fmt.Sprintf("item %d", i))
	}

	t.Run("PollAgain", func(t *testing.T) {
		again, err := p.Poll(ctx(t), sub.Operation, req)
		if err != nil || again.Pending {
			t.Fatalf("polling a finished operation again: %+v, %v; want its results", again, err)
		}
		for i := range res.Items {
			if a, b := res.Items[i].Account.ProviderAccountID, again.Items[i].Account.ProviderAccountID; a != b {
				t.Errorf("item %d: second poll gave account %s, first %s", i, b, a)
			}
		}
	})
	t.Run("UnknownOperation", func(t *testing.T) {
		_, err := p.Poll(ctx(t), ph.MissingOperation(), &provider.CreateRequest{IdempotencyKey: newKey(), Items: items[:1]})
		if !errors.Is(err, bank.ErrNotFound) {
			t.Fatalf("err = %v (code %s), want not found", err, bank.Code(err))
		}
		wantBankError(t, f, err, "poll")
	})
	t.Run("Resubmit", func(t *testing.T) {
		if !p.Capabilities().IdempotentCreate {
			return
		}
		again, err := p.Submit(ctx(t), req)
		if err != nil || again.Operation != sub.Operation {
			t.Fatalf("resubmitting with the same key: %+v, %v; want operation %q again", again, err, sub.Operation)
		}
	})
}

// pollDone polls operation until it finishes (bounded by LifecycleTimeout).
func pollDone(t testing.TB, f *fixture, operation string, req *provider.CreateRequest) *provider.CreateResult {
	t.Helper()
	deadline := time.Now().Add(LifecycleTimeout)
	for {
		res, err := f.p.Poll(ctx(t), operation, req)
		if err != nil {
			t.Fatalf("Poll(%s): %v", operation, err)
		}
		if !res.Pending {
			if len(res.Items) != len(req.Items) {
				t.Fatalf("finished operation has %d results for %d items", len(res.Items), len(req.Items))
			}
			return res
		}
		if time.Now().After(deadline) {
			t.Fatalf("operation %s still pending after %s", operation, LifecycleTimeout)
		}
		time.Sleep(PollInterval)
	}
}
