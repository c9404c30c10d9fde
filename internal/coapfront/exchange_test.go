package coapfront

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"

	"github.com/nbpair/nbpair/internal/coaptx"
)

// fastTx retransmits quickly so that the tests see several transmissions.
var fastTx = coaptx.Params{ACKTimeout: 50 * time.Millisecond, MaxRetransmit: 4, RandomFactor: 1.5}

type result struct {
	r   Reply
	err error
}

// put starts a downlink PUT to p and returns where its result will come.
func put(ctx context.Context, f *Front, p *peer) <-chan result {
	ch := make(chan result, 1)
	go func() {
		r, err := f.Exchange(ctx, p.addr(), codes.PUT, message.Options{{ID: message.URIPath, Value: []byte("33050")}}, []byte("v"))
		ch <- result{r, err}
	}()
	return ch
}

func await(t *testing.T, ch <-chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(wait):
		t.Fatal("the exchange did not end")
		return result{}
	}
}

// The device ignores the first transmission and answers the first
// retransmission with a piggy-backed response.
func TestDownlinkRetransmitsAndMatchesTheACK(t *testing.T) {
	f := startFront(t, Config{Transmission: fastTx}, &countingHandler{})
	p := dialPeer(t, f)
	ch := put(context.Background(), f, p)
	first, m1 := p.recv(wait)
	again, m2 := p.recv(wait)
	if string(first) != string(again) || m1.Type != message.Confirmable || m1.Code != codes.PUT {
		t.Fatalf("retransmission %v differs from the first transmission %v", m2, m1)
	}
	p.send(coaptx.AppendEmpty(nil, message.Acknowledgement, codes.Changed, uint16(m1.MessageID), m1.Token))
	if r := await(t, ch); r.err != nil || r.r.Code != codes.Changed {
		t.Fatalf("exchange: %v, %v; want 2.04", r.r.Code, r.err)
	}
	if st := f.Stats(); st.Retransmissions < 1 || st.InFlight != 0 {
		t.Fatalf("stats %+v: want a retransmission and nothing in flight", st)
	}
}

// The device acknowledges at once and answers later with a confirmable
// separate response, which the front acknowledges and matches by token.
func TestDownlinkMatchesASeparateResponse(t *testing.T) {
	f := startFront(t, Config{Transmission: fastTx}, &countingHandler{})
	p := dialPeer(t, f)
	ch := put(context.Background(), f, p)
	_, m := p.recv(wait)
	p.send(coaptx.AppendEmpty(nil, message.Acknowledgement, codes.Empty, uint16(m.MessageID), nil))
	p.send(coaptx.AppendEmpty(nil, message.Confirmable, codes.Changed, 4242, m.Token))
	_, ack := p.recv(wait)
	for ack.Type == message.Confirmable && ack.MessageID == m.MessageID { // a retransmission sent before the ACK came
		_, ack = p.recv(wait)
	}
	if ack.Type != message.Acknowledgement || ack.MessageID != 4242 || ack.Code != codes.Empty {
		t.Fatalf("separate response acknowledged with %v, want an empty ACK of 4242", ack)
	}
	if r := await(t, ch); r.err != nil || r.r.Code != codes.Changed {
		t.Fatalf("exchange: %v, %v; want 2.04", r.r.Code, r.err)
	}
}

// A separate response that carries the downlink's token but comes from
// another endpoint is not the device's answer (RFC 7252, 5.3.2).
func TestDownlinkSeparateResponseFromElsewhereIgnored(t *testing.T) {
	f := startFront(t, Config{Transmission: fastTx}, &countingHandler{})
	p, other := dialPeer(t, f), dialPeer(t, f)
	ch := put(context.Background(), f, p)
	_, m := p.recv(wait)
	p.send(coaptx.AppendEmpty(nil, message.Acknowledgement, codes.Empty, uint16(m.MessageID), nil))
	other.send(coaptx.AppendEmpty(nil, message.Confirmable, codes.Forbidden, 4241, m.Token))
	other.recv(wait) // the front's ACK: the response was handled
	select {
	case r := <-ch:
		t.Fatalf("a response from %v ended the exchange to %v: %v, %v", other.addr(), p.addr(), r.r.Code, r.err)
	default:
	}
	p.send(coaptx.AppendEmpty(nil, message.NonConfirmable, codes.Changed, 4242, m.Token))
	if r := await(t, ch); r.err != nil || r.r.Code != codes.Changed {
		t.Fatalf("exchange: %v, %v; want the device's 2.04", r.r.Code, r.err)
	}
}

func TestDownlinkReset(t *testing.T) {
	f := startFront(t, Config{Transmission: fastTx}, &countingHandler{})
	p := dialPeer(t, f)
	ch := put(context.Background(), f, p)
	_, m := p.recv(wait)
	p.send(coaptx.AppendEmpty(nil, message.Reset, codes.Empty, uint16(m.MessageID), nil))
	if r := await(t, ch); !errors.Is(r.err, ErrReset) {
		t.Fatalf("exchange error %v, want ErrReset", r.err)
	}
}

// A device that never answers gets the first transmission and
// MAX_RETRANSMIT retransmissions, then the exchange times out.
func TestDownlinkGivesUp(t *testing.T) {
	tx := coaptx.Params{ACKTimeout: 10 * time.Millisecond, MaxRetransmit: 2}
	f := startFront(t, Config{Transmission: tx}, &countingHandler{})
	p := dialPeer(t, f)
	ch := put(context.Background(), f, p)
	for range 1 + tx.MaxRetransmit {
		p.recv(wait)
	}
	if r := await(t, ch); !errors.Is(r.err, ErrTimeout) {
		t.Fatalf("exchange error %v, want ErrTimeout", r.err)
	}
	if _, _, err := p.tryRecv(20 * tx.ACKTimeout); err == nil {
		t.Fatal("a transmission after MAX_RETRANSMIT")
	}
}

// Cancelling the context ends the exchange at once and no retransmission
// follows.
func TestDownlinkCancel(t *testing.T) {
	f := startFront(t, Config{Transmission: fastTx}, &countingHandler{})
	p := dialPeer(t, f)
	ctx, cancel := context.WithCancel(context.Background())
	ch := put(ctx, f, p)
	p.recv(wait)
	cancel()
	if r := await(t, ch); !errors.Is(r.err, context.Canceled) {
		t.Fatalf("exchange error %v, want context.Canceled", r.err)
	}
	st := f.Stats()
	if st.InFlight != 0 {
		t.Fatal("a cancelled exchange is still in flight")
	}
	// Every transmission the device gets was sent before the exchange
	// ended (a retransmission may have raced the cancellation); the
	// schedule would have sent more within 50+100+200+400 ms.
	got := 1
	for {
		if _, _, err := p.tryRecv(20 * fastTx.ACKTimeout); err != nil {
			break
		}
		got++
	}
	if want := 1 + int(st.Retransmissions); got != want {
		t.Fatalf("the device got %d transmissions, %d were sent before cancellation", got, want)
	}
}

func TestDownlinksInFlightAreBounded(t *testing.T) {
	f := startFront(t, Config{Transmission: fastTx, MaxInFlight: 1}, &countingHandler{})
	p := dialPeer(t, f)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := put(ctx, f, p)
	p.recv(wait)
	if r := await(t, put(ctx, f, p)); !errors.Is(r.err, ErrBusy) {
		t.Fatalf("second exchange: %v, want ErrBusy", r.err)
	}
	cancel()
	await(t, ch)
}
