package batchva

import (
	"encoding/json"
	"time"

	"github.com/vagate/vagate/core/bank"
)

// Placeholder is the name the provider gives unallocated accounts.
const Placeholder = "UNALLOCATED"

type createRequest struct {
	CallbackURL   string            `json:"callbackUrl,omitempty"`
	CustomHeaders map[string]string `json:"customHeaders,omitempty"`
	Items         []createItem      `json:"items"`
}

type createItem struct {
	Currency           string `json:"currency"`
	AccountHolderName  string `json:"accountHolderName,omitempty"`
	AccountName        string `json:"accountName,omitempty"`
	ClientReference    string `json:"clientReference,omitempty"`
	DOB                string `json:"dob,omitempty"`
	NativeLanguageName string `json:"nativeLanguageName,omitempty"`
	Unallocated        bool   `json:"unallocated"`
}

type jobAccepted struct {
	JobID     string `json:"jobId"`
	Status    string `json:"status"`
	StatusURL string `json:"statusUrl"`
	ResultURL string `json:"resultUrl"`
}

type jobStatus struct {
	JobID           string `json:"jobId"`
	Status          string `json:"status"`
	TotalItems      int    `json:"totalItems"`
	ProcessedItems  int    `json:"processedItems"`
	SuccessfulItems int    `json:"successfulItems"`
	FailedItems     int    `json:"failedItems"`
}

type jobResults struct {
	JobID  string       `json:"jobId"`
	Status string       `json:"status"`
	Items  []resultItem `json:"items"`
}

type resultItem struct {
	Index           int          `json:"index"`
	ClientReference string       `json:"clientReference"`
	Status          string       `json:"status"`
	VirtualAccount  *wireAccount `json:"virtualAccount"`
	Error           *wireError   `json:"error"`
}

type wireError struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

type wireBalance struct {
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
}

type wireAccount struct {
	VirtualAccountNumber string       `json:"virtualAccountNumber"`
	BicCode              string       `json:"bicCode"`
	AccountHolderName    string       `json:"accountHolderName"`
	AccountName          string       `json:"accountName"`
	Currency             string       `json:"currency"`
	Balance              *wireBalance `json:"balance"`
	Category             string       `json:"category"`
	ClientReference      string       `json:"clientReference"`
	DOB                  string       `json:"dob"`
	NativeLanguageName   string       `json:"nativeLanguageName"`
	Allocated            *bool        `json:"allocated"`
	CreatedAt            *time.Time   `json:"createdAt"`
	UpdatedAt            *time.Time   `json:"updatedAt"`
}

type patchRequest struct {
	AccountHolderName  *string `json:"accountHolderName,omitempty"`
	AccountName        *string `json:"accountName,omitempty"`
	DOB                *string `json:"dob,omitempty"`
	NativeLanguageName *string `json:"nativeLanguageName,omitempty"`
	ClientReference    *string `json:"clientReference,omitempty"`
}

type tokenRequest struct {
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
}

type tokenResponse struct {
	AccessToken string `json:"accessToken"`
	TokenType   string `json:"tokenType"`
	ExpiresIn   int    `json:"expiresIn"`
}

// toAccount maps the provider's account to the unified one, keeping raw.
func (a *Adapter) toAccount(w *wireAccount, raw json.RawMessage) *bank.Account {
	allocated := w.AccountHolderName != Placeholder || w.AccountName != Placeholder
	if w.Allocated != nil {
		allocated = *w.Allocated
	}
	acc := &bank.Account{
		ProviderAccountID:  w.VirtualAccountNumber,
		Currency:           w.Currency,
		AccountHolderName:  w.AccountHolderName,
		AccountName:        w.AccountName,
		DOB:                w.DOB,
		NativeLanguageName: w.NativeLanguageName,
		ClientReference:    w.ClientReference,
		Raw:                append(json.RawMessage(nil), raw...),
		BankDetails: []bank.BankDetails{{
			Type:              "ACCOUNT_NUMBER",
			BankName:          a.cfg.BankName,
			AccountHolderName: w.AccountHolderName,
			Country:           a.cfg.Country,
			BIC:               w.BicCode,
			AccountNumber:     w.VirtualAccountNumber,
		}},
	}
	if w.Category != "" {
		acc.BankDetails[0].Extra = map[string]string{"category": w.Category}
	}
	if allocated {
		acc.Status, acc.ProviderStatus = bank.StatusActive, "ALLOCATED"
	} else {
		acc.Status, acc.ProviderStatus = bank.StatusUnallocated, "UNALLOCATED"
		acc.BankDetails[0].AccountHolderName = ""
	}
	if w.Balance != nil {
		cur := w.Balance.Currency
		if cur == "" {
			cur = w.Currency
		}
		acc.Balance = &bank.Balance{Currency: cur, Available: w.Balance.Amount}
	}
	if w.CreatedAt != nil {
		acc.CreatedAt = w.CreatedAt.UTC()
	}
	if w.UpdatedAt != nil {
		acc.UpdatedAt = w.UpdatedAt.UTC()
	}
	return acc
}
