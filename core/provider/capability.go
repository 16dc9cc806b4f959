package provider

import "slices"

// Capability names one thing a provider can do. It is the one vocabulary of
// capabilities: the gateway's "capability not supported" errors, routing
// rules and GET /v1/providers all speak it.
//
// Most capabilities are not declared but discovered: an adapter has one
// when it implements the matching optional interface, and the gateway finds
// out by type assertion. The others are facts about the provider that an
// adapter declares in its Capabilities value.
type Capability string

// The capabilities, in the order they are listed.
const (
	// CapCreate: accounts can be created. Every adapter can (Adapter).
	CapCreate Capability = "create"
	// CapAsyncCreate: creates finish later and are polled (Poller).
	CapAsyncCreate Capability = "asyncCreate"
	// CapAllocate: holder details and the client reference can be set after
	// create (Allocator).
	CapAllocate Capability = "allocate"
	// CapUnallocated: accounts can be created without a holder and
	// allocated later (declared: Capabilities.Unallocated; needs Allocator).
	CapUnallocated Capability = "unallocated"
	// CapBlock: accounts can be blocked and unblocked (Blocker).
	CapBlock Capability = "block"
	// CapClose: accounts can be closed (Closer).
	CapClose Capability = "close"
	// CapFindByReference: accounts can be looked up by the gateway's item
	// reference (Finder).
	CapFindByReference Capability = "findByReference"
	// CapList: every account can be listed, page by page (Lister).
	CapList Capability = "list"
	// CapWebhooks: the provider sends callbacks the adapter verifies
	// (WebhookVerifier), unless its configuration disables them.
	CapWebhooks Capability = "webhooks"
	// CapIdempotentCreate: the provider honours an idempotency key on create
	// (declared: Capabilities.IdempotentCreate).
	CapIdempotentCreate Capability = "idempotentCreate"
)

var allCapabilities = []Capability{
	CapCreate, CapAsyncCreate, CapAllocate, CapUnallocated, CapBlock,
	CapClose, CapFindByReference, CapList, CapWebhooks, CapIdempotentCreate,
}

// AllCapabilities lists every capability, in their listing order.
func AllCapabilities() []Capability { return slices.Clone(allCapabilities) }

// Valid reports whether c is one of the capabilities.
func (c Capability) Valid() bool { return slices.Contains(allCapabilities, c) }

var routeCapabilities = []Capability{CapUnallocated, CapAllocate, CapBlock, CapClose}

// RouteCapabilities lists the capabilities a routing rule may name: a rule
// naming one applies only to items that need it.
func RouteCapabilities() []Capability { return slices.Clone(routeCapabilities) }

// Routable reports whether a routing rule may name c.
func (c Capability) Routable() bool { return slices.Contains(routeCapabilities, c) }
