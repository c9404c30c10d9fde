package sqlite

import (
	"encoding/binary"
	"errors"
	"time"
)

// The journal's record codec: see journal.go for the file format.

// appendRecord encodes rec's payload after b.
func appendRecord(b []byte, rec journaled) []byte {
	r := rec.reg
	b = binary.LittleEndian.AppendUint64(b, rec.seq)
	for _, s := range []string{r.ID, r.DeviceID, r.Endpoint, r.Version, r.Binding, r.Addr, r.ContentFormat} {
		b = appendString(b, s)
	}
	b = binary.AppendVarint(b, int64(r.Lifetime))
	b = append(b, flags(r.QueueMode, r.Secure, r.Objects == nil))
	b = binary.AppendUvarint(b, uint64(len(r.Objects)))
	for _, o := range r.Objects {
		b = appendString(b, o)
	}
	for _, t := range []time.Time{r.RegisteredAt, r.LastSeen, r.ExpiresAt} {
		b = binary.AppendVarint(b, nanos(t))
	}
	return b
}

func flags(queue, secure, nilObjects bool) byte {
	var f byte
	if queue {
		f |= 1
	}
	if secure {
		f |= 2
	}
	if nilObjects {
		f |= 4
	}
	return f
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// errRecord is a record that does not decode.
var errRecord = errors.New("journal: malformed record")

// recordReader decodes a record's payload, remembering the first error.
type recordReader struct {
	b   []byte
	err error
}

func (d *recordReader) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err, d.b = errRecord, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *recordReader) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err, d.b = errRecord, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *recordReader) string() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.err, d.b = errRecord, nil
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *recordReader) byte() byte {
	if len(d.b) == 0 {
		d.err = errRecord
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

// decodeRecord decodes a record's payload.
func decodeRecord(b []byte) (journaled, error) {
	if len(b) < 8 {
		return journaled{}, errRecord
	}
	rec := journaled{seq: binary.LittleEndian.Uint64(b)}
	d := &recordReader{b: b[8:]}
	r := &rec.reg
	for _, s := range []*string{&r.ID, &r.DeviceID, &r.Endpoint, &r.Version, &r.Binding, &r.Addr, &r.ContentFormat} {
		*s = d.string()
	}
	r.Lifetime = int(d.varint())
	f := d.byte()
	r.QueueMode, r.Secure = f&1 != 0, f&2 != 0
	n := d.uvarint()
	if n > uint64(len(d.b)) { // each object takes a byte at least
		return journaled{}, errRecord
	}
	if f&4 == 0 {
		r.Objects = make([]string, 0, n)
	}
	for range n {
		r.Objects = append(r.Objects, d.string())
	}
	for _, t := range []*time.Time{&r.RegisteredAt, &r.LastSeen, &r.ExpiresAt} {
		*t = fromNanos(d.varint())
	}
	if d.err != nil || len(d.b) != 0 {
		return journaled{}, errRecord
	}
	return rec, nil
}
