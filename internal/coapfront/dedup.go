package coapfront

import (
	"hash/maphash"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// The deduplication cache (RFC 7252, 4.5) keeps, for every request
// received in the last EXCHANGE_LIFETIME, its source, its message ID and
// the encoded response, so that a retransmission is answered with the
// same bytes and never processed twice.
//
// It is sharded by key. A shard is a FIFO: entries sit in a ring in the
// order they were received (which is also the order they expire in, all
// having the same lifetime), an open-addressing hash table of their
// sequence numbers (linear probing, keyed hash, deletion by backward
// shift, so no tombstones pile up under the constant insert-and-evict
// traffic) finds them by key, and the responses are appended to an arena
// of fixed-size chunks. Neither the ring, the table nor the chunks hold
// pointers, so the garbage collector does not walk a million of them.
// Memory is bounded by a cap in bytes: when a new entry would go over it,
// the oldest entries are evicted first.

// entryOverhead is what an entry costs besides its response: 40 bytes in
// the ring and 16 in the table (twice as many 8-byte slots as the ring),
// and both up to twice that just after they doubled; 96 is the average
// between a ring just doubled and one full.
const entryOverhead = 96

// slot is a table slot: the sequence number + 1 of an entry (0 for an
// empty slot) and the low bits of its key's hash, which spare the probe a
// visit to the ring for every other key.
type slot struct {
	seq1 uint32
	h    uint32
}

// chunkSize is the size of one arena chunk of responses.
const chunkSize = 16 << 10

// maxShards is the number of shards of a large cache.
const maxShards = 16

// dedupKey is a request's source address, port and message ID.
type dedupKey struct {
	addr [16]byte
	port uint16
	mid  uint16
}

// entry states.
const (
	statePending uint8 = iota // being processed
	stateDone                 // answered (n bytes at chunk/off), or nothing to answer (n = 0)
)

// entry is one request in the cache.
type entry struct {
	k     dedupKey
	state uint8
	n     uint16 // response length
	exp   int64  // expiry, Unix nanoseconds
	chunk uint32 // arena chunk id of the response
	off   uint32 // offset of the response in its chunk
}

// chunk is a piece of a shard's response arena.
type chunk struct {
	buf  []byte // len is the part used
	live int32  // entries whose response is in it
}

// shard is one lock's worth of the cache.
type shard struct {
	mu     sync.Mutex
	table  []slot   // guarded by mu; len 2*len(ring)
	ring   []entry  // guarded by mu; len a power of two
	head   uint32   // guarded by mu; sequence number of the oldest entry
	tail   uint32   // guarded by mu; sequence number of the next entry
	chunks []chunk  // guarded by mu; oldest first
	chunk0 uint32   // guarded by mu; id of chunks[0]
	bytes  int      // guarded by mu; accounted size
	_      [64]byte // keeps shards on their own cache lines
}

// Dedup is the deduplication cache. Its methods are safe for concurrent
// use.
type Dedup struct {
	seed     maphash.Seed
	shards   []shard
	capShard int
	lifetime time.Duration

	bytes      atomic.Int64
	evictions  atomic.Uint64
	duplicates atomic.Uint64
}

// Lookup results of Begin.
const (
	// New: the request was not seen; process it, then call Finish.
	New = iota
	// Duplicate: the request was answered; send the response Begin copied.
	Duplicate
	// InProgress: the first copy is still being processed; drop this one.
	InProgress
)

// Ticket identifies the entry of a request that Begin reported New.
type Ticket struct {
	shard int
	seq   uint32
	h     uint64
	k     dedupKey
}

// NewDedup returns a cache of at most capBytes that keeps a response for
// lifetime.
func NewDedup(capBytes int, lifetime time.Duration) *Dedup {
	n := min(maxShards, max(1, capBytes/(16*chunkSize)))
	d := &Dedup{seed: maphash.MakeSeed(), shards: make([]shard, n), capShard: capBytes / n, lifetime: lifetime}
	for i := range d.shards {
		d.shards[i].ring = make([]entry, minRing)
		d.shards[i].table = make([]slot, 2*minRing)
	}
	return d
}

// minRing is the smallest ring of a shard.
const minRing = 16

func keyOf(from netip.AddrPort, mid uint16) dedupKey {
	return dedupKey{addr: from.Addr().As16(), port: from.Port(), mid: mid}
}

// hash is a keyed hash of k: its low bits pick a table slot, its high
// bits the shard. The key keeps a sender from choosing colliding sources.
func (d *Dedup) hash(k dedupKey) uint64 { return maphash.Comparable(d.seed, k) }

func (d *Dedup) shardOf(h uint64) int { return int((h >> 32) % uint64(len(d.shards))) }

// Begin looks the request up at now. For a Duplicate it appends the
// response to dst and returns it; for New it records the request as in
// progress and returns its ticket.
func (d *Dedup) Begin(from netip.AddrPort, mid uint16, now time.Time, dst []byte) (int, []byte, Ticket) {
	k := keyOf(from, mid)
	h := d.hash(k)
	i := d.shardOf(h)
	s := &d.shards[i]
	nowNS := now.UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	d.expire(s, nowNS)
	if _, seq, ok := s.find(k, h); ok {
		e := &s.ring[seq&uint32(len(s.ring)-1)]
		if e.state == statePending {
			return InProgress, dst, Ticket{}
		}
		d.duplicates.Add(1)
		if e.n > 0 {
			c := &s.chunks[e.chunk-s.chunk0]
			dst = append(dst, c.buf[e.off:e.off+uint32(e.n)]...)
		}
		return Duplicate, dst, Ticket{}
	}
	seq := d.push(s, entry{k: k, state: statePending, exp: nowNS + int64(d.lifetime)}, h)
	return New, dst, Ticket{shard: i, seq: seq, h: h, k: k}
}

// Finish stores the response of the request of t (nil when nothing is to
// be sent again for its duplicates; a response over 16 KiB is not kept
// either). It does nothing if the entry was evicted meanwhile.
func (d *Dedup) Finish(t Ticket, resp []byte) {
	s := &d.shards[t.shard]
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, seq, ok := s.find(t.k, t.h); !ok || seq != t.seq {
		return
	}
	e := &s.ring[t.seq&uint32(len(s.ring)-1)]
	e.state = stateDone
	if len(resp) == 0 || len(resp) > chunkSize { // too large to keep: a duplicate is dropped
		return
	}
	e.chunk, e.off = d.store(s, resp)
	e.n = uint16(len(resp))
	d.account(s, len(resp))
	d.trim(s)
}

// push appends e (whose key hashes to h) to the shard's ring and table.
func (d *Dedup) push(s *shard, e entry, h uint64) uint32 {
	if int(s.tail-s.head) == len(s.ring) {
		d.resize(s, 2*len(s.ring))
	}
	seq := s.tail
	s.tail++
	s.ring[seq&uint32(len(s.ring)-1)] = e
	s.insert(h, seq)
	d.account(s, entryOverhead)
	d.trim(s)
	return seq
}

// resize moves the ring's entries into a ring of n slots and rebuilds the
// table for it.
func (d *Dedup) resize(s *shard, n int) {
	ring := make([]entry, n)
	for seq := s.head; seq != s.tail; seq++ {
		ring[seq&uint32(n-1)] = s.ring[seq&uint32(len(s.ring)-1)]
	}
	s.ring = ring
	s.table = make([]slot, 2*n)
	for seq := s.head; seq != s.tail; seq++ {
		s.insert(d.hash(ring[seq&uint32(n-1)].k), seq)
	}
}

// find returns the table slot and sequence number of k, which hashes to
// h, or the empty slot where the probe ended.
func (s *shard) find(k dedupKey, h uint64) (int, uint32, bool) {
	mask := len(s.table) - 1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		v := s.table[i]
		if v.seq1 == 0 {
			return i, 0, false
		}
		if v.h == uint32(h) && s.ring[(v.seq1-1)&uint32(len(s.ring)-1)].k == k {
			return i, v.seq1 - 1, true
		}
	}
}

// insert puts seq, whose key hashes to h and is not in the table, in the
// first free slot of its probe. The table is never more than half full.
func (s *shard) insert(h uint64, seq uint32) {
	mask := len(s.table) - 1
	i := int(h) & mask
	for s.table[i].seq1 != 0 {
		i = (i + 1) & mask
	}
	s.table[i] = slot{seq1: seq + 1, h: uint32(h)}
}

// remove empties slot i and shifts the entries after it back, so that
// every entry stays reachable from its home slot without tombstones.
func (s *shard) remove(i int) {
	mask := len(s.table) - 1
	for j := (i + 1) & mask; s.table[j].seq1 != 0; j = (j + 1) & mask {
		home := int(s.table[j].h) & mask
		// Move j back to i unless its home lies cyclically in (i, j].
		if (j-home)&mask >= (j-i)&mask {
			s.table[i] = s.table[j]
			i = j
		}
	}
	s.table[i] = slot{}
}

// store appends resp to the arena and returns where it is.
func (d *Dedup) store(s *shard, resp []byte) (uint32, uint32) {
	if len(s.chunks) == 0 || len(s.chunks[len(s.chunks)-1].buf)+len(resp) > chunkSize {
		s.chunks = append(s.chunks, chunk{buf: make([]byte, 0, chunkSize)})
	}
	c := &s.chunks[len(s.chunks)-1]
	off := len(c.buf)
	c.buf = append(c.buf, resp...)
	c.live++
	return s.chunk0 + uint32(len(s.chunks)-1), uint32(off)
}

func (d *Dedup) account(s *shard, n int) {
	s.bytes += n
	d.bytes.Add(int64(n))
}

// trim evicts the oldest entries while the shard is over its cap.
func (d *Dedup) trim(s *shard) {
	for s.bytes > d.capShard && s.head != s.tail {
		d.evictOldest(s)
		d.evictions.Add(1)
	}
}

// expire evicts the entries whose lifetime is over, and gives memory back
// once the shard holds far fewer entries than it did.
func (d *Dedup) expire(s *shard, nowNS int64) {
	for s.head != s.tail && s.ring[s.head&uint32(len(s.ring)-1)].exp <= nowNS {
		d.evictOldest(s)
	}
	if n := int(s.tail - s.head); len(s.ring) > 1024 && n < len(s.ring)/4 {
		d.resize(s, len(s.ring)/2)
	}
}

// evictOldest removes the oldest entry and frees the arena chunks no entry
// uses any more.
func (d *Dedup) evictOldest(s *shard) {
	e := &s.ring[s.head&uint32(len(s.ring)-1)]
	if i, _, ok := s.find(e.k, d.hash(e.k)); ok {
		s.remove(i)
	}
	s.head++
	freed := entryOverhead
	if e.n > 0 {
		s.chunks[e.chunk-s.chunk0].live--
		freed += int(e.n)
	}
	*e = entry{}
	d.account(s, -freed)
	for len(s.chunks) > 1 && s.chunks[0].live == 0 {
		s.chunks[0] = chunk{}
		s.chunks = s.chunks[1:]
		s.chunk0++
	}
}

// Sweep evicts the expired entries of every shard; the front calls it
// now and then so that an idle shard gives its memory back.
func (d *Dedup) Sweep(now time.Time) {
	for i := range d.shards {
		s := &d.shards[i]
		s.mu.Lock()
		d.expire(s, now.UnixNano())
		s.mu.Unlock()
	}
}

// Bytes is the accounted size of the cache: entryOverhead per entry plus
// its response.
func (d *Dedup) Bytes() int64 { return d.bytes.Load() }

// Evictions counts the entries evicted before their lifetime was over
// because the cache was full.
func (d *Dedup) Evictions() uint64 { return d.evictions.Load() }

// Duplicates counts the requests answered from the cache.
func (d *Dedup) Duplicates() uint64 { return d.duplicates.Load() }

// Len is the number of entries.
func (d *Dedup) Len() int {
	n := 0
	for i := range d.shards {
		s := &d.shards[i]
		s.mu.Lock()
		n += int(s.tail - s.head)
		s.mu.Unlock()
	}
	return n
}
