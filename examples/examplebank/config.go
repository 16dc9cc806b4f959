package examplebank

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/vagate/vagate/core/provider"
)

// Secret is a credential that never shows in logs, formatted output or JSON.
type Secret = provider.Secret

// Config is the adapter's configuration block.
type Config struct {
	BaseURL    string   `yaml:"baseUrl" json:"baseUrl"`
	APIKey     Secret   `yaml:"apiKey" json:"apiKey"`
	Currencies []string `yaml:"currencies" json:"currencies"`
}

// DefaultCurrencies are the currencies accepted when Config.Currencies is empty.
var DefaultCurrencies = []string{"EUR", "GBP"}

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
		if len(cur) != 3 || cur[0] < 'A' || cur[0] > 'Z' || cur[1] < 'A' || cur[1] > 'Z' || cur[2] < 'A' || cur[2] > 'Z' {
			return fmt.Errorf("currencies: %q is not an ISO 4217 code of three upper-case letters", cur)
		}
	}
	return nil
}

// Options are run-time dependencies; nil means defaults.
type Options struct {
	// HTTPClient sends every provider request (default: 30s timeout).
	HTTPClient *http.Client
}
