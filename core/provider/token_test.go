package provider_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/provider"
)

func TestTokenCache(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	c := &provider.TokenCache{Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }}
	var fetches atomic.Int32
	fetch := func() (string, time.Duration, error) {
		n := fetches.Add(1)
		return "tok-" + string(rune('0'+n)), 100 * time.Second, nil
	}
	if tok, err := c.Get(fetch); err != nil || tok != "tok-1" {
		t.Fatalf("first Get = %q, %v", tok, err)
	}
	mu.Lock()
	now = now.Add(89 * time.Second)
	mu.Unlock()
	if tok, _ := c.Get(fetch); tok != "tok-1" || fetches.Load() != 1 {
		t.Errorf("within 9/10 of the lifetime: %q after %d fetches", tok, fetches.Load())
	}
	mu.Lock()
	now = now.Add(2 * time.Second)
	mu.Unlock()
	if tok, _ := c.Get(fetch); tok != "tok-2" {
		t.Errorf("past 9/10 of the lifetime: %q", tok)
	}
	c.Drop()
	if tok, _ := c.Get(fetch); tok != "tok-3" {
		t.Errorf("after Drop: %q", tok)
	}
	boom := errors.New("boom")
	var empty provider.TokenCache
	if _, err := empty.Get(func() (string, time.Duration, error) { return "", 0, boom }); !errors.Is(err, boom) {
		t.Errorf("fetch error lost: %v", err)
	}
	if _, err := empty.Get(func() (string, time.Duration, error) { return "", 0, nil }); provider.ClassifyHTTP(err) != bank.Unknown {
		t.Errorf("an empty token is not a malformed answer: %v", err)
	}
}
