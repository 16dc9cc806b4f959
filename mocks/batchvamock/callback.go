package batchvamock

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/vagate/vagate/mocks/hook"
)

// Callback signing headers.
const (
	HeaderSignature        = "Bcb-Signature"
	HeaderTimestamp        = "Bcb-Timestamp"
	HeaderNonce            = "Bcb-Nonce"
	HeaderSignatureVersion = "Bcb-Signature-Version"
	SignatureVersionRSA    = "rsa-v1"
)

// SignedPayload is the byte string a callback signature covers: "<timestamp>.<nonce>.<body>".
func SignedPayload(timestamp, nonce string, body []byte) []byte {
	b := make([]byte, 0, len(timestamp)+len(nonce)+2+len(body))
	b = append(b, timestamp...)
	b = append(b, '.')
	b = append(b, nonce...)
	b = append(b, '.')
	return append(b, body...)
}

// sign returns the Bcb-Signature of msg for c and the Bcb-Signature-Version ("" for HMAC).
func sign(c *Client, msg []byte) (sig, version string, err error) {
	if c.RSAKey != nil {
		sum := sha256.Sum256(msg)
		s, err := rsa.SignPSS(rand.Reader, c.RSAKey, crypto.SHA256, sum[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		if err != nil {
			return "", "", err
		}
		return base64.StdEncoding.EncodeToString(s), SignatureVersionRSA, nil
	}
	mac := hmac.New(sha256.New, []byte(c.SigningSecret))
	mac.Write(msg)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil)), "", nil
}

// callbackInfo is what a callback record says beyond the message.
type callbackInfo struct{ jobID, clientID string }

// callback is the completion callback of j with body: sent to its
// callbackUrl (the target: callbacks to one URL go out in order), with its
// custom headers, signed for its owner with a fresh timestamp and nonce at
// every attempt; its status is the job's, for the webhook fault rules.
func (m *Mock) callback(j *job, body []byte) hook.Message {
	hdr := http.Header{}
	for k, v := range j.customHeaders {
		hdr.Set(k, v)
	}
	owner := j.owner
	return hook.Message{Target: j.callbackURL, URL: j.callbackURL, Status: j.state, Body: body, Header: hdr,
		Info: callbackInfo{jobID: j.id, clientID: owner},
		Sign: func(body []byte) (http.Header, error) {
			c, ok := m.client(owner)
			if !ok {
				return nil, errors.New("client " + owner + " no longer exists")
			}
			ts := strconv.FormatInt(time.Now().Unix(), 10)
			nonce := uuid.NewString()
			sig, version, err := sign(&c, SignedPayload(ts, nonce, body))
			if err != nil {
				return nil, err
			}
			h := http.Header{}
			h.Set(HeaderTimestamp, ts)
			h.Set(HeaderNonce, nonce)
			h.Set(HeaderSignature, sig)
			if version != "" {
				h.Set(HeaderSignatureVersion, version)
			}
			return h, nil
		}}
}
