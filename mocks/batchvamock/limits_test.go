package batchvamock_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/vagate/vagate/mocks/batchvamock"
)

func headers(n, keyLen, valueLen int) map[string]string {
	h := map[string]string{}
	for i := range n {
		k := fmt.Sprintf("X-H%d-", i)
		k += strings.Repeat("k", max(keyLen-len(k), 0))
		h[k] = strings.Repeat("v", valueLen)
	}
	return h
}

func withHeaders(h map[string]string) map[string]any {
	b := itemsBody(1, nil)
	b["customHeaders"] = h
	return b
}

// Every refused create answers the documented status and error and leaves nothing behind.
func TestLimits(t *testing.T) {
	tests := []struct {
		name   string
		opts   *batchvamock.Options
		token  func(e *env) string // nil = the default client's token
		header map[string]string
		body   any // nil = one valid item
		status int
		code   string
		msg    []string
	}{
		{name: "1001 items", body: itemsBody(1001, nil), status: 400, code: "VALIDATION_ERROR", msg: []string{"items: must contain at most 1000 items"}},
		{name: "0 items", body: `{"items":[]}`, status: 400, code: "VALIDATION_ERROR", msg: []string{"items: must contain at least 1 item"}},
		{name: "no items", body: `{}`, status: 400, code: "VALIDATION_ERROR", msg: []string{"items: required"}},
		{name: "36-char clientReference", body: itemsBody(1, func(_ int, it map[string]any) { it["clientReference"] = strings.Repeat("r", 36) }),
			status: 400, code: "VALIDATION_ERROR", msg: []string{"items[0].clientReference: must be at most 35 characters"}},
		{name: "11 custom headers", body: withHeaders(headers(11, 10, 10)), status: 400, code: "VALIDATION_ERROR", msg: []string{"customHeaders: must have at most 10 entries"}},
		{name: "51-char header key", body: withHeaders(headers(1, 51, 10)), status: 400, code: "VALIDATION_ERROR", msg: []string{"key must be at most 50 characters"}},
		{name: "501-char header value", body: withHeaders(headers(1, 10, 501)), status: 400, code: "VALIDATION_ERROR", msg: []string{"value must be at most 500 characters"}},
		{name: "invalid header name", body: withHeaders(map[string]string{"X Bad": "v"}), status: 400, code: "VALIDATION_ERROR", msg: []string{"not a valid HTTP header name"}},
		{name: "reserved header", body: withHeaders(map[string]string{"bcb-signature": "v"}), status: 400, code: "VALIDATION_ERROR", msg: []string{"reserved"}},
		{name: "256-char nativeLanguageName", body: itemsBody(1, func(_ int, it map[string]any) { it["nativeLanguageName"] = strings.Repeat("n", 256) }),
			status: 400, code: "VALIDATION_ERROR", msg: []string{"items[0].nativeLanguageName: must be at most 255 characters"}},
		{name: "unsupported currency", body: itemsBody(1, func(_ int, it map[string]any) { it["currency"] = "XYZ" }),
			status: 400, code: "VALIDATION_ERROR", msg: []string{"items[0].currency: unsupported currency XYZ"}},
		{name: "missing accountName", body: itemsBody(1, func(_ int, it map[string]any) { delete(it, "accountName") }),
			status: 400, code: "VALIDATION_ERROR", msg: []string{"items[0].accountName: required unless unallocated is true"}},
		{name: "every problem listed", body: itemsBody(8, func(i int, it map[string]any) {
			switch i {
			case 3:
				it["clientReference"] = strings.Repeat("r", 36)
			case 7:
				it["currency"] = "XYZ"
			}
		}), status: 400, code: "VALIDATION_ERROR", msg: []string{"items[3].clientReference: must be at most 35 characters; items[7].currency: unsupported currency XYZ"}},
		{name: "wrong types", body: `{"callbackUrl":5,"items":[{"currency":"USD","unallocated":"yes"}, 7]}`, status: 400, code: "VALIDATION_ERROR",
			msg: []string{"callbackUrl: must be a string", "items[0].unallocated: must be a boolean", "items[1]: must be an object"}},
		{name: "bad dob", body: itemsBody(1, func(_ int, it map[string]any) { it["dob"] = "20/05/1985" }), status: 400, code: "VALIDATION_ERROR", msg: []string{"items[0].dob"}},
		{name: "relative callbackUrl", body: map[string]any{"callbackUrl": "/cb", "items": []any{named("A")}}, status: 400, code: "VALIDATION_ERROR", msg: []string{"callbackUrl: must be an absolute"}},
		{name: "malformed JSON", body: `{"items":[`, status: 400, code: "VALIDATION_ERROR", msg: []string{"body: malformed JSON"}},
		{name: "not an object", body: `[1,2]`, status: 400, code: "VALIDATION_ERROR", msg: []string{"body: must be a JSON object"}},
		{name: "body over 10 MiB", body: `{"items":[],"pad":"` + strings.Repeat("x", batchvamock.MaxBody) + `"}`, status: 413, code: "PAYLOAD_TOO_LARGE"},
		{name: "wrong content type", header: map[string]string{"Content-Type": "text/plain"}, status: 415, code: "UNSUPPORTED_MEDIA_TYPE"},
		{name: "non-UUID Idempotency-Key", header: map[string]string{"Idempotency-Key": "not-a-uuid"}, status: 400, code: "INVALID_IDEMPOTENCY_KEY"},
		{name: "missing create permission", status: 403, code: "FORBIDDEN",
			token: func(e *env) string { return mustToken(e, batchvamock.PermissionRead, batchvamock.PermissionUpdate) }},
		{name: "no token", token: func(*env) string { return "" }, status: 401, code: "UNAUTHORIZED"},
		{name: "garbage token", token: func(*env) string { return "not.a.jwt" }, status: 401, code: "UNAUTHORIZED"},
		{name: "token signed by another key", status: 401, code: "UNAUTHORIZED", token: func(*env) string { return forged(jwt.SigningMethodHS256, []byte("other-key")) }},
		{name: "token with alg none", status: 401, code: "UNAUTHORIZED", token: func(*env) string { return forged(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType) }},
		{name: "expired token", opts: &batchvamock.Options{TokenTTL: -time.Minute}, status: 401, code: "UNAUTHORIZED"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.opts)
			tok := e.tok
			if tc.token != nil {
				tok = tc.token(e)
			}
			body := tc.body
			if body == nil {
				body = itemsBody(1, nil)
			}
			r := e.do(http.MethodPost, "/v1/virtual-accounts", tok, tc.header, body)
			if r.status != tc.status {
				t.Fatalf("status %d %s, want %d", r.status, r.body, tc.status)
			}
			code, msg := r.apiErr(t)
			if code != tc.code {
				t.Errorf("error %q, want %q", code, tc.code)
			}
			for _, want := range tc.msg {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q lacks %q", msg, want)
				}
			}
			if n, j := e.m.AccountCount(), e.m.JobCount(); n != 0 || j != 0 {
				t.Errorf("refused create left %d accounts and %d jobs", n, j)
			}
		})
	}
}

func mustToken(e *env, perms ...string) string {
	e.t.Helper()
	tok, err := e.m.Token(batchvamock.DefaultClient().ID, perms...)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

func forged(method jwt.SigningMethod, key any) string {
	now := time.Now()
	tok, err := jwt.NewWithClaims(method, jwt.MapClaims{
		"sub": "vagate", "iss": batchvamock.Issuer, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"permissions": []string{batchvamock.PermissionCreate},
	}).SignedString(key)
	if err != nil {
		panic(err)
	}
	return tok
}

// Values exactly at each documented limit are accepted.
func TestAtLimits(t *testing.T) {
	tests := []struct {
		name  string
		body  any
		items int
	}{
		{"1000 items", itemsBody(1000, func(_ int, it map[string]any) { it["unallocated"] = true }), 1000},
		{"35-char clientReference", itemsBody(1, func(_ int, it map[string]any) { it["clientReference"] = strings.Repeat("é", 35) }), 1},
		{"255-char nativeLanguageName", itemsBody(1, func(_ int, it map[string]any) { it["nativeLanguageName"] = strings.Repeat("n", 255) }), 1},
		{"10 headers", withHeaders(headers(10, 10, 10)), 1},
		{"50-char header key", withHeaders(headers(1, 50, 10)), 1},
		{"500-char header value", withHeaders(headers(1, 10, 500)), 1},
		{"every supported currency", itemsBody(5, func(i int, it map[string]any) { it["currency"] = []string{"USD", "BMD", "EUR", "GBP", "CAD"}[i] }), 5},
		{"unknown fields ignored", map[string]any{"extra": 1, "items": []any{map[string]any{"currency": "EUR", "unallocated": true, "color": "blue"}}}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			acc := e.create(tc.body, nil)
			if st := e.wait(acc.JobID); st.Status != batchvamock.StatusCompleted || st.SuccessfulItems != tc.items {
				t.Fatalf("job = %+v, want Completed with %d items", st, tc.items)
			}
			if n := e.m.AccountCount(); n != tc.items {
				t.Errorf("mock holds %d accounts, want %d", n, tc.items)
			}
		})
	}
}

func TestToken(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		name   string
		body   string
		status int
		code   string
	}{
		{"valid", `{"clientId":"vagate","clientSecret":"vagate-secret"}`, 200, ""},
		{"wrong secret", `{"clientId":"vagate","clientSecret":"nope"}`, 401, "UNAUTHORIZED"},
		{"unknown client", `{"clientId":"x","clientSecret":"y"}`, 401, "UNAUTHORIZED"},
		{"missing fields", `{}`, 400, "VALIDATION_ERROR"},
		{"malformed", `{`, 400, "VALIDATION_ERROR"},
	}
	if _, err := e.m.Token("nobody"); err == nil {
		t.Error("Token minted a token for an unknown client")
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(http.MethodPost, "/v1/auth/token", "", nil, tc.body)
			if r.status != tc.status {
				t.Fatalf("status %d %s, want %d", r.status, r.body, tc.status)
			}
			if tc.code != "" {
				if code, _ := r.apiErr(t); code != tc.code {
					t.Errorf("error %s, want %s", code, tc.code)
				}
				return
			}
			var tr struct {
				AccessToken, TokenType string
				ExpiresIn              int
			}
			r.decode(t, &tr)
			if tr.TokenType != "Bearer" || tr.ExpiresIn != 3600 {
				t.Errorf("token response %+v", tr)
			}
			var c struct {
				Permissions []string `json:"permissions"`
				jwt.RegisteredClaims
			}
			tok, _, err := jwt.NewParser().ParseUnverified(tr.AccessToken, &c)
			if err != nil || tok.Method.Alg() != "HS256" || c.Issuer != "batchvamock" || c.Subject != "vagate" || len(c.Permissions) != 3 || c.IssuedAt == nil {
				t.Errorf("claims %+v alg %v err %v", c, tok.Header["alg"], err)
			}
		})
	}
}

// 429 is documented: with a rate limit set (by option or at run time) a
// client past its burst is answered 429 TOO_MANY_REQUESTS with
// Retry-After, in the documented error shape; other clients are not held
// back, and without a limit nothing is.
func TestRateLimit(t *testing.T) {
	other := batchvamock.Client{ID: "other", Secret: "s", Permissions: []string{batchvamock.PermissionRead}, SigningSecret: "x"}
	tests := []struct {
		name   string
		opts   batchvamock.Options
		config string // PUT /__admin/config before the requests, if any
		limit  int    // requests answered before a 429; 0 = none refused
	}{
		{"no limit", batchvamock.Options{}, "", 0},
		{"option", batchvamock.Options{RateLimit: 0.5, RateBurst: 3}, "", 3},
		{"admin config", batchvamock.Options{}, `{"rateLimit":0.5,"rateBurst":2}`, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Clients = []batchvamock.Client{batchvamock.DefaultClient(), other}
			e := newEnv(t, &tc.opts)
			if tc.config != "" {
				if r := e.do(http.MethodPut, "/__admin/config", "", nil, tc.config); r.status != http.StatusOK {
					t.Fatalf("config: %d %s", r.status, r.body)
				}
			}
			path := "/v1/virtual-accounts/jobs/00000000-0000-4000-8000-000000000000"
			for i := 1; i <= 5; i++ {
				r := e.do(http.MethodGet, path, e.tok, nil, nil)
				limited := tc.limit > 0 && i > tc.limit
				if !limited {
					if r.status != http.StatusNotFound {
						t.Fatalf("request %d: %d %s, want 404 (not limited)", i, r.status, r.body)
					}
					continue
				}
				code, msg := r.apiErr(t)
				if r.status != http.StatusTooManyRequests || code != "TOO_MANY_REQUESTS" || msg == "" || r.header.Get("Retry-After") == "" {
					t.Fatalf("request %d: %d %v %s, want 429 with Retry-After", i, r.status, r.header, r.body)
				}
			}
			otherTok, err := e.m.Token("other")
			if err != nil {
				t.Fatal(err)
			}
			if r := e.do(http.MethodGet, path, otherTok, nil, nil); r.status != http.StatusNotFound {
				t.Errorf("another client: %d %s, want 404 (its own limit)", r.status, r.body)
			}
		})
	}
}
