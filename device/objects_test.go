package device

import (
	"context"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message/codes"

	"github.com/nbpair/nbpair/internal/testkit"
	"github.com/nbpair/nbpair/internal/wire"
)

const (
	tlv  = wire.FormatTLV
	text = wire.FormatText
)

func TestServerWritesPairing(t *testing.T) {
	srv := startFakeServer(t)
	d := startDevice(t, srv, Config{})

	written := wire.PairingState{DeviceID: "dev_1", State: wire.BindUnbound}
	if code, _, body := srv.send(codes.PUT, "/33050/0", tlv, wire.EncodePairingTLV(written)); code != codes.Changed {
		t.Fatalf("Write device ID = %v %s, want 2.04", code, body)
	}
	if got := d.Pairing(); got != written {
		t.Errorf("Pairing() = %+v, want %+v", got, written)
	}
	testkit.Eventually(t, "device ID event", func() bool { return d.events.count(EventPairingChanged) == 1 })
	e, _ := d.events.last(EventPairingChanged)
	if want := "device ID dev_1 written by server; state: registered, not bound"; e.String() != want {
		t.Errorf("event = %q, want %q", e, want)
	}

	// A partial update (POST) keeps the device ID.
	boundAt := time.Unix(1767225600, 0).UTC()
	bind := wire.AppendTLV(nil,
		wire.TLVInt(wire.PairingResBindState, int64(wire.BindBound)),
		wire.TLVString(wire.PairingResOwnerUID, "u_1"),
		wire.TLVString(wire.PairingResHomeID, "h_1"),
		wire.TLVInt(wire.PairingResBoundAt, boundAt.Unix()),
	)
	if code, _, body := srv.send(codes.POST, "/33050/0", tlv, bind); code != codes.Changed {
		t.Fatalf("Write bind = %v %s, want 2.04", code, body)
	}
	want := wire.PairingState{DeviceID: "dev_1", State: wire.BindBound, OwnerUID: "u_1", HomeID: "h_1", BoundAt: boundAt}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	st, err := d.Wait(ctx, func(s Status) bool { return s.Pairing.State == wire.BindBound })
	if err != nil || st.Pairing != want {
		t.Fatalf("Wait(bound) = %+v, %v; want %+v", st.Pairing, err, want)
	}
	testkit.Eventually(t, "bound event", func() bool { return d.events.count(EventPairingChanged) == 2 })
	e, _ = d.events.last(EventPairingChanged)
	if want := "bound to owner u_1 in home h_1"; e.String() != want {
		t.Errorf("event = %q, want %q", e, want)
	}

	// Read it back as the server would.
	code, cf, body := srv.send(codes.GET, "/33050/0", noFormat, nil)
	if code != codes.Content || cf != tlv {
		t.Fatalf("Read /33050/0 = %v format %d", code, cf)
	}
	if got, err := wire.ApplyPairingTLV(wire.PairingState{}, body); err != nil || got != want {
		t.Errorf("Read /33050/0 decodes to %+v, %v; want %+v", got, err, want)
	}

	// Writing the same state again is no change.
	srv.send(codes.POST, "/33050/0", tlv, bind)
	if n := d.events.count(EventPairingChanged); n != 2 {
		t.Errorf("%d pairing events after an idempotent Write, want 2", n)
	}
}

func TestServerWritesSingleResource(t *testing.T) {
	srv := startFakeServer(t)
	d := startDevice(t, srv, Config{})
	if code, _, body := srv.send(codes.PUT, "/33050/0/0", text, []byte("dev_9")); code != codes.Changed {
		t.Fatalf("text Write = %v %s", code, body)
	}
	if code, _, body := srv.send(codes.PUT, "/33050/0/1", tlv, wire.AppendTLV(nil, wire.TLVInt(1, 2))); code != codes.Changed {
		t.Fatalf("TLV Write = %v %s", code, body)
	}
	want := wire.PairingState{DeviceID: "dev_9", State: wire.BindResetRequested}
	if got := d.Pairing(); got != want {
		t.Errorf("Pairing() = %+v, want %+v", got, want)
	}
	if code, cf, body := srv.send(codes.GET, "/33050/0/1", noFormat, nil); code != codes.Content || cf != text || string(body) != "2" {
		t.Errorf("Read /33050/0/1 = %v format %d %q, want 2.05 text \"2\"", code, cf, body)
	}
}

func TestServerReadsObjects(t *testing.T) {
	srv := startFakeServer(t)
	startDevice(t, srv, Config{QueueMode: true, Lifetime: 120 * time.Second, AwakeTime: time.Minute})

	code, cf, body := srv.send(codes.GET, "/3/0", noFormat, nil)
	if code != codes.Content || cf != tlv {
		t.Fatalf("Read /3/0 = %v format %d", code, cf)
	}
	got := resourceStrings(t, body)
	want := map[uint16]string{0: DefaultManufacturer, 1: DefaultModel, 2: testIMEI, 3: DefaultFirmwareVersion}
	for id, v := range want {
		if got[id] != v {
			t.Errorf("/3/0/%d = %q, want %q", id, got[id], v)
		}
	}

	code, cf, body = srv.send(codes.GET, "/3/0/2", noFormat, nil)
	if code != codes.Content || cf != text || string(body) != testIMEI {
		t.Errorf("Read /3/0/2 = %v format %d %q, want the IMEI as text", code, cf, body)
	}

	code, _, body = srv.send(codes.GET, "/1/0", tlv, nil)
	if code != codes.Content {
		t.Fatalf("Read /1/0 = %v", code)
	}
	entries, err := wire.DecodeTLV(body)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		switch e.ID {
		case 1:
			if n, _ := e.Int(); n != 120 {
				t.Errorf("lifetime resource = %d, want 120", n)
			}
		case 7:
			if string(e.Value) != "UQ" {
				t.Errorf("binding resource = %q, want UQ", e.Value)
			}
		}
	}

	code, _, body = srv.send(codes.GET, "/3", noFormat, nil)
	entries, err = wire.DecodeTLV(body)
	if code != codes.Content || err != nil || len(entries) != 1 || entries[0].Kind != wire.TLVObjectInstance {
		t.Errorf("Read /3 = %v, %+v, %v; want one object instance", code, entries, err)
	}
}

// resourceStrings decodes a TLV instance into resource ID → string value.
func resourceStrings(t *testing.T, body []byte) map[uint16]string {
	t.Helper()
	entries, err := wire.DecodeTLV(body)
	if err != nil {
		t.Fatalf("DecodeTLV: %v", err)
	}
	out := map[uint16]string{}
	for _, e := range entries {
		if e.Kind != wire.TLVResource {
			t.Fatalf("entry %d is of kind %d, want a resource", e.ID, e.Kind)
		}
		out[e.ID] = string(e.Value)
	}
	return out
}

func TestServerRequestRefused(t *testing.T) {
	tests := map[string]struct {
		cfg     Config
		method  codes.Code
		path    string
		format  int
		payload []byte
		want    codes.Code
	}{
		"bad TLV":                    {method: codes.PUT, path: "/33050/0", format: tlv, payload: []byte{0xc8, 0x00, 0x20}, want: codes.BadRequest},
		"unknown pairing resource":   {method: codes.POST, path: "/33050/0", format: tlv, payload: wire.AppendTLV(nil, wire.TLVString(9, "x")), want: codes.BadRequest},
		"wrong resource in TLV":      {method: codes.PUT, path: "/33050/0/0", format: tlv, payload: wire.AppendTLV(nil, wire.TLVString(2, "x")), want: codes.BadRequest},
		"text integer not a number":  {method: codes.PUT, path: "/33050/0/1", format: text, payload: []byte("one"), want: codes.BadRequest},
		"no content format":          {method: codes.PUT, path: "/33050/0", format: tlv, want: codes.BadRequest},
		"unknown object":             {method: codes.GET, path: "/5/0", format: noFormat, want: codes.NotFound},
		"unknown instance":           {method: codes.GET, path: "/3/1", format: noFormat, want: codes.NotFound},
		"unknown resource":           {method: codes.GET, path: "/3/0/99", format: noFormat, want: codes.NotFound},
		"not an object path":         {method: codes.GET, path: "/bs", format: noFormat, want: codes.NotFound},
		"write unknown instance":     {method: codes.PUT, path: "/33050/1", format: tlv, payload: []byte{}, want: codes.NotFound},
		"text to an instance":        {method: codes.PUT, path: "/33050/0", format: text, payload: []byte("x"), want: codes.UnsupportedMediaType},
		"JSON":                       {method: codes.PUT, path: "/33050/0", format: 50, payload: []byte("{}"), want: codes.UnsupportedMediaType},
		"read instance as text":      {method: codes.GET, path: "/3/0", format: text, want: codes.NotAcceptable},
		"delete":                     {method: codes.DELETE, path: "/33050/0", format: noFormat, want: codes.MethodNotAllowed},
		"write read-only object":     {method: codes.PUT, path: "/3/0", format: tlv, payload: wire.AppendTLV(nil, wire.TLVString(0, "x")), want: codes.MethodNotAllowed},
		"execute":                    {method: codes.POST, path: "/33050/0/0", format: noFormat, want: codes.MethodNotAllowed},
		"stock client pairing write": {cfg: Config{WithoutPairingObject: true}, method: codes.PUT, path: "/33050/0", format: tlv, payload: wire.EncodePairingTLV(wire.PairingState{DeviceID: "dev_1"}), want: codes.NotFound},
		"stock client pairing read":  {cfg: Config{WithoutPairingObject: true}, method: codes.GET, path: "/33050/0", format: noFormat, want: codes.NotFound},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			srv := startFakeServer(t)
			d := startDevice(t, srv, tt.cfg)
			code, _, body := srv.send(tt.method, tt.path, tt.format, tt.payload)
			if code != tt.want {
				t.Errorf("%v %s = %v %q, want %v", tt.method, tt.path, code, body, tt.want)
			}
			if got := d.Pairing(); got != (wire.PairingState{}) {
				t.Errorf("Pairing() = %+v after a refused request, want zero", got)
			}
			if n := d.events.count(EventPairingChanged); n != 0 {
				t.Errorf("%d pairing events after a refused request", n)
			}
		})
	}
}

func TestParseObjectPath(t *testing.T) {
	tests := map[string]struct {
		path string
		want objectPath
		ok   bool
	}{
		"object":            {"/3", objectPath{3, -1, -1}, true},
		"instance":          {"/3/0", objectPath{3, 0, -1}, true},
		"resource":          {"/33050/0/4", objectPath{33050, 0, 4}, true},
		"resource instance": {"/3/0/1/0", objectPath{}, false},
		"not a number":      {"/rd", objectPath{}, false},
		"too large":         {"/65536", objectPath{}, false},
		"reserved instance": {"/3/65535", objectPath{}, false},
		"root":              {"/", objectPath{}, false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := parseObjectPath(tt.path)
			if ok != tt.ok || ok && got != tt.want {
				t.Errorf("parseObjectPath(%q) = %+v, %v; want %+v, %v", tt.path, got, ok, tt.want, tt.ok)
			}
			if ok && got.String() != tt.path {
				t.Errorf("String() = %q, want %q", got.String(), tt.path)
			}
		})
	}
}
