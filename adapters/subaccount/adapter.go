package subaccount

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/provider"
)

// Style is the provider style name this package implements.
const Style = "subaccount"

// Provider parameters (CreateItem.Params) the adapter reads.
const (
	ParamClassification      = "classification"
	ParamIdentifier          = "identifier"
	ParamSettlementAccountID = "settlementAccountId"
)

// params lists the accepted parameter keys.
var params = []string{ParamClassification, ParamIdentifier, ParamSettlementAccountID}

// findPageSize and findMaxPages bound a lookup by client reference.
const (
	findPageSize = 100
	findMaxPages = 50
)

// Compile-time guards for the optional interfaces the adapter implements:
// the gateway derives its capabilities from them.
var (
	_ provider.Adapter         = (*Adapter)(nil)
	_ provider.MoneyAccounts   = (*Adapter)(nil)
	_ provider.Finder          = (*Adapter)(nil)
	_ provider.Lister          = (*Adapter)(nil)
	_ provider.ParamsValidator = (*Adapter)(nil)
	_ provider.ItemValidator   = (*Adapter)(nil)
)

// Adapter speaks the sub-account provider's wire format.
type Adapter struct {
	cfg        Config
	base       string
	hc         *http.Client
	settleByID map[string]string // settlement account id → its currency
}

// Open validates cfg and returns an adapter.
func Open(cfg Config, opts *Options) (*Adapter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("subaccount: %w", err)
	}
	if len(cfg.Currencies) == 0 {
		cfg.Currencies = append([]string(nil), DefaultCurrencies...)
	}
	if cfg.Country == "" {
		cfg.Country = "NG"
	}
	a := &Adapter{cfg: cfg, base: strings.TrimRight(cfg.BaseURL, "/"), hc: &http.Client{Timeout: 30 * time.Second}, settleByID: map[string]string{}}
	for cur, id := range cfg.SettlementAccounts {
		a.settleByID[strings.ToLower(id)] = cur
	}
	if opts != nil && opts.HTTPClient != nil {
		a.hc = opts.HTTPClient
	}
	return a, nil
}

// Capabilities declares the provider's facts: one account per call, no
// idempotency key, no unallocated accounts. Lookup by reference follows from
// the Finder the adapter implements; it has no allocation, block, close or
// callbacks.
func (a *Adapter) Capabilities() provider.Capabilities {
	return provider.Capabilities{
		Style:      Style,
		Currencies: append([]string(nil), a.cfg.Currencies...),
		MaxBatch:   1,
		Limits: provider.Limits{
			ClientReference: MaxClientReference,
		},
	}
}

// ErrorCode classifies the adapter's errors: a refusal caused by the
// configured settlement account is FailedPrecondition (the client cannot fix
// it); everything else follows provider.ClassifyHTTP.
func (a *Adapter) ErrorCode(err error) bank.ErrorCode {
	var re *RefusalError
	if errors.As(err, &re) && re.FromConfig {
		return bank.FailedPrecondition
	}
	return provider.ClassifyHTTP(err)
}

// ValidateParams checks providerParams before anything is sent; pointers are
// relative to the params object.
func (a *Adapter) ValidateParams(currency string, p map[string]string) []bank.FieldError {
	var fs []bank.FieldError
	bad := func(key, msg string) { fs = append(fs, bank.FieldError{Pointer: "/" + escape(key), Message: msg}) }
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !slices.Contains(params, k) {
			bad(k, fmt.Sprintf("is not a parameter of provider style %s (accepted: %s)", Style, strings.Join(params, ", ")))
		}
	}
	class, hasClass := p[ParamClassification]
	if hasClass && class != ClassificationInstitution && class != ClassificationCustomer {
		bad(ParamClassification, `must be "institution" or "customer"`)
	}
	if id, ok := p[ParamIdentifier]; ok {
		switch {
		case class == ClassificationCustomer:
			bad(ParamIdentifier, "is only for institution sub-accounts")
		case strings.TrimSpace(id) == "":
			bad(ParamIdentifier, "must not be blank")
		case utf8.RuneCountInString(id) > MaxIdentifier:
			bad(ParamIdentifier, fmt.Sprintf("must be at most %d characters (got %d)", MaxIdentifier, utf8.RuneCountInString(id)))
		}
	}
	if id, ok := p[ParamSettlementAccountID]; ok {
		switch cur := a.settleByID[strings.ToLower(id)]; {
		case !isUUID(id):
			bad(ParamSettlementAccountID, "must be the UUID of a main account")
		case cur != "" && currency != "" && cur != currency:
			bad(ParamSettlementAccountID, fmt.Sprintf("account %s is the %s settlement account; the settlement account's currency must match the sub-account's (%s)", id, cur, currency))
		}
	}
	return fs
}

// escape escapes a JSON pointer token (RFC 6901).
func escape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// CreateAccounts creates each item with its own POST, in order. With one
// item (what the gateway sends: MaxBatch is 1) a failure is the call's
// error. With several, a refused item fails alone; any other failure stops
// the call, and the items after it are reported not sent (Unavailable) —
// or, when it hit the first item, it is the call's error. Nothing is retried.
func (a *Adapter) CreateAccounts(ctx context.Context, req *provider.CreateRequest) (*provider.CreateResult, error) {
	items := make([]provider.ItemResult, len(req.Items))
	for i := range req.Items {
		acc, err := a.createOne(ctx, &req.Items[i])
		if err == nil {
			items[i].Account = acc
			continue
		}
		if len(req.Items) == 1 {
			return nil, err
		}
		if refused(a.ErrorCode(err)) {
			items[i].Err = err
			continue
		}
		if i == 0 {
			return nil, err
		}
		items[i].Err = err
		for j := i + 1; j < len(items); j++ {
			items[j].Err = &bank.Error{Code: bank.Unavailable, Err: fmt.Errorf("not sent: item %d of the request failed first (%v)", i, err)}
		}
		break
	}
	return &provider.CreateResult{Items: items}, nil
}

// refused reports whether a code means the provider examined the item and
// created nothing because of the item itself.
func refused(c bank.ErrorCode) bool {
	return c == bank.InvalidArgument || c == bank.AlreadyExists || c == bank.FailedPrecondition
}

// request is one item translated to the wire, with where each provider
// field came from in the unified item.
type request struct {
	body createBody
	// from maps a provider field to its JSON pointer in the unified item
	// ("" when the value came from the adapter's config).
	from map[string]string
	// generated marks the provider fields the gateway made up (the
	// identifier taken from the item reference): neither the client nor
	// the config can fix a refusal of them.
	generated map[string]bool
}

func invalid(pointer, msg string) error {
	return &bank.Error{Code: bank.InvalidArgument, Fields: []bank.FieldError{{Pointer: pointer, Message: msg}},
		Err: fmt.Errorf("%s: %s", pointer, msg)}
}

// ValidateItem refuses, in the create's 400 and before anything is sent, a
// customer sub-account (classification customer, or a customerId without
// a classification) without a UUID customerId. The item's other rules have
// their own owner, which reports each once: its params are ValidateParams's
// (classification, identifier, settlement account); the length of its
// clientReference is declared in Capabilities().Limits; blank names are
// refused by the gateway's unified rules.
func (a *Adapter) ValidateItem(it *provider.CreateItem) []bank.FieldError {
	class := it.Params[ParamClassification]
	if class == "" && it.CustomerID != "" {
		class = ClassificationCustomer
	}
	if class != ClassificationCustomer {
		return nil
	}
	switch {
	case it.CustomerID == "":
		return []bank.FieldError{{Pointer: "/customerId", Message: "is required for a customer sub-account"}}
	case !isUUID(it.CustomerID):
		return []bank.FieldError{{Pointer: "/customerId", Message: "must be the provider's customer id, a UUID, for a customer sub-account"}}
	}
	return nil
}

// build translates a unified item.
func (a *Adapter) build(it *provider.CreateItem) (*request, error) {
	r := &request{
		body: createBody{Currency: it.Currency, ClientReference: it.Reference},
		from: map[string]string{"currency": "/currency", "customer_id": "/customerId"},
	}
	class := it.Params[ParamClassification]
	r.from["classification"] = "/providerParams/classification"
	if class == "" {
		class = ClassificationInstitution
		if it.CustomerID != "" {
			class = ClassificationCustomer
		}
		r.from["classification"] = "/customerId"
	}
	r.body.Classification = class
	switch class {
	case ClassificationInstitution:
		id, ptr := it.Params[ParamIdentifier], "/providerParams/identifier"
		if id == "" {
			// The gateway's item reference: unique per tenant, job and
			// item, so the client's names may repeat, and a second send
			// of one item is refused as a duplicate identifier.
			id, ptr = it.Reference, ""
			r.generated = map[string]bool{"identifier": true}
		}
		switch {
		case strings.TrimSpace(id) == "" && ptr == "":
			return nil, errors.New("subaccount: an institution sub-account needs providerParams.identifier or the gateway's item reference")
		case strings.TrimSpace(id) == "":
			return nil, invalid(ptr, "is required: it is the institution sub-account's identifier")
		case utf8.RuneCountInString(id) > MaxIdentifier:
			return nil, invalid(ptr, fmt.Sprintf("must be at most %d characters: it is the institution sub-account's identifier", MaxIdentifier))
		}
		r.body.Identifier = id
		if ptr != "" {
			r.from["identifier"] = ptr
		}
	case ClassificationCustomer:
		switch {
		case it.CustomerID == "":
			return nil, invalid("/customerId", "is required for a customer sub-account")
		case !isUUID(it.CustomerID):
			return nil, invalid("/customerId", "must be the provider's customer id, a UUID, for a customer sub-account")
		}
		r.body.CustomerID = it.CustomerID
	default:
		return nil, invalid("/providerParams/classification", `must be "institution" or "customer"`)
	}
	if utf8.RuneCountInString(it.ClientReference) > MaxClientReference {
		return nil, invalid("/clientReference", fmt.Sprintf("must be at most %d characters", MaxClientReference))
	}
	r.body.SettlementAccountID, r.from["settlement_account_id"] = it.Params[ParamSettlementAccountID], "/providerParams/settlementAccountId"
	if r.body.SettlementAccountID == "" {
		r.body.SettlementAccountID, r.from["settlement_account_id"] = a.cfg.SettlementAccounts[it.Currency], ""
	}
	return r, nil
}

func (a *Adapter) createOne(ctx context.Context, it *provider.CreateItem) (*bank.Account, error) {
	r, err := a.build(it)
	if err != nil {
		return nil, err
	}
	var env dataEnvelope
	if _, err := a.do(ctx, http.MethodPost, "/v2/sub-accounts", r.body, http.StatusCreated, &env); err != nil {
		return nil, r.refusal(err)
	}
	return a.toAccount("create", env.Data)
}

// RefusalError is the provider's refusal of named fields of a create,
// translated to the unified item.
type RefusalError struct {
	// Fields are the refused fields with unified pointers relative to the
	// item ("/providerParams/settlementAccountId"); Pointer is "" for a
	// value taken from the adapter's config.
	Fields []RefusedField
	// FromConfig is set when a refused value came from the adapter's config.
	FromConfig bool
	Err        *provider.StatusError
}

// RefusedField is one field the provider refused.
type RefusedField struct {
	Pointer string
	Field   string
	Message string
}

// Error names every refused field, unified pointer first.
func (e *RefusalError) Error() string {
	var b strings.Builder
	for i, f := range e.Fields {
		if i > 0 {
			b.WriteString("; ")
		}
		switch {
		case f.Pointer != "":
			fmt.Fprintf(&b, "%s (provider field %s): %s", f.Pointer, f.Field, f.Message)
		case f.Field == "settlement_account_id":
			fmt.Fprintf(&b, "%s (from config settlementAccounts): %s", f.Field, f.Message)
		default:
			fmt.Fprintf(&b, "%s: %s", f.Field, f.Message)
		}
	}
	fmt.Fprintf(&b, " (HTTP %d %s)", e.Err.StatusCode, e.Err.ProviderCode)
	return b.String()
}

// Unwrap returns the provider's answer.
func (e *RefusalError) Unwrap() error { return e.Err }

// refusal turns a provider answer naming fields into an error whose fields
// are unified pointers; other errors pass unchanged.
func (r *request) refusal(err error) error {
	var se *provider.StatusError
	if !errors.As(err, &se) || se.StatusCode < 400 || se.StatusCode >= 500 {
		return err
	}
	details := errorDetails(se.Body)
	if len(details) == 0 {
		return err
	}
	re := &RefusalError{Err: se}
	var fields []bank.FieldError
	for _, d := range details {
		ptr, known := r.from[d.Field]
		if known && ptr == "" && !r.generated[d.Field] {
			re.FromConfig = true
		}
		re.Fields = append(re.Fields, RefusedField{Pointer: ptr, Field: d.Field, Message: d.Message})
		if ptr != "" {
			fields = append(fields, bank.FieldError{Pointer: ptr, Message: d.Message})
		}
	}
	code := provider.CodeForStatus(se.StatusCode)
	if re.FromConfig {
		code = bank.FailedPrecondition
	}
	return &bank.Error{Code: code, Fields: fields, RetryAfter: se.RetryAfter, Err: re}
}

// GetAccount reads one sub-account by its id.
func (a *Adapter) GetAccount(ctx context.Context, ref string) (*bank.Account, error) {
	var env dataEnvelope
	if _, err := a.do(ctx, http.MethodGet, "/v2/sub-accounts/"+url.PathEscape(ref), nil, http.StatusOK, &env); err != nil {
		return nil, err
	}
	return a.toAccount("get", env.Data)
}

// FindByReference lists the sub-accounts created with the gateway's item
// reference (sent as client_reference), reading every page of the filtered
// list.
func (a *Adapter) FindByReference(ctx context.Context, reference string) ([]*bank.Account, error) {
	out := []*bank.Account{}
	for page := 1; page <= findMaxPages; page++ {
		q := url.Values{"client_reference": {reference}, "page": {strconv.Itoa(page)}, "per_page": {strconv.Itoa(findPageSize)}}
		var l listEnvelope
		if _, err := a.do(ctx, http.MethodGet, "/v2/sub-accounts?"+q.Encode(), nil, http.StatusOK, &l); err != nil {
			return nil, err
		}
		for _, raw := range l.Data {
			acc, err := a.toAccount("find", raw)
			if err != nil {
				return nil, err
			}
			if acc.Reference != reference {
				return nil, &provider.MalformedError{Op: "find", Err: fmt.Errorf("list filtered by %q returned account %s with %q", reference, acc.ProviderAccountID, acc.Reference)}
			}
			out = append(out, acc)
		}
		if len(l.Data) < findPageSize || (l.Meta != nil && len(out) >= l.Meta.Total) {
			return out, nil
		}
	}
	return nil, &provider.MalformedError{Op: "find", Err: fmt.Errorf("more than %d pages of accounts for one reference", findMaxPages)}
}

// ListAccounts reads one page of every sub-account the API key holds, in
// creation order; the cursor is the page number.
func (a *Adapter) ListAccounts(ctx context.Context, cursor string) ([]*bank.Account, string, error) {
	page := 1
	if cursor != "" {
		n, err := strconv.Atoi(cursor)
		if err != nil || n < 1 {
			return nil, "", &provider.MalformedError{Op: "list", Err: fmt.Errorf("cursor %q is not a page number", cursor)}
		}
		page = n
	}
	q := url.Values{"page": {strconv.Itoa(page)}, "per_page": {strconv.Itoa(findPageSize)}}
	var l listEnvelope
	if _, err := a.do(ctx, http.MethodGet, "/v2/sub-accounts?"+q.Encode(), nil, http.StatusOK, &l); err != nil {
		return nil, "", err
	}
	out := make([]*bank.Account, 0, len(l.Data))
	for _, raw := range l.Data {
		acc, err := a.toAccount("list", raw)
		if err != nil {
			return nil, "", err
		}
		out = append(out, acc)
	}
	if len(l.Data) < findPageSize || (l.Meta != nil && (page-1)*findPageSize+len(l.Data) >= l.Meta.Total) {
		return out, "", nil
	}
	return out, strconv.Itoa(page + 1), nil
}

// do performs one authenticated HTTP exchange and decodes a success body into out.
func (a *Adapter) do(ctx context.Context, method, path string, in any, want int, out any) ([]byte, error) {
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
	req.Header.Set("Authorization", "Bearer "+string(a.cfg.APIKey))
	resp, err := a.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return provider.ReadJSON(resp, resp.StatusCode == want, out, decodeError)
}

// MoneyAccountParams names the providerParams key that chooses a provider-side
// money account: SettlementAccountID.
func (a *Adapter) MoneyAccountParams() []string { return []string{ParamSettlementAccountID} }

// DefaultMoneyAccounts lists the configured settlement accounts (settlementAccounts): any tenant may name them.
func (a *Adapter) DefaultMoneyAccounts() []string {
	ids := make([]string, 0, len(a.cfg.SettlementAccounts))
	for _, id := range a.cfg.SettlementAccounts {
		ids = append(ids, id)
	}
	return ids
}
