// Package subaccount is the adapter for the "sub-account with settlement"
// provider style (shared/seeds 004): POST /v2/sub-accounts creates one
// institution or customer sub-account, optionally settling into a main
// account of the same currency, and answers 201 with its NUBAN deposit
// address, balance and state (ACTIVE, or PENDING_DEPOSIT_ADDRESS until the
// address is generated). The wire contract, including the read routes the
// document leaves open, is that of mocks/subaccountmock.
//
// # Config
//
//	baseUrl             provider base URL (required)
//	apiKey              API key, sent as "Authorization: Bearer <apiKey>" (required; secret, never logged)
//	settlementAccounts  currency → main account id (UUID) to settle into, e.g. {NGN: 5e77...a9a1};
//	                    used for items of that currency that name no settlement account
//	currencies          accepted currencies (default NGN, USD, EUR, GBP); every
//	                    settlementAccounts key must be one of them
//	country             country reported on NUBAN bank details (default NG)
//	balanceUnits        how balance amounts are read: minor (default: integers of minor
//	                    units) or major (decimal amounts of the currency); see # Choices
//
// Provider accounts a tenant may name: providerParams.settlementAccountId chooses a
// provider-side money account, so the adapter implements
// provider.MoneyAccounts. The gateway accepts only the accounts of
// settlementAccounts and those the provider block's tenantAccounts list for the
// request's tenant (e.g. tenantAccounts: {tenant-a: [<id>]}); any other is
// refused with 403 account_not_allowed before anything is sent.
//
// # From the document
//
// POST /v2/sub-accounts with classification, currency, client_reference (≤
// 64), settlement_account_id, and identifier (≤ 64, unique) or customer_id
// (UUID); the 201 answer {"data": account} and its members; states ACTIVE
// and PENDING_DEPOSIT_ADDRESS; settlement into a main account of the same
// currency. Not in it, so our assumption shared with mocks/subaccountmock:
// authentication, the error shape and codes, the read and list routes, the
// unit of balance amounts, and which parameters are required (the
// document's Required column lost its marks).
//
// # Choices
//
// Unified item → provider body. The classification is "customer" when the
// item has a customerId, else "institution"; providerParams.classification
// overrides it. A customer sub-account sends customerId as customer_id, so
// it must be the provider's customer id, a UUID (checked before sending,
// /customerId). An institution sub-account sends providerParams.identifier
// as identifier or, when absent, the gateway's item reference
// (provider.CreateItem.Reference, unique per tenant, job and item): the
// document makes identifier unique, so it must never be a name the client
// may repeat. Two accounts may share names; the same item sent twice is
// refused by the provider as a duplicate identifier (AlreadyExists), a
// second guard against duplicates beside the lookup below. client_reference
// carries the gateway's own item reference (provider.CreateItem.Reference),
// never the client's clientReference: it is the only field the provider
// lists by, and a lookup after an unknown outcome must never find another
// tenant's account. The client's clientReference (still limited to 64
// characters) is kept by the gateway; accounts read back carry
// client_reference as bank.Account.Reference. settlement_account_id is
// providerParams.settlementAccountId, else settlementAccounts[currency],
// else omitted. accountName, accountHolderName, dob, nativeLanguageName and
// metadata have no provider field and are not sent (the gateway keeps customerId and
// metadata itself).
//
// providerParams accepted: classification, identifier, settlementAccountId.
// ValidateParams refuses any other key, a blank or over-long identifier, an
// identifier on a customer sub-account, a settlementAccountId that is not a
// UUID, and — up front, with a 400 naming
// /items/i/providerParams/settlementAccountId — a settlementAccountId that
// the config names as the settlement account of another currency. A
// settlement account unknown to the config is checked by the provider: its
// 422 SETTLEMENT_ACCOUNT_INVALID (and every other refusal whose error
// details name fields: 400 VALIDATION_ERROR, 409 DUPLICATE_IDENTIFIER)
// becomes a *bank.Error whose Fields carry unified pointers relative to the
// item (/providerParams/settlementAccountId, /providerParams/identifier,
// /customerId, /currency, /clientReference) and whose message
// names them (RefusalError), so a job's item error reads e.g. "subaccount:
// create: /providerParams/settlementAccountId (provider field
// settlement_account_id): ...". A refusal of a settlement account taken
// from the config is FailedPrecondition: the client cannot fix it. A
// duplicate identifier is AlreadyExists; other statuses follow
// provider.CodeForStatus.
//
// Provider → unified account. state ACTIVE is ACTIVE; PENDING_DEPOSIT_ADDRESS
// (and any state the document does not name) is PENDING; providerStatus
// keeps the raw state. The provider has no field for the client's names:
// a create answers them as the item gave them, a read reports none (the
// gateway keeps the stored ones), and the provider's own name and
// account_name stay in bankDetails and the raw object. Each
// NUBAN deposit address is a bankDetails entry {type NUBAN, bankName,
// accountHolderName (account_name), accountNumber, country, extra {bankCode,
// nipCode}}; other address types keep their string members.
//
// Balance amounts are an assumption: the document shows only "available":
// 0 beside currency_precision 2, which fits integers of minor units and
// decimal amounts alike. By default (balanceUnits: minor, the mock's
// choice too) they are integers of minor units: 150000 at precision 2 is
// "1500.00", and a fraction is a malformed answer. With balanceUnits: major
// they are decimal amounts: 1500.5 at precision 2 is "1500.50", and more
// places than the precision are a malformed answer. Neither reading rounds;
// the wrong one is off by a factor of 10^precision, so check it against
// the real provider before trusting balances.
//
// The raw provider object is kept and served as providerData (GET
// /v1/virtual-accounts/{id}?include=provider): settlement_account_id,
// parent_account_id, type and the provider's name have no unified field.
// The classification and identifier sent are not in the provider's object
// (in the document's example), and the unified account does not carry them
// either: the classification follows from customerId, the identifier is the
// gateway reference or providerParams.identifier.
//
// Lifecycle. Creates are synchronous (201): the adapter is no Poller. A
// PENDING account becomes ACTIVE at the provider by itself; the provider
// sends no events, so the gateway learns it by reading the account again
// (GET /v1/virtual-accounts/{id}?refresh=true). The provider has no
// unallocated accounts, allocation, block, unblock or close: the adapter
// implements none of those interfaces, and the gateway refuses them as
// capability_not_supported.
//
// Duplicates. The provider takes one account per call (MaxBatch 1) and no
// idempotency key (IdempotentCreate false; CreateRequest.IdempotencyKey is
// not sent). The adapter never retries; a create whose outcome is unknown is
// reconciled by FindByReference, which reads GET
// /v2/sub-accounts?client_reference=R (R the gateway's reference) page by
// page. The same list without client_reference, page by page (per_page
// 50, the cursor the page number), is the Lister reconciliation reads
// every sub-account through (a choice: the document shows only create).
// Given several items, the
// adapter creates them in order: a refused item fails alone, any other
// failure ends the call and the items after it are reported not sent
// (Unavailable).
package subaccount
