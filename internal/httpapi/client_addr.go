package httpapi

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientAddrs finds the address of the client behind a request: the peer
// of the connection, or, when the peer is one of the trusted proxies, the
// address the proxies forwarded (Forwarded, RFC 7239, else
// X-Forwarded-For). Only then is a forwarded address believed: anyone
// else could write any address in those headers.
type clientAddrs struct {
	trusted []netip.Prefix
}

// maxForwardedHops bounds how many forwarded addresses are read.
const maxForwardedHops = 16

// ParseTrustedProxies reads CIDRs (or single addresses) of trusted proxies.
func ParseTrustedProxies(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, err
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

func (c clientAddrs) isTrusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range c.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// of returns the client's address for rate limits (an IP) and for the
// audit log (host:port of a direct peer, the IP a proxy forwarded).
func (c clientAddrs) of(r *http.Request) (ip, audit string) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || len(c.trusted) == 0 || !c.isTrusted(peer) {
		return host, r.RemoteAddr
	}
	hops := forwardedFor(r.Header.Values("Forwarded"))
	if hops == nil {
		hops = xForwardedFor(r.Header.Values("X-Forwarded-For"))
	}
	// The nearest hop that is not a trusted proxy is the client; the
	// ones before it could have been written by the client itself.
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		if !hops[i].IsValid() {
			break // unknown, obfuscated or garbage: stop at the last known
		}
		client = hops[i]
		if !c.isTrusted(client) {
			break
		}
	}
	s := client.Unmap().String()
	return s, s
}

// forwardedFor reads the for= parameters of Forwarded values (RFC 7239):
// `for=192.0.2.60;proto=http, for="[2001:db8::1]:4711"`, nearest hop
// last. A hop that is not an address is the zero Addr; nil means no hop.
func forwardedFor(values []string) []netip.Addr {
	var hops []netip.Addr
	for _, v := range values {
		for elem := range strings.SplitSeq(v, ",") {
			var a netip.Addr
			for pair := range strings.SplitSeq(elem, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(k, "for") {
					a = hopAddr(strings.Trim(val, `"`))
				}
			}
			hops = append(hops, a)
		}
	}
	return nearest(hops)
}

// xForwardedFor reads X-Forwarded-For lists, "client, proxy1, proxy2",
// nearest hop last, as forwardedFor does.
func xForwardedFor(values []string) []netip.Addr {
	var hops []netip.Addr
	for _, v := range values {
		for elem := range strings.SplitSeq(v, ",") {
			hops = append(hops, hopAddr(strings.TrimSpace(elem)))
		}
	}
	return nearest(hops)
}

// nearest keeps the maxForwardedHops hops nearest the server.
func nearest(hops []netip.Addr) []netip.Addr {
	return hops[max(0, len(hops)-maxForwardedHops):]
}

// hopAddr reads one forwarded address: "192.0.2.1", "192.0.2.1:80",
// "2001:db8::1", "[2001:db8::1]" or "[2001:db8::1]:80"; anything else is
// the zero Addr.
func hopAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}
	}
	return a.Unmap()
}

type clientIPKey struct{}

// withClientIP records the client's address for clientIP.
func withClientIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, clientIPKey{}, ip)
}
