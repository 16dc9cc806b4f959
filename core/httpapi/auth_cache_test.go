package httpapi

import (
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestVerifiedTokensExpire: a remembered token answers only before its
// expiry, an expired one is never remembered, and a full cache makes room.
func TestVerifiedTokensExpire(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		until time.Time
		at    time.Time
		hit   bool
	}{
		{"before expiry", now.Add(time.Minute), now.Add(59 * time.Second), true},
		{"at expiry", now.Add(time.Minute), now.Add(time.Minute), false},
		{"after expiry", now.Add(time.Minute), now.Add(time.Hour), false},
		{"expired when verified", now.Add(-time.Second), now, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifiedTokens(8)
			v.put("tok", verifiedToken{tenant: "t1", until: tc.until}, now)
			got, ok := v.get("tok", tc.at)
			if ok != tc.hit || (ok && got.tenant != "t1") {
				t.Errorf("get = %+v, %v; want hit %v", got, ok, tc.hit)
			}
			if _, ok := v.get("tok2", now); ok {
				t.Error("a token never verified was answered")
			}
		})
	}
	v := newVerifiedTokens(2)
	v.put("old", verifiedToken{tenant: "a", until: now.Add(time.Second)}, now)
	v.put("live", verifiedToken{tenant: "b", until: now.Add(time.Hour)}, now)
	later := now.Add(time.Minute)
	v.put("new", verifiedToken{tenant: "c", until: later.Add(time.Hour)}, later)
	if _, ok := v.get("live", later); !ok {
		t.Error("a live token was dropped while an expired one made room")
	}
	if _, ok := v.get("new", later); !ok {
		t.Error("the newest token was not remembered")
	}
	v.put("newest", verifiedToken{tenant: "d", until: later.Add(time.Hour)}, later)
	if _, ok := v.get("newest", later); !ok || len(v.m) > 2 {
		t.Errorf("full cache: newest remembered %v, %d entries (max 2)", ok, len(v.m))
	}
}

// TestRememberedTokenChecksStillApply: a token answered from memory gives
// the same tenant and permissions as its first check, and a token that
// differs from it (a forged signature) is still refused.
func TestRememberedTokenChecksStillApply(t *testing.T) {
	r := whoami(hsConfig(), PermReadVirtualAccount)
	good := sign(t, jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"sub": "t1", "permissions": []string{PermReadVirtualAccount}})
	for range 3 {
		if w := call(r, "Bearer "+good); w.Code != http.StatusOK ||
			w.Body.String() != `{"permissions":["read-virtual-account"],"tenant":"t1"}` {
			t.Fatalf("good token: %d %s", w.Code, w.Body)
		}
	}
	forged := good[:len(good)-4] + "AAAA"
	if forged == good {
		forged = good[:len(good)-4] + "BBBB"
	}
	if w := call(r, "Bearer "+forged); w.Code != http.StatusUnauthorized {
		t.Errorf("forged token after the good one: %d %s", w.Code, w.Body)
	}
	other := sign(t, jwt.SigningMethodHS256, []byte("another-secret-0123456789abcdef-xx"), jwt.MapClaims{"sub": "t1", "permissions": []string{PermReadVirtualAccount}})
	if w := call(r, "Bearer "+other); w.Code != http.StatusUnauthorized {
		t.Errorf("token signed with another key: %d %s", w.Code, w.Body)
	}
}
