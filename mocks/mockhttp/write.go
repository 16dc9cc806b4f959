package mockhttp

import (
	"encoding/json"
	"net/http"
)

// WriteJSON writes v as a JSON body with status; when v does not marshal it writes nothing and returns the error.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	WriteRawJSON(w, status, b)
	return nil
}

// WriteRawJSON writes body, already JSON, with status.
func WriteRawJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}

// FaultBody makes a fault.Options.ErrorBody that renders body(status, message) as JSON.
func FaultBody(body func(status int, msg string) any) func(status int) (string, []byte) {
	return func(status int) (string, []byte) {
		msg := http.StatusText(status)
		if msg == "" {
			msg = "injected error"
		}
		b, _ := json.Marshal(body(status, msg))
		return "application/json", b
	}
}

// NoContent is a handler that runs f and answers 204.
func NoContent(f func()) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f()
		w.WriteHeader(http.StatusNoContent)
	}
}

// AccountList is the admin account listing: the accounts, their count, and the count again when filtered by client reference.
type AccountList[T any] struct {
	Accounts         []T  `json:"accounts"`
	Count            int  `json:"count"`
	CountByReference *int `json:"countByReference,omitempty"`
}

// NewAccountList lists accounts (never null); byReference says they were filtered by client reference.
func NewAccountList[T any](accounts []T, byReference bool) AccountList[T] {
	if accounts == nil {
		accounts = []T{}
	}
	out := AccountList[T]{Accounts: accounts, Count: len(accounts)}
	if byReference {
		n := out.Count
		out.CountByReference = &n
	}
	return out
}
