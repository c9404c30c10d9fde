package fleet

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Relay is a lossy link in this process: it listens on 127.0.0.1 and
// forwards each datagram to the server and each answer back, dropping a
// fraction of them each way and delaying the others, as an NB-IoT link
// would. Every address that sends to it gets a socket of its own towards
// the server, so the server sees one address per client socket.
type Relay struct {
	front  *net.UDPConn
	server *net.UDPAddr
	loss   float64
	delay  time.Duration

	mu     sync.Mutex
	rng    *rand.Rand                      // guarded by mu
	peers  map[netip.AddrPort]*net.UDPConn // guarded by mu
	closed bool                            // guarded by mu
	wg     sync.WaitGroup

	up, down RelayCounts
}

// RelayCounts counts the datagrams of one direction: every one the relay
// saw, and those of them it dropped.
type RelayCounts struct {
	Seen, Dropped atomic.Int64
}

// StartRelay starts a relay to server that drops the fraction loss of the
// datagrams each way (0 ≤ loss < 1), chosen by a generator seeded with
// seed, and delays each of the others by delay.
func StartRelay(server string, loss float64, delay time.Duration, seed uint64) (*Relay, error) {
	if loss < 0 || loss >= 1 || delay < 0 {
		return nil, fmt.Errorf("relay: loss %v must be from 0 to below 1, delay %v not negative", loss, delay)
	}
	sa, err := net.ResolveUDPAddr("udp", server)
	if err != nil {
		return nil, fmt.Errorf("relay: server %s: %w", server, err)
	}
	front, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	front.SetReadBuffer(4 << 20)
	r := &Relay{front: front, server: sa, loss: loss, delay: delay,
		rng: newRelayRand(seed), peers: map[netip.AddrPort]*net.UDPConn{}}
	r.wg.Add(1)
	go r.readFront()
	return r, nil
}

// newRelayRand is the relay's generator of drops for a seed.
func newRelayRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// Addr is the address clients send to instead of the server's.
func (r *Relay) Addr() string { return r.front.LocalAddr().String() }

// Up counts the datagrams towards the server.
func (r *Relay) Up() *RelayCounts { return &r.up }

// Down counts the datagrams back from the server.
func (r *Relay) Down() *RelayCounts { return &r.down }

// Close stops the relay and closes its sockets; datagrams still delayed
// are dropped.
func (r *Relay) Close() error {
	r.mu.Lock()
	r.closed = true
	err := r.front.Close()
	for _, c := range r.peers {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
	return err
}

// pass decides whether a datagram of direction c gets through.
func (r *Relay) pass(c *RelayCounts) bool {
	c.Seen.Add(1)
	if r.loss == 0 {
		return true
	}
	r.mu.Lock()
	drop := r.rng.Float64() < r.loss
	r.mu.Unlock()
	if drop {
		c.Dropped.Add(1)
	}
	return !drop
}

// forward sends b with write, after the delay when there is one.
func (r *Relay) forward(b []byte, write func([]byte)) {
	if r.delay == 0 {
		write(b)
		return
	}
	b = append([]byte(nil), b...)
	time.AfterFunc(r.delay, func() { write(b) })
}

// readFront forwards the clients' datagrams to the server.
func (r *Relay) readFront() {
	defer r.wg.Done()
	buf := make([]byte, 2048)
	for {
		n, from, err := r.front.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		up, err := r.peer(from)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if r.pass(&r.up) {
			r.forward(buf[:n], func(b []byte) { up.Write(b) })
		}
	}
}

// peer is the socket towards the server of the client at addr.
func (r *Relay) peer(addr netip.AddrPort) (*net.UDPConn, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, net.ErrClosed
	}
	if c := r.peers[addr]; c != nil {
		return c, nil
	}
	c, err := net.DialUDP("udp", nil, r.server)
	if err != nil {
		return nil, err
	}
	c.SetReadBuffer(1 << 20)
	r.peers[addr] = c
	r.wg.Add(1)
	go r.readBack(c, addr)
	return c, nil
}

// readBack forwards the server's datagrams on c back to the client.
func (r *Relay) readBack(c *net.UDPConn, client netip.AddrPort) {
	defer r.wg.Done()
	buf := make([]byte, 2048)
	for {
		n, err := c.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if r.pass(&r.down) {
			r.forward(buf[:n], func(b []byte) { r.front.WriteToUDPAddrPort(b, client) })
		}
	}
}
