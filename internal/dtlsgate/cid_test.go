package dtlsgate

import (
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/transport/v5/deadline"
)

// movingConn is a client's PacketConn whose source address can change, as
// a NAT rebinds: it reads from every socket it had and writes from the
// latest.
type movingConn struct {
	in     chan datagram
	rd     *deadline.Deadline
	closed chan struct{}
	once   sync.Once
	mu     sync.Mutex
	// guarded by mu
	socks  []*net.UDPConn
	lastOn netip.AddrPort // the socket the last datagram came to
}

func newMovingConn(t *testing.T) *movingConn {
	c := &movingConn{in: make(chan datagram, 64), rd: deadline.New(), closed: make(chan struct{})}
	c.move(t)
	return c
}

// move switches to a new socket and returns its address.
func (c *movingConn) move(t *testing.T) netip.AddrPort {
	sock := localSocket(t)
	c.mu.Lock()
	c.socks = append(c.socks, sock)
	c.mu.Unlock()
	go func() {
		for {
			buf := make([]byte, 2048)
			n, from, err := sock.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			c.mu.Lock()
			c.lastOn = sock.LocalAddr().(*net.UDPAddr).AddrPort()
			c.mu.Unlock()
			select {
			case c.in <- datagram{buf[:n], from}:
			case <-c.closed:
				return
			}
		}
	}()
	return sock.LocalAddr().(*net.UDPAddr).AddrPort()
}

func (c *movingConn) current() *net.UDPConn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.socks[len(c.socks)-1]
}

func (c *movingConn) ReadFrom(b []byte) (int, net.Addr, error) {
	select {
	case d := <-c.in:
		return copy(b, d.b), net.UDPAddrFromAddrPort(d.from), nil
	case <-c.rd.Done():
		return 0, nil, errTimeout{}
	case <-c.closed:
		return 0, nil, net.ErrClosed
	}
}

func (c *movingConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	return c.current().WriteTo(b, addr)
}
func (c *movingConn) LocalAddr() net.Addr              { return c.current().LocalAddr() }
func (c *movingConn) SetDeadline(t time.Time) error    { return c.SetReadDeadline(t) }
func (c *movingConn) SetWriteDeadline(time.Time) error { return nil }

func (c *movingConn) SetReadDeadline(t time.Time) error {
	c.rd.Set(t)
	return nil
}

func (c *movingConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

// A session with a Connection ID is reached from the client's new address
// without a new handshake, and the gate then finds it there.
func TestConnectionIDFollowsNewAddress(t *testing.T) {
	keys := keyring{"urn:imei:6": []byte("0123456789abcdef")}
	l, _ := startGate(t, keys)
	mc := newMovingConn(t)
	c, err := dial(t, l.Addr(), "urn:imei:6", keys["urn:imei:6"], mc,
		dtls.WithConnectionIDGenerator(dtls.OnlySendCIDGenerator()))
	if err != nil {
		t.Fatal(err)
	}
	if err := roundTrip(c, "before"); err != nil {
		t.Fatal(err)
	}
	moved := mc.move(t)
	// pion hands the first record from the new address to the reader a
	// moment before it adopts the address, so an immediate echo may still
	// go to the old one; the next does not.
	for _, msg := range []string{"after the move", "again"} {
		if err := roundTrip(c, msg); err != nil {
			t.Fatalf("from the new address: %v", err)
		}
	}
	mc.mu.Lock()
	lastOn := mc.lastOn
	mc.mu.Unlock()
	if lastOn != moved {
		t.Errorf("the answer came to %v, not to the new address %v", lastOn, moved)
	}
	l.mu.Lock()
	s := l.byAddr[moved]
	l.mu.Unlock()
	if s == nil || s.remote() != moved {
		t.Errorf("the gate does not know the session at its new address %v", moved)
	}
	if st := l.Stats(); st.HandshakesStarted != 1 || st.SessionsOpen != 1 {
		t.Errorf("stats %+v, want one handshake and one session", st)
	}
}
