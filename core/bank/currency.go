package bank

// ValidCurrency reports whether s has the form of an ISO 4217 code: three
// upper-case ASCII letters. Whether a provider supports it is another
// question (see provider.Capabilities.SupportsCurrency).
func ValidCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := range 3 {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}
