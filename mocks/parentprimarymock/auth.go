package parentprimarymock

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"time"
)

// Request authentication headers.
const (
	HeaderAuthorization = "Authorization"
	HeaderDate          = "Date"
	HeaderNonce         = "X-Alg-Nonce"
	HeaderSignature     = "X-Alg-Signature"
)

// Nonce length limits.
const (
	MinNonce = 16
	MaxNonce = 128
)

// StringToSign is the byte string a request signature covers:
//
//	METHOD "\n" REQUEST-TARGET "\n" DATE "\n" NONCE "\n" hex(sha256(body))
//
// METHOD is upper case, REQUEST-TARGET the path and query exactly as sent on
// the request line, DATE and NONCE the header values, and the body hash is of
// the exact body bytes (of zero bytes when there is no body).
func StringToSign(method, target, date, nonce string, body []byte) string {
	sum := sha256.Sum256(body)
	return method + "\n" + target + "\n" + date + "\n" + nonce + "\n" + hex.EncodeToString(sum[:])
}

// Sign returns the x-alg-signature of a request: standard base64 of
// HMAC-SHA256 keyed by the signing secret over StringToSign.
func Sign(secret, method, target, date, nonce string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(StringToSign(method, target, date, nonce, body)))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

type partnerKey struct{}

func contextWithBody(ctx context.Context, b []byte) context.Context {
	return context.WithValue(ctx, bodyKey{}, b)
}

// bodyOf returns the buffered request body.
func bodyOf(r *http.Request) []byte {
	b, _ := r.Context().Value(bodyKey{}).([]byte)
	return b
}

// partnerOf returns the authenticated partner's id.
func partnerOf(r *http.Request) string {
	p, _ := r.Context().Value(partnerKey{}).(string)
	return p
}

// authenticate checks, in order: the API token (Authorization: Bearer
// <token>), the date (within MaxSkew of the mock's clock), the nonce (16 to
// 128 visible ASCII characters), the signature, and finally that the nonce
// is new for the partner. Every failure is 401 with its own code; a nonce is
// remembered only once its signature is good.
//
// The document marks all four headers Optional. In lenient mode (the
// default) a request without authorization acts for the first partner of
// Options.Partners, and one without all three of date, x-alg-nonce and
// x-alg-signature is unsigned and accepted; a header that is sent is checked
// all the same, and a signature is never accepted in part. In strict mode
// all four are required.
func (m *Mock) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header
		authz, date, nonce, sig := h.Get(HeaderAuthorization), h.Get(HeaderDate), h.Get(HeaderNonce), h.Get(HeaderSignature)
		strict := m.opts.Strict
		m.mu.Lock()
		var p *Partner
		tok, bearer := strings.CutPrefix(authz, "Bearer ")
		switch {
		case authz == "" && !strict && len(m.opts.Partners) > 0:
			p = m.partners[strings.ToLower(m.opts.Partners[0].ID)]
		case bearer && tok != "":
			p = m.byToken[tok]
		}
		var partner Partner
		if p != nil {
			partner = *p
		}
		now, skew := m.nowLocked(), m.cfg.MaxSkew
		m.mu.Unlock()
		if p == nil {
			writeError(w, http.StatusUnauthorized, CodeUnauthorized, "authorization: a known API token is required as \"Bearer <token>\"")
			return
		}
		if !strict && date == "" && nonce == "" && sig == "" {
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), partnerKey{}, partner.ID)))
			return
		}
		at, err := http.ParseTime(date)
		if err != nil {
			writeError(w, http.StatusUnauthorized, CodeRequestExpired, "date: required, as an HTTP date in GMT")
			return
		}
		if d := now.Sub(at); d > skew || d < -skew {
			writeError(w, http.StatusUnauthorized, CodeRequestExpired, "date: more than "+skew.String()+" from the server's clock")
			return
		}
		if !validNonce(nonce) {
			writeError(w, http.StatusUnauthorized, CodeInvalidNonce, "x-alg-nonce: required, 16 to 128 visible ASCII characters")
			return
		}
		want := Sign(partner.SigningSecret, r.Method, r.RequestURI, date, nonce, bodyOf(r))
		if subtle.ConstantTimeCompare([]byte(want), []byte(sig)) != 1 {
			writeError(w, http.StatusUnauthorized, CodeInvalidSignature, "x-alg-signature: does not match the request")
			return
		}
		if !m.useNonce(partner.ID, nonce, now.Add(2*skew)) {
			writeError(w, http.StatusUnauthorized, CodeNonceReused, "x-alg-nonce: already used")
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), partnerKey{}, partner.ID)))
	})
}

func validNonce(s string) bool {
	if len(s) < MinNonce || len(s) > MaxNonce {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// useNonce records a partner's nonce until expiry; it reports false when the
// nonce is still remembered. Expired nonces are dropped now and then.
func (m *Mock) useNonce(partner, nonce string, expiry time.Time) bool {
	k := partner + "\x00" + nonce
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.nowLocked()
	if exp, ok := m.nonces[k]; ok && now.Before(exp) {
		return false
	}
	m.nonces[k] = expiry
	if m.nonceAdds++; m.nonceAdds%1024 == 0 {
		for k, exp := range m.nonces {
			if !now.Before(exp) {
				delete(m.nonces, k)
			}
		}
	}
	return true
}
