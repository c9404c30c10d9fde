package httpapi

import (
	"context"
	"net"
	"strings"
	"sync"
	"time"
)

// Bounds of the login throttle. Its keys come from requests, so each map
// is capped: a full map forgets its least recently used entry. An entry
// takes about 300 bytes, so both maps together stay under 40 MiB.
const (
	maxLoginPairs = 1 << 16 // (username, source) pairs remembered
	maxLoginAddrs = 1 << 16 // sources remembered
	// loginForget is how long after its last failure a pair or a source
	// is forgiven its failures.
	loginForget = time.Hour
	// loginMaxBackoff caps the wait after a failure.
	loginMaxBackoff = 15 * time.Minute
	// loginTrust is how long a correct login exempts its (username,
	// source) pair from the throttle of its source.
	loginTrust = 30 * 24 * time.Hour
)

// loginThrottle slows down password guessing without refusing correct
// logins for someone else's failures. Failures, not attempts, are counted:
// per (username, source), where perPair failures are free and each one
// after doubles the wait before the next attempt (1 s, 2 s, 4 s, … up to
// 15 minutes), and per source over all usernames, the same with perAddr
// (higher) free failures, against one address trying many names. A correct
// login clears its pair and makes it trusted: a trusted pair is not held
// back by its source's failures. Attempts of one pair are checked one at a
// time, so parallel guesses cannot all slip in before the first failure
// is counted, while logins of different users never wait for each other.
type loginThrottle struct {
	perPair, perAddr int
	now              func() time.Time

	mu    sync.Mutex
	pairs *boundedMap[loginRecord] // guarded by mu
	addrs *boundedMap[loginRecord] // guarded by mu
}

// loginRecord is the failures of a pair or a source.
type loginRecord struct {
	failures int
	last     time.Time     // of the last failure
	until    time.Time     // no attempt is checked before
	trusted  time.Time     // pairs: the last correct login
	turn     chan struct{} // pairs: held while an attempt is checked
}

func newLoginThrottle(perPair, perAddr int) *loginThrottle {
	if perPair <= 0 {
		return nil
	}
	if perAddr < perPair {
		perAddr = perPair
	}
	return &loginThrottle{perPair: perPair, perAddr: perAddr, now: time.Now,
		pairs: newBoundedMap[loginRecord](maxLoginPairs), addrs: newBoundedMap[loginRecord](maxLoginAddrs)}
}

// loginAttempt is one login being checked; its caller ends it with failed
// or succeeded.
type loginAttempt struct {
	t          *loginThrottle
	pair, addr *loginRecord
}

// begin waits for the pair's turn, then says whether the attempt may be
// checked: a nil attempt and the wait when the pair, or the source of an
// untrusted pair, is backing off. username must be valid (it is a key).
func (t *loginThrottle) begin(ctx context.Context, username, source string) (*loginAttempt, time.Duration, error) {
	if t == nil {
		return &loginAttempt{}, 0, nil
	}
	addrKey := sourceKey(source)
	t.mu.Lock()
	pair := t.pairs.get(addrKey + " " + strings.ToLower(username))
	if pair.turn == nil {
		pair.turn = make(chan struct{}, 1)
	}
	turn := pair.turn
	t.mu.Unlock()
	select {
	case turn <- struct{}{}:
	case <-ctx.Done():
		return nil, 0, ctx.Err()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	addr := t.addrs.get(addrKey)
	wait := t.waitOf(pair, now)
	if now.Sub(pair.trusted) > loginTrust {
		wait = max(wait, t.waitOf(addr, now))
	}
	if wait > 0 {
		<-turn
		return nil, wait, nil
	}
	return &loginAttempt{t: t, pair: pair, addr: addr}, 0, nil
}

// refuseUnknown counts a login for a username that cannot exist as a
// failure of its source alone (no pair is kept for it), and says how long
// the source must wait, if it must.
func (t *loginThrottle) refuseUnknown(source string) time.Duration {
	if t == nil {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	addr := t.addrs.get(sourceKey(source))
	if wait := t.waitOf(addr, now); wait > 0 {
		return wait
	}
	t.fail(addr, t.perAddr, now)
	return 0
}

// waitOf forgives old failures of r and says how long it must still wait.
func (t *loginThrottle) waitOf(r *loginRecord, now time.Time) time.Duration {
	if r.failures > 0 && now.Sub(r.last) > loginForget {
		r.failures, r.until = 0, time.Time{}
	}
	return max(0, r.until.Sub(now))
}

// fail counts a failure of r, whose first free failures are free, and
// sets its backoff.
func (t *loginThrottle) fail(r *loginRecord, free int, now time.Time) {
	r.failures++
	r.last = now
	if over := r.failures - free; over >= 0 {
		r.until = now.Add(min(loginMaxBackoff, time.Second<<min(over, 20)))
	}
}

// failed counts the attempt's wrong password against its pair and source.
func (a *loginAttempt) failed() {
	if a.t == nil {
		return
	}
	a.t.mu.Lock()
	defer a.t.mu.Unlock()
	now := a.t.now()
	a.t.fail(a.pair, a.t.perPair, now)
	a.t.fail(a.addr, a.t.perAddr, now)
	<-a.pair.turn
}

// succeeded clears the pair's failures and trusts it; the source's stay.
func (a *loginAttempt) succeeded() {
	if a.t == nil {
		return
	}
	a.t.mu.Lock()
	defer a.t.mu.Unlock()
	a.pair.failures, a.pair.until, a.pair.trusted = 0, time.Time{}, a.t.now()
	<-a.pair.turn
}

// ended ends an attempt whose password was not checked (the store failed):
// nothing is counted.
func (a *loginAttempt) ended() {
	if a.t != nil {
		<-a.pair.turn
	}
}

// sourceKey is the throttle's key of a client address: the address itself
// for IPv4, its /64 network for IPv6, where one subscriber holds a whole
// /64.
func sourceKey(addr string) string {
	ip := net.ParseIP(addr)
	if ip == nil || ip.To4() != nil {
		return addr
	}
	return (&net.IPNet{IP: ip.Mask(net.CIDRMask(64, 128)), Mask: net.CIDRMask(64, 128)}).String()
}
