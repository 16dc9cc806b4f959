package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
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

var (
	topKnown  = "items, callbackUrl, customHeaders"
	itemKnown = strings.Join(itemFields, ", ")
)

// The fields of an item, in the order their errors are reported.
const (
	fCurrency = iota
	fProvider
	fUnallocated
	fHolder
	fName
	fDOB
	fNative
	fReference
	fCustomer
	fMetadata
	fParams
	nItemFields
)

// rel is a bad field of one object, its pointer relative to the object's.
type rel struct{ at, msg string }

// object collects an object's bad fields while it is read: the unknown keys,
// and per known field the errors of its last occurrence (of keys given twice
// the last counts, as in encoding/json).
type object struct {
	unknown []string
	slots   [][]rel
}

// report appends the object's errors, each pointer under ptr: unknown keys
// first (sorted), then the known fields in order.
func (o *object) report(f *fields, ptr, known string) {
	if len(o.unknown) > 0 {
		sort.Strings(o.unknown)
		for i, k := range o.unknown {
			if i == 0 || k != o.unknown[i-1] {
				f.add(ptr+"/"+escape(k), "is not a known field (known: %s)", known)
			}
		}
	}
	for _, errs := range o.slots {
		for _, e := range errs {
			*f = append(*f, bank.FieldError{Pointer: ptr + e.at, Message: e.msg})
		}
	}
}

func (o *object) bad() bool {
	if len(o.unknown) > 0 {
		return true
	}
	for _, e := range o.slots {
		if len(e) > 0 {
			return true
		}
	}
	return false
}

// optString reads an optional string field; null counts as absent.
func (s *scanner) optString(depth int, at string) (v string, present bool, errs []rel) {
	switch s.peek() {
	case '"':
		return s.str(), true, nil
	case 'n':
		if s.null(); !s.bad {
			return "", false, nil
		}
	}
	s.skip(depth)
	return "", false, []rel{{at, "must be a string"}}
}

// optBool reads an optional boolean field; null counts as false.
func (s *scanner) optBool(depth int, at string) (bool, []rel) {
	switch s.peek() {
	case 't':
		s.literal("true")
		return true, nil
	case 'f':
		s.literal("false")
		return false, nil
	case 'n':
		s.literal("null")
		return false, nil
	}
	s.skip(depth)
	return false, []rel{{at, "must be true or false"}}
}

// strMap reads an optional object of strings (null: absent). It returns
// the keys whose values are strings (or null, read as ""), and an error for
// each key whose value is not.
func (s *scanner) strMap(depth int, at string) (map[string]string, []rel) {
	switch s.peek() {
	case 'n':
		s.literal("null")
		return nil, nil
	case '{':
	default:
		s.skip(depth)
		return nil, []rel{{at, "must be an object of strings"}}
	}
	s.i++
	out := map[string]string{}
	var wrong map[string]bool
	s.members(depth+1, func(k string) {
		switch s.peek() {
		case '"':
			out[k] = s.str()
			delete(wrong, k)
			return
		case 'n':
			if s.null(); !s.bad {
				out[k] = ""
				delete(wrong, k)
				return
			}
		}
		s.skip(depth + 1)
		if wrong == nil {
			wrong = map[string]bool{}
		}
		wrong[k] = true
		delete(out, k)
	})
	if len(wrong) == 0 {
		return out, nil
	}
	keys := make([]string, 0, len(wrong))
	for k := range wrong {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	errs := make([]rel, len(keys))
	for i, k := range keys {
		errs[i] = rel{at + "/" + escape(k), "must be a string"}
	}
	return out, errs
}

// ParseCreate reads a create request and returns every field whose shape is
// wrong, each named by its JSON pointer. When the body is an object it also
// returns what it could read: an item with a wrong shape is nil (its
// values are not judged), the others are ready for the gateway's rules. A
// request with any bad field must not be acted on.
//
// It reads the body once, front to back, straight into the request; a body
// that is not JSON is reported as such and nothing else.
func ParseCreate(body []byte) (*CreateBody, []bank.FieldError) {
	var f fields
	if len(bytes.TrimSpace(body)) == 0 {
		f.add("", "the body is empty; send a JSON object with items")
		return nil, f
	}
	s := &scanner{b: body}
	out, top, items := s.create()
	if s.end(); s.bad {
		f.add("", "the body is not valid JSON")
		return nil, f
	}
	if out == nil {
		f.add("", "must be a JSON object")
		return nil, f
	}
	top.report(&f, "", topKnown)
	switch {
	case items.errs != nil:
		f = append(f, items.errs...)
	default:
		for i := range items.bad {
			b := &items.bad[i]
			b.object.report(&f, "/items/"+strconv.Itoa(b.index), itemKnown)
		}
	}
	return out, f
}

// itemList is what the items field said: an error of the list as a whole,
// or the bad fields of each item that has any.
type itemList struct {
	errs fields
	bad  []badItem
}

type badItem struct {
	index  int
	object object
}

// create reads the body's one value: nil unless it is an object.
func (s *scanner) create() (*CreateBody, object, itemList) {
	var top object
	var items itemList
	if s.peek() != '{' {
		s.skip(0)
		return nil, top, items
	}
	s.i++
	out := &CreateBody{}
	top.slots = make([][]rel, 2)
	present := false
	s.members(1, func(k string) {
		switch k {
		case "callbackUrl":
			out.CallbackURL, _, top.slots[0] = s.optString(1, "/callbackUrl")
		case "customHeaders":
			out.CustomHeaders, top.slots[1] = s.strMap(1, "/customHeaders")
		case "items":
			out.Items, items = nil, itemList{}
			present = s.peek() != 'n'
			out.Items, items = s.items(2)
		default:
			top.unknown = append(top.unknown, k)
			s.skip(1)
		}
	})
	if !present {
		items = itemList{}
		items.errs.add("/items", "is required")
	}
	return out, top, items
}

// items reads the items array (opening nesting depth).
func (s *scanner) items(depth int) ([]*gateway.Item, itemList) {
	var l itemList
	switch s.peek() {
	case '[':
	case 'n':
		s.literal("null")
		return nil, l
	default:
		s.skip(depth - 1)
		l.errs.add("/items", "must be an array")
		return nil, l
	}
	s.i++
	var out []*gateway.Item
	var slab []gateway.Item // items are allocated in blocks, not one by one
	n := 0
	s.elements(depth, func(i int) {
		n++
		if i >= MaxItems {
			s.skip(depth)
			return
		}
		if len(slab) == 0 {
			slab = make([]gateway.Item, min(max(i, 1), 128))
		}
		it := &slab[0]
		slab = slab[1:]
		o := s.item(depth, it)
		if o.bad() {
			l.bad = append(l.bad, badItem{i, o})
			it = nil
		}
		out = append(out, it)
	})
	switch {
	case n == 0:
		l.errs.add("/items", "must hold at least 1 item")
		return nil, l
	case n > MaxItems:
		l.errs.add("/items", "must hold at most %d items (got %d)", MaxItems, n)
		return nil, l
	}
	return out, l
}

// item reads one item of a create request (depth: the nesting of its
// array).
func (s *scanner) item(depth int, it *gateway.Item) object {
	var o object
	if s.peek() != '{' {
		s.skip(depth)
		o.slots = [][]rel{{{"", "must be a JSON object"}}}
		return o
	}
	s.i++
	d := depth + 1
	a := &it.Account
	var slots [nItemFields][]rel
	currency := false
	s.members(d, func(k string) {
		switch k {
		case "currency":
			a.Currency, currency, slots[fCurrency] = s.optString(d, "/currency")
		case "provider":
			it.Provider, _, slots[fProvider] = s.optString(d, "/provider")
		case "unallocated":
			a.Unallocated, slots[fUnallocated] = s.optBool(d, "/unallocated")
		case "accountHolderName":
			a.AccountHolderName, _, slots[fHolder] = s.optString(d, "/accountHolderName")
		case "accountName":
			a.AccountName, _, slots[fName] = s.optString(d, "/accountName")
		case "dob":
			a.DOB, _, slots[fDOB] = s.optString(d, "/dob")
		case "nativeLanguageName":
			a.NativeLanguageName, _, slots[fNative] = s.optString(d, "/nativeLanguageName")
		case "clientReference":
			a.ClientReference, _, slots[fReference] = s.optString(d, "/clientReference")
		case "customerId":
			a.CustomerID, _, slots[fCustomer] = s.optString(d, "/customerId")
		case "metadata":
			a.Metadata, slots[fMetadata] = s.strMap(d, "/metadata")
		case "providerParams":
			a.Params, slots[fParams] = s.strMap(d, "/providerParams")
		default:
			o.unknown = append(o.unknown, k)
			s.skip(d)
		}
	})
	if !currency && slots[fCurrency] == nil {
		slots[fCurrency] = []rel{{"/currency", "is required"}}
	}
	for _, e := range slots {
		if e != nil {
			o.slots = append([][]rel(nil), slots[:]...)
			break
		}
	}
	return o
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
