package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Resolver looks up a host's addresses; *net.Resolver is one. Tests inject
// their own to make names resolve where they need.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// GuardOptions configure a Guard.
type GuardOptions struct {
	// Allow lists the networks that may be reached even though they are not
	// public (loopback, private, link-local...), and over plain http. Cloud
	// metadata addresses stay refused whatever it says.
	Allow []netip.Prefix
	// Resolver resolves host names (default net.DefaultResolver).
	Resolver Resolver
	// DialTimeout bounds resolving and connecting (default 5s).
	DialTimeout time.Duration
}

// Guard keeps event delivery away from the gateway's own network (SSRF),
// by the rules of stripe/smokescreen: an address must be global unicast
// and not private, carrier-grade NAT, an IPv6 form embedding an IPv4
// address, or reserved, unless the operator allowlists its network; cloud
// metadata addresses are refused always. Plain http is allowed only to
// allowlisted networks. The check runs when an endpoint is registered and
// again on every connection, on the address actually dialled, so a name
// that later resolves elsewhere (DNS rebinding) is refused too.
type Guard struct {
	allow    []netip.Prefix
	resolver Resolver
	timeout  time.Duration
}

// NewGuard returns a guard.
func NewGuard(o GuardOptions) *Guard {
	g := &Guard{allow: o.Allow, resolver: o.Resolver, timeout: o.DialTimeout}
	if g.resolver == nil {
		g.resolver = net.DefaultResolver
	}
	if g.timeout <= 0 {
		g.timeout = 5 * time.Second
	}
	return g
}

// RefusedError is the error for a URL or address the guard refuses.
type RefusedError struct {
	// Addr is the refused address, if the refusal is about one.
	Addr netip.Addr
	// Reason says why, e.g. "a loopback address".
	Reason string
}

func (e *RefusedError) Error() string {
	if e.Addr.IsValid() {
		return fmt.Sprintf("webhook target refused: %s is %s", e.Addr, e.Reason)
	}
	return "webhook target refused: " + e.Reason
}

// Networks the rules name.
var (
	cgnat = netip.MustParsePrefix("100.64.0.0/10")
	// embedding are IPv6 forms that carry an IPv4 address, by which a
	// refused IPv4 address could be reached (IPv4-mapped ::ffff:0:0/96 is
	// unmapped and checked as IPv4 instead).
	embedding = []netip.Prefix{
		netip.MustParsePrefix("::/96"),          // IPv4-compatible (deprecated)
		netip.MustParsePrefix("64:ff9b::/96"),   // NAT64
		netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
		netip.MustParsePrefix("2002::/16"),      // 6to4
		netip.MustParsePrefix("2001::/32"),      // Teredo
	}
	reserved = []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/8"),     // "this network"
		netip.MustParsePrefix("192.0.0.0/24"),  // IETF protocol assignments
		netip.MustParsePrefix("198.18.0.0/15"), // benchmarking
		netip.MustParsePrefix("240.0.0.0/4"),   // reserved, and broadcast
		netip.MustParsePrefix("fec0::/10"),     // deprecated site-local
		netip.MustParsePrefix("100::/64"),      // discard-only
	}
	// metadata are cloud instance-metadata addresses: refused even when
	// their network is allowlisted.
	metadata = []netip.Addr{
		netip.MustParseAddr("169.254.169.254"), // AWS, GCP, Azure, OCI, DigitalOcean...
		netip.MustParseAddr("169.254.170.2"),   // AWS ECS task metadata
		netip.MustParseAddr("169.254.170.23"),  // AWS EKS pod identity
		netip.MustParseAddr("fd00:ec2::254"),   // AWS IMDS over IPv6
		netip.MustParseAddr("fd00:ec2::23"),    // AWS EKS pod identity over IPv6
		netip.MustParseAddr("100.100.100.200"), // Alibaba Cloud
		netip.MustParseAddr("168.63.129.16"),   // Azure WireServer
	}
)

// classify says why a may not be reached without the allowlist, or "" when
// it is a public address.
func classify(a netip.Addr) string {
	switch {
	case a.IsLoopback():
		return "a loopback address"
	case a.IsUnspecified():
		return "an unspecified address"
	case a.IsMulticast():
		return "a multicast address"
	case a.IsLinkLocalUnicast():
		return "a link-local address"
	case a.IsPrivate():
		return "a private address"
	case cgnat.Contains(a):
		return "a carrier-grade NAT address"
	}
	for _, p := range embedding {
		if p.Contains(a) {
			return "an IPv6 address embedding an IPv4 address"
		}
	}
	for _, p := range reserved {
		if p.Contains(a) {
			return "a reserved address"
		}
	}
	return ""
}

// Check reports whether a may be reached: nil, or a *RefusedError.
func (g *Guard) Check(a netip.Addr) error {
	a = a.Unmap() // ::ffff:10.0.0.1 is 10.0.0.1
	for _, m := range metadata {
		if a == m {
			return &RefusedError{Addr: a, Reason: "a cloud metadata address"}
		}
	}
	if g.allowed(a) {
		return nil
	}
	if why := classify(a); why != "" {
		return &RefusedError{Addr: a, Reason: why + " (not in the webhook allowlist)"}
	}
	return nil
}

func (g *Guard) allowed(a netip.Addr) bool {
	for _, p := range g.allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// CheckURL checks a URL being registered: absolute http(s) without
// credentials, every address its host resolves to allowed, and https unless
// every one of them is allowlisted. It returns a *RefusedError, or another
// error when the host does not resolve.
func (g *Guard) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		return &RefusedError{Reason: "the URL must be an absolute https URL"}
	case u.Scheme != "https" && u.Scheme != "http":
		return &RefusedError{Reason: "the URL must use https"}
	case u.User != nil:
		return &RefusedError{Reason: "the URL must not carry credentials; authenticate deliveries by their signature"}
	case u.Fragment != "":
		return &RefusedError{Reason: "the URL must not have a fragment"}
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return &RefusedError{Reason: "the URL's port must be from 1 to 65535"}
		}
	}
	addrs, err := g.resolve(ctx, u.Hostname())
	if err != nil {
		return err
	}
	for _, a := range addrs {
		if err := g.Check(a); err != nil {
			return err
		}
		if u.Scheme == "http" && !g.allowed(a.Unmap()) {
			return &RefusedError{Reason: "the URL must use https (plain http is allowed only to allowlisted networks)"}
		}
	}
	return nil
}

// ResolveError is the error for a host name that does not resolve.
type ResolveError struct {
	Host string
	Err  error
}

func (e *ResolveError) Error() string {
	return fmt.Sprintf("webhook host %q does not resolve: %v", e.Host, e.Err)
}

func (e *ResolveError) Unwrap() error { return e.Err }

// resolve returns host's addresses (an IP literal is its own).
func (g *Guard) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return []netip.Addr{a.WithZone("")}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	addrs, err := g.resolver.LookupNetIP(ctx, "ip", host)
	if err == nil && len(addrs) == 0 {
		err = errors.New("no addresses")
	}
	if err != nil {
		return nil, &ResolveError{Host: host, Err: err}
	}
	return addrs, nil
}

type plainKey struct{}

// DialContext connects to addr ("host:port") for a delivery: it resolves
// the host itself and refuses the connection when any address is refused
// (or, for plain http, not allowlisted); the dialler's Control checks the
// address actually connected to once more.
func (g *Guard) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	addrs, err := g.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	plain, _ := ctx.Value(plainKey{}).(bool)
	for _, a := range addrs {
		if err := g.Check(a); err != nil {
			return nil, err
		}
		if plain && !g.allowed(a.Unmap()) {
			return nil, &RefusedError{Addr: a, Reason: "reachable by https only (plain http is allowed only to allowlisted networks)"}
		}
	}
	d := &net.Dialer{Timeout: g.timeout, Control: g.control}
	var errs []error
	for _, a := range addrs {
		c, err := d.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// control refuses a connection to a refused address: the last check,
// on the address the socket is about to connect to.
func (g *Guard) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &RefusedError{Reason: "cannot check address " + address}
	}
	return g.Check(ap.Addr())
}

// Client returns the HTTP client deliveries use: connections through
// DialContext, no proxy, no redirects followed (a 3xx is the answer), and
// every attempt bounded by timeout.
func (g *Guard) Client(timeout time.Duration) *http.Client {
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            g.DialContext,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    min(timeout, 5*time.Second),
		ResponseHeaderTimeout:  timeout,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// withPlain marks ctx as a plain-http request, which DialContext lets reach
// allowlisted networks only.
func withPlain(ctx context.Context, plain bool) context.Context {
	return context.WithValue(ctx, plainKey{}, plain)
}
