package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/gateway"
	"github.com/vagate/vagate/core/provider"
)

// The parsers of this file check a body's shape as the OpenAPI document
// describes it: well-formed JSON, the types of its fields, the presence of
// required ones, and no unknown field. The rules on the values (lengths,
// formats, provider limits, currencies, params) are the gateway's: see
// gateway.Router.Plan and the validation of gateway.Provider.

// MaxItems is the most items one create request holds (the document's
// maxItems): the parser reads no item of a longer list.
const MaxItems = 1000

// fields collects the bad fields of a body's shape.
type fields []bank.FieldError

func (f *fields) add(pointer, format string, args ...any) {
	*f = append(*f, bank.FieldError{Pointer: pointer, Message: fmt.Sprintf(format, args...)})
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

// absent reports whether key is missing from m or null: a JSON null counts
// as absent.
func absent(m map[string]json.RawMessage, key string) bool {
	raw, ok := m[key]
	return !ok || string(raw) == "null"
}

// str reads an optional string field; present reports whether it was
// given as a string.
func (f *fields) str(ptr string, m map[string]json.RawMessage, key string) (v string, present bool) {
	if absent(m, key) {
		return "", false
	}
	if err := json.Unmarshal(m[key], &v); err != nil {
		f.add(ptr+"/"+key, "must be a string")
		return "", false
	}
	return v, true
}

// required reads a string field the document requires.
func (f *fields) required(ptr string, m map[string]json.RawMessage, key string) string {
	if absent(m, key) {
		f.add(ptr+"/"+key, "is required")
		return ""
	}
	v, _ := f.str(ptr, m, key)
	return v
}

func (f *fields) boolean(ptr string, m map[string]json.RawMessage, key string) bool {
	if absent(m, key) {
		return false
	}
	var b bool
	if err := json.Unmarshal(m[key], &b); err != nil {
		f.add(ptr+"/"+key, "must be true or false")
	}
	return b
}

// strMap reads an optional object of strings.
func (f *fields) strMap(ptr string, m map[string]json.RawMessage, key string) map[string]string {
	if absent(m, key) {
		return nil
	}
	p := ptr + "/" + key
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(m[key], &obj); err != nil || obj == nil {
		f.add(p, "must be an object of strings")
		return nil
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make(map[string]string, len(obj))
	for _, k := range keys {
		var v string
		if err := json.Unmarshal(obj[k], &v); err != nil {
			f.add(p+"/"+escape(k), "must be a string")
			continue
		}
		out[k] = v
	}
	return out
}

// CreateBody is a create request as read: the request the gateway plans,
// and the callback URL the client named.
type CreateBody struct {
	gateway.Request
	CallbackURL string
}

var itemFields = []string{"currency", "provider", "unallocated", "accountHolderName", "accountName", "dob",
	"nativeLanguageName", "clientReference", "customerId", "metadata", "providerParams"}

// ParseCreate reads a create request and returns every field whose shape is
// wrong, each named by its JSON pointer. When the body is an object it also
// returns what it could read: an item with a wrong shape is nil (its
// values are not judged), the others are ready for the gateway's rules. A
// request with any bad field must not be acted on.
func ParseCreate(body []byte) (*CreateBody, []bank.FieldError) {
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
	out.CallbackURL, _ = f.str("", top, "callbackUrl")
	out.CustomHeaders = f.strMap("", top, "customHeaders")
	if absent(top, "items") {
		f.add("/items", "is required")
		return out, f
	}
	var items []json.RawMessage
	if err := json.Unmarshal(top["items"], &items); err != nil {
		f.add("/items", "must be an array")
		return out, f
	}
	switch {
	case len(items) == 0:
		f.add("/items", "must hold at least 1 item")
		return out, f
	case len(items) > MaxItems:
		f.add("/items", "must hold at most %d items (got %d)", MaxItems, len(items))
		return out, f
	}
	out.Items = make([]*gateway.Item, len(items))
	for i, raw := range items {
		var g fields
		it := parseItem(&g, fmt.Sprintf("/items/%d", i), raw)
		if len(g) == 0 {
			out.Items[i] = it
		}
		f = append(f, g...)
	}
	return out, f
}

// parseItem reads one item of a create request.
func parseItem(f *fields, ptr string, raw json.RawMessage) *gateway.Item {
	m := f.object(ptr, raw, itemFields...)
	if m == nil {
		return nil
	}
	it := &gateway.Item{}
	a := &it.Account
	a.Currency = f.required(ptr, m, "currency")
	it.Provider, _ = f.str(ptr, m, "provider")
	a.Unallocated = f.boolean(ptr, m, "unallocated")
	a.AccountHolderName, _ = f.str(ptr, m, "accountHolderName")
	a.AccountName, _ = f.str(ptr, m, "accountName")
	a.DOB, _ = f.str(ptr, m, "dob")
	a.NativeLanguageName, _ = f.str(ptr, m, "nativeLanguageName")
	a.ClientReference, _ = f.str(ptr, m, "clientReference")
	a.CustomerID, _ = f.str(ptr, m, "customerId")
	a.Metadata = f.strMap(ptr, m, "metadata")
	a.Params = f.strMap(ptr, m, "providerParams")
	return it
}

var updateFields = []string{"accountHolderName", "accountName", "dob", "nativeLanguageName", "clientReference"}

// ParseUpdate reads an account update: an object of strings, none null,
// setting at least one field.
func ParseUpdate(body []byte) (*provider.Allocation, []bank.FieldError) {
	var f fields
	if !json.Valid(body) {
		f.add("", "the body is not valid JSON")
		return nil, f
	}
	m := f.object("", body, updateFields...)
	if m == nil {
		return nil, f
	}
	a := &provider.Allocation{}
	set := func(key string) *string {
		if raw, ok := m[key]; ok && string(raw) == "null" {
			f.add("/"+key, "cannot be null")
			return nil
		}
		if v, ok := f.str("", m, key); ok {
			return &v
		}
		return nil
	}
	a.AccountHolderName = set("accountHolderName")
	a.AccountName = set("accountName")
	a.DOB = set("dob")
	a.NativeLanguageName = set("nativeLanguageName")
	a.ClientReference = set("clientReference")
	if len(m) == 0 {
		f.add("", "set at least one of %s", strings.Join(updateFields, ", "))
	}
	if len(f) > 0 {
		return nil, f
	}
	return a, nil
}

// ParseClose reads the optional body of a close.
func ParseClose(body []byte) (*provider.CloseReason, []bank.FieldError) {
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
	r.Reason, _ = f.str("", m, "reason")
	r.RequestedBy, _ = f.str("", m, "requestedBy")
	r.Notes, _ = f.str("", m, "notes")
	if len(f) > 0 {
		return nil, f
	}
	return r, nil
}

// ParsePrefer reads the wait preference of an RFC 7240 Prefer header. Other
// preferences are ignored; a malformed wait is an error.
func ParsePrefer(h string, max time.Duration) (time.Duration, *bank.FieldError) {
	for _, part := range strings.Split(h, ",") {
		pref, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		name, val, hasVal := strings.Cut(pref, "=")
		if !strings.EqualFold(strings.TrimSpace(name), "wait") {
			continue
		}
		val = strings.Trim(strings.TrimSpace(val), `"`)
		var n int
		if !hasVal || val == "" || len(val) > 6 || strings.TrimLeft(val, "0123456789") != "" {
			return 0, &bank.FieldError{Pointer: "/headers/Prefer", Message: "wait must be a whole number of seconds, e.g. Prefer: wait=10"}
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
