package provider

import (
	"errors"
	"sync"
	"time"
)

// TokenCache keeps an access token until shortly before it expires, for
// adapters whose provider issues bearer tokens. It is safe for concurrent use.
type TokenCache struct {
	// Now is the clock (default time.Now).
	Now func() time.Time

	mu    sync.Mutex
	token string
	until time.Time
}

// DefaultTokenTTL is assumed when a provider does not say how long a token lives.
const DefaultTokenTTL = 5 * time.Minute

// Get returns the cached token, or calls fetch for a new one and keeps it
// for nine tenths of the lifetime fetch reports (DefaultTokenTTL if none).
func (c *TokenCache) Get(fetch func() (token string, ttl time.Duration, err error)) (string, error) {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	c.mu.Lock()
	if c.token != "" && now().Before(c.until) {
		t := c.token
		c.mu.Unlock()
		return t, nil
	}
	c.mu.Unlock()
	t, ttl, err := fetch()
	if err != nil {
		return "", err
	}
	if t == "" {
		return "", &MalformedError{Op: "token", Err: errors.New("the provider issued an empty access token")}
	}
	if ttl <= 0 {
		ttl = DefaultTokenTTL
	}
	c.mu.Lock()
	c.token, c.until = t, now().Add(ttl*9/10)
	c.mu.Unlock()
	return t, nil
}

// Drop forgets the token, after the provider refused it.
func (c *TokenCache) Drop() {
	c.mu.Lock()
	c.token = ""
	c.mu.Unlock()
}
