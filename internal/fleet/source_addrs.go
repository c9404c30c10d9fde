package fleet

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// The address plan: where the fleet's sources live.
//
// A source is one (IP, port) pair the generator binds explicitly, the way
// each NB-IoT device reaches the server through a NAT binding of its own.
// Ports come from sourcePortLow up to the start of the kernel's ephemeral
// range (so a source never takes a port another program was handed with
// port 0), leaving out the server's port. When the server is on IPv4
// loopback, the plan goes on from 127.0.0.1 to 127.0.0.2 and further
// through 127.0.0.0/8, which Linux answers on lo without configuration;
// otherwise the sources are ports of the one local address the kernel
// picks, as many as the port range holds.
//
// Addresses are handed out from one cursor per process, which starts at a
// random place of 127.0.0.0/8: the runs of one process (rounds, baselines,
// the steps of a sweep) never share an address, so a server's duplicate
// cache of one run cannot answer the next, and two processes that run one
// after the other against the same server are most unlikely to meet (a
// source is (IP, port), and the duplicate cache is keyed by it and the
// message ID). An address some other program holds is skipped (the bind
// fails, the source takes the next free address).

// sourcePortLow is the lowest port a source binds.
const sourcePortLow = 10000

// loopbackIPs is how many addresses of 127.0.0.0/8 the plan uses, from
// 127.0.0.1 to 127.255.255.254.
const loopbackIPs = 1<<24 - 2

// addrPlan maps the address numbers of the process cursor to addresses
// for one server.
type addrPlan struct {
	ports    []uint16 // the ports a source may bind, the server's left out
	loopback bool     // sources spread over 127.0.0.0/8
	local    netip.Addr
}

// newAddrPlan is the plan for sources that send to server.
func newAddrPlan(server netip.AddrPort) addrPlan {
	low, _ := ephemeralRange()
	p := addrPlan{loopback: server.Addr().Unmap().Is4() && server.Addr().Unmap().IsLoopback()}
	for port := sourcePortLow; port < low; port++ {
		if uint16(port) != server.Port() {
			p.ports = append(p.ports, uint16(port))
		}
	}
	switch {
	case p.loopback:
	case server.Addr().Is6() && server.Addr().IsLoopback():
		p.local = netip.IPv6Loopback()
	case server.Addr().Unmap().Is4():
		p.local = netip.IPv4Unspecified()
	default:
		p.local = netip.IPv6Unspecified()
	}
	return p
}

// capacity is how many distinct addresses the plan has.
func (p addrPlan) capacity() uint64 {
	if p.loopback {
		return uint64(len(p.ports)) * loopbackIPs
	}
	return uint64(len(p.ports))
}

// addr is address number a of the plan (taken modulo its capacity).
func (p addrPlan) addr(a uint64) netip.AddrPort {
	a %= p.capacity()
	port := p.ports[a%uint64(len(p.ports))]
	if !p.loopback {
		return netip.AddrPortFrom(p.local, port)
	}
	ip := uint32(127)<<24 + 1 + uint32(a/uint64(len(p.ports)))
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{byte(ip >> 24), byte(ip >> 16), byte(ip >> 8), byte(ip)}), port)
}

// cursor is the process's next address number.
var cursor = struct {
	once sync.Once
	n    atomic.Uint64
}{}

// reserve takes n consecutive address numbers off the process cursor and
// returns the first.
func reserve(n int) uint64 {
	cursor.once.Do(func() {
		loopback := newAddrPlan(netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), 0))
		cursor.n.Store(rand.Uint64N(loopback.capacity()))
	})
	return cursor.n.Add(uint64(n)) - uint64(n)
}

// ephemeralRange is the kernel's range of ports for port 0, from
// /proc/sys/net/ipv4/ip_local_port_range, or Linux's default when it
// cannot be read.
func ephemeralRange() (low, high int) {
	low, high = 32768, 60999
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return low, high
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return low, high
	}
	l, err1 := strconv.Atoi(f[0])
	h, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || l <= sourcePortLow+1000 || h < l {
		return low, high
	}
	return l, h
}

// checkSources says whether n sources fit the plan for server.
func checkSources(server netip.AddrPort, n int) error {
	p := newAddrPlan(server)
	if len(p.ports) == 0 {
		return errors.New("no ports left for sources below the ephemeral range")
	}
	if uint64(n) > p.capacity()/2 {
		return fmt.Errorf("%d sources: a server at %v leaves room for %d (a server on 127.0.0.0/8 for more)",
			n, server.Addr(), p.capacity()/2)
	}
	return nil
}
