// Package parentprimary is the adapter for the "parent primary account with
// delete" provider style (shared/seeds 003): virtual accounts created one per
// call under an existing primary (parent) account of the same currency, with
// customerId, productCode and an idempotencyKey in the body, every request
// signed, and delete with idempotencyKey, requestedBy, reason and notes.
//
// # Config
//
//	baseUrl         provider base URL (required)
//	apiToken        the partner's API token, sent as "authorization: Bearer <token>" (secret)
//	signingSecret   the HMAC key of request signatures (secret)
//	parentAccounts  currency → primary account id (UUID) new accounts go under,
//	                e.g. {GBP: e0cab2dd-739f-43de-b131-3e423e935bf1}
//	productCodes    currency → productCode (default GBP: FIAT_ACCOUNT_UK_V1, the
//	                document's example; other currencies must be configured or
//	                given per item)
//	currencies      accepted currencies (default: the keys of parentAccounts); a
//	                currency without a configured parent needs the item's
//	                parentAccountId param
//	closeReason     reason sent when a close gives none (default DefaultCloseReason)
//	requestedBy     requestedBy sent when a close names nobody (default "vagate";
//	                the gateway passes the token subject)
//
// Item params (providerParams), checked by ValidateParams before anything is
// sent: parentAccountId (UUID; overrides the configured parent),
// productCode (overrides the configured product) and productParameters.<name>
// (one string member of productParameters). Any other key is refused.
//
// Provider accounts a tenant may name: providerParams.parentAccountId chooses a
// provider-side money account, so the adapter implements
// provider.MoneyAccounts. The gateway accepts only the accounts of
// parentAccounts and those the provider block's tenantAccounts list for the
// request's tenant (e.g. tenantAccounts: {tenant-a: [<id>]}); any other is
// refused with 403 account_not_allowed before anything is sent.
//
// # From the document
//
// POST /v1/partner/accounts/virtual {customerId, idempotencyKey,
// parentAccountId (UUIDs), productCode, productParameters?} answering 200
// with the account (id, partnerId, externalReference, primaryAccountId, type
// VIRTUAL, currencyCode, createDate, state e.g. READY, customerId,
// productCode); DELETE /v1/partner/accounts/virtual/{accountId}
// {idempotencyKey, requestedBy, reason, notes} answering 200 with no
// content; four request headers, authorization, x-alg-nonce,
// x-alg-signature and date, each marked Optional; funds move between a
// virtual account and its parent (no endpoint given). Everything else
// below (the signing string, the read route, the states but READY, the
// error shapes) is our assumption, shared with mocks/parentprimarymock.
// The adapter sends all four headers on every request: a provider that
// documents a payload signature surely checks it (the mock's strict mode).
// partnerId, primaryAccountId, productCode and externalReference have no
// unified field: they are served as providerData (GET
// /v1/virtual-accounts/{id}?include=provider).
//
// # Choices
//
// Signing. Every request carries authorization "Bearer <apiToken>", date (an
// HTTP date in GMT from the adapter's clock), x-alg-nonce (a random UUID per
// request) and x-alg-signature: standard base64 of HMAC-SHA256 keyed by
// signingSecret over
//
//	METHOD "\n" REQUEST-TARGET "\n" DATE "\n" NONCE "\n" hex(sha256(BODY))
//
// with REQUEST-TARGET the path and query as sent (including any path of
// baseUrl) and BODY the exact bytes sent (none for GET). The provider
// accepts dates within ±5 minutes and each nonce once; it answers 401 to a
// bad token, stale date, reused nonce or bad signature, which classifies as
// Unauthenticated (the gateway answers 502 provider_auth_failed). The adapter
// never resends on its own; each call is signed afresh.
//
// Create. The provider makes one account per call, so MaxBatch is 1 and a
// request of several items is sent item by item. Each item's body
// idempotencyKey is a UUID v5 of the request's IdempotencyKey and the item's
// index (ItemKey), so a resend of the same request (after a timeout, a reset
// or a lost response) returns the accounts already made: IdempotentCreate.
// With one item, its failure is the call's error; with several, each item
// carries its own outcome.
//
// Field mapping. customerId is required and must be a UUID (the provider's
// customer who owns the account); a missing or bad one is InvalidArgument at
// /items/<i>/customerId, checked in CreateAccounts since params validation
// does not see it. The document has no name or reference fields, so the
// unified accountHolderName, accountName, clientReference, dob and
// nativeLanguageName travel as string members of productParameters (an open
// object in the document) and are read back from it; those names are
// reserved. externalReference is the provider's (it is the create's
// idempotencyKey at the mock) and is kept only in the raw payload. Metadata
// stays in the gateway. The account's currency is its parent's.
//
// States. READY → ACTIVE, PENDING → PENDING, BLOCKED → BLOCKED, DELETED →
// CLOSED; any other state → PENDING (not known to be usable). The raw state
// is kept in providerStatus. availableBalance, where sent, is the balance.
// The provider documents no bank details, so none are reported.
//
// Reads. GET /v1/partner/accounts/virtual/{id} (not in the document; signed
// like every request) returns the account, deleted ones with state DELETED.
// There is no lookup by client reference, so the adapter is not a Finder:
// unknown creates are resent with the same key instead of reconciled.
//
// Close. DELETE /v1/partner/accounts/virtual/{id} with idempotencyKey,
// requestedBy, reason and notes (null when empty); then the account is read
// back and returned (CLOSED). idempotencyKey is CloseKey of
// provider.CloseReason.IdempotencyKey: that key itself when it is a UUID,
// else a UUID v5 of it, or of the account id when there is none. Through
// the gateway it is always a UUID the gateway derives from the tenant and
// the account (core/accounts), never the client's Idempotency-Key header:
// every close of one account is the same delete at the provider, whatever
// key the client sent (the client's key is answered by the gateway's own
// idempotency, which replays the first answer). A resend with the same key is
// idempotent at the provider; a close of an account deleted before with
// another key (409 ACCOUNT_DELETED) is FailedPrecondition, as is closing an
// account that holds funds (409 BALANCE_NOT_ZERO). If the account can no longer
// be read (404), a CLOSED account holding only its id is returned.
package parentprimary
