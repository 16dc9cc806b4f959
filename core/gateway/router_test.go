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
	named := func(cur string) provider.CreateItem {
		return provider.CreateItem{Currency: cur, AccountHolderName: "A", AccountName: "B"}
	}
	unallocated := func(cur string) provider.CreateItem { return provider.CreateItem{Currency: cur, Unallocated: true} }
	tests := []struct {
		name     string
		explicit string
		item     provider.CreateItem
		want     string
		field    string
	}{
		{"rule by currency", "", named("USD"), "alpha", ""},
		{"rule by capability", "", unallocated("USD"), "beta", ""},
		{"fallback by name", "", named("GBP"), "gamma", ""},
		{"explicit wins", "beta", named("USD"), "beta", ""},
		{"unknown explicit", "delta", named("USD"), "", "/items/0/provider"},
		{"nobody serves", "", named("JPY"), "", "/items/0/currency"},
		{"nobody serves unallocated", "", unallocated("EUR"), "", "/items/0/currency"},
		{"no currency to route by", "", named("usd"), "", "/items/0/currency"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			items, err := r.Plan("t1", &gateway.Request{Items: []*gateway.Item{{Provider: tc.explicit, Account: tc.item}}})
			fields := bank.FieldsOf(err)
			switch {
			case tc.field != "":
				if bank.Code(err) != bank.InvalidArgument || len(fields) != 1 || fields[0].Pointer != tc.field {
					t.Fatalf("err = %v %+v, want one field error at %s", err, fields, tc.field)
				}
			case err != nil:
				t.Fatalf("unexpected error %v %+v", err, fields)
			case len(items) != 1 || items[0].Provider != tc.want || items[0].Account.Currency != tc.item.Currency:
				t.Fatalf("planned %+v, want the item routed to %s", items, tc.want)
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
