package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vagate/vagate/config"
)

// Errors name the lines of the file as written: comments, blank lines and
// ${VAR} references before the bad key do not shift them, at the top level
// or inside a provider's block (which its driver decodes later).
func TestErrorsNameTheFilesLines(t *testing.T) {
	const doc = `# a comment

listen: 127.0.0.1:9000   # line 3
auth:
  secret: ${SECRET}

  # another comment
providers:
  - name: bcb
    style: batchva
    config:
      baseUrl: http://127.0.0.1:9101

      clientSecret: ${SECRET}
      bogusKey: 1
`
	getenv := env(map[string]string{"SECRET": strings.Repeat("s", 40)})
	var block struct {
		BaseURL      string `yaml:"baseUrl"`
		ClientSecret string `yaml:"clientSecret"`
	}
	for _, tc := range []struct {
		name, doc, want string
		inBlock         bool
	}{
		{"unknown key in a provider block", doc, "line 15", true},
		{"unknown top-level key", doc + "extra: 1\n", "line 16", false},
		{"bad duration", strings.Replace(doc, "listen: 127.0.0.1:9000   # line 3", "listen: 127.0.0.1:9000\njobs:\n  itemTimeout: soon", 1), "line 5", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Parse([]byte(tc.doc), getenv)
			if !tc.inBlock {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("Parse: %v, want an error at %s", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			err = config.DecodeStrict(&c.Providers[0].Config, &block)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "bogusKey") {
				t.Fatalf("DecodeStrict: %v, want bogusKey at %s", err, tc.want)
			}
		})
	}
}

// Signing a token reads the auth section alone: variables the rest of the
// file references need not be set, and the rest is not judged.
func TestLoadAuthReadsOnlyTheAuthSection(t *testing.T) {
	const doc = `auth:
  algorithm: HS256
  secret: ${TOKEN_SECRET}
  issuer: vagate
store:
  driver: redis
  redisUrl: ${REDIS_URL_NEVER_SET}
providers:
  - name: p
    style: batchva
    config: {clientSecret: "${PROVIDER_SECRET_NEVER_SET}"}
nonsense: [1, 2]
`
	path := filepath.Join(t.TempDir(), "vagate.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TOKEN_SECRET", strings.Repeat("t", 32))
	t.Setenv(config.EnvAuthSecret, "")
	a, err := config.LoadAuth(path)
	if err != nil {
		t.Fatalf("LoadAuth: %v", err)
	}
	if string(a.Secret) != strings.Repeat("t", 32) || a.Issuer != "vagate" || a.MaxTokenLifetime.D() == 0 {
		t.Errorf("auth = %+v, want the file's secret and issuer with defaults", a)
	}
	for _, tc := range []struct{ name, doc, want string }{
		{"unknown auth key", "auth:\n  secrett: x\n", "secrett"},
		{"short secret", "auth:\n  secret: short\n", "auth.secret"},
		{"unset variable in auth", "auth:\n  secret: ${AUTH_NEVER_SET}\n", "AUTH_NEVER_SET"},
		{"development secret", "auth:\n  secret: " + string(config.DevSecret) + "\n", "development secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "bad.yaml")
			os.WriteFile(p, []byte(tc.doc), 0o600)
			if _, err := config.LoadAuth(p); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("LoadAuth = %v, want an error naming %s", err, tc.want)
			}
		})
	}
}
