// Package parentprimarymock is a stateful, in-memory server of the "parent
// primary account" provider style (shared/seeds 003): virtual accounts
// created under an existing primary (parent) account of the same currency,
// with signed requests and an idempotency key in the body, and deleted with
// a reason. It is an http.Handler, so the same code runs under httptest and
// in cmd/mockbank.
//
// # Wire contract (from the document)
//
//	POST   /v1/partner/accounts/virtual              create a virtual account (200)
//	DELETE /v1/partner/accounts/virtual/{accountId}  delete a virtual account (200, no content)
//
// Create body: customerId (UUID), idempotencyKey (UUID), parentAccountId
// (UUID), productCode (e.g. FIAT_ACCOUNT_UK_V1), all required, and
// productParameters (object or null, optional). The answer is the account:
// id, partnerId, externalReference, primaryAccountId, type "VIRTUAL",
// currencyCode, createDate, state, customerId, productCode. A virtual
// account needs an existing primary account of the partner; it takes the
// parent's currency.
//
// Delete body: idempotencyKey (UUID), requestedBy, reason, notes; all four
// members are required, notes may be null. The answer is 200 with no body.
//
// The document lists four request headers and marks every one Optional:
// authorization (the API token), x-alg-nonce (the nonce of the payload
// signature), x-alg-signature (the payload signature) and date (of the
// request, in UTC/GMT). It says funds move between a virtual account and its
// parent and between virtual accounts of one parent, and gives no endpoint
// for it.
//
// # Strict and lenient
//
// Where the document is ambiguous the mock has two readings, chosen by
// Options.Strict (mockbank -strict); lenient is the default, as the
// document marks the headers Optional:
//
//   - lenient: a request without authorization acts for the first partner
//     of Options.Partners; one without all three of date, x-alg-nonce and
//     x-alg-signature is unsigned and accepted. A header that is sent is
//     checked all the same, and a signature is never accepted in part.
//   - strict: all four headers are required, as a provider that signs
//     requests surely requires them.
//
// # Choices where the document is silent (our assumptions)
//
// Signing. authorization is "Bearer <API token>" and names the partner.
// date is an HTTP date (RFC 7231 IMF-fixdate, e.g. "Wed, 01 Jan 2025
// 00:00:00 GMT") within ±5 minutes of the mock's clock. x-alg-nonce is 16 to
// 128 visible ASCII characters (a UUID fits), never reused by a partner
// within 10 minutes. x-alg-signature is standard base64 of HMAC-SHA256, keyed
// by the partner's signing secret, over
//
//	METHOD "\n" REQUEST-TARGET "\n" DATE "\n" NONCE "\n" hex(sha256(BODY))
//
// where METHOD is upper case, REQUEST-TARGET the path and query exactly as on
// the request line (e.g. /v1/partner/accounts/virtual), DATE and NONCE the
// header values, and BODY the exact body bytes (none for a GET: the hash of
// zero bytes). See StringToSign and Sign. Checks run in this order, each a
// 401 with its own code: token (UNAUTHORIZED), date (REQUEST_EXPIRED), nonce
// format (INVALID_NONCE), signature (INVALID_SIGNATURE), nonce reuse
// (NONCE_REUSED). A nonce is remembered only once its signature is good.
//
// Reads. GET /v1/partner/accounts/virtual/{accountId} returns the account
// (signed like every request; the body hash is of zero bytes). Deleted
// accounts stay readable with state DELETED. Another partner's account is
// 404 ACCOUNT_NOT_FOUND.
//
// States. PENDING while a new account is provisioned (Options.ReadyDelay,
// default none: accounts are READY at once, as the document's 200 example
// shows), READY, BLOCKED (a compliance hold, set only through the admin API),
// DELETED (terminal).
//
// Account object. Beyond the documented members the mock returns
// productParameters as sent (null when absent) and availableBalance (a
// decimal string with two decimals, "0.00" for a new account). createDate is
// RFC 3339 in UTC. externalReference is the idempotencyKey the account was
// created with (the document types it as a UUID but gives no request member
// for it). partnerId is the authenticated partner's id.
//
// Products. productCode names a product of the catalogue, which fixes the
// currency: FIAT_ACCOUNT_UK_V1 GBP, FIAT_ACCOUNT_EU_V1 EUR, FIAT_ACCOUNT_US_V1
// USD (Options.Products replaces it). A product whose currency differs from
// the parent's is 422 CURRENCY_MISMATCH; an unknown one 422
// UNKNOWN_PRODUCT_CODE; a parent that is missing, not a primary account or
// another partner's is 422 PARENT_ACCOUNT_NOT_FOUND. productCode matches
// ^[A-Z][A-Z0-9_]{0,63}$; productParameters holds at most 50 members of any
// JSON type.
//
// Idempotency. Keys are per partner. A create with a known key and the same
// customerId, parentAccountId, productCode and productParameters (member
// order ignored) returns the account it created, as it is now; with anything
// else it is 409 IDEMPOTENCY_KEY_REUSED. A delete with a known key of the
// same account is 200 again, whatever its other members; of another account
// 409 IDEMPOTENCY_KEY_REUSED. A delete with a new key of a deleted account is
// 409 ACCOUNT_DELETED. Concurrent requests with one key create or delete once.
//
// Funds. Money moves between a virtual account and its parent and between
// virtual accounts of one parent (the document's three kinds), through the
// admin API only: the document names the movements but no endpoint, so
// neither the mock's API nor the adapter offers one, and a green run proves
// nothing about transfers. Balances are kept in minor units with two
// decimals. A virtual account holding funds cannot be deleted: 409
// BALANCE_NOT_ZERO. Left out, as the document gives no API for them:
// transaction history and statements, pending or held funds, deposits from
// outside (primary accounts get an opening balance), fees, interest and
// currencies with other than two decimals.
//
// Errors are {"code": CODE, "message": text, "errors": [{"field","message"}]}
// ("errors" only on 400): 400 VALIDATION_ERROR listing every bad member
// (unknown members are refused), 401 as above, 404 ACCOUNT_NOT_FOUND, 409 and
// 422 as above, 413 PAYLOAD_TOO_LARGE over 1 MiB, 415 UNSUPPORTED_MEDIA_TYPE
// for a Content-Type other than JSON, 404 NOT_FOUND and 405
// METHOD_NOT_ALLOWED for unknown routes. Authentication runs before the body
// is validated. Injected faults answer in the same shape.
//
// # QA admin API (no auth)
//
//	GET    /__admin/accounts[?clientReference=&externalReference=&customerId=&state=]
//	                                         virtual accounts (with deletion details) and their count;
//	                                         clientReference is productParameters.clientReference
//	GET    /__admin/accounts/{id}            one virtual account
//	PUT    /__admin/accounts/{id}/state      {"state": "BLOCKED" | "READY"}
//	DELETE /__admin/accounts/{id}            drift: the provider loses the account (reads 404)
//	GET    /__admin/primary-accounts         primary accounts with balances
//	POST   /__admin/primary-accounts         seed one {id?, partnerId?, currencyCode, balance?} (201)
//	GET    /__admin/transfers                transfers made
//	POST   /__admin/transfers                {fromAccountId, toAccountId, amount} (201)
//	POST   /__admin/partners                 add a partner {id, apiToken, signingSecret}
//	PATCH  /__admin/partners/{id}            change {apiToken?, signingSecret?}
//	GET    /__admin/products                 the product catalogue
//	GET    /__admin/config                   {readyDelay, clockOffset, maxSkew}
//	PUT    /__admin/config                   change the members sent ("250ms" or nanoseconds);
//	                                         clockOffset shifts the mock's clock (e.g. "1h" makes
//	                                         every request's date stale)
//	DELETE /__admin/reset                    forget virtual accounts, keys, nonces, transfers,
//	                                         added primary accounts and faults; restore the
//	                                         options' primary accounts, balances and config
//	/__admin/faults                          fault rules (package fault)
//
// The fault injector runs before authentication, so an injected error
// reaches the client whatever its credentials, and drop_response on POST
// /v1/partner/accounts/virtual creates the account and then resets the
// connection. Request bodies are read before the injector runs.
package parentprimarymock
