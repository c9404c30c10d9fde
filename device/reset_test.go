package device

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"

	"github.com/nbpair/nbpair/internal/testkit"
	"github.com/nbpair/nbpair/internal/wire"
)

// decodeSend decodes the SenML of a Send the fake server saw.
func decodeSend(t *testing.T, r request) []wire.SenMLRecord {
	t.Helper()
	var records []wire.SenMLRecord
	var err error
	switch r.format {
	case wire.FormatSenMLCBOR:
		records, err = wire.DecodeSenMLCBOR([]byte(r.payload))
	case wire.FormatSenMLJSON:
		records, err = wire.DecodeSenMLJSON([]byte(r.payload))
	default:
		t.Fatalf("Send has content format %d, want SenML", r.format)
	}
	if err != nil {
		t.Fatalf("Send payload %q does not decode: %v", r.payload, err)
	}
	return records
}

func TestRequestReset(t *testing.T) {
	tests := map[string]struct {
		cfg        Config
		kind       ResetKind
		wantFormat int
		wantEvent  string
	}{
		"normal reset in SenML CBOR": {
			kind:       ResetNormal,
			wantFormat: wire.FormatSenMLCBOR,
			wantEvent:  "asked the server for a normal reset (unbind, keep data); state: reset requested",
		},
		"factory reset in SenML JSON": {
			cfg:        Config{SenMLJSON: true},
			kind:       ResetFactory,
			wantFormat: wire.FormatSenMLJSON,
			wantEvent:  "asked the server for a factory reset (unbind, erase data); state: reset requested",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			srv := startFakeServer(t)
			d := startDevice(t, srv, tt.cfg)
			bound := wire.PairingState{DeviceID: "dev_1", State: wire.BindBound, OwnerUID: "u_1", HomeID: "h_1", BoundAt: time.Unix(1700000000, 0).UTC()}
			if code, _, _ := srv.send(codes.PUT, "/33050/0", wire.FormatTLV, wire.EncodePairingTLV(bound)); code != codes.Changed {
				t.Fatalf("Write of the bound state answered %v", code)
			}
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			if err := d.RequestReset(ctx, tt.kind); err != nil {
				t.Fatalf("RequestReset() = %v", err)
			}

			sends := srv.seen(codes.POST, "/dp")
			if len(sends) != 1 {
				t.Fatalf("server saw %d Sends, want 1", len(sends))
			}
			r := sends[0]
			if r.typ != message.Confirmable || r.format != tt.wantFormat {
				t.Errorf("Send is %v with content format %d, want CON with %d", r.typ, r.format, tt.wantFormat)
			}
			if kind, ok, err := wire.ResetRequest(decodeSend(t, r)); kind != tt.kind || !ok || err != nil {
				t.Errorf("ResetRequest(payload) = %v, %v, %v; want %v", kind, ok, err, tt.kind)
			}
			want := bound
			want.State = wire.BindResetRequested
			if got := d.Pairing(); !samePairing(got, want) {
				t.Errorf("Pairing() = %+v, want %+v", got, want)
			}
			testkit.Eventually(t, "reset requested event", func() bool { return d.events.count(EventResetRequested) == 1 })
			if e, _ := d.events.last(EventResetRequested); e.String() != tt.wantEvent || e.Reset != tt.kind {
				t.Errorf("event = %q (reset %v), want %q", e, e.Reset, tt.wantEvent)
			}

			// The server unbinds the device and writes the new state.
			unbound := wire.PairingState{DeviceID: "dev_1"}
			if code, _, _ := srv.send(codes.PUT, "/33050/0", wire.FormatTLV, wire.EncodePairingTLV(unbound)); code != codes.Changed {
				t.Fatalf("Write of the unbound state answered %v", code)
			}
			if got := d.Pairing(); !samePairing(got, unbound) {
				t.Errorf("Pairing() after the server's Write = %+v, want %+v", got, unbound)
			}
		})
	}
}

func TestRequestResetRefused(t *testing.T) {
	srv := startFakeServer(t)
	d := startDevice(t, srv, Config{})
	srv.answerSend(codes.NotFound)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	err := d.RequestReset(ctx, ResetFactory)
	var re *ResponseError
	if !errors.As(err, &re) || re.Op != "send" || re.Code != codes.NotFound {
		t.Fatalf("RequestReset() = %v, want a 4.04 *ResponseError of send", err)
	}
	if !strings.Contains(err.Error(), "send refused: 4.04") {
		t.Errorf("error text %q", err)
	}
	if got := d.Pairing().State; got != wire.BindUnbound {
		t.Errorf("bind state after a refused reset = %v, want it back to %v", got, wire.BindUnbound)
	}
	if n := d.events.count(EventResetRequested); n != 0 {
		t.Errorf("%d reset requested events after a refusal", n)
	}

	// Any 2.xx is success.
	srv.answerSend(codes.Created)
	if err := d.RequestReset(ctx, ResetNormal); err != nil {
		t.Fatalf("RequestReset() answered 2.01 = %v", err)
	}
	if got := d.Pairing().State; got != wire.BindResetRequested {
		t.Errorf("bind state = %v, want reset requested", got)
	}
}

func TestRequestResetWakesSleepingDevice(t *testing.T) {
	srv := startFakeServer(t)
	d := startDevice(t, srv, Config{QueueMode: true, AwakeTime: 20 * time.Millisecond, SleepTime: time.Hour, Lifetime: 24 * time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if _, err := d.Wait(ctx, func(s Status) bool { return !s.Awake }); err != nil {
		t.Fatalf("device did not fall asleep: %v", err)
	}
	if err := d.RequestReset(ctx, ResetFactory); err != nil {
		t.Fatalf("RequestReset() = %v", err)
	}
	updates, sends := srv.seen(codes.POST, "/rd/1"), srv.seen(codes.POST, "/dp")
	if len(updates) != 1 || len(sends) != 1 {
		t.Fatalf("server saw %d Updates and %d Sends, want 1 each", len(updates), len(sends))
	}
	if reg := srv.registers()[0]; updates[0].remote == reg.remote {
		t.Errorf("the Update came from the Register's address %s; want a new socket", reg.remote)
	}
	if sends[0].remote != updates[0].remote {
		t.Errorf("the Send came from %s, the Update from %s; want the same socket", sends[0].remote, updates[0].remote)
	}
	if kind, ok, _ := wire.ResetRequest(decodeSend(t, sends[0])); kind != ResetFactory || !ok {
		t.Errorf("Send asks for %v (%v), want a factory reset", kind, ok)
	}
	if got := d.Pairing().State; got != wire.BindResetRequested {
		t.Errorf("bind state = %v, want reset requested", got)
	}
	testkit.Eventually(t, "waking and reset requested events", func() bool {
		return d.events.count(EventWaking) == 1 && d.events.count(EventResetRequested) == 1
	})
}

func TestRequestResetRefusedArguments(t *testing.T) {
	srv := startFakeServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()

	c, err := New(Config{Server: srv.url(), IMEI: testIMEI})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.RequestReset(ctx, ResetNormal); !errors.Is(err, ErrNotRunning) {
		t.Errorf("RequestReset() before Run = %v, want ErrNotRunning", err)
	}

	d := startDevice(t, srv, Config{})
	if err := d.RequestReset(ctx, 3); err == nil || !strings.Contains(err.Error(), "not a reset kind") {
		t.Errorf("RequestReset(3) = %v, want an error about the kind", err)
	}
	stock := startDevice(t, srv, Config{WithoutPairingObject: true, IMEI: "356938035643809"})
	if err := stock.RequestReset(ctx, ResetNormal); !errors.Is(err, ErrNoPairingObject) {
		t.Errorf("RequestReset() without the Pairing object = %v, want ErrNoPairingObject", err)
	}
	if n := len(srv.seen(codes.POST, "/dp")); n != 0 {
		t.Errorf("server saw %d Sends, want none", n)
	}
}

// TestRequestResetServerWritesFirst checks that a Write of the server that
// arrives before its answer to the Send is not undone when the Send fails.
func TestRequestResetServerWritesFirst(t *testing.T) {
	srv := startFakeServer(t)
	d := startDevice(t, srv, Config{})
	undo := d.markResetRequested()
	unbound := wire.PairingState{DeviceID: "dev_9"}
	if code, _, _ := srv.send(codes.PUT, "/33050/0", wire.FormatTLV, wire.EncodePairingTLV(unbound)); code != codes.Changed {
		t.Fatalf("Write answered %v", code)
	}
	undo()
	if got := d.Pairing(); !samePairing(got, unbound) {
		t.Errorf("Pairing() = %+v, want the server's %+v", got, unbound)
	}
}
