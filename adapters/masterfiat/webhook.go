package masterfiat

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/vagate/vagate/core/bank"
)

// Webhook signature headers (the provider's HTTP Message Signatures scheme, label fr1).
const (
	HeaderDigest         = "Digest"
	HeaderSignatureInput = "Signature-Input"
	HeaderSignature      = "Signature"
)

// ErrBadSignature is returned for any webhook that fails verification.
var ErrBadSignature = errors.New("masterfiat: webhook signature not valid")

var (
	inputRE     = regexp.MustCompile(`^fr1=(\("digest"\);created=([0-9]{1,12}))$`)
	signatureRE = regexp.MustCompile(`^fr1=:([0-9a-fA-F]{64}):$`)
)

// signatureBase is the string the provider's HMAC covers.
func signatureBase(digest, params string) []byte {
	return []byte(`"digest": ` + digest + "\n@signature-params: " + params)
}

// VerifyWebhook authenticates a webhook and maps a VIRTUAL_ACCOUNT event to
// an account update whose At is the account's updatedAt. Verified events
// about other objects yield nothing.
func (a *Adapter) VerifyWebhook(r *http.Request, body []byte) ([]bank.ProviderEvent, error) {
	if a.cfg.WebhookSecret == "" {
		return nil, fmt.Errorf("%w: no webhookSecret configured", ErrBadSignature)
	}
	in := inputRE.FindStringSubmatch(r.Header.Get(HeaderSignatureInput))
	sm := signatureRE.FindStringSubmatch(r.Header.Get(HeaderSignature))
	if in == nil || sm == nil {
		return nil, fmt.Errorf("%w: missing or malformed %s/%s", ErrBadSignature, HeaderSignatureInput, HeaderSignature)
	}
	created, _ := strconv.ParseInt(in[2], 10, 64)
	if skew := a.now().Sub(time.Unix(created, 0)); skew > a.tolerance || skew < -a.tolerance {
		return nil, fmt.Errorf("%w: created outside ±%s", ErrBadSignature, a.tolerance)
	}
	sum := sha1.Sum(body)
	digest := hex.EncodeToString(sum[:])
	if !hmac.Equal([]byte(strings.ToLower(r.Header.Get(HeaderDigest))), []byte(digest)) {
		return nil, fmt.Errorf("%w: %s does not match the body", ErrBadSignature, HeaderDigest)
	}
	got, _ := hex.DecodeString(sm[1])
	mac := hmac.New(sha256.New, []byte(a.cfg.WebhookSecret))
	mac.Write(signatureBase(digest, in[1]))
	if !hmac.Equal(mac.Sum(nil), got) {
		return nil, ErrBadSignature
	}
	var ev webhookEvent
	if err := json.Unmarshal(body, &ev); err != nil || ev.Event == "" {
		return nil, fmt.Errorf("masterfiat: webhook body is not an event: %v", err)
	}
	if int64(ev.CreatedAt)/1000 != created {
		return nil, fmt.Errorf("%w: signed created %d is not the event's createdAt", ErrBadSignature, created)
	}
	if !strings.HasPrefix(ev.Event, "VIRTUAL_ACCOUNT.") {
		return nil, nil
	}
	acc, err := decodeAccount("webhook", ev.Data)
	if err != nil {
		return nil, err
	}
	at := acc.UpdatedAt
	if at.IsZero() {
		at = ev.CreatedAt.time()
	}
	return []bank.ProviderEvent{{
		Type: bank.EventAccountUpdated, ProviderAccountID: acc.ProviderAccountID, Account: acc,
		At: at, Raw: append(json.RawMessage(nil), body...),
	}}, nil
}
