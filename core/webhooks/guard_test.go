package webhooks_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vagate/vagate/core/webhooks"
)

// fakeDNS resolves names from a table; a name may answer differently on
// successive lookups (DNS rebinding). Unknown names do not resolve.
type fakeDNS map[string][][]string

type lookups struct {
	table fakeDNS
	n     map[string]*atomic.Int32
}

func newDNS(t fakeDNS) *lookups {
	l := &lookups{table: t, n: map[string]*atomic.Int32{}}
	for k := range t {
		l.n[k] = &atomic.Int32{}
	}
	return l
}

func (l *lookups) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	answers, ok := l.table[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	i := int(l.n[host].Add(1)) - 1
	var out []netip.Addr
	for _, s := range answers[min(i, len(answers)-1)] {
		out = append(out, netip.MustParseAddr(s))
	}
	return out, nil
}

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// The address rules, one case each: what is refused without the
// allowlist, what the allowlist opens, and what it never opens.
func TestGuardAddressRules(t *testing.T) {
	tests := []struct {
		addr, allow, why string // why: "" = allowed
	}{
		{"93.184.216.34", "", ""},
		{"2606:4700::6810:84e5", "", ""},
		{"127.0.0.1", "", "loopback"},
		{"127.0.0.1", "127.0.0.0/8", ""},
		{"::1", "", "loopback"},
		{"::1", "::1/128", ""},
		{"10.1.2.3", "", "private"},
		{"172.16.0.1", "", "private"},
		{"192.168.1.1", "", "private"},
		{"192.168.1.1", "192.168.0.0/16", ""},
		{"fc00::1", "", "private"},
		{"fd12:3456::1", "", "private"},
		{"169.254.1.1", "", "link-local"},
		{"fe80::1", "", "link-local"},
		{"169.254.169.254", "", "metadata"},
		{"169.254.169.254", "169.254.0.0/16", "metadata"},
		{"169.254.169.254", "0.0.0.0/0", "metadata"},
		{"fd00:ec2::254", "::/0", "metadata"},
		{"100.100.100.200", "100.64.0.0/10", "metadata"},
		{"168.63.129.16", "", "metadata"},
		{"224.0.0.1", "", "multicast"},
		{"ff02::1", "", "multicast"},
		{"0.0.0.0", "", "unspecified"},
		{"::", "", "unspecified"},
		{"100.64.0.1", "", "carrier-grade NAT"},
		{"0.1.2.3", "", "reserved"},
		{"255.255.255.255", "", "reserved"},
		{"::ffff:127.0.0.1", "", "loopback"},
		{"::ffff:10.0.0.1", "", "private"},
		{"::ffff:169.254.169.254", "", "metadata"},
		{"::ffff:169.254.169.254", "0.0.0.0/0", "metadata"},
		{"64:ff9b::a00:1", "", "embedding"},
		{"2002:a00:1::", "", "embedding"},
		{"2001:0:4136:e378::1", "", "embedding"},
		{"::a00:1", "", "embedding"},
	}
	for _, tc := range tests {
		t.Run(tc.addr+" allow "+tc.allow, func(t *testing.T) {
			var allow []netip.Prefix
			if tc.allow != "" {
				allow = prefixes(tc.allow)
			}
			err := webhooks.NewGuard(webhooks.GuardOptions{Allow: allow}).Check(netip.MustParseAddr(tc.addr))
			var re *webhooks.RefusedError
			switch {
			case tc.why == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.why != "" && !errors.As(err, &re):
				t.Errorf("allowed, want refused (%s)", tc.why)
			case tc.why != "" && !strings.Contains(re.Reason, tc.why):
				t.Errorf("reason %q, want one naming %q", re.Reason, tc.why)
			}
		})
	}
}

// Registration: a URL is checked on every address its host resolves to.
func TestGuardCheckURL(t *testing.T) {
	dns := fakeDNS{
		"public.example":   {{"93.184.216.34"}},
		"internal.example": {{"10.0.0.7"}},
		"mixed.example":    {{"93.184.216.34", "10.0.0.7"}},
		"meta.example":     {{"169.254.169.254"}},
		"local.example":    {{"127.0.0.1", "::1"}},
	}
	tests := []struct {
		url, allow string
		refused    bool
		resolveErr bool
	}{
		{url: "https://public.example/hooks"},
		{url: "https://public.example:8443/hooks?x=1"},
		{url: "http://public.example/hooks", refused: true}, // https outside the allowlist
		{url: "https://127.0.0.1/hooks", refused: true},
		{url: "https://127.0.0.1:9000/hooks", allow: "127.0.0.0/8"},
		{url: "http://127.0.0.1:9000/hooks", allow: "127.0.0.0/8"}, // plain http to an allowlisted network
		{url: "https://10.0.0.5/hooks", refused: true},
		{url: "https://169.254.169.254/latest/meta-data", refused: true},
		{url: "https://169.254.169.254/latest/meta-data", allow: "169.254.0.0/16", refused: true},
		{url: "https://[::1]:8443/hooks", refused: true},
		{url: "https://[::ffff:7f00:1]/hooks", refused: true},
		{url: "https://internal.example/hooks", refused: true},
		{url: "https://mixed.example/hooks", refused: true},
		{url: "https://meta.example/hooks", refused: true},
		{url: "https://local.example/hooks", refused: true},
		{url: "https://local.example/hooks", allow: "127.0.0.0/8", refused: true}, // ::1 is not allowlisted
		{url: "https://user:pass@public.example/hooks", refused: true},
		{url: "ftp://public.example/hooks", refused: true},
		{url: "/relative", refused: true},
		{url: "https://public.example/hooks#frag", refused: true},
		{url: "https://nowhere.example/hooks", resolveErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.url+" allow "+tc.allow, func(t *testing.T) {
			var allow []netip.Prefix
			if tc.allow != "" {
				allow = prefixes(tc.allow)
			}
			g := webhooks.NewGuard(webhooks.GuardOptions{Allow: allow, Resolver: newDNS(dns)})
			err := g.CheckURL(t.Context(), tc.url)
			var re *webhooks.RefusedError
			var de *webhooks.ResolveError
			switch {
			case tc.refused && !errors.As(err, &re):
				t.Errorf("CheckURL = %v, want refused", err)
			case tc.resolveErr && !errors.As(err, &de):
				t.Errorf("CheckURL = %v, want a resolve error", err)
			case !tc.refused && !tc.resolveErr && err != nil:
				t.Errorf("CheckURL = %v, want allowed", err)
			}
		})
	}
}

// counting is a receiver that counts the requests it gets.
func counting(t *testing.T, addr string, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if h != nil {
			h(w, r)
		}
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &n
}

// Delivery: every connection is checked on the address dialled, whatever
// was checked at registration; refused targets get no connection, and
// redirects are never followed.
func TestGuardRefusesAtDialTime(t *testing.T) {
	recv, hits := counting(t, "127.0.0.1:0", nil)
	_, port, _ := net.SplitHostPort(recv.Listener.Addr().String())
	other, otherHits := counting(t, "127.0.0.2:0", nil)
	redirect, _ := counting(t, "127.0.0.1:0", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/internal", http.StatusFound)
	})
	dns := fakeDNS{
		// Public at registration, loopback when delivering (DNS rebinding).
		"rebind.example":   {{"93.184.216.34"}, {"127.0.0.1"}},
		"internal.example": {{"10.0.0.7"}},
	}
	tests := []struct {
		name, url, allow string
		hits             *atomic.Int32
	}{
		{"127.0.0.1 without allowlist", recv.URL, "", hits},
		{"10.x", "http://10.0.0.7:" + port + "/", "", nil},
		{"169.254.169.254 even allowlisted", "http://169.254.169.254/latest/meta-data", "169.254.0.0/16", nil},
		{"[::1]", "http://[::1]:" + port + "/", "127.0.0.0/8", nil},
		{"a name resolving to a private address", "http://internal.example:" + port + "/", "", nil},
		{"a name rebound to loopback after registration", "https://rebind.example:" + port + "/", "", hits},
		{"plain http to a public address", "http://93.184.216.34:9/", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var allow []netip.Prefix
			if tc.allow != "" {
				allow = prefixes(tc.allow)
			}
			g := webhooks.NewGuard(webhooks.GuardOptions{Allow: allow, Resolver: newDNS(dns)})
			if strings.Contains(tc.url, "rebind") {
				if err := g.CheckURL(t.Context(), tc.url); err != nil {
					t.Fatalf("registration: %v (the name is public then)", err)
				}
			}
			before := int32(0)
			if tc.hits != nil {
				before = tc.hits.Load()
			}
			start := time.Now()
			resp, err := webhooks.Deliver(t.Context(), g, tc.url)
			if err == nil {
				resp.Body.Close()
				t.Fatalf("delivered (status %d), want refused", resp.StatusCode)
			}
			var re *webhooks.RefusedError
			if !errors.As(err, &re) {
				t.Errorf("error %v, want a refusal", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("refusal took %s: it should not wait for a connection", d)
			}
			if tc.hits != nil && tc.hits.Load() != before {
				t.Errorf("the refused receiver got a request")
			}
		})
	}
	t.Run("a redirect to a refused address is not followed", func(t *testing.T) {
		g := webhooks.NewGuard(webhooks.GuardOptions{Allow: prefixes("127.0.0.1/32")})
		resp, err := webhooks.Deliver(t.Context(), g, redirect.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound || otherHits.Load() != 0 {
			t.Errorf("status %d, target hits %d; want the 302 itself and no request to the target", resp.StatusCode, otherHits.Load())
		}
	})
	t.Run("an allowlisted receiver is reached", func(t *testing.T) {
		g := webhooks.NewGuard(webhooks.GuardOptions{Allow: prefixes("127.0.0.0/8")})
		resp, err := webhooks.Deliver(t.Context(), g, recv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("status %d", resp.StatusCode)
		}
	})
}
