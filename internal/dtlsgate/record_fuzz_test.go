package dtlsgate

import (
	"bytes"
	"net/netip"
	"testing"
	"time"
)

// FuzzParseDatagram feeds the gate's record and ClientHello parsers what a
// stranger may send. A hello that parses must survive the rebuilding of
// its first hello, and its cookie must check out from its address only.
func FuzzParseDatagram(f *testing.F) {
	f.Add(rawHello(f, newRandom(), nil, 0, 0))
	f.Add(rawHello(f, newRandom(), bytes.Repeat([]byte{7}, cookieLen), 1, 1))
	f.Add([]byte{typeTLS12CID, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0xaa})
	f.Add([]byte{typeChangeCipherSpec, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 3, 0, 1, 1})
	jar := newCookieJar(time.Hour, time.Now)
	from := netip.MustParseAddrPort("127.0.0.1:5684")
	other := netip.MustParseAddrPort("127.0.0.1:5685")
	f.Fuzz(func(t *testing.T, b []byte) {
		eachRecord(b, func(record) {})
		r, err := parseRecord(b, CIDLen)
		if err != nil {
			return
		}
		if r.contentType == typeTLS12CID && len(r.cid) != CIDLen {
			t.Fatalf("CID of %d bytes", len(r.cid))
		}
		h, err := parseClientHello(r)
		if err != nil {
			return
		}
		first, err := parseRecord(h.firstHello(h.recordSeq+1), CIDLen)
		if err != nil {
			t.Fatalf("rebuilt first hello: %v", err)
		}
		h1, err := parseClientHello(first)
		if err != nil {
			t.Fatalf("rebuilt first hello: %v", err)
		}
		if h1.messageSeq != 0 || len(h1.cookie) != 0 || !bytes.Equal(h1.random, h.random) ||
			!bytes.Equal(h1.suites, h.suites) || !bytes.Equal(h1.comp, h.comp) || !bytes.Equal(h1.sessionID, h.sessionID) {
			t.Fatalf("first hello %+v of %+v", h1, h)
		}
		h.cookie = jar.make(nil, from, &h)
		if !jar.valid(from, &h) || jar.valid(other, &h) {
			t.Fatal("a cookie checks out from the wrong address, or not from its own")
		}
		hvr := appendHelloVerifyRequest(nil, h.recordSeq, h.cookie)
		if r, err := parseRecord(hvr, CIDLen); err != nil || r.seq != h.recordSeq {
			t.Fatalf("HelloVerifyRequest %x: %v", hvr, err)
		}
	})
}
