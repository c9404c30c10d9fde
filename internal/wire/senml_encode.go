package wire

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/fxamacker/cbor/v2"
)

// EncodeSenMLJSON encodes records as a SenML JSON pack. Each record's name
// is split after its last "/" into a base name, written when it changes,
// and a name, so that /33050/0/5 is sent as {"bn":"/33050/0/","n":"5"}.
// The records must pass the checks DecodeSenMLJSON applies, and the result
// must fit in MaxSenMLPayload bytes.
func EncodeSenMLJSON(records []SenMLRecord) ([]byte, error) {
	b, err := appendSenMLJSON(records)
	if err != nil {
		return nil, err
	}
	return b, checkEncodedSize(b)
}

// EncodeSenMLCBOR encodes records as a SenML CBOR pack, with base names as
// EncodeSenMLJSON writes them, integral numbers as CBOR integers and other
// numbers in the shortest float that holds them exactly. The records must
// pass the checks DecodeSenMLCBOR applies, and the result must fit in
// MaxSenMLPayload bytes.
func EncodeSenMLCBOR(records []SenMLRecord) ([]byte, error) {
	b, err := appendSenMLCBOR(records)
	if err != nil {
		return nil, err
	}
	return b, checkEncodedSize(b)
}

func checkEncodedSize(b []byte) error {
	if len(b) > MaxSenMLPayload {
		return fmt.Errorf("%w: encoding of %d bytes is larger than %d", ErrBadSenML, len(b), MaxSenMLPayload)
	}
	return nil
}

// jsonRecord is a record as EncodeSenMLJSON writes it, fields in order.
type jsonRecord struct {
	BaseName    *string  `json:"bn,omitempty"`
	Name        string   `json:"n,omitempty"`
	Unit        string   `json:"u,omitempty"`
	Value       *float64 `json:"v,omitempty"`
	StringValue *string  `json:"vs,omitempty"`
	BoolValue   *bool    `json:"vb,omitempty"`
	DataValue   *string  `json:"vd,omitempty"`
	ObjectLink  *string  `json:"vlo,omitempty"`
	Sum         *float64 `json:"s,omitempty"`
	Time        float64  `json:"t,omitempty"`
	UpdateTime  float64  `json:"ut,omitempty"`
}

// cborRecord is a record as EncodeSenMLCBOR writes it. The numbers are any
// so that integral values go out as CBOR integers.
type cborRecord struct {
	BaseName    *string `cbor:"-2,keyasint,omitempty"`
	Name        string  `cbor:"0,keyasint,omitempty"`
	Unit        string  `cbor:"1,keyasint,omitempty"`
	Value       any     `cbor:"2,keyasint,omitempty"`
	StringValue *string `cbor:"3,keyasint,omitempty"`
	BoolValue   *bool   `cbor:"4,keyasint,omitempty"`
	DataValue   []byte  `cbor:"8,keyasint,omitzero"`
	ObjectLink  *string `cbor:"vlo,omitempty"`
	Sum         any     `cbor:"5,keyasint,omitempty"`
	Time        any     `cbor:"6,keyasint,omitempty"`
	UpdateTime  any     `cbor:"7,keyasint,omitempty"`
}

var senmlEncMode = func() cbor.EncMode {
	em, err := cbor.EncOptions{ShortestFloat: cbor.ShortestFloat16}.EncMode()
	if err != nil {
		panic(err)
	}
	return em
}()

// splitNames checks the records and splits each name into the base name
// to write before it (nil when unchanged) and the rest.
func splitNames(records []SenMLRecord) ([]*string, []string, error) {
	if len(records) > MaxSenMLRecords {
		return nil, nil, fmt.Errorf("%w: %d records, more than %d", ErrBadSenML, len(records), MaxSenMLRecords)
	}
	bases, names := make([]*string, len(records)), make([]string, len(records))
	current := ""
	for i := range records {
		r := &records[i]
		if err := r.check(); err != nil {
			return nil, nil, fmt.Errorf("%w: record %d: %v", ErrBadSenML, i, err)
		}
		cut := strings.LastIndexByte(r.Name, '/') + 1
		if base := r.Name[:cut]; base != current {
			bases[i], current = ptr(base), base
		}
		names[i] = r.Name[cut:]
	}
	return bases, names, nil
}

// appendSenMLJSON encodes without the size limit.
func appendSenMLJSON(records []SenMLRecord) ([]byte, error) {
	bases, names, err := splitNames(records)
	if err != nil {
		return nil, err
	}
	out := make([]jsonRecord, len(records))
	for i, r := range records {
		out[i] = jsonRecord{
			BaseName: bases[i], Name: names[i], Unit: r.Unit, Value: r.Value,
			StringValue: r.StringValue, BoolValue: r.BoolValue, ObjectLink: r.ObjectLink,
			Sum: r.Sum, Time: r.Time, UpdateTime: r.UpdateTime,
		}
		if r.DataValue != nil {
			out[i].DataValue = ptr(base64.RawURLEncoding.EncodeToString(r.DataValue))
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSenML, err)
	}
	return b, nil
}

// appendSenMLCBOR encodes without the size limit.
func appendSenMLCBOR(records []SenMLRecord) ([]byte, error) {
	bases, names, err := splitNames(records)
	if err != nil {
		return nil, err
	}
	out := make([]cborRecord, len(records))
	for i, r := range records {
		out[i] = cborRecord{
			BaseName: bases[i], Name: names[i], Unit: r.Unit, StringValue: r.StringValue,
			BoolValue: r.BoolValue, DataValue: r.DataValue, ObjectLink: r.ObjectLink,
			Value: cborNumber(r.Value), Sum: cborNumber(r.Sum),
		}
		if r.Time != 0 {
			out[i].Time = cborNumber(&r.Time)
		}
		if r.UpdateTime != 0 {
			out[i].UpdateTime = cborNumber(&r.UpdateTime)
		}
	}
	b, err := senmlEncMode.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSenML, err)
	}
	return b, nil
}

// cborNumber is nil for nil, an int64 for an integral value that fits, and
// the float otherwise.
func cborNumber(v *float64) any {
	switch {
	case v == nil:
		return nil
	case *v == math.Trunc(*v) && *v >= math.MinInt64 && *v < math.MaxInt64 && !(*v == 0 && math.Signbit(*v)):
		return int64(*v)
	}
	return *v
}
