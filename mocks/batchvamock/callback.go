package batchvamock

import (
	"bytes"
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
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

// deliver POSTs the finished job's status to its callbackUrl, retrying
// until a 2xx answer or CallbackAttempts attempts.
func (m *Mock) deliver(ctx context.Context, j *job, body []byte) {
	rec := &CallbackRecord{JobID: j.id, ClientID: j.owner, URL: j.callbackURL, Body: body}
	m.mu.Lock()
	if ctx.Err() != nil {
		m.mu.Unlock()
		return
	}
	m.callbacks = append(m.callbacks, rec)
	m.mu.Unlock()
	for attempt := range CallbackAttempts {
		if attempt > 0 && !sleep(ctx, callbackBackoff[attempt-1]) {
			return
		}
		status, errText, hdr := m.attempt(ctx, j, body)
		m.mu.Lock()
		rec.Attempts++
		rec.LastStatus, rec.LastError, rec.Headers = status, errText, hdr
		rec.Delivered = status >= 200 && status < 300
		m.mu.Unlock()
		if rec.Delivered {
			return
		}
	}
}

// attempt sends one signed callback; it returns the answer's status (0 if
// none), the error and the headers sent.
func (m *Mock) attempt(ctx context.Context, j *job, body []byte) (int, string, http.Header) {
	c, ok := m.client(j.owner)
	if !ok {
		return 0, "client " + j.owner + " no longer exists", nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.callbackURL, bytes.NewReader(body))
	if err != nil {
		return 0, err.Error(), nil
	}
	for k, v := range j.customHeaders {
		req.Header.Set(k, v)
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	nonce := uuid.NewString()
	sig, version, err := sign(&c, SignedPayload(ts, nonce, body))
	if err != nil {
		return 0, err.Error(), nil
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "batchvamock")
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderNonce, nonce)
	req.Header.Set(HeaderSignature, sig)
	if version != "" {
		req.Header.Set(HeaderSignatureVersion, version)
	}
	hdr := req.Header.Clone()
	resp, err := m.cbClient.Do(req)
	if err != nil {
		return 0, err.Error(), hdr
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp.StatusCode, "", hdr
}
