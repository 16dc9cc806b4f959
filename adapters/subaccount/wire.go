package subaccount

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/provider"
)

// Provider states.
const (
	StateActive                = "ACTIVE"
	StatePendingDepositAddress = "PENDING_DEPOSIT_ADDRESS"
)

// Classifications of a sub-account.
const (
	ClassificationInstitution = "institution"
	ClassificationCustomer    = "customer"
)

// Provider limits from the document.
const (
	MaxIdentifier      = 64
	MaxClientReference = 64
)

type createBody struct {
	Classification      string `json:"classification"`
	Identifier          string `json:"identifier,omitempty"`
	CustomerID          string `json:"customer_id,omitempty"`
	Currency            string `json:"currency"`
	ClientReference     string `json:"client_reference,omitempty"`
	SettlementAccountID string `json:"settlement_account_id,omitempty"`
}

type dataEnvelope struct {
	Data json.RawMessage `json:"data"`
}

type listEnvelope struct {
	Data []json.RawMessage `json:"data"`
	Meta *struct {
		Total int `json:"total"`
	} `json:"meta"`
}

type wireBalance struct {
	Available json.Number `json:"available"`
	Pending   json.Number `json:"pending"`
}

type wireAddress struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

type wireNUBAN struct {
	NIPCode       string `json:"nip_code"`
	BankCode      string `json:"bank_code"`
	BankName      string `json:"bank_name"`
	AccountName   string `json:"account_name"`
	AccountNumber string `json:"account_number"`
}

type wireAccount struct {
	ID                  string        `json:"id"`
	State               string        `json:"state"`
	CreatedDate         *time.Time    `json:"created_date"`
	UpdatedDate         *time.Time    `json:"updated_date"`
	Currency            string        `json:"currency"`
	CurrencyPrecision   *int          `json:"currency_precision"`
	Type                string        `json:"type"`
	Name                string        `json:"name"`
	Balance             *wireBalance  `json:"balance"`
	DepositAddresses    []wireAddress `json:"deposit_addresses"`
	SettlementAccountID *string       `json:"settlement_account_id"`
	ParentAccountID     *string       `json:"parent_account_id"`
	ClientReference     *string       `json:"client_reference"`
}

type wireProblem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

type wireError struct {
	Error struct {
		Code    string        `json:"code"`
		Message string        `json:"message"`
		Details []wireProblem `json:"details"`
	} `json:"error"`
}

func decodeError(body []byte) (string, string) {
	var e wireError
	if json.Unmarshal(body, &e) != nil {
		return "", ""
	}
	return e.Error.Code, e.Error.Message
}

func errorDetails(body []byte) []wireProblem {
	var e wireError
	if json.Unmarshal(body, &e) != nil {
		return nil
	}
	return e.Error.Details
}

// status maps the provider's state to the unified status. A state the
// document does not name is PENDING: not known to take deposits.
func status(state string) bank.Status {
	if state == StateActive {
		return bank.StatusActive
	}
	return bank.StatusPending
}

// toAccount maps the provider's sub-account to the unified one, keeping raw.
func (a *Adapter) toAccount(op string, raw json.RawMessage) (*bank.Account, error) {
	var w wireAccount
	if err := json.Unmarshal(raw, &w); err != nil {
		return nil, &provider.MalformedError{Op: op, Err: err}
	}
	if w.ID == "" || w.State == "" {
		return nil, &provider.MalformedError{Op: op, Err: errors.New("account without id or state")}
	}
	// The provider's name and each address's account_name are its own
	// making: they stay in bankDetails and the raw object, and the
	// client's names are the gateway's to keep.
	acc := &bank.Account{
		ProviderAccountID: w.ID,
		Status:            status(w.State),
		ProviderStatus:    w.State,
		Currency:          w.Currency,
		Raw:               append(json.RawMessage(nil), raw...),
	}
	if w.ClientReference != nil {
		acc.Reference = *w.ClientReference // the gateway's reference, not the client's
	}
	if w.CreatedDate != nil {
		acc.CreatedAt = w.CreatedDate.UTC()
	}
	if w.UpdatedDate != nil {
		acc.UpdatedAt = w.UpdatedDate.UTC()
	}
	for _, ad := range w.DepositAddresses {
		d, err := a.bankDetails(op, ad)
		if err != nil {
			return nil, err
		}
		acc.BankDetails = append(acc.BankDetails, d)
	}
	if w.Balance != nil {
		prec := 0
		if w.CurrencyPrecision != nil {
			prec = *w.CurrencyPrecision
		}
		render := minorToDecimal
		if a.cfg.BalanceUnits == BalanceUnitsMajor {
			render = majorToDecimal
		}
		avail, err := render(w.Balance.Available, prec)
		if err != nil {
			return nil, &provider.MalformedError{Op: op, Err: fmt.Errorf("balance.available: %w", err)}
		}
		pend, err := render(w.Balance.Pending, prec)
		if err != nil {
			return nil, &provider.MalformedError{Op: op, Err: fmt.Errorf("balance.pending: %w", err)}
		}
		acc.Balance = &bank.Balance{Currency: w.Currency, Available: avail, Pending: pend}
	}
	return acc, nil
}

// bankDetails maps one deposit address: NUBAN fields by name, any other
// type's string members into Extra.
func (a *Adapter) bankDetails(op string, ad wireAddress) (bank.BankDetails, error) {
	if ad.Type == "NUBAN" {
		var n wireNUBAN
		if err := json.Unmarshal(ad.Data, &n); err != nil {
			return bank.BankDetails{}, &provider.MalformedError{Op: op, Err: fmt.Errorf("NUBAN deposit address: %w", err)}
		}
		d := bank.BankDetails{
			Type: "NUBAN", BankName: n.BankName, AccountHolderName: n.AccountName,
			AccountNumber: n.AccountNumber, Country: a.cfg.Country,
		}
		for k, v := range map[string]string{"bankCode": n.BankCode, "nipCode": n.NIPCode} {
			if v != "" {
				if d.Extra == nil {
					d.Extra = map[string]string{}
				}
				d.Extra[k] = v
			}
		}
		return d, nil
	}
	d := bank.BankDetails{Type: ad.Type}
	var m map[string]any
	if json.Unmarshal(ad.Data, &m) == nil {
		for k, v := range m {
			s, ok := v.(string)
			if !ok {
				continue
			}
			switch k {
			case "account_name":
				d.AccountHolderName = s
			case "account_number":
				d.AccountNumber = s
			case "bank_name":
				d.BankName = s
			default:
				if d.Extra == nil {
					d.Extra = map[string]string{}
				}
				d.Extra[k] = s
			}
		}
	}
	return d, nil
}

// minorToDecimal renders an integer amount of minor units as a decimal
// string with precision places: 150000 at 2 is "1500.00". An absent amount
// is zero.
func minorToDecimal(n json.Number, precision int) (string, error) {
	if precision < 0 || precision > 18 {
		return "", fmt.Errorf("currency_precision %d out of range", precision)
	}
	s := string(n)
	if s == "" {
		s = "0"
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return "", fmt.Errorf("%q is not an integer of minor units", s)
	}
	neg := v < 0
	u := uint64(v)
	if neg {
		u = -u
	}
	digits := strconv.FormatUint(u, 10)
	if precision > 0 {
		if len(digits) <= precision {
			digits = strings.Repeat("0", precision-len(digits)+1) + digits
		}
		digits = digits[:len(digits)-precision] + "." + digits[len(digits)-precision:]
	}
	if neg {
		digits = "-" + digits
	}
	return digits, nil
}

// majorToDecimal renders a decimal amount of the currency with precision
// places: 1500.5 at 2 is "1500.50". An amount with more places than the
// precision, or not a plain decimal (an exponent), is refused rather than
// rounded. An absent amount is zero.
func majorToDecimal(n json.Number, precision int) (string, error) {
	if precision < 0 || precision > 18 {
		return "", fmt.Errorf("currency_precision %d out of range", precision)
	}
	s := string(n)
	if s == "" {
		s = "0"
	}
	neg := strings.HasPrefix(s, "-")
	whole, frac, _ := strings.Cut(strings.TrimPrefix(s, "-"), ".")
	if whole == "" || strings.Trim(whole, "0123456789") != "" || strings.Trim(frac, "0123456789") != "" || (strings.Contains(s, ".") && frac == "") {
		return "", fmt.Errorf("%q is not a decimal amount", s)
	}
	if len(frac) > precision {
		return "", fmt.Errorf("%q has more than currency_precision %d decimal places", s, precision)
	}
	whole = strings.TrimLeft(whole, "0")
	if whole == "" {
		whole = "0"
	}
	out := whole
	if precision > 0 {
		out += "." + frac + strings.Repeat("0", precision-len(frac))
	}
	if neg && strings.Trim(out, "0.") != "" {
		out = "-" + out
	}
	return out, nil
}
