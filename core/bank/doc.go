// Package bank holds vagate's unified model: the provider-neutral Account,
// Job and item outcome types, the unified events of a tenant's event log,
// the facts of verified provider callbacks, and the ErrorCode taxonomy that
// every layer uses to classify failures.
//
// The model is deliberately small and serialisable. Every Account keeps the
// provider's raw status and raw payload beside the normalised fields so that
// nothing the provider said is lost in translation.
package bank
