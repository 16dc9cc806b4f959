// Package subaccountmock is a stateful, in-memory server of the
// "sub-account with settlement" provider (shared/seeds 004), faithful to its
// document: same path, members, limits, states and response shape. It is an
// http.Handler, so the same code runs under httptest and in cmd/mockbank.
//
// # Wire contract (from the document)
//
//	POST /v2/sub-accounts    create an institution or customer sub-account (201)
//
// Body members: classification "institution" or "customer" (required);
// currency, an ISO 4217 code the bank supports (the document names USD, EUR
// and NGN; the mock adds GBP; required); client_reference ≤ 64 characters; settlement_account_id, the
// UUID of one of the institution's main accounts. An institution sub-account
// needs identifier (≤ 64 characters, unique among the institution's
// sub-accounts); a customer sub-account needs customer_id (a UUID).
//
// With settlement_account_id, the account must be a main account (not a
// sub-account) of type VIRTUAL_EXTERNAL in the sub-account's currency, else
// the create is refused. Deposits from external sources to such a
// sub-account are routed to the settlement account, and the payment carries
// on_behalf_of_account_id, the sub-account's id.
//
// The answer is 201 {"data": account} with id, state, created_date,
// updated_date (RFC 3339, seconds, UTC), currency, currency_precision, type
// ("VIRTUAL_EXTERNAL"), name, balance {available, pending},
// deposit_addresses [{type: "NUBAN", data: {nip_code, bank_code, bank_name,
// account_name, account_number}}], settlement_account_id, parent_account_id
// and client_reference (the last three null when absent). state is ACTIVE,
// or PENDING_DEPOSIT_ADDRESS when the deposit address cannot be generated at
// once (deposit_addresses is then []); it becomes ACTIVE when the address is
// generated.
//
// The document's parameter tables have a Required column whose marks its
// published copy lost: which of client_reference and settlement_account_id
// are required is not known (see # Strict and lenient).
//
// # Strict and lenient
//
// Where the document is ambiguous the mock has two readings, chosen by
// Options.Strict (mockbank -strict); lenient is the default:
//
//   - lenient: classification, currency, and identifier (institution) or
//     customer_id (customer) are required; client_reference and
//     settlement_account_id are optional, as the document's own section
//     "With settlement_account_id specified" suggests for the latter.
//   - strict: every parameter the document lists for the classification
//     is required, client_reference and settlement_account_id included.
//
// # Choices where the document is silent (our assumptions)
//
// Authentication: every /v2 request carries "Authorization: Bearer <API
// key>"; a missing or unknown key is 401. Keys come from Options.APIKeys
// (default DefaultAPIKey). The mock serves one institution: every key sees
// every account.
//
// Errors are {"error": {"code", "message", "details": [{"field",
// "message"}]}}, details naming the body members (or query parameters) at
// fault, in document order:
//
//	400 VALIDATION_ERROR            the body or query breaks the rules above (every problem listed)
//	401 UNAUTHORIZED                no or unknown API key
//	404 NOT_FOUND                   unknown sub-account or route
//	405 METHOD_NOT_ALLOWED          known path, other method
//	409 DUPLICATE_IDENTIFIER        an institution sub-account with that identifier exists (field identifier)
//	413 PAYLOAD_TOO_LARGE           body over 1 MiB
//	415 UNSUPPORTED_MEDIA_TYPE      Content-Type other than application/json
//	422 SETTLEMENT_ACCOUNT_INVALID  settlement_account_id is unknown, a sub-account, not
//	                                VIRTUAL_EXTERNAL, or in another currency (field settlement_account_id)
//
// Checks run in that order: key, media type and size, body (400), settlement
// account (422), identifier (409). The body is one JSON object; members
// outside the document are refused (400), null or "" count as absent, and a
// member given twice counts once, the last. Lengths count characters.
// identifier and customer_id are each refused on the other classification.
// client_reference is not unique: QA counts accounts by it to prove the
// gateway never creates twice.
//
// Reads, for the gateway's refresh and reconciliation:
//
//	GET /v2/sub-accounts/{id}                                    200 {"data": account}, or 404
//	GET /v2/sub-accounts?client_reference=R&page=1&per_page=50   200 {"data": [account...], "meta": {page, per_page, total}}
//
// The list is in creation order, filtered by client_reference when the
// parameter is present; page ≥ 1, per_page 1..100 (default 50).
//
// Amounts (balance.available, balance.pending, payment amounts) are integers
// in minor units of the currency: 150000 with currency_precision 2 is
// 1500.00. A sub-account's name is its identifier, or "Customer " and the
// first eight characters of customer_id; its NUBAN account_name is
// "Institution - <name>" or "Customer - <name>"; bank_name, bank_code and
// nip_code are the document's example values for every currency (a Nigerian
// bank numbers domiciliary accounts as NUBANs too); account numbers are ten
// digits, from a seeded counter. parent_account_id is the first main account
// of the sub-account's currency, or null.
//
// Main accounts exist only through the Go API and the admin API: by default
// one VIRTUAL_EXTERNAL account in NGN and one in USD, then the two NGN
// settlement accounts the document's example requests name
// (DefaultMainAccounts), with fixed ids so configurations can name them and
// the document's examples succeed verbatim.
//
// PENDING_DEPOSIT_ADDRESS: when the configured address delay is positive, a
// new sub-account is created in that state and becomes ACTIVE, with its
// address, once the delay has passed (checked on every read; updated_date
// is then the moment it became ACTIVE). The delay is 0 by default; QA sets
// it with PUT /__admin/config. A deposit to a sub-account without an address
// is refused.
//
// # QA admin API (no auth)
//
//	GET    /__admin/accounts[?clientReference=R]   sub-accounts held (with classification,
//	                                               identifier, customer_id), count, countByReference
//	GET    /__admin/accounts/{id}/transactions     payments credited to the account or made on its behalf
//	PATCH  /__admin/accounts/{id}                  drift: change {state?, name?} behind the client's back
//	DELETE /__admin/accounts/{id}                  drift: the provider loses the sub-account (reads 404)
//	GET    /__admin/main-accounts                  main accounts with balances
//	POST   /__admin/main-accounts                  add one {id?, currency, type?, name?} (201)
//	POST   /__admin/deposits                       simulate an inbound deposit {account_id, amount,
//	                                               pending?, reference?, sender_name?} (201 {"data": payment})
//	GET    /__admin/config                         {"addressDelay": "0s"}
//	PUT    /__admin/config                         {"addressDelay": "500ms"}: later creates wait for their address
//	DELETE /__admin/reset                          forget all state and faults; keep the seeded main accounts
//	/__admin/faults                                fault rules (package fault), in front of every /v2 route
//
// A payment is {id, type: "DEPOSIT", state: "COMPLETED" (or "PENDING" for a
// pending deposit), amount, currency, account_id, on_behalf_of_account_id,
// reference, sender_name, created_date}. A deposit to a sub-account with a
// settlement account credits the settlement account (account_id) and names
// the sub-account in on_behalf_of_account_id; without one it credits the
// sub-account itself. A pending deposit adds to the pending balance.
//
// Ids are version 4 UUIDs and account numbers come from sources seeded by
// Options.Seed, so a run repeats for a seed and request order; Reset
// restores them. The mock runs no background work; it is race-free under one
// mutex.
package subaccountmock
