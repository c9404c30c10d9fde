// Package coaptx holds what both ends of a CoAP exchange over UDP need of
// RFC 7252's message layer: the transmission parameters and the times
// derived from them (4.8), the retransmission schedule of a confirmable
// message (4.2), and the encoding of the bare messages (empty ACK, Reset,
// piggy-backed answer without options) that need no codec.
package coaptx

import (
	"encoding/binary"
	"math/rand/v2"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
)

// Params are the transmission parameters of RFC 7252, 4.8.
type Params struct {
	// ACKTimeout is ACK_TIMEOUT: how long the first transmission of a
	// confirmable message waits for its acknowledgement.
	ACKTimeout time.Duration
	// MaxRetransmit is MAX_RETRANSMIT.
	MaxRetransmit int
	// RandomFactor is ACK_RANDOM_FACTOR; values below 1 mean 1 (no
	// randomness).
	RandomFactor float64
}

// Default are RFC 7252's parameters.
var Default = Params{ACKTimeout: 2 * time.Second, MaxRetransmit: 4, RandomFactor: 1.5}

// maxLatency is MAX_LATENCY (RFC 7252, 4.8.2).
const maxLatency = 100 * time.Second

func (p Params) factor() float64 { return max(p.RandomFactor, 1) }

// MaxTransmitSpan is MAX_TRANSMIT_SPAN: the longest time from the first
// transmission of a confirmable message to its last retransmission.
func (p Params) MaxTransmitSpan() time.Duration {
	return time.Duration(float64(p.ACKTimeout) * float64(int(1)<<p.MaxRetransmit-1) * p.factor())
}

// MaxTransmitWait is MAX_TRANSMIT_WAIT: the longest time from the first
// transmission of a confirmable message until the sender gives up on an
// acknowledgement.
func (p Params) MaxTransmitWait() time.Duration {
	return time.Duration(float64(p.ACKTimeout) * float64(int(1)<<(p.MaxRetransmit+1)-1) * p.factor())
}

// ExchangeLifetime is EXCHANGE_LIFETIME: how long a message ID must not be
// reused, and how long a receiver keeps the answer to a confirmable
// message for its duplicates (MAX_TRANSMIT_SPAN + 2 * MAX_LATENCY +
// PROCESSING_DELAY, with PROCESSING_DELAY = ACK_TIMEOUT).
func (p Params) ExchangeLifetime() time.Duration {
	return p.MaxTransmitSpan() + 2*maxLatency + p.ACKTimeout
}

// Backoff is the retransmission schedule of one confirmable message: the
// first wait is ACK_TIMEOUT times a random number between 1 and
// ACK_RANDOM_FACTOR, each next one twice the previous, MAX_RETRANSMIT
// retransmissions in all.
type Backoff struct {
	wait time.Duration
	left int
}

// Backoff starts the schedule of a message sent now.
func (p Params) Backoff() Backoff {
	f := 1 + (p.factor()-1)*rand.Float64()
	return Backoff{wait: time.Duration(float64(p.ACKTimeout) * f), left: p.MaxRetransmit}
}

// Wait is how long to wait for the acknowledgement of the transmission
// just made.
func (b *Backoff) Wait() time.Duration { return b.wait }

// Retransmit is called when Wait has passed without an acknowledgement:
// it reports whether to retransmit (and then doubles the next wait), or to
// give up.
func (b *Backoff) Retransmit() bool {
	if b.left <= 0 {
		return false
	}
	b.left--
	b.wait *= 2
	return true
}

// AppendEmpty appends a message without options or payload: an empty ACK
// or Reset (code Empty, no token), or a piggy-backed answer that needs
// only its code and the request's token. A token longer than 8 bytes is
// cut to 8.
func AppendEmpty(b []byte, typ message.Type, code codes.Code, mid uint16, token []byte) []byte {
	if len(token) > message.MaxTokenSize {
		token = token[:message.MaxTokenSize]
	}
	b = append(b, 1<<6|byte(typ)<<4|byte(len(token)), byte(code))
	b = binary.BigEndian.AppendUint16(b, mid)
	return append(b, token...)
}
