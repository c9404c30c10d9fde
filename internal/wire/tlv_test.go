package wire

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

func TestTLVRoundTrip(t *testing.T) {
	tests := map[string]struct {
		entries []TLV
		wire    []byte // the exact encoding, when checked
	}{
		"8-bit ID, length in the type byte": {
			entries: []TLV{TLVString(0, "abc")},
			wire:    []byte{0xc3, 0x00, 'a', 'b', 'c'},
		},
		"empty value": {
			entries: []TLV{TLVString(5, "")},
			wire:    []byte{0xc0, 0x05},
		},
		"16-bit ID": {
			entries: []TLV{TLVString(0x1234, "x")},
			wire:    []byte{0xe1, 0x12, 0x34, 'x'},
		},
		"ID 255 still fits 8 bits": {
			entries: []TLV{TLVString(255, "x")},
			wire:    []byte{0xc1, 0xff, 'x'},
		},
		"ID 256 needs 16 bits": {
			entries: []TLV{TLVString(256, "x")},
			wire:    []byte{0xe1, 0x01, 0x00, 'x'},
		},
		"7-byte value, longest in the type byte": {
			entries: []TLV{TLVString(1, "1234567")},
			wire:    append([]byte{0xc7, 0x01}, "1234567"...),
		},
		"8-byte value, 8-bit length": {
			entries: []TLV{TLVString(1, "12345678")},
			wire:    append([]byte{0xc8, 0x01, 0x08}, "12345678"...),
		},
		"255-byte value, 8-bit length": {
			entries: []TLV{TLVString(1, string(bytes.Repeat([]byte{'a'}, 255)))},
			wire:    append([]byte{0xc8, 0x01, 0xff}, bytes.Repeat([]byte{'a'}, 255)...),
		},
		"256-byte value, 16-bit length": {
			entries: []TLV{TLVString(1, string(bytes.Repeat([]byte{'a'}, 256)))},
			wire:    append([]byte{0xd0, 0x01, 0x01, 0x00}, bytes.Repeat([]byte{'a'}, 256)...),
		},
		"65535-byte value, 16-bit length": {
			entries: []TLV{TLVString(300, string(bytes.Repeat([]byte{'a'}, 65535)))},
			wire:    append([]byte{0xf0, 0x01, 0x2c, 0xff, 0xff}, bytes.Repeat([]byte{'a'}, 65535)...),
		},
		"65536-byte value, 24-bit length": {
			entries: []TLV{TLVString(1, string(bytes.Repeat([]byte{'a'}, 65536)))},
			wire:    append([]byte{0xd8, 0x01, 0x01, 0x00, 0x00}, bytes.Repeat([]byte{'a'}, 65536)...),
		},
		"several resources": {
			entries: []TLV{TLVString(0, "dev_1"), TLVInt(1, 1), TLVInt(4, 1700000000)},
		},
		"object instance holding resources": {
			entries: []TLV{{Kind: TLVObjectInstance, ID: 0, Children: []TLV{TLVString(0, "a"), TLVInt(1, 2)}}},
			wire:    []byte{0x06, 0x00, 0xc1, 0x00, 'a', 0xc1, 0x01, 0x02},
		},
		"multiple resource with instances": {
			entries: []TLV{{Kind: TLVMultipleResource, ID: 7, Children: []TLV{
				{Kind: TLVResourceInstance, ID: 0, Value: []byte{1}},
				{Kind: TLVResourceInstance, ID: 1, Value: []byte{2}},
			}}},
			wire: []byte{0x86, 0x07, 0x41, 0x00, 0x01, 0x41, 0x01, 0x02},
		},
		"object instance, multiple resource, resource instance": {
			entries: []TLV{{Kind: TLVObjectInstance, ID: 0, Children: []TLV{
				TLVString(0, "Open Mobile Alliance"),
				{Kind: TLVMultipleResource, ID: 6, Children: []TLV{
					{Kind: TLVResourceInstance, ID: 0, Value: []byte{1}},
					{Kind: TLVResourceInstance, ID: 300, Value: []byte{5}},
				}},
			}}},
		},
		"two object instances, the second with a 16-bit ID": {
			entries: []TLV{
				{Kind: TLVObjectInstance, ID: 0, Children: []TLV{TLVInt(1, 1)}},
				{Kind: TLVObjectInstance, ID: 1000, Children: []TLV{TLVInt(1, 2)}},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			enc := AppendTLV(nil, tc.entries...)
			if tc.wire != nil && !bytes.Equal(enc, tc.wire) {
				t.Errorf("AppendTLV = % x\nwant       % x", shortBytes(enc), shortBytes(tc.wire))
			}
			got, err := DecodeTLV(enc)
			if err != nil {
				t.Fatalf("DecodeTLV(% x): %v", shortBytes(enc), err)
			}
			if !tlvEqual(got, tc.entries) {
				t.Errorf("DecodeTLV(AppendTLV(x)) = %+v, want %+v", got, tc.entries)
			}
		})
	}
}

func TestAppendTLVAppends(t *testing.T) {
	got := AppendTLV([]byte{0xaa}, TLVInt(1, 1))
	if want := []byte{0xaa, 0xc1, 0x01, 0x01}; !bytes.Equal(got, want) {
		t.Errorf("AppendTLV = % x, want % x", got, want)
	}
}

func TestDecodeTLVNonMinimal(t *testing.T) {
	tests := map[string]struct {
		wire []byte
		want []TLV
	}{
		"8-bit length for a short value": {
			wire: []byte{0xc8, 0x01, 0x02, 'h', 'i'},
			want: []TLV{TLVString(1, "hi")},
		},
		"24-bit length for a short value": {
			wire: []byte{0xd8, 0x01, 0x00, 0x00, 0x01, 'h'},
			want: []TLV{TLVString(1, "h")},
		},
		"16-bit ID below 256": {
			wire: []byte{0xe1, 0x00, 0x05, 'x'},
			want: []TLV{TLVString(5, "x")},
		},
		"empty payload": {wire: nil, want: nil},
		"empty object instance": {
			wire: []byte{0x00, 0x03},
			want: []TLV{{Kind: TLVObjectInstance, ID: 3}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := DecodeTLV(tc.wire)
			if err != nil {
				t.Fatalf("DecodeTLV(% x): %v", tc.wire, err)
			}
			if !tlvEqual(got, tc.want) {
				t.Errorf("DecodeTLV(% x) = %+v, want %+v", tc.wire, got, tc.want)
			}
		})
	}
}

func TestDecodeTLVErrors(t *testing.T) {
	tests := map[string][]byte{
		"type byte only":                 {0xc1},
		"16-bit ID cut short":            {0xe1, 0x01},
		"8-bit length missing":           {0xc8, 0x01},
		"16-bit length cut short":        {0xd0, 0x01, 0x00},
		"24-bit length cut short":        {0xd8, 0x01, 0x00, 0x00},
		"length in type beyond buffer":   {0xc3, 0x01, 'a', 'b'},
		"8-bit length beyond buffer":     {0xc8, 0x01, 0x09, 'a'},
		"24-bit length beyond buffer":    {0xd8, 0x01, 0xff, 0xff, 0xff, 'a'},
		"second entry truncated":         {0xc1, 0x01, 'a', 0xc2, 0x02, 'b'},
		"child truncated":                {0x03, 0x00, 0xc2, 0x01, 'a'},
		"grandchild truncated":           {0x04, 0x00, 0x82, 0x01, 0x41, 0x00},
		"nesting too deep":               AppendTLV(nil, nest(3)...),
		"nesting too deep, deeper still": AppendTLV(nil, nest(20)...),
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := DecodeTLV(b)
			if !errors.Is(err, ErrBadTLV) {
				t.Errorf("DecodeTLV(% x) = %+v, %v; want an error wrapping ErrBadTLV", b, got, err)
			}
		})
	}
	t.Run("nesting at the limit", func(t *testing.T) {
		if _, err := DecodeTLV(AppendTLV(nil, nest(2)...)); err != nil {
			t.Errorf("two levels of containers: %v", err)
		}
	})
}

// nest returns n object-instance entries each inside the one before.
func nest(n int) []TLV {
	e := []TLV{TLVInt(0, 1)}
	for range n {
		e = []TLV{{Kind: TLVObjectInstance, ID: 0, Children: e}}
	}
	return e
}

func TestTLVInt(t *testing.T) {
	tests := map[string]struct {
		v    int64
		size int
	}{
		"zero":         {0, 1},
		"one":          {1, 1},
		"minus one":    {-1, 1},
		"max int8":     {math.MaxInt8, 1},
		"min int8":     {math.MinInt8, 1},
		"max int8+1":   {math.MaxInt8 + 1, 2},
		"min int8-1":   {math.MinInt8 - 1, 2},
		"max int16":    {math.MaxInt16, 2},
		"min int16":    {math.MinInt16, 2},
		"max int16+1":  {math.MaxInt16 + 1, 4},
		"min int16-1":  {math.MinInt16 - 1, 4},
		"unix time":    {1700000000, 4},
		"max int32":    {math.MaxInt32, 4},
		"min int32":    {math.MinInt32, 4},
		"max int32+1":  {math.MaxInt32 + 1, 8},
		"min int32-1":  {math.MinInt32 - 1, 8},
		"max int64":    {math.MaxInt64, 8},
		"min int64":    {math.MinInt64, 8},
		"year 2106+":   {1 << 32, 8},
		"negative big": {-1 << 40, 8},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e := TLVInt(9, tc.v)
			if e.Kind != TLVResource || e.ID != 9 || len(e.Value) != tc.size {
				t.Fatalf("TLVInt(9, %d) = %+v, want a resource of %d bytes", tc.v, e, tc.size)
			}
			got, err := e.Int()
			if err != nil || got != tc.v {
				t.Errorf("Int() = %d, %v; want %d", got, err, tc.v)
			}
			dec, err := DecodeTLV(AppendTLV(nil, e))
			if err != nil || len(dec) != 1 {
				t.Fatalf("DecodeTLV: %+v, %v", dec, err)
			}
			if got, err := dec[0].Int(); err != nil || got != tc.v {
				t.Errorf("decoded Int() = %d, %v; want %d", got, err, tc.v)
			}
		})
	}
}

func TestTLVIntSizes(t *testing.T) {
	tests := map[string]struct {
		value []byte
		want  int64
		err   bool
	}{
		"1 byte negative":  {value: []byte{0x80}, want: -128},
		"2 bytes negative": {value: []byte{0xff, 0x7f}, want: -129},
		"2 bytes small":    {value: []byte{0x00, 0x01}, want: 1},
		"4 bytes":          {value: []byte{0x65, 0x53, 0xf1, 0x00}, want: 1700000000},
		"8 bytes":          {value: []byte{0, 0, 0, 1, 0, 0, 0, 0}, want: 1 << 32},
		"8 bytes min":      {value: []byte{0x80, 0, 0, 0, 0, 0, 0, 0}, want: math.MinInt64},
		"empty":            {value: []byte{}, err: true},
		"3 bytes":          {value: []byte{1, 2, 3}, err: true},
		"5 bytes":          {value: []byte{1, 2, 3, 4, 5}, err: true},
		"16 bytes":         {value: make([]byte, 16), err: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := TLV{Kind: TLVResource, ID: 1, Value: tc.value}.Int()
			if tc.err {
				if !errors.Is(err, ErrBadTLV) {
					t.Errorf("Int() of % x = %d, %v; want an error wrapping ErrBadTLV", tc.value, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("Int() of % x = %d, %v; want %d", tc.value, got, err, tc.want)
			}
		})
	}
}

// FuzzDecodeTLV checks that decoding bounds itself and that a decoded
// payload re-encodes to a canonical form that decodes to the same entries
// and encodes to the same bytes again.
func FuzzDecodeTLV(f *testing.F) {
	f.Add(EncodePairingTLV(PairingState{DeviceID: "dev_1", State: BindBound, OwnerUID: "u", HomeID: "h"}))
	f.Add(AppendTLV(nil, TLV{Kind: TLVObjectInstance, Children: []TLV{
		TLVString(0, "x"), {Kind: TLVMultipleResource, ID: 6, Children: []TLV{{Kind: TLVResourceInstance, ID: 300, Value: []byte{5}}}},
	}}))
	f.Add(AppendTLV(nil, nest(3)...))
	f.Add([]byte{0xd8, 0x01, 0x00, 0x00, 0x01, 'h'})
	f.Add([]byte{0xc8, 0x01, 0x09, 'a'})
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := DecodeTLV(b)
		if err != nil {
			if !errors.Is(err, ErrBadTLV) {
				t.Fatalf("error %v does not wrap ErrBadTLV", err)
			}
			return
		}
		if d := tlvDepth(entries); d > maxTLVDepth {
			t.Fatalf("decoded %d levels deep", d)
		}
		enc := AppendTLV(nil, entries...)
		if len(enc) > len(b) {
			t.Errorf("canonical encoding (%d bytes) is longer than the input (%d bytes)", len(enc), len(b))
		}
		again, err := DecodeTLV(enc)
		if err != nil {
			t.Fatalf("re-decoding % x: %v", shortBytes(enc), err)
		}
		if !tlvEqual(again, entries) {
			t.Fatalf("re-decoding changed the entries:\n got %+v\nwant %+v", again, entries)
		}
		if enc2 := AppendTLV(nil, again...); !bytes.Equal(enc2, enc) {
			t.Fatalf("encoding is not stable:\n% x\n% x", shortBytes(enc), shortBytes(enc2))
		}
	})
}

func tlvDepth(entries []TLV) int {
	d := 0
	for _, e := range entries {
		d = max(d, tlvDepth(e.Children))
	}
	if len(entries) == 0 {
		return 0
	}
	return d + 1
}

// tlvEqual compares entries by kind, ID, value bytes (nil and empty alike)
// and children.
func tlvEqual(a, b []TLV) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Kind != b[i].Kind || a[i].ID != b[i].ID || !bytes.Equal(a[i].Value, b[i].Value) {
			return false
		}
		if !tlvEqual(a[i].Children, b[i].Children) {
			return false
		}
	}
	return true
}

// head shortens long byte strings in failure messages.
func shortBytes(b []byte) []byte {
	if len(b) > 32 {
		return b[:32]
	}
	return b
}
