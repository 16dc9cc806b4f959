package batchvamock

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Issuer is the iss claim of the mock's tokens.
const Issuer = "batchvamock"

type claims struct {
	Permissions []string `json:"permissions"`
	jwt.RegisteredClaims
}

type tokenResponse struct {
	AccessToken string `json:"accessToken"`
	TokenType   string `json:"tokenType"`
	ExpiresIn   int64  `json:"expiresIn"`
}

// Token mints a JWT as POST /v1/auth/token would, carrying permissions
// instead of the client's own (none given = the client's own).
func (m *Mock) Token(clientID string, permissions ...string) (string, error) {
	c, ok := m.client(clientID)
	if !ok {
		return "", fmt.Errorf("batchvamock: unknown client %q", clientID)
	}
	if len(permissions) == 0 {
		permissions = c.Permissions
	}
	return m.mint(c.ID, permissions)
}

func (m *Mock) mint(sub string, permissions []string) (string, error) {
	now := time.Now()
	perms := slices.Clone(permissions)
	if perms == nil {
		perms = []string{}
	}
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, claims{
		Permissions: perms,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Subject:   sub,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(m.opts.TokenTTL)),
		},
	})
	return t.SignedString(m.jwtKey)
}

// handleToken serves POST /v1/auth/token.
func (m *Mock) handleToken(w http.ResponseWriter, r *http.Request) {
	body, ok := readJSONBody(w, r)
	if !ok {
		return
	}
	var req struct {
		ClientID     string `json:"clientId"`
		ClientSecret string `json:"clientSecret"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "", "body: must be a JSON object with string clientId and clientSecret")
		return
	}
	var probs problems
	if req.ClientID == "" {
		probs.add("clientId", "required")
	}
	if req.ClientSecret == "" {
		probs.add("clientSecret", "required")
	}
	if len(probs) > 0 {
		writeError(w, http.StatusBadRequest, "", probs.String())
		return
	}
	c, ok := m.client(req.ClientID)
	if !ok || subtle.ConstantTimeCompare([]byte(c.Secret), []byte(req.ClientSecret)) != 1 {
		writeError(w, http.StatusUnauthorized, "", "invalid client credentials")
		return
	}
	tok, err := m.mint(c.ID, c.Permissions)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "", err.Error())
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, tokenResponse{AccessToken: tok, TokenType: "Bearer", ExpiresIn: int64(m.opts.TokenTTL / time.Second)})
}

// authorize checks the bearer token and that it carries one of anyOf; it
// returns the user (the token subject) or answers 401/403.
func (m *Mock) authorize(w http.ResponseWriter, r *http.Request, anyOf ...string) (string, bool) {
	scheme, raw, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(raw) == "" {
		unauthorized(w, "missing bearer token")
		return "", false
	}
	var c claims
	_, err := jwt.ParseWithClaims(strings.TrimSpace(raw), &c, func(*jwt.Token) (any, error) { return m.jwtKey, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(Issuer),
		jwt.WithExpirationRequired(),
	)
	if err != nil {
		unauthorized(w, "invalid token: "+err.Error())
		return "", false
	}
	if _, ok := m.client(c.Subject); !ok {
		unauthorized(w, "invalid token: unknown subject")
		return "", false
	}
	if ok, wait := m.allow(c.Subject); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		writeError(w, http.StatusTooManyRequests, "", "rate limit exceeded: retry after "+wait.Round(time.Millisecond).String())
		return "", false
	}
	for _, p := range anyOf {
		if slices.Contains(c.Permissions, p) {
			return c.Subject, true
		}
	}
	writeError(w, http.StatusForbidden, "", "token lacks permission "+strings.Join(anyOf, " or "))
	return "", false
}

func unauthorized(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="batchvamock"`)
	writeError(w, http.StatusUnauthorized, "", msg)
}
