package dtlsgate

import (
	"net/netip"
	"testing"
)

// BenchmarkStrangerHello is what a cookie-less ClientHello from a stranger
// costs the gate: parsing, the cookie's HMAC and the HelloVerifyRequest
// sent (to a socket nobody reads). Run with -benchmem: the allocations are
// garbage, nothing is kept.
func BenchmarkStrangerHello(b *testing.B) {
	l, _ := startGate(b, keyring{})
	hello := rawHello(b, newRandom(), nil, 0, 0)
	sink := localSocket(b)
	ap := sink.LocalAddr().(interface{ AddrPort() netip.AddrPort }).AddrPort()
	out := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		out = l.dispatch(hello, ap.Addr(), ap.Port(), out[:0])
	}
	if l.Stats().HandshakesStarted != 0 {
		b.Fatal("a stranger's hello started a handshake")
	}
}

// BenchmarkHandshake is a full PSK handshake through the gate (cookie
// exchange, pion's handshake, Accept), client and server in this process.
func BenchmarkHandshake(b *testing.B) {
	keys := keyring{"urn:imei:9": []byte("0123456789abcdef")}
	l, _ := startGate(b, keys)
	b.ReportAllocs()
	for b.Loop() {
		c, err := dial(b, l.Addr(), "urn:imei:9", keys["urn:imei:9"], nil)
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}
