package httpapi

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef-test")

var rsaKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func hsConfig() *AuthConfig { return &AuthConfig{Algorithm: AlgHS256, Secret: testSecret} }

// sign signs claims with method and key, filling exp when absent.
func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	if _, ok := claims["exp"]; !ok {
		claims["exp"] = time.Now().Add(time.Hour).Unix()
	}
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// whoami is an engine answering with the authenticated tenant and permissions.
func whoami(cfg *AuthConfig, require ...string) *gin.Engine {
	r := gin.New()
	r.Use(RequestID())
	chain := []gin.HandlerFunc{Authenticate(cfg)}
	for _, p := range require {
		chain = append(chain, Require(p))
	}
	chain = append(chain, func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"tenant": Tenant(c), "permissions": Permissions(c)})
	})
	r.GET("/me", chain...)
	return r
}

func call(r http.Handler, authorization string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/me", nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	return w
}

func TestAuthenticate(t *testing.T) {
	key := rsaKey()
	rsPublic := &AuthConfig{Algorithm: AlgRS256, PublicKey: &key.PublicKey}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: must(x509.MarshalPKIXPublicKey(&key.PublicKey))})
	withIss := &AuthConfig{Algorithm: AlgHS256, Secret: testSecret, Issuer: "https://issuer.example", Audience: "vagate"}
	customClaim := &AuthConfig{Algorithm: AlgHS256, Secret: testSecret, PermissionsClaim: "scope"}
	now := time.Now()
	perms := []any{PermCreateVirtualAccount, PermReadVirtualAccount}

	tests := []struct {
		name       string
		cfg        *AuthConfig
		header     func(t *testing.T) string
		status     int
		challenge  string // exact WWW-Authenticate on 401
		detail     string
		wantTenant string
		wantPerms  []string
	}{
		{name: "valid HS256", cfg: hsConfig(),
			header: func(t *testing.T) string {
				return "Bearer " + sign(t, jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"sub": "tenant-1", "permissions": perms})
			},
			status: 200, wantTenant: "tenant-1", wantPerms: []string{PermCreateVirtualAccount, PermReadVirtualAccount}},
		{name: "scheme is case-insensitive", cfg: hsConfig(),
			header: func(t *testing.T) string {
				return "bearer " + sign(t, jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"sub": "tenant-1"})
			},
			status: 200, wantTenant: "tenant-1", wantPerms: []string{}},
		{name: "valid RS256", cfg: rsPublic,
			header: func(t *testing.T) string {
				return "Bearer " + sign(t, jwt.SigningMethodRS256, key, jwt.MapClaims{"sub": "tenant-2", "permissions": perms})
			},
			status: 200, wantTenant: "tenant-2", wantPerms: []string{PermCreateVirtualAccount, PermReadVirtualAccount}},
		{name: "permissions as a space-separated string", cfg: hsConfig(),
			header: func(t *testing.T) string {
				return "Bearer " + sign(t, jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"sub": "t", "permissions": "manage-pool  manage-webhooks"})
			},
			status: 200, wantTenant: "t", wantPerms: []string{PermManagePool, PermManageWebhooks}},
		{name: "custom permissions claim", cfg: customClaim,
			header: func(t *testing.T) string {
				return "Bearer " + sign(t, jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"sub": "t", "scope": "manage-pool", "permissions": "manage-webhooks"})
			},
			status: 200, wantTenant: "t", wantPerms: []string{PermManagePool}},
		{name: "permissions of the wrong type", cfg: hsConfig(),
			header: func(t *testing.T) string {
				return "Bearer " + sign(t, jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"sub": "t", "permissions": []any{"manage-pool", 7}})
			},
			status: 401, challenge: `Bearer error="invalid_token"`, detail: "permissions"},
		{name: "expired", cfg: hsConfig(),
			header: func(t *testing.T) string {
				return "Bearer " + sign(t, jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"sub": "t", "exp": now.Add(-time.Minute).Unix()})
			},
			status: 401, challenge: `Bearer error="invalid_token"`, detail: "expired"},
		{name: "expired within leeway", cfg: hsConfig(),
			header: func(t *testing.T) string {
				return "Bearer " + sign(t, jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"sub": "t", "exp": now.Add(-10 * time.Second).Unix()})
			},
			status: 200, wantTenant: "t", wantPerms: []string{}},
		{name: "no expiry", cfg: hsConfig(),
			header: func(t *testing.T) string {
				s, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "t"}).SignedString(testSecret)
				return "Bearer " + s
			},
			status: 401, challenge: `Bearer error="invalid_token"`, detail: "exp"},
		{name: "not valid yet", cfg: hsConfig(),
			header: func(t *testing.T) string {
				return "Bearer " + sign(t, jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"sub": "t", "nbf": now.Add(time.Hour).Unix()})
			},
			status: 401, challenge: `Bearer error="invalid_token"`, detail: "not valid yet"},
		{name: "alg none", cfg: hsConfig(),
			header: func(t *testing.T) string {
				return "Bearer " + sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{"sub": "t"})
			},
			status: 401, challenge: `Bearer error="invalid_token"`, detail: "algorithm"},
		{name: "HS256 signed with the RSA public key (alg confusion)", cfg: rsPublic,
			header: func(t *testing.T) string {
				return "Bearer " + sign(t, jwt.SigningMethodHS256, pubPEM, jwt.MapClaims{"sub": "t"})
			},
			status: 401, challenge: `Bearer error="invalid_token"`, detail: "algorithm"},
		{name: "RS256 token for an HS256 gateway", cfg: hsConfig(),
			header: func(t *testing.T) string {
				return "Bearer " + sign(t, jwt.SigningMethodRS256, key, jwt.MapClaims{"sub": "t"})
			},
			status: 401, challenge: `Bearer error="invalid_token"`, detail: "algorithm"},
		{name: "HS512 is not HS256", cfg: hsConfig(),
			header: func(t *testing.T) string {
				return "Bearer " + sign(t, jwt.SigningMethodHS512, testSecret, jwt.MapClaims{"sub": "t"})
			},
			status: 401, challenge: `Bearer error="invalid_token"`, detail: "algorithm"},
		{name: "bad signature", cfg: hsConfig(),
			header: func(t *testing.T) string {
				return "Bearer " + sign(t, jwt.SigningMethodHS256, []byte("another-secret-another-secret-xx"), jwt.MapClaims{"sub": "t"})
			},
			status: 401, challenge: `Bearer error="invalid_token"`, detail: "signature"},
		{name: "tampered payload", cfg: hsConfig(),
			header: func(t *testing.T) string {
				tok := sign(t, jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"sub": "t"})
				parts := strings.Split(tok, ".")
				forged := sign(t, jwt.SigningMethodHS256, []byte("x"), jwt.MapClaims{"sub": "admin"})
				return "Bearer " + parts[0] + "." + strings.Split(forged, ".")[1] + "." + parts[2]
			},
			status: 401, challenge: `Bearer error="invalid_token"`, detail: "signature"},
		{name: "missing sub", cfg: hsConfig(),
			header: func(t *testing.T) string {
				return "Bearer " + sign(t, jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"permissions": perms})
			},
			status: 401, challenge: `Bearer error="invalid_token"`, detail: "subject"},
		{name: "missing header", cfg: hsConfig(),
			header: func(*testing.T) string { return "" },
			status: 401, challenge: "Bearer", detail: "missing"},
		{name: "basic scheme", cfg: hsConfig(),
			header: func(*testing.T) string { return "Basic dXNlcjpwYXNz" },
			status: 401, challenge: "Bearer", detail: "Bearer scheme"},
		{name: "malformed token", cfg: hsConfig(),
			header: func(*testing.T) string { return "Bearer not-a-jwt" },
			status: 401, challenge: `Bearer error="invalid_token"`, detail: "malformed"},
		{name: "empty token", cfg: hsConfig(),
			header: func(*testing.T) string { return "Bearer " },
			status: 401, challenge: `Bearer error="invalid_token"`, detail: "malformed"},
		{name: "issuer and audience match", cfg: withIss,
			header: func(t *testing.T) string {
				return "Bearer " + sign(t, jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"sub": "t", "iss": "https://issuer.example", "aud": []string{"other", "vagate"}})
			},
			status: 200, wantTenant: "t", wantPerms: []string{}},
		{name: "issuer mismatch", cfg: withIss,
			header: func(t *testing.T) string {
				return "Bearer " + sign(t, jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"sub": "t", "iss": "https://evil.example", "aud": "vagate"})
			},
			status: 401, challenge: `Bearer error="invalid_token"`, detail: "issuer"},
		{name: "audience mismatch", cfg: withIss,
			header: func(t *testing.T) string {
				return "Bearer " + sign(t, jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"sub": "t", "iss": "https://issuer.example", "aud": "someone-else"})
			},
			status: 401, challenge: `Bearer error="invalid_token"`, detail: "audience"},
		{name: "audience missing", cfg: withIss,
			header: func(t *testing.T) string {
				return "Bearer " + sign(t, jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"sub": "t", "iss": "https://issuer.example"})
			},
			status: 401, challenge: `Bearer error="invalid_token"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			header := tc.header(t)
			w := call(whoami(tc.cfg), header)
			if w.Code != tc.status {
				t.Fatalf("status = %d; want %d (body %s)", w.Code, tc.status, w.Body)
			}
			if tc.status != http.StatusOK {
				p := decodeProblem(t, w)
				if p.Code != CodeUnauthenticated || !strings.Contains(p.Detail, tc.detail) {
					t.Errorf("problem = %+v; want code unauthenticated, detail containing %q", p, tc.detail)
				}
				if got := w.Header().Get("WWW-Authenticate"); got != tc.challenge {
					t.Errorf("WWW-Authenticate = %q; want %q", got, tc.challenge)
				}
				if tok := strings.TrimSpace(strings.TrimPrefix(header, "Bearer")); len(tok) > 8 && strings.Contains(w.Body.String(), tok) {
					t.Error("the response quotes the token")
				}
				return
			}
			var got struct {
				Tenant      string   `json:"tenant"`
				Permissions []string `json:"permissions"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if got.Tenant != tc.wantTenant || !slices.Equal(got.Permissions, tc.wantPerms) {
				t.Errorf("tenant %q permissions %q; want %q %q", got.Tenant, got.Permissions, tc.wantTenant, tc.wantPerms)
			}
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestRequire(t *testing.T) {
	cfg := hsConfig()
	tok := must(MintToken(cfg, "tenant-1", []string{PermReadVirtualAccount}, time.Minute))

	if w := call(whoami(cfg, PermReadVirtualAccount), "Bearer "+tok); w.Code != http.StatusOK {
		t.Errorf("granted permission: status %d %s", w.Code, w.Body)
	}
	w := call(whoami(cfg, PermReadVirtualAccount, PermCreateVirtualAccount), "Bearer "+tok)
	if w.Code != http.StatusForbidden {
		t.Fatalf("missing permission: status %d; want 403", w.Code)
	}
	if p := decodeProblem(t, w); p.Code != CodePermissionDenied || !strings.Contains(p.Detail, PermCreateVirtualAccount) {
		t.Errorf("problem = %+v", p)
	}

	// Require without Authenticate in front refuses too.
	r := gin.New()
	r.GET("/me", Require(PermManagePool), func(c *gin.Context) { c.Status(http.StatusOK) })
	if w := call(r, ""); w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") != "Bearer" {
		t.Errorf("unauthenticated Require: status %d, challenge %q", w.Code, w.Header().Get("WWW-Authenticate"))
	}
}

func TestMintToken(t *testing.T) {
	key := rsaKey()
	for _, cfg := range []*AuthConfig{
		hsConfig(),
		{Algorithm: AlgRS256, PrivateKey: key, Issuer: "iss", Audience: "aud", PermissionsClaim: "perms"},
	} {
		t.Run(cfg.Algorithm, func(t *testing.T) {
			tok, err := MintToken(cfg, "tenant-9", AllPermissions(), time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			w := call(whoami(cfg, PermManageWebhooks), "Bearer "+tok)
			if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"tenant":"tenant-9"`) {
				t.Errorf("minted token: %d %s", w.Code, w.Body)
			}
		})
	}
	for name, f := range map[string]func() (string, error){
		"empty tenant":   func() (string, error) { return MintToken(hsConfig(), "", nil, time.Minute) },
		"zero ttl":       func() (string, error) { return MintToken(hsConfig(), "t", nil, 0) },
		"invalid config": func() (string, error) { return MintToken(&AuthConfig{Algorithm: "HS256"}, "t", nil, time.Minute) },
		"RS256 without key": func() (string, error) {
			return MintToken(&AuthConfig{Algorithm: AlgRS256, PublicKey: &key.PublicKey}, "t", nil, time.Minute)
		},
	} {
		if _, err := f(); err == nil {
			t.Errorf("%s: MintToken succeeded", name)
		}
	}
}

func TestAuthConfigValidate(t *testing.T) {
	key := rsaKey()
	small := must(rsa.GenerateKey(rand.Reader, 1024))
	other := &rsa.PublicKey{N: small.N, E: small.E}
	tests := []struct {
		name string
		cfg  *AuthConfig
		want string // substring of the error; "" = valid
	}{
		{"nil", nil, "no configuration"},
		{"HS256", hsConfig(), ""},
		{"RS256 public", &AuthConfig{Algorithm: AlgRS256, PublicKey: &key.PublicKey}, ""},
		{"RS256 private only", &AuthConfig{Algorithm: AlgRS256, PrivateKey: key}, ""},
		{"unknown algorithm", &AuthConfig{Algorithm: "none", Secret: testSecret}, "algorithm"},
		{"empty algorithm", &AuthConfig{Secret: testSecret}, "algorithm"},
		{"short secret", &AuthConfig{Algorithm: AlgHS256, Secret: []byte("short")}, "secret"},
		{"RS256 no key", &AuthConfig{Algorithm: AlgRS256, Secret: testSecret}, "publicKey"},
		{"RS256 small key", &AuthConfig{Algorithm: AlgRS256, PublicKey: other}, "2048"},
		{"RS256 mismatched keys", &AuthConfig{Algorithm: AlgRS256, PublicKey: &key.PublicKey, PrivateKey: small}, "does not match"},
	}
	for _, tc := range tests {
		err := tc.cfg.Validate()
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: Validate = %v; want %q", tc.name, err, tc.want)
		}
	}

	defer func() {
		if recover() == nil {
			t.Error("Authenticate accepted an invalid config")
		}
	}()
	Authenticate(&AuthConfig{Algorithm: AlgHS256})
}

func TestAuthConfigRedacted(t *testing.T) {
	cfg := &AuthConfig{Algorithm: AlgHS256, Secret: testSecret, Issuer: "iss"}
	var b strings.Builder
	slog.New(slog.NewJSONHandler(&b, nil)).Info("config", "auth", cfg)
	for _, s := range []string{b.String(), fmt.Sprint(cfg), fmt.Sprintf("%v", cfg)} {
		if strings.Contains(s, string(testSecret)) || !strings.Contains(s, "HS256") {
			t.Errorf("leaks or lacks algorithm: %s", s)
		}
	}
}

func TestTokenLifetimeAndIssuedAtAreBounded(t *testing.T) {
	now := time.Now()
	withIss := &AuthConfig{Algorithm: AlgHS256, Secret: testSecret, Issuer: "https://issuer.example", Audience: "vagate"}
	tests := []struct {
		name   string
		cfg    *AuthConfig
		claims jwt.MapClaims
		detail string // "" means accepted
	}{
		{"iat an hour in the future", hsConfig(), jwt.MapClaims{"sub": "t", "iat": now.Add(time.Hour).Unix()}, "issued in the future (iat)"},
		{"iat within the leeway", hsConfig(), jwt.MapClaims{"sub": "t", "iat": now.Add(10 * time.Second).Unix()}, ""},
		{"ten-year exp after iat", hsConfig(), jwt.MapClaims{"sub": "t", "iat": now.Unix(), "exp": now.AddDate(10, 0, 0).Unix()}, "lifetime"},
		{"ten-year exp without iat", hsConfig(), jwt.MapClaims{"sub": "t", "exp": now.AddDate(10, 0, 0).Unix()}, "lifetime"},
		{"24h token", hsConfig(), jwt.MapClaims{"sub": "t", "iat": now.Unix(), "exp": now.Add(24 * time.Hour).Unix()}, ""},
		{"48h token under a 72h maximum", &AuthConfig{Algorithm: AlgHS256, Secret: testSecret, MaxTokenLifetime: 72 * time.Hour},
			jwt.MapClaims{"sub": "t", "iat": now.Unix(), "exp": now.Add(48 * time.Hour).Unix()}, ""},
		{"missing iss is named", withIss, jwt.MapClaims{"sub": "t", "aud": "vagate"}, "no issuer (iss)"},
		{"missing aud is named", withIss, jwt.MapClaims{"sub": "t", "iss": "https://issuer.example"}, "no audience (aud)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := call(whoami(tc.cfg), "Bearer "+sign(t, jwt.SigningMethodHS256, testSecret, tc.claims))
			if tc.detail == "" {
				if w.Code != http.StatusOK {
					t.Errorf("refused: %d %s", w.Code, w.Body)
				}
				return
			}
			if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), tc.detail) || strings.Contains(w.Body.String(), "expiry") {
				t.Errorf("got %d %s, want 401 saying %q", w.Code, w.Body, tc.detail)
			}
		})
	}
	// The development banner's 24h token is accepted; longer ones are not minted.
	tok, err := MintToken(hsConfig(), "dev", AllPermissions(), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if w := call(whoami(hsConfig()), "Bearer "+tok); w.Code != http.StatusOK {
		t.Errorf("24h minted token refused: %d %s", w.Code, w.Body)
	}
	if _, err := MintToken(hsConfig(), "dev", nil, 25*time.Hour); err == nil {
		t.Error("minted a token longer-lived than the maximum")
	}
}
