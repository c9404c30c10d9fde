package coapfront

import (
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/udp/coder"
	"golang.org/x/net/ipv4"

	"github.com/nbpair/nbpair/internal/coaptx"
)

// batchSize is the number of datagrams one read may return (recvmmsg on
// Linux; one elsewhere).
const batchSize = 16

// maxOptions bounds the options of a request; one with more is malformed.
const maxOptions = 64

// packet is a datagram waiting for a worker.
type packet struct {
	from  netip.AddrPort
	n     int
	small [smallDatagram]byte
	large []byte // a datagram larger than small
}

// data is the datagram.
func (pk *packet) data() []byte {
	if pk.large != nil {
		return pk.large
	}
	return pk.small[:pk.n]
}

// packetPool hands out at most limit packets, made when first needed,
// and at most maxLarge large buffers.
type packetPool struct {
	free  chan *packet
	made  atomic.Int64
	limit int64
	large atomic.Int64
}

func (p *packetPool) init(limit int) {
	p.free = make(chan *packet, limit)
	p.limit = int64(limit)
}

// get returns a packet, or nil if all are in use.
func (p *packetPool) get() *packet {
	select {
	case pk := <-p.free:
		return pk
	default:
	}
	if p.made.Add(1) > p.limit {
		p.made.Add(-1)
		return nil
	}
	return new(packet)
}

// fill copies datagram b into pk, or reports that too many large
// datagrams are waiting.
func (p *packetPool) fill(pk *packet, b []byte) bool {
	pk.n = len(b)
	if len(b) <= smallDatagram {
		copy(pk.small[:], b)
		return true
	}
	if p.large.Add(1) > maxLarge {
		p.large.Add(-1)
		return false
	}
	pk.large = append([]byte(nil), b...)
	return true
}

func (p *packetPool) put(pk *packet) {
	if pk.large != nil {
		pk.large = nil
		p.large.Add(-1)
	}
	p.free <- pk
}

// read reads datagrams in batches and queues them until the socket is
// closed.
func (f *Front) read() error {
	pc := ipv4.NewPacketConn(f.conn) // reads IPv6 sources too: the batch read is family-agnostic
	ms := make([]ipv4.Message, batchSize)
	for i := range ms {
		ms[i].Buffers = [][]byte{make([]byte, MaxDatagram+1)} // one more byte tells a cut datagram
	}
	for {
		n, err := pc.ReadBatch(ms, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || f.closed.Load() {
				return err
			}
			f.log.Debug("coap read", "err", err)
			continue
		}
		f.datagrams.Add(uint64(n))
		for i := range ms[:n] {
			f.enqueue(&ms[i])
		}
	}
}

// enqueue hands a datagram to the workers, or drops it when they are all
// busy and the queue is full.
func (f *Front) enqueue(m *ipv4.Message) {
	ua, ok := m.Addr.(*net.UDPAddr)
	if !ok {
		return
	}
	if m.N > MaxDatagram {
		f.droppedBad.Add(1)
		return
	}
	pk := f.pool.get()
	if pk == nil {
		f.droppedFull.Add(1)
		return
	}
	if !f.pool.fill(pk, m.Buffers[0][:m.N]) {
		f.pool.put(pk)
		f.droppedFull.Add(1)
		return
	}
	pk.from = netip.AddrPortFrom(addrOf(ua.IP), uint16(ua.Port))
	select {
	case f.queue <- pk:
	default: // cannot happen: the queue holds every packet the pool makes
		f.pool.put(pk)
		f.droppedFull.Add(1)
	}
}

// addrOf returns ip without the IPv4-in-IPv6 wrapping, so that a source
// has one key whatever the socket's family.
func addrOf(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}

// worker is one worker goroutine's reusable state.
type worker struct {
	f   *Front
	msg message.Message
	req Request
	out []byte
}

// work handles queued datagrams until the queue is closed.
func (f *Front) work() {
	w := &worker{f: f, out: make([]byte, 0, smallDatagram)} // grows for a larger response
	w.msg.Options = make(message.Options, 0, maxOptions)
	w.req.Msg = &w.msg
	for pk := range f.queue {
		w.handle(pk.from, pk.data())
		f.pool.put(pk)
	}
}

// handle decodes one datagram and answers it.
func (w *worker) handle(from netip.AddrPort, b []byte) {
	f := w.f
	if _, err := coder.DefaultCoder.Decode(b, &w.msg); err != nil {
		f.droppedBad.Add(1)
		w.reject(from, b)
		return
	}
	m := &w.msg
	switch {
	case m.Type == message.Acknowledgement || m.Type == message.Reset:
		f.ex.answered(from, m)
	case m.Code == codes.Empty:
		if m.Type == message.Confirmable { // a CoAP ping
			f.send(coaptx.AppendEmpty(w.out[:0], message.Reset, codes.Empty, uint16(m.MessageID), nil), from)
		}
	case m.Code >= 64: // a separate response to a downlink
		if m.Type == message.Confirmable {
			f.send(coaptx.AppendEmpty(w.out[:0], message.Acknowledgement, codes.Empty, uint16(m.MessageID), nil), from)
		}
		f.ex.separate(from, m)
	case m.Code >= 32: // a class-1 code: reserved, a format error (RFC 7252, 4.2 and 12.1)
		f.droppedBad.Add(1)
		w.reject(from, b)
	default:
		w.request(from)
	}
}

// reject answers a confirmable message that did not decode with a Reset
// (RFC 7252, 4.2), when its header is readable.
func (w *worker) reject(from netip.AddrPort, b []byte) {
	if len(b) >= 4 && b[0]>>6 == 1 && message.Type(b[0]>>4&3) == message.Confirmable {
		mid := uint16(b[2])<<8 | uint16(b[3])
		w.f.send(coaptx.AppendEmpty(w.out[:0], message.Reset, codes.Empty, mid, nil), from)
	}
}

// request answers a request, from the cache if it is a duplicate.
func (w *worker) request(from netip.AddrPort) {
	f, m := w.f, &w.msg
	mid := uint16(m.MessageID)
	status, out, t := f.dedup.Begin(from, mid, time.Now(), w.out[:0])
	switch status {
	case Duplicate:
		if len(out) > 0 {
			f.send(out, from)
		}
		return
	case InProgress:
		f.droppedPending.Add(1)
		return
	}
	w.req.From = from
	resp := f.h.ServeCoAP(f.ctx, &w.req)
	out = w.encode(resp)
	f.dedup.Finish(t, out)
	if len(out) > 0 {
		f.send(out, from)
	}
}

// encode encodes the response to the request in w.msg: piggy-backed on
// the ACK of a CON, a NON with a fresh message ID for a NON.
func (w *worker) encode(resp Response) []byte {
	if resp.Code == codes.Empty {
		return nil
	}
	m := &w.msg
	out := message.Message{Token: m.Token, Code: resp.Code, Options: resp.Options, Payload: resp.Payload,
		MessageID: m.MessageID, Type: message.Acknowledgement}
	if m.Type != message.Confirmable {
		out.Type, out.MessageID = message.NonConfirmable, int32(w.f.ex.nextMID())
	}
	n, err := coder.DefaultCoder.Encode(out, w.out[:cap(w.out)])
	if errors.Is(err, message.ErrTooSmall) && n <= MaxDatagram { // n is the size needed
		w.out = make([]byte, 0, n)
		n, err = coder.DefaultCoder.Encode(out, w.out[:n])
	}
	if err != nil {
		w.f.log.Error("encoding a response", "remote_addr", w.req.From.String(), "code", resp.Code.String(), "err", err)
		return coaptx.AppendEmpty(w.out[:0], out.Type, codes.InternalServerError, uint16(out.MessageID), m.Token)
	}
	return w.out[:n]
}

// send writes one datagram.
func (f *Front) send(b []byte, to netip.AddrPort) {
	if _, err := f.conn.WriteToUDPAddrPort(b, to); err != nil && !f.closed.Load() {
		f.log.Debug("coap write", "remote_addr", to.String(), "err", err)
	}
}
