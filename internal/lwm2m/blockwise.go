package lwm2m

import (
	"container/list"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/prometheus/client_golang/prometheus"
)

// Block1Config bounds the block-wise requests (RFC 7959 Block1) that the
// plain front reassembles. Zero fields take the defaults.
type Block1Config struct {
	// MaxPayload is the largest reassembled payload; a larger one is
	// refused with 4.13 and a Size1 option.
	MaxPayload int
	// MaxBytes caps the memory of all partial transfers together.
	MaxBytes int
	// MaxTransfers caps the partial transfers kept at once.
	MaxTransfers int
	// Lifetime is how long a partial transfer waits for its next block
	// (EXCHANGE_LIFETIME when zero).
	Lifetime time.Duration
}

// Defaults of Block1Config.
const (
	DefaultBlock1MaxPayload   = 8 << 10
	DefaultBlock1MaxBytes     = 4 << 20
	DefaultBlock1MaxTransfers = 1024
)

// transferOverhead is what one partial transfer costs besides its
// payload and key: the map entry, the list element and the struct.
const transferOverhead = 160

// block1 is a decoded Block1 option (RFC 7959, 2.2).
type block1 struct {
	num  uint32
	more bool
	szx  uint8 // the block size is 1 << (szx+4)
}

// size is the block size in bytes.
func (b block1) size() int { return 1 << (b.szx + 4) }

// encode returns the option's value in as few bytes as it takes.
func (b block1) encode() []byte {
	v := b.num<<4 | uint32(b.szx)
	if b.more {
		v |= 8
	}
	switch {
	case v == 0:
		return []byte{}
	case v < 1<<8:
		return []byte{byte(v)}
	case v < 1<<16:
		return []byte{byte(v >> 8), byte(v)}
	default:
		return []byte{byte(v >> 16), byte(v >> 8), byte(v)}
	}
}

// Errors of parseBlock1.
var (
	errBlock1Length = errors.New("a Block1 option is 0 to 3 bytes long")
	errBlock1SZX    = errors.New("Block1 SZX 7 is reserved")
)

// parseBlock1 decodes a Block1 option's value: 0 to 3 bytes, SZX 7
// reserved (RFC 7959, 2.2).
func parseBlock1(v []byte) (block1, error) {
	if len(v) > 3 {
		return block1{}, errBlock1Length
	}
	var u uint32
	for _, c := range v {
		u = u<<8 | uint32(c)
	}
	b := block1{num: u >> 4, more: u&8 != 0, szx: uint8(u & 7)}
	if b.szx == 7 {
		return block1{}, errBlock1SZX
	}
	return b, nil
}

// transferKey identifies a block-wise request: its source and what RFC
// 7959 (2.4) says the blocks of one request share, the method and the
// request URI. The token may change from block to block.
type transferKey struct {
	from netip.AddrPort
	code codes.Code
	uri  string // Uri-Path and Uri-Query options, each prefixed with its option number
}

// transfer is a partial block-wise request.
type transfer struct {
	key      transferKey
	payload  []byte
	last     block1 // the last block received
	blocks   int
	deadline time.Time
	elem     *list.Element
}

// cost is what the transfer counts against MaxBytes.
func (t *transfer) cost() int { return transferOverhead + len(t.key.uri) + cap(t.payload) }

// blockStep is what the table decided about one block.
type blockStep struct {
	code    codes.Code // 0: the request is complete and payload holds it
	payload []byte
	diag    string
}

// block1Table holds the partial transfers, bounded in entries and bytes,
// oldest first so that expiry is a walk from the front.
type block1Table struct {
	cfg Block1Config

	mu      sync.Mutex
	byKey   map[transferKey]*transfer // guarded by mu
	order   list.List                 // guarded by mu; of *transfer, by deadline
	bytes   atomic.Int64              // written under mu
	entries atomic.Int64              // written under mu

	refused    atomic.Int64 // transfers refused because the table was full
	incomplete atomic.Int64 // blocks answered 4.08
	tooLarge   atomic.Int64 // transfers answered 4.13
	completed  atomic.Int64 // transfers reassembled
}

func newBlock1Table(cfg Block1Config, lifetime time.Duration) *block1Table {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&cfg.MaxPayload, DefaultBlock1MaxPayload)
	def(&cfg.MaxBytes, DefaultBlock1MaxBytes)
	def(&cfg.MaxTransfers, DefaultBlock1MaxTransfers)
	if cfg.Lifetime <= 0 {
		cfg.Lifetime = lifetime
	}
	return &block1Table{cfg: cfg, byKey: make(map[transferKey]*transfer)}
}

// keyOf returns the transfer key of a request.
func keyOf(from netip.AddrPort, m *message.Message) transferKey {
	var sb strings.Builder
	for _, o := range m.Options {
		if o.ID == message.URIPath || o.ID == message.URIQuery {
			sb.WriteByte(byte(o.ID))
			sb.Write(o.Value)
			sb.WriteByte(0)
		}
	}
	return transferKey{from: from, code: m.Code, uri: sb.String()}
}

// add takes one block of the request key and says whether to answer
// 2.31 Continue, an error, or to handle the reassembled request. size1 is
// the request's Size1 option, -1 when absent.
func (tb *block1Table) add(now time.Time, key transferKey, b block1, payload []byte, size1 int) blockStep {
	if size1 > tb.cfg.MaxPayload {
		tb.drop(key)
		tb.tooLarge.Add(1)
		return blockStep{code: codes.RequestEntityTooLarge, diag: "payload too large"}
	}
	if b.more && len(payload) != b.size() {
		tb.drop(key)
		return blockStep{code: codes.BadRequest, diag: "a block before the last must be as large as its size"}
	}
	if len(payload) > b.size() {
		tb.drop(key)
		return blockStep{code: codes.BadRequest, diag: "block larger than its size"}
	}
	if b.num == 0 {
		return tb.first(now, key, b, payload)
	}
	return tb.next(now, key, b, payload)
}

// first starts a transfer, replacing one of the same key.
func (tb *block1Table) first(now time.Time, key transferKey, b block1, payload []byte) blockStep {
	tb.drop(key)
	if !b.more { // the whole request in one block
		return blockStep{payload: payload}
	}
	if len(payload) > tb.cfg.MaxPayload {
		tb.tooLarge.Add(1)
		return blockStep{code: codes.RequestEntityTooLarge, diag: "payload too large"}
	}
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.expireLocked(now)
	t := &transfer{key: key, last: b, blocks: 1, deadline: now.Add(tb.cfg.Lifetime)}
	t.payload = append(make([]byte, 0, max(len(payload), min(2*len(payload), tb.cfg.MaxPayload))), payload...)
	if int(tb.entries.Load()) >= tb.cfg.MaxTransfers || int(tb.bytes.Load())+t.cost() > tb.cfg.MaxBytes {
		tb.refused.Add(1)
		return blockStep{code: codes.ServiceUnavailable, diag: "too many block-wise requests in progress; send the request in one datagram or retry later"}
	}
	t.elem = tb.order.PushBack(t)
	tb.byKey[key] = t
	tb.entries.Add(1)
	tb.bytes.Add(int64(t.cost()))
	return blockStep{code: codes.Continue}
}

// next appends a block to its transfer, or refuses it.
func (tb *block1Table) next(now time.Time, key transferKey, b block1, payload []byte) blockStep {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.expireLocked(now)
	t := tb.byKey[key]
	if t == nil {
		tb.incomplete.Add(1)
		return blockStep{code: codes.RequestEntityIncomplete, diag: "no block-wise request to continue; start again from block 0"}
	}
	if b == t.last {
		return blockStep{code: codes.Continue} // the last block again, after the duplicate cache forgot it
	}
	offset := uint64(b.num) * uint64(b.size())
	shrink := b.szx < t.last.szx && t.blocks == 1 // RFC 7959, 2.3: only as the client's second message
	if (b.szx != t.last.szx && !shrink) || offset != uint64(len(t.payload)) {
		tb.removeLocked(t)
		tb.incomplete.Add(1)
		return blockStep{code: codes.RequestEntityIncomplete, diag: "block out of order; start again from block 0"}
	}
	if len(t.payload)+len(payload) > tb.cfg.MaxPayload {
		tb.removeLocked(t)
		tb.tooLarge.Add(1)
		return blockStep{code: codes.RequestEntityTooLarge, diag: "payload too large"}
	}
	if !b.more {
		body := append(t.payload, payload...)
		tb.removeLocked(t)
		tb.completed.Add(1)
		return blockStep{payload: body}
	}
	return tb.appendLocked(now, t, b, payload)
}

// appendLocked appends a non-final block, within MaxBytes.
func (tb *block1Table) appendLocked(now time.Time, t *transfer, b block1, payload []byte) blockStep {
	before := t.cost()
	if len(t.payload)+len(payload) > cap(t.payload) {
		grown := min(max(2*cap(t.payload), len(t.payload)+len(payload)), tb.cfg.MaxPayload)
		if int(tb.bytes.Load())-cap(t.payload)+grown > tb.cfg.MaxBytes {
			tb.removeLocked(t)
			tb.refused.Add(1)
			return blockStep{code: codes.ServiceUnavailable, diag: "too many block-wise requests in progress; retry later"}
		}
		t.payload = append(make([]byte, 0, grown), t.payload...)
	}
	t.payload = append(t.payload, payload...)
	t.last, t.blocks, t.deadline = b, t.blocks+1, now.Add(tb.cfg.Lifetime)
	tb.order.MoveToBack(t.elem)
	tb.bytes.Add(int64(t.cost() - before))
	return blockStep{code: codes.Continue}
}

// drop forgets the transfer of key, if any.
func (tb *block1Table) drop(key transferKey) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if t := tb.byKey[key]; t != nil {
		tb.removeLocked(t)
	}
}

func (tb *block1Table) removeLocked(t *transfer) {
	tb.order.Remove(t.elem)
	delete(tb.byKey, t.key)
	tb.entries.Add(-1)
	tb.bytes.Add(-int64(t.cost()))
}

// expire forgets the transfers whose next block is overdue, so that the
// gauges do not count them while no block comes.
func (tb *block1Table) expire(now time.Time) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.expireLocked(now)
}

// expireLocked forgets the transfers whose next block is overdue.
func (tb *block1Table) expireLocked(now time.Time) {
	for e := tb.order.Front(); e != nil; e = tb.order.Front() {
		t := e.Value.(*transfer)
		if now.Before(t.deadline) {
			return
		}
		tb.removeLocked(t)
	}
}

// Block1Stats are the counters of block-wise reassembly.
type Block1Stats struct {
	InProgress int64 // partial transfers kept
	Bytes      int64 // their accounted size
	Refused    int64 // transfers refused with 5.03 because the table was full
	Incomplete int64 // blocks refused with 4.08
	TooLarge   int64 // transfers refused with 4.13
	Completed  int64 // requests reassembled from more than one block
}

func (tb *block1Table) stats() Block1Stats {
	tb.expire(time.Now())
	return Block1Stats{InProgress: tb.entries.Load(), Bytes: tb.bytes.Load(), Refused: tb.refused.Load(),
		Incomplete: tb.incomplete.Load(), TooLarge: tb.tooLarge.Load(), Completed: tb.completed.Load()}
}

// register puts the counters on reg as nbpair_coap_block1_* metrics.
func (tb *block1Table) register(reg prometheus.Registerer) error {
	gauge := func(name, help string, v *atomic.Int64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 {
			tb.expire(time.Now())
			return float64(v.Load())
		})
	}
	const ended = "nbpair_coap_block1_ended_total"
	const endedHelp = "Block-wise (Block1) requests on plain CoAP that ended, by result."
	counter := func(result string, v *atomic.Int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: ended, Help: endedHelp,
			ConstLabels: prometheus.Labels{"result": result}}, func() float64 { return float64(v.Load()) })
	}
	for _, col := range []prometheus.Collector{
		gauge("nbpair_coap_block1_in_progress", "Block-wise (Block1) requests on plain CoAP being reassembled.", &tb.entries),
		gauge("nbpair_coap_block1_bytes", "Accounted memory of the Block1 requests being reassembled.", &tb.bytes),
		counter("completed", &tb.completed),
		counter("refused", &tb.refused),
		counter("incomplete", &tb.incomplete),
		counter("too_large", &tb.tooLarge),
	} {
		if err := reg.Register(col); err != nil {
			return err
		}
	}
	return nil
}
