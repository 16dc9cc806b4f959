package masterfiat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/provider"
)

// Style is the provider style name this package implements.
const Style = "masterfiat"

// CodeInvalidTransition is the provider error code of a lifecycle call its
// current status does not allow.
const CodeInvalidTransition = "INVALID_STATUS_TRANSITION"

// Provider params the adapter reads (CreateItem.Params).
const (
	ParamEndUserID           = "endUserId"
	ParamMasterFiatAccountID = "masterFiatAccountId"
	ParamLabel               = "label"
)

// Documented field limits (the mock's; the document gives none).
const (
	MaxLabel         = 255
	MaxMetadataValue = 500
	// maxFindPages bounds how many list pages FindByReference reads.
	maxFindPages = 20
)

// Compile-time guards for the optional interfaces the adapter implements:
// the gateway derives its capabilities from them.
var (
	_ provider.Adapter         = (*Adapter)(nil)
	_ provider.MoneyAccounts   = (*Adapter)(nil)
	_ provider.Blocker         = (*Adapter)(nil)
	_ provider.Closer          = (*Adapter)(nil)
	_ provider.Finder          = (*Adapter)(nil)
	_ provider.Lister          = (*Adapter)(nil)
	_ provider.WebhookVerifier = (*Adapter)(nil)
	_ provider.ParamsValidator = (*Adapter)(nil)
)

// Adapter speaks the master fiat account provider's wire format.
type Adapter struct {
	cfg       Config
	base      string
	hc        *http.Client
	now       func() time.Time
	tolerance time.Duration

	tokens provider.TokenCache
}

// Open validates cfg and returns an adapter.
func Open(cfg Config, opts *Options) (*Adapter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("masterfiat: %w", err)
	}
	cfg.MasterFiatAccounts = maps.Clone(cfg.MasterFiatAccounts)
	if len(cfg.Currencies) == 0 {
		cfg.Currencies = slices.Sorted(maps.Keys(cfg.MasterFiatAccounts))
	}
	if len(cfg.Currencies) == 0 {
		cfg.Currencies = slices.Clone(DefaultCurrencies)
	}
	if cfg.Scope == "" {
		cfg.Scope = "PAYMENTS"
	}
	a := &Adapter{cfg: cfg, base: strings.TrimRight(cfg.BaseURL, "/"), hc: &http.Client{Timeout: 30 * time.Second},
		now: time.Now, tolerance: DefaultWebhookTolerance}
	if cfg.WebhookTolerance != "" {
		a.tolerance, _ = time.ParseDuration(cfg.WebhookTolerance)
	}
	if opts != nil && opts.HTTPClient != nil {
		a.hc = opts.HTTPClient
	}
	if opts != nil && opts.Now != nil {
		a.now = opts.Now
	}
	a.tokens.Now = a.now
	return a, nil
}

// Capabilities declares the provider's facts: one account per call, no
// unallocated accounts, no idempotency key; webhooks off when no secret is
// configured. Block/unblock, close, lookup by reference (metadata) and
// webhooks follow from the interfaces the adapter implements.
func (a *Adapter) Capabilities() provider.Capabilities {
	c := provider.Capabilities{
		Style:      Style,
		Currencies: slices.Clone(a.cfg.Currencies),
		MaxBatch:   1,
		Limits: provider.Limits{
			AccountName:       MaxLabel,
			AccountHolderName: MaxMetadataValue,
			ClientReference:   MaxMetadataValue,
		},
	}
	if a.cfg.WebhookSecret == "" {
		c.Disabled = []provider.Capability{provider.CapWebhooks}
	}
	return c
}

// ErrorCode classifies the adapter's errors: a lifecycle call the account's
// status does not allow is FailedPrecondition; the rest by HTTP status and
// transport.
func (a *Adapter) ErrorCode(err error) bank.ErrorCode {
	var se *provider.StatusError
	if errors.As(err, &se) && se.StatusCode == http.StatusConflict && se.ProviderCode == CodeInvalidTransition {
		return bank.FailedPrecondition
	}
	return provider.ClassifyHTTP(err)
}

// ValidateParams accepts exactly endUserId, masterFiatAccountId and label,
// and requires a master fiat account for the currency (param or config).
func (a *Adapter) ValidateParams(currency string, params map[string]string) []bank.FieldError {
	var fs []bank.FieldError
	bad := func(key, msg string) { fs = append(fs, bank.FieldError{Pointer: "/" + key, Message: msg}) }
	for _, k := range slices.Sorted(maps.Keys(params)) {
		v := params[k]
		switch k {
		case ParamEndUserID:
			if !eusRE.MatchString(v) {
				bad(k, "must be an end user id (eus_...)")
			}
		case ParamMasterFiatAccountID:
			if !facRE.MatchString(v) {
				bad(k, "must be a fiat account id (fac_...)")
			}
		case ParamLabel:
			if strings.TrimSpace(v) == "" || utf8.RuneCountInString(v) > MaxLabel {
				bad(k, fmt.Sprintf("must be 1 to %d characters, not blank", MaxLabel))
			}
		default:
			bad(k, fmt.Sprintf("unknown provider param (accepted: %s, %s, %s)", ParamEndUserID, ParamMasterFiatAccountID, ParamLabel))
		}
	}
	if _, ok := params[ParamMasterFiatAccountID]; !ok && a.cfg.MasterFiatAccounts[currency] == "" {
		bad(ParamMasterFiatAccountID, fmt.Sprintf("is required: no master fiat account is configured for %s", currency))
	}
	return fs
}

// createBody maps one unified item to the provider's create body.
func (a *Adapter) createBody(it *provider.CreateItem) *createRequest {
	body := &createRequest{Currency: it.Currency, MasterFiatAccountID: a.cfg.MasterFiatAccounts[it.Currency], Label: it.AccountName}
	if v := it.Params[ParamMasterFiatAccountID]; v != "" {
		body.MasterFiatAccountID = v
	}
	if v := it.Params[ParamLabel]; v != "" {
		body.Label = v
	}
	switch {
	case it.Params[ParamEndUserID] != "":
		body.EndUserID = it.Params[ParamEndUserID]
	case eusRE.MatchString(it.CustomerID):
		body.EndUserID = it.CustomerID
	}
	md := maps.Clone(it.Metadata)
	if md == nil {
		md = map[string]string{}
	}
	if it.ClientReference != "" {
		md[MetaClientReference] = it.ClientReference
	}
	if it.AccountHolderName != "" {
		md[MetaAccountHolderName] = it.AccountHolderName
	}
	if it.Reference != "" {
		md[MetaReference] = it.Reference
	} else {
		delete(md, MetaReference) // only the gateway sets it
	}
	body.Metadata = metadataString(md)
	return body
}

// CreateAccounts creates each item with one provider call. A single item's
// error is returned whole; with several items each gets its own result.
func (a *Adapter) CreateAccounts(ctx context.Context, req *provider.CreateRequest) (*provider.CreateResult, error) {
	items := make([]provider.ItemResult, len(req.Items))
	for i := range req.Items {
		acc, err := a.createOne(ctx, &req.Items[i])
		if err != nil && len(req.Items) == 1 {
			return nil, err
		}
		items[i] = provider.ItemResult{Account: acc, Err: err}
	}
	return &provider.CreateResult{Items: items}, nil
}

func (a *Adapter) createOne(ctx context.Context, it *provider.CreateItem) (*bank.Account, error) {
	if it.Unallocated {
		return nil, errors.New("masterfiat: the provider has no unallocated accounts")
	}
	return a.accountCall(ctx, "create", http.MethodPost, "/api/v1/virtual-accounts", a.createBody(it))
}

// GetAccount reads one virtual account by its id (vac_...).
func (a *Adapter) GetAccount(ctx context.Context, ref string) (*bank.Account, error) {
	return a.accountCall(ctx, "get", http.MethodGet, "/api/v1/virtual-accounts/"+url.PathEscape(ref), nil)
}

// Block blocks an ACTIVE account; a BLOCKED one is returned unchanged.
func (a *Adapter) Block(ctx context.Context, ref string) (*bank.Account, error) {
	return a.accountCall(ctx, "block", http.MethodPost, "/api/v1/virtual-accounts/"+url.PathEscape(ref)+"/block", nil)
}

// Unblock unblocks a BLOCKED account, which passes through UNBLOCKING; an
// ACTIVE or UNBLOCKING one is returned unchanged.
func (a *Adapter) Unblock(ctx context.Context, ref string) (*bank.Account, error) {
	return a.accountCall(ctx, "unblock", http.MethodPost, "/api/v1/virtual-accounts/"+url.PathEscape(ref)+"/unblock", nil)
}

// Close closes an account for good, sending who asked, why and the notes.
func (a *Adapter) Close(ctx context.Context, ref string, r *provider.CloseReason) (*bank.Account, error) {
	var body any // no body at all when the close says nothing
	if r != nil && (r.Reason != "" || r.RequestedBy != "" || r.Notes != "") {
		body = &closeRequest{Reason: r.Reason, RequestedBy: r.RequestedBy, Notes: r.Notes}
	}
	return a.accountCall(ctx, "close", http.MethodPost, "/api/v1/virtual-accounts/"+url.PathEscape(ref)+"/close", body)
}

// FindByReference lists the accounts whose metadata carries the gateway's
// item reference; accounts the filter returns with another reference are
// dropped.
func (a *Adapter) FindByReference(ctx context.Context, reference string) ([]*bank.Account, error) {
	q := url.Values{"metadata[" + MetaReference + "]": {reference}, "limit": {"100"}}
	out := []*bank.Account{}
	for range maxFindPages {
		var l accountList
		if _, err := a.do(ctx, http.MethodGet, "/api/v1/virtual-accounts?"+q.Encode(), nil, &l); err != nil {
			return nil, err
		}
		for _, raw := range l.Data {
			acc, err := decodeAccount("find", raw)
			if err != nil {
				return nil, err
			}
			if acc.Reference == reference {
				out = append(out, acc)
			}
		}
		if l.NextCursor == nil || *l.NextCursor == "" {
			return out, nil
		}
		q.Set("cursor", *l.NextCursor)
	}
	return nil, &provider.MalformedError{Op: "find", Err: fmt.Errorf("more than %d pages of accounts for one reference", maxFindPages)}
}

// ListAccounts reads one page of every virtual account the client holds,
// in creation order; the cursor is the provider's nextCursor.
func (a *Adapter) ListAccounts(ctx context.Context, cursor string) ([]*bank.Account, string, error) {
	q := url.Values{"limit": {"100"}}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	var l accountList
	if _, err := a.do(ctx, http.MethodGet, "/api/v1/virtual-accounts?"+q.Encode(), nil, &l); err != nil {
		return nil, "", err
	}
	out := make([]*bank.Account, 0, len(l.Data))
	for _, raw := range l.Data {
		acc, err := decodeAccount("list", raw)
		if err != nil {
			return nil, "", err
		}
		out = append(out, acc)
	}
	if l.NextCursor == nil {
		return out, "", nil
	}
	return out, *l.NextCursor, nil
}

func decodeAccount(op string, raw []byte) (*bank.Account, error) {
	var w wireAccount
	if err := json.Unmarshal(raw, &w); err != nil {
		return nil, &provider.MalformedError{Op: op, Err: err}
	}
	acc, err := toAccount(&w, raw)
	if err != nil {
		return nil, &provider.MalformedError{Op: op, Err: err}
	}
	return acc, nil
}

// accountCall sends a request whose success answer is one virtual account.
func (a *Adapter) accountCall(ctx context.Context, op, method, path string, in any) (*bank.Account, error) {
	raw, err := a.do(ctx, method, path, in, nil)
	if err != nil {
		return nil, err
	}
	return decodeAccount(op, raw)
}

// bearer returns a valid access token, fetching one when needed.
func (a *Adapter) bearer(ctx context.Context) (string, error) {
	if a.cfg.Token != "" {
		return string(a.cfg.Token), nil
	}
	return a.tokens.Get(func() (string, time.Duration, error) {
		form := url.Values{"grant_type": {"client_credentials"}, "scope": {a.cfg.Scope},
			"client_id": {a.cfg.ClientID}, "client_secret": {string(a.cfg.ClientSecret)}}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+"/passport/oauth/token", strings.NewReader(form.Encode()))
		if err != nil {
			return "", 0, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		var tr tokenResponse
		if _, err := a.exchange(req, &tr); err != nil {
			return "", 0, err
		}
		return tr.AccessToken, time.Duration(tr.ExpiresIn) * time.Second, nil
	})
}

// do sends an authenticated JSON request and returns the success body.
func (a *Adapter) do(ctx context.Context, method, path string, in, out any) ([]byte, error) {
	tok, err := a.bearer(ctx)
	if err != nil {
		return nil, err
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	raw, err := a.exchange(req, out)
	var se *provider.StatusError
	if errors.As(err, &se) && se.StatusCode == http.StatusUnauthorized && a.cfg.Token == "" {
		a.tokens.Drop()
	}
	return raw, err
}

// exchange performs one HTTP exchange; any 2xx is success, decoded into out.
func (a *Adapter) exchange(req *http.Request, out any) ([]byte, error) {
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
	if e.Code == "" && e.Error != "" {
		return e.Error, e.Description
	}
	return e.Code, e.Message
}

// MoneyAccountParams names the providerParams key that chooses a provider-side
// money account: MasterFiatAccountID.
func (a *Adapter) MoneyAccountParams() []string { return []string{ParamMasterFiatAccountID} }

// DefaultMoneyAccounts lists the configured master fiat accounts (masterFiatAccounts): any tenant may name them.
func (a *Adapter) DefaultMoneyAccounts() []string {
	ids := make([]string, 0, len(a.cfg.MasterFiatAccounts))
	for _, id := range a.cfg.MasterFiatAccounts {
		ids = append(ids, id)
	}
	return ids
}
