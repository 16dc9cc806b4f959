package batchva

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/vagate/vagate/core/provider"
)

// Secret is a credential that never shows in logs, formatted output or JSON.
type Secret = provider.Secret

// Config is the adapter's configuration block.
type Config struct {
	BaseURL       string   `yaml:"baseUrl" json:"baseUrl"`
	ClientID      string   `yaml:"clientId" json:"clientId"`
	ClientSecret  Secret   `yaml:"clientSecret" json:"clientSecret"`
	Token         Secret   `yaml:"token" json:"token"`
	CallbackURL   string   `yaml:"callbackUrl" json:"callbackUrl"`
	SigningSecret Secret   `yaml:"signingSecret" json:"signingSecret"`
	RSAPublicKey  string   `yaml:"rsaPublicKey" json:"rsaPublicKey"`
	Currencies    []string `yaml:"currencies" json:"currencies"`
	BankName      string   `yaml:"bankName" json:"bankName"`
	Country       string   `yaml:"country" json:"country"`
}

// DefaultCurrencies are the currencies the provider documents or most likely supports.
var DefaultCurrencies = []string{"USD", "BMD", "EUR", "GBP", "CAD"}

// Validate checks the config and names the first bad field.
func (c *Config) Validate() error {
	u, err := url.Parse(c.BaseURL)
	if c.BaseURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("baseUrl: must be an absolute http(s) URL")
	}
	if c.Token == "" && (c.ClientID == "" || c.ClientSecret == "") {
		return errors.New("clientId/clientSecret: required unless token is set")
	}
	if c.CallbackURL != "" {
		u, err := url.Parse(c.CallbackURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errors.New("callbackUrl: must be an absolute http(s) URL")
		}
		if c.SigningSecret == "" && c.RSAPublicKey == "" {
			return errors.New("signingSecret: required (or rsaPublicKey) when callbackUrl is set, to verify callbacks")
		}
	}
	if c.RSAPublicKey != "" {
		if _, err := parsePublicKey(c.RSAPublicKey); err != nil {
			return fmt.Errorf("rsaPublicKey: %v", err)
		}
	}
	for _, cur := range c.Currencies {
		if len(cur) != 3 {
			return fmt.Errorf("currencies: %q is not an ISO 4217 code", cur)
		}
	}
	return nil
}

func parsePublicKey(p string) (*rsa.PublicKey, error) {
	block, _ := pem.Decode([]byte(p))
	if block == nil {
		return nil, errors.New("not PEM")
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		if rk, err2 := x509.ParsePKCS1PublicKey(block.Bytes); err2 == nil {
			return rk, nil
		}
		return nil, err
	}
	rk, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("not an RSA public key")
	}
	return rk, nil
}

// Options are run-time dependencies; nil means defaults.
type Options struct {
	// HTTPClient sends every provider request (default: 30s timeout).
	HTTPClient *http.Client
	// Now is the clock used to check callback timestamps.
	Now func() time.Time
}
