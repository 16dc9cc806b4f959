package bank_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/vagate/vagate/core/bank"
)

type coded string

func (c coded) Error() string             { return "refused" }
func (c coded) ProviderErrorCode() string { return string(c) }

func TestProviderCodeOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"plain error", errors.New("x"), ""},
		{"the error itself", coded("ITEM_REJECTED"), "ITEM_REJECTED"},
		{"wrapped in a bank error", &bank.Error{Code: bank.FailedPrecondition, Err: fmt.Errorf("create: %w", coded("ITEM_REJECTED"))}, "ITEM_REJECTED"},
		{"joined", errors.Join(errors.New("x"), coded("DUPLICATE_IDENTIFIER")), "DUPLICATE_IDENTIFIER"},
		{"empty code is none", coded(""), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := bank.ProviderCodeOf(tc.err); got != tc.want {
				t.Errorf("ProviderCodeOf = %q, want %q", got, tc.want)
			}
		})
	}
}
