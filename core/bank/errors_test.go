package bank_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/vagate/vagate/core/bank"
)

func TestCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bank.ErrorCode
	}{
		{"nil", nil, bank.OK},
		{"plain", io.EOF, bank.Unknown},
		{"classified", &bank.Error{Code: bank.NotFound}, bank.NotFound},
		{"wrapped classified", fmt.Errorf("x: %w", &bank.Error{Code: bank.Unavailable}), bank.Unavailable},
		{"sentinel", bank.ErrPermissionDenied, bank.PermissionDenied},
		{"canceled", context.Canceled, bank.Canceled},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), bank.DeadlineExceeded},
		{"errorf", bank.Errorf(bank.InvalidArgument, "bad %s", "x"), bank.InvalidArgument},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := bank.Code(tc.err); got != tc.want {
				t.Errorf("Code = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestErrorIsSentinel(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", &bank.Error{Code: bank.NotFound, Provider: "p", Op: "get", Err: io.EOF})
	if !errors.Is(err, bank.ErrNotFound) {
		t.Error("errors.Is(err, ErrNotFound) = false")
	}
	if errors.Is(err, bank.ErrUnavailable) {
		t.Error("errors.Is(err, ErrUnavailable) = true")
	}
	if !errors.Is(err, io.EOF) {
		t.Error("Unwrap lost the cause")
	}
	if got := err.Error(); got != "wrapped: p: get: EOF" {
		t.Errorf("Error() = %q", got)
	}
}

func TestErrorCodeText(t *testing.T) {
	for c := bank.Unknown; c <= bank.Canceled; c++ {
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		var back bank.ErrorCode
		if err := json.Unmarshal(b, &back); err != nil || back != c {
			t.Errorf("%s: round trip gave %s, %v", c, back, err)
		}
	}
	var c bank.ErrorCode
	if err := json.Unmarshal([]byte(`"nope"`), &c); err == nil {
		t.Error("unknown code name accepted")
	}
}

func TestOutcomeKnown(t *testing.T) {
	for c, want := range map[bank.ErrorCode]bool{
		bank.Unknown: false, bank.DeadlineExceeded: false, bank.Internal: false, bank.Canceled: false,
		bank.Unavailable: true, bank.InvalidArgument: true, bank.NotFound: true, bank.ResourceExhausted: true,
	} {
		if got := c.OutcomeKnown(); got != want {
			t.Errorf("%s.OutcomeKnown() = %v, want %v", c, got, want)
		}
	}
}

func TestRetryAfterAndFields(t *testing.T) {
	err := fmt.Errorf("x: %w", &bank.Error{Code: bank.ResourceExhausted, RetryAfter: 3 * time.Second,
		Fields: []bank.FieldError{{Pointer: "/items/0/currency", Message: "bad"}}})
	if bank.RetryAfterOf(err) != 3*time.Second {
		t.Errorf("RetryAfterOf = %s", bank.RetryAfterOf(err))
	}
	if f := bank.FieldsOf(err); len(f) != 1 || f[0].Pointer != "/items/0/currency" {
		t.Errorf("FieldsOf = %v", f)
	}
	if bank.RetryAfterOf(io.EOF) != 0 || bank.FieldsOf(io.EOF) != nil {
		t.Error("unclassified error carries advice")
	}
}

func TestAccountClone(t *testing.T) {
	now := time.Now()
	a := &bank.Account{ID: "a", Metadata: map[string]string{"k": "v"}, AllocatedAt: &now, Balance: &bank.Balance{Available: "1"},
		BankDetails: []bank.BankDetails{{RoutingCodes: []bank.RoutingCode{{Type: "ABA", Value: "1"}}, Extra: map[string]string{"x": "y"}}}}
	c := a.Clone()
	c.Metadata["k"] = "changed"
	c.BankDetails[0].RoutingCodes[0].Value = "2"
	c.BankDetails[0].Extra["x"] = "z"
	c.Balance.Available = "9"
	*c.AllocatedAt = now.Add(time.Hour)
	if a.Metadata["k"] != "v" || a.BankDetails[0].RoutingCodes[0].Value != "1" || a.BankDetails[0].Extra["x"] != "y" ||
		a.Balance.Available != "1" || !a.AllocatedAt.Equal(now) {
		t.Errorf("Clone shares state with the original: %+v", a)
	}
}

func TestStatus(t *testing.T) {
	for _, s := range []bank.Status{bank.StatusPending, bank.StatusUnallocated, bank.StatusActive, bank.StatusBlocked,
		bank.StatusUnblocking, bank.StatusClosed, bank.StatusFailed} {
		if !s.Valid() {
			t.Errorf("%s not valid", s)
		}
	}
	if bank.Status("READY").Valid() {
		t.Error("a raw provider status passed as unified")
	}
	if !bank.StatusClosed.Terminal() || bank.StatusBlocked.Terminal() {
		t.Error("Terminal wrong")
	}
}
