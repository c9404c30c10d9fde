package dtlsgate

import (
	"net/netip"
	"testing"
	"time"
)

// A cookie passes for up to two key periods (the current key and the one
// before), then no longer.
func TestCookieKeyRotation(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	jar := newCookieJar(time.Minute, func() time.Time { return now })
	from := netip.MustParseAddrPort("192.0.2.7:40000")
	r, err := parseRecord(rawHello(t, newRandom(), nil, 0, 0), CIDLen)
	if err != nil {
		t.Fatal(err)
	}
	h, err := parseClientHello(r)
	if err != nil {
		t.Fatal(err)
	}
	h.cookie = jar.make(nil, from, &h)
	tests := []struct {
		after time.Duration
		valid bool
	}{
		{0, true},
		{59 * time.Second, true},
		{61 * time.Second, true},  // the previous key
		{119 * time.Second, true}, // still the previous key
		{121 * time.Second, false},
	}
	for _, tc := range tests {
		now = time.Unix(1_000_000, 0).Add(tc.after)
		if got := jar.valid(from, &h); got != tc.valid {
			t.Errorf("after %v: valid = %v, want %v", tc.after, got, tc.valid)
		}
	}
}
