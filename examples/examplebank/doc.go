// Package examplebank is a worked example of a provider adapter, and the
// test fixture that proves the seam: a whole provider style in two packages
// outside core/ (this adapter and its wire-level mock, package
// examplebankmock), one driver value and one config block.
//
// The provider is deliberately small: POST /v1/accounts creates one account
// per call and honours an Idempotency-Key header; GET /v1/accounts/{id}
// reads one back. Requests carry "Authorization: Bearer <apiKey>". Errors
// are {"error": {"code", "message"}}. The wire contract is that of package
// examplebankmock.
//
// The gateway lists this style only when built with the vagate_example tag
// (cmd/gateway/drivers_example.go): the product binary ships no example.
//
// # Config
//
//	baseUrl     provider base URL (required)
//	apiKey      API key, sent as "Authorization: Bearer <apiKey>" (required; secret, never logged)
//	currencies  accepted currencies (default EUR, GBP)
//
// For example:
//
//	providers:
//	  - name: examplebank
//	    style: examplebank
//	    config: {baseUrl: "https://api.examplebank.test", apiKey: "${EXAMPLEBANK_API_KEY}"}
//
// # Choices
//
// Unified item → provider body: accountHolderName is holderName (at most
// 140 characters), accountName is name (140), clientReference is reference
// (64); Capabilities declares these limits, so the gateway checks them
// before anything is sent. dob, nativeLanguageName, customerId and metadata
// have no provider field and are not sent; the adapter takes no
// providerParams.
//
// Duplicates. The provider creates one account per call (MaxBatch 1) and
// deduplicates by Idempotency-Key (IdempotentCreate): item i of a request is
// sent with ItemKey(request key, i), a UUID derived from the gateway's key,
// so a resend of the same request never creates a second account, and the
// portable layer may resend a create whose outcome is unknown. A key sent
// again with a different body is refused (422). Given several items, the
// adapter creates them in order: a refused item fails alone, any other
// failure ends the call and the items after it are reported not sent
// (Unavailable).
//
// Provider → unified account. status OPEN is ACTIVE, CLOSED is CLOSED, and
// any other is PENDING; providerStatus keeps the raw status. The account
// number is one bankDetails entry {type ACCOUNT_NUMBER, bankName
// "Example Bank", accountHolderName, accountNumber}. The raw provider object
// is kept. Accounts are created ACTIVE; the provider has no unallocated
// accounts, allocation, block, close, lookup by reference or callbacks, and
// Capabilities declares none. Errors follow provider.ClassifyHTTP.
package examplebank
