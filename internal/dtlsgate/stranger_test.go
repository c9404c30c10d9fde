package dtlsgate

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/protocol"
	"github.com/pion/dtls/v3/pkg/protocol/extension"
	"github.com/pion/dtls/v3/pkg/protocol/handshake"
	"github.com/pion/dtls/v3/pkg/protocol/recordlayer"

	"github.com/nbpair/nbpair/internal/testkit"
)

// rawHello is a DTLS 1.2 ClientHello offering the test suites, with the
// given cookie, message_seq and record number.
func rawHello(t testing.TB, random handshake.Random, cookie []byte, messageSeq uint16, recordSeq uint64) []byte {
	t.Helper()
	rl := &recordlayer.RecordLayer{
		Header: recordlayer.Header{Version: protocol.Version1_2, SequenceNumber: recordSeq},
		Content: &handshake.Handshake{
			Header: handshake.Header{MessageSequence: messageSeq},
			Message: &handshake.MessageClientHello{
				Version: protocol.Version1_2, Random: random, Cookie: cookie,
				CipherSuiteIDs:     []uint16{uint16(dtls.TLS_PSK_WITH_AES_128_CCM_8)},
				CompressionMethods: []*protocol.CompressionMethod{{}},
				Extensions:         []extension.Extension{&extension.UseExtendedMasterSecret{Supported: true}},
			},
		},
	}
	b, err := rl.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newRandom() handshake.Random {
	var r handshake.Random
	r.GMTUnixTime = time.Now()
	rand.Read(r.RandomBytes[:])
	return r
}

// cookieOf reads the cookie of a HelloVerifyRequest.
func cookieOf(t testing.TB, b []byte) []byte {
	t.Helper()
	var rl recordlayer.RecordLayer
	if err := rl.Unmarshal(b); err != nil {
		t.Fatalf("answer %x: %v", b, err)
	}
	hs, ok := rl.Content.(*handshake.Handshake)
	if !ok {
		t.Fatalf("answer is a %T", rl.Content)
	}
	hvr, ok := hs.Message.(*handshake.MessageHelloVerifyRequest)
	if !ok {
		t.Fatalf("answer is a %T", hs.Message)
	}
	return hvr.Cookie
}

// helloVerify sends a cookie-less hello from sock and returns the cookie
// of the answer.
func helloVerify(t testing.TB, sock *net.UDPConn, to net.Addr, random handshake.Random) []byte {
	t.Helper()
	if _, err := sock.WriteTo(rawHello(t, random, nil, 0, 0), to); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	sock.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, _, err := sock.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no HelloVerifyRequest: %v", err)
	}
	return cookieOf(t, buf[:n])
}

func localSocket(t testing.TB) *net.UDPConn {
	t.Helper()
	sock, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sock.Close() })
	return sock
}

// A cookie is bound to the client's address and hello: the same hello
// with its cookie from another address, or another hello with it, gets a
// new HelloVerifyRequest instead of a session.
func TestCookieBoundToAddressAndHello(t *testing.T) {
	l, _ := startGate(t, keyring{})
	a, b := localSocket(t), localSocket(t)
	random := newRandom()
	cookie := helloVerify(t, a, l.Addr(), random)
	if len(cookie) != cookieLen {
		t.Fatalf("cookie of %d bytes", len(cookie))
	}
	if again := helloVerify(t, a, l.Addr(), random); string(again) != string(cookie) {
		t.Errorf("the same hello from the same address got another cookie")
	}
	for name, sent := range map[string]struct {
		sock  *net.UDPConn
		hello []byte
	}{
		"another address": {b, rawHello(t, random, cookie, 1, 1)},
		"another hello":   {a, rawHello(t, newRandom(), cookie, 1, 1)},
	} {
		if _, err := sent.sock.WriteTo(sent.hello, l.Addr()); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 2048)
		sent.sock.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, _, err := sent.sock.ReadFrom(buf)
		if err != nil {
			t.Fatalf("%s: no answer: %v", name, err)
		}
		if c := cookieOf(t, buf[:n]); string(c) == string(cookie) {
			t.Errorf("%s: the cookie was accepted again", name)
		}
	}
	st := hvrCounted(t, l, 4)
	if st.HandshakesStarted != 0 || st.HelloVerifyRequests != 4 {
		t.Errorf("stats %+v, want 4 HelloVerifyRequests and no session", st)
	}
}

// Over the handshake cap, a hello with a valid cookie is dropped and
// counted; anything but a hello from a stranger is dropped and counted.
func TestHandshakeCapAndStrangers(t *testing.T) {
	l, _ := startGate(t, keyring{}, func(c *Config) { c.MaxHandshakes = 1 })
	a, b := localSocket(t), localSocket(t)
	ra, rb := newRandom(), newRandom()
	ca, cb := helloVerify(t, a, l.Addr(), ra), helloVerify(t, b, l.Addr(), rb)
	a.WriteTo(rawHello(t, ra, ca, 1, 1), l.Addr()) // a's handshake starts and stalls
	testkit.Eventually(t, "a's handshake", func() bool { return l.Stats().Handshaking == 1 })
	b.WriteTo(rawHello(t, rb, cb, 1, 1), l.Addr())
	testkit.Eventually(t, "b's hello to be dropped", func() bool { return l.Stats().Dropped[DropHandshakeCap] == 1 })
	b.WriteTo([]byte{23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0}, l.Addr()) // application data, no session
	b.WriteTo([]byte("not dtls"), l.Addr())
	testkit.Eventually(t, "the strangers' datagrams to be dropped", func() bool {
		st := l.Stats()
		return st.Dropped[DropUnknownSource] == 1 && st.Dropped[DropMalformed] == 1
	})
	if st := l.Stats(); st.HandshakesStarted != 1 {
		t.Errorf("stats %+v, want one handshake started", st)
	}
}

// A second handshake of the same identity closes the first session.
func TestNewHandshakeClosesOldSession(t *testing.T) {
	keys := keyring{"urn:imei:3": []byte("0123456789abcdef")}
	l, _ := startGate(t, keys)
	first, err := dial(t, l.Addr(), "urn:imei:3", keys["urn:imei:3"], nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := roundTrip(first, "one"); err != nil {
		t.Fatal(err)
	}
	second, err := dial(t, l.Addr(), "urn:imei:3", keys["urn:imei:3"], nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := roundTrip(second, "two"); err != nil {
		t.Fatal(err)
	}
	first.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := first.Read(make([]byte, 64)); err == nil || isTimeout(err) {
		t.Fatalf("the first session still reads: %v, want the server's close_notify", err)
	}
	testkit.Eventually(t, "one open session", func() bool { return l.Stats().SessionsOpen == 1 })
	if err := roundTrip(second, "still"); err != nil {
		t.Errorf("the second session after the first closed: %v", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// helloFlood sends one cookie-less hello from each of n new sockets, at
// most par at a time, and counts the HelloVerifyRequests that came back
// (a source whose answer is lost tries again, three times at most).
func helloFlood(t testing.TB, to net.Addr, n, par int) (answered int64) {
	var wg sync.WaitGroup
	var got atomic.Int64
	slots := make(chan struct{}, par)
	for range n {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			sock, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Error(err)
				return
			}
			defer sock.Close()
			hello, buf := rawHello(t, newRandom(), nil, 0, 0), make([]byte, 512)
			for range 3 {
				sock.WriteTo(hello, to)
				sock.SetReadDeadline(time.Now().Add(2 * time.Second))
				if _, _, err := sock.ReadFrom(buf); err == nil {
					got.Add(1)
					return
				}
			}
		})
	}
	wg.Wait()
	return got.Load()
}

// heapAlloc is the live heap after a collection.
func heapAlloc() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// Cookie-less hellos, each from its own source, are all answered and
// leave nothing behind: no session, no address, and (nearly) no heap.
func TestHelloFloodKeepsNothing(t *testing.T) {
	const sources = 2000
	l, _ := startGate(t, keyring{})
	before := heapAlloc()
	answered := helloFlood(t, l.Addr(), sources, 32)
	after := heapAlloc()
	st := hvrCounted(t, l, sources)
	if answered != sources || st.HelloVerifyRequests < sources || st.HandshakesStarted != 0 || st.Handshaking != 0 {
		t.Errorf("%d of %d sources answered; stats %+v", answered, sources, st)
	}
	l.mu.Lock()
	kept := len(l.byAddr) + len(l.byCID)
	l.mu.Unlock()
	if kept != 0 {
		t.Errorf("the gate keeps %d entries after a flood of strangers", kept)
	}
	growth := int64(after) - int64(before)
	t.Logf("%d sources: heap %d → %d bytes (%+d, %.1f bytes per source)", sources, before, after, growth, float64(growth)/sources)
	if growth > sources*1024 {
		t.Errorf("the heap grew by %d bytes, more than 1 KiB per source", growth)
	}
}

// hvrCounted returns the gate's figures once it has counted n
// HelloVerifyRequests: it counts one once it is sent, so the last may
// reach the client just before it is counted.
func hvrCounted(t *testing.T, l *Listener, n int64) Stats {
	t.Helper()
	testkit.Eventually(t, fmt.Sprintf("%d HelloVerifyRequests counted (stats %+v)", n, l.Stats()),
		func() bool { return l.Stats().HelloVerifyRequests >= n })
	return l.Stats()
}
