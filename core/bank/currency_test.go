package bank_test

import (
	"testing"

	"github.com/vagate/vagate/core/bank"
)

func TestValidCurrency(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"USD", true},
		{"EUR", true},
		{"usd", false},
		{"Usd", false},
		{"US", false},
		{"USDT", false},
		{"1AB", false},
		{"U-D", false},
		{"ÜSD", false},
		{"", false},
	} {
		if got := bank.ValidCurrency(tc.in); got != tc.want {
			t.Errorf("ValidCurrency(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
