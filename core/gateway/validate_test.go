package gateway_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/provider"
)

// moneyFake names provider-side accounts in its "account" param: "main"
// is its default.
type moneyFake struct{ *fake }

func (moneyFake) ValidateParams(string, map[string]string) []bank.FieldError { return nil }
func (moneyFake) MoneyAccountParams() []string                               { return []string{"account"} }
func (moneyFake) DefaultMoneyAccounts() []string                             { return []string{"main"} }

// closeFake can allocate and close.
type closeFake struct{ *fake }

func (closeFake) Allocate(context.Context, string, *provider.Allocation) (*bank.Account, error) {
	return &bank.Account{ProviderAccountID: "ref"}, nil
}
func (closeFake) Close(context.Context, string, *provider.CloseReason) (*bank.Account, error) {
	return &bank.Account{ProviderAccountID: "ref", Status: bank.StatusClosed}, nil
}

// planRouter routes USD to "fk" (clientReference ≤ 5, one custom header
// of ≤ 3 characters) and EUR to "money", whose only header limit
// is a name of at most 8 characters.
func planRouter(t *testing.T) *gateway.Router {
	t.Helper()
	reg := gateway.NewRegistry()
	f := &fake{caps: baseCaps()}
	f.caps.Currencies = []string{"USD"}
	fk, err := gateway.New("fk", f, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg.Register(fk)
	m := &fake{caps: provider.Capabilities{Style: "money", Currencies: []string{"EUR"}, MaxBatch: 1,
		Limits: provider.Limits{CustomHeaderKey: 8}}}
	mp, err := gateway.New("money", moneyFake{m}, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg.Register(mp)
	r, err := gateway.NewRouter(reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func pointers(err error) []string {
	var out []string
	for _, f := range bank.FieldsOf(err) {
		out = append(out, f.Pointer)
	}
	return out
}

func TestPlan(t *testing.T) {
	r := planRouter(t)
	usd := func(ref string) *gateway.Item { return &gateway.Item{Account: named(ref)} }
	eur := func(account string) *gateway.Item {
		it := named("")
		it.Currency, it.Params = "EUR", map[string]string{"account": account}
		return &gateway.Item{Account: it}
	}
	tests := []struct {
		name      string
		req       gateway.Request
		code      bank.ErrorCode
		pointers  []string
		providers []string
	}{
		{"routed", gateway.Request{Items: []*gateway.Item{usd("a"), eur("main")}}, bank.OK, nil, []string{"fk", "money"}},
		{"a nil item is skipped and keeps its index", gateway.Request{Items: []*gateway.Item{nil, usd("a")}}, bank.OK, nil, []string{"", "fk"}},
		{"every bad field, each once", gateway.Request{Items: []*gateway.Item{
			usd("toolong"),
			{Account: provider.CreateItem{Currency: "usd", ClientReference: strings.Repeat("r", 65)}},
			{Provider: "nobody", Account: named("a")},
			{Account: provider.CreateItem{Currency: "JPY", AccountHolderName: "A", AccountName: "B"}},
		}}, bank.InvalidArgument, []string{
			"/items/0/clientReference",
			"/items/1/currency", "/items/1/accountHolderName", "/items/1/accountName", "/items/1/clientReference",
			"/items/2/provider",
			"/items/3/currency",
		}, nil},
		{"an invalid currency still meets the limits of the provider its upper-case form routes to", gateway.Request{Items: []*gateway.Item{
			{Account: provider.CreateItem{Currency: "usd", AccountHolderName: "A", AccountName: "B", ClientReference: "toolong"}},
			{Account: provider.CreateItem{Currency: "xx1", AccountHolderName: "A", AccountName: "B", ClientReference: "toolong"}},
		}}, bank.InvalidArgument, []string{"/items/0/currency", "/items/0/clientReference", "/items/1/currency"}, nil},
		{"headers: the lowest limit of the providers used", gateway.Request{
			CustomHeaders: map[string]string{"X-Long-Name": "v", "a b": "v"},
			Items:         []*gateway.Item{usd("a"), eur("main")}},
			bank.InvalidArgument, []string{"/customHeaders", "/customHeaders/X-Long-Name", "/customHeaders/a b"}, nil},
		{"capability after fields", gateway.Request{Items: []*gateway.Item{
			{Provider: "fk", Account: provider.CreateItem{Currency: "USD", Unallocated: true}}}}, bank.Unimplemented, nil, nil},
		{"fields before capability", gateway.Request{Items: []*gateway.Item{
			{Provider: "fk", Account: provider.CreateItem{Currency: "USD", Unallocated: true}}, usd("toolong")}},
			bank.InvalidArgument, []string{"/items/1/clientReference"}, nil},
		{"accounts the tenant may not use", gateway.Request{Items: []*gateway.Item{usd("a"), eur("other"), eur("main"), eur("x")}},
			bank.PermissionDenied, []string{"/items/1/providerParams/account", "/items/3/providerParams/account"}, nil},
		{"fields before accounts", gateway.Request{Items: []*gateway.Item{usd("toolong"), eur("other")}},
			bank.InvalidArgument, []string{"/items/0/clientReference"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			items, err := r.Plan("t1", &tc.req)
			if got := bank.Code(err); got != tc.code {
				t.Fatalf("code = %s (%v), want %s", got, err, tc.code)
			}
			if got := pointers(err); !slices.Equal(got, tc.pointers) {
				t.Errorf("fields at %q, want %q (%v)", got, tc.pointers, bank.FieldsOf(err))
			}
			var ane *gateway.AccountNotAllowedError
			if (tc.code == bank.PermissionDenied) != errors.As(err, &ane) || (ane != nil && ane.Items != len(tc.pointers)) {
				t.Errorf("err = %v: AccountNotAllowedError, counting the items, only for accounts the tenant may not use", err)
			}
			var ce *gateway.CapabilityError
			if (tc.code == bank.Unimplemented) != errors.As(err, &ce) {
				t.Errorf("err = %v: CapabilityError only for a missing capability", err)
			}
			if tc.code != bank.OK {
				return
			}
			var got []string
			for _, it := range items {
				got = append(got, it.Provider)
			}
			if !slices.Equal(got, tc.providers) {
				t.Errorf("providers %q, want %q", got, tc.providers)
			}
		})
	}
}

// The header limit named in a refusal is the provider's when it is the
// lower one.
func TestPlanNamesTheProviderWhoseLimitApplies(t *testing.T) {
	_, err := planRouter(t).Plan("t1", &gateway.Request{CustomHeaders: map[string]string{"X-Long-Name": "v"},
		Items: []*gateway.Item{{Account: provider.CreateItem{Currency: "EUR", AccountHolderName: "A", AccountName: "B"}}}})
	fs := bank.FieldsOf(err)
	if len(fs) != 1 || fs[0].Pointer != "/customHeaders/X-Long-Name" || !strings.Contains(fs[0].Message, "8 characters (the limit of provider money)") {
		t.Errorf("fields %+v, want the name refused under provider money's limit of 8", fs)
	}
}

// Go callers of the Provider meet the unified rules too, not only the
// provider's own limits.
func TestValidateCreateAppliesTheUnifiedRules(t *testing.T) {
	_, p := newFake(t)
	it := named("r")
	it.AccountName = strings.Repeat("n", 256)
	it.AccountHolderName = "Jane\u202e"
	it.CustomerID = strings.Repeat("c", 65)
	it.Metadata = map[string]string{"": "v"}
	err := p.ValidateCreate(&provider.CreateRequest{Items: []provider.CreateItem{it}})
	want := []string{"/items/0/accountHolderName", "/items/0/accountName", "/items/0/customerId", "/items/0/metadata/"}
	if got := pointers(err); bank.Code(err) != bank.InvalidArgument || !slices.Equal(got, want) {
		t.Errorf("fields at %q (%v), want %q", got, err, want)
	}
}

func TestValidateAllocationText(t *testing.T) {
	s := func(v string) *string { return &v }
	f := &fake{caps: baseCaps()}
	p, err := gateway.New("fk", closeFake{f}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		a       *provider.Allocation
		pointer string // "": valid
	}{
		{"bidi override", &provider.Allocation{AccountName: s("A\u202eB")}, "/accountName"},
		{"over the unified limit", &provider.Allocation{AccountHolderName: s(strings.Repeat("h", 256))}, "/accountHolderName"},
		{"dob in the future", &provider.Allocation{DOB: s("2999-01-01")}, "/dob"},
		{"empty reference", &provider.Allocation{ClientReference: s("")}, ""},
		{"Persian name", &provider.Allocation{AccountName: s("محمد\u200cرضا"), AccountHolderName: s("B")}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := p.ValidateAllocation(tc.a)
			if got := pointers(err); (tc.pointer == "" && err != nil) || (tc.pointer != "" && !slices.Equal(got, []string{tc.pointer})) {
				t.Errorf("err = %v at %q, want a field error at %q", err, got, tc.pointer)
			}
		})
	}
}

func TestCloseReasonIsChecked(t *testing.T) {
	f := &fake{caps: baseCaps()}
	p, err := gateway.New("fk", closeFake{f}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		r       *provider.CloseReason
		pointer string // "": valid
	}{
		{"none", nil, ""},
		{"notes over lines", &provider.CloseReason{Reason: "fraud", Notes: "line one\nline two\tend"}, ""},
		{"reason over lines", &provider.CloseReason{Reason: "fraud\nX-Injected: 1"}, "/reason"},
		{"long notes", &provider.CloseReason{Notes: strings.Repeat("n", 1001)}, "/notes"},
		{"escape in requestedBy", &provider.CloseReason{RequestedBy: "ops\x1b[31m"}, "/requestedBy"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.Close(t.Context(), "ref", tc.r)
			switch got := pointers(err); {
			case tc.pointer == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.pointer != "" && (bank.Code(err) != bank.InvalidArgument || !slices.Equal(got, []string{tc.pointer})):
				t.Errorf("err = %v at %q, want invalid argument at %s", err, got, tc.pointer)
			}
		})
	}
}
