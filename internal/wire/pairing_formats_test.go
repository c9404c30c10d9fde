package wire

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var pairingStates = map[string]PairingState{
	"unbound": {DeviceID: "dev_mfrggzdfmztwq2lk", State: BindUnbound},
	"bound": {DeviceID: "dev_mfrggzdfmztwq2lk", State: BindBound, OwnerUID: "u_alice", HomeID: "h_flat",
		BoundAt: time.Unix(1_790_000_000, 0).UTC()},
	"reset requested": {DeviceID: "d", State: BindResetRequested},
	"empty":           {},
}

// decodePairing decodes a payload of a single-payload format as a device
// would, on top of the zero state.
func decodePairing(t testing.TB, cf int, b []byte) (PairingState, error) {
	t.Helper()
	switch cf {
	case FormatTLV:
		return ApplyPairingTLV(PairingState{}, b)
	case FormatSenMLJSON, FormatSenMLCBOR:
		dec := DecodeSenMLJSON
		if cf == FormatSenMLCBOR {
			dec = DecodeSenMLCBOR
		}
		records, err := dec(b)
		if err != nil {
			return PairingState{}, err
		}
		return ApplyPairingSenML(PairingState{}, records)
	}
	t.Fatalf("format %d", cf)
	return PairingState{}, nil
}

func TestPairingFormatsRoundTrip(t *testing.T) {
	for name, st := range pairingStates {
		for _, cf := range []int{FormatTLV, FormatSenMLJSON, FormatSenMLCBOR} {
			t.Run(name+"/"+FormatName(cf), func(t *testing.T) {
				b, err := EncodePairing(st, cf)
				if err != nil {
					t.Fatal(err)
				}
				got, err := decodePairing(t, cf, b)
				if err != nil || !reflect.DeepEqual(got, st) {
					t.Fatalf("round trip of %+v: %+v, %v (payload %q)", st, got, err, b)
				}
			})
		}
		t.Run(name+"/text", func(t *testing.T) {
			var got PairingState
			for _, r := range PairingText(st) {
				if !strings.HasPrefix(r.Path(), "/33050/0/") {
					t.Fatalf("path %q", r.Path())
				}
				var err error
				if got, err = ApplyPairingText(got, r.ID, r.Body); err != nil {
					t.Fatal(err)
				}
			}
			if !reflect.DeepEqual(got, st) {
				t.Fatalf("round trip of %+v: %+v", st, got)
			}
		})
	}
}

// The SenML JSON is what a Wakaama 1.1 client reads: one base name, the
// resources by number, strings as vs.
func TestPairingSenMLJSONShape(t *testing.T) {
	b, err := EncodePairing(pairingStates["bound"], FormatSenMLJSON)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"bn":"/33050/0/","n":"0","vs":"dev_mfrggzdfmztwq2lk"},{"n":"1","v":1},{"n":"2","vs":"u_alice"},` +
		`{"n":"3","vs":"h_flat"},{"n":"4","v":1790000000}]`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	if _, err := EncodePairing(PairingState{}, FormatText); err == nil {
		t.Error("text encoded as one payload")
	}
}

func TestApplyPairingRefuses(t *testing.T) {
	one := func(v float64) *float64 { return &v }
	for name, records := range map[string][]SenMLRecord{
		"other object":     {{Name: "/3/0/0", StringValue: ptr("x")}},
		"read-only reset":  {{Name: "/33050/0/5", Value: one(1)}},
		"string as number": {{Name: "/33050/0/0", Value: one(1)}},
		"number as string": {{Name: "/33050/0/1", StringValue: ptr("1")}},
		"fraction":         {{Name: "/33050/0/4", Value: one(1.5)}},
		"no resource":      {{Name: "/33050/0/", StringValue: ptr("x")}},
	} {
		st := pairingStates["bound"]
		got, err := ApplyPairingSenML(st, append([]SenMLRecord{{Name: "/33050/0/2", StringValue: ptr("u_x")}}, records...))
		if !errors.Is(err, ErrBadPairingWrite) || got != st {
			t.Errorf("%s: %+v, %v; want the state unchanged and ErrBadPairingWrite", name, got, err)
		}
	}
	for name, tt := range map[string]struct {
		id   uint16
		body string
	}{"not a number": {1, "one"}, "reset": {5, "1"}, "unknown": {9, "x"}} {
		if _, err := ApplyPairingText(PairingState{}, tt.id, []byte(tt.body)); !errors.Is(err, ErrBadPairingWrite) {
			t.Errorf("%s: %v, want ErrBadPairingWrite", name, err)
		}
	}
}

func TestRootContentFormat(t *testing.T) {
	for name, tt := range map[string]struct{ payload, want string }{
		"wakaama 1.1":     {`</>;rt="oma.lwm2m";ct=110,</1/0>,</33050/0>`, "110"},
		"no ct":           {`</>;rt="oma.lwm2m",</1/0>`, ""},
		"no root":         {`</1/0>,</3/0>`, ""},
		"alternate root":  {`</lwm2m>;rt="oma.lwm2m";ct=11542,</lwm2m/1/0>`, "11542"},
		"list":            {`</>;ct="112 110 junk 99999 11542 0 60"`, "112 110 11542 0"},
		"ct on an object": {`</1/0>;ct=110`, ""},
		"empty":           {`</>;ct=""`, ""},
	} {
		links, err := ParseLinkFormat([]byte(tt.payload))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := RootContentFormat(links)
		if got != tt.want {
			t.Errorf("%s: %q, want %q", name, got, tt.want)
		}
		if again := ContentFormats(got); len(again) != len(strings.Fields(tt.want)) {
			t.Errorf("%s: ContentFormats(%q) = %v", name, got, again)
		}
	}
}

// Every state the server can hold encodes in every format and decodes to
// itself; a string that SenML cannot carry fails to encode, never to decode.
func FuzzPairingFormats(f *testing.F) {
	f.Add("dev_mfrggzdfmztwq2lk", int64(1), "u_alice", "h_flat", int64(1_790_000_000))
	f.Add("", int64(0), "", "", int64(0))
	f.Add("\xff", int64(-1), "ü", "\x00", int64(-62135596800))
	f.Fuzz(func(t *testing.T, id string, state int64, owner, home string, boundAt int64) {
		if boundAt > 1<<40 || boundAt < -1<<40 || state > 1<<40 || state < -1<<40 {
			return // beyond what SenML's float numbers carry exactly
		}
		st := PairingState{DeviceID: id, State: BindState(state), OwnerUID: owner, HomeID: home}
		if boundAt != 0 {
			st.BoundAt = time.Unix(boundAt, 0).UTC()
		}
		valid := utf8.ValidString(id) && utf8.ValidString(owner) && utf8.ValidString(home)
		for _, cf := range []int{FormatTLV, FormatSenMLJSON, FormatSenMLCBOR} {
			b, err := EncodePairing(st, cf)
			if err != nil {
				if cf == FormatTLV || valid && len(id+owner+home) < 600 {
					t.Fatalf("%s: %v", FormatName(cf), err)
				}
				continue
			}
			if got, err := decodePairing(t, cf, b); err != nil || got != st {
				t.Fatalf("%s: %+v -> %q -> %+v, %v", FormatName(cf), st, b, got, err)
			}
		}
		var got PairingState
		for _, r := range PairingText(st) {
			var err error
			if got, err = ApplyPairingText(got, r.ID, r.Body); err != nil {
				t.Fatal(err)
			}
		}
		if got != st {
			t.Fatalf("text: %+v -> %+v", st, got)
		}
	})
}

// What a device applies from a server never panics and never half-applies.
func FuzzApplyPairingSenMLJSON(f *testing.F) {
	b, _ := EncodePairing(pairingStates["bound"], FormatSenMLJSON)
	f.Add(b)
	f.Add([]byte(`[{"bn":"/33050/0/","n":"1","v":1.5}]`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		records, err := DecodeSenMLJSON(payload)
		if err != nil {
			return
		}
		st := pairingStates["unbound"]
		got, err := ApplyPairingSenML(st, records)
		if err != nil && got != st {
			t.Fatalf("a refused write changed the state to %+v", got)
		}
	})
}

func BenchmarkEncodePairing(b *testing.B) {
	st := pairingStates["bound"]
	for _, cf := range []int{FormatTLV, FormatSenMLJSON, FormatSenMLCBOR, FormatText} {
		b.Run(FormatName(cf), func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				if cf == FormatText {
					n = 0
					for _, r := range PairingText(st) {
						n += len(r.Body)
					}
					continue
				}
				p, err := EncodePairing(st, cf)
				if err != nil {
					b.Fatal(err)
				}
				n = len(p)
			}
			b.ReportMetric(float64(n), "payload-bytes")
		})
	}
}

// What a Register's root link announces is kept small and numeric.
func FuzzRootContentFormat(f *testing.F) {
	f.Add([]byte(`</>;rt="oma.lwm2m";ct=110,</1/0>`))
	f.Add([]byte(`</>;ct="112 110 junk 99999 11542 0 60"`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		links, err := ParseLinkFormat(payload)
		if err != nil {
			return
		}
		ct := RootContentFormat(links)
		fs := ContentFormats(ct)
		if len(fs) > maxRootFormats || len(strings.Fields(ct)) != len(fs) {
			t.Fatalf("%q gave %q, read back as %v", payload, ct, fs)
		}
		for _, f := range fs {
			if f < 0 || f > 65535 {
				t.Fatalf("format %d", f)
			}
		}
	})
}
