package provider

import "log/slog"

// Secret is a credential in an adapter's config: it reads from YAML and JSON
// like a string, but never shows in logs, formatted output or JSON.
type Secret string

const redacted = "[REDACTED]"

// LogValue redacts the secret in slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// String redacts the secret in fmt output.
func (s Secret) String() string { return redacted }

// GoString redacts the secret in %#v output.
func (s Secret) GoString() string { return redacted }

// MarshalJSON redacts the secret in JSON output.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }
