package dtlsgate

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// The refusal limiter lets one refusal per identity through per interval
// and tracks a bounded number of identities, however many are named.
func TestRefusalLimiterBounded(t *testing.T) {
	r := refusalLimiter{interval: time.Minute, last: make(map[string]time.Time)}
	now := time.Unix(1_000_000, 0)
	if !r.allow("urn:imei:1", now) || r.allow("urn:imei:1", now.Add(59*time.Second)) || !r.allow("urn:imei:1", now.Add(61*time.Second)) {
		t.Fatal("one identity is not limited to one refusal a minute")
	}
	allowed := 0
	for i := range 3 * maxRefusalsTracked {
		if r.allow(fmt.Sprintf("urn:imei:%d", 100+i), now.Add(70*time.Second)) {
			allowed++
		}
	}
	if len(r.last) > maxRefusalsTracked || allowed > maxRefusalsTracked {
		t.Errorf("%d identities tracked, %d allowed; the bound is %d", len(r.last), allowed, maxRefusalsTracked)
	}
	if !r.allow("urn:imei:new", now.Add(3*time.Minute)) || len(r.last) > maxRefusalsTracked {
		t.Errorf("once the entries are old, a new identity is not let through (%d tracked)", len(r.last))
	}
}

// A session's inbound queue holds at most sessionQueue datagrams.
func TestSessionQueueBounded(t *testing.T) {
	p := newPacketConn(&session{})
	from := netip.MustParseAddrPort("127.0.0.1:1")
	n := 0
	for range 2 * sessionQueue {
		if p.push([]byte{1}, from) {
			n++
		}
	}
	if n != sessionQueue {
		t.Errorf("%d datagrams queued, want %d", n, sessionQueue)
	}
	p.Close()
	if p.push([]byte{1}, from) {
		t.Error("a closed session queued a datagram")
	}
}

// A stranger who names more unknown identities than the limiter tracks
// does not silence the audit of a wrong key: wrong keys have their own
// limiter.
func TestUnknownIdentitiesDoNotCrowdOutWrongKeys(t *testing.T) {
	var ref refusals
	cfg := Config{OnRefused: ref.add, RefusalInterval: time.Minute}
	cfg.defaults()
	l := &Listener{cfg: cfg, refusals: newRefusalLimiter(cfg.RefusalInterval), strays: newRefusalLimiter(cfg.RefusalInterval)}
	refuse := func(identity string, wrongKey bool) {
		s := &session{l: l}
		s.identity.Store(&identity)
		s.wrongKey.Store(wrongKey)
		s.unknownID.Store(!wrongKey)
		s.refused(errors.New("handshake failed"))
	}
	for i := range maxRefusalsTracked + 10 {
		refuse(fmt.Sprintf("stranger-%d", i), false)
	}
	refuse("urn:imei:1", true)
	seen := ref.list()
	if len(seen) == 0 || seen[len(seen)-1].Identity != "urn:imei:1" || seen[len(seen)-1].Reason != ReasonWrongKey {
		t.Fatalf("after %d unknown identities, the wrong key of urn:imei:1 was not reported", maxRefusalsTracked+10)
	}
}
