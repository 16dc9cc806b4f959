package batchvamock

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/vagate/vagate/mocks/mockhttp"
)

// problems collects validation failures as "field: reason".
type problems []string

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, field+": "+fmt.Sprintf(format, args...))
}

func (p problems) String() string { return strings.Join(p, "; ") }

// createRequest is a validated create body.
type createRequest struct {
	CallbackURL   string
	CustomHeaders map[string]string
	Items         []createItem
}

// createItem is one validated item; optional strings are nil when absent or empty.
type createItem struct {
	Currency           string
	AccountHolderName  string
	AccountName        string
	ClientReference    *string
	Dob                *string
	NativeLanguageName *string
	Unallocated        bool
}

var (
	createFields = []string{"callbackUrl", "customHeaders", "items"}
	itemFields   = []string{"currency", "unallocated", "accountHolderName", "accountName", "clientReference", "dob", "nativeLanguageName"}
	patchFields  = []string{"accountHolderName", "accountName", "dob", "nativeLanguageName", "clientReference"}
	// reservedHeaders cannot be custom headers: the mock sets them on callbacks.
	reservedHeaders = []string{"Bcb-Signature", "Bcb-Timestamp", "Bcb-Nonce", "Bcb-Signature-Version",
		"Content-Type", "Content-Length", "Transfer-Encoding", "Host", "Connection"}
)

// object is a decoded JSON object: known members under their canonical
// names (matched case-insensitively), and the names of the unknown ones.
type object struct {
	fields  map[string]json.RawMessage
	unknown []string
	dups    []string
}

// decodeObject decodes raw (valid JSON) as an object; ok is false when it is another type.
func decodeObject(raw json.RawMessage, known []string) (object, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return object{}, false
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(raw, &all); err != nil {
		return object{}, false
	}
	o := object{fields: map[string]json.RawMessage{}}
	for name, v := range all {
		i := slices.IndexFunc(known, func(k string) bool { return strings.EqualFold(k, name) })
		if i < 0 {
			o.unknown = append(o.unknown, name)
			continue
		}
		if _, dup := o.fields[known[i]]; dup {
			o.dups = append(o.dups, known[i])
		}
		o.fields[known[i]] = v
	}
	slices.Sort(o.unknown)
	slices.Sort(o.dups)
	o.dups = slices.Compact(o.dups)
	return o, true
}

func isNull(raw json.RawMessage) bool {
	return raw == nil || string(bytes.TrimSpace(raw)) == "null"
}

// stringField reads an optional string member: nil when absent or null; a
// wrong type is a problem.
func (o object) stringField(name, path string, p *problems) *string {
	raw := o.fields[name]
	if isNull(raw) {
		return nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		p.add(path, "must be a string")
		return nil
	}
	return &s
}

func chars(s string) int { return utf8.RuneCountInString(s) }

// parseCreate decodes and validates a create body, collecting every
// problem; strict requires every item's unallocated flag.
func parseCreate(body []byte, strict bool) (*createRequest, problems) {
	var p problems
	if !json.Valid(body) {
		var v any
		err := json.Unmarshal(body, &v)
		if err == nil {
			err = fmt.Errorf("invalid JSON")
		}
		p.add("body", "malformed JSON: %v", err)
		return nil, p
	}
	top, ok := decodeObject(body, createFields)
	if !ok {
		p.add("body", "must be a JSON object")
		return nil, p
	}
	for _, d := range top.dups {
		p.add(d, "duplicate field")
	}
	req := &createRequest{}
	if cb := top.stringField("callbackUrl", "callbackUrl", &p); cb != nil && *cb != "" {
		u, err := url.Parse(*cb)
		if err != nil || (!strings.EqualFold(u.Scheme, "http") && !strings.EqualFold(u.Scheme, "https")) || u.Host == "" {
			p.add("callbackUrl", "must be an absolute http or https URL")
		} else {
			req.CallbackURL = *cb
		}
	}
	req.CustomHeaders = parseHeaders(top.fields["customHeaders"], &p)

	rawItems := top.fields["items"]
	var items []json.RawMessage
	switch {
	case isNull(rawItems):
		p.add("items", "required")
	case json.Unmarshal(rawItems, &items) != nil:
		p.add("items", "must be an array")
	case len(items) == 0:
		p.add("items", "must contain at least 1 item")
	case len(items) > MaxItems:
		p.add("items", "must contain at most %d items, got %d", MaxItems, len(items))
	}
	req.Items = make([]createItem, len(items))
	for i, raw := range items {
		req.Items[i] = parseItem(i, raw, strict, &p)
	}
	if len(p) > 0 {
		return nil, p
	}
	return req, nil
}

func parseHeaders(raw json.RawMessage, p *problems) map[string]string {
	if isNull(raw) {
		return nil
	}
	var hs map[string]json.RawMessage
	if bytes.TrimSpace(raw)[0] != '{' || json.Unmarshal(raw, &hs) != nil {
		p.add("customHeaders", "must be an object of strings")
		return nil
	}
	if len(hs) > MaxCustomHeaders {
		p.add("customHeaders", "must have at most %d entries, got %d", MaxCustomHeaders, len(hs))
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range hs {
			if !yield(k) {
				return
			}
		}
	})
	out := make(map[string]string, len(hs))
	seen := map[string]bool{}
	for _, k := range keys {
		path := fmt.Sprintf("customHeaders[%q]", k)
		var v string
		if err := json.Unmarshal(hs[k], &v); err != nil || isNull(hs[k]) {
			p.add(path, "must be a string")
			continue
		}
		switch canon := http.CanonicalHeaderKey(k); {
		case k == "":
			p.add(path, "key must not be empty")
		case chars(k) > MaxHeaderKey:
			p.add(path, "key must be at most %d characters", MaxHeaderKey)
		case !validHeaderName(k):
			p.add(path, "key is not a valid HTTP header name")
		case slices.Contains(reservedHeaders, canon):
			p.add(path, "key is reserved")
		case seen[canon]:
			p.add(path, "key repeats another header (names are case-insensitive)")
		default:
			seen[canon] = true
		}
		switch {
		case chars(v) > MaxHeaderValue:
			p.add(path, "value must be at most %d characters", MaxHeaderValue)
		case !validHeaderValue(v):
			p.add(path, "value is not a valid HTTP header value")
		}
		out[k] = v
	}
	return out
}

func validHeaderName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
		if !ok {
			return false
		}
	}
	return s != ""
}

func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

func parseItem(i int, raw json.RawMessage, strict bool, p *problems) createItem {
	prefix := fmt.Sprintf("items[%d]", i)
	o, ok := decodeObject(raw, itemFields)
	if !ok {
		p.add(prefix, "must be an object")
		return createItem{}
	}
	for _, d := range o.dups {
		p.add(prefix+"."+d, "duplicate field")
	}
	var it createItem
	switch cur := o.stringField("currency", prefix+".currency", p); {
	case cur == nil:
		if isNull(o.fields["currency"]) {
			p.add(prefix+".currency", "required")
		}
	case !currencies[*cur]:
		p.add(prefix+".currency", "unsupported currency %s", *cur)
	default:
		it.Currency = *cur
	}
	switch raw := o.fields["unallocated"]; {
	case !isNull(raw):
		if err := json.Unmarshal(raw, &it.Unallocated); err != nil {
			p.add(prefix+".unallocated", "must be a boolean")
		}
	case strict:
		// Documented as required, though the documents' own examples
		// leave it out of named items.
		p.add(prefix+".unallocated", "required (strict mode: the reference marks it required)")
	}
	holder := o.stringField("accountHolderName", prefix+".accountHolderName", p)
	name := o.stringField("accountName", prefix+".accountName", p)
	if it.Unallocated {
		it.AccountHolderName, it.AccountName = Placeholder, Placeholder
	} else {
		it.AccountHolderName = requiredName(holder, o.fields["accountHolderName"], prefix+".accountHolderName", p)
		it.AccountName = requiredName(name, o.fields["accountName"], prefix+".accountName", p)
	}
	it.ClientReference = optional(o.stringField("clientReference", prefix+".clientReference", p))
	if it.ClientReference != nil && chars(*it.ClientReference) > MaxClientReference {
		p.add(prefix+".clientReference", "must be at most %d characters", MaxClientReference)
	}
	it.Dob = optional(o.stringField("dob", prefix+".dob", p))
	if it.Dob != nil && !validDate(*it.Dob) {
		p.add(prefix+".dob", "must be a date YYYY-MM-DD")
	}
	it.NativeLanguageName = optional(o.stringField("nativeLanguageName", prefix+".nativeLanguageName", p))
	if it.NativeLanguageName != nil && chars(*it.NativeLanguageName) > MaxNativeLanguageName {
		p.add(prefix+".nativeLanguageName", "must be at most %d characters", MaxNativeLanguageName)
	}
	return it
}

// requiredName checks a name that must be given; raw tells absent from mistyped.
func requiredName(v *string, raw json.RawMessage, path string, p *problems) string {
	switch {
	case v == nil:
		if isNull(raw) {
			p.add(path, "required unless unallocated is true")
		}
		return ""
	case strings.TrimSpace(*v) == "":
		p.add(path, "must not be blank")
	case strings.EqualFold(strings.TrimSpace(*v), Placeholder):
		p.add(path, "must not be the placeholder %s", Placeholder)
	}
	return *v
}

// optional maps "" to nil.
func optional(s *string) *string {
	if s == nil || *s == "" {
		return nil
	}
	return s
}

func validDate(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

// validKey reports whether k is an Idempotency-Key: a UUID in its 36-character form.
func validKey(k string) bool {
	if len(k) != 36 {
		return false
	}
	_, err := uuid.Parse(k)
	return err == nil
}

type jobAccepted struct {
	JobID     string `json:"jobId"`
	Status    string `json:"status"`
	StatusURL string `json:"statusUrl"`
	ResultURL string `json:"resultUrl"`
}

// handleCreate serves POST /v1/virtual-accounts.
func (m *Mock) handleCreate(w http.ResponseWriter, r *http.Request) {
	owner, ok := m.authorize(w, r, PermissionCreate)
	if !ok {
		return
	}
	format, ok := m.negotiate(w, r)
	if !ok {
		return
	}
	key := strings.TrimSpace(r.Header.Get("Idempotency-Key"))
	if key != "" {
		if !validKey(key) {
			writeError(w, http.StatusBadRequest, "INVALID_IDEMPOTENCY_KEY", "Idempotency-Key must be a UUID such as 123e4567-e89b-12d3-a456-426614174000")
			return
		}
		key = owner + "\x00" + strings.ToLower(key)
		m.mu.Lock()
		stored := m.idem[key]
		m.mu.Unlock()
		if stored != nil {
			writeAccepted(w, format, stored)
			return
		}
	}
	body, ok := readJSONBody(w, r)
	if !ok {
		return
	}
	req, probs := parseCreate(body, m.opts.Strict)
	if len(probs) > 0 {
		writeError(w, http.StatusBadRequest, "", probs.String())
		return
	}
	base := m.baseURL(r)

	m.mu.Lock()
	if stored := m.idem[key]; key != "" && stored != nil {
		m.mu.Unlock()
		writeAccepted(w, format, stored)
		return
	}
	if m.closed {
		m.mu.Unlock()
		writeError(w, http.StatusServiceUnavailable, "", "the mock is closed")
		return
	}
	j := m.newJobLocked(owner, req)
	statusURL := base + "/v1/virtual-accounts/jobs/" + j.id
	resp, _ := json.Marshal(jobAccepted{JobID: j.id, Status: j.state, StatusURL: statusURL, ResultURL: statusURL + "/results"})
	if key != "" {
		m.idem[key] = resp
	}
	m.wg.Add(1)
	m.mu.Unlock()
	go m.run(j)
	writeAccepted(w, format, resp)
}

// writeAccepted answers the 202 body (JSON, as stored for its key) as JSON,
// or as CSV: the member names as header and one row.
func writeAccepted(w http.ResponseWriter, format string, body []byte) {
	if format == formatJSON {
		mockhttp.WriteRawJSON(w, http.StatusAccepted, body)
		return
	}
	var a jobAccepted
	json.Unmarshal(body, &a)
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.WriteHeader(http.StatusAccepted)
	cw := csv.NewWriter(w)
	cw.Write([]string{"jobId", "status", "statusUrl", "resultUrl"})
	cw.Write([]string{a.JobID, a.Status, a.StatusURL, a.ResultURL})
	cw.Flush()
}
