package gateway

import (
	"fmt"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/provider"
)

// Rule routes items of a currency, optionally only those needing a
// capability (one of provider.RouteCapabilities), to a provider, and lists
// the providers an item may fail over to, in order, when that one cannot
// create it (see jobs: only when nothing can have been created there).
type Rule struct {
	Currency   string
	Capability provider.Capability
	Provider   string
	Fallbacks  []string
}

// Router picks the provider for an item that does not name one: the first
// rule matching its currency and needed capability whose provider can serve
// it, else the first provider (by name) that can.
type Router struct {
	reg   *Registry
	rules []Rule
}

// NewRouter checks every rule against the registry.
func NewRouter(reg *Registry, rules []Rule) (*Router, error) {
	for i, r := range rules {
		if _, ok := reg.Get(r.Provider); !ok {
			return nil, fmt.Errorf("routing[%d].provider: %q is not a configured provider", i, r.Provider)
		}
		if r.Capability != "" && !r.Capability.Routable() {
			return nil, fmt.Errorf("routing[%d].capability: %q is not one of %v", i, r.Capability, provider.RouteCapabilities())
		}
		seen := map[string]bool{r.Provider: true}
		for j, f := range r.Fallbacks {
			field := fmt.Sprintf("routing[%d].fallbacks[%d]", i, j)
			p, ok := reg.Get(f)
			switch {
			case !ok:
				return nil, fmt.Errorf("%s: %q is not a configured provider", field, f)
			case seen[f]:
				return nil, fmt.Errorf("%s: %q is listed twice (or is the rule's provider)", field, f)
			case !p.Capabilities().SupportsCurrency(r.Currency):
				return nil, fmt.Errorf("%s: provider %q does not support %s", field, f, r.Currency)
			case r.Capability != "" && !p.Supports(r.Capability):
				return nil, fmt.Errorf("%s: provider %q lacks capability %s", field, f, r.Capability)
			}
			seen[f] = true
		}
	}
	return &Router{reg: reg, rules: rules}, nil
}

// needs is the capability an item requires beyond a plain create.
func needs(it *provider.CreateItem) provider.Capability {
	if it.Unallocated {
		return provider.CapUnallocated
	}
	return ""
}

// Serves reports whether p supports the item's currency and the capability
// it needs.
func Serves(p *Provider, it *provider.CreateItem) bool { return serves(p, it) }

func serves(p *Provider, it *provider.CreateItem) bool {
	need := needs(it)
	return p.Capabilities().SupportsCurrency(it.Currency) && (need == "" || p.Supports(need))
}

// Choice is where an item goes: its provider, how that was chosen, and the
// providers it may fail over to.
type Choice struct {
	Provider *Provider
	RoutedBy bank.RoutedBy
	// Fallbacks are the names of the matching rule's fallbacks that serve
	// the item (currency and needed capability), in order; none for an item
	// that named its provider or that no rule routed.
	Fallbacks []string
}

// pick returns the choice for item it, whose JSON pointer is pointer: the
// provider it names, else the first rule's or provider's that serves it. It
// picks none, and reports nothing, for an item with no valid currency and
// no provider named: the currency's own rule reports that.
func (r *Router) pick(pointer string, it *Item) (*Choice, *bank.FieldError) {
	if it.Provider != "" {
		p, ok := r.reg.Get(it.Provider)
		if !ok {
			return nil, &bank.FieldError{Pointer: pointer + "/provider", Message: fmt.Sprintf("unknown provider %q (configured: %v)", it.Provider, r.reg.Names())}
		}
		return &Choice{Provider: p, RoutedBy: bank.RoutedByRequest}, nil
	}
	item := &it.Account
	if !bank.ValidCurrency(item.Currency) {
		return nil, nil
	}
	need := needs(item)
	for _, rule := range r.rules {
		if rule.Currency != item.Currency || (rule.Capability != "" && rule.Capability != need) {
			continue
		}
		if p, _ := r.reg.Get(rule.Provider); serves(p, item) {
			c := &Choice{Provider: p, RoutedBy: bank.RoutedByRule}
			for _, f := range rule.Fallbacks {
				if fp, ok := r.reg.Get(f); ok && serves(fp, item) {
					c.Fallbacks = append(c.Fallbacks, f)
				}
			}
			return c, nil
		}
	}
	for _, p := range r.reg.All() {
		if serves(p, item) {
			return &Choice{Provider: p, RoutedBy: bank.RoutedByDefault}, nil
		}
	}
	msg := fmt.Sprintf("no configured provider supports %s", item.Currency)
	if need != "" {
		msg += " with capability " + string(need)
	}
	return nil, &bank.FieldError{Pointer: pointer + "/currency", Message: msg}
}

// Route picks the provider for one item outside a create request (a pool
// claim): the one named by explicit, else the first rule's or provider's
// that serves it. An invalid currency is reported at pointer+"/currency".
func (r *Router) Route(pointer, explicit string, it *provider.CreateItem) (*Provider, *bank.FieldError) {
	c, fe := r.pick(pointer, &Item{Provider: explicit, Account: *it})
	if c == nil && fe == nil {
		fe = &bank.FieldError{Pointer: pointer + "/currency", Message: "must be an ISO 4217 code of three upper-case letters"}
	}
	if fe != nil {
		return nil, fe
	}
	return c.Provider, nil
}
