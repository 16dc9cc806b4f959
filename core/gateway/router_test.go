package gateway_test

import (
	"context"
	"slices"
	"strings"
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

// A rule's fallbacks reach only the items the rule routes, and only those
// fallbacks that serve the item; an item that names its provider, or that
// no rule routes, has none. Fallbacks are checked when the router is built.
func TestRouterFallbacks(t *testing.T) {
	reg := gateway.NewRegistry()
	for name, cur := range map[string][]string{"alpha": {"EUR", "USD"}, "beta": {"EUR"}, "gamma": {"EUR", "USD"}, "delta": {"GBP"}} {
		f := &fake{caps: baseCaps()}
		f.caps.Currencies = cur
		p, err := gateway.New(name, f, nil)
		if err != nil {
			t.Fatal(err)
		}
		reg.Register(p)
	}
	r, err := gateway.NewRouter(reg, []gateway.Rule{
		{Currency: "EUR", Provider: "alpha", Fallbacks: []string{"beta", "gamma"}},
		{Currency: "USD", Provider: "alpha", Fallbacks: []string{"gamma"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		explicit  string
		currency  string
		want      string
		routedBy  bank.RoutedBy
		fallbacks []string
	}{
		{"rule with two fallbacks", "", "EUR", "alpha", bank.RoutedByRule, []string{"beta", "gamma"}},
		{"rule with one", "", "USD", "alpha", bank.RoutedByRule, []string{"gamma"}},
		{"named provider", "alpha", "EUR", "alpha", bank.RoutedByRequest, nil},
		{"no rule", "", "GBP", "delta", bank.RoutedByDefault, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			items, err := r.Plan("t1", &gateway.Request{Items: []*gateway.Item{{Provider: tc.explicit,
				Account: provider.CreateItem{Currency: tc.currency, AccountHolderName: "Jane Smith", AccountName: "Jane Smith"}}}})
			if err != nil {
				t.Fatal(err)
			}
			pl := items[0]
			if pl.Provider != tc.want || pl.RoutedBy != tc.routedBy || !slices.Equal(pl.Fallbacks, tc.fallbacks) {
				t.Errorf("plan = %s %s %v, want %s %s %v", pl.Provider, pl.RoutedBy, pl.Fallbacks, tc.want, tc.routedBy, tc.fallbacks)
			}
		})
	}
	bad := []struct {
		rule gateway.Rule
		msg  string
	}{
		{gateway.Rule{Currency: "EUR", Provider: "alpha", Fallbacks: []string{"nope"}}, "not a configured provider"},
		{gateway.Rule{Currency: "EUR", Provider: "alpha", Fallbacks: []string{"alpha"}}, "listed twice"},
		{gateway.Rule{Currency: "EUR", Provider: "alpha", Fallbacks: []string{"beta", "beta"}}, "listed twice"},
		{gateway.Rule{Currency: "EUR", Provider: "alpha", Fallbacks: []string{"delta"}}, "does not support EUR"},
	}
	for _, tc := range bad {
		if _, err := gateway.NewRouter(reg, []gateway.Rule{tc.rule}); err == nil || !strings.Contains(err.Error(), "routing[0].fallbacks") || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("rule %+v: err %v, want one naming routing[0].fallbacks: %s", tc.rule, err, tc.msg)
		}
	}
}
