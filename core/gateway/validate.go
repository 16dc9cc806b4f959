package gateway

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/provider"
)

// ValidateCreate checks req against the provider's capabilities and limits.
// It returns nil, an Unimplemented error naming a missing capability, or an
// InvalidArgument error listing every bad field as a JSON pointer.
func (p *Provider) ValidateCreate(req *provider.CreateRequest) error {
	const op = "create"
	if req == nil || len(req.Items) == 0 {
		return &bank.Error{Code: bank.InvalidArgument, Provider: p.name, Op: op,
			Err:    fmt.Errorf("at least one item is required"),
			Fields: []bank.FieldError{{Pointer: "/items", Message: "at least one item is required"}}}
	}
	var fields []bank.FieldError
	fields = append(fields, p.ValidateHeaders("/customHeaders", req.CustomHeaders)...)
	for i := range req.Items {
		fs, err := p.ValidateItem(fmt.Sprintf("/items/%d", i), &req.Items[i])
		if err != nil {
			return err
		}
		fields = append(fields, fs...)
	}
	return p.invalid(op, fields)
}

func (p *Provider) invalid(op string, fields []bank.FieldError) error {
	if len(fields) == 0 {
		return nil
	}
	return &bank.Error{Code: bank.InvalidArgument, Provider: p.name, Op: op,
		Err: fmt.Errorf("%d invalid field(s), first %s: %s", len(fields), fields[0].Pointer, fields[0].Message), Fields: fields}
}

// ValidateItem checks one item; prefix is its JSON pointer (e.g. "/items/3").
// A missing capability is returned as an error, bad fields as a list.
func (p *Provider) ValidateItem(prefix string, it *provider.CreateItem) ([]bank.FieldError, error) {
	var fs []bank.FieldError
	bad := func(field, msg string) { fs = append(fs, bank.FieldError{Pointer: prefix + "/" + field, Message: msg}) }
	switch {
	case it.Currency == "":
		bad("currency", "is required")
	case !isCurrencyCode(it.Currency):
		bad("currency", "must be an ISO 4217 code of three upper-case letters")
	case !p.caps.SupportsCurrency(it.Currency):
		bad("currency", fmt.Sprintf("%s is not supported by provider %q (supported: %s)", it.Currency, p.name, strings.Join(p.caps.Currencies, ", ")))
	}
	if it.Unallocated {
		if !p.Supports(provider.CapUnallocated) {
			return nil, p.unsupported("create", provider.CapUnallocated)
		}
	} else {
		if strings.TrimSpace(it.AccountHolderName) == "" {
			bad("accountHolderName", "is required unless unallocated is true")
		}
		if strings.TrimSpace(it.AccountName) == "" {
			bad("accountName", "is required unless unallocated is true")
		}
	}
	l := p.caps.Limits
	maxLen(bad, "accountHolderName", it.AccountHolderName, l.AccountHolderName)
	maxLen(bad, "accountName", it.AccountName, l.AccountName)
	maxLen(bad, "nativeLanguageName", it.NativeLanguageName, l.NativeLanguageName)
	maxLen(bad, "clientReference", it.ClientReference, l.ClientReference)
	if it.DOB != "" && !validDate(it.DOB) {
		bad("dob", "must be a past date as YYYY-MM-DD")
	}
	if iv, ok := p.a.(provider.ItemValidator); ok {
		for _, fe := range iv.ValidateItem(it) {
			fe.Pointer = prefix + fe.Pointer
			fs = append(fs, fe)
		}
	}
	if pv, ok := p.a.(provider.ParamsValidator); ok {
		for _, fe := range pv.ValidateParams(it.Currency, it.Params) {
			fe.Pointer = prefix + "/providerParams" + fe.Pointer
			fs = append(fs, fe)
		}
	} else {
		for k := range it.Params {
			bad("providerParams/"+escapePointer(k), fmt.Sprintf("provider %q takes no providerParams", p.name))
		}
	}
	return firstPerPointer(fs), nil
}

// CheckAccounts reports the providerParams of item it (prefix is its JSON
// pointer, e.g. "/items/3") that name a provider-side money account tenant
// may not use: only the adapter's default accounts and those the provider's
// TenantAccounts allow tenant are accepted. The create handler calls it with
// the request's tenant and refuses the request with 403 when it reports
// anything, before anything is sent.
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

// firstPerPointer keeps the first error about each field: the gateway's
// checks and the adapter's may both find the same one.
func firstPerPointer(fs []bank.FieldError) []bank.FieldError {
	seen := map[string]bool{}
	out := fs[:0]
	for _, f := range fs {
		if !seen[f.Pointer] {
			seen[f.Pointer] = true
			out = append(out, f)
		}
	}
	return out
}

// ValidateHeaders checks custom headers against the provider's limits.
func (p *Provider) ValidateHeaders(pointer string, h map[string]string) []bank.FieldError {
	var fs []bank.FieldError
	l := p.caps.Limits
	if l.CustomHeaders > 0 && len(h) > l.CustomHeaders {
		fs = append(fs, bank.FieldError{Pointer: pointer, Message: fmt.Sprintf("at most %d custom headers (got %d)", l.CustomHeaders, len(h))})
	}
	for k, v := range h {
		ptr := pointer + "/" + escapePointer(k)
		switch {
		case k == "":
			fs = append(fs, bank.FieldError{Pointer: ptr, Message: "header name is empty"})
		case l.CustomHeaderKey > 0 && utf8.RuneCountInString(k) > l.CustomHeaderKey:
			fs = append(fs, bank.FieldError{Pointer: ptr, Message: fmt.Sprintf("header name is longer than %d characters", l.CustomHeaderKey)})
		}
		if l.CustomHeaderValue > 0 && utf8.RuneCountInString(v) > l.CustomHeaderValue {
			fs = append(fs, bank.FieldError{Pointer: ptr, Message: fmt.Sprintf("header value is longer than %d characters", l.CustomHeaderValue)})
		}
	}
	return fs
}

// ValidateAllocation checks an update before it is sent.
func (p *Provider) ValidateAllocation(a *provider.Allocation) error {
	const op = "allocate"
	var fs []bank.FieldError
	bad := func(field, msg string) { fs = append(fs, bank.FieldError{Pointer: "/" + field, Message: msg}) }
	if a == nil || (!a.Identity() && a.ClientReference == nil) {
		return &bank.Error{Code: bank.InvalidArgument, Provider: p.name, Op: op,
			Err: fmt.Errorf("nothing to update"), Fields: []bank.FieldError{{Pointer: "", Message: "the update sets no field"}}}
	}
	l := p.caps.Limits
	for _, f := range []struct {
		name string
		v    *string
		max  int
	}{
		{"accountHolderName", a.AccountHolderName, l.AccountHolderName},
		{"accountName", a.AccountName, l.AccountName},
		{"nativeLanguageName", a.NativeLanguageName, l.NativeLanguageName},
		{"clientReference", a.ClientReference, l.ClientReference},
	} {
		if f.v == nil {
			continue
		}
		if f.name != "clientReference" && f.name != "nativeLanguageName" && strings.TrimSpace(*f.v) == "" {
			bad(f.name, "must not be empty")
		}
		maxLen(bad, f.name, *f.v, f.max)
	}
	if a.DOB != nil && !validDate(*a.DOB) {
		bad("dob", "must be a past date as YYYY-MM-DD")
	}
	return p.invalid(op, fs)
}

func maxLen(bad func(field, msg string), field, v string, limit int) {
	if limit > 0 && utf8.RuneCountInString(v) > limit {
		bad(field, fmt.Sprintf("must be at most %d characters (got %d)", limit, utf8.RuneCountInString(v)))
	}
}

func isCurrencyCode(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

func validDate(s string) bool {
	t, err := time.Parse(time.DateOnly, s)
	return err == nil && t.Before(time.Now()) && t.Year() >= 1900
}

// escapePointer escapes a JSON pointer token (RFC 6901).
func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}
