package parentprimary

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/provider"
)

// Style is the provider style name this package implements.
const Style = "parentprimary"

// PathVirtual is the provider's virtual-account collection.
const PathVirtual = "/v1/partner/accounts/virtual"

// Request authentication headers.
const (
	HeaderAuthorization = "Authorization"
	HeaderDate          = "Date"
	HeaderNonce         = "X-Alg-Nonce"
	HeaderSignature     = "X-Alg-Signature"
)

// Provider params (CreateItem.Params) the adapter reads.
const (
	ParamParentAccountID = "parentAccountId"
	ParamProductCode     = "productCode"
	// ParamProductParametersPrefix prefixes one productParameters member:
	// "productParameters.tier" sets productParameters.tier.
	ParamProductParametersPrefix = "productParameters."
)

// Compile-time guards for the optional interfaces the adapter implements:
// the gateway derives its capabilities from them.
var (
	_ provider.AttemptSigner   = (*Adapter)(nil)
	_ provider.Adapter         = (*Adapter)(nil)
	_ provider.Closer          = (*Adapter)(nil)
	_ provider.ParamsValidator = (*Adapter)(nil)
)

// closeNamespace derives delete idempotency keys that are not UUIDs already.
var closeNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/vagate/vagate/adapters/parentprimary#delete"))

// Adapter speaks the parent-primary provider's wire format.
type Adapter struct {
	cfg        Config
	base       string
	currencies []string
	products   map[string]string
	hc         *http.Client
	now        func() time.Time
	nonce      func() string
}

var _ provider.MoneyAccounts = (*Adapter)(nil)

// Open validates cfg and returns an adapter.
func Open(cfg Config, opts *Options) (*Adapter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("parentprimary: %w", err)
	}
	a := &Adapter{
		cfg:      cfg,
		base:     strings.TrimRight(cfg.BaseURL, "/"),
		products: maps.Clone(DefaultProductCodes),
		hc:       &http.Client{Timeout: 30 * time.Second},
		now:      time.Now,
		nonce:    uuid.NewString,
	}
	maps.Copy(a.products, cfg.ProductCodes)
	a.currencies = append([]string(nil), cfg.Currencies...)
	if len(a.currencies) == 0 {
		a.currencies = sortedKeys(cfg.ParentAccounts)
	}
	if opts != nil {
		if opts.HTTPClient != nil {
			a.hc = opts.HTTPClient
		}
		if opts.Now != nil {
			a.now = opts.Now
		}
		if opts.Nonce != nil {
			a.nonce = opts.Nonce
		}
	}
	return a, nil
}

// Capabilities declares the provider's facts: one account per call and an
// idempotency key in the body. Delete follows from the Closer the adapter
// implements.
func (a *Adapter) Capabilities() provider.Capabilities {
	return provider.Capabilities{
		Style:            Style,
		Currencies:       append([]string(nil), a.currencies...),
		MaxBatch:         1,
		IdempotentCreate: true,
	}
}

// ErrorCode classifies the adapter's errors.
func (a *Adapter) ErrorCode(err error) bank.ErrorCode {
	var se *provider.StatusError
	if errors.As(err, &se) && se.StatusCode == http.StatusConflict &&
		(se.ProviderCode == CodeBalanceNotZero || se.ProviderCode == CodeAccountDeleted) {
		return bank.FailedPrecondition
	}
	return provider.ClassifyHTTP(err)
}

// ValidateParams accepts parentAccountId (a UUID), productCode and
// productParameters.<name>; for a supported currency it requires
// parentAccountId and productCode when the config has none for it.
func (a *Adapter) ValidateParams(currency string, params map[string]string) []bank.FieldError {
	var fs []bank.FieldError
	bad := func(key, msg string) {
		fs = append(fs, bank.FieldError{Pointer: "/" + escapePointer(key), Message: msg})
	}
	for _, k := range sortedKeys(params) {
		v := params[k]
		switch name, isPP := strings.CutPrefix(k, ParamProductParametersPrefix); {
		case k == ParamParentAccountID:
			if !isUUID(v) {
				bad(k, "must be the UUID of a primary account")
			}
		case k == ParamProductCode:
			if !productCodeRE.MatchString(v) {
				bad(k, "must be a product code like FIAT_ACCOUNT_UK_V1")
			}
		case isPP && name == "":
			bad(k, "names no productParameters member")
		case isPP && isReserved(name):
			bad(k, fmt.Sprintf("productParameters.%s is set from the item's own %s field", name, name))
		case isPP:
		default:
			bad(k, fmt.Sprintf("unknown provider param; provider style %s takes %s, %s and %s<name>",
				Style, ParamParentAccountID, ParamProductCode, ParamProductParametersPrefix))
		}
	}
	if a.supports(currency) {
		if params[ParamParentAccountID] == "" && a.cfg.ParentAccounts[currency] == "" {
			bad(ParamParentAccountID, "is required: no parent (primary) account is configured for "+currency)
		}
		if params[ParamProductCode] == "" && a.products[currency] == "" {
			bad(ParamProductCode, "is required: no product code is configured for "+currency)
		}
	}
	return fs
}

func (a *Adapter) supports(currency string) bool {
	for _, c := range a.currencies {
		if c == currency {
			return true
		}
	}
	return false
}

func isReserved(name string) bool {
	for _, r := range reservedParams {
		if r == name {
			return true
		}
	}
	return false
}

// escapePointer escapes a JSON pointer token (RFC 6901).
func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// ItemKey derives the body idempotencyKey of item i from the request key
// (UUID v5), so a resend of the same request never creates twice. Without a
// request key each call gets a fresh random key.
func ItemKey(requestKey string, i int) string {
	if requestKey == "" {
		return uuid.NewString()
	}
	ns, err := uuid.Parse(requestKey)
	if err != nil {
		ns = uuid.NewSHA1(uuid.NameSpaceOID, []byte(requestKey))
	}
	return uuid.NewSHA1(ns, fmt.Appendf(nil, "parentprimary-item-%d", i)).String()
}

// CloseKey is the delete idempotencyKey: the close's key when it is a UUID,
// else a UUID v5 of it, else a UUID v5 of the account id, so that a resent
// close is always the same delete.
func CloseKey(ref, key string) string {
	switch {
	case isUUID(key):
		return lower(key)
	case key != "":
		return uuid.NewSHA1(closeNamespace, []byte("key:"+key)).String()
	}
	return uuid.NewSHA1(closeNamespace, []byte("account:"+ref)).String()
}

// ValidateItem refuses, in the create's 400 and before anything is sent, an
// item without the UUID customerId this provider requires.
func (a *Adapter) ValidateItem(it *provider.CreateItem) []bank.FieldError {
	switch {
	case it.CustomerID == "":
		return []bank.FieldError{{Pointer: "/customerId",
			Message: "is required by provider " + Style + ": the provider's customer id (a UUID) who will own the account"}}
	case !isUUID(it.CustomerID):
		return []bank.FieldError{{Pointer: "/customerId", Message: "must be a UUID for provider " + Style}}
	}
	return nil
}

// CreateAccounts creates each item with its own POST (the provider makes one
// account per call). Items are checked first; a bad customerId or param is
// an InvalidArgument naming every bad field, and nothing is sent. With one
// item, its failure is the call's error; with several, each item carries
// its own outcome.
func (a *Adapter) CreateAccounts(ctx context.Context, req *provider.CreateRequest) (*provider.CreateResult, error) {
	var fields []bank.FieldError
	bodies := make([]createRequest, len(req.Items))
	for i := range req.Items {
		it := &req.Items[i]
		ptr := fmt.Sprintf("/items/%d", i)
		switch {
		case it.CustomerID == "":
			fields = append(fields, bank.FieldError{Pointer: ptr + "/customerId",
				Message: "is required by provider " + Style + ": the provider's customer id (a UUID) who will own the account"})
		case !isUUID(it.CustomerID):
			fields = append(fields, bank.FieldError{Pointer: ptr + "/customerId", Message: "must be a UUID for provider " + Style})
		}
		if it.Unallocated {
			fields = append(fields, bank.FieldError{Pointer: ptr + "/unallocated", Message: "provider " + Style + " creates no unallocated accounts"})
		}
		for _, fe := range a.ValidateParams(it.Currency, it.Params) {
			fe.Pointer = ptr + "/providerParams" + fe.Pointer
			fields = append(fields, fe)
		}
		bodies[i] = a.createBody(req.IdempotencyKey, i, it)
	}
	if len(fields) > 0 {
		return nil, &bank.Error{Code: bank.InvalidArgument,
			Err:    fmt.Errorf("%d invalid field(s), first %s: %s", len(fields), fields[0].Pointer, fields[0].Message),
			Fields: fields}
	}
	items := make([]provider.ItemResult, len(bodies))
	for i := range bodies {
		acc, err := a.create(ctx, &bodies[i])
		if err != nil && len(bodies) == 1 {
			return nil, err
		}
		items[i] = provider.ItemResult{Account: acc, Err: err}
	}
	return &provider.CreateResult{Items: items}, nil
}

// createBody builds the provider's create body for one item.
func (a *Adapter) createBody(requestKey string, i int, it *provider.CreateItem) createRequest {
	b := createRequest{
		CustomerID:      lower(it.CustomerID),
		IdempotencyKey:  ItemKey(requestKey, i),
		ParentAccountID: lower(it.Params[ParamParentAccountID]),
		ProductCode:     it.Params[ParamProductCode],
	}
	if b.ParentAccountID == "" {
		b.ParentAccountID = lower(a.cfg.ParentAccounts[it.Currency])
	}
	if b.ProductCode == "" {
		b.ProductCode = a.products[it.Currency]
	}
	pp := map[string]string{}
	for k, v := range it.Params {
		if name, ok := strings.CutPrefix(k, ParamProductParametersPrefix); ok {
			pp[name] = v
		}
	}
	for _, f := range []struct{ name, v string }{
		{ParamAccountHolderName, it.AccountHolderName},
		{ParamAccountName, it.AccountName},
		{ParamClientReference, it.ClientReference},
		{ParamDOB, it.DOB},
		{ParamNativeLanguageName, it.NativeLanguageName},
	} {
		if f.v != "" {
			pp[f.name] = f.v
		}
	}
	if len(pp) > 0 {
		b.ProductParameters = pp
	}
	return b
}

// create sends one create and maps the answer.
func (a *Adapter) create(ctx context.Context, body *createRequest) (*bank.Account, error) {
	var w wireAccount
	raw, err := a.do(ctx, http.MethodPost, PathVirtual, body, &w)
	if err != nil {
		return nil, err
	}
	acc, err := account(&w, raw, "create")
	if err != nil {
		return nil, err
	}
	if w.params() == nil {
		// The provider did not echo productParameters: keep what was sent.
		p := body.ProductParameters
		acc.AccountHolderName, acc.AccountName = p[ParamAccountHolderName], p[ParamAccountName]
		acc.ClientReference, acc.DOB, acc.NativeLanguageName = p[ParamClientReference], p[ParamDOB], p[ParamNativeLanguageName]
	}
	return acc, nil
}

func account(w *wireAccount, raw []byte, op string) (*bank.Account, error) {
	if w.ID == "" || w.State == "" {
		return nil, &provider.MalformedError{Op: op, Err: errors.New("account without id or state")}
	}
	return toAccount(w, raw), nil
}

// GetAccount reads one virtual account by its id.
func (a *Adapter) GetAccount(ctx context.Context, ref string) (*bank.Account, error) {
	var w wireAccount
	raw, err := a.do(ctx, http.MethodGet, PathVirtual+"/"+url.PathEscape(ref), nil, &w)
	if err != nil {
		return nil, err
	}
	return account(&w, raw, "get")
}

// Close deletes the virtual account with the reason, requester and notes of
// r (defaults from the config, then DefaultCloseReason and
// DefaultRequestedBy; empty notes are sent as null), then reads it back:
// a deleted account reads as CLOSED. A delete refused because the account is
// already deleted is a success. If the provider no longer serves the
// account, a CLOSED account holding only its id is returned.
func (a *Adapter) Close(ctx context.Context, ref string, r *provider.CloseReason) (*bank.Account, error) {
	if r == nil {
		r = &provider.CloseReason{}
	}
	body := deleteRequest{
		IdempotencyKey: CloseKey(ref, r.IdempotencyKey),
		RequestedBy:    firstNonBlank(r.RequestedBy, a.cfg.RequestedBy, DefaultRequestedBy),
		Reason:         firstNonBlank(r.Reason, a.cfg.CloseReason, DefaultCloseReason),
	}
	if strings.TrimSpace(r.Notes) != "" {
		body.Notes = &r.Notes
	}
	// The same key again is idempotent at the provider; a deleted account
	// refuses any other key (409 ACCOUNT_DELETED: FailedPrecondition).
	if _, err := a.do(ctx, http.MethodDelete, PathVirtual+"/"+url.PathEscape(ref), body, nil); err != nil {
		return nil, err
	}
	var se *provider.StatusError
	acc, err := a.GetAccount(ctx, ref)
	if err != nil {
		if errors.As(err, &se) && (se.StatusCode == http.StatusNotFound || se.StatusCode == http.StatusGone) {
			return &bank.Account{ProviderAccountID: ref, Status: bank.StatusClosed, ProviderStatus: StateDeleted}, nil
		}
		return nil, err
	}
	return acc, nil
}

func firstNonBlank(vs ...string) string {
	for _, v := range vs {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}

// StringToSign is the byte string a request signature covers:
//
//	METHOD "\n" REQUEST-TARGET "\n" DATE "\n" NONCE "\n" hex(sha256(body))
func StringToSign(method, target, date, nonce string, body []byte) string {
	sum := sha256.Sum256(body)
	return method + "\n" + target + "\n" + date + "\n" + nonce + "\n" + hex.EncodeToString(sum[:])
}

// Sign returns the x-alg-signature: standard base64 of HMAC-SHA256 keyed by
// the signing secret over StringToSign.
func Sign(secret []byte, method, target, date, nonce string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(StringToSign(method, target, date, nonce, body)))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// sign sets a fresh date, nonce and signature on req.
func (a *Adapter) sign(req *http.Request, body []byte) {
	date := a.now().UTC().Format(http.TimeFormat)
	nonce := a.nonce()
	req.Header.Set(HeaderDate, date)
	req.Header.Set(HeaderNonce, nonce)
	req.Header.Set(HeaderSignature, Sign([]byte(a.cfg.SigningSecret), req.Method, req.URL.RequestURI(), date, nonce, body))
}

// SignAttempt signs one attempt anew: a retried request must not reuse the
// nonce or the date of an earlier one.
func (a *Adapter) SignAttempt(req *http.Request) error {
	var body []byte
	switch {
	case req.GetBody != nil:
		rc, err := req.GetBody()
		if err != nil {
			return err
		}
		body, err = io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return err
		}
	case req.Body != nil && req.Body != http.NoBody:
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return err
		}
		body = b
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	a.sign(req, body)
	return nil
}

// do sends one signed request and decodes a success body into out.
func (a *Adapter) do(ctx context.Context, method, path string, in, out any) ([]byte, error) {
	var body []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = b
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if body == nil {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set(HeaderAuthorization, "Bearer "+string(a.cfg.APIToken))
	a.sign(req, body)
	resp, err := a.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return provider.ReadJSON(resp, resp.StatusCode >= 200 && resp.StatusCode <= 299, out, decodeError)
}

func decodeError(body []byte) (string, string) {
	var e wireError
	if json.Unmarshal(body, &e) != nil {
		return "", ""
	}
	return e.Code, e.Message
}

// MoneyAccountParams names the providerParams key that chooses a provider-side
// money account: ParentAccountID.
func (a *Adapter) MoneyAccountParams() []string { return []string{ParamParentAccountID} }

// DefaultMoneyAccounts lists the configured parent accounts (parentAccounts): any tenant may name them.
func (a *Adapter) DefaultMoneyAccounts() []string {
	ids := make([]string, 0, len(a.cfg.ParentAccounts))
	for _, id := range a.cfg.ParentAccounts {
		ids = append(ids, id)
	}
	return ids
}
