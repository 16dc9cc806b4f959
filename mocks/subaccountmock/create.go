package subaccountmock

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Problem is one bad field of a request, as the error body's details list it.
type Problem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// CreateRequest is a parsed POST /v2/sub-accounts body; absent members are "".
type CreateRequest struct {
	Classification      string
	Identifier          string
	CustomerID          string
	Currency            string
	ClientReference     string
	SettlementAccountID string
}

// createFields are the documented members, in the order problems are listed.
var createFields = []string{"classification", "identifier", "customer_id", "currency", "client_reference", "settlement_account_id"}

// ParseCreate reads and validates a create body on its own (no state): it
// returns the request and every problem, in the order of createFields, then
// unknown members by name.
func ParseCreate(body []byte) (CreateRequest, []Problem) {
	var req CreateRequest
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		return req, []Problem{{Field: "", Message: "the body must be one JSON object"}}
	}
	var ps []Problem
	bad := func(field, format string, args ...any) {
		ps = append(ps, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	vals := map[string]string{}
	for _, f := range createFields {
		v, ok := raw[f]
		if !ok || string(bytes.TrimSpace(v)) == "null" {
			continue
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			bad(f, "must be a string")
			continue
		}
		vals[f] = s
	}
	var unknown []string
	for k := range raw {
		if !slices.Contains(createFields, k) {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	req = CreateRequest{
		Classification: vals["classification"], Identifier: vals["identifier"], CustomerID: vals["customer_id"],
		Currency: vals["currency"], ClientReference: vals["client_reference"], SettlementAccountID: vals["settlement_account_id"],
	}
	_, hasIdentifier := raw["identifier"]
	_, hasCustomer := raw["customer_id"]
	hasIdentifier = hasIdentifier && req.Identifier != ""
	hasCustomer = hasCustomer && req.CustomerID != ""
	typed := func(f string) bool { // the member, if sent, was a string
		for _, p := range ps {
			if p.Field == f {
				return false
			}
		}
		return true
	}

	switch {
	case !typed("classification"):
	case req.Classification == "":
		bad("classification", `is required: "institution" or "customer"`)
	case req.Classification != ClassificationInstitution && req.Classification != ClassificationCustomer:
		bad("classification", `must be "institution" or "customer"`)
	}
	switch {
	case !typed("identifier"):
	case req.Classification == ClassificationInstitution && strings.TrimSpace(req.Identifier) == "":
		bad("identifier", "is required for an institution sub-account")
	case req.Classification == ClassificationCustomer && hasIdentifier:
		bad("identifier", "is only for institution sub-accounts")
	case utf8.RuneCountInString(req.Identifier) > MaxIdentifier:
		bad("identifier", "must be at most %d characters", MaxIdentifier)
	}
	switch {
	case !typed("customer_id"):
	case req.Classification == ClassificationCustomer && req.CustomerID == "":
		bad("customer_id", "is required for a customer sub-account")
	case req.Classification == ClassificationInstitution && hasCustomer:
		bad("customer_id", "is only for customer sub-accounts")
	case req.CustomerID != "" && !isUUID(req.CustomerID):
		bad("customer_id", "must be a UUID")
	}
	switch {
	case !typed("currency"):
	case req.Currency == "":
		bad("currency", "is required")
	case !isCurrency(req.Currency):
		bad("currency", "must be an ISO 4217 code such as NGN")
	default:
		if _, ok := currencies[req.Currency]; !ok {
			bad("currency", "%s is not supported (NGN, USD, EUR, GBP)", req.Currency)
		}
	}
	if typed("client_reference") && utf8.RuneCountInString(req.ClientReference) > MaxClientReference {
		bad("client_reference", "must be at most %d characters", MaxClientReference)
	}
	if typed("settlement_account_id") && req.SettlementAccountID != "" && !isUUID(req.SettlementAccountID) {
		bad("settlement_account_id", "must be a UUID")
	}
	for _, k := range unknown {
		bad(k, "is not a member of this request")
	}
	return req, ps
}

// StrictProblems lists what the strict reading of the document refuses in
// a request the lenient one accepts: the document's parameter tables have a
// Required column whose marks its published copy lost, so strictly every
// parameter it lists for the classification is required, client_reference
// and settlement_account_id included.
func (r CreateRequest) StrictProblems() []Problem {
	var ps []Problem
	if r.ClientReference == "" {
		ps = append(ps, Problem{Field: "client_reference", Message: "is required (strict mode: every parameter the document lists)"})
	}
	if r.SettlementAccountID == "" {
		ps = append(ps, Problem{Field: "settlement_account_id", Message: "is required (strict mode: every parameter the document lists)"})
	}
	return ps
}

// problemsMessage joins problems as "field: message; ...".
func problemsMessage(ps []Problem) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		if p.Field == "" {
			parts[i] = p.Message
			continue
		}
		parts[i] = p.Field + ": " + p.Message
	}
	return strings.Join(parts, "; ")
}
