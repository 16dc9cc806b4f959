package gateway_test

import (
	"context"
	"testing"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/provider"
)

type unallocFake struct{ *fake }

func (unallocFake) Allocate(context.Context, string, *provider.Allocation) (*bank.Account, error) {
	return nil, nil
}

func TestRouter(t *testing.T) {
	reg := gateway.NewRegistry()
	add := func(name string, unalloc bool, cur ...string) {
		f := &fake{caps: baseCaps()}
		f.caps.Currencies = cur
		var a provider.Adapter = f
		if unalloc {
			f.caps.Unallocated = true
			a = unallocFake{f}
		}
		p, err := gateway.New(name, a, nil)
		if err != nil {
			t.Fatal(err)
		}
		reg.Register(p)
	}
	add("alpha", false, "USD", "EUR")
	add("beta", true, "USD")
	add("gamma", false, "GBP")
	r, err := gateway.NewRouter(reg, []gateway.Rule{
		{Currency: "USD", Capability: "unallocated", Provider: "beta"},
		{Currency: "EUR", Provider: "alpha"},
		{Currency: "USD", Provider: "alpha"},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		explicit string
		item     provider.CreateItem
		want     string
		field    string
	}{
		{"rule by currency", "", provider.CreateItem{Currency: "USD"}, "alpha", ""},
		{"rule by capability", "", provider.CreateItem{Currency: "USD", Unallocated: true}, "beta", ""},
		{"fallback by name", "", provider.CreateItem{Currency: "GBP"}, "gamma", ""},
		{"explicit wins", "beta", provider.CreateItem{Currency: "USD"}, "beta", ""},
		{"unknown explicit", "delta", provider.CreateItem{Currency: "USD"}, "", "/items/0/provider"},
		{"nobody serves", "", provider.CreateItem{Currency: "JPY"}, "", "/items/0/currency"},
		{"nobody serves unallocated", "", provider.CreateItem{Currency: "EUR", Unallocated: true}, "", "/items/0/currency"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, fe := r.Route("/items/0", tc.explicit, &tc.item)
			switch {
			case tc.field != "":
				if fe == nil || fe.Pointer != tc.field {
					t.Fatalf("field error = %+v, want pointer %s", fe, tc.field)
				}
			case fe != nil:
				t.Fatalf("unexpected field error %+v", fe)
			case p.Name() != tc.want:
				t.Fatalf("routed to %s, want %s", p.Name(), tc.want)
			}
		})
	}
	if _, err := gateway.NewRouter(reg, []gateway.Rule{{Currency: "USD", Provider: "nope"}}); err == nil {
		t.Error("rule to an unknown provider accepted")
	}
	for _, c := range []provider.Capability{"fly", provider.CapWebhooks, provider.CapCreate} {
		if _, err := gateway.NewRouter(reg, []gateway.Rule{{Currency: "USD", Capability: c, Provider: "alpha"}}); err == nil {
			t.Errorf("rule requiring capability %q accepted", c)
		}
	}
	for _, c := range provider.RouteCapabilities() {
		if _, err := gateway.NewRouter(reg, []gateway.Rule{{Currency: "USD", Capability: c, Provider: "alpha"}}); err != nil {
			t.Errorf("rule requiring capability %q refused: %v", c, err)
		}
	}
}
