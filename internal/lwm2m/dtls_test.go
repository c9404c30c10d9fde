package lwm2m

import (
	"sync"
	"testing"

	"github.com/plgd-dev/go-coap/v3/mux"
)

// fakeConn is a mux.Conn that can only be closed.
type fakeConn struct {
	mux.Conn
	mu      sync.Mutex
	done    chan struct{}
	onClose []func()
}

func newFakeConn() *fakeConn { return &fakeConn{done: make(chan struct{})} }

func (c *fakeConn) Done() <-chan struct{} { return c.done }

func (c *fakeConn) AddOnClose(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.onClose = append(c.onClose, f)
}

func (c *fakeConn) close() {
	c.mu.Lock()
	fs := c.onClose
	c.onClose = nil
	c.mu.Unlock()
	for _, f := range fs {
		f()
	}
	close(c.done)
}

func TestSessionsFollowTheLatestConnection(t *testing.T) {
	var ss sessions
	const ep = "urn:imei:868000000000001"
	if _, ok := ss.get(ep); ok {
		t.Fatal("a session before any uplink")
	}
	a, b := newFakeConn(), newFakeConn()
	ss.heard(ep, a)
	ss.heard(ep, a)
	if got, _ := ss.get(ep); got != a {
		t.Fatalf("get = %v, want the first connection", got)
	}
	ss.heard(ep, b) // a new handshake, e.g. after a reboot
	a.close()
	if got, _ := ss.get(ep); got != b {
		t.Fatalf("closing the old connection dropped the new one: %v", got)
	}
	b.close()
	if _, ok := ss.get(ep); ok {
		t.Fatal("a closed connection is still the session")
	}
	c := newFakeConn()
	c.close()
	ss.heard(ep, c) // closed before the hook was added
	if _, ok := ss.get(ep); ok {
		t.Fatal("a connection closed before it was recorded is the session")
	}
}

func TestServerWithoutDTLS(t *testing.T) {
	s := New(nil, nil, Config{Addr: "127.0.0.1:0"})
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	if s.SecureAddr() != nil {
		t.Errorf("SecureAddr() = %v without SecureAddr configured", s.SecureAddr())
	}
}
