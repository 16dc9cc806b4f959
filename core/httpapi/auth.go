package httpapi

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// gin.Context keys of the authenticated tenant and its permissions.
const (
	tenantKey      = "vagate.tenant"
	permissionsKey = "vagate.permissions"
)

// Permissions a token may grant.
const (
	PermCreateVirtualAccount = "create-virtual-account"
	PermReadVirtualAccount   = "read-virtual-account"
	PermUpdateVirtualAccount = "update-virtual-account"
	PermManagePool           = "manage-pool"
	PermManageWebhooks       = "manage-webhooks"
	// PermOperator lets a token act on providers across tenants
	// (reconciliation); it is not a tenant's permission.
	PermOperator = "operator"
)

// AllPermissions returns every known permission, e.g. for a dev token.
func AllPermissions() []string {
	return []string{PermCreateVirtualAccount, PermReadVirtualAccount, PermUpdateVirtualAccount, PermManagePool, PermManageWebhooks, PermOperator,
		PermOperatorActions}
}

// Supported signing algorithms.
const (
	AlgHS256 = "HS256"
	AlgRS256 = "RS256"
)

// DefaultPermissionsClaim is the claim read when AuthConfig.PermissionsClaim is empty.
const DefaultPermissionsClaim = "permissions"

// jwtLeeway is the clock skew tolerated on exp, nbf and iat.
const jwtLeeway = 30 * time.Second

// DefaultMaxTokenLifetime is the longest token lifetime accepted when
// AuthConfig.MaxTokenLifetime is zero.
const DefaultMaxTokenLifetime = 24 * time.Hour

// minHMACSecret is the shortest accepted HS256 secret (RFC 7518 §3.2).
const minHMACSecret = 32

// AuthConfig configures Bearer JWT authentication.
type AuthConfig struct {
	// Algorithm is "HS256" or "RS256"; tokens signed otherwise are refused.
	Algorithm string
	// Secret is the HS256 key, at least 32 bytes.
	Secret []byte
	// PublicKey verifies RS256 tokens; if nil, PrivateKey's public half is used.
	PublicKey *rsa.PublicKey
	// PrivateKey signs RS256 dev tokens (MintToken).
	PrivateKey *rsa.PrivateKey
	// Issuer and Audience are checked when set.
	Issuer, Audience string
	// PermissionsClaim names the permissions claim (default "permissions").
	PermissionsClaim string
	// MaxTokenLifetime is the longest lifetime a token may have: exp minus
	// iat, or exp minus now when it has no iat (default 24h).
	MaxTokenLifetime time.Duration
}

// Validate reports the first configuration error, naming the field.
func (c *AuthConfig) Validate() error {
	if c == nil {
		return errors.New("auth: no configuration")
	}
	switch c.Algorithm {
	case AlgHS256:
		if len(c.Secret) < minHMACSecret {
			return fmt.Errorf("auth: secret: HS256 needs at least %d bytes, got %d", minHMACSecret, len(c.Secret))
		}
	case AlgRS256:
		pub := c.verifyKey()
		if pub == nil {
			return errors.New("auth: publicKey: RS256 needs a public or a private key")
		}
		if pub.N.BitLen() < 2048 {
			return fmt.Errorf("auth: publicKey: RS256 needs at least 2048 bits, got %d", pub.N.BitLen())
		}
		if c.PublicKey != nil && c.PrivateKey != nil && !c.PublicKey.Equal(&c.PrivateKey.PublicKey) {
			return errors.New("auth: privateKey: does not match publicKey")
		}
	default:
		return fmt.Errorf("auth: algorithm: must be %q or %q, got %q", AlgHS256, AlgRS256, c.Algorithm)
	}
	if c.MaxTokenLifetime < 0 {
		return errors.New("auth: maxTokenLifetime: must not be negative")
	}
	return nil
}

func (c *AuthConfig) maxLifetime() time.Duration {
	if c.MaxTokenLifetime == 0 {
		return DefaultMaxTokenLifetime
	}
	return c.MaxTokenLifetime
}

// LogValue logs the configuration without its keys.
func (c *AuthConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("algorithm", c.Algorithm),
		slog.Bool("secret", len(c.Secret) > 0),
		slog.Bool("publicKey", c.PublicKey != nil),
		slog.Bool("privateKey", c.PrivateKey != nil),
		slog.String("issuer", c.Issuer),
		slog.String("audience", c.Audience),
		slog.String("permissionsClaim", c.permissionsClaim()),
		slog.Duration("maxTokenLifetime", c.maxLifetime()),
	)
}

// String describes the configuration without its keys.
func (c *AuthConfig) String() string {
	return fmt.Sprintf("AuthConfig{Algorithm:%s Issuer:%q Audience:%q PermissionsClaim:%q keys:[redacted]}",
		c.Algorithm, c.Issuer, c.Audience, c.permissionsClaim())
}

func (c *AuthConfig) permissionsClaim() string {
	if c.PermissionsClaim == "" {
		return DefaultPermissionsClaim
	}
	return c.PermissionsClaim
}

func (c *AuthConfig) verifyKey() *rsa.PublicKey {
	if c.PublicKey != nil {
		return c.PublicKey
	}
	if c.PrivateKey != nil {
		return &c.PrivateKey.PublicKey
	}
	return nil
}

// parser builds the token parser for c.
func (c *AuthConfig) parser() *jwt.Parser {
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{c.Algorithm}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(jwtLeeway),
	}
	if c.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(c.Issuer))
	}
	if c.Audience != "" {
		opts = append(opts, jwt.WithAudience(c.Audience))
	}
	return jwt.NewParser(opts...)
}

// keyFunc returns the verification key; WithValidMethods has checked the alg.
func (c *AuthConfig) keyFunc(*jwt.Token) (any, error) {
	if c.Algorithm == AlgHS256 {
		return c.Secret, nil
	}
	return c.verifyKey(), nil
}

// Authenticate checks the Bearer JWT and stores its tenant (sub) and permissions; it panics if cfg is invalid.
func Authenticate(cfg *AuthConfig) gin.HandlerFunc {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	cfg = new(*cfg) // later changes to the caller's config do not race with requests
	p := cfg.parser()
	cache := newVerifiedTokens(maxVerifiedTokens)
	return func(c *gin.Context) {
		tenant, perms, given, detail := authenticate(cfg, p, cache, c.GetHeader("Authorization"))
		if detail != "" {
			unauthenticated(c, given, detail)
			return
		}
		c.Set(tenantKey, tenant)
		c.Set(permissionsKey, perms)
		c.Next()
	}
}

// authenticate checks an Authorization header value. On failure detail says
// why (never quoting the token) and given tells whether a token was present.
// A token found in cache (verified earlier, not yet expired) is not
// verified again; a token that passes every check is added to it.
func authenticate(cfg *AuthConfig, p *jwt.Parser, cache *verifiedTokens, header string) (tenant string, perms []string, given bool, detail string) {
	if header == "" {
		return "", nil, false, "missing bearer token"
	}
	scheme, tok, _ := strings.Cut(header, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", nil, false, "the Authorization header must use the Bearer scheme"
	}
	tok = strings.TrimSpace(tok)
	if tok == "" || strings.ContainsAny(tok, " \t") {
		return "", nil, true, "malformed bearer token"
	}
	now := time.Now()
	if v, ok := cache.get(tok, now); ok {
		return v.tenant, v.perms, true, ""
	}
	claims := jwt.MapClaims{}
	token, err := p.ParseWithClaims(tok, claims, cfg.keyFunc)
	if err != nil {
		return "", nil, true, describeTokenError(cfg, token, claims, err)
	}
	if detail := lifetimeProblem(cfg, claims, now); detail != "" {
		return "", nil, true, detail
	}
	sub, err := claims.GetSubject()
	if err != nil || sub == "" {
		return "", nil, true, "token has no subject"
	}
	perms, err = permissionsOf(claims[cfg.permissionsClaim()])
	if err != nil {
		return "", nil, true, fmt.Sprintf("token claim %q: %v", cfg.permissionsClaim(), err)
	}
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
		cache.put(tok, verifiedToken{tenant: sub, perms: slices.Clip(perms), until: exp.Time}, now)
	}
	return sub, perms, true, ""
}

// maxVerifiedTokens bounds the tokens remembered as verified.
const maxVerifiedTokens = 4096

// verifiedTokens remembers the bearer tokens that passed every check, so
// that a client sending the same token request after request has its
// signature and claims checked once, not on every request. A token is
// answered from here only until its expiry (exp, without the leeway the
// full check allows; after it the full check decides again). Nothing is
// remembered of a token that failed. The keys are the tokens' exact text,
// and the verification keys are fixed for the life of the process.
type verifiedTokens struct {
	mu  sync.RWMutex
	m   map[string]verifiedToken
	max int
}

type verifiedToken struct {
	tenant string
	perms  []string
	until  time.Time
}

func newVerifiedTokens(max int) *verifiedTokens {
	return &verifiedTokens{m: make(map[string]verifiedToken), max: max}
}

// get returns tok's entry if tok was verified and has not expired at now.
func (v *verifiedTokens) get(tok string, now time.Time) (verifiedToken, bool) {
	if v == nil {
		return verifiedToken{}, false
	}
	v.mu.RLock()
	e, ok := v.m[tok]
	v.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return verifiedToken{}, false
	}
	return e, true
}

// put remembers a verified token; when full, the expired entries go, and
// if none had expired, all of them.
func (v *verifiedTokens) put(tok string, e verifiedToken, now time.Time) {
	if v == nil || !now.Before(e.until) {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.m) >= v.max {
		for k, old := range v.m {
			if !now.Before(old.until) {
				delete(v.m, k)
			}
		}
		if len(v.m) >= v.max {
			clear(v.m)
		}
	}
	v.m[tok] = e
}

// lifetimeProblem refuses a token meant to live longer than the configured
// maximum: exp minus iat, or exp minus now when it has no iat.
func lifetimeProblem(cfg *AuthConfig, claims jwt.MapClaims, now time.Time) string {
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		return "token has no expiry (exp)"
	}
	from := now
	if iat, err := claims.GetIssuedAt(); err == nil && iat != nil {
		from = iat.Time
	}
	if exp.Sub(from) > cfg.maxLifetime()+jwtLeeway {
		return fmt.Sprintf("token lifetime is longer than the %s accepted (exp is too far after iat)", cfg.maxLifetime())
	}
	return ""
}

func describeTokenError(cfg *AuthConfig, token *jwt.Token, claims jwt.MapClaims, err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed bearer token"
	case token != nil && token.Method != nil && token.Method.Alg() != cfg.Algorithm:
		return "token is signed with an algorithm that is not accepted"
	case token != nil && token.Header["alg"] != cfg.Algorithm:
		return "token is signed with an algorithm that is not accepted"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return "token signature is invalid"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "token has expired"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return missingClaim(cfg, claims)
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "token is issued in the future (iat)"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "token is not valid yet"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "token issuer is not accepted"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "token audience is not accepted"
	}
	return "token is invalid"
}

// missingClaim names the required claim a token lacks.
func missingClaim(cfg *AuthConfig, claims jwt.MapClaims) string {
	var missing []string
	if exp, err := claims.GetExpirationTime(); err == nil && exp == nil {
		missing = append(missing, "no expiry (exp)")
	}
	if iss, err := claims.GetIssuer(); cfg.Issuer != "" && err == nil && iss == "" {
		missing = append(missing, "no issuer (iss)")
	}
	if aud, err := claims.GetAudience(); cfg.Audience != "" && err == nil && len(slices.DeleteFunc(aud, func(a string) bool { return a == "" })) == 0 {
		missing = append(missing, "no audience (aud)")
	}
	if len(missing) == 0 {
		return "token lacks a required claim"
	}
	return "token has " + strings.Join(missing, " and ")
}

// permissionsOf reads a permissions claim: a JSON array of strings or a
// space-separated string. An absent claim grants nothing.
func permissionsOf(v any) ([]string, error) {
	switch v := v.(type) {
	case nil:
		return []string{}, nil
	case string:
		return strings.Fields(v), nil
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			s, ok := x.(string)
			if !ok {
				return nil, errors.New("must be an array of strings or a space-separated string")
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, errors.New("must be an array of strings or a space-separated string")
}

// unauthenticated writes the 401 problem with its RFC 6750 challenge.
func unauthenticated(c *gin.Context, tokenGiven bool, detail string) {
	challenge := "Bearer"
	if tokenGiven {
		challenge = `Bearer error="invalid_token"`
	}
	c.Header("WWW-Authenticate", challenge)
	WriteProblem(c, NewProblem(http.StatusUnauthorized, CodeUnauthenticated, detail))
}

// Require refuses with 403 a request whose token lacks permission (401 if it was not authenticated).
func Require(permission string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if Tenant(c) == "" {
			unauthenticated(c, false, "missing bearer token")
			return
		}
		if !slices.Contains(Permissions(c), permission) {
			WriteProblem(c, NewProblem(http.StatusForbidden, CodePermissionDenied,
				fmt.Sprintf("the token lacks the %q permission", permission)))
			return
		}
		c.Next()
	}
}

// Tenant returns the authenticated tenant (the token's sub), or "".
func Tenant(c *gin.Context) string {
	return c.GetString(tenantKey)
}

// Permissions returns a copy of the authenticated token's permissions.
func Permissions(c *gin.Context) []string {
	return slices.Clone(c.GetStringSlice(permissionsKey))
}

// MintToken signs a token for tenant with permissions, valid for ttl (dev and tests).
func MintToken(cfg *AuthConfig, tenant string, permissions []string, ttl time.Duration) (string, error) {
	if err := cfg.Validate(); err != nil {
		return "", err
	}
	if tenant == "" {
		return "", errors.New("auth: mint: tenant is empty")
	}
	if ttl <= 0 {
		return "", errors.New("auth: mint: ttl must be positive")
	}
	if ttl > cfg.maxLifetime() {
		return "", fmt.Errorf("auth: mint: ttl %s is longer than the %s tokens may live (auth.maxTokenLifetime)", ttl, cfg.maxLifetime())
	}
	now := time.Now()
	claims := jwt.MapClaims{
		"sub":                  tenant,
		"iat":                  now.Unix(),
		"exp":                  now.Add(ttl).Unix(),
		"jti":                  uuid.NewString(),
		cfg.permissionsClaim(): append([]string{}, permissions...),
	}
	if cfg.Issuer != "" {
		claims["iss"] = cfg.Issuer
	}
	if cfg.Audience != "" {
		claims["aud"] = cfg.Audience
	}
	switch cfg.Algorithm {
	case AlgHS256:
		return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(cfg.Secret)
	default:
		if cfg.PrivateKey == nil {
			return "", errors.New("auth: mint: RS256 needs privateKey")
		}
		return jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(cfg.PrivateKey)
	}
}
