package provider

import "net/http"

// Driver is what an adapter package exports so the gateway can open it from
// a config block: its style name and an opener. Drivers are listed
// explicitly by the program that uses them; there is no global registry.
type Driver struct {
	// Style names the provider style, the `style` of a provider's config block.
	Style string
	// Open decodes the adapter's config block with decode (strict: unknown
	// fields are an error) and opens the adapter in env.
	Open func(decode func(into any) error, env Env) (Adapter, error)
}

// Env is what an adapter is opened with besides its own config.
type Env struct {
	// Name is the provider's configured name.
	Name string
	// HTTPClient is the resilient client every request must go through.
	HTTPClient *http.Client
	// WebhookURL is where the gateway receives this provider's callbacks.
	WebhookURL string
}
