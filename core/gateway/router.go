package gateway

import (
	"fmt"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/provider"
)

// Rule routes items of a currency, optionally only those needing a
// capability (one of provider.RouteCapabilities), to a provider.
type Rule struct {
	Currency   string
	Capability provider.Capability
	Provider   string
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

func serves(p *Provider, it *provider.CreateItem) bool {
	need := needs(it)
	return p.Capabilities().SupportsCurrency(it.Currency) && (need == "" || p.Supports(need))
}

// Route returns the provider for item. explicit is the item's own provider
// field; pointer is the item's JSON pointer, used in field errors.
func (r *Router) Route(pointer, explicit string, it *provider.CreateItem) (*Provider, *bank.FieldError) {
	if explicit != "" {
		p, ok := r.reg.Get(explicit)
		if !ok {
			return nil, &bank.FieldError{Pointer: pointer + "/provider", Message: fmt.Sprintf("unknown provider %q (configured: %v)", explicit, r.reg.Names())}
		}
		return p, nil
	}
	need := needs(it)
	for _, rule := range r.rules {
		if rule.Currency != it.Currency || (rule.Capability != "" && rule.Capability != need) {
			continue
		}
		if p, _ := r.reg.Get(rule.Provider); serves(p, it) {
			return p, nil
		}
	}
	for _, p := range r.reg.All() {
		if serves(p, it) {
			return p, nil
		}
	}
	msg := fmt.Sprintf("no configured provider supports %s", it.Currency)
	if need != "" {
		msg += " with capability " + string(need)
	}
	return nil, &bank.FieldError{Pointer: pointer + "/currency", Message: msg}
}
