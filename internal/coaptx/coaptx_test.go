package coaptx

import (
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/udp/coder"
)

func TestDerivedTimes(t *testing.T) {
	tests := map[string]struct {
		p                      Params
		span, wait, exchangeLT time.Duration
	}{
		// RFC 7252, 4.8.2 lists 45 s, 93 s and 247 s for the defaults.
		"defaults": {Default, 45 * time.Second, 93 * time.Second, 247 * time.Second},
		"no randomness": {Params{ACKTimeout: time.Second, MaxRetransmit: 2},
			3 * time.Second, 7 * time.Second, 204 * time.Second},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.p.MaxTransmitSpan(); got != tc.span {
				t.Errorf("MaxTransmitSpan = %v, want %v", got, tc.span)
			}
			if got := tc.p.MaxTransmitWait(); got != tc.wait {
				t.Errorf("MaxTransmitWait = %v, want %v", got, tc.wait)
			}
			if got := tc.p.ExchangeLifetime(); got != tc.exchangeLT {
				t.Errorf("ExchangeLifetime = %v, want %v", got, tc.exchangeLT)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	p := Params{ACKTimeout: time.Second, MaxRetransmit: 3, RandomFactor: 1.5}
	for range 100 {
		b := p.Backoff()
		first := b.Wait()
		if first < time.Second || first > 1500*time.Millisecond {
			t.Fatalf("first wait %v outside [1 s, 1.5 s]", first)
		}
		for i := 1; i <= 3; i++ {
			if !b.Retransmit() {
				t.Fatalf("retransmission %d refused", i)
			}
			if b.Wait() != first<<i {
				t.Fatalf("wait after retransmission %d = %v, want %v", i, b.Wait(), first<<i)
			}
		}
		if b.Retransmit() {
			t.Fatal("a fourth retransmission with MAX_RETRANSMIT 3")
		}
	}
}

func TestAppendEmptyDecodes(t *testing.T) {
	b := AppendEmpty(nil, message.Acknowledgement, codes.Changed, 0xBEEF, []byte{1, 2, 3})
	var m message.Message
	if _, err := coder.DefaultCoder.Decode(b, &m); err != nil {
		t.Fatal(err)
	}
	if m.Type != message.Acknowledgement || m.Code != codes.Changed || m.MessageID != 0xBEEF || string(m.Token) != "\x01\x02\x03" {
		t.Fatalf("decoded %v", m)
	}
}
