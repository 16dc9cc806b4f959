// Package masterfiatmock is a stateful, in-memory server of the "master fiat
// account with statuses" provider style (shared/seeds 002), faithful to its
// document: the Virtual Account object field for field, asynchronous
// activation, the statuses CREATED, ACTIVE, ACTIVATION_FAILED, BLOCKED,
// UNBLOCKING (the document's breaking change) and CLOSED, and the webhook
// VIRTUAL_ACCOUNT.STATUS_UPDATED. It is an http.Handler, so the same code runs
// under httptest and in cmd/mockbank.
//
// # Wire contract (from the document)
//
// The Virtual Account object: id (vac_...), masterFiatAccountId (fac_...),
// status, currency (ISO 4217), owner {type MEMBER|END_USER, id mbr_...|eus_...},
// businessId (biz_...), label, bankDetails [{bankName, accountHolderName,
// country (ISO 3166-1 alpha-2), iban, bic, accountNumber, routingCodes
// {type SORT_CODE|ABA|WIRE, value}}], createdAt and updatedAt (epoch
// milliseconds), metadata (typed string, "Additional data in JSON key:value
// format": a string holding a JSON object of string values, or null).
//
// Creation is asynchronous: a new account is CREATED and becomes ACTIVE once
// bank details are assigned (after the activation delay), or
// ACTIVATION_FAILED. BLOCKED accounts pass through UNBLOCKING back to
// ACTIVE. CLOSED is terminal. The provider may block an account itself for
// compliance reasons (here: the admin API, POST
// /__admin/accounts/{id}/block). Clients learn of status changes by the
// webhook event VIRTUAL_ACCOUNT.STATUS_UPDATED.
//
// That is all the document says: it gives the object and its statuses, no
// endpoint, request, error shape or webhook signature.
//
// # Strict and lenient
//
// Where the document is ambiguous the mock has two readings, chosen by
// Options.Strict (mockbank -strict); lenient is the default:
//
//   - metadata in a create: strictly only the documented string holding a
//     JSON object; leniently the object itself too. The account always
//     shows the string.
//
// Two more readings are options of their own, the same in both modes:
//
//   - routingCodes is typed object but described as "one or more routing
//     codes": the mock shows the object of the account's first code (a US
//     account's ABA, not its WIRE code); Options.RoutingCodesArray shows
//     every code as an array instead.
//   - bankDetails is typed "array of strings" but described by
//     sub-attributes: the mock shows an array of objects.
//
// # Choices where the document is silent (our assumptions)
//
// Everything below is the mock's choice: what the real provider most likely
// does, not what its document says. A green run against the mock proves
// nothing about it.
//
// Authentication is OAuth 2.0 client credentials: POST /passport/oauth/token,
// form-encoded grant_type=client_credentials, scope=PAYMENTS, client_id,
// client_secret (HTTP Basic client authentication and a JSON body are also
// accepted) answers {"access_token", "token_type": "bearer", "expires_in":
// 3599}; errors are RFC 6749 {"error", "error_description"} (400
// unsupported_grant_type / invalid_scope / invalid_request, 401
// invalid_client). Every /api route needs "Authorization: Bearer <token>",
// else 401 UNAUTHORIZED. Tokens are opaque.
//
//	POST   /api/v1/virtual-accounts                 create (201, status CREATED)
//	GET    /api/v1/virtual-accounts/{id}            one account
//	GET    /api/v1/virtual-accounts                 list: filters masterFiatAccountId, endUserId,
//	                                                status, currency, metadata[key]=value;
//	                                                limit 1..100 (default 20), cursor;
//	                                                {"data": [...], "nextCursor": id|null}
//	POST   /api/v1/virtual-accounts/{id}/block      ACTIVE → BLOCKED (BLOCKED: 200 unchanged)
//	POST   /api/v1/virtual-accounts/{id}/unblock    BLOCKED → UNBLOCKING → ACTIVE after the
//	                                                unblock delay (ACTIVE, UNBLOCKING: 200 unchanged)
//	POST   /api/v1/virtual-accounts/{id}/close      any status but CLOSED and ACTIVATION_FAILED
//	                                                → CLOSED; optional body {reason?, requestedBy?,
//	                                                notes?} (kept: Mock.Closure)
//	GET    /api/v1/fiat-accounts[/{id}]             the master fiat accounts (tag MASTER)
//	POST   /api/v1/webhooks                         {url, events[], description?, metadata?} → 201
//	                                                with secretKey (shown only here)
//	GET    /api/v1/webhooks                         registered webhooks, without secrets
//	DELETE /api/v1/webhooks/{id}                    unregister (204)
//
// Create body: masterFiatAccountId (required, an existing master fiat
// account), currency (required, must equal the master account's), endUserId
// (optional, an existing end user: owner END_USER; absent: owner MEMBER, the
// client's member), label (optional, non-blank, ≤ 255 characters), metadata
// (optional: a string holding a JSON object, see # Strict and lenient, of ≤
// 50 string values, keys 1..40 characters, values ≤ 500 characters). Unknown members and malformed values are 400 VALIDATION_ERROR
// listing every problem; an unknown master fiat account, end user, or a
// currency mismatch is 422 (FIAT_ACCOUNT_NOT_FOUND, END_USER_NOT_FOUND,
// CURRENCY_MISMATCH). The document has no idempotency key, so none is read:
// clients reconcile through the list filter metadata[key]=value.
//
// A lifecycle call the status does not allow (block from CREATED or
// UNBLOCKING, unblock from CREATED, anything on CLOSED or ACTIVATION_FAILED
// but reading) is 409 INVALID_STATUS_TRANSITION. Block and unblock take no
// body ({} is accepted).
//
// Errors are {"code", "message", "errors"?: [{"field", "message"}]} with 400
// VALIDATION_ERROR, 401 UNAUTHORIZED, 404 NOT_FOUND, 405 METHOD_NOT_ALLOWED,
// 409 INVALID_STATUS_TRANSITION, 413 PAYLOAD_TOO_LARGE (over 1 MiB), 415
// UNSUPPORTED_MEDIA_TYPE, 422 as above; injected faults use the same shape.
//
// Bank details, assigned at activation, follow the master fiat account's
// country: GB gets an 8-digit accountNumber, a SORT_CODE routing code, a GB
// IBAN and a BIC; DE, DK and LU an IBAN and a BIC; US a 12-digit accountNumber
// and ABA and WIRE routing codes (a valid ABA check digit). IBANs carry valid
// check digits. accountHolderName is the end user's name for END_USER
// accounts, else the master account's holder name. Ids are a prefix and 18
// characters [a-z0-9] from the seeded source. updatedAt increases strictly
// with every change, across all accounts.
//
// # Webhooks
//
// The document names one event, VIRTUAL_ACCOUNT.STATUS_UPDATED, and
// nothing of its delivery; everything else here is our assumption. An event
// is POSTed to every ENABLED webhook subscribed to it as {"id": "evt_...",
// "event", "data": <Virtual Account at the change>, "previousValues":
// {"status": old}, "createdAt": <the account's updatedAt>}. The mock emits
// VIRTUAL_ACCOUNT.CREATED on creation and VIRTUAL_ACCOUNT.STATUS_UPDATED on
// every status change; a webhook may subscribe to any of six
// VIRTUAL_ACCOUNT events (the others are never sent).
//
// Signatures (our assumption: the HTTP Message Signatures draft, label
// fr1): Digest is the hex SHA-1 of the body;
// Signature-Input is fr1=("digest");created=<event createdAt in Unix
// seconds>; Signature is fr1=:<hex HMAC-SHA256>: keyed by the webhook's secret
// over the signature base
//
//	"digest": <Digest>
//	@signature-params: ("digest");created=<seconds>
//
// (see Sign and SignatureBase). Each webhook's events are delivered one at a
// time, in the order they happened; a delivery not answered 2xx is retried
// up to 3 attempts in all, after 100ms and 200ms (the document does not say
// how the provider retries; this is the mock's choice), with the same
// headers, since the signature is bound to the event's createdAt. Removing
// a webhook drops its undelivered events.
//
// # QA admin API (no auth)
//
//	GET    /__admin/accounts[?clientReference=R]  accounts held, count, and countByReference
//	                                              (metadata clientReference = R)
//	POST   /__admin/accounts                      drift: an account no client asked for {currency,
//	                                              status? (ACTIVE), label?, metadata?, createdAt?
//	                                              (epoch ms)}, with bank details, no webhook
//	PATCH  /__admin/accounts/{id}                 drift: change {status?, label?, accountHolderName?}
//	                                              behind the client's back (no webhook)
//	DELETE /__admin/accounts/{id}                 drift: the provider loses the account
//	POST   /__admin/accounts/{id}/block           block as the provider does for compliance:
//	                                              ACTIVE or UNBLOCKING → BLOCKED, with the webhook
//	GET    /__admin/fiat-accounts                 master fiat accounts
//	POST   /__admin/fiat-accounts                 seed one {id?, currency, country?, label?,
//	                                              bankName?, accountHolderName?}
//	GET    /__admin/end-users                     end users
//	POST   /__admin/end-users                     seed one {id?, name}
//	GET    /__admin/webhooks                      registered webhooks with their secrets
//	GET    /__admin/webhooks/deliveries           every delivery: event, account, status carried,
//	                                              fault, attempts, last HTTP status, headers, body
//	GET    /__admin/config                        {activationDelay, unblockDelay, activationFailureRate}
//	PUT    /__admin/config                        change the members sent ("200ms" or ns);
//	                                              activationFailureRate 1 fails every activation
//	DELETE /__admin/reset                         forget accounts, deliveries, webhook faults and
//	                                              fault rules; restore the configuration and seeded
//	                                              sources (clients, tokens, fiat accounts, end users
//	                                              and webhooks are kept)
//	/__admin/faults                               HTTP fault rules of the API routes (package fault)
//	/__admin/faults/webhooks                      webhook faults (package hook); also served at
//	                                              /__admin/webhooks/faults
//
// Webhook faults (package hook): rates that apply to every delivery
// {dropRate, duplicateRate, reorderRate, corruptRate, delay, jitter,
// maxHold} and rules {action: drop|duplicate|delay|reorder|corrupt, event?,
// status?, rate?, times?, delay?} that match deliveries by event name and
// the account status they carry: PUT {"rules": [...]} to either path. Drop
// records the delivery as dropped and sends nothing, duplicate sends it
// twice in a row, delay holds it for delay while the webhook's later events
// overtake it (out of order), reorder holds it until the webhook's next
// event has gone out, corrupt signs it over another body. The first
// matching rule that fires applies; random choices come from the seeded
// source, so a run is reproducible for a seed and event order.
//
// Configuration changes apply to transitions scheduled afterwards. Request
// bodies are read before the fault injector runs, so a request held by a
// "hang" rule ends as soon as its client gives up.
package masterfiatmock
