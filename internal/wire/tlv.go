package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// ContentFormat numbers of LwM2M payloads (OMA registry in CoAP's
// Content-Format option).
const (
	FormatTLV  = 11542
	FormatText = 0
)

// TLVKind is the identifier type of an OMA TLV entry.
type TLVKind uint8

// The four identifier types of OMA TLV (LwM2M 1.1 Core, 7.4.3).
const (
	TLVObjectInstance   TLVKind = 0
	TLVResourceInstance TLVKind = 1
	TLVMultipleResource TLVKind = 2
	TLVResource         TLVKind = 3
)

// maxTLVDepth bounds nesting: object instance → multiple resource → instance.
const maxTLVDepth = 3

// ErrBadTLV is wrapped by every error DecodeTLV returns.
var ErrBadTLV = errors.New("bad TLV")

// TLV is one entry of an OMA TLV payload. Entries of kind object instance and
// multiple resource hold Children; the others hold Value.
type TLV struct {
	Kind     TLVKind
	ID       uint16
	Value    []byte
	Children []TLV
}

// AppendTLV appends the encoding of entries to dst.
func AppendTLV(dst []byte, entries ...TLV) []byte {
	for _, e := range entries {
		value := e.Value
		if e.Kind == TLVObjectInstance || e.Kind == TLVMultipleResource {
			value = AppendTLV(nil, e.Children...)
		}
		typ := byte(e.Kind) << 6
		if e.ID > 0xff {
			typ |= 1 << 5
		}
		n := len(value)
		switch {
		case n < 8:
			typ |= byte(n)
		case n <= 0xff:
			typ |= 1 << 3
		case n <= 0xffff:
			typ |= 2 << 3
		default:
			typ |= 3 << 3
		}
		dst = append(dst, typ)
		if e.ID > 0xff {
			dst = binary.BigEndian.AppendUint16(dst, e.ID)
		} else {
			dst = append(dst, byte(e.ID))
		}
		switch {
		case n < 8:
		case n <= 0xff:
			dst = append(dst, byte(n))
		case n <= 0xffff:
			dst = binary.BigEndian.AppendUint16(dst, uint16(n))
		default:
			dst = append(dst, byte(n>>16), byte(n>>8), byte(n))
		}
		dst = append(dst, value...)
	}
	return dst
}

// DecodeTLV decodes an OMA TLV payload.
func DecodeTLV(b []byte) ([]TLV, error) {
	return decodeTLV(b, 0)
}

func decodeTLV(b []byte, depth int) ([]TLV, error) {
	if depth >= maxTLVDepth {
		return nil, fmt.Errorf("%w: nested deeper than %d", ErrBadTLV, maxTLVDepth)
	}
	var out []TLV
	for len(b) > 0 {
		e, rest, err := decodeOne(b)
		if err != nil {
			return nil, err
		}
		if e.Kind == TLVObjectInstance || e.Kind == TLVMultipleResource {
			if e.Children, err = decodeTLV(e.Value, depth+1); err != nil {
				return nil, err
			}
			e.Value = nil
		}
		out = append(out, e)
		b = rest
	}
	return out, nil
}

func decodeOne(b []byte) (TLV, []byte, error) {
	typ := b[0]
	e := TLV{Kind: TLVKind(typ >> 6)}
	b = b[1:]
	idLen := 1 + int(typ>>5&1)
	lenLen := int(typ >> 3 & 3)
	if len(b) < idLen+lenLen {
		return e, nil, fmt.Errorf("%w: header cut short", ErrBadTLV)
	}
	if idLen == 2 {
		e.ID = binary.BigEndian.Uint16(b)
	} else {
		e.ID = uint16(b[0])
	}
	b = b[idLen:]
	n := int(typ & 7)
	if lenLen > 0 {
		n = 0
		for _, c := range b[:lenLen] {
			n = n<<8 | int(c)
		}
		b = b[lenLen:]
	}
	if n > len(b) {
		return e, nil, fmt.Errorf("%w: entry %d claims %d bytes, %d left", ErrBadTLV, e.ID, n, len(b))
	}
	e.Value = b[:n:n]
	return e, b[n:], nil
}

// TLVString is a resource entry holding a string.
func TLVString(id uint16, s string) TLV {
	return TLV{Kind: TLVResource, ID: id, Value: []byte(s)}
}

// TLVInt is a resource entry holding an integer in the fewest bytes TLV
// allows (1, 2, 4 or 8).
func TLVInt(id uint16, v int64) TLV {
	var b []byte
	switch {
	case v >= math.MinInt8 && v <= math.MaxInt8:
		b = []byte{byte(v)}
	case v >= math.MinInt16 && v <= math.MaxInt16:
		b = binary.BigEndian.AppendUint16(nil, uint16(v))
	case v >= math.MinInt32 && v <= math.MaxInt32:
		b = binary.BigEndian.AppendUint32(nil, uint32(v))
	default:
		b = binary.BigEndian.AppendUint64(nil, uint64(v))
	}
	return TLV{Kind: TLVResource, ID: id, Value: b}
}

// Int reads the entry's value as a TLV integer.
func (e TLV) Int() (int64, error) {
	switch len(e.Value) {
	case 1:
		return int64(int8(e.Value[0])), nil
	case 2:
		return int64(int16(binary.BigEndian.Uint16(e.Value))), nil
	case 4:
		return int64(int32(binary.BigEndian.Uint32(e.Value))), nil
	case 8:
		return int64(binary.BigEndian.Uint64(e.Value)), nil
	}
	return 0, fmt.Errorf("%w: resource %d: an integer has 1, 2, 4 or 8 bytes, not %d", ErrBadTLV, e.ID, len(e.Value))
}
