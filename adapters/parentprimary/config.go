package parentprimary

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/provider"
)

// Secret is a credential that never shows in logs, formatted output or JSON.
type Secret = provider.Secret

// Config is the adapter's configuration block.
type Config struct {
	BaseURL        string            `yaml:"baseUrl" json:"baseUrl"`
	APIToken       Secret            `yaml:"apiToken" json:"apiToken"`
	SigningSecret  Secret            `yaml:"signingSecret" json:"signingSecret"`
	ParentAccounts map[string]string `yaml:"parentAccounts" json:"parentAccounts"`
	ProductCodes   map[string]string `yaml:"productCodes" json:"productCodes"`
	Currencies     []string          `yaml:"currencies" json:"currencies"`
	CloseReason    string            `yaml:"closeReason" json:"closeReason"`
	RequestedBy    string            `yaml:"requestedBy" json:"requestedBy"`
}

// DefaultProductCodes are the product codes used when productCodes names
// none for a currency: only the document's own example.
var DefaultProductCodes = map[string]string{"GBP": "FIAT_ACCOUNT_UK_V1"}

// DefaultCloseReason is the reason sent when neither the close nor the
// config gives one (the provider requires a reason).
const DefaultCloseReason = "Closed at the platform's request"

// DefaultRequestedBy is sent as requestedBy when neither the close nor the
// config names who asked.
const DefaultRequestedBy = "vagate"

var productCodeRE = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,63}$`)

// Validate checks the config and names the first bad field.
func (c *Config) Validate() error {
	u, err := url.Parse(c.BaseURL)
	if c.BaseURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("baseUrl: must be an absolute http(s) URL")
	}
	if c.APIToken == "" {
		return errors.New("apiToken: required")
	}
	if c.SigningSecret == "" {
		return errors.New("signingSecret: required, to sign every request")
	}
	for _, cur := range sortedKeys(c.ParentAccounts) {
		if !bank.ValidCurrency(cur) {
			return fmt.Errorf("parentAccounts: %q is not an ISO 4217 code", cur)
		}
		if !isUUID(c.ParentAccounts[cur]) {
			return fmt.Errorf("parentAccounts.%s: %q is not a UUID", cur, c.ParentAccounts[cur])
		}
	}
	for _, cur := range sortedKeys(c.ProductCodes) {
		if !bank.ValidCurrency(cur) {
			return fmt.Errorf("productCodes: %q is not an ISO 4217 code", cur)
		}
		if !productCodeRE.MatchString(c.ProductCodes[cur]) {
			return fmt.Errorf("productCodes.%s: %q is not a product code like FIAT_ACCOUNT_UK_V1", cur, c.ProductCodes[cur])
		}
	}
	for _, cur := range c.Currencies {
		if !bank.ValidCurrency(cur) {
			return fmt.Errorf("currencies: %q is not an ISO 4217 code", cur)
		}
	}
	if len(c.Currencies) == 0 && len(c.ParentAccounts) == 0 {
		return errors.New("currencies: at least one currency is required (or parentAccounts, whose currencies are then used)")
	}
	if len(c.CloseReason) > 255 {
		return errors.New("closeReason: at most 255 characters")
	}
	if len(c.RequestedBy) > 255 {
		return errors.New("requestedBy: at most 255 characters")
	}
	return nil
}

// Options are run-time dependencies; nil means defaults.
type Options struct {
	// HTTPClient sends every provider request (default: 30s timeout).
	HTTPClient *http.Client
	// Now is the clock that dates requests (default time.Now).
	Now func() time.Time
	// Nonce returns a fresh x-alg-nonce (default: a random UUID).
	Nonce func() string
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}

func sortedKeys(m map[string]string) []string {
	k := make([]string, 0, len(m))
	for c := range m {
		k = append(k, c)
	}
	sort.Strings(k)
	return k
}

// lower normalises a UUID for comparison and sending.
func lower(s string) string { return strings.ToLower(s) }
