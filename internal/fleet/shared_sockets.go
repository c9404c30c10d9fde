package fleet

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/udp/coder"
	"golang.org/x/net/ipv4"
)

// Shared sockets: a few sockets, each bound to one port of the wildcard
// address, send the datagrams of every source, each datagram from its
// source's own IP of 127.0.0.0/8 (chosen per datagram with IP_PKTINFO,
// which Linux allows for any local address). Source src sends from
// socket src mod K, so its address is (its IP, that socket's port): as
// many distinct sources as the fleet has, with K sockets open and no
// socket opened or closed per exchange, and every device reachable by the
// server for the whole run. The server must be on 127.0.0.0/8.

// dialShared opens k shared sockets for the engine and starts their
// readers.
func (e *engine) dialShared(k int) error {
	if !e.plan.loopback {
		return errors.New("shared sockets need a server on 127.0.0.0/8")
	}
	ips := uint32((e.n + k - 1) / k)
	e.ipBase = e.reserveIPs(ips)
	e.smids = make([]atomic.Uint32, e.n)
	e.sharedIP = map[int32]uint32{}
	ports := e.plan.ports
	start := rand.IntN(len(ports))
	for i := 0; len(e.shared) < k; i++ {
		if i == len(ports) {
			return fmt.Errorf("no free port for %d shared sockets", k)
		}
		c, err := net.ListenUDP("udp4", &net.UDPAddr{Port: int(ports[(start+i)%len(ports)])})
		if errors.Is(err, syscall.EADDRINUSE) {
			e.skipped.Add(1)
			continue
		}
		if err != nil {
			return err
		}
		pc := ipv4.NewPacketConn(c)
		if err := pc.SetControlMessage(ipv4.FlagDst, true); err != nil {
			c.Close()
			return fmt.Errorf("shared socket: %w", err)
		}
		c.SetReadBuffer(4 << 20)
		c.SetWriteBuffer(4 << 20)
		s := &sock{e: e, c: c, pc: pc, ready: make(chan struct{})}
		close(s.ready)
		e.shared = append(e.shared, s)
		e.opened.Add(1)
		e.mu.Lock()
		e.nopen++
		e.peak = e.nopen
		e.mu.Unlock()
		e.readers.Add(1)
		go s.read()
	}
	return nil
}

// reserveIPs takes n whole addresses of 127.0.0.0/8 off the process cursor
// and returns the offset of the first from 127.0.0.0.
func (e *engine) reserveIPs(n uint32) uint32 {
	p := uint64(len(e.plan.ports))
	first := reserve(int(uint64(n+1) * p))
	ip := (first+p-1)/p%loopbackIPs + 1 // the first whole address
	if ip+uint64(n) > loopbackIPs {
		ip = 1 // wrapped: start again at 127.0.0.1
	}
	return uint32(ip)
}

// nextShared hands out source src's shared socket, IP, message ID and
// token. A source that has used all 65,536 message IDs moves to a fresh IP.
func (e *engine) nextShared(src int) (*sock, [4]byte, uint16, uint32) {
	s := e.shared[src%len(e.shared)]
	for {
		n := e.smids[src].Add(1) - 1
		if n < 1<<16 {
			ip := e.sourceIP(src)
			return s, ip, uint16(splitmix(e.seed^uint64(src))) + uint16(n), n
		}
		e.mu.Lock()
		if e.smids[src].Load() >= 1<<16 {
			e.sharedIP[int32(src)] = e.reserveIPs(1)
			e.movedOut.Add(1)
			e.smids[src].Store(0)
		}
		e.mu.Unlock()
	}
}

// sourceIP is source src's IP on the shared sockets.
func (e *engine) sourceIP(src int) [4]byte {
	off := e.ipBase + uint32(src/len(e.shared))
	if e.movedOut.Load() > 0 {
		e.mu.Lock()
		if o, ok := e.sharedIP[int32(src)]; ok {
			off = o
		}
		e.mu.Unlock()
	}
	ip := 127<<24 + off
	return [4]byte{byte(ip >> 24), byte(ip >> 16), byte(ip >> 8), byte(ip)}
}

// unmap is a with an IPv4-mapped IPv6 address turned into IPv4.
func unmap(a netip.AddrPort) netip.AddrPort { return netip.AddrPortFrom(a.Addr().Unmap(), a.Port()) }

// write sends b to the server from the source at ip (a shared socket) or
// from the socket's own address.
func (s *sock) write(ip [4]byte, b []byte) error {
	if s.pc == nil {
		_, err := s.c.Write(b)
		return err
	}
	_, err := s.pc.WriteTo(b, &ipv4.ControlMessage{Src: net.IP(ip[:])}, s.e.addr)
	return err
}

// readShared handles the datagrams that come to a shared socket until it
// is closed: those of the server, each for the source whose IP it was
// sent to.
func (s *sock) readShared() {
	buf := make([]byte, 1500)
	var m message.Message
	m.Options = make(message.Options, 0, 16)
	server := unmap(s.e.addr.AddrPort())
	for {
		n, cm, from, err := s.pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		ua, ok := from.(*net.UDPAddr)
		if !ok || cm == nil || unmap(ua.AddrPort()) != server {
			continue // not the server's
		}
		dst := cm.Dst.To4()
		if dst == nil {
			continue
		}
		if _, err := coder.DefaultCoder.Decode(buf[:n], &m); err != nil {
			continue
		}
		s.handle(&m, [4]byte(dst))
	}
}
