// Package batchvamock is a stateful, in-memory server of the batch virtual
// account provider (shared/seeds 000 and 001), faithful to its documents:
// same paths, fields, limits, statuses, headers and error shapes. It is an
// http.Handler, so the same code runs under httptest and in cmd/mockbank.
//
// # Wire contract (from the documents)
//
//	POST  /v1/virtual-accounts                           create a batch job (202)
//	GET   /v1/virtual-accounts/jobs/{jobId}              job status (the statusUrl; path: the mock's)
//	GET   /v1/virtual-accounts/jobs/{jobId}/results      per-item results (the resultUrl; path: the mock's)
//	PATCH /v1/virtual-accounts/{virtualAccountNumber}    one-time allocation / clientReference change
//
// Create: items 1..1000; items[].currency an ISO 4217 code the bank supports
// (the documents name USD, BMD and EUR; the mock adds GBP and CAD); accountHolderName and accountName required unless
// unallocated is true, then both are set to the placeholder "UNALLOCATED";
// clientReference ≤ 35; nativeLanguageName ≤ 255; customHeaders ≤ 10 entries,
// key ≤ 50, value ≤ 500; callbackUrl an absolute http(s) URL. The answer is
// 202 {jobId, status, statusUrl, resultUrl} with absolute URLs. Jobs move
// Pending → InProgress → Completed, or CompletedWithErrors when any item
// failed; the delays are configurable. Accounts are created while the job is
// InProgress. Content negotiation: Accept: text/csv gives CSV, Accept:
// application/json (or none) JSON, on every route (see # Strict and lenient
// for other types); errors are always JSON.
//
// Identity fields (accountHolderName, accountName, dob, nativeLanguageName)
// may change while an account is unallocated, and are "immutable after
// first update": the update that allocates an unallocated account, or the
// first identity update of an account named at creation, fixes them; only
// clientReference changes after that.
//
// Idempotency-Key: optional; when present it must be a UUID (else 400
// INVALID_IDEMPOTENCY_KEY). Keys are per user (the token subject): the same
// key from the same user returns the stored 202 response and creates nothing.
//
// Errors are {"error": CODE, "message": text} with the documented statuses:
// 400 VALIDATION_ERROR (message lists every bad field as items[i].field),
// 401 UNAUTHORIZED, 403 FORBIDDEN, 429 TOO_MANY_REQUESTS, 500 INTERNAL_ERROR.
// 429 comes from a per-client rate limit (Options.RateLimit and RateBurst,
// or PUT /__admin/config {"rateLimit": 5, "rateBurst": 10}; off by
// default), with Retry-After in seconds; its numbers are the mock's choice.
//
// # Strict and lenient
//
// Where the documents are ambiguous the mock has two readings, chosen by
// Options.Strict (mockbank -strict); lenient is the default:
//
//   - items[].unallocated is "(boolean, required)" in the reference's field
//     list, yet its own sample and the guide leave it out of named items:
//     leniently an absent flag is false; strictly it is required (400), so
//     the reference's sample request is refused.
//   - Accept naming neither application/json nor text/csv (the documents
//     say nothing of it): leniently JSON; strictly 400, as the documents
//     list no 406.
//
// # Choices where the documents are silent (our assumptions)
//
// Tokens: POST /v1/auth/token with {"clientId","clientSecret"} returns
// {"accessToken","tokenType":"Bearer","expiresIn"}: an HS256 JWT whose sub is
// the client id and whose "permissions" claim lists the client's permissions,
// fixed at issue. POST needs create-virtual-account; PATCH needs
// update-virtual-account; GETs need read-virtual-account or
// create-virtual-account. A user sees only its own jobs and accounts (404).
//
// When the unallocated flag is true, any names sent are ignored and the
// placeholders are stored; dob and nativeLanguageName are kept.
//
// Reads: GET /v1/virtual-accounts/{virtualAccountNumber} returns one account;
// GET /v1/virtual-accounts?clientReference=R lists the user's accounts with
// that reference as {"items": [...]} (used to reconcile unknown outcomes).
// The account object is the documented one (virtualAccountNumber, bicCode,
// accountHolderName, accountName, currency, balance{amount,currency},
// category) plus clientReference, dob, nativeLanguageName, allocated,
// createdAt, updatedAt (RFC 3339). Account numbers are ten digits.
//
// Job status: {jobId, status, totalItems, processedItems, successfulItems,
// failedItems, createdAt, updatedAt, completedAt}. Results: {jobId, status,
// items: [{index, clientReference, status: "Succeeded"|"Failed",
// virtualAccount, error: {error, message}}]} holding the items processed so
// far. CSV columns: index, clientReference, status, virtualAccountNumber,
// bicCode, accountHolderName, accountName, currency, balanceAmount,
// balanceCurrency, category, errorCode, errorMessage. Accounts as CSV (read,
// list, PATCH): virtualAccountNumber, bicCode, accountHolderName,
// accountName, currency, balanceAmount, balanceCurrency, category,
// clientReference, dob, nativeLanguageName, allocated, createdAt, updatedAt;
// the 202 as CSV: jobId, status, statusUrl, resultUrl.
// DELETE /v1/virtual-accounts/jobs/{jobId} cancels a Pending job (Cancelled,
// nothing created); any later state is 409 CONFLICT.
//
// Allocation (PATCH): fields accountHolderName, accountName, dob,
// nativeLanguageName, clientReference; unknown fields are 400. clientReference
// may change at any time. On an unallocated account an update without names
// changes dob and nativeLanguageName and leaves it unallocated; the update
// that names the customer allocates it and must set both names (not
// "UNALLOCATED"). A changed identity field after the first update is 409
// FIELD_IMMUTABLE; sending the value it already has is accepted, so a
// resent allocation is harmless. An update of clientReference alone is not
// the "first update". 200 returns the account.
//
// Callbacks (the documents give the headers and the two schemes; the body,
// the header formats and the signed bytes are our assumption, the
// reference pointing to a Message Signing guide they do not include): when
// a job with a callbackUrl finishes, the job status JSON is POSTed to it
// with each customHeaders entry as an HTTP header and Bcb-Timestamp (Unix
// seconds), Bcb-Nonce (UUID, fresh for every attempt) and Bcb-Signature
// (base64) over the bytes "<timestamp>.<nonce>.<body>". HMAC-SHA256 keyed by
// the client's Message Signing Secret, without Bcb-Signature-Version; or,
// for a client with response signing enabled, RSA-PSS with SHA-256 (salt
// length = hash length) and Bcb-Signature-Version: rsa-v1. A callback that
// is not answered 2xx is retried up to 3 times with backoff.
//
// # QA admin API (no auth)
//
//	GET    /__admin/accounts[?clientReference=R]  accounts held, and countByReference; each with
//	                                       allocationAttempts: the distinct accountHolderName values
//	                                       identity PATCHes named, accepted or refused
//	GET    /__admin/jobs                          jobs held
//	GET    /__admin/callbacks                     callbacks sent (or dropped), with status and faults
//	GET    /__admin/signing-key?clientId=C        the client's RSA public key (PEM)
//	POST   /__admin/clients                       add a client {id, secret, permissions, signingSecret, rsa}
//	PUT    /__admin/config                        {pendingDelay, processDelay, itemFailureRate,
//	                                               rateLimit, rateBurst}
//	DELETE /__admin/reset                         forget all state and faults
//	/__admin/faults                               fault rules (package fault)
//	/__admin/faults/webhooks                      callback faults (package hook)
//
// # Choices of this implementation
//
// These refine the contract above where it leaves room; none changes it.
//
// Validation: a 400 lists every problem, "; "-separated, top-level fields
// first, then the items in index order. Member names match
// case-insensitively; unknown members of a create body are ignored, but a
// member given twice (differing in case) is a problem. Lengths count
// characters, not bytes. Optional strings sent as "" count as absent; names
// that are blank or the placeholder UNALLOCATED are refused; dob must be
// YYYY-MM-DD. customHeaders keys must be HTTP header names, distinct ignoring
// case, and none of the headers a callback sets (Bcb-*, Content-Type,
// Content-Length, Transfer-Encoding, Host, Connection); values hold no
// control characters. An empty callbackUrl means no callback. A body over 10
// MiB is 413 PAYLOAD_TOO_LARGE, a Content-Type other than application/json
// 415 UNSUPPORTED_MEDIA_TYPE, an unknown route 404 NOT_FOUND and a wrong
// method 405 METHOD_NOT_ALLOWED, all in the error shape.
//
// Order of checks on create: token (401), rate limit (429), permission
// (403), Accept (strict: 400),
// Idempotency-Key format (400), stored key (the stored 202 is returned
// whatever the body), then the body (413, 415, 400). A key must be in the
// 36-character form and compares case-insensitively. The stored response is
// the first 202, byte for byte. Among concurrent requests with one key the
// first to pass validation creates the job; the others get its response.
//
// Tokens: expiresIn is in seconds. A token is 401 when its alg is not HS256,
// its signature, issuer or expiry is wrong, or its subject is no client.
//
// Jobs take the delays and failure rate current when they are created
// (SetConfig and PUT /__admin/config affect later jobs). Items are processed
// in index order, in up to ten slices spread over the process delay. Job
// ids, account numbers (sequential from a seed-derived start) and item
// failures come from the seeded source. A failed item has status "Failed",
// error ITEM_REJECTED and no account. Results show each account as created.
// The job status CSV has the JSON member names as header and one row.
// DELETE needs create-virtual-account and answers 200 with the job status; a
// cancelled job sends no callback.
//
// Reads: GET /v1/virtual-accounts without clientReference is 400.
//
// PATCH: null members count as absent; {} is 400; identity fields sent as ""
// are 400; clientReference "" clears it. Validation (400) comes before the
// lookup (404) and the immutability check (409).
//
// Callbacks: the documents do not say how the provider retries; the mock
// makes 3 attempts in all: the first at once, retries after 100ms and 200ms.
// Each attempt carries a fresh Bcb-Timestamp, Bcb-Nonce and signature over
// the same body; redirects are not followed. Callbacks to one callbackUrl go
// out one at a time, in the order the jobs finished. They pass through the
// webhook faults QA scripts (package hook: drop, duplicate, delay, reorder,
// corrupt signature); rules match a callback by the job status it carries
// (it has no event name). Every callback is recorded, a dropped one too
// (Mock.Callbacks, GET /__admin/callbacks).
//
// Admin: GET /__admin/config reads the configuration; PUT changes only the
// members sent (durations as "250ms" or nanoseconds). POST /__admin/clients
// with "rsa": true generates a 2048-bit key; omitted permissions mean none.
// DELETE /__admin/reset forgets jobs, accounts, keys, callbacks and fault
// rules, stops running jobs and restores the options' configuration and
// seeded sources; clients and the token signing key stay. Request bodies
// are read before the fault injector runs, so a request held by a "hang"
// rule ends as soon as its client gives up.
package batchvamock
