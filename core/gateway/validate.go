package gateway

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/provider"
)

// This file holds every rule a request's values must meet before anything
// is sent: the unified limits of the API, each provider's own (declared in
// its provider.Limits, which can only lower the unified ones), its
// currencies and capabilities, and the adapter's item and params
// validators. Callers check a request's shape (JSON types, required
// presence, unknown fields) and leave its values to these rules.

// Unified limits, before any provider's own.
const (
	maxNameLen       = 255 // accountHolderName, accountName, nativeLanguageName
	maxRefLen        = 64  // clientReference, customerId
	maxMetadata      = 50
	maxMetadataKey   = 40
	maxMetadataValue = 500
	maxParams        = 20
	maxParamKey      = 40
	maxParamValue    = 255
	maxCustomHeaders = 10
	maxHeaderKey     = 50
	maxHeaderValue   = 500
	maxCloseText     = 255 // reason, requestedBy
	maxCloseNotes    = 1000
)

const namesRequired = "is required unless unallocated is true"

// Item is one item of a create request as a client sent it.
type Item struct {
	// Provider is the configured provider the client named for the item,
	// or "" for the router to pick one.
	Provider string
	// Account is the account to create.
	Account provider.CreateItem
	// RoutedBy says how Plan chose the provider, and Fallbacks lists the
	// providers the item may fail over to, in order (set by Plan).
	RoutedBy  bank.RoutedBy
	Fallbacks []string
}

// Request is a create request as a client sent it, its items not yet
// routed.
type Request struct {
	// Items are the accounts to create. A nil item is one the caller could
	// not read (and has reported): it is skipped, and keeps its index.
	Items []*Item
	// CustomHeaders are sent with the job's completion callback, and to
	// providers that echo them.
	CustomHeaders map[string]string
}

// AccountNotAllowedError says that items of a create request name, in
// their providerParams, provider-side money accounts (see
// provider.MoneyAccounts) that the request's tenant may not use. The
// *bank.Error carrying it lists those params as fields.
type AccountNotAllowedError struct {
	// Items is how many items name such an account.
	Items int
}

// Error says how many items name an account the tenant may not use.
func (e *AccountNotAllowedError) Error() string {
	return fmt.Sprintf("%d item(s) name a provider account this tenant may not use", e.Items)
}

// Plan checks req for tenant against every rule, and picks the provider of
// each item: the one it names, else the router's choice. It returns the
// items with their provider set (a nil item of req gives a zero Item), or
// the first of these errors:
//
//   - InvalidArgument, listing every bad field as a JSON pointer into the
//     request ("/items/3/currency");
//   - Unimplemented, with a *CapabilityError, for an item its provider
//     cannot create (an unallocated account);
//   - PermissionDenied, with an *AccountNotAllowedError, listing the
//     providerParams that name a provider account tenant may not use: only
//     a request valid in every other way learns which accounts those are.
//
// Plan sends nothing. Provider.Create trusts a planned request and does
// not check it again.
func (r *Router) Plan(tenant string, req *Request) ([]Item, error) {
	out := make([]Item, len(req.Items))
	var fields, denied []bank.FieldError
	var capErr error
	var used []*Provider
	deniedItems := 0
	for i, it := range req.Items {
		if it == nil {
			continue
		}
		ptr := fmt.Sprintf("/items/%d", i)
		choice, fe := r.pick(ptr, it)
		if fe != nil {
			fields = append(fields, *fe)
		}
		var p *Provider
		if choice != nil {
			p = choice.Provider
		}
		if p == nil && fe == nil {
			// An invalid currency routes nothing, yet the item's other
			// fields are judged by the provider its upper-case form would
			// route to, so that one answer names every bad field.
			if g := r.judgeAsRouted(ptr, it); g != nil {
				fields = append(fields, g...)
				continue
			}
		}
		bad, err := checkItem(p, ptr, &it.Account)
		fields = append(fields, bad...)
		if err != nil && capErr == nil {
			capErr = err
		}
		if p == nil {
			continue
		}
		if fs := p.CheckAccounts(tenant, ptr, &it.Account); len(fs) > 0 {
			denied = append(denied, fs...)
			deniedItems++
		}
		if !slices.Contains(used, p) {
			used = append(used, p)
		}
		out[i] = Item{Provider: p.name, Account: it.Account, RoutedBy: choice.RoutedBy, Fallbacks: choice.Fallbacks}
	}
	fields = append(fields, checkHeaders(used, req.CustomHeaders)...)
	switch {
	case len(fields) > 0:
		return nil, invalid("", "create", fields)
	case capErr != nil:
		return nil, capErr
	case len(denied) > 0:
		return nil, &bank.Error{Code: bank.PermissionDenied, Op: "create", Fields: denied,
			Err: &AccountNotAllowedError{Items: deniedItems}}
	}
	return out, nil
}

// judgeAsRouted checks an item whose currency is invalid (say "usd") as if
// it were its upper-case form, at the provider that form routes to: the
// currency's own error and every other bad field, or nil when that form
// routes nowhere either.
func (r *Router) judgeAsRouted(ptr string, it *Item) []bank.FieldError {
	guess := *it
	guess.Account.Currency = strings.ToUpper(strings.TrimSpace(it.Account.Currency))
	if guess.Account.Currency == it.Account.Currency || !bank.ValidCurrency(guess.Account.Currency) {
		return nil
	}
	c, fe := r.pick(ptr, &guess)
	if c == nil || fe != nil {
		return nil
	}
	bad, _ := checkItem(c.Provider, ptr, &guess.Account)
	return append([]bank.FieldError{{Pointer: ptr + "/currency", Message: "must be an ISO 4217 code of three upper-case letters"}}, bad...)
}

// ValidateCreate checks req against every rule, for this provider: it
// returns nil, an InvalidArgument error listing every bad field as a JSON
// pointer, or an Unimplemented error naming a missing capability.
func (p *Provider) ValidateCreate(req *provider.CreateRequest) error {
	const op = "create"
	if req == nil || len(req.Items) == 0 {
		return p.invalid(op, []bank.FieldError{{Pointer: "/items", Message: "at least one item is required"}})
	}
	var fields []bank.FieldError
	var capErr error
	for i := range req.Items {
		bad, err := checkItem(p, fmt.Sprintf("/items/%d", i), &req.Items[i])
		fields = append(fields, bad...)
		if err != nil && capErr == nil {
			capErr = err
		}
	}
	fields = append(fields, checkHeaders([]*Provider{p}, req.CustomHeaders)...)
	if err := p.invalid(op, fields); err != nil {
		return err
	}
	return capErr
}

// invalid is the InvalidArgument error listing fields, or nil when there are none.
func (p *Provider) invalid(op string, fields []bank.FieldError) error {
	return invalid(p.name, op, fields)
}

func invalid(prov, op string, fields []bank.FieldError) error {
	if len(fields) == 0 {
		return nil
	}
	return &bank.Error{Code: bank.InvalidArgument, Provider: prov, Op: op, Fields: fields,
		Err: fmt.Errorf("%d invalid field(s), first %s: %s", len(fields), fields[0].Pointer, fields[0].Message)}
}

// ValidateAllocation checks an update of an account's holder details or
// client reference against every rule, for this provider.
func (p *Provider) ValidateAllocation(a *provider.Allocation) error {
	return validateAllocation(p, a)
}

// ValidateAllocationUnified checks an update against the unified rules
// alone, for a request whose provider is not known (its own rules are
// reported once it is).
func ValidateAllocationUnified(a *provider.Allocation) error { return validateAllocation(nil, a) }

// validateAllocation applies the unified rules and, when p is not nil, p's limits.
func validateAllocation(p *Provider, a *provider.Allocation) error {
	const op = "allocate"
	name := ""
	var l provider.Limits
	if p != nil {
		name, l = p.name, p.caps.Limits
	}
	if a == nil || (!a.Identity() && a.ClientReference == nil) {
		return invalid(name, op, []bank.FieldError{{Pointer: "", Message: "the update sets no field"}})
	}
	var r rules
	for _, f := range []struct {
		name     string
		v        *string
		limit    int
		nonEmpty bool
	}{
		{"accountHolderName", a.AccountHolderName, lower(maxNameLen, l.AccountHolderName), true},
		{"accountName", a.AccountName, lower(maxNameLen, l.AccountName), true},
		{"nativeLanguageName", a.NativeLanguageName, lower(maxNameLen, l.NativeLanguageName), false},
		{"clientReference", a.ClientReference, lower(maxRefLen, l.ClientReference), false},
	} {
		if f.v == nil {
			continue
		}
		if f.nonEmpty && strings.TrimSpace(*f.v) == "" {
			r.add("/"+f.name, "must not be empty")
		}
		r.text("/"+f.name, *f.v, f.limit, false)
	}
	if a.DOB != nil {
		r.date("/dob", *a.DOB)
	}
	return invalid(name, op, r)
}

// validateClose checks the reason of a close.
func (p *Provider) validateClose(c *provider.CloseReason) error {
	var r rules
	r.text("/reason", c.Reason, maxCloseText, false)
	r.text("/requestedBy", c.RequestedBy, maxCloseText, false)
	r.text("/notes", c.Notes, maxCloseNotes, true)
	return p.invalid("close", r)
}

// checkItem applies the rules of one create item, prefix its JSON pointer
// ("/items/3"): the unified ones and, when p is not nil, those of p, the
// provider that will create it. A capability p lacks is returned as the
// error; p's own limits and validators do not judge an item it cannot
// create at all.
func checkItem(p *Provider, prefix string, it *provider.CreateItem) ([]bank.FieldError, error) {
	var r rules
	at := func(field string) string { return prefix + "/" + field }
	switch {
	case it.Currency == "":
		r.add(at("currency"), "is required")
	case !bank.ValidCurrency(it.Currency):
		r.add(at("currency"), "must be an ISO 4217 code of three upper-case letters")
	case p != nil && !p.caps.SupportsCurrency(it.Currency):
		r.add(at("currency"), "%s is not supported by provider %q (supported: %s)", it.Currency, p.name, strings.Join(p.caps.Currencies, ", "))
	}
	var capErr error
	if it.Unallocated {
		if it.AccountHolderName != "" || it.AccountName != "" {
			r.add(at("unallocated"), "an unallocated account takes no accountHolderName or accountName; set them when allocating it")
		}
		if p != nil && !p.Supports(provider.CapUnallocated) {
			capErr = p.unsupported("create", provider.CapUnallocated)
		}
	} else {
		if strings.TrimSpace(it.AccountHolderName) == "" {
			r.add(at("accountHolderName"), namesRequired)
		}
		if strings.TrimSpace(it.AccountName) == "" {
			r.add(at("accountName"), namesRequired)
		}
	}
	var l provider.Limits
	if p != nil && capErr == nil {
		l = p.caps.Limits
	}
	r.text(at("accountHolderName"), it.AccountHolderName, lower(maxNameLen, l.AccountHolderName), false)
	r.text(at("accountName"), it.AccountName, lower(maxNameLen, l.AccountName), false)
	r.text(at("nativeLanguageName"), it.NativeLanguageName, lower(maxNameLen, l.NativeLanguageName), false)
	r.text(at("clientReference"), it.ClientReference, lower(maxRefLen, l.ClientReference), false)
	r.text(at("customerId"), it.CustomerID, maxRefLen, false)
	if it.DOB != "" {
		r.date(at("dob"), it.DOB)
	}
	r.strMap(at("metadata"), it.Metadata, maxMetadata, maxMetadataKey, maxMetadataValue)
	r.strMap(at("providerParams"), it.Params, maxParams, maxParamKey, maxParamValue)
	if p == nil || capErr != nil {
		return r, capErr
	}
	if iv, ok := p.a.(provider.ItemValidator); ok {
		for _, fe := range iv.ValidateItem(it) {
			fe.Pointer = prefix + fe.Pointer
			r = append(r, fe)
		}
	}
	if pv, ok := p.a.(provider.ParamsValidator); ok {
		for _, fe := range pv.ValidateParams(it.Currency, it.Params) {
			fe.Pointer = at("providerParams") + fe.Pointer
			r = append(r, fe)
		}
	} else {
		for _, k := range sortedKeys(it.Params) {
			r.add(at("providerParams/"+escapePointer(k)), "provider %q takes no providerParams", p.name)
		}
	}
	return r, capErr
}

// CheckAccounts reports the providerParams of item it (prefix is its JSON
// pointer, e.g. "/items/3") that name a provider-side money account tenant
// may not use: only the adapter's default accounts and those the provider's
// TenantAccounts allow tenant are accepted. Plan refuses a request for
// which it reports anything.
func (p *Provider) CheckAccounts(tenant, prefix string, it *provider.CreateItem) []bank.FieldError {
	ma, ok := p.a.(provider.MoneyAccounts)
	if !ok || len(it.Params) == 0 {
		return nil
	}
	var fs []bank.FieldError
	for _, param := range ma.MoneyAccountParams() {
		id, named := it.Params[param]
		if !named || id == "" || slices.Contains(ma.DefaultMoneyAccounts(), id) || slices.Contains(p.opts.TenantAccounts[tenant], id) {
			continue
		}
		fs = append(fs, bank.FieldError{Pointer: prefix + "/providerParams/" + escapePointer(param),
			Message: fmt.Sprintf("this tenant may not use provider %q account %q", p.name, id)})
	}
	return fs
}

// bound is a limit and the provider that set it ("" for the unified one).
type bound struct {
	n  int
	by string
}

// lowerTo lowers b to n, a limit of provider by, when n is set and lower.
func (b *bound) lowerTo(n int, by string) {
	if n > 0 && n < b.n {
		b.n, b.by = n, by
	}
}

func (b bound) why() string {
	if b.by == "" {
		return ""
	}
	return fmt.Sprintf(" (the limit of provider %s)", b.by)
}

// checkHeaders checks a request's custom headers against the unified limits
// and those of every provider in ps.
func checkHeaders(ps []*Provider, h map[string]string) []bank.FieldError {
	const ptr = "/customHeaders"
	n, key, val := bound{n: maxCustomHeaders}, bound{n: maxHeaderKey}, bound{n: maxHeaderValue}
	for _, p := range ps {
		l := p.caps.Limits
		n.lowerTo(l.CustomHeaders, p.name)
		key.lowerTo(l.CustomHeaderKey, p.name)
		val.lowerTo(l.CustomHeaderValue, p.name)
	}
	var r rules
	if len(h) > n.n {
		r.add(ptr, "must have at most %d entries (got %d)%s", n.n, len(h), n.why())
	}
	for _, k := range sortedKeys(h) {
		kp := ptr + "/" + escapePointer(k)
		switch {
		case !validHeaderName(k):
			r.add(kp, "must be a valid HTTP header name")
		case utf8.RuneCountInString(k) > key.n:
			r.add(kp, "header name must be at most %d characters%s", key.n, key.why())
		}
		if p := textProblem(h[k], false); p != "" {
			r.add(kp, "%s", p)
		}
		if utf8.RuneCountInString(h[k]) > val.n {
			r.add(kp, "value must be at most %d characters%s", val.n, val.why())
		}
	}
	return r
}

// rules collects the bad fields of a request.
type rules []bank.FieldError

func (r *rules) add(pointer, format string, args ...any) {
	*r = append(*r, bank.FieldError{Pointer: pointer, Message: fmt.Sprintf(format, args...)})
}

// text checks a free-text field: printable text (see textProblem), with
// line breaks and tabs only when newlines is set, and at most limit
// characters.
func (r *rules) text(pointer, v string, limit int, newlines bool) {
	if p := textProblem(v, newlines); p != "" {
		r.add(pointer, "%s", p)
	}
	if n := utf8.RuneCountInString(v); n > limit {
		r.add(pointer, "must be at most %d characters (got %d)", limit, n)
	}
}

// strMap checks an object of strings: at most maxN entries, keys of 1 to
// maxK characters, values of at most maxV, all printable text.
func (r *rules) strMap(pointer string, m map[string]string, maxN, maxK, maxV int) {
	if len(m) > maxN {
		r.add(pointer, "must have at most %d entries (got %d)", maxN, len(m))
	}
	for _, k := range sortedKeys(m) {
		kp := pointer + "/" + escapePointer(k)
		if textProblem(k, false) != "" {
			r.add(kp, "key must be printable UTF-8 text")
		}
		if k == "" || utf8.RuneCountInString(k) > maxK {
			r.add(kp, "key must be 1 to %d characters", maxK)
		}
		if p := textProblem(m[k], false); p != "" {
			r.add(kp, "%s", p)
		}
		if utf8.RuneCountInString(m[k]) > maxV {
			r.add(kp, "value must be at most %d characters", maxV)
		}
	}
}

// date checks a date of birth: YYYY-MM-DD, in the past, from 1900.
func (r *rules) date(pointer, v string) {
	t, err := time.Parse(time.DateOnly, v)
	if err != nil || !t.Before(time.Now()) || t.Year() < 1900 {
		r.add(pointer, "must be a past date as YYYY-MM-DD")
	}
}

// textProblem says why s is not printable text, or "" when it is: it must
// hold no replacement character U+FFFD (the mark of a broken encoding or a
// lone surrogate escape, which JSON decoding leaves in their place), no
// control character (NUL, ESC, CR, LF, tab...; newlines and tabs only when
// newlines is true), no line or paragraph separator, and no invisible
// format character (bidirectional overrides and isolates, zero-width
// spaces, BOM...) except the zero-width joiner and non-joiner, which
// Persian and Indic names need.
func textProblem(s string, newlines bool) string {
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
			return "must be valid UTF-8 (it holds U+FFFD, an invalid sequence or lone surrogate)"
		case newlines && (r == '\n' || r == '\t'):
		case unicode.IsControl(r), r == '\u2028', r == '\u2029':
			return fmt.Sprintf("must not contain control characters (found U+%04X)", r)
		case unicode.Is(unicode.Cf, r) && r != '\u200c' && r != '\u200d':
			return fmt.Sprintf("must not contain invisible formatting characters such as bidirectional overrides (found U+%04X)", r)
		}
	}
	return ""
}

// validHeaderName reports whether k is an HTTP field name (an RFC 9110 token).
func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// lower is a provider's limit where it lowers the unified one.
func lower(unified, providers int) int {
	if providers > 0 && providers < unified {
		return providers
	}
	return unified
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// escapePointer escapes a JSON pointer token (RFC 6901).
func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}
