// Package idempotency stores the responses to requests that carried a public
// Idempotency-Key, so that a retry gets the first response back instead of
// doing the work twice.
//
// A Store hands out at most one Claim per (scope, key). The owner of a claim
// runs the request and then either Completes it with the response (which is
// kept for Options.TTL, 24h by default) or Releases it so that a retry can
// run. A claim that is neither completed nor released expires after
// Options.ClaimTTL (5 min by default), so a crashed owner cannot hold a key
// forever; its late Complete then fails with ErrClaimLost.
//
// Two implementations pass the same contract suite (package idempotencytest):
// Memory, for one process, and Redis, shared by any number of gateway
// instances.
//
// # Redis layout
//
// Each (scope, key) is one Redis string:
//
//	{<prefix>:<scope>}:idem:<key>
//
// The braces are a Redis Cluster hash tag, so every key of one scope lives in
// one hash slot; '{', '}' and '%' in the scope are percent-encoded so they
// cannot end the tag early. The prefix is Options.Prefix ("vagate"). The value
// is either
//
//	claim\n<owner token>\n<fingerprint>      (SET NX PX ClaimTTL)
//	record2\n<Record, binary>                (written by Complete, PX TTL)
//
// The binary layout is in encodeRecord. Begin also reads records written
// as record\n<JSON of Record> by earlier versions.
//
// Begin is one SET NX GET, so claiming and reading the current state is
// atomic. Complete and Release are Lua scripts that compare the whole claim
// value (and so the random owner token) before they write or delete.
package idempotency

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"maps"
	"slices"
	"time"
)

// Errors returned by a Store.
var (
	// ErrInFlight: the key is claimed by another request that has not finished.
	ErrInFlight = errors.New("idempotency: key is in flight")
	// ErrFingerprintMismatch: the key was used earlier for a different request.
	ErrFingerprintMismatch = errors.New("idempotency: key reused with a different request")
	// ErrClaimLost: the claim expired or was released and is no longer ours.
	ErrClaimLost = errors.New("idempotency: claim lost")
)

// Default option values.
const (
	DefaultTTL      = 24 * time.Hour
	DefaultClaimTTL = 5 * time.Minute
	DefaultPrefix   = "vagate"
)

// Record is a stored response.
type Record struct {
	Status      int                 `json:"status"`
	Header      map[string][]string `json:"header,omitempty"`
	Body        []byte              `json:"body,omitempty"`
	Fingerprint string              `json:"fingerprint"`
	CreatedAt   time.Time           `json:"createdAt"`
}

// clone returns a deep copy of r.
func (r *Record) clone() *Record {
	if r == nil {
		return nil
	}
	c := *r
	if r.Header != nil {
		c.Header = make(map[string][]string, len(r.Header))
		for k, v := range maps.All(r.Header) {
			c.Header[k] = slices.Clone(v)
		}
	}
	c.Body = slices.Clone(r.Body)
	return &c
}

// Claim is the exclusive right to run the request of one (scope, key).
type Claim struct {
	Scope       string
	Key         string
	Fingerprint string
	token       string
}

// Store keeps claims and completed records. Implementations are safe for
// concurrent use.
type Store interface {
	// Begin claims (scope,key) for fingerprint. Exactly one of: a Claim (you own it and must Complete or Release),
	// the stored *Record (completed earlier, same fingerprint), ErrInFlight (claimed by someone else, not complete),
	// ErrFingerprintMismatch (claimed or completed with a different fingerprint).
	Begin(ctx context.Context, scope, key, fingerprint string) (*Claim, *Record, error)
	// Complete stores rec for the claim if the claim is still ours, else returns ErrClaimLost.
	Complete(ctx context.Context, c *Claim, rec *Record) error
	// Release drops our claim (request failed in a retryable way) so a retry can run.
	Release(ctx context.Context, c *Claim) error
}

// Options tune a Store; nil or zero fields take the defaults.
type Options struct {
	// TTL is how long a completed record is kept (default 24h).
	TTL time.Duration
	// ClaimTTL is how long an unfinished claim holds its key (default 5 min).
	ClaimTTL time.Duration
	// Prefix starts every Redis key (default "vagate"); Memory ignores it.
	Prefix string
}

func (o *Options) withDefaults() Options {
	var r Options
	if o != nil {
		r = *o
	}
	if r.TTL <= 0 {
		r.TTL = DefaultTTL
	}
	if r.ClaimTTL <= 0 {
		r.ClaimTTL = DefaultClaimTTL
	}
	if r.Prefix == "" {
		r.Prefix = DefaultPrefix
	}
	return r
}

// newToken returns a random owner token.
func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// errNilClaim is returned by Complete and Release for a nil claim.
var errNilClaim = errors.New("idempotency: nil claim")

// newRecord copies rec for storage under claim c.
func newRecord(c *Claim, rec *Record, now time.Time) *Record {
	r := rec.clone()
	if r == nil {
		r = &Record{}
	}
	r.Fingerprint = c.Fingerprint
	if r.CreatedAt.IsZero() {
		r.CreatedAt = now
	}
	return r
}
