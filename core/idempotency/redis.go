package idempotency

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a Store shared by every gateway instance that uses the same Redis
// (standalone, Sentinel or Cluster). The key layout is in the package doc.
type Redis struct {
	c    redis.UniversalClient
	opts Options
}

var _ Store = (*Redis)(nil)

// NewRedis returns a Store over client. It needs Redis 7 or later (SET NX GET).
func NewRedis(client redis.UniversalClient, opts *Options) *Redis {
	return &Redis{c: client, opts: opts.withDefaults()}
}

const (
	claimTag = "claim\n"
	// recordTag starts a record in JSON, the layout before recordV2Tag.
	recordTag = "record\n"
)

var scopeEscaper = strings.NewReplacer("%", "%25", "{", "%7B", "}", "%7D")

// Key returns the Redis key that holds (scope, key).
func (s *Redis) Key(scope, key string) string {
	return "{" + s.opts.Prefix + ":" + scopeEscaper.Replace(scope) + "}:idem:" + key
}

func claimValue(c *Claim) string { return claimTag + c.token + "\n" + c.Fingerprint }

// completeScript replaces our claim with the record in one step.
var completeScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0`)

// releaseScript deletes our claim, and only ours.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)

// Begin claims (scope, key) or reports why it cannot; see Store.
func (s *Redis) Begin(ctx context.Context, scope, key, fingerprint string) (*Claim, *Record, error) {
	c := &Claim{Scope: scope, Key: key, Fingerprint: fingerprint, token: newToken()}
	old, err := s.c.SetArgs(ctx, s.Key(scope, key), claimValue(c), redis.SetArgs{
		Mode: "NX", Get: true, TTL: s.opts.ClaimTTL,
	}).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return c, nil, nil // nothing was there: the claim is ours
	case err != nil:
		return nil, nil, fmt.Errorf("idempotency: begin: %w", err)
	}
	switch {
	case strings.HasPrefix(old, claimTag):
		parts := strings.SplitN(old[len(claimTag):], "\n", 2)
		if len(parts) != 2 {
			return nil, nil, errors.New("idempotency: begin: corrupt claim")
		}
		if parts[1] != fingerprint {
			return nil, nil, ErrFingerprintMismatch
		}
		return nil, nil, ErrInFlight
	case strings.HasPrefix(old, recordV2Tag):
		rec, err := decodeRecord(old[len(recordV2Tag):])
		if err != nil {
			return nil, nil, fmt.Errorf("idempotency: begin: %w", err)
		}
		if rec.Fingerprint != fingerprint {
			return nil, nil, ErrFingerprintMismatch
		}
		return nil, rec, nil
	case strings.HasPrefix(old, recordTag):
		var rec Record
		if err := json.Unmarshal([]byte(old[len(recordTag):]), &rec); err != nil {
			return nil, nil, fmt.Errorf("idempotency: begin: corrupt record: %w", err)
		}
		if rec.Fingerprint != fingerprint {
			return nil, nil, ErrFingerprintMismatch
		}
		return nil, &rec, nil
	}
	return nil, nil, errors.New("idempotency: begin: unrecognised value")
}

// Complete stores rec under c's key for TTL if c still owns it.
func (s *Redis) Complete(ctx context.Context, c *Claim, rec *Record) error {
	if c == nil {
		return errNilClaim
	}
	b := encodeRecord(nil, newRecord(c, rec, time.Now()))
	n, err := completeScript.Run(ctx, s.c, []string{s.Key(c.Scope, c.Key)},
		claimValue(c), b, max(s.opts.TTL.Milliseconds(), 1)).Int()
	if err != nil {
		return fmt.Errorf("idempotency: complete: %w", err)
	}
	if n != 1 {
		return ErrClaimLost
	}
	return nil
}

// Release drops c if it still owns its key.
func (s *Redis) Release(ctx context.Context, c *Claim) error {
	if c == nil {
		return errNilClaim
	}
	n, err := releaseScript.Run(ctx, s.c, []string{s.Key(c.Scope, c.Key)}, claimValue(c)).Int()
	if err != nil {
		return fmt.Errorf("idempotency: release: %w", err)
	}
	if n != 1 {
		return ErrClaimLost
	}
	return nil
}
