package webhooks

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Deliver posts an empty JSON object to u through g's client, as a
// delivery does (plain http marked as such).
func Deliver(ctx context.Context, g *Guard, u string) (*http.Response, error) {
	pu, err := url.Parse(u)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(withPlain(ctx, pu.Scheme == "http"), http.MethodPost, u, strings.NewReader("{}"))
	if err != nil {
		return nil, err
	}
	return g.Client(5 * time.Second).Do(req)
}
