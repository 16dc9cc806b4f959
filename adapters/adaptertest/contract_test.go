package adaptertest_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/vagate/vagate/adapters/adaptertest"
	"github.com/vagate/vagate/core/bank"
	"github.com/vagate/vagate/core/provider"
)

// fakeConfig is the config block of the fake driver.
type fakeConfig struct {
	BaseURL string          `yaml:"baseUrl" json:"baseUrl"`
	APIKey  provider.Secret `yaml:"apiKey" json:"apiKey"`
}

// fake is an adapter that only remembers its config.
type fake struct{ cfg fakeConfig }

func (f *fake) Capabilities() provider.Capabilities {
	return provider.Capabilities{Style: "fake", Currencies: []string{"USD"}, MaxBatch: 1}
}

func (f *fake) CreateAccounts(context.Context, *provider.CreateRequest) (*provider.CreateResult, error) {
	return nil, errors.New("fake: no creates")
}

func (f *fake) GetAccount(context.Context, string) (*bank.Account, error) {
	return nil, errors.New("fake: no accounts")
}

func (f *fake) ErrorCode(error) bank.ErrorCode { return bank.Unknown }

var fakeDriver = provider.Driver{Style: "fake", Open: func(decode func(any) error, env provider.Env) (provider.Adapter, error) {
	var c fakeConfig
	if err := decode(&c); err != nil {
		return nil, err
	}
	return &fake{cfg: c}, nil
}}

// Contract mode opens the adapter through its Driver from the block in
// VAGATE_CONTRACT_<STYLE>, decoded as strictly as the gateway decodes a
// provider's block: an unknown or misspelt field is an error naming it.
func TestFromEnv(t *testing.T) {
	if got := adaptertest.EnvVar("fake"); got != "VAGATE_CONTRACT_FAKE" {
		t.Fatalf("EnvVar = %s", got)
	}
	tests := []struct {
		name  string
		block string
		want  fakeConfig
		err   string
	}{
		{"json block", `{"baseUrl":"http://127.0.0.1:9101","apiKey":"k1"}`, fakeConfig{BaseURL: "http://127.0.0.1:9101", APIKey: "k1"}, ""},
		{"unknown field", `{"baseUrl":"http://127.0.0.1:9101","apiKee":"k1"}`, fakeConfig{}, "apiKee"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(adaptertest.EnvVar("fake"), tc.block)
			h := adaptertest.FromEnv(t, adaptertest.Contract{Driver: fakeDriver})(t)
			a, err := h.Open(provider.Env{Name: "fake"})
			switch {
			case tc.err != "":
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "VAGATE_CONTRACT_FAKE") {
					t.Fatalf("err = %v, want one naming %s and the variable", err, tc.err)
				}
			case err != nil:
				t.Fatalf("Open: %v", err)
			case a.(*fake).cfg != tc.want:
				t.Errorf("decoded %+v, want %+v", a.(*fake).cfg, tc.want)
			}
		})
	}
}
