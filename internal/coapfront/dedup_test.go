package coapfront

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

func src(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}), uint16(1000+i%50000))
}

func TestDedupAnswersDuplicatesWithTheSameBytes(t *testing.T) {
	d := NewDedup(1<<20, time.Minute)
	now := time.Now()
	from := src(1)
	st, _, tk := d.Begin(from, 7, now, nil)
	if st != New {
		t.Fatalf("first copy: status %d, want New", st)
	}
	if st, _, _ := d.Begin(from, 7, now, nil); st != InProgress {
		t.Fatalf("copy while the first is processed: status %d, want InProgress", st)
	}
	resp := []byte("the encoded response")
	d.Finish(tk, resp)
	st, got, _ := d.Begin(from, 7, now, nil)
	if st != Duplicate || !bytes.Equal(got, resp) {
		t.Fatalf("duplicate: status %d, bytes %q; want Duplicate, %q", st, got, resp)
	}
	if st, _, _ := d.Begin(from, 8, now, nil); st != New {
		t.Fatal("another message ID from the same source is not new")
	}
	if st, _, _ := d.Begin(src(2), 7, now, nil); st != New {
		t.Fatal("the same message ID from another source is not new")
	}
	if d.Duplicates() != 1 {
		t.Fatalf("duplicates = %d, want 1", d.Duplicates())
	}
}

func TestDedupExpiresAfterTheLifetime(t *testing.T) {
	d := NewDedup(1<<20, time.Minute)
	now := time.Now()
	_, _, tk := d.Begin(src(1), 7, now, nil)
	d.Finish(tk, []byte("x"))
	if st, _, _ := d.Begin(src(1), 7, now.Add(59*time.Second), nil); st != Duplicate {
		t.Fatal("forgotten before its lifetime")
	}
	d.Sweep(now.Add(61 * time.Second))
	if d.Len() != 0 || d.Bytes() != 0 {
		t.Fatalf("after the lifetime: %d entries, %d bytes; want none", d.Len(), d.Bytes())
	}
	if st, _, _ := d.Begin(src(1), 7, now.Add(61*time.Second), nil); st != New {
		t.Fatal("remembered after its lifetime")
	}
	if d.Evictions() != 0 {
		t.Fatalf("expiry counted as %d evictions", d.Evictions())
	}
}

// A cache over its cap evicts the oldest entries, counts them, and stays
// under the cap; the newest entries still answer.
func TestDedupEvictsOverItsCap(t *testing.T) {
	const capBytes = 256 << 10
	d := NewDedup(capBytes, time.Hour)
	now := time.Now()
	resp := bytes.Repeat([]byte{0xAB}, 40)
	const n = 20000
	for i := range n {
		st, _, tk := d.Begin(src(i), uint16(i), now, nil)
		if st != New {
			t.Fatalf("request %d: status %d", i, st)
		}
		d.Finish(tk, resp)
		if b := d.Bytes(); b > capBytes {
			t.Fatalf("after %d requests: %d bytes, over the cap of %d", i+1, b, capBytes)
		}
	}
	if d.Evictions() == 0 {
		t.Fatal("no eviction counted")
	}
	if got := uint64(d.Len()) + d.Evictions(); got != n {
		t.Fatalf("entries %d + evictions %d = %d, want %d", d.Len(), d.Evictions(), got, n)
	}
	if st, got, _ := d.Begin(src(n-1), uint16(n-1), now, nil); st != Duplicate || !bytes.Equal(got, resp) {
		t.Fatalf("newest entry: status %d, %q", st, got)
	}
	if st, _, _ := d.Begin(src(0), 0, now, nil); st != New {
		t.Fatal("oldest entry survived eviction")
	}
}

// An entry evicted while its request is processed is not written later.
func TestDedupFinishAfterEviction(t *testing.T) {
	d := NewDedup(64<<10, time.Hour)
	now := time.Now()
	_, _, first := d.Begin(src(0), 0, now, nil)
	for i := 1; d.Evictions() == 0; i++ {
		_, _, tk := d.Begin(src(i), 0, now, nil)
		d.Finish(tk, []byte("r"))
	}
	d.Finish(first, []byte("late"))
	if st, _, _ := d.Begin(src(0), 0, now, nil); st != New {
		t.Fatal("an evicted entry came back")
	}
}

func BenchmarkDedup(b *testing.B) {
	d := NewDedup(DefaultDedupBytes, time.Minute)
	now := time.Now()
	resp := []byte(fmt.Sprintf("%40s", "response"))
	b.ReportAllocs()
	var base atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		i := int(base.Add(1 << 24)) // each goroutine its own sources
		for pb.Next() {
			i++
			_, _, tk := d.Begin(src(i), uint16(i), now, nil)
			d.Finish(tk, resp)
		}
	})
}

// check verifies a shard's invariants: every entry is found by its key,
// the table holds nothing else, and the accounted bytes add up.
func (d *Dedup) check(t *testing.T) {
	t.Helper()
	var total int64
	for si := range d.shards {
		s := &d.shards[si]
		s.mu.Lock()
		used := 0
		for _, v := range s.table {
			if v.seq1 != 0 {
				used++
			}
		}
		bytes := 0
		for seq := s.head; seq != s.tail; seq++ {
			e := s.ring[seq&uint32(len(s.ring)-1)]
			if _, got, ok := s.find(e.k, d.hash(e.k)); !ok || got != seq {
				s.mu.Unlock()
				t.Fatalf("shard %d: entry %d not found by its key (found %d, %v)", si, seq, got, ok)
			}
			bytes += entryOverhead + int(e.n)
		}
		n := int(s.tail - s.head)
		s.mu.Unlock()
		if used != n || bytes != s.bytes {
			t.Fatalf("shard %d: %d table slots used for %d entries; %d bytes accounted, %d counted", si, used, n, s.bytes, bytes)
		}
		total += int64(bytes)
	}
	if total != d.Bytes() {
		t.Fatalf("Bytes() = %d, shards hold %d", d.Bytes(), total)
	}
}

// Random traffic from a small set of sources, with time passing and a
// small cap, keeps the cache consistent.
func TestDedupRandomTraffic(t *testing.T) {
	d := NewDedup(128<<10, time.Second)
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Unix(1e9, 0)
	answered := map[dedupKey][]byte{}
	for op := range 200000 {
		from, mid := src(rng.IntN(3000)), uint16(rng.IntN(4))
		st, got, tk := d.Begin(from, mid, now, nil)
		switch st {
		case New:
			resp := []byte(fmt.Sprintf("answer %06d", op))[:rng.IntN(12)]
			d.Finish(tk, resp)
			answered[keyOf(from, mid)] = resp
		case Duplicate:
			if want := answered[keyOf(from, mid)]; !bytes.Equal(got, want) {
				t.Fatalf("op %d: duplicate answered %q, want %q", op, got, want)
			}
		case InProgress:
			t.Fatalf("op %d: in progress, but every request was finished", op)
		}
		now = now.Add(time.Duration(rng.IntN(100)) * time.Microsecond)
		if op%5000 == 0 {
			d.check(t)
			now = now.Add(time.Duration(rng.IntN(3)) * time.Second / 2)
		}
	}
	d.check(t)
	if d.Evictions() == 0 || d.Duplicates() == 0 {
		t.Fatalf("%d evictions, %d duplicates: the traffic did not exercise both", d.Evictions(), d.Duplicates())
	}
}
