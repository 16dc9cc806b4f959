package masterfiat

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"time"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/provider"
)

// Secret is a credential that never shows in logs, formatted output or JSON.
type Secret = provider.Secret

// Config is the adapter's configuration block.
type Config struct {
	BaseURL      string `yaml:"baseUrl" json:"baseUrl"`
	ClientID     string `yaml:"clientId" json:"clientId"`
	ClientSecret Secret `yaml:"clientSecret" json:"clientSecret"`
	// Scope is the OAuth scope requested (default PAYMENTS).
	Scope string `yaml:"scope" json:"scope"`
	Token Secret `yaml:"token" json:"token"`
	// WebhookSecret is the Secret Key of the webhook endpoint that points at the gateway.
	WebhookSecret Secret `yaml:"webhookSecret" json:"webhookSecret"`
	// WebhookTolerance is how far a webhook's created time may be from now (default 2h).
	WebhookTolerance string `yaml:"webhookTolerance" json:"webhookTolerance"`
	// MasterFiatAccounts maps a currency to the master fiat account (fac_...) its accounts are created under.
	MasterFiatAccounts map[string]string `yaml:"masterFiatAccounts" json:"masterFiatAccounts"`
	Currencies         []string          `yaml:"currencies" json:"currencies"`
}

// DefaultCurrencies are accepted when neither currencies nor masterFiatAccounts name any.
var DefaultCurrencies = []string{"GBP", "EUR", "USD"}

// DefaultWebhookTolerance covers the provider's documented retries (10, ten minutes apart).
const DefaultWebhookTolerance = 2 * time.Hour

var (
	facRE = regexp.MustCompile(`^fac_[A-Za-z0-9]{1,64}$`)
	eusRE = regexp.MustCompile(`^eus_[A-Za-z0-9]{1,64}$`)
)

// Validate checks the config and names the first bad field.
func (c *Config) Validate() error {
	u, err := url.Parse(c.BaseURL)
	if c.BaseURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("baseUrl: must be an absolute http(s) URL")
	}
	if c.Token == "" && (c.ClientID == "" || c.ClientSecret == "") {
		return errors.New("clientId/clientSecret: required unless token is set")
	}
	if c.WebhookTolerance != "" {
		d, err := time.ParseDuration(c.WebhookTolerance)
		if err != nil || d <= 0 {
			return fmt.Errorf("webhookTolerance: %q is not a positive duration (e.g. 2h)", c.WebhookTolerance)
		}
	}
	for cur, fac := range c.MasterFiatAccounts {
		if !bank.ValidCurrency(cur) {
			return fmt.Errorf("masterFiatAccounts: %q is not an ISO 4217 code", cur)
		}
		if !facRE.MatchString(fac) {
			return fmt.Errorf("masterFiatAccounts.%s: %q is not a fiat account id (fac_...)", cur, fac)
		}
	}
	for _, cur := range c.Currencies {
		if !bank.ValidCurrency(cur) {
			return fmt.Errorf("currencies: %q is not an ISO 4217 code", cur)
		}
	}
	return nil
}

// Options are run-time dependencies; nil means defaults.
type Options struct {
	// HTTPClient sends every provider request (default: 30s timeout).
	HTTPClient *http.Client
	// Now is the clock used to check webhook timestamps.
	Now func() time.Time
}
