package config

import (
	"fmt"
	"os"
	"time"

	"gopkg.in/yaml.v3"
)

// LoadAuth reads only the auth section of the config file at path, with
// its defaults and the VAGATE_AUTH_SECRET override: what signing a token
// needs. The rest of the file is not judged, so the ${VAR} it references
// (a Redis URL, provider secrets) need not be set.
func LoadAuth(path string) (*Auth, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	a, err := parseAuth(b, os.LookupEnv)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// parseAuth is LoadAuth for a document.
func parseAuth(data []byte, getenv func(string) (string, bool)) (*Auth, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c := &Config{}
	if n := section(&doc, "auth"); n != nil {
		if err := expand(n, getenv); err != nil {
			return nil, err
		}
		if err := decodeStrict(n, &c.Auth); err != nil {
			return nil, fmt.Errorf("config: auth: %w", err)
		}
	}
	if v, ok := getenv(EnvAuthSecret); ok && v != "" {
		c.Auth.Secret = Secret(v)
	}
	c.applyDefaults()
	if err := c.Auth.validate(false); err != nil {
		return nil, err
	}
	return &c.Auth, nil
}

// section is the value of the top-level key of doc, or nil.
func section(doc *yaml.Node, key string) *yaml.Node {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil
	}
	m := doc.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// validate checks the auth section; development allows DevSecret.
func (a *Auth) validate(development bool) error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("config: %s: %s", field, fmt.Sprintf(format, args...))
	}
	switch a.Algorithm {
	case "HS256":
		if len(a.Secret) < 32 {
			return bad("auth.secret", "HS256 needs a secret of at least 32 bytes")
		}
		if a.Secret == DevSecret && !development {
			return bad("auth.secret", "is the published development secret, which anyone can sign tokens with; set your own (e.g. openssl rand -base64 48)")
		}
	case "RS256":
		if a.PublicKeyFile == "" {
			return bad("auth.publicKeyFile", "required for RS256")
		}
	default:
		return bad("auth.algorithm", "must be HS256 or RS256, not %q", a.Algorithm)
	}
	if d := a.MaxTokenLifetime.D(); d < time.Minute {
		return bad("auth.maxTokenLifetime", "must be at least 1m")
	}
	return nil
}
