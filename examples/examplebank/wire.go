package examplebank

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/provider"
)

// Provider account statuses.
const (
	StatusOpen   = "OPEN"
	StatusClosed = "CLOSED"
)

// BankName is the bank named on every account's bank details.
const BankName = "Example Bank"

type createBody struct {
	Currency   string `json:"currency"`
	HolderName string `json:"holderName"`
	Name       string `json:"name"`
	Reference  string `json:"reference,omitempty"`
}

type wireAccount struct {
	ID            string    `json:"id"`
	Currency      string    `json:"currency"`
	HolderName    string    `json:"holderName"`
	Name          string    `json:"name"`
	Reference     string    `json:"reference"`
	Status        string    `json:"status"`
	AccountNumber string    `json:"accountNumber"`
	CreatedAt     time.Time `json:"createdAt"`
}

type wireError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func decodeError(body []byte) (string, string) {
	var e wireError
	if json.Unmarshal(body, &e) != nil {
		return "", ""
	}
	return e.Error.Code, e.Error.Message
}

// status maps the provider's status to the unified one; a status it does
// not name is PENDING: not known to take deposits.
func status(s string) bank.Status {
	switch s {
	case StatusOpen:
		return bank.StatusActive
	case StatusClosed:
		return bank.StatusClosed
	}
	return bank.StatusPending
}

// toAccount maps a provider account, keeping its raw object.
func toAccount(op string, raw []byte) (*bank.Account, error) {
	var w wireAccount
	if err := json.Unmarshal(raw, &w); err != nil {
		return nil, &provider.MalformedError{Op: op, Err: err}
	}
	if w.ID == "" || w.Status == "" {
		return nil, &provider.MalformedError{Op: op, Err: errors.New("account without id or status")}
	}
	return &bank.Account{
		ProviderAccountID: w.ID,
		Status:            status(w.Status),
		ProviderStatus:    w.Status,
		Currency:          w.Currency,
		AccountHolderName: w.HolderName,
		AccountName:       w.Name,
		ClientReference:   w.Reference,
		BankDetails: []bank.BankDetails{{Type: "ACCOUNT_NUMBER", BankName: BankName, AccountHolderName: w.HolderName,
			AccountNumber: w.AccountNumber}},
		CreatedAt: w.CreatedAt,
		UpdatedAt: w.CreatedAt,
		Raw:       append(json.RawMessage(nil), raw...),
	}, nil
}
