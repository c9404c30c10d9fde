package dtlsgate

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"hash"
	"net/netip"
	"sync"
	"time"
)

// cookieLen is the length of the cookies the gate hands out.
const cookieLen = 20

// cookieJar makes and checks stateless cookies (RFC 6347, 4.2.1): an
// HMAC over the client's address and the parameters of its hello. The key
// changes every period; a cookie made with the previous key still passes,
// so a client that got its cookie just before a change is not turned
// away.
type cookieJar struct {
	period time.Duration
	now    func() time.Time

	mu      sync.Mutex
	cur     hash.Hash // guarded by mu
	prev    hash.Hash // guarded by mu; nil before the first change
	renewAt time.Time // guarded by mu
	// scratch holds what a MAC covers, so that a stranger's hello costs no
	// allocation.
	scratch [2*sha256.Size + 16 + 2 + 2 + 1 + randomLen + 32 + 2]byte // guarded by mu
}

func newCookieJar(period time.Duration, now func() time.Time) *cookieJar {
	j := &cookieJar{period: period, now: now}
	j.cur = newKeyedHash()
	j.renewAt = now().Add(period)
	return j
}

func newKeyedHash() hash.Hash {
	var key [32]byte
	rand.Read(key[:])
	return hmac.New(sha256.New, key[:])
}

// rotate changes the key once its period is over; mu is held.
func (j *cookieJar) rotate() {
	now := j.now()
	if now.Before(j.renewAt) {
		return
	}
	if now.Sub(j.renewAt) >= j.period { // idle for two periods: both keys are old
		j.prev = newKeyedHash()
	} else {
		j.prev = j.cur
	}
	j.cur = newKeyedHash()
	j.renewAt = now.Add(j.period)
}

// make appends the cookie for a hello from addr to dst.
func (j *cookieJar) make(dst []byte, addr netip.AddrPort, h *clientHello) []byte {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.rotate()
	return j.sum(j.cur, dst, addr, h)
}

// valid says whether the hello's cookie is one the gate made for addr
// with the current or the previous key.
func (j *cookieJar) valid(addr netip.AddrPort, h *clientHello) bool {
	if len(h.cookie) != cookieLen {
		return false
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.rotate()
	if hmac.Equal(j.sum(j.cur, j.scratch[:0], addr, h), h.cookie) {
		return true
	}
	return j.prev != nil && hmac.Equal(j.sum(j.prev, j.scratch[:0], addr, h), h.cookie)
}

// sum is the MAC over the address and the hello's parameters that must not
// change between the two hellos: version, random, session ID, cipher
// suites and compression methods (extensions may). It appends the cookie
// to dst; mu is held and dst may be scratch's start.
func (j *cookieJar) sum(mac hash.Hash, dst []byte, addr netip.AddrPort, h *clientHello) []byte {
	in := j.scratch[2*sha256.Size : 2*sha256.Size]
	ip, port := addr.Addr().As16(), addr.Port()
	in = append(in, ip[:]...)
	in = append(in, byte(port>>8), byte(port), h.version[0], h.version[1], byte(len(h.sessionID)))
	in = append(in, h.random...)
	in = append(in, h.sessionID...)
	in = append(in, byte(len(h.suites)>>8), byte(len(h.suites)))
	mac.Reset()
	mac.Write(in)
	mac.Write(h.suites)
	mac.Write(h.comp)
	full := mac.Sum(j.scratch[sha256.Size:sha256.Size])
	return append(dst, full[:cookieLen]...)
}
