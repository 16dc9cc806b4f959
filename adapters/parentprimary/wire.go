package parentprimary

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/vagate/vagate/core/bank"
)

// Provider account states.
const (
	StatePending = "PENDING"
	StateReady   = "READY"
	StateBlocked = "BLOCKED"
	StateDeleted = "DELETED"
)

// Provider error codes the adapter acts on.
const (
	CodeAccountDeleted = "ACCOUNT_DELETED"
	CodeBalanceNotZero = "BALANCE_NOT_ZERO"
)

// Names of the productParameters members that carry unified fields.
const (
	ParamAccountHolderName  = "accountHolderName"
	ParamAccountName        = "accountName"
	ParamClientReference    = "clientReference"
	ParamDOB                = "dob"
	ParamNativeLanguageName = "nativeLanguageName"
)

// reservedParams are productParameters members filled from unified fields.
var reservedParams = []string{ParamAccountHolderName, ParamAccountName, ParamClientReference, ParamDOB, ParamNativeLanguageName}

type createRequest struct {
	CustomerID        string            `json:"customerId"`
	IdempotencyKey    string            `json:"idempotencyKey"`
	ParentAccountID   string            `json:"parentAccountId"`
	ProductCode       string            `json:"productCode"`
	ProductParameters map[string]string `json:"productParameters,omitempty"`
}

type deleteRequest struct {
	IdempotencyKey string  `json:"idempotencyKey"`
	RequestedBy    string  `json:"requestedBy"`
	Reason         string  `json:"reason"`
	Notes          *string `json:"notes"`
}

type wireAccount struct {
	ID                string          `json:"id"`
	PartnerID         string          `json:"partnerId"`
	ExternalReference string          `json:"externalReference"`
	PrimaryAccountID  string          `json:"primaryAccountId"`
	Type              string          `json:"type"`
	CurrencyCode      string          `json:"currencyCode"`
	CreateDate        string          `json:"createDate"`
	State             string          `json:"state"`
	CustomerID        string          `json:"customerId"`
	ProductCode       string          `json:"productCode"`
	ProductParameters json.RawMessage `json:"productParameters"`
	AvailableBalance  *string         `json:"availableBalance"`
}

type wireError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// mapState maps a provider state to the unified status. A state the adapter
// does not know is PENDING: not known to be usable.
func mapState(s string) bank.Status {
	switch strings.ToUpper(s) {
	case StateReady:
		return bank.StatusActive
	case StateBlocked:
		return bank.StatusBlocked
	case StateDeleted:
		return bank.StatusClosed
	}
	return bank.StatusPending
}

// params reads productParameters as strings, ignoring other member types.
func (w *wireAccount) params() map[string]string {
	var m map[string]any
	if len(w.ProductParameters) == 0 || json.Unmarshal(w.ProductParameters, &m) != nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

// parseDate reads createDate as RFC 3339 or, as the document's example, a date.
func parseDate(s string) time.Time {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC()
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.UTC()
	}
	return time.Time{}
}

// toAccount maps the provider's account to the unified one, keeping raw.
func toAccount(w *wireAccount, raw []byte) *bank.Account {
	p := w.params()
	acc := &bank.Account{
		ProviderAccountID:  w.ID,
		Status:             mapState(w.State),
		ProviderStatus:     w.State,
		Currency:           w.CurrencyCode,
		AccountHolderName:  p[ParamAccountHolderName],
		AccountName:        p[ParamAccountName],
		DOB:                p[ParamDOB],
		NativeLanguageName: p[ParamNativeLanguageName],
		ClientReference:    p[ParamClientReference],
		CustomerID:         w.CustomerID,
		CreatedAt:          parseDate(w.CreateDate),
		Raw:                append(json.RawMessage(nil), raw...),
	}
	if w.AvailableBalance != nil {
		acc.Balance = &bank.Balance{Currency: w.CurrencyCode, Available: *w.AvailableBalance}
	}
	return acc
}
