package httpapi

import (
	"net/http"
	"net/netip"
	"testing"
)

func TestClientAddrs(t *testing.T) {
	trusted, err := ParseTrustedProxies([]string{"10.0.0.0/8", "::1", " 2001:db8:ffff::/48 "})
	if err != nil {
		t.Fatal(err)
	}
	c := clientAddrs{trusted: trusted}
	for name, tt := range map[string]struct {
		peer, xff, fwd string
		want           string
	}{
		"untrusted peer, header ignored": {"192.0.2.1:5000", "203.0.113.1", "", "192.0.2.1"},
		"trusted peer, XFF":              {"10.1.2.3:5000", "203.0.113.1", "", "203.0.113.1"},
		"trusted peer, no header":        {"10.1.2.3:5000", "", "", "10.1.2.3"},
		"chain of trusted proxies":       {"10.1.2.3:5000", "203.0.113.1, 10.9.9.9, 10.8.8.8", "", "203.0.113.1"},
		"spoofed hop before the client":  {"10.1.2.3:5000", "1.1.1.1, 203.0.113.1", "", "203.0.113.1"},
		"XFF with a port":                {"10.1.2.3:5000", "203.0.113.1:1234", "", "203.0.113.1"},
		"XFF of IPv6 in brackets":        {"[::1]:5000", "[2001:db8::7]", "", "2001:db8::7"},
		"Forwarded wins over XFF":        {"10.1.2.3:5000", "203.0.113.1", "for=198.51.100.2", "198.51.100.2"},
		"Forwarded, quoted with a port":  {"10.1.2.3:5000", "", `for="[2001:db8::9]:80";by=10.1.2.3`, "2001:db8::9"},
		"Forwarded unknown":              {"10.1.2.3:5000", "", "for=unknown", "10.1.2.3"},
		"Forwarded obfuscated":           {"10.1.2.3:5000", "", "for=_hidden, for=10.2.2.2", "10.2.2.2"},
		"IPv4-mapped peer":               {"[::ffff:10.1.2.3]:5000", "203.0.113.1", "", "203.0.113.1"},
		"zone in a hop":                  {"10.1.2.3:5000", "fe80::1%eth0", "", "10.1.2.3"},
		"trusted IPv6 range":             {"[2001:db8:ffff:1::1]:443", "192.0.2.77", "", "192.0.2.77"},
	} {
		t.Run(name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tt.peer, Header: http.Header{}}
			if tt.xff != "" {
				r.Header.Set("X-Forwarded-For", tt.xff)
			}
			if tt.fwd != "" {
				r.Header.Set("Forwarded", tt.fwd)
			}
			if ip, _ := c.of(r); ip != tt.want {
				t.Errorf("client %q, want %q", ip, tt.want)
			}
		})
	}
	if _, err := ParseTrustedProxies([]string{"10.0.0.0/33"}); err == nil {
		t.Error("10.0.0.0/33 was taken")
	}
}

// FuzzClientAddr feeds the forwarded headers of a trusted proxy arbitrary
// text: the client is always an address, the peer's or a forwarded one.
func FuzzClientAddr(f *testing.F) {
	for _, s := range []string{"203.0.113.1", "a, b, 10.0.0.1", `for="[2001:db8::1]:80";proto=https, for=unknown`, "", ",,,;;=", "[::1", "for=\"\""} {
		f.Add(s, s)
	}
	c := clientAddrs{trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	f.Fuzz(func(t *testing.T, xff, fwd string) {
		r := &http.Request{RemoteAddr: "10.0.0.1:80", Header: http.Header{"X-Forwarded-For": {xff}, "Forwarded": {fwd}}}
		ip, audit := c.of(r)
		if _, err := netip.ParseAddr(ip); err != nil || audit != ip {
			t.Fatalf("client %q (audit %q) from %q / %q", ip, audit, xff, fwd)
		}
	})
}
