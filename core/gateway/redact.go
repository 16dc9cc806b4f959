package gateway

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/vagate/vagate/core/provider"
)

// redactedError is an error whose message names no provider URL, host or
// address; errors.Is and errors.As still see the original chain.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// withoutURLs returns err with every provider URL, host and address taken
// out of its message: a *url.Error reads as its Op and inner error, a
// *provider.StatusError names the path only, a *net.OpError drops its
// addresses and a *net.DNSError the names it looked up. The chain itself is
// kept for classification; only the text changes.
func withoutURLs(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	var repl []string
	walkChain(err, func(e error) {
		switch e := e.(type) {
		case *url.Error:
			repl = append(repl, fmt.Sprintf("%s %q: ", e.Op, e.URL), e.Op+": ", e.URL, pathOf(e.URL))
		case *provider.StatusError:
			repl = append(repl, e.URL, pathOf(e.URL))
		case *net.OpError:
			c := *e
			c.Source, c.Addr = nil, nil
			repl = append(repl, e.Error(), c.Error())
		case *net.DNSError:
			c := *e
			c.Name, c.Server = "the provider's host", ""
			repl = append(repl, e.Error(), c.Error())
		}
	})
	if len(repl) == 0 {
		return err
	}
	for i := 0; i+1 < len(repl); i += 2 {
		if repl[i] != "" {
			msg = strings.ReplaceAll(msg, repl[i], repl[i+1])
		}
	}
	return &redactedError{msg: msg, err: err}
}

// walkChain calls f on err and every error it wraps.
func walkChain(err error, f func(error)) {
	for err != nil {
		f(err)
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walkChain(e, f)
			}
			return
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		default:
			return
		}
	}
}

// pathOf is the path of a URL, without scheme, host or query.
func pathOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Path == "" {
		return "/"
	}
	return u.Path
}
