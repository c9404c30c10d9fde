package device

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/pion/dtls/v3"
	dtlsnet "github.com/pion/dtls/v3/pkg/net"
	coapdtls "github.com/plgd-dev/go-coap/v3/dtls"
	"github.com/plgd-dev/go-coap/v3/options"
	"github.com/plgd-dev/go-coap/v3/udp"
	udpclient "github.com/plgd-dev/go-coap/v3/udp/client"
)

// DefaultSecurePort is the CoAP-over-DTLS port of a coaps:// Server given
// without one.
const DefaultSecurePort = "5684"

// cipherSuites are the PSK suites the device offers: CCM_8, which LwM2M
// 1.1 requires, and CBC, which some modules offer instead.
var cipherSuites = []dtls.CipherSuiteID{
	dtls.TLS_PSK_WITH_AES_128_CCM_8,
	dtls.TLS_PSK_WITH_AES_128_CBC_SHA256,
}

// secureSession is the device's DTLS state across sleeps. An NB-IoT module
// in PSM keeps its DTLS session while its socket is closed, and when it
// wakes up behind a new NAT binding it goes on sending with the Connection
// ID (RFC 9146) the server gave it: no new handshake, just a new source
// address that the server learns from the record.
type secureSession struct {
	mu     sync.Mutex
	sock   *net.UDPConn // guarded by mu; the socket under the open session
	conn   *dtls.Conn   // guarded by mu; the open session
	resume *dtls.State  // guarded by mu; set while asleep with a resumable session
}

// validatePSK checks that coaps has a PSK and coap has none.
func (s *settings) validatePSK() error {
	switch {
	case s.secure && len(s.PSK) == 0:
		return fmt.Errorf("%w: Server %q is coaps (DTLS) and needs a PSK", ErrConfig, s.Server)
	case !s.secure && len(s.PSK) > 0:
		return fmt.Errorf("%w: a PSK needs a coaps:// Server, not %q", ErrConfig, s.Server)
	}
	return nil
}

// dtlsOptions are the DTLS settings of both a new and a resumed session.
// The device sends the Connection ID the server asks for, and asks for
// none itself: its socket is connected, so nothing needs routing.
func (c *Client) dtlsOptions() []dtls.Option {
	psk := bytes.Clone(c.cfg.PSK)
	return []dtls.Option{
		dtls.WithPSK(func([]byte) ([]byte, error) { return psk, nil }),
		dtls.WithPSKIdentityHint([]byte(c.cfg.Endpoint)),
		dtls.WithCipherSuites(cipherSuites...),
		dtls.WithConnectionIDGenerator(dtls.OnlySendCIDGenerator()),
	}
}

// dial connects a new UDP socket to the server. For coaps it resumes the
// session kept over the last sleep, or does a full handshake, bounded by
// MAX_TRANSMIT_WAIT and ctx, before any CoAP goes out.
func (c *Client) dial(ctx context.Context, opts ...udp.Option) (*udpclient.Conn, error) {
	if !c.cfg.secure {
		return udp.Dial(c.cfg.addr, opts...)
	}
	raddr, err := net.ResolveUDPAddr("udp", c.cfg.addr)
	if err != nil {
		return nil, err
	}
	sock, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		return nil, err
	}
	conn, err := c.secureConn(ctx, sock, raddr)
	if err != nil {
		sock.Close()
		return nil, err
	}
	c.sec.mu.Lock()
	c.sec.sock, c.sec.conn = sock, conn
	c.sec.mu.Unlock()
	return coapdtls.Client(conn, append(opts, options.WithCloseSocket())...), nil
}

// secureConn resumes the saved session on sock, or else does a handshake.
func (c *Client) secureConn(ctx context.Context, sock *net.UDPConn, raddr *net.UDPAddr) (*dtls.Conn, error) {
	c.sec.mu.Lock()
	state := c.sec.resume
	c.sec.resume = nil // a session state is used once, never twice
	c.sec.mu.Unlock()
	if state != nil {
		conn, err := dtls.ResumeWithOptions(state, dtlsnet.PacketConnFromConn(sock), raddr, c.dtlsOptions()...)
		if err == nil {
			err = conn.HandshakeContext(ctx) // returns at once: the session is established
		}
		if err == nil {
			c.log.Debug("dtls session resumed with its connection ID", "local_addr", sock.LocalAddr().String())
			return conn, nil
		}
		c.log.Debug("dtls session not resumable; new handshake", "err", err)
	}
	opts := make([]dtls.ClientOption, 0, 4)
	for _, o := range c.dtlsOptions() {
		opts = append(opts, o)
	}
	conn, err := dtls.ClientWithOptions(dtlsnet.PacketConnFromConn(sock), raddr, opts...)
	if err != nil {
		return nil, err
	}
	hctx, cancel := context.WithTimeout(ctx, c.cfg.maxTransmitWait())
	defer cancel()
	if err := conn.HandshakeContext(hctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("DTLS handshake as %q: %w (is the PSK right?)", c.cfg.Endpoint, err)
	}
	c.log.Debug("dtls session established", "local_addr", sock.LocalAddr().String(), "cid", sendsCID(conn))
	return conn, nil
}

// suspendSocket puts the socket to sleep. A DTLS session with a
// Connection ID is kept for the wake-up: the UDP socket is closed first,
// so that nothing, not even close_notify, goes out under the session's
// keys after the state is saved. Everything else is closed for good.
// c.opMu must be held.
func (c *Client) suspendSocket() {
	c.sec.mu.Lock()
	sock, conn := c.sec.sock, c.sec.conn
	c.sec.mu.Unlock()
	if sock != nil && conn != nil && sendsCID(conn) {
		sock.Close()
		if state, ok := conn.ConnectionState(); ok {
			c.sec.mu.Lock()
			c.sec.resume = &state
			c.sec.mu.Unlock()
		}
	}
	c.closeSocket()
	c.forgetConn()
}

// dropSessionAfter ends the DTLS session after an uplink got no answer:
// the server may have forgotten it (a restart, an idle timeout), and it
// drops records of sessions it does not know without a word. The retry
// then starts with a new handshake. c.opMu must be held.
func (c *Client) dropSessionAfter(err error) {
	var re *ResponseError
	if !c.cfg.secure || errors.As(err, &re) || c.socket() == nil {
		return
	}
	c.log.Debug("dropping the dtls session after an uplink without answer", "err", err)
	c.closeSocket()
	c.forgetConn()
}

// forgetConn forgets the closed session's socket.
func (c *Client) forgetConn() {
	c.sec.mu.Lock()
	c.sec.sock, c.sec.conn = nil, nil
	c.sec.mu.Unlock()
}

// sendsCID reports whether the session sends a Connection ID. pion keeps
// the negotiated ID unexported; its exported binary state carries it.
func sendsCID(conn *dtls.Conn) bool {
	state, ok := conn.ConnectionState()
	if !ok {
		return false
	}
	b, err := state.MarshalBinary()
	if err != nil {
		return false
	}
	var v struct{ RemoteConnectionID []byte }
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&v); err != nil {
		return false
	}
	return len(v.RemoteConnectionID) > 0
}
