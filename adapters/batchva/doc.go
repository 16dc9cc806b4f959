// Package batchva is the adapter for the batch virtual-account provider style
// (shared/seeds 000 and 001): asynchronous batch creation of up to 1000 items
// per job with status and result URLs, unallocated pre-provisioning, one-time
// PATCH allocation, and signed job-completion callbacks.
//
// # Config
//
//	baseUrl        provider base URL, e.g. https://api.bcb.bm (required)
//	clientId       client id for POST /v1/auth/token (required unless token is set)
//	clientSecret   client secret for the token endpoint (secret; never logged)
//	token          a static bearer token instead of clientId/clientSecret (secret)
//	callbackUrl    where the provider posts job-completion callbacks (the gateway's
//	               /v1/providers/{name}/webhooks URL); empty = learn by polling only
//	signingSecret  the Message Signing Secret for HMAC callbacks (secret)
//	rsaPublicKey   PEM public key; set when response signing is enabled, and then
//	               only RSA-PSS (rsa-v1) callbacks are accepted
//	currencies     accepted currencies (default USD, BMD, EUR, GBP, CAD)
//	bankName, country   bank details reported on every account (default "", "BM")
//
// # Choices
//
// Creates of more than 1000 items are split into chunks of 1000, each sent as
// its own provider job with an Idempotency-Key derived from the request's key
// and the chunk's index (UUID v5), so a resend of the same request returns the
// provider's stored response and never creates twice. The operation handle
// returned for polling is the comma-separated list of provider job ids.
//
// The provider has no account status field. An account whose names are the
// "UNALLOCATED" placeholders (or whose allocated flag is false) maps to
// UNALLOCATED, any other to ACTIVE; providerStatus keeps "UNALLOCATED" or
// "ALLOCATED" accordingly.
//
// A 409 whose error is FIELD_IMMUTABLE maps to FailedPrecondition; other
// statuses follow provider.CodeForStatus. A 401 drops the cached token so the
// next call fetches a new one; the adapter itself never retries.
//
// Callbacks are verified before anything in them is believed: Bcb-Timestamp
// within five minutes, Bcb-Nonce present, and Bcb-Signature over
// "<timestamp>.<nonce>.<body>" by HMAC-SHA256 or, when rsaPublicKey is set,
// RSA-PSS/SHA-256 with Bcb-Signature-Version rsa-v1 (a callback of the other
// scheme is refused, so a downgrade is impossible).
//
// No lookup by reference (no provider.Finder). The provider lists accounts
// only by clientReference, the client's own value, which two tenants may
// share; creates carry an Idempotency-Key instead, so a create whose outcome
// is unknown is settled by resending it with the same key.
package batchva
