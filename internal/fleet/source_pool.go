package fleet

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"
	"time"
)

// The engine's sockets, one per source. When the sources are few enough
// (at most maxOpen) each one's socket is opened when it is first used and
// stays open for the run, answering the server whenever it writes. Beyond
// that (a million devices cannot hold a million sockets) a source's socket
// is opened for an exchange and stays open for the device's awake time
// after it, answering the server's Writes, then is closed; when maxOpen
// sockets are open the one idle longest is closed first, so the open
// sockets stay under maxOpen, or under the concurrency when that is higher.

// dialEngine opens the engine that sends cfg's traffic to addr from
// cfg's sources.
func dialEngine(addr string, cfg Config) (*engine, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("address %s: %w", addr, err)
	}
	n := cfg.sources()
	if err := checkSources(ua.AddrPort(), n); err != nil {
		return nil, err
	}
	e := &engine{addr: ua, t: cfg.Transmission, plan: newAddrPlan(ua.AddrPort()), first: reserve(n), n: n,
		keep: n <= cfg.MaxOpen, awake: cfg.Awake, maxOpen: cfg.MaxOpen, bufs: n <= 64, seed: rand.Uint64(),
		moved: map[int32]netip.AddrPort{}, stop: make(chan struct{}), swept: make(chan struct{})}
	switch {
	case cfg.SharedSockets > 0:
		e.keep = true
		close(e.swept)
		if err := e.dialShared(cfg.SharedSockets); err != nil {
			e.close()
			return nil, err
		}
	case e.keep:
		e.fixed = make([]atomic.Pointer[sock], n)
		close(e.swept)
	default:
		e.open, e.used = map[int32]*sock{}, make([]uint32, n)
		go e.janitor()
	}
	return e, nil
}

// acquire is source src's socket, open, for one exchange.
func (e *engine) acquire(src int) (*sock, error) {
	if e.keep {
		if s := e.fixed[src].Load(); s != nil && s.up.Load() {
			return s, nil
		}
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, net.ErrClosed
	}
	if s := e.current(src); s != nil {
		s.refs++
		s.idleGen++ // its idle entry, if any, is old now
		e.mu.Unlock()
		<-s.ready
		if s.err != nil {
			e.release(s)
			return nil, s.err
		}
		return s, nil
	}
	if !e.keep {
		e.evictLocked(time.Now())
	}
	s := e.newSockLocked(src)
	addr := e.addrOfLocked(src)
	e.mu.Unlock()
	s.err = e.dial(s, addr)
	close(s.ready)
	if s.err != nil {
		e.release(s)
		return nil, s.err
	}
	s.up.Store(true)
	return s, nil
}

// current is source src's socket, open or being opened, or nil.
func (e *engine) current(src int) *sock {
	if e.keep {
		return e.fixed[src].Load()
	}
	return e.open[int32(src)]
}

// newSockLocked makes source src's socket, not yet open, with one user,
// and makes it the source's current one.
func (e *engine) newSockLocked(src int) *sock {
	e.nopen++
	e.peak = max(e.peak, e.nopen)
	s := &sock{e: e, src: int32(src), midBase: uint16(splitmix(e.seed ^ uint64(src))), refs: 1, ready: make(chan struct{})}
	if e.keep {
		e.fixed[src].Store(s)
	} else {
		s.used.Store(e.used[src])
		e.open[int32(src)] = s
	}
	return s
}

// addrOfLocked is source src's address now.
func (e *engine) addrOfLocked(src int) netip.AddrPort {
	if a, ok := e.moved[int32(src)]; ok {
		return a
	}
	return e.plan.addr(e.first + uint64(src))
}

// dial binds s to addr, connects it to the server and starts its reader.
// An address another socket holds is skipped: the source moves to a fresh
// one and keeps it.
func (e *engine) dial(s *sock, addr netip.AddrPort) error {
	var c *net.UDPConn
	for try := 0; ; try++ {
		var err error
		c, err = net.DialUDP("udp", net.UDPAddrFromAddrPort(addr), e.addr)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EADDRINUSE) || try == 100 {
			return fmt.Errorf("source %v: %w", addr, err)
		}
		e.skipped.Add(1)
		e.mu.Lock()
		addr = e.moveLocked(int(s.src))
		e.mu.Unlock()
	}
	if e.bufs {
		c.SetReadBuffer(4 << 20)
		c.SetWriteBuffer(4 << 20)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		c.Close()
		return net.ErrClosed
	}
	s.c = c
	e.opened.Add(1)
	e.readers.Add(1)
	go s.read()
	return nil
}

// moveLocked gives source src a fresh address off the process cursor.
func (e *engine) moveLocked(src int) netip.AddrPort {
	a := e.plan.addr(reserve(1))
	e.moved[int32(src)] = a
	return a
}

// release ends an exchange's use of s. In exchange mode a socket nobody
// uses stays open for the awake time, then the janitor closes it.
func (e *engine) release(s *sock) {
	if e.keep && s.err == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s.refs--
	if s.refs == 0 {
		if s.gone || s.err != nil || e.awake <= 0 || e.closed {
			e.forgetLocked(s)
		} else {
			s.idleGen++
			e.idle.push(idleEntry{s: s, gen: s.idleGen, until: time.Now().Add(e.awake)})
		}
	}
	if !e.keep {
		e.evictLocked(time.Now())
	}
}

// retire moves the source of s, whose message IDs are used up, to a fresh
// address and ends the caller's use of s; s answers what is in flight and
// is closed later (at once when unused in exchange mode, with the engine
// in keep mode).
func (e *engine) retire(s *sock) {
	e.mu.Lock()
	src := int(s.src)
	if e.keep && e.fixed[src].Load() == s {
		e.moveLocked(src)
		e.movedOut.Add(1)
		e.retired = append(e.retired, s)
		e.fixed[src].Store(nil)
	} else if !e.keep && e.open[s.src] == s {
		e.moveLocked(src)
		e.movedOut.Add(1)
		delete(e.open, s.src)
		s.gone = true
		e.used[src] = 0
	}
	e.mu.Unlock()
	e.release(s)
}

// forgetLocked takes s out of the open sockets and closes it. It closes
// it at once, under the lock, so that the source's next socket can bind
// the same address.
func (e *engine) forgetLocked(s *sock) {
	if s.shut {
		return
	}
	if e.keep {
		e.fixed[s.src].CompareAndSwap(s, nil)
	} else if e.open[s.src] == s {
		delete(e.open, s.src)
		e.used[s.src] = min(s.used.Load(), 1<<16)
	}
	s.gone, s.shut = true, true
	s.idleGen++
	e.nopen--
	if s.c != nil {
		s.c.Close()
	}
}

// evictLocked closes the idle sockets whose awake time is over, and the
// longest idle ones while maxOpen or more are open.
func (e *engine) evictLocked(now time.Time) {
	for {
		it, ok := e.idle.peek()
		if !ok {
			return
		}
		s := it.s
		if s.gone || s.refs > 0 || it.gen != s.idleGen {
			e.idle.pop() // used again since, or closed already
			continue
		}
		if now.Before(it.until) && e.nopen < e.maxOpen {
			return
		}
		e.idle.pop()
		e.forgetLocked(s)
	}
}

// janitor closes the sockets whose awake time is over while no exchange
// does it, until the engine is closed.
func (e *engine) janitor() {
	defer close(e.swept)
	tick := time.NewTicker(min(max(e.awake/4, 5*time.Millisecond), 250*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-e.stop:
			return
		case now := <-tick.C:
			e.mu.Lock()
			e.evictLocked(now)
			e.mu.Unlock()
		}
	}
}

// close closes every socket and waits for the readers.
func (e *engine) close() {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.closed = true
	all := append(append([]*sock(nil), e.retired...), e.shared...)
	for i := range e.fixed {
		if s := e.fixed[i].Load(); s != nil {
			all = append(all, s)
		}
	}
	for _, s := range e.open {
		all = append(all, s)
	}
	e.mu.Unlock()
	close(e.stop)
	<-e.swept
	for _, s := range all {
		<-s.ready
	}
	closeSocks(all)
	e.readers.Wait()
}

// closeSocks closes the sockets that are open.
func closeSocks(ss []*sock) {
	for _, s := range ss {
		if s.c != nil {
			s.c.Close()
		}
	}
}

// socketFigures are what the engine counts of its sockets.
type socketFigures struct {
	opened, skipped, moved int64
	peak                   int
}

// figures reads the counts and starts the peak of open sockets afresh.
func (e *engine) figures() socketFigures {
	e.mu.Lock()
	peak := e.peak
	e.peak = e.nopen
	e.mu.Unlock()
	return socketFigures{opened: e.opened.Load(), skipped: e.skipped.Load(), moved: e.movedOut.Load(), peak: peak}
}

// idleEntry is an open socket nobody uses, to be closed after until.
type idleEntry struct {
	s     *sock
	gen   uint32
	until time.Time
}

// idleQueue holds idle entries in the order they became idle, which is the
// order of their deadlines (the awake time is the same for all).
type idleQueue struct {
	items []idleEntry
	head  int
}

func (q *idleQueue) push(it idleEntry) {
	if q.head > 1024 && q.head*2 > len(q.items) {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	q.items = append(q.items, it)
}

func (q *idleQueue) peek() (idleEntry, bool) {
	if q.head == len(q.items) {
		return idleEntry{}, false
	}
	return q.items[q.head], true
}

func (q *idleQueue) pop() {
	q.items[q.head] = idleEntry{}
	q.head++
}

// splitmix scrambles x (SplitMix64's finaliser): each source's first
// message ID.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}
