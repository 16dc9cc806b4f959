// Package bank holds vagate's unified model: the provider-neutral Account,
// Job and item outcome types, provider events, and the ErrorCode taxonomy
// that every layer uses to classify failures.
//
// The model is deliberately small and serialisable. Every Account keeps the
// provider's raw status and raw payload beside the normalised fields so that
// nothing the provider said is lost in translation.
package bank
