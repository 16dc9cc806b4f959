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
// # From the documents
//
// POST /v1/virtual-accounts with items (1..1000; currency; names unless
// unallocated; clientReference ≤ 35; dob; nativeLanguageName ≤ 255),
// callbackUrl and customHeaders (≤ 10, key ≤ 50, value ≤ 500), an optional
// UUID Idempotency-Key (per user), the 202 {jobId, status, statusUrl,
// resultUrl} with absolute URLs, job statuses Pending, InProgress,
// Completed, CompletedWithErrors, Cancelled; the account structure
// (virtualAccountNumber, bicCode, names, currency, balance, category); the
// one-time PATCH; Accept: application/json or text/csv; the permission
// create-virtual-account; the errors {error, message} with 400, 401, 403,
// 429, 500; callbacks signed with Bcb-Signature, -Timestamp, -Nonce and, for
// RSA-PSS + SHA-256, -Signature-Version rsa-v1, else HMAC.
//
// Not in them, so shared with mocks/batchvamock as our assumptions: the
// token endpoint, the paths behind statusUrl and resultUrl, the job status
// and result bodies, the account reads, the callback body and the signed
// bytes (the reference points to a Message Signing guide it does not
// include).
//
// # Choices
//
// Creates of more than 1000 items are split into chunks of 1000, each sent as
// its own provider job with an Idempotency-Key derived from the request's key
// and the chunk's index (UUID v5), so a resend of the same request returns the
// provider's stored response and never creates twice. The operation handle
// returned for polling is a JSON list of the provider's jobs, each with the
// statusUrl and resultUrl the provider answered; polls follow those URLs,
// which must be on baseUrl's scheme and host (the bearer token goes with
// them; any other is a malformed answer). An operation of comma-separated
// job ids (made by earlier versions) is polled at
// /v1/virtual-accounts/jobs/{jobId}[/results]. Each item result carries
// its provider job (bank.ItemResult.ProviderJobID), and a refused item the
// provider's code (ITEM_REJECTED, ...) as bank.Problem.ProviderCode.
//
// dob and nativeLanguageName are sent for unallocated items too: the
// documents let identity fields be set while an account is unallocated.
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
// scheme is refused, so a downgrade is impossible). A callback whose nonce
// this adapter has already accepted (kept for ten minutes, twice the
// tolerance) is a replay and refused. The memory is the process's: a replay
// to another gateway instance verifies there, and is harmless, as the job
// it names only wakes a poll. The echoed customHeaders are read into the
// event (bank.ProviderEvent.Headers) and not forwarded: they are the
// values the client sent with its job, which the gateway keeps.
//
// Identity updates: the provider lets an account named at creation take one
// identity update ("immutable after first update"); the unified API is
// stricter and refuses identity changes of any allocated account before
// they reach the adapter (field_immutable).
//
// No lookup by reference (no provider.Finder). The provider lists accounts
// only by clientReference, the client's own value, which two tenants may
// share; creates carry an Idempotency-Key instead, so a create whose outcome
// is unknown is settled by resending it with the same key.
package batchva
