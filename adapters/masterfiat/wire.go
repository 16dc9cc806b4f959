package masterfiat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/vagate/vagate/core/bank"
)

// Provider statuses of a virtual account.
const (
	StatusCreated          = "CREATED"
	StatusActive           = "ACTIVE"
	StatusActivationFailed = "ACTIVATION_FAILED"
	StatusBlocked          = "BLOCKED"
	StatusUnblocking       = "UNBLOCKING"
	StatusClosed           = "CLOSED"
)

// statusMap maps provider statuses to unified ones.
var statusMap = map[string]bank.Status{
	StatusCreated:          bank.StatusPending,
	StatusActive:           bank.StatusActive,
	StatusActivationFailed: bank.StatusFailed,
	StatusBlocked:          bank.StatusBlocked,
	StatusUnblocking:       bank.StatusUnblocking,
	StatusClosed:           bank.StatusClosed,
}

// Metadata keys the adapter reserves for unified fields the provider has no place for.
const (
	MetaClientReference   = "clientReference"
	MetaAccountHolderName = "accountHolderName"
	// MetaReference carries the gateway's own item reference, the only key
	// FindByReference looks accounts up by.
	MetaReference = "vagateReference"
)

type createRequest struct {
	MasterFiatAccountID string `json:"masterFiatAccountId"`
	Currency            string `json:"currency"`
	EndUserID           string `json:"endUserId,omitempty"`
	Label               string `json:"label,omitempty"`
	// Metadata is sent as the document types it: a string holding a JSON
	// object of the key:value pairs.
	Metadata string `json:"metadata,omitempty"`
}

// metadataString renders md as the document's metadata string ("" for none).
func metadataString(md map[string]string) string {
	if len(md) == 0 {
		return ""
	}
	b, _ := json.Marshal(md)
	return string(b)
}

type closeRequest struct {
	Reason      string `json:"reason,omitempty"`
	RequestedBy string `json:"requestedBy,omitempty"`
	Notes       string `json:"notes,omitempty"`
}

type routingCode struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

type wireBankDetails struct {
	BankName          string       `json:"bankName"`
	AccountHolderName string       `json:"accountHolderName"`
	Country           string       `json:"country"`
	IBAN              string       `json:"iban"`
	BIC               string       `json:"bic"`
	AccountNumber     string       `json:"accountNumber"`
	RoutingCodes      routingCodes `json:"routingCodes"`
}

// routingCodes reads routingCodes as the document types it, one object
// {type, value}, and as an array of them (its "one or more").
type routingCodes []routingCode

// UnmarshalJSON accepts one object, an array of them, or null.
func (r *routingCodes) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*r = nil
		return nil
	case len(b) > 0 && b[0] == '{':
		var one routingCode
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*r = routingCodes{one}
		return nil
	}
	var many []routingCode
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*r = many
	return nil
}

// bankDetailsList reads bankDetails as the documented array, and also as a
// single object or null.
type bankDetailsList []wireBankDetails

// UnmarshalJSON accepts an array, one object or null.
func (l *bankDetailsList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*l = nil
		return nil
	case len(b) > 0 && b[0] == '{':
		var one wireBankDetails
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*l = bankDetailsList{one}
		return nil
	}
	var many []wireBankDetails
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*l = many
	return nil
}

// metadata reads the documented "JSON key:value" metadata as an object (any
// scalar values) or as a string holding one.
type metadata map[string]string

// UnmarshalJSON accepts an object, a string holding one, or null.
func (m *metadata) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*m = nil
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if s == "" {
			*m = nil
			return nil
		}
		b = []byte(s)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	out := make(metadata, len(raw))
	for k, v := range raw {
		var s string
		if json.Unmarshal(v, &s) == nil {
			out[k] = s
			continue
		}
		if string(bytes.TrimSpace(v)) != "null" {
			out[k] = string(bytes.TrimSpace(v))
		}
	}
	*m = out
	return nil
}

type wireOwner struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

type wireAccount struct {
	ID                  string          `json:"id"`
	MasterFiatAccountID string          `json:"masterFiatAccountId"`
	Status              string          `json:"status"`
	Currency            string          `json:"currency"`
	Owner               wireOwner       `json:"owner"`
	BusinessID          string          `json:"businessId"`
	Label               *string         `json:"label"`
	BankDetails         bankDetailsList `json:"bankDetails"`
	CreatedAt           epochMS         `json:"createdAt"`
	UpdatedAt           epochMS         `json:"updatedAt"`
	Metadata            metadata        `json:"metadata"`
}

// epochMS is an epoch timestamp in milliseconds, as a number or a numeric string.
type epochMS int64

// UnmarshalJSON accepts a number, a numeric string or null.
func (e *epochMS) UnmarshalJSON(b []byte) error {
	b = bytes.Trim(bytes.TrimSpace(b), `"`)
	if string(b) == "null" || len(b) == 0 {
		*e = 0
		return nil
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("epoch milliseconds: %w", err)
	}
	*e = epochMS(n)
	return nil
}

func (e epochMS) time() time.Time {
	if e == 0 {
		return time.Time{}
	}
	return time.UnixMilli(int64(e)).UTC()
}

type accountList struct {
	Data       []json.RawMessage `json:"data"`
	NextCursor *string           `json:"nextCursor"`
}

type wireError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// OAuth token endpoint errors (RFC 6749).
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

type tokenResponse struct {
	AccessToken string  `json:"access_token"`
	TokenType   string  `json:"token_type"`
	ExpiresIn   flexInt `json:"expires_in"`
}

// flexInt reads a number given as a JSON number or a numeric string.
type flexInt int64

// UnmarshalJSON accepts a number or a numeric string.
func (f *flexInt) UnmarshalJSON(b []byte) error {
	b = bytes.Trim(bytes.TrimSpace(b), `"`)
	if len(b) == 0 || string(b) == "null" {
		*f = 0
		return nil
	}
	n, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return err
	}
	*f = flexInt(n)
	return nil
}

type webhookEvent struct {
	ID        string          `json:"id"`
	Event     string          `json:"event"`
	Data      json.RawMessage `json:"data"`
	CreatedAt epochMS         `json:"createdAt"`
}

// toAccount maps the provider's account to the unified one, keeping raw.
func toAccount(w *wireAccount, raw []byte) (*bank.Account, error) {
	if w.ID == "" {
		return nil, fmt.Errorf("virtual account without id")
	}
	st, ok := statusMap[w.Status]
	if !ok {
		return nil, fmt.Errorf("virtual account %s: unknown status %q", w.ID, w.Status)
	}
	acc := &bank.Account{
		ProviderAccountID: w.ID,
		Status:            st,
		ProviderStatus:    w.Status,
		Currency:          w.Currency,
		CreatedAt:         w.CreatedAt.time(),
		UpdatedAt:         w.UpdatedAt.time(),
		Raw:               append(json.RawMessage(nil), raw...),
	}
	if w.Label != nil {
		acc.AccountName = *w.Label
	}
	for _, d := range w.BankDetails {
		bd := bank.BankDetails{
			Type:     bankDetailsType(&d),
			BankName: d.BankName, AccountHolderName: d.AccountHolderName, Country: d.Country,
			IBAN: d.IBAN, BIC: d.BIC, AccountNumber: d.AccountNumber,
		}
		for _, rc := range d.RoutingCodes {
			bd.RoutingCodes = append(bd.RoutingCodes, bank.RoutingCode{Type: rc.Type, Value: rc.Value})
		}
		acc.BankDetails = append(acc.BankDetails, bd)
	}
	for k, v := range w.Metadata {
		switch k {
		case MetaClientReference:
			acc.ClientReference = v
		case MetaAccountHolderName:
			acc.AccountHolderName = v
		case MetaReference:
			acc.Reference = v
		default:
			if acc.Metadata == nil {
				acc.Metadata = map[string]string{}
			}
			acc.Metadata[k] = v
		}
	}
	if acc.AccountHolderName == "" && len(acc.BankDetails) > 0 {
		acc.AccountHolderName = acc.BankDetails[0].AccountHolderName
	}
	return acc, nil
}

// Bank details types: the document gives bank details no type, so the
// adapter names each by how money reaches it.
const (
	BankDetailsIBAN          = "IBAN"
	BankDetailsAccountNumber = "ACCOUNT_NUMBER"
)

// bankDetailsType is IBAN for details with an IBAN, else ACCOUNT_NUMBER
// (a national account number with its routing codes), else "".
func bankDetailsType(d *wireBankDetails) string {
	switch {
	case d.IBAN != "":
		return BankDetailsIBAN
	case d.AccountNumber != "":
		return BankDetailsAccountNumber
	}
	return ""
}
