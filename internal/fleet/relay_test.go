package fleet

import (
	"encoding/binary"
	"errors"
	"math"
	"net"
	"sync/atomic"
	"testing"

	"github.com/nbpair/nbpair/internal/testkit"
)

// TestRelayDropsItsFraction sends 10,000 datagrams through a relay that
// drops 20% each way to a UDP echo and checks that each direction dropped
// a fraction within five standard deviations of 20% (±2% for 10,000
// datagrams, ±2.2% for the 8,000 or so that come back), and that every
// datagram the relay passed arrived.
func TestRelayDropsItsFraction(t *testing.T) {
	const n, loss = 10000, 0.2
	srv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	srv.SetReadBuffer(4 << 20)
	var atServer atomic.Int64
	go func() {
		buf := make([]byte, 64)
		for {
			k, addr, err := srv.ReadFromUDPAddrPort(buf)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			atServer.Add(1)
			srv.WriteToUDPAddrPort(buf[:k], addr)
		}
	}()
	defer srv.Close()
	r, err := StartRelay(srv.LocalAddr().String(), loss, 0, 42)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c, err := net.Dial("udp", r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	c.(*net.UDPConn).SetReadBuffer(4 << 20)
	defer c.Close()
	var back atomic.Int64
	go func() {
		buf := make([]byte, 64)
		for {
			if _, err := c.Read(buf); errors.Is(err, net.ErrClosed) {
				return
			} else if err == nil {
				back.Add(1)
			}
		}
	}()
	// In bursts of 100, each sent once the relay has seen the last, so no
	// socket buffer overflows and every loss is the relay's.
	var msg [8]byte
	for i := range n {
		binary.BigEndian.PutUint64(msg[:], uint64(i))
		if _, err := c.Write(msg[:]); err != nil {
			t.Fatal(err)
		}
		if i%100 == 99 {
			testkit.Eventually(t, "the relay to see the burst", func() bool { return r.Up().Seen.Load() == int64(i+1) })
		}
	}
	up, down := r.Up(), r.Down()
	testkit.Eventually(t, "every passed datagram to arrive and come back", func() bool {
		passedUp := up.Seen.Load() - up.Dropped.Load()
		return atServer.Load() == passedUp && down.Seen.Load() == passedUp &&
			back.Load() == down.Seen.Load()-down.Dropped.Load()
	})
	for name, c := range map[string]*RelayCounts{"up": up, "down": down} {
		seen := float64(c.Seen.Load())
		bound := 5 * math.Sqrt(loss*(1-loss)/seen)
		frac := float64(c.Dropped.Load()) / seen
		t.Logf("%s: %d of %d dropped (%.4f)", name, c.Dropped.Load(), c.Seen.Load(), frac)
		if math.Abs(frac-loss) > bound {
			t.Errorf("%s: dropped %.4f of the datagrams, want %.2f ± %.4f", name, frac, loss, bound)
		}
	}
	if up.Seen.Load() != n {
		t.Errorf("relay saw %d datagrams, want %d", up.Seen.Load(), n)
	}
}

// TestRelaySeed: the same seed drops the same datagrams.
func TestRelaySeed(t *testing.T) {
	drops := func(seed uint64) []bool {
		r := &Relay{loss: 0.5}
		r.rng = newRelayRand(seed)
		out := make([]bool, 200)
		for i := range out {
			out[i] = !r.pass(&r.up)
		}
		return out
	}
	a, b, c := drops(7), drops(7), drops(8)
	same := func(x, y []bool) bool {
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
		return true
	}
	if !same(a, b) || same(a, c) {
		t.Errorf("seed 7 twice gave the same drops: %v; seeds 7 and 8 the same: %v", same(a, b), same(a, c))
	}
}
