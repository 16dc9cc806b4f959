package webhooks

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/vagate/vagate/core/provider"
)

// Secret is an endpoint's signing secret, "whsec_" + base64 of its key. It
// is the one redacting secret type: it never shows in logs, fmt or JSON.
type Secret = provider.Secret

// SecretPrefix starts every signing secret, as in the Standard Webhooks
// libraries, which strip it before decoding the key.
const SecretPrefix = "whsec_"

// secretBytes is the length of a generated key (the scheme asks for 24 to 64).
const secretBytes = 32

// NewSecret generates a signing secret: "whsec_" + base64 of 32 random bytes.
func NewSecret() Secret {
	b := make([]byte, secretBytes)
	rand.Read(b) // never fails (crypto/rand)
	return Secret(SecretPrefix + base64.StdEncoding.EncodeToString(b))
}

// errBadSecret is returned for a secret that is not "whsec_" + base64.
var errBadSecret = errors.New("webhooks: a signing secret must be whsec_ followed by base64")

// key decodes a secret's HMAC key.
func key(s Secret) ([]byte, error) {
	raw, ok := strings.CutPrefix(string(s), SecretPrefix)
	if !ok {
		return nil, errBadSecret
	}
	k, err := base64.StdEncoding.DecodeString(raw)
	if err != nil || len(k) == 0 {
		return nil, errBadSecret
	}
	return k, nil
}

// Sign is the value of the webhook-signature header of a message per the
// Standard Webhooks scheme: for each secret, "v1," + base64 of the
// HMAC-SHA256 of "<id>.<unix seconds>.<body>", space-separated (a receiver
// accepts the message when any one of them verifies).
func Sign(id string, ts time.Time, body []byte, secrets ...Secret) (string, error) {
	if len(secrets) == 0 {
		return "", errors.New("webhooks: no secret to sign with")
	}
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		k, err := key(s)
		if err != nil {
			return "", err
		}
		h := hmac.New(sha256.New, k)
		h.Write([]byte(id))
		h.Write([]byte{'.'})
		h.Write(strconv.AppendInt(nil, ts.Unix(), 10))
		h.Write([]byte{'.'})
		h.Write(body)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(h.Sum(nil)))
	}
	return strings.Join(sigs, " "), nil
}
