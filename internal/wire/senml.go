package wire

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"
)

// Content formats of SenML (RFC 8428) payloads, as LwM2M 1.1 uses them for
// Send, Read-Composite and Write-Composite (Core spec 7.4.4 and 7.4.5).
const (
	FormatSenMLJSON = 110
	FormatSenMLCBOR = 112
)

// Limits on a SenML payload, decoded or encoded.
const (
	MaxSenMLPayload = 4096 // bytes
	MaxSenMLRecords = 64
	MaxSenMLName    = 255 // bytes of a resolved name, and of a base name
)

// maxSenMLVersion is the SenML version (bver) this package understands.
const maxSenMLVersion = 10

// ErrBadSenML is wrapped by every error of the SenML functions.
var ErrBadSenML = errors.New("bad SenML")

// PairingResetPath is the name of the Pairing object's Reset resource in a
// SenML pack: /33050/0/5.
const PairingResetPath = "/33050/0/5"

// SenMLRecord is one resolved SenML record (RFC 8428 section 4.6): the base
// name is prepended to Name, the base time added to Time, the base value
// and base sum added to Value and Sum, and the base unit used where the
// record has none. At most one of the value fields (Value, StringValue,
// BoolValue, DataValue, ObjectLink) is set; a record without one names a
// resource, as in a Read-Composite request. DataValue is non-nil exactly
// when the record has an "vd" field, which may be empty.
type SenMLRecord struct {
	// Name is the resolved name, in LwM2M a path such as "/3/0/0".
	Name string
	// Time is base time plus time, in seconds: Unix time, or relative to
	// now when below 2**28 (RFC 8428 section 4.5.3; not converted here).
	// Zero means "now".
	Time float64
	// Unit is the unit (u), or else the base unit (bu).
	Unit string
	// Value is a numeric value (v) plus the base value (bv).
	Value *float64
	// StringValue is a string value (vs).
	StringValue *string
	// BoolValue is a boolean value (vb).
	BoolValue *bool
	// DataValue is an opaque value (vd): a byte string in CBOR, base64url
	// in JSON.
	DataValue []byte
	// ObjectLink is an LwM2M object link value (vlo), such as "3:0".
	ObjectLink *string
	// Sum is the sum (s) plus the base sum (bs).
	Sum *float64
	// UpdateTime is the update time (ut) in seconds; zero when absent.
	UpdateTime float64
}

// valueFields counts the record's value fields.
func (r *SenMLRecord) valueFields() int {
	n := 0
	for _, set := range []bool{r.Value != nil, r.StringValue != nil, r.BoolValue != nil, r.DataValue != nil, r.ObjectLink != nil} {
		if set {
			n++
		}
	}
	return n
}

// check validates a resolved record.
func (r *SenMLRecord) check() error {
	if err := checkSenMLName(r.Name); err != nil {
		return err
	}
	if r.valueFields() > 1 {
		return errors.New("more than one value field (v, vs, vb, vd, vlo)")
	}
	for _, s := range []*string{&r.Unit, r.StringValue, r.ObjectLink} {
		if s != nil && !utf8.ValidString(*s) {
			return fmt.Errorf("text %q is not UTF-8", *s)
		}
	}
	for _, f := range []struct {
		label string
		v     *float64
	}{{"t", &r.Time}, {"v", r.Value}, {"s", r.Sum}, {"ut", &r.UpdateTime}} {
		if f.v != nil && (math.IsNaN(*f.v) || math.IsInf(*f.v, 0)) {
			return fmt.Errorf("%s is %v after resolution; want a finite number", f.label, *f.v)
		}
	}
	return nil
}

// checkSenMLName checks a resolved name: 1 to MaxSenMLName characters out
// of RFC 8428's set (letters, digits, "-:./_"). RFC 8428 also wants it to
// start with a letter or digit, which LwM2M's "/3/0/0" names do not.
func checkSenMLName(name string) error {
	switch {
	case name == "":
		return errors.New("no name after resolution (neither bn nor n)")
	case len(name) > MaxSenMLName:
		return fmt.Errorf("name of %d bytes is longer than %d", len(name), MaxSenMLName)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !ok && strings.IndexByte("-:./_", c) < 0 {
			return fmt.Errorf("name %q has %q, outside letters, digits and -:./_", name, c)
		}
	}
	return nil
}

// senmlLabel is a SenML field this package understands.
type senmlLabel int

const (
	labelUnknown senmlLabel = iota
	labelBaseName
	labelBaseTime
	labelBaseUnit
	labelBaseValue
	labelBaseSum
	labelBaseVersion
	labelName
	labelUnit
	labelValue
	labelStringValue
	labelBoolValue
	labelSum
	labelTime
	labelUpdateTime
	labelDataValue
	labelObjectLink
	labelCount
)

// jsonLabels are the labels of SenML JSON (RFC 8428 Table 4) and LwM2M's vlo.
var jsonLabels = map[string]senmlLabel{
	"bn": labelBaseName, "bt": labelBaseTime, "bu": labelBaseUnit, "bv": labelBaseValue,
	"bs": labelBaseSum, "bver": labelBaseVersion, "n": labelName, "u": labelUnit,
	"v": labelValue, "vs": labelStringValue, "vb": labelBoolValue, "s": labelSum,
	"t": labelTime, "ut": labelUpdateTime, "vd": labelDataValue, "vlo": labelObjectLink,
}

// cborLabels are the integer labels of SenML CBOR (RFC 8428 Table 6).
// LwM2M's vlo keeps its text label in CBOR.
var cborLabels = map[int64]senmlLabel{
	-2: labelBaseName, -3: labelBaseTime, -4: labelBaseUnit, -5: labelBaseValue,
	-6: labelBaseSum, -1: labelBaseVersion, 0: labelName, 1: labelUnit,
	2: labelValue, 3: labelStringValue, 4: labelBoolValue, 5: labelSum,
	6: labelTime, 7: labelUpdateTime, 8: labelDataValue,
}

// senmlFields are the fields of one record as sent, before resolution.
type senmlFields struct {
	present [labelCount]bool
	str     [labelCount]string  // labels with string values
	num     [labelCount]float64 // labels with numeric values
	boolean bool
	data    []byte
}

// set stores the value of a known label, checking its type. base64Data
// says that a vd value is base64url text (JSON) rather than bytes (CBOR).
func (f *senmlFields) set(l senmlLabel, v any, base64Data bool) error {
	if f.present[l] {
		return errors.New("a label appears twice")
	}
	f.present[l] = true
	switch l {
	case labelBaseName, labelBaseUnit, labelName, labelUnit, labelStringValue, labelObjectLink:
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("label %s: %s is not a string", labelText(l), typeText(v))
		}
		f.str[l] = s
	case labelBoolValue:
		b, ok := v.(bool)
		if !ok {
			return fmt.Errorf("label vb: %s is not a boolean", typeText(v))
		}
		f.boolean = b
	case labelDataValue:
		return f.setData(v, base64Data)
	default:
		n, ok := toFloat(v)
		if !ok {
			return fmt.Errorf("label %s: %s is not a number", labelText(l), typeText(v))
		}
		if math.IsNaN(n) || math.IsInf(n, 0) {
			return fmt.Errorf("label %s: %v is not a finite number", labelText(l), n)
		}
		f.num[l] = n
	}
	return nil
}

func (f *senmlFields) setData(v any, base64Data bool) error {
	var data []byte
	switch d := v.(type) {
	case []byte:
		if base64Data {
			return errors.New("label vd: bytes where base64 text belongs")
		}
		data = d
	case string:
		if !base64Data {
			return errors.New("label vd: text where a byte string belongs")
		}
		var err error
		if data, err = decodeBase64(d); err != nil {
			return fmt.Errorf("label vd: %v", err)
		}
	default:
		return fmt.Errorf("label vd: %s is not opaque data", typeText(v))
	}
	if data == nil {
		data = []byte{}
	}
	f.data = data
	return nil
}

// decodeBase64 reads base64url without padding, as RFC 8428 section 5
// wants, and accepts padding and the standard alphabet too.
func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if b, err := base64.RawURLEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New("not base64url")
	}
	return b, nil
}

// unknown checks a label this package does not know: RFC 8428 section 4.4
// makes labels ending in "_" mandatory to understand; the rest are ignored.
func unknown(label string) error {
	if strings.HasSuffix(label, "_") {
		return fmt.Errorf("label %q must be understood (it ends in _) and is not supported", label)
	}
	return nil
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case uint64:
		return float64(n), true
	case int64:
		return float64(n), true
	case big.Int:
		f, _ := new(big.Float).SetInt(&n).Float64()
		return f, true
	case *big.Int:
		f, _ := new(big.Float).SetInt(n).Float64()
		return f, true
	}
	return 0, false
}

func labelText(l senmlLabel) string {
	for s, x := range jsonLabels {
		if x == l {
			return s
		}
	}
	return "label " + strconv.Itoa(int(l))
}

func typeText(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case []byte:
		return "a byte string"
	case []any:
		return "an array"
	case map[string]any, map[any]any:
		return "a map"
	}
	if _, ok := toFloat(v); ok {
		return "a number"
	}
	return fmt.Sprintf("a %T", v)
}

// senmlBase is the base state that applies to the following records.
type senmlBase struct {
	name, unit       string
	time, value, sum float64
}

// resolve applies the record's base fields to b, then returns the record
// resolved against b (RFC 8428 section 4.6).
func (b *senmlBase) resolve(f *senmlFields) (SenMLRecord, error) {
	if f.present[labelBaseVersion] {
		v := f.num[labelBaseVersion]
		if v != math.Trunc(v) || v < 1 || v > maxSenMLVersion {
			return SenMLRecord{}, fmt.Errorf("bver %v is not a version up to %d", v, maxSenMLVersion)
		}
	}
	if f.present[labelBaseName] {
		if len(f.str[labelBaseName]) > MaxSenMLName {
			return SenMLRecord{}, fmt.Errorf("base name of %d bytes is longer than %d", len(f.str[labelBaseName]), MaxSenMLName)
		}
		b.name = f.str[labelBaseName]
	}
	setIf(&b.unit, f.str[labelBaseUnit], f.present[labelBaseUnit])
	setIf(&b.time, f.num[labelBaseTime], f.present[labelBaseTime])
	setIf(&b.value, f.num[labelBaseValue], f.present[labelBaseValue])
	setIf(&b.sum, f.num[labelBaseSum], f.present[labelBaseSum])

	r := SenMLRecord{
		Name:       b.name + f.str[labelName],
		Time:       b.time + f.num[labelTime],
		Unit:       b.unit,
		UpdateTime: f.num[labelUpdateTime],
	}
	setIf(&r.Unit, f.str[labelUnit], f.present[labelUnit])
	if f.present[labelValue] {
		r.Value = ptr(b.value + f.num[labelValue])
	}
	if f.present[labelSum] {
		r.Sum = ptr(b.sum + f.num[labelSum])
	}
	if f.present[labelStringValue] {
		r.StringValue = ptr(f.str[labelStringValue])
	}
	if f.present[labelObjectLink] {
		r.ObjectLink = ptr(f.str[labelObjectLink])
	}
	if f.present[labelBoolValue] {
		r.BoolValue = ptr(f.boolean)
	}
	if f.present[labelDataValue] {
		r.DataValue = f.data
	}
	return r, r.check()
}

func setIf[T any](dst *T, v T, ok bool) {
	if ok {
		*dst = v
	}
}

func ptr[T any](v T) *T { return &v }

// resolveAll resolves the records of a pack in order.
func resolveAll(packs []senmlFields) ([]SenMLRecord, error) {
	var base senmlBase
	out := make([]SenMLRecord, 0, len(packs))
	for i := range packs {
		r, err := base.resolve(&packs[i])
		if err != nil {
			return nil, fmt.Errorf("%w: record %d: %v", ErrBadSenML, i, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// checkPayload applies the size limit shared by both encodings.
func checkPayload(b []byte) error {
	switch {
	case len(b) > MaxSenMLPayload:
		return fmt.Errorf("%w: payload of %d bytes is larger than %d", ErrBadSenML, len(b), MaxSenMLPayload)
	case len(b) == 0:
		return fmt.Errorf("%w: empty payload", ErrBadSenML)
	}
	return nil
}

// DecodeSenMLJSON decodes and resolves a SenML JSON pack (application/
// senml+json, content format 110): an array of objects, at most
// MaxSenMLRecords of them in at most MaxSenMLPayload bytes.
func DecodeSenMLJSON(b []byte) ([]SenMLRecord, error) {
	if err := checkPayload(b); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := expectDelim(dec, '['); err != nil {
		return nil, fmt.Errorf("%w: not an array of records: %v", ErrBadSenML, err)
	}
	var packs []senmlFields
	for dec.More() {
		if len(packs) == MaxSenMLRecords {
			return nil, fmt.Errorf("%w: more than %d records", ErrBadSenML, MaxSenMLRecords)
		}
		f, err := decodeJSONRecord(dec)
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return nil, fmt.Errorf("%w: record %d: %v", ErrBadSenML, len(packs), err)
		}
		packs = append(packs, f)
	}
	if err := expectDelim(dec, ']'); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSenML, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the array", ErrBadSenML)
	}
	return resolveAll(packs)
}

// expectDelim reads the next JSON token, which must be want.
func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("found %v where %q belongs", tok, want)
	}
	return nil
}

// decodeJSONRecord reads one record object.
func decodeJSONRecord(dec *json.Decoder) (senmlFields, error) {
	var f senmlFields
	if err := expectDelim(dec, '{'); err != nil {
		return f, fmt.Errorf("not an object: %v", err)
	}
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return f, err
		}
		label, _ := tok.(string) // object keys are always strings
		var v any
		if err := dec.Decode(&v); err != nil {
			return f, err
		}
		if seen[label] {
			return f, fmt.Errorf("label %q appears twice", label)
		}
		seen[label] = true
		l, ok := jsonLabels[label]
		if !ok {
			err = unknown(label)
		} else {
			err = f.set(l, v, true)
		}
		if err != nil {
			return f, err
		}
	}
	return f, expectDelim(dec, '}')
}

// senmlDecMode decodes SenML CBOR strictly: no duplicate map keys and no
// tags, which SenML does not use.
var senmlDecMode = func() cbor.DecMode {
	dm, err := cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		TagsMd:           cbor.TagsForbidden,
		MaxNestedLevels:  16,
		MaxArrayElements: MaxSenMLPayload,
		MaxMapPairs:      MaxSenMLPayload,
		UTF8:             cbor.UTF8RejectInvalid,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}()

// DecodeSenMLCBOR decodes and resolves a SenML CBOR pack (application/
// senml+cbor, content format 112): an array of maps with the integer
// labels of RFC 8428 Table 6 (and the text label vlo), at most
// MaxSenMLRecords of them in at most MaxSenMLPayload bytes.
func DecodeSenMLCBOR(b []byte) ([]SenMLRecord, error) {
	if err := checkPayload(b); err != nil {
		return nil, err
	}
	if b[0]>>5 != 4 { // major type 4: array
		return nil, fmt.Errorf("%w: not an array of records", ErrBadSenML)
	}
	var raws []cbor.RawMessage
	if err := senmlDecMode.Unmarshal(b, &raws); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSenML, cborError(err, "an array of records"))
	}
	if len(raws) > MaxSenMLRecords {
		return nil, fmt.Errorf("%w: %d records, more than %d", ErrBadSenML, len(raws), MaxSenMLRecords)
	}
	packs := make([]senmlFields, len(raws))
	for i, raw := range raws {
		if err := decodeCBORRecord(raw, &packs[i]); err != nil {
			return nil, fmt.Errorf("%w: record %d: %v", ErrBadSenML, i, err)
		}
	}
	return resolveAll(packs)
}

// cborError explains a CBOR decoding error; want is what was expected.
func cborError(err error, want string) error {
	var te *cbor.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("not %s: found a CBOR %s", want, te.CBORType)
	}
	return err
}

func decodeCBORRecord(raw cbor.RawMessage, f *senmlFields) error {
	var m map[any]any
	if err := senmlDecMode.Unmarshal(raw, &m); err != nil {
		return cborError(err, "a map")
	}
	if m == nil {
		return errors.New("not a map: found null")
	}
	for k, v := range m {
		var l senmlLabel
		switch key := k.(type) {
		case uint64:
			if key <= math.MaxInt64 {
				l = cborLabels[int64(key)]
			}
		case int64:
			l = cborLabels[key]
		case string:
			if key == "vlo" {
				l = labelObjectLink
			} else if err := unknown(key); err != nil {
				return err
			}
		default:
			return fmt.Errorf("label of type %T; want an integer or a text string", k)
		}
		if l == labelUnknown {
			continue
		}
		if err := f.set(l, v, false); err != nil {
			return err
		}
	}
	return nil
}

// ResetRecord is the record a device sends to ask for a reset of kind:
// /33050/0/5 with the kind as its value.
func ResetRecord(kind ResetKind) SenMLRecord {
	v := float64(kind)
	return SenMLRecord{Name: PairingResetPath, Value: &v}
}

// ResetRequest finds the Pairing object's Reset resource (/33050/0/5) among
// the records of a Send. ok is false when there is none; a value other
// than 1 (normal) or 2 (factory), or records that disagree, is an error.
func ResetRequest(records []SenMLRecord) (kind ResetKind, ok bool, err error) {
	for i, r := range records {
		if r.Name != PairingResetPath {
			continue
		}
		var k ResetKind
		switch {
		case r.Value == nil:
			return 0, false, fmt.Errorf("%w: record %d: %s needs a numeric value (v)", ErrBadSenML, i, PairingResetPath)
		case *r.Value == float64(ResetNormal):
			k = ResetNormal
		case *r.Value == float64(ResetFactory):
			k = ResetFactory
		default:
			return 0, false, fmt.Errorf("%w: record %d: %s is %v; want 1 (normal reset) or 2 (factory reset)", ErrBadSenML, i, PairingResetPath, *r.Value)
		}
		if ok && k != kind {
			return 0, false, fmt.Errorf("%w: record %d: %s asks for a %v after a %v", ErrBadSenML, i, PairingResetPath, k, kind)
		}
		kind, ok = k, true
	}
	return kind, ok, nil
}
