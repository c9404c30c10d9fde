package coapfront

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/udp/coder"
)

// Errors of Exchange.
var (
	// ErrTimeout: no answer within the retransmission schedule (or, after
	// an empty ACK, within EXCHANGE_LIFETIME).
	ErrTimeout = errors.New("coap: no answer from the device")
	// ErrReset: the device answered with a Reset.
	ErrReset = errors.New("coap: the device answered with a Reset")
	// ErrBusy: too many downlinks are in flight.
	ErrBusy = errors.New("coap: too many downlinks in flight")
	// ErrClosed: the front was closed.
	ErrClosed = errors.New("coap: front closed")
)

// Reply is a device's answer to a downlink.
type Reply struct {
	Code    codes.Code
	Payload []byte // a copy
}

// exKey finds a downlink by where it went and its message ID.
type exKey struct {
	to  netip.AddrPort
	mid uint16
}

// exchange is one downlink in flight.
type exchange struct {
	key   exKey
	token uint64
	resp  chan Reply  // buffered 1; a Reset is a zero Reply
	acked atomic.Bool // an empty ACK came: a separate response follows
}

// exchanges are the downlinks in flight.
type exchanges struct {
	mu      sync.Mutex
	byMID   map[exKey]*exchange  // guarded by mu
	byToken map[uint64]*exchange // guarded by mu

	slots       chan struct{} // one per downlink in flight
	mid         atomic.Uint32
	inFlight    atomic.Int64
	retransmits atomic.Uint64
}

func (e *exchanges) init(maxInFlight int) {
	e.byMID, e.byToken = map[exKey]*exchange{}, map[uint64]*exchange{}
	e.slots = make(chan struct{}, maxInFlight)
	e.mid.Store(rand.Uint32())
}

// nextMID is a fresh message ID for a message the server initiates.
func (e *exchanges) nextMID() uint16 { return uint16(e.mid.Add(1)) }

// begin registers a downlink to to, or fails when too many are in flight.
func (e *exchanges) begin(to netip.AddrPort) (*exchange, error) {
	select {
	case e.slots <- struct{}{}:
	default:
		return nil, ErrBusy
	}
	e.inFlight.Add(1)
	ex := &exchange{resp: make(chan Reply, 1)}
	e.mu.Lock()
	defer e.mu.Unlock()
	for {
		ex.key, ex.token = exKey{to: to, mid: e.nextMID()}, rand.Uint64()
		if e.byMID[ex.key] == nil && e.byToken[ex.token] == nil {
			break
		}
	}
	e.byMID[ex.key], e.byToken[ex.token] = ex, ex
	return ex, nil
}

// end forgets a downlink.
func (e *exchanges) end(ex *exchange) {
	e.mu.Lock()
	delete(e.byMID, ex.key)
	delete(e.byToken, ex.token)
	e.mu.Unlock()
	e.inFlight.Add(-1)
	<-e.slots
}

// answered matches an ACK or a Reset to its downlink by source and
// message ID.
func (e *exchanges) answered(from netip.AddrPort, m *message.Message) {
	e.mu.Lock()
	ex := e.byMID[exKey{to: from, mid: uint16(m.MessageID)}]
	e.mu.Unlock()
	switch {
	case ex == nil: // late, duplicate, or not ours
	case m.Type == message.Reset:
		ex.deliver(Reply{})
	case m.Code == codes.Empty:
		ex.acked.Store(true)
	default:
		ex.deliver(replyOf(m))
	}
}

// separate matches a separate response to its downlink by token and
// source: it must come from where the downlink went (RFC 7252, 5.3.2).
func (e *exchanges) separate(from netip.AddrPort, m *message.Message) {
	if len(m.Token) != 8 {
		return
	}
	e.mu.Lock()
	ex := e.byToken[binary.BigEndian.Uint64(m.Token)]
	e.mu.Unlock()
	if ex != nil && ex.key.to == from {
		ex.deliver(replyOf(m))
	}
}

func replyOf(m *message.Message) Reply {
	return Reply{Code: m.Code, Payload: append([]byte(nil), m.Payload...)}
}

// deliver hands the first answer over; later ones are dropped.
func (ex *exchange) deliver(r Reply) {
	select {
	case ex.resp <- r:
	default:
	}
}

// Exchange sends a confirmable request to a device and returns its
// answer: piggy-backed on the ACK, or a separate response after an empty
// ACK. It retransmits as RFC 7252, 4.2 says, and stops at once when ctx
// is done.
func (f *Front) Exchange(ctx context.Context, to netip.AddrPort, code codes.Code, opts message.Options, payload []byte) (Reply, error) {
	ex, err := f.ex.begin(to)
	if err != nil {
		return Reply{}, err
	}
	defer f.ex.end(ex)
	var token [8]byte
	binary.BigEndian.PutUint64(token[:], ex.token)
	m := message.Message{Token: token[:], Options: opts, Code: code, Payload: payload,
		MessageID: int32(ex.key.mid), Type: message.Confirmable}
	size, err := coder.DefaultCoder.Size(m)
	if err != nil {
		return Reply{}, fmt.Errorf("encoding a request to %s: %w", to, err)
	}
	b := make([]byte, size)
	if _, err := coder.DefaultCoder.Encode(m, b); err != nil {
		return Reply{}, fmt.Errorf("encoding a request to %s: %w", to, err)
	}
	return f.transmit(ctx, ex, b)
}

// transmit sends b and retransmits it until the exchange is answered,
// given up, or ctx is done.
func (f *Front) transmit(ctx context.Context, ex *exchange, b []byte) (Reply, error) {
	to := ex.key.to
	f.send(b, to)
	backoff := f.cfg.Transmission.Backoff()
	timer := time.NewTimer(backoff.Wait())
	defer timer.Stop()
	waitingSeparate := false
	for {
		select {
		case r := <-ex.resp:
			if r.Code == codes.Empty {
				return r, ErrReset
			}
			return r, nil
		case <-ctx.Done():
			return Reply{}, ctx.Err()
		case <-f.ctx.Done():
			return Reply{}, ErrClosed
		case <-timer.C:
		}
		switch {
		case waitingSeparate:
			return Reply{}, ErrTimeout
		case ex.acked.Load():
			waitingSeparate = true
			timer.Reset(f.cfg.Transmission.ExchangeLifetime())
		case backoff.Retransmit():
			f.ex.retransmits.Add(1)
			f.send(b, to)
			timer.Reset(backoff.Wait())
		default:
			return Reply{}, ErrTimeout
		}
	}
}
