// Package bundle lists the provider mocks that ship with vagate, in one
// place for every program that serves them: the gateway's embedded default
// and mockbank. Each entry builds its mock from a few shared settings and
// gives the config block that points its style's adapter at that mock.
//
// Adding a bundled mock is one entry in Mocks; the style's adapter must be
// listed among the gateway's drivers.
package bundle

import (
	"net/http"
	"time"

	"github.com/vagate/vagate/mocks/batchvamock"
	"github.com/vagate/vagate/mocks/masterfiatmock"
	"github.com/vagate/vagate/mocks/parentprimarymock"
	"github.com/vagate/vagate/mocks/subaccountmock"
)

// Server is a built mock: an http.Handler with background work Close stops.
type Server interface {
	http.Handler
	Close()
}

// Settings tune every bundled mock; the zero value gives each mock's own
// defaults. A mock ignores the settings it has no use for.
type Settings struct {
	// Seed makes the mocks' ids, account numbers and faults reproducible.
	Seed uint64
	// PendingDelay and ProcessDelay are how long a batch job stays Pending
	// and InProgress (0: the mock's default, negative: none).
	PendingDelay time.Duration
	ProcessDelay time.Duration
	// ItemFailureRate is the share of batch items that fail at processing (0 to 1).
	ItemFailureRate float64
	// TransitionDelay is how long an account stays in a passing provider
	// state, such as CREATED before activation or UNBLOCKING (0: the mock's
	// default, negative: none).
	TransitionDelay time.Duration
	// Strict reads each document's ambiguities the strict way (every mock's
	// package documentation lists them under # Strict and lenient); false,
	// the default, is lenient, as the documents mark optional what they do.
	Strict bool
}

// Block gives the config block (what a provider's YAML `config:` decodes
// to) that points the style's adapter at the mock served at mockURL, with
// the mock's default credentials. Where the provider calls back, the block
// has it call callbackURL, registering the subscription at the mock when
// the provider keeps one; an empty callbackURL configures no callbacks. Call
// it once, before the mock serves traffic.
type Block func(mockURL, callbackURL string) (map[string]any, error)

// Mock is one bundled mock.
type Mock struct {
	// Style is the provider style the mock speaks; it also names the mock.
	Style string
	// New builds the mock from s, with the Block of its adapter's config.
	New func(s Settings) (Server, Block)
}

// Mocks are the bundled mocks, in port order.
var Mocks = []Mock{
	{Style: "batchva", New: func(s Settings) (Server, Block) {
		m := batchvamock.New(&batchvamock.Options{Seed: s.Seed, PendingDelay: s.PendingDelay, ProcessDelay: s.ProcessDelay,
			ItemFailureRate: s.ItemFailureRate, Strict: s.Strict})
		return m, func(mockURL, callbackURL string) (map[string]any, error) {
			def := batchvamock.DefaultClient()
			b := map[string]any{"baseUrl": mockURL, "clientId": def.ID, "clientSecret": def.Secret}
			if callbackURL != "" {
				b["callbackUrl"], b["signingSecret"] = callbackURL, def.SigningSecret
			}
			return b, nil
		}
	}},
	{Style: "subaccount", New: func(s Settings) (Server, Block) {
		m := subaccountmock.New(&subaccountmock.Options{Seed: s.Seed, MainAccounts: subaccountmock.DefaultMainAccounts(), Strict: s.Strict})
		return m, func(mockURL, _ string) (map[string]any, error) {
			return map[string]any{"baseUrl": mockURL, "apiKey": subaccountmock.DefaultAPIKey,
				"settlementAccounts": anyMap(m.SettlementAccounts())}, nil
		}
	}},
	{Style: "parentprimary", New: func(s Settings) (Server, Block) {
		m := parentprimarymock.New(&parentprimarymock.Options{Seed: s.Seed, PrimaryAccounts: parentprimarymock.DefaultPrimaryAccounts(), Strict: s.Strict})
		return m, func(mockURL, _ string) (map[string]any, error) {
			def := parentprimarymock.DefaultPartner()
			return map[string]any{"baseUrl": mockURL, "apiToken": def.APIToken, "signingSecret": def.SigningSecret,
				"parentAccounts": anyMap(m.ParentAccounts(def.ID)), "productCodes": anyMap(m.ProductCodes())}, nil
		}
	}},
	{Style: "masterfiat", New: func(s Settings) (Server, Block) {
		m := masterfiatmock.New(&masterfiatmock.Options{Seed: s.Seed, ActivationDelay: s.TransitionDelay, UnblockDelay: s.TransitionDelay,
			FiatAccounts: masterfiatmock.DefaultFiatAccounts(), EndUsers: []masterfiatmock.EndUser{masterfiatmock.DefaultEndUser()}, Strict: s.Strict})
		return m, func(mockURL, callbackURL string) (map[string]any, error) {
			def := masterfiatmock.DefaultClient()
			fiat := map[string]any{}
			for _, f := range m.FiatAccounts() {
				fiat[f.Currency] = f.ID
			}
			b := map[string]any{"baseUrl": mockURL, "clientId": def.ID, "clientSecret": def.Secret, "masterFiatAccounts": fiat}
			if callbackURL != "" {
				wh, err := m.AddWebhook(callbackURL, []string{masterfiatmock.EventStatusUpdated}, "")
				if err != nil {
					return nil, err
				}
				b["webhookSecret"] = wh.SecretKey
			}
			return b, nil
		}
	}},
}

// Styles lists the styles of Mocks, in port order.
func Styles() []string {
	out := make([]string, len(Mocks))
	for i, m := range Mocks {
		out[i] = m.Style
	}
	return out
}

// anyMap is m as a YAML mapping decodes: values of type any.
func anyMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
