package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/vagate/vagate/core/provider"
)

// Unified limits, before any provider's own.
const (
	MaxItems          = 1000
	maxNameLen        = 255
	maxRefLen         = 64
	maxMetadata       = 50
	maxMetadataKey    = 40
	maxMetadataValue  = 500
	maxParams         = 20
	maxParamValue     = 255
	maxCustomHeaders  = 10
	maxHeaderKey      = 50
	maxHeaderValue    = 500
	maxCallbackURLLen = 2048
)

// fields collects field errors while a body is parsed.
type fields []FieldError

func (f *fields) add(pointer, format string, args ...any) {
	*f = append(*f, FieldError{Pointer: pointer, Detail: fmt.Sprintf(format, args...)})
}

// object decodes raw as a JSON object and reports keys outside known.
func (f *fields) object(ptr string, raw json.RawMessage, known ...string) map[string]json.RawMessage {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		f.add(ptr, "must be a JSON object")
		return nil
	}
	var unknown []string
	for k := range m {
		if !contains(known, k) {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		f.add(ptr+"/"+escape(k), "is not a known field (known: %s)", strings.Join(known, ", "))
	}
	return m
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

func escape(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1") }

// str reads an optional string field; present reports whether it was given
// (a JSON null counts as absent).
func (f *fields) str(ptr string, m map[string]json.RawMessage, key string, max int) (v string, present bool) {
	return f.textField(ptr, m, key, max, false)
}

// multiline is str for free text that may span lines (newlines and tabs).
func (f *fields) multiline(ptr string, m map[string]json.RawMessage, key string, max int) (v string, present bool) {
	return f.textField(ptr, m, key, max, true)
}

func (f *fields) textField(ptr string, m map[string]json.RawMessage, key string, max int, newlines bool) (v string, present bool) {
	raw, ok := m[key]
	if !ok || string(raw) == "null" {
		return "", false
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		f.add(ptr+"/"+key, "must be a string")
		return "", false
	}
	f.text(ptr+"/"+key, raw, v, newlines)
	if n := utf8.RuneCountInString(v); max > 0 && n > max {
		f.add(ptr+"/"+key, "must be at most %d characters (got %d)", max, n)
	}
	return v, true
}

func (f *fields) boolean(ptr string, m map[string]json.RawMessage, key string) bool {
	raw, ok := m[key]
	if !ok || string(raw) == "null" {
		return false
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		f.add(ptr+"/"+key, "must be true or false")
	}
	return b
}

// strMap reads an optional object of strings with count and length limits.
func (f *fields) strMap(ptr string, m map[string]json.RawMessage, key string, maxN, maxK, maxV int) map[string]string {
	raw, ok := m[key]
	if !ok || string(raw) == "null" {
		return nil
	}
	p := ptr + "/" + key
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		f.add(p, "must be an object of strings")
		return nil
	}
	if len(obj) > maxN {
		f.add(p, "must have at most %d entries (got %d)", maxN, len(obj))
	}
	out := make(map[string]string, len(obj))
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		kp := p + "/" + escape(k)
		var v string
		if err := json.Unmarshal(obj[k], &v); err != nil {
			f.add(kp, "must be a string")
			continue
		}
		f.text(kp, obj[k], v, false)
		if textProblem(k, false) != "" {
			f.add(kp, "key must be printable UTF-8 text")
		}
		if k == "" || utf8.RuneCountInString(k) > maxK {
			f.add(kp, "key must be 1 to %d characters", maxK)
		}
		if utf8.RuneCountInString(v) > maxV {
			f.add(kp, "value must be at most %d characters", maxV)
		}
		out[k] = v
	}
	return out
}

// text refuses what must not reach a provider in a string field: bytes
// that are not UTF-8, and characters that are not printable text (see
// textProblem). raw is the field's JSON, which still holds bytes that
// decoding replaced.
func (f *fields) text(ptr string, raw json.RawMessage, v string, newlines bool) {
	if !utf8.Valid(raw) {
		f.add(ptr, "must be valid UTF-8")
		return
	}
	if p := textProblem(v, newlines); p != "" {
		f.add(ptr, "%s", p)
	}
}

// textProblem says why s is not printable text, or "" when it is: it must
// hold no replacement character U+FFFD (the mark of a broken encoding or a
// lone surrogate escape), no control character (NUL, ESC, CR, LF, tab...;
// newlines and tabs only when newlines is true), no line or paragraph
// separator, and no invisible format character (bidirectional overrides and
// isolates, zero-width spaces, BOM...) except the zero-width joiner and
// non-joiner, which Persian and Indic names need.
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

var currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)

func (f *fields) date(ptr string, v string) {
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		f.add(ptr, "must be a date as YYYY-MM-DD")
		return
	}
	if !t.Before(time.Now()) || t.Year() < 1900 {
		f.add(ptr, "must be a date in the past")
	}
}

// CreateItem is one parsed item of a create request.
type CreateItem struct {
	Provider string
	Item     provider.CreateItem
}

// CreateBody is a parsed create request.
type CreateBody struct {
	Items         []CreateItem
	CallbackURL   string
	CustomHeaders map[string]string
}

var itemFields = []string{"currency", "provider", "unallocated", "accountHolderName", "accountName", "dob",
	"nativeLanguageName", "clientReference", "customerId", "metadata", "providerParams"}

// ParseCreate parses a create request strictly and returns every bad field,
// each named by its JSON pointer. When the body is an object it also returns
// what it could read, so that provider checks can add their findings; a
// request with any bad field must not be acted on.
func ParseCreate(body []byte) (*CreateBody, []FieldError) {
	var f fields
	if len(bytes.TrimSpace(body)) == 0 {
		f.add("", "the body is empty; send a JSON object with items")
		return nil, f
	}
	if !json.Valid(body) {
		f.add("", "the body is not valid JSON")
		return nil, f
	}
	top := f.object("", body, "items", "callbackUrl", "customHeaders")
	if top == nil {
		return nil, f
	}
	out := &CreateBody{}
	if u, ok := f.str("", top, "callbackUrl", maxCallbackURLLen); ok {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" {
			f.add("/callbackUrl", "must be an absolute https URL")
		}
		out.CallbackURL = u
	}
	out.CustomHeaders = f.strMap("", top, "customHeaders", maxCustomHeaders, maxHeaderKey, maxHeaderValue)
	for k := range out.CustomHeaders {
		if !validHeaderName(k) {
			f.add("/customHeaders/"+escape(k), "must be a valid HTTP header name")
		}
	}
	rawItems, ok := top["items"]
	if !ok || string(rawItems) == "null" {
		f.add("/items", "is required")
		return out, f
	}
	var items []json.RawMessage
	if err := json.Unmarshal(rawItems, &items); err != nil {
		f.add("/items", "must be an array")
		return out, f
	}
	switch {
	case len(items) == 0:
		f.add("/items", "must hold at least 1 item")
	case len(items) > MaxItems:
		f.add("/items", "must hold at most %d items (got %d)", MaxItems, len(items))
		return out, f
	}
	for i, raw := range items {
		ptr := fmt.Sprintf("/items/%d", i)
		var it CreateItem
		m := f.object(ptr, raw, itemFields...)
		if m == nil {
			it.Item.Currency = "-" // unreadable: skipped by provider checks
			out.Items = append(out.Items, it)
			continue
		}
		cur, ok := f.str(ptr, m, "currency", 3)
		switch {
		case !ok && m["currency"] == nil:
			f.add(ptr+"/currency", "is required")
		case ok && !currencyRE.MatchString(cur):
			f.add(ptr+"/currency", "must be an ISO 4217 code of three upper-case letters")
		}
		it.Item.Currency = cur
		it.Provider, _ = f.str(ptr, m, "provider", maxRefLen)
		it.Item.Unallocated = f.boolean(ptr, m, "unallocated")
		holder, hasHolder := f.str(ptr, m, "accountHolderName", maxNameLen)
		name, hasName := f.str(ptr, m, "accountName", maxNameLen)
		if it.Item.Unallocated {
			if hasHolder || hasName {
				f.add(ptr+"/unallocated", "an unallocated account takes no accountHolderName or accountName; set them when allocating it")
			}
		} else {
			if strings.TrimSpace(holder) == "" {
				f.add(ptr+"/accountHolderName", "is required unless unallocated is true")
			}
			if strings.TrimSpace(name) == "" {
				f.add(ptr+"/accountName", "is required unless unallocated is true")
			}
		}
		it.Item.AccountHolderName, it.Item.AccountName = holder, name
		if dob, ok := f.str(ptr, m, "dob", 10); ok {
			f.date(ptr+"/dob", dob)
			it.Item.DOB = dob
		}
		it.Item.NativeLanguageName, _ = f.str(ptr, m, "nativeLanguageName", maxNameLen)
		it.Item.ClientReference, _ = f.str(ptr, m, "clientReference", maxRefLen)
		it.Item.CustomerID, _ = f.str(ptr, m, "customerId", maxRefLen)
		it.Item.Metadata = f.strMap(ptr, m, "metadata", maxMetadata, maxMetadataKey, maxMetadataValue)
		it.Item.Params = f.strMap(ptr, m, "providerParams", maxParams, maxMetadataKey, maxParamValue)
		out.Items = append(out.Items, it)
	}
	return out, f
}

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

// ParseUpdate parses an account update strictly.
func ParseUpdate(body []byte) (*provider.Allocation, []FieldError) {
	var f fields
	if !json.Valid(body) {
		f.add("", "the body is not valid JSON")
		return nil, f
	}
	m := f.object("", body, "accountHolderName", "accountName", "dob", "nativeLanguageName", "clientReference")
	if m == nil {
		return nil, f
	}
	a := &provider.Allocation{}
	set := func(key string, max int, nonEmpty bool) *string {
		v, ok := f.str("", m, key, max)
		if !ok {
			if raw, present := m[key]; present && string(raw) == "null" {
				f.add("/"+key, "cannot be null")
			}
			return nil
		}
		if nonEmpty && strings.TrimSpace(v) == "" {
			f.add("/"+key, "must not be empty")
		}
		return &v
	}
	a.AccountHolderName = set("accountHolderName", maxNameLen, true)
	a.AccountName = set("accountName", maxNameLen, true)
	a.DOB = set("dob", 10, true)
	if a.DOB != nil {
		f.date("/dob", *a.DOB)
	}
	a.NativeLanguageName = set("nativeLanguageName", maxNameLen, false)
	a.ClientReference = set("clientReference", maxRefLen, false)
	if len(f) == 0 && !a.Identity() && a.ClientReference == nil {
		f.add("", "set at least one of accountHolderName, accountName, dob, nativeLanguageName, clientReference")
	}
	if len(f) > 0 {
		return nil, f
	}
	return a, nil
}

// ParseClose parses the optional body of a close.
func ParseClose(body []byte) (*provider.CloseReason, []FieldError) {
	var f fields
	r := &provider.CloseReason{}
	if len(bytes.TrimSpace(body)) == 0 {
		return r, nil
	}
	if !json.Valid(body) {
		f.add("", "the body is not valid JSON")
		return nil, f
	}
	m := f.object("", body, "reason", "requestedBy", "notes")
	if m == nil {
		return nil, f
	}
	r.Reason, _ = f.str("", m, "reason", 255)
	r.RequestedBy, _ = f.str("", m, "requestedBy", 255)
	r.Notes, _ = f.multiline("", m, "notes", 1000)
	if len(f) > 0 {
		return nil, f
	}
	return r, nil
}

// ParsePrefer reads the wait preference of an RFC 7240 Prefer header. Other
// preferences are ignored; a malformed wait is an error.
func ParsePrefer(h string, max time.Duration) (time.Duration, *FieldError) {
	for _, part := range strings.Split(h, ",") {
		pref, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		name, val, hasVal := strings.Cut(pref, "=")
		if !strings.EqualFold(strings.TrimSpace(name), "wait") {
			continue
		}
		val = strings.Trim(strings.TrimSpace(val), `"`)
		var n int
		if !hasVal || val == "" || len(val) > 6 || strings.TrimLeft(val, "0123456789") != "" {
			return 0, &FieldError{Pointer: "/headers/Prefer", Detail: "wait must be a whole number of seconds, e.g. Prefer: wait=10"}
		}
		fmt.Sscan(val, &n)
		d := time.Duration(n) * time.Second
		if d > max {
			d = max
		}
		return d, nil
	}
	return 0, nil
}
