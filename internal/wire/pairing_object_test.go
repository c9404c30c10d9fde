package wire

import (
	"errors"
	"math"
	"testing"
	"time"
)

func TestPairingTLVRoundTrip(t *testing.T) {
	tests := map[string]PairingState{
		"zero state": {},
		"registered, not bound": {
			DeviceID: "dev_01HZY", State: BindUnbound,
		},
		"bound": {
			DeviceID: "dev_01HZY", State: BindBound, OwnerUID: "u_42", HomeID: "h_7",
			BoundAt: time.Date(2025, 3, 1, 12, 30, 0, 0, time.UTC),
		},
		"reset requested": {
			DeviceID: "dev_01HZY", State: BindResetRequested, OwnerUID: "u_42", HomeID: "h_7",
			BoundAt: time.Unix(1700000000, 0).UTC(),
		},
		"BoundAt before 1970": {
			DeviceID: "d", State: BindBound, BoundAt: time.Unix(-86400, 0).UTC(),
		},
		"BoundAt beyond 2038 needs 8 bytes": {
			DeviceID: "d", State: BindBound, BoundAt: time.Unix(1<<33, 0).UTC(),
		},
		"unknown bind state survives": {
			DeviceID: "d", State: BindState(math.MaxInt64),
		},
		"long and non-ASCII strings": {
			DeviceID: string(make([]byte, 300)), OwnerUID: "g\u00e9rard", HomeID: "\xff\xfe",
		},
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			payload := EncodePairingTLV(want)
			got, err := ApplyPairingTLV(PairingState{}, payload)
			if err != nil {
				t.Fatalf("ApplyPairingTLV(EncodePairingTLV(%+v)): %v", want, err)
			}
			if got != want {
				t.Errorf("round trip\n got %+v\nwant %+v", got, want)
			}
			// Applied on top of another state, a full write replaces it.
			other := PairingState{DeviceID: "old", State: BindBound, OwnerUID: "o", HomeID: "h", BoundAt: time.Unix(5, 0).UTC()}
			if got, err := ApplyPairingTLV(other, payload); err != nil || got != want {
				t.Errorf("full write over %+v = %+v, %v; want %+v", other, got, err, want)
			}
		})
	}
}

func TestEncodePairingTLVBoundAt(t *testing.T) {
	tests := map[string]struct {
		boundAt time.Time
		want    int64
	}{
		"zero time is 0":           {time.Time{}, 0},
		"Unix time":                {time.Unix(1700000000, 0), 1700000000},
		"sub-second part dropped":  {time.Unix(1700000000, 999_999_999), 1700000000},
		"time zone does not count": {time.Unix(1700000000, 0).In(time.FixedZone("X", 3600)), 1700000000},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			entries, err := DecodeTLV(EncodePairingTLV(PairingState{BoundAt: tc.boundAt}))
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if e.ID != PairingResBoundAt {
					continue
				}
				if v, err := e.Int(); err != nil || v != tc.want {
					t.Errorf("BoundAt resource = %d, %v; want %d", v, err, tc.want)
				}
				return
			}
			t.Errorf("no BoundAt resource in %+v", entries)
		})
	}
}

func TestApplyPairingTLV(t *testing.T) {
	boundAt := time.Date(2025, 3, 1, 12, 30, 0, 0, time.UTC)
	start := PairingState{DeviceID: "dev_1", State: BindBound, OwnerUID: "u_1", HomeID: "h_1", BoundAt: boundAt}
	tests := map[string]struct {
		payload []byte
		want    PairingState
		err     bool
	}{
		"empty payload changes nothing": {payload: nil, want: start},
		"partial write of one resource": {
			payload: AppendTLV(nil, TLVInt(PairingResBindState, int64(BindResetRequested))),
			want:    PairingState{DeviceID: "dev_1", State: BindResetRequested, OwnerUID: "u_1", HomeID: "h_1", BoundAt: boundAt},
		},
		"unbind": {
			payload: AppendTLV(nil,
				TLVInt(PairingResBindState, int64(BindUnbound)), TLVString(PairingResOwnerUID, ""),
				TLVString(PairingResHomeID, ""), TLVInt(PairingResBoundAt, 0)),
			want: PairingState{DeviceID: "dev_1"},
		},
		"BoundAt 0 is the zero time": {
			payload: AppendTLV(nil, TLVInt(PairingResBoundAt, 0)),
			want:    PairingState{DeviceID: "dev_1", State: BindBound, OwnerUID: "u_1", HomeID: "h_1"},
		},
		"BoundAt as UTC": {
			payload: AppendTLV(nil, TLVInt(PairingResBoundAt, 1700000000)),
			want:    PairingState{DeviceID: "dev_1", State: BindBound, OwnerUID: "u_1", HomeID: "h_1", BoundAt: time.Unix(1700000000, 0).UTC()},
		},
		"integer sent in 8 bytes": {
			payload: AppendTLV(nil, TLV{Kind: TLVResource, ID: PairingResBindState, Value: []byte{0, 0, 0, 0, 0, 0, 0, 2}}),
			want:    PairingState{DeviceID: "dev_1", State: BindResetRequested, OwnerUID: "u_1", HomeID: "h_1", BoundAt: boundAt},
		},
		"wrapped in an object-instance entry": {
			payload: AppendTLV(nil, TLV{Kind: TLVObjectInstance, ID: 0, Children: []TLV{
				TLVString(PairingResOwnerUID, "u_2"), TLVString(PairingResHomeID, "h_2"),
			}}),
			want: PairingState{DeviceID: "dev_1", State: BindBound, OwnerUID: "u_2", HomeID: "h_2", BoundAt: boundAt},
		},
		"later resource wins": {
			payload: AppendTLV(nil, TLVString(PairingResHomeID, "a"), TLVString(PairingResHomeID, "b")),
			want:    PairingState{DeviceID: "dev_1", State: BindBound, OwnerUID: "u_1", HomeID: "b", BoundAt: boundAt},
		},

		"unknown resource ID": {
			payload: AppendTLV(nil, TLVString(PairingResHomeID, "h_2"), TLVString(9, "x")),
			err:     true,
		},
		"undecodable payload":     {payload: []byte{0xc8, 0x01, 0x09, 'a'}, err: true},
		"bind state of 3 bytes":   {payload: AppendTLV(nil, TLVString(PairingResOwnerUID, "u_2"), TLV{Kind: TLVResource, ID: PairingResBindState, Value: []byte{0, 0, 1}}), err: true},
		"BoundAt empty":           {payload: AppendTLV(nil, TLVString(PairingResBoundAt, "")), err: true},
		"BoundAt as text":         {payload: AppendTLV(nil, TLVString(PairingResBoundAt, "1700000000")), err: true},
		"resource instance entry": {payload: AppendTLV(nil, TLV{Kind: TLVResourceInstance, ID: PairingResHomeID, Value: []byte("h")}), err: true},
		"multiple resource entry": {payload: AppendTLV(nil, TLV{Kind: TLVMultipleResource, ID: PairingResHomeID}), err: true},
		"two object instances": {
			payload: AppendTLV(nil, TLV{Kind: TLVObjectInstance, ID: 0}, TLV{Kind: TLVObjectInstance, ID: 1}),
			err:     true,
		},
		"object instance inside object instance": {
			payload: AppendTLV(nil, TLV{Kind: TLVObjectInstance, ID: 0, Children: []TLV{
				{Kind: TLVObjectInstance, ID: 0, Children: []TLV{TLVString(PairingResHomeID, "h")}},
			}}),
			err: true,
		},
		"good resources then a bad one": {
			payload: AppendTLV(nil, TLVString(PairingResDeviceID, "dev_2"), TLVInt(PairingResBindState, 0), TLVString(7, "")),
			err:     true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ApplyPairingTLV(start, tc.payload)
			if tc.err {
				if !errors.Is(err, ErrBadTLV) {
					t.Errorf("ApplyPairingTLV(% x) error %v, want one wrapping ErrBadTLV", tc.payload, err)
				}
				if got != start {
					t.Errorf("a bad payload changed the state to %+v", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ApplyPairingTLV(% x): %v", tc.payload, err)
			}
			if got != tc.want {
				t.Errorf("ApplyPairingTLV\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestBindStateString(t *testing.T) {
	tests := map[string]struct {
		s    BindState
		want string
	}{
		"unbound":         {BindUnbound, "registered, not bound"},
		"bound":           {BindBound, "bound"},
		"reset requested": {BindResetRequested, "reset requested"},
		"unknown":         {BindState(7), "bind state 7"},
		"negative":        {BindState(-1), "bind state -1"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.s.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
		})
	}
}

// FuzzApplyPairingTLV checks that a refused payload leaves the state as it
// was, and that an accepted one yields a state that survives an encode and
// apply round trip.
func FuzzApplyPairingTLV(f *testing.F) {
	f.Add(EncodePairingTLV(PairingState{DeviceID: "dev_1", State: BindBound, OwnerUID: "u", HomeID: "h", BoundAt: time.Unix(1700000000, 0)}))
	f.Add(AppendTLV(nil, TLV{Kind: TLVObjectInstance, Children: []TLV{TLVInt(PairingResBindState, 2)}}))
	f.Add(AppendTLV(nil, TLVString(9, "x")))
	f.Add(AppendTLV(nil, TLV{Kind: TLVResource, ID: PairingResBoundAt, Value: []byte{0, 0, 1}}))
	start := PairingState{DeviceID: "dev_0", State: BindBound, OwnerUID: "u_0", HomeID: "h_0", BoundAt: time.Unix(1600000000, 0).UTC()}
	f.Fuzz(func(t *testing.T, payload []byte) {
		got, err := ApplyPairingTLV(start, payload)
		if err != nil {
			if !errors.Is(err, ErrBadTLV) {
				t.Fatalf("error %v does not wrap ErrBadTLV", err)
			}
			if got != start {
				t.Fatalf("refused payload changed the state to %+v", got)
			}
			return
		}
		if !got.BoundAt.IsZero() && got.BoundAt.Location() != time.UTC {
			t.Errorf("BoundAt %v is not in UTC", got.BoundAt)
		}
		back, err := ApplyPairingTLV(PairingState{}, EncodePairingTLV(got))
		if err != nil {
			t.Fatalf("re-applying the encoding of %+v: %v", got, err)
		}
		if back != got {
			t.Fatalf("encode/apply round trip\n got %+v\nwant %+v", back, got)
		}
	})
}
