package bank

// Pool is the state of one unallocated pool: a tenant's stock of
// UNALLOCATED accounts at one provider in one currency, ready to be claimed.
type Pool struct {
	Provider string `json:"provider"`
	Currency string `json:"currency"`
	// Available counts the UNALLOCATED accounts ready to claim.
	Available int `json:"available"`
	// Claiming counts accounts taken by claims whose allocation is under
	// way (Quarantined included).
	Claiming int `json:"claiming"`
	// Quarantined counts accounts whose allocation outcome is not known
	// yet: tied to their claim, never handed to another, until a read at
	// the provider settles them.
	Quarantined int `json:"quarantined"`
	// QuarantinedAccountIDs lists up to 100 of them.
	QuarantinedAccountIDs []string `json:"quarantinedAccountIds,omitempty"`
	// Claimed counts the accounts allocated through claims since the pool began.
	Claimed int `json:"claimed"`
	// Pending counts the accounts the running replenish job has yet to create.
	Pending int `json:"pending"`
	// ReplenishJobID is the running replenish job, if any.
	ReplenishJobID string `json:"replenishJobId,omitempty"`
	// LowWatermark: a claim that leaves fewer available starts a replenish.
	LowWatermark int `json:"lowWatermark"`
	// Target is what a replenish tops the pool up to (0: never replenished by the gateway).
	Target int `json:"target"`
}
