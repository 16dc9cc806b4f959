// Package masterfiat is the adapter for the "master fiat account with
// statuses" provider style (shared/seeds 002): virtual accounts created one
// at a time under a MASTER fiat account, owned by the member or an end user,
// activated asynchronously (CREATED → ACTIVE or ACTIVATION_FAILED), blocked
// and unblocked (BLOCKED → UNBLOCKING → ACTIVE), closed for good (CLOSED),
// and reported by the signed webhook VIRTUAL_ACCOUNT.STATUS_UPDATED.
//
// # Config
//
//	baseUrl             provider base URL, e.g. https://sandbox.fiatrepublic.com (required)
//	clientId            OAuth client id for POST /passport/oauth/token (required unless token is set)
//	clientSecret        OAuth client secret (secret; never logged)
//	scope               OAuth scope requested (default PAYMENTS)
//	token               a static bearer token instead of client credentials (secret)
//	webhookSecret       the Secret Key of the webhook endpoint registered at the provider
//	                    for the gateway's /v1/providers/{name}/webhooks URL (secret); empty =
//	                    no webhooks, status changes are learnt by polling only
//	webhookTolerance    how far a webhook's signed created time may be from now (default 2h)
//	masterFiatAccounts  currency → master fiat account id (fac_...) accounts are created under
//	currencies          accepted currencies (default: the keys of masterFiatAccounts, else GBP, EUR, USD)
//
// Provider accounts a tenant may name: providerParams.masterFiatAccountId chooses a
// provider-side money account, so the adapter implements
// provider.MoneyAccounts. The gateway accepts only the accounts of
// masterFiatAccounts and those the provider block's tenantAccounts list for the
// request's tenant (e.g. tenantAccounts: {tenant-a: [<id>]}); any other is
// refused with 403 account_not_allowed before anything is sent.
//
// # From the document
//
// The Virtual Account object and its fields, the statuses and their
// meaning (CREATED until bank details are assigned, ACTIVE, ACTIVATION_FAILED,
// BLOCKED, UNBLOCKING, CLOSED terminal), owner MEMBER or END_USER, metadata
// typed as a string "in JSON key:value format", routingCodes typed as an
// object {type, value} of SORT_CODE, ABA or WIRE, and the webhook event
// VIRTUAL_ACCOUNT.STATUS_UPDATED. Nothing else: no endpoint, request body,
// error shape, authentication or webhook signature. Everything under #
// Choices that touches the wire is our assumption, shared with
// mocks/masterfiatmock, and unproven against the real provider.
//
// # Choices
//
// Wire (our assumption): POST /api/v1/virtual-accounts {masterFiatAccountId,
// currency, endUserId?, label?, metadata?} answers the account (CREATED);
// GET /api/v1/virtual-accounts/{id}; POST .../{id}/block, .../{id}/unblock
// and .../{id}/close (body {reason?, requestedBy?, notes?}, each sent when
// the close has it; none when it has none) answer the account; GET
// /api/v1/virtual-accounts?metadata[vagateReference]=R lists by reference,
// {"data", "nextCursor"}; the same list without a filter, read page by
// page (limit 100, cursor nextCursor), is the Lister that reconciliation
// reads every account through. Authentication is OAuth 2.0 client credentials
// (form-encoded, scope PAYMENTS); a 401 drops the cached token so the next
// call fetches a new one. The adapter never retries.
//
// Readings of the document: metadata is sent as the documented string
// holding a JSON object, and read as that string or as an object;
// routingCodes is read as the documented object and as an array of them
// (the document's "one or more"); bankDetails as an array, one object or
// null.
//
// Mapping an item: currency; masterFiatAccountId from providerParams, else
// masterFiatAccounts[currency]; label from providerParams label, else
// accountName; owner END_USER with endUserId from providerParams, else from
// customerId when it is an end user id (eus_...), else no endUserId (owner
// MEMBER). The provider has no fields for the client reference and the
// account holder name, so they travel in metadata under the reserved keys
// clientReference and accountHolderName, beside the item's own metadata;
// the gateway's own item reference (provider.CreateItem.Reference, never
// the client's clientReference) travels under the reserved key
// vagateReference, and only it is used to look an account up;
// dob and nativeLanguageName are not sent (the end user object holds
// identity at this provider). ValidateParams accepts exactly endUserId,
// masterFiatAccountId and label.
//
// Mapping an account: CREATED → PENDING, ACTIVE → ACTIVE, ACTIVATION_FAILED
// → FAILED, BLOCKED, UNBLOCKING and CLOSED as they are; the raw status is
// kept in providerStatus and the whole object in Raw (served as
// providerData by GET /v1/virtual-accounts/{id}?include=provider: owner type
// and id, businessId and masterFiatAccountId have no unified field).
// label → accountName;
// metadata clientReference and accountHolderName back to their fields (the
// holder name falls back to the bank details'); each bankDetails entry →
// one BankDetails with its routing codes and a type the document does not
// give: IBAN when it has an IBAN, else ACCOUNT_NUMBER; createdAt/updatedAt
// (epoch ms) → times. An unknown status is a malformed answer.
//
// Creates are one account per call (MaxBatch 1). The document has no
// idempotency key, so IdempotentCreate is false, and the Finder (the
// list filter metadata[vagateReference]=R, so a lookup can only find the
// account of the one tenant's item that reference was made for) lets the
// gateway reconcile a create whose outcome is unknown instead of resending
// it. There are no unallocated accounts and no allocation: both are refused
// as unsupported capabilities.
//
// Lifecycle follows the unified contract: blocking a BLOCKED account and
// unblocking an ACTIVE or UNBLOCKING one answer it unchanged; any transition
// the status does not allow (the provider's 409 INVALID_STATUS_TRANSITION,
// e.g. anything after CLOSED) is FailedPrecondition. Unblock answers
// UNBLOCKING; ACTIVE follows by webhook (or the gateway's polling fallback).
//
// Webhooks are verified before anything in them is believed, by a scheme
// the document does not give (our assumption, the mock's): Digest must be the hex SHA-1 of the body,
// Signature-Input exactly fr1=("digest");created=<seconds>, and Signature
// fr1=:<hex>: the HMAC-SHA256, keyed by webhookSecret, of
// "\"digest\": <digest>\n@signature-params: (\"digest\");created=<seconds>",
// compared in constant time; created must be within webhookTolerance of now
// and equal the event's createdAt. The tolerance is wide (2h) because the
// provider retries a webhook for 100 minutes with the original signature; a
// replay inside it is harmless, since every event is a full snapshot and the
// gateway ignores one older than the account it holds. The provider's
// scheme signs the body's SHA-1 digest, not the body itself: that is its
// weakness, not the adapter's choice. A VIRTUAL_ACCOUNT.* event yields one
// account update whose At is the account's updatedAt; verified events about
// other objects yield nothing.
package masterfiat
