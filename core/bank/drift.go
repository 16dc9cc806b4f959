package bank

import "time"

// DriftKind names one way the gateway's records and a provider's disagree.
type DriftKind string

// Drift kinds.
const (
	// DriftUnknownAtGateway: the provider holds an account the gateway has
	// no record of.
	DriftUnknownAtGateway DriftKind = "unknown_at_gateway"
	// DriftMissingAtProvider: the gateway holds an account the provider
	// no longer has.
	DriftMissingAtProvider DriftKind = "missing_at_provider"
	// DriftStatusMismatch: the provider reports another status than the
	// gateway's record.
	DriftStatusMismatch DriftKind = "status_mismatch"
	// DriftIdentityMismatch: the provider reports other identity fields
	// (holder, name, currency, bank details) than the gateway's record.
	DriftIdentityMismatch DriftKind = "identity_mismatch"
)

// DriftAction is what reconciliation did about a drift.
type DriftAction string

// Drift actions.
const (
	// DriftRepaired: the gateway's record caught up with the provider
	// (a status, through the accounts service).
	DriftRepaired DriftAction = "repaired"
	// DriftAdopted: an account unknown to the gateway was recorded under
	// the quarantine tenant.
	DriftAdopted DriftAction = "adopted"
	// DriftReported: not safe to repair by itself; only reported.
	DriftReported DriftAction = "reported"
)

// Drift is one disagreement between the gateway's record of an account and
// its provider's, with both sides as they were found.
type Drift struct {
	Kind              DriftKind `json:"kind"`
	Provider          string    `json:"provider"`
	ProviderAccountID string    `json:"providerAccountId"`
	// AccountID is the gateway's account id (for an adopted account, the
	// id it was recorded under).
	AccountID string `json:"accountId,omitempty"`
	// Fields names the fields that differ (status and identity mismatches).
	Fields []string `json:"fields,omitempty"`
	// Gateway is the gateway's record when the drift was found (absent when
	// the gateway had none).
	Gateway *Account `json:"gateway,omitempty"`
	// AtProvider is the provider's account (absent when it has none).
	AtProvider *Account    `json:"atProvider,omitempty"`
	Action     DriftAction `json:"action"`
	// Error says why a repair the drift called for failed (Action is then
	// DriftReported).
	Error      string    `json:"error,omitempty"`
	DetectedAt time.Time `json:"detectedAt"`
}
