package gateway

import (
	"fmt"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/provider"
)

// Rule routes items of a currency, optionally only those needing a
// capability, to a provider.
type Rule struct {
	Currency   string
	Capability string
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
		switch r.Capability {
		case "", "unallocated", "allocate", "block", "close":
		default:
			return nil, fmt.Errorf("routing[%d].capability: unknown capability %q", i, r.Capability)
		}
	}
	return &Router{reg: reg, rules: rules}, nil
}

// needs is the capability an item requires beyond a plain create.
func needs(it *provider.CreateItem) string {
	if it.Unallocated {
		return "unallocated"
	}
	return ""
}

func serves(p *Provider, it *provider.CreateItem) bool {
	c := p.Capabilities()
	return c.SupportsCurrency(it.Currency) && (!it.Unallocated || c.Unallocated)
}

// pick returns the provider for item it, whose JSON pointer is pointer:
// the one it names, else the first rule's or provider's that serves it. It
// picks none, and reports nothing, for an item with no valid currency and
// no provider named: the currency's own rule reports that.
func (r *Router) pick(pointer string, it *Item) (*Provider, *bank.FieldError) {
	if it.Provider != "" {
		p, ok := r.reg.Get(it.Provider)
		if !ok {
			return nil, &bank.FieldError{Pointer: pointer + "/provider", Message: fmt.Sprintf("unknown provider %q (configured: %v)", it.Provider, r.reg.Names())}
		}
		return p, nil
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
			return p, nil
		}
	}
	for _, p := range r.reg.All() {
		if serves(p, item) {
			return p, nil
		}
	}
	msg := fmt.Sprintf("no configured provider supports %s", item.Currency)
	if need != "" {
		msg += " with " + need + " accounts"
	}
	return nil, &bank.FieldError{Pointer: pointer + "/currency", Message: msg}
}
