package dtlsgate

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/protocol/alert"

	"github.com/nbpair/nbpair/internal/testkit"
)

var testSuites = []dtls.CipherSuiteID{dtls.TLS_PSK_WITH_AES_128_CCM_8, dtls.TLS_PSK_WITH_AES_128_CBC_SHA256}

// keyring is the PSK store of a test: identity → key.
type keyring map[string][]byte

func (k keyring) psk(identity []byte) ([]byte, error) {
	if key, ok := k[string(identity)]; ok {
		return key, nil
	}
	return nil, fmt.Errorf("no key for %q", identity)
}

// refusals collects what OnRefused was told.
type refusals struct {
	mu   sync.Mutex
	seen []Refusal
}

func (r *refusals) add(x Refusal) {
	r.mu.Lock()
	r.seen = append(r.seen, x)
	r.mu.Unlock()
}

func (r *refusals) list() []Refusal {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Refusal(nil), r.seen...)
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(b, "\n")))
	return len(b), nil
}

// startGate listens on 127.0.0.1:0 and closes the listener when the test
// ends. Sessions accepted are echoed: each read is written back.
func startGate(t testing.TB, keys keyring, mod ...func(*Config)) (*Listener, *refusals) {
	t.Helper()
	var ref refusals
	cfg := Config{PSK: keys.psk, CipherSuites: testSuites, OnRefused: ref.add, Log: testLogger(t)}
	for _, m := range mod {
		m(&cfg)
	}
	l, err := Listen("udp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { echo(c) })
		}
	})
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
	return l, &ref
}

func echo(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 2048)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		if _, err := c.Write(buf[:n]); err != nil {
			return
		}
	}
}

// dial does a pion client handshake from a new socket (or from sock).
func dial(t testing.TB, addr net.Addr, identity string, key []byte, sock net.PacketConn, opts ...dtls.ClientOption) (*dtls.Conn, error) {
	t.Helper()
	if sock == nil {
		var err error
		if sock, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
			t.Fatal(err)
		}
	}
	opts = append([]dtls.ClientOption{
		dtls.WithPSK(func([]byte) ([]byte, error) { return key, nil }),
		dtls.WithPSKIdentityHint([]byte(identity)),
		dtls.WithCipherSuites(testSuites...),
	}, opts...)
	c, err := dtls.ClientWithOptions(sock, addr, opts...)
	if err != nil {
		sock.Close()
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.HandshakeContext(ctx); err != nil {
		c.Close()
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	return c, nil
}

// roundTrip writes msg and reads the echo.
func roundTrip(c net.Conn, msg string) error {
	if _, err := c.Write([]byte(msg)); err != nil {
		return err
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 2048)
	n, err := c.Read(buf)
	if err != nil {
		return err
	}
	if string(buf[:n]) != msg {
		return fmt.Errorf("echo %q, want %q", buf[:n], msg)
	}
	return nil
}

// Each suite completes a handshake through the gate's cookie exchange
// and carries data both ways; the gate counts one HelloVerifyRequest and
// one completed handshake per client.
func TestHandshakeThroughGate(t *testing.T) {
	keys := keyring{"urn:imei:1": []byte("0123456789abcdef")}
	for _, suite := range testSuites {
		t.Run(suite.String(), func(t *testing.T) {
			l, _ := startGate(t, keys)
			c, err := dial(t, l.Addr(), "urn:imei:1", keys["urn:imei:1"], nil, dtls.WithCipherSuites(suite))
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			if err := roundTrip(c, "hello"); err != nil {
				t.Fatal(err)
			}
			st := l.Stats()
			if st.HelloVerifyRequests != 1 || st.HandshakesStarted != 1 || st.HandshakesCompleted != 1 || st.SessionsOpen != 1 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// A client with the wrong key gets a fatal alert from the server, and the
// refusal names its identity.
func TestWrongKeyAlert(t *testing.T) {
	keys := keyring{"urn:imei:2": []byte("0123456789abcdef")}
	for _, suite := range testSuites {
		t.Run(suite.String(), func(t *testing.T) {
			l, ref := startGate(t, keys, func(c *Config) { c.FinishedGrace = time.Minute })
			start := time.Now()
			_, err := dial(t, l.Addr(), "urn:imei:2", []byte("fedcba9876543210"), nil, dtls.WithCipherSuites(suite))
			took := time.Since(start)
			var ae *alertErr
			if !asAlert(err, &ae) || ae.desc != alert.BadRecordMac {
				t.Fatalf("handshake with a wrong key: %v, want a bad_record_mac alert", err)
			}
			t.Logf("wrong key refused after %v: %v", took, err)
			testkit.Eventually(t, "the refusal", func() bool { return len(ref.list()) == 1 })
			if r := ref.list()[0]; r.Identity != "urn:imei:2" || r.Reason != "wrong-key" {
				t.Errorf("refusal %+v", r)
			}
			testkit.Eventually(t, "the session to be gone", func() bool {
				st := l.Stats()
				return st.HandshakesFailed == 1 && st.Handshaking == 0 && st.SessionsOpen == 0
			})
		})
	}
}

// An identity with no key is refused at once with pion's alert, and the
// refusal says so.
func TestUnknownIdentityRefused(t *testing.T) {
	l, ref := startGate(t, keyring{})
	_, err := dial(t, l.Addr(), "urn:imei:nobody", []byte("0123456789abcdef"), nil)
	var ae *alertErr
	if !asAlert(err, &ae) || ae.desc != alert.InternalError {
		t.Fatalf("handshake with an unknown identity: %v, want an internal_error alert", err)
	}
	testkit.Eventually(t, "the refusal", func() bool { return len(ref.list()) == 1 })
	if r := ref.list()[0]; r.Identity != "urn:imei:nobody" || r.Reason != ReasonUnknownIdentity {
		t.Errorf("refusal %+v", r)
	}
	testkit.Eventually(t, "the session to be gone", func() bool { return l.Stats().Handshaking == 0 })
}

// Without pion's word that the Finished did not decrypt, the backstop
// still ends a wrong key's handshake with the alert, and a right key's
// handshake is not disturbed by it.
func TestWrongKeyBackstop(t *testing.T) {
	watchDecryptFailures = false
	t.Cleanup(func() { watchDecryptFailures = true })
	keys := keyring{"urn:imei:5": []byte("0123456789abcdef")}
	l, ref := startGate(t, keys, func(c *Config) { c.FinishedGrace = 200 * time.Millisecond })
	_, err := dial(t, l.Addr(), "urn:imei:5", []byte("fedcba9876543210"), nil)
	var ae *alertErr
	if !asAlert(err, &ae) || ae.desc != alert.BadRecordMac {
		t.Fatalf("handshake with a wrong key: %v, want a bad_record_mac alert", err)
	}
	testkit.Eventually(t, "the refusal", func() bool { return len(ref.list()) == 1 })
	c, err := dial(t, l.Addr(), "urn:imei:5", keys["urn:imei:5"], nil)
	if err != nil {
		t.Fatalf("the right key: %v", err)
	}
	if err := roundTrip(c, "ok"); err != nil {
		t.Fatal(err)
	}
}

type alertErr struct{ desc alert.Description }

// asAlert finds, in what pion reports, the alert the server sent.
func asAlert(err error, out **alertErr) bool {
	if err == nil {
		return false
	}
	for _, d := range []alert.Description{alert.BadRecordMac, alert.DecryptError, alert.InternalError} {
		if strings.Contains(err.Error(), "Alert Fatal: "+d.String()) {
			*out = &alertErr{d}
			return true
		}
	}
	return false
}

// recordingConn is a client socket that keeps a copy of what it sends.
type recordingConn struct {
	*net.UDPConn
	mu   sync.Mutex
	sent [][]byte
}

func (c *recordingConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	c.mu.Lock()
	c.sent = append(c.sent, bytes.Clone(b))
	c.mu.Unlock()
	return c.UDPConn.WriteTo(b, addr)
}

// helloWithCookie is the first datagram sent that holds a ClientHello
// with a cookie.
func (c *recordingConn) helloWithCookie() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, b := range c.sent {
		if r, err := parseRecord(b, CIDLen); err == nil {
			if h, err := parseClientHello(r); err == nil && len(h.cookie) > 0 {
				return b
			}
		}
	}
	return nil
}

// A late copy of the hello that started a session, after the handshake,
// starts no second session and leaves the first one working.
func TestLateHelloCopyIgnored(t *testing.T) {
	keys := keyring{"urn:imei:4": []byte("0123456789abcdef")}
	l, _ := startGate(t, keys)
	sock := &recordingConn{UDPConn: localSocket(t)}
	c, err := dial(t, l.Addr(), "urn:imei:4", keys["urn:imei:4"], sock)
	if err != nil {
		t.Fatal(err)
	}
	hello := sock.helloWithCookie()
	if hello == nil {
		t.Fatal("the client sent no hello with a cookie")
	}
	if _, err := sock.UDPConn.WriteTo(hello, l.Addr()); err != nil {
		t.Fatal(err)
	}
	if err := roundTrip(c, "after the copy"); err != nil {
		t.Fatal(err)
	}
	if st := l.Stats(); st.HandshakesStarted != 1 || st.SessionsOpen != 1 {
		t.Errorf("stats %+v, want one handshake and one session", st)
	}
}
