package batchva

import (
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vagate/vagate/core/bank"
)

// Callback signature headers.
const (
	HeaderSignature        = "Bcb-Signature"
	HeaderTimestamp        = "Bcb-Timestamp"
	HeaderNonce            = "Bcb-Nonce"
	HeaderSignatureVersion = "Bcb-Signature-Version"
	// SignatureVersionRSA marks an RSA-PSS + SHA-256 signature.
	SignatureVersionRSA = "rsa-v1"
)

// MaxCallbackSkew is how far a callback's timestamp may be from now.
const MaxCallbackSkew = 5 * time.Minute

// ErrBadSignature is returned for any callback that fails verification.
var ErrBadSignature = errors.New("batchva: callback signature not valid")

// SignedPayload is the byte string a callback signature covers.
func SignedPayload(timestamp, nonce string, body []byte) []byte {
	b := make([]byte, 0, len(timestamp)+len(nonce)+2+len(body))
	b = append(b, timestamp...)
	b = append(b, '.')
	b = append(b, nonce...)
	b = append(b, '.')
	return append(b, body...)
}

// VerifyWebhook authenticates a job-completion callback and reports the job.
func (a *Adapter) VerifyWebhook(r *http.Request, body []byte) ([]bank.ProviderEvent, error) {
	ts, nonce := r.Header.Get(HeaderTimestamp), r.Header.Get(HeaderNonce)
	sig, err := base64.StdEncoding.DecodeString(r.Header.Get(HeaderSignature))
	if err != nil || len(sig) == 0 || ts == "" || nonce == "" {
		return nil, fmt.Errorf("%w: missing or unreadable %s/%s/%s", ErrBadSignature, HeaderSignature, HeaderTimestamp, HeaderNonce)
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: bad timestamp", ErrBadSignature)
	}
	at := time.Unix(secs, 0)
	if skew := a.now().Sub(at); skew > MaxCallbackSkew || skew < -MaxCallbackSkew {
		return nil, fmt.Errorf("%w: timestamp outside ±%s", ErrBadSignature, MaxCallbackSkew)
	}
	msg := SignedPayload(ts, nonce, body)
	version := r.Header.Get(HeaderSignatureVersion)
	switch {
	case a.rsaKey != nil:
		if version != SignatureVersionRSA {
			return nil, fmt.Errorf("%w: response signing is enabled, want %s", ErrBadSignature, SignatureVersionRSA)
		}
		sum := sha256.Sum256(msg)
		if rsa.VerifyPSS(a.rsaKey, crypto.SHA256, sum[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) != nil {
			return nil, ErrBadSignature
		}
	case a.cfg.SigningSecret != "":
		if version != "" {
			return nil, fmt.Errorf("%w: unexpected %s %q for HMAC", ErrBadSignature, HeaderSignatureVersion, version)
		}
		mac := hmac.New(sha256.New, []byte(a.cfg.SigningSecret))
		mac.Write(msg)
		if !hmac.Equal(mac.Sum(nil), sig) {
			return nil, ErrBadSignature
		}
	default:
		return nil, fmt.Errorf("%w: no signing secret or key configured", ErrBadSignature)
	}
	var st jobStatus
	if err := json.Unmarshal(body, &st); err != nil || st.JobID == "" {
		return nil, fmt.Errorf("batchva: callback body is not a job status: %v", err)
	}
	if !a.nonces.use(nonce, a.now()) {
		return nil, fmt.Errorf("%w: %s %q already accepted (a replay)", ErrBadSignature, HeaderNonce, nonce)
	}
	ev := bank.ProviderEvent{
		Type: bank.EventJobFinished, ProviderJobID: st.JobID, ProviderJobStatus: st.Status,
		At: at.UTC(), Raw: append(json.RawMessage(nil), body...),
	}
	for k, v := range r.Header {
		if strings.HasPrefix(k, "X-") && len(v) > 0 {
			if ev.Headers == nil {
				ev.Headers = map[string]string{}
			}
			ev.Headers[k] = v[0]
		}
	}
	return []bank.ProviderEvent{ev}, nil
}

// nonceCache remembers the Bcb-Nonce of every callback accepted within
// twice MaxCallbackSkew: a callback is signed once per nonce, so one whose
// nonce was seen is a replay. Only verified callbacks reach it, so its size
// is bounded by what the provider sends.
type nonceCache struct {
	mu   sync.Mutex
	seen map[string]time.Time // nonce → when it may be forgotten
	adds int
}

// use records nonce and reports whether it was new.
func (c *nonceCache) use(nonce string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if exp, ok := c.seen[nonce]; ok && now.Before(exp) {
		return false
	}
	if c.seen == nil {
		c.seen = map[string]time.Time{}
	}
	c.seen[nonce] = now.Add(2 * MaxCallbackSkew)
	if c.adds++; c.adds%256 == 0 {
		for n, exp := range c.seen {
			if !now.Before(exp) {
				delete(c.seen, n)
			}
		}
	}
	return true
}
