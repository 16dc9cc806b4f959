package subaccount

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"

	"github.com/google/uuid"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/provider"
)

// Secret is a credential that never shows in logs, formatted output or JSON.
type Secret = provider.Secret

// Config is the adapter's configuration block.
type Config struct {
	BaseURL            string            `yaml:"baseUrl" json:"baseUrl"`
	APIKey             Secret            `yaml:"apiKey" json:"apiKey"`
	SettlementAccounts map[string]string `yaml:"settlementAccounts" json:"settlementAccounts"`
	Currencies         []string          `yaml:"currencies" json:"currencies"`
	Country            string            `yaml:"country" json:"country"`
	// BalanceUnits says how to read balance amounts: "minor" (integers of
	// minor units, the default) or "major" (decimal amounts of the currency).
	BalanceUnits string `yaml:"balanceUnits" json:"balanceUnits"`
}

// Balance units (Config.BalanceUnits): the document's example shows only
// "available": 0 beside currency_precision 2, which either reading fits.
const (
	BalanceUnitsMinor = "minor"
	BalanceUnitsMajor = "major"
)

// DefaultCurrencies are the currencies accepted when Config.Currencies is empty.
var DefaultCurrencies = []string{"NGN", "USD", "EUR", "GBP"}

// Validate checks the config and names the first bad field.
func (c *Config) Validate() error {
	u, err := url.Parse(c.BaseURL)
	if c.BaseURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("baseUrl: must be an absolute http(s) URL")
	}
	if c.APIKey == "" {
		return errors.New("apiKey: required")
	}
	for _, cur := range c.Currencies {
		if !bank.ValidCurrency(cur) {
			return fmt.Errorf("currencies: %q is not an ISO 4217 code of three upper-case letters", cur)
		}
	}
	if c.BalanceUnits != "" && c.BalanceUnits != BalanceUnitsMinor && c.BalanceUnits != BalanceUnitsMajor {
		return fmt.Errorf("balanceUnits: %q is not %q or %q", c.BalanceUnits, BalanceUnitsMinor, BalanceUnitsMajor)
	}
	if c.Country != "" && (len(c.Country) != 2 || !isUpper(c.Country)) {
		return fmt.Errorf("country: %q is not an ISO 3166-1 alpha-2 code", c.Country)
	}
	curs := make([]string, 0, len(c.SettlementAccounts))
	for cur := range c.SettlementAccounts {
		curs = append(curs, cur)
	}
	sort.Strings(curs)
	seen := map[string]string{}
	for _, cur := range curs {
		id := c.SettlementAccounts[cur]
		switch {
		case !bank.ValidCurrency(cur):
			return fmt.Errorf("settlementAccounts: key %q is not an ISO 4217 code", cur)
		case !isUUID(id):
			return fmt.Errorf("settlementAccounts.%s: %q is not a UUID", cur, id)
		case seen[id] != "":
			return fmt.Errorf("settlementAccounts.%s: account %s is already the %s settlement account; an account has one currency", cur, id, seen[id])
		case len(c.Currencies) > 0 && !slices.Contains(c.Currencies, cur):
			return fmt.Errorf("settlementAccounts.%s: %s is not in currencies", cur, cur)
		case len(c.Currencies) == 0 && !slices.Contains(DefaultCurrencies, cur):
			return fmt.Errorf("settlementAccounts.%s: %s is not a default currency; list it in currencies", cur, cur)
		}
		seen[id] = cur
	}
	return nil
}

// Options are run-time dependencies; nil means defaults.
type Options struct {
	// HTTPClient sends every provider request (default: 30s timeout).
	HTTPClient *http.Client
}

func isUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// isUUID accepts the 36-character form only.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}
