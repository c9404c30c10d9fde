package wire

import (
	"encoding/hex"
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

func num(v float64) *float64 { return &v }
func str(s string) *string   { return &s }
func boolean(b bool) *bool   { return &b }

// cborPack encodes a pack written as Go maps, with integer or text labels.
func cborPack(t testing.TB, records ...map[any]any) []byte {
	t.Helper()
	if records == nil {
		records = []map[any]any{}
	}
	b, err := cbor.Marshal(records)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sameRecords compares decoded records, treating nil and empty as equal.
func sameRecords(a, b []SenMLRecord) bool {
	return len(a) == 0 && len(b) == 0 || reflect.DeepEqual(a, b)
}

// sendPacks are real-looking LwM2M Send payloads, each in both encodings.
var sendPacks = map[string]struct {
	json string
	cbor []map[any]any
	want []SenMLRecord
}{
	"reset request as Anjay and Wakaama send it": {
		json: `[{"bn":"/33050/0/","n":"5","v":2}]`,
		cbor: []map[any]any{{-2: "/33050/0/", 0: "5", 2: 2}},
		want: []SenMLRecord{{Name: "/33050/0/5", Value: num(2)}},
	},
	"reset request with full name": {
		json: `[{"n":"/33050/0/5","v":1}]`,
		cbor: []map[any]any{{0: "/33050/0/5", 2: 1}},
		want: []SenMLRecord{{Name: "/33050/0/5", Value: num(1)}},
	},
	"device object and reset request, base time resolution": {
		json: `[{"bn":"/3/0/","bt":1700000000,"n":"0","vs":"nbpair","t":1},
			{"n":"9","v":87,"u":"%"},
			{"bn":"/33050/0/","n":"5","v":2,"t":-5},
			{"bt":1700000100,"n":"5","v":2}]`,
		cbor: []map[any]any{
			{-2: "/3/0/", -3: 1700000000, 0: "0", 3: "nbpair", 6: 1},
			{0: "9", 2: 87, 1: "%"},
			{-2: "/33050/0/", 0: "5", 2: 2, 6: -5},
			{-3: 1700000100, 0: "5", 2: 2},
		},
		want: []SenMLRecord{
			{Name: "/3/0/0", Time: 1700000001, StringValue: str("nbpair")},
			{Name: "/3/0/9", Time: 1700000000, Unit: "%", Value: num(87)},
			{Name: "/33050/0/5", Time: 1699999995, Value: num(2)},
			{Name: "/33050/0/5", Time: 1700000100, Value: num(2)},
		},
	},
	"base unit, base value and base sum": {
		json: `[{"bn":"/3303/0/","bu":"Cel","bv":20,"bs":100,"n":"5700","v":1.5,"s":2},{"n":"5601","v":-3,"u":"K"}]`,
		cbor: []map[any]any{
			{-2: "/3303/0/", -4: "Cel", -5: 20, -6: 100, 0: "5700", 2: 1.5, 5: 2},
			{0: "5601", 2: -3, 1: "K"},
		},
		want: []SenMLRecord{
			{Name: "/3303/0/5700", Unit: "Cel", Value: num(21.5), Sum: num(102)},
			{Name: "/3303/0/5601", Unit: "K", Value: num(17)},
		},
	},
	"boolean, opaque and object link values": {
		json: `[{"bn":"/3/0/","n":"13","vb":true},{"n":"17","vd":"AQL_"},{"n":"22","vlo":"3:0"},{"n":"23","vd":""}]`,
		cbor: []map[any]any{
			{-2: "/3/0/", 0: "13", 4: true},
			{0: "17", 8: []byte{1, 2, 0xff}},
			{0: "22", "vlo": "3:0"},
			{0: "23", 8: []byte{}},
		},
		want: []SenMLRecord{
			{Name: "/3/0/13", BoolValue: boolean(true)},
			{Name: "/3/0/17", DataValue: []byte{1, 2, 0xff}},
			{Name: "/3/0/22", ObjectLink: str("3:0")},
			{Name: "/3/0/23", DataValue: []byte{}},
		},
	},
	"names without values (Read-Composite) and base name alone": {
		json: `[{"n":"/3/0"},{"bn":"/1/0/1"}]`,
		cbor: []map[any]any{{0: "/3/0"}, {-2: "/1/0/1"}},
		want: []SenMLRecord{{Name: "/3/0"}, {Name: "/1/0/1"}},
	},
	"base name reset to empty": {
		json: `[{"bn":"/3/0/","n":"0","vs":"a"},{"bn":"","n":"urn:dev:ow:10e2073a01080063","v":23.1}]`,
		cbor: []map[any]any{{-2: "/3/0/", 0: "0", 3: "a"}, {-2: "", 0: "urn:dev:ow:10e2073a01080063", 2: 23.1}},
		want: []SenMLRecord{
			{Name: "/3/0/0", StringValue: str("a")},
			{Name: "urn:dev:ow:10e2073a01080063", Value: num(23.1)},
		},
	},
	"unknown optional labels and version 10": {
		json: `[{"bver":10,"n":"/3/0/0","vs":"x","foo":{"a":[1,null]},"ut_x":1}]`,
		cbor: []map[any]any{{-1: 10, 0: "/3/0/0", 3: "x", 99: []any{1, nil}, "foo": map[any]any{"a": 1}}},
		want: []SenMLRecord{{Name: "/3/0/0", StringValue: str("x")}},
	},
	"empty pack": {
		json: `[]`,
		cbor: []map[any]any{},
		want: nil,
	},
}

func TestDecodeSenML(t *testing.T) {
	for name, tt := range sendPacks {
		t.Run(name+"/json", func(t *testing.T) {
			got, err := DecodeSenMLJSON([]byte(tt.json))
			if err != nil {
				t.Fatalf("DecodeSenMLJSON: %v", err)
			}
			if !sameRecords(got, tt.want) {
				t.Errorf("got  %s\nwant %s", dump(got), dump(tt.want))
			}
		})
		t.Run(name+"/cbor", func(t *testing.T) {
			got, err := DecodeSenMLCBOR(cborPack(t, tt.cbor...))
			if err != nil {
				t.Fatalf("DecodeSenMLCBOR: %v", err)
			}
			if !sameRecords(got, tt.want) {
				t.Errorf("got  %s\nwant %s", dump(got), dump(tt.want))
			}
		})
	}
}

// dump renders records for failure messages, following the pointers.
func dump(records []SenMLRecord) string {
	var b strings.Builder
	for _, r := range records {
		b.WriteString("{" + r.Name + " t=" + strconv.FormatFloat(r.Time, 'g', -1, 64))
		if r.Unit != "" {
			b.WriteString(" u=" + r.Unit)
		}
		for _, f := range []struct {
			label string
			v     *float64
		}{{"v", r.Value}, {"s", r.Sum}} {
			if f.v != nil {
				b.WriteString(" " + f.label + "=" + strconv.FormatFloat(*f.v, 'g', -1, 64))
			}
		}
		if r.StringValue != nil {
			b.WriteString(" vs=" + strconv.Quote(*r.StringValue))
		}
		if r.ObjectLink != nil {
			b.WriteString(" vlo=" + *r.ObjectLink)
		}
		if r.BoolValue != nil {
			b.WriteString(" vb=" + strconv.FormatBool(*r.BoolValue))
		}
		if r.DataValue != nil {
			b.WriteString(" vd=" + hex.EncodeToString(r.DataValue))
		}
		if r.UpdateTime != 0 {
			b.WriteString(" ut=" + strconv.FormatFloat(r.UpdateTime, 'g', -1, 64))
		}
		b.WriteString("} ")
	}
	return b.String()
}

// handCBOR is [{-2: "/33050/0/", 0: "5", 2: 2, 6: 1.5}] as a client may
// write it by hand: an indefinite-length array and a half-precision time.
var handCBOR = mustHex("9f" + "a4" + "21" + "69" + hex.EncodeToString([]byte("/33050/0/")) +
	"00" + "61" + "35" + "02" + "02" + "06" + "f93e00" + "ff")

func TestDecodeSenMLCBORBytes(t *testing.T) {
	got, err := DecodeSenMLCBOR(handCBOR)
	if err != nil {
		t.Fatal(err)
	}
	want := []SenMLRecord{{Name: "/33050/0/5", Value: num(2), Time: 1.5}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %s, want %s", dump(got), dump(want))
	}
}

func TestDecodeSenMLRejects(t *testing.T) {
	long := strings.Repeat("a", MaxSenMLName)
	many := "[" + strings.Repeat(`{"n":"/3/0/0","v":1},`, MaxSenMLRecords) + `{"n":"/3/0/0","v":1}]`
	manyCBOR := make([]map[any]any, MaxSenMLRecords+1)
	for i := range manyCBOR {
		manyCBOR[i] = map[any]any{0: "/3/0/0", 2: 1}
	}
	big := `[{"n":"/3/0/0","vs":"` + strings.Repeat("x", MaxSenMLPayload) + `"}]`
	tests := map[string]struct {
		json string        // skipped when empty
		cbor []map[any]any // skipped when nil and raw is nil
		raw  []byte        // a CBOR payload that maps cannot express
		want string        // part of the error message
	}{
		"payload too large": {json: big, cbor: []map[any]any{{0: "/3/0/0", 3: strings.Repeat("x", MaxSenMLPayload)}}, want: "larger than"},
		"too many records":  {json: many, cbor: manyCBOR, want: "more than 64"},
		"name too long": {
			json: `[{"bn":"/","n":"` + long + `","v":1}]`,
			cbor: []map[any]any{{-2: "/", 0: long, 2: 1}},
			want: "longer than 255",
		},
		"base name too long": {
			json: `[{"bn":"/` + long + `"},{"n":"x"}]`,
			cbor: []map[any]any{{-2: "/" + long}},
			want: "base name of 256 bytes",
		},
		"two value fields": {
			json: `[{"n":"/33050/0/5","v":2,"vs":"2"}]`,
			cbor: []map[any]any{{0: "/33050/0/5", 2: 2, 3: "2"}},
			want: "more than one value field",
		},
		"number and object link": {
			json: `[{"n":"/3/0/22","v":2,"vlo":"3:0"}]`,
			cbor: []map[any]any{{0: "/3/0/22", 2: 2, "vlo": "3:0"}},
			want: "more than one value field",
		},
		"NaN value":           {cbor: []map[any]any{{0: "/3/0/9", 2: math.NaN()}}, want: "not a finite number"},
		"infinite time":       {cbor: []map[any]any{{0: "/3/0/9", 2: 1, 6: math.Inf(-1)}}, want: "not a finite number"},
		"number out of range": {json: `[{"n":"/3/0/9","v":1e400}]`, want: "1e400"},
		"time overflows in resolution": {
			json: `[{"bt":1e308,"n":"/3/0/9","v":1,"t":1e308}]`,
			cbor: []map[any]any{{-3: 1e308, 0: "/3/0/9", 2: 1, 6: 1e308}},
			want: "t is +Inf after resolution",
		},
		"missing name": {
			json: `[{"v":1}]`,
			cbor: []map[any]any{{2: 1}},
			want: "no name",
		},
		"base name cleared": {
			json: `[{"bn":"/3/0/","n":"0","v":1},{"bn":"","v":2}]`,
			cbor: []map[any]any{{-2: "/3/0/", 0: "0", 2: 1}, {-2: "", 2: 2}},
			want: "record 1: no name",
		},
		"bad name characters": {
			json: `[{"n":"/3/0/0 x","v":1}]`,
			cbor: []map[any]any{{0: "/3/0/0?", 2: 1}},
			want: "outside letters",
		},
		"unknown mandatory label": {
			json: `[{"n":"/3/0/0","v":1,"foo_":1}]`,
			cbor: []map[any]any{{0: "/3/0/0", 2: 1, "foo_": 1}},
			want: `"foo_" must be understood`,
		},
		"version beyond 10": {
			json: `[{"bver":11,"n":"/3/0/0","v":1}]`,
			cbor: []map[any]any{{-1: 11, 0: "/3/0/0", 2: 1}},
			want: "bver 11",
		},
		"name is a number": {
			json: `[{"n":5,"v":1}]`,
			cbor: []map[any]any{{0: 5, 2: 1}},
			want: "label n: a number is not a string",
		},
		"value is a string": {
			json: `[{"n":"/3/0/0","v":"1"}]`,
			cbor: []map[any]any{{0: "/3/0/0", 2: "1"}},
			want: "label v: a string is not a number",
		},
		"value is null": {
			json: `[{"n":"/3/0/0","v":null}]`,
			cbor: []map[any]any{{0: "/3/0/0", 2: nil}},
			want: "label v: null is not a number",
		},
		"boolean is a number": {
			json: `[{"n":"/3/0/0","vb":1}]`,
			cbor: []map[any]any{{0: "/3/0/0", 4: 1}},
			want: "label vb",
		},
		"opaque value of the wrong kind": {
			json: `[{"n":"/3/0/0","vd":"***"}]`,
			cbor: []map[any]any{{0: "/3/0/0", 8: "AQI"}},
			want: "label vd",
		},
		"label twice": {
			json: `[{"n":"/3/0/0","v":1,"v":2}]`,
			want: "twice",
		},
		"CBOR duplicate key": {
			raw:  mustHex("81a2006161006162"), // [{0: "a", 0: "b"}]
			want: "duplicate",
		},
		"not an array": {
			json: `{"n":"/3/0/0","v":1}`,
			cbor: nil,
			raw:  mustHex("a2006233300201"), // {0: "30", 2: 1}
			want: "not an array",
		},
		"array of numbers": {
			json: `[1]`,
			raw:  mustHex("8101"),
			want: "record 0: not a",
		},
		"array of arrays": {
			json: `[[{"n":"/3/0/0"}]]`,
			raw:  mustHex("8181a1006130"),
			want: "record 0: not a",
		},
		"null": {
			json: `null`,
			raw:  mustHex("f6"),
			want: "not an array",
		},
		"record is null": {
			json: `[null]`,
			raw:  mustHex("81f6"),
			want: "record 0: not a",
		},
		"empty payload": {
			json: " ",
			raw:  []byte{},
			want: "",
		},
		"data after the array": {
			json: `[]{}`,
			raw:  mustHex("8080"),
			want: "",
		},
		"cut short": {
			json: `[{"n":"/3/0/0"`,
			raw:  mustHex("81a10066"),
			want: "",
		},
		"CBOR tag": {
			raw:  mustHex("81a200613002c11a65000000"), // 2: 1(...)
			want: "",
		},
		"CBOR invalid UTF-8": {
			raw:  mustHex("81a1006280ff"),
			want: "",
		},
		"CBOR label that is neither integer nor text": {
			raw:  mustHex("81a2f5010061" + "30"), // {true: 1, 0: "0"}
			want: "label of type",
		},
	}
	for name, tt := range tests {
		if tt.json != "" {
			t.Run(name+"/json", func(t *testing.T) {
				got, err := DecodeSenMLJSON([]byte(tt.json))
				checkRejected(t, got, err, tt.want)
			})
		}
		if tt.cbor != nil || tt.raw != nil {
			t.Run(name+"/cbor", func(t *testing.T) {
				payload := tt.raw
				if payload == nil {
					payload = cborPack(t, tt.cbor...)
				}
				got, err := DecodeSenMLCBOR(payload)
				checkRejected(t, got, err, tt.want)
			})
		}
	}
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func checkRejected(t *testing.T, got []SenMLRecord, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted: %s", dump(got))
	}
	t.Log(err)
	if !errors.Is(err, ErrBadSenML) {
		t.Errorf("error %v does not wrap ErrBadSenML", err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
}

func TestEncodeSenML(t *testing.T) {
	reset := []SenMLRecord{ResetRecord(ResetFactory)}
	js, err := EncodeSenMLJSON(reset)
	if err != nil {
		t.Fatal(err)
	}
	if want := `[{"bn":"/33050/0/","n":"5","v":2}]`; string(js) != want {
		t.Errorf("JSON = %s, want %s", js, want)
	}
	cb, err := EncodeSenMLCBOR(reset)
	if err != nil {
		t.Fatal(err)
	}
	// [{-2: "/33050/0/", 0: "5", 2: 2}]
	if want := "81a3" + "21" + "69" + hex.EncodeToString([]byte("/33050/0/")) + "00" + "6135" + "0202"; hex.EncodeToString(cb) != want {
		t.Errorf("CBOR = %x, want %s", cb, want)
	}

	mixed := []SenMLRecord{
		{Name: "/3/0/0", StringValue: str("nbpair"), Time: 1700000000},
		{Name: "/3/0/9", Value: num(87.5), Unit: "%"},
		{Name: "/33050/0/5", Value: num(1)},
		{Name: "urn:dev:1", BoolValue: boolean(false)},
	}
	js, err = EncodeSenMLJSON(mixed)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"bn":"/3/0/","n":"0","vs":"nbpair","t":1700000000},{"n":"9","u":"%","v":87.5},` +
		`{"bn":"/33050/0/","n":"5","v":1},{"bn":"","n":"urn:dev:1","vb":false}]`
	if string(js) != want {
		t.Errorf("JSON =\n%s, want\n%s", js, want)
	}
}

// roundTripRecords are valid records that both encoders must carry intact.
var roundTripRecords = map[string][]SenMLRecord{
	"empty":          {},
	"reset request":  {ResetRecord(ResetNormal)},
	"zero and minus": {{Name: "/1/0/1", Value: num(0)}, {Name: "/1/0/2", Value: num(math.Copysign(0, -1))}, {Name: "/1/0/3", Value: num(-7)}},
	"floats": {
		{Name: "/3303/0/5700", Value: num(21.5), Time: 1700000000.25, Unit: "Cel"},
		{Name: "/3303/0/5700", Value: num(0.1), Sum: num(1e300), UpdateTime: 60},
		{Name: "/3303/0/5700", Value: num(-1e-300), Time: -30},
		{Name: "/3303/0/5700", Value: num(math.MaxInt64), Sum: num(math.MinInt64)},
		{Name: "/3303/0/5700", Value: num(float64(1 << 53)), Time: 1e20},
	},
	"every value kind": {
		{Name: "/3/0/0", StringValue: str(`quotes " and \ and <html> & ünïcödé`)},
		{Name: "/3/0/13", BoolValue: boolean(true)},
		{Name: "/3/0/17", DataValue: []byte{0, 1, 0xfe, 0xff}},
		{Name: "/3/0/18", DataValue: []byte{}},
		{Name: "/3/0/22", ObjectLink: str("3:0")},
		{Name: "/3/0/23", StringValue: str("")},
		{Name: "/3/0"},
	},
	"names without a slash and ending in one": {
		{Name: "a", Value: num(1)}, {Name: "/x/", Value: num(2)}, {Name: "b", Value: num(3)}, {Name: "/", Value: num(4)},
	},
}

func TestSenMLRoundTrip(t *testing.T) {
	for name, records := range roundTripRecords {
		t.Run(name, func(t *testing.T) {
			js, err := EncodeSenMLJSON(records)
			if err != nil {
				t.Fatalf("EncodeSenMLJSON: %v", err)
			}
			back, err := DecodeSenMLJSON(js)
			if err != nil {
				t.Fatalf("DecodeSenMLJSON(%s): %v", js, err)
			}
			if !sameRecords(back, records) {
				t.Errorf("JSON %s\ngot  %s\nwant %s", js, dump(back), dump(records))
			}
			cb, err := EncodeSenMLCBOR(records)
			if err != nil {
				t.Fatalf("EncodeSenMLCBOR: %v", err)
			}
			back, err = DecodeSenMLCBOR(cb)
			if err != nil {
				t.Fatalf("DecodeSenMLCBOR(%x): %v", cb, err)
			}
			if !sameRecords(back, records) {
				t.Errorf("CBOR %x\ngot  %s\nwant %s", cb, dump(back), dump(records))
			}
		})
	}
}

func TestEncodeSenMLRejects(t *testing.T) {
	many := make([]SenMLRecord, MaxSenMLRecords+1)
	for i := range many {
		many[i] = ResetRecord(ResetNormal)
	}
	large := make([]SenMLRecord, MaxSenMLRecords)
	for i := range large {
		large[i] = SenMLRecord{Name: "/3/0/0", StringValue: str(strings.Repeat("x", 100))}
	}
	tests := map[string]struct {
		records []SenMLRecord
		want    string
	}{
		"two values":        {[]SenMLRecord{{Name: "/3/0/0", Value: num(1), BoolValue: boolean(true)}}, "more than one value"},
		"NaN":               {[]SenMLRecord{{Name: "/3/0/0", Value: num(math.NaN())}}, "finite"},
		"infinite time":     {[]SenMLRecord{{Name: "/3/0/0", Time: math.Inf(1)}}, "finite"},
		"no name":           {[]SenMLRecord{{Value: num(1)}}, "no name"},
		"bad name":          {[]SenMLRecord{{Name: "/3/0/0\n", Value: num(1)}}, "outside letters"},
		"long name":         {[]SenMLRecord{{Name: "/" + strings.Repeat("1", MaxSenMLName)}}, "longer than"},
		"not UTF-8":         {[]SenMLRecord{{Name: "/3/0/0", StringValue: str("\xff")}}, "not UTF-8"},
		"too many records":  {many, "more than 64"},
		"encoding too long": {large, "larger than 4096"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			for format, encode := range map[string]func([]SenMLRecord) ([]byte, error){
				"json": EncodeSenMLJSON, "cbor": EncodeSenMLCBOR,
			} {
				b, err := encode(tt.records)
				if err == nil {
					t.Fatalf("%s: encoded %q", format, b)
				}
				if !errors.Is(err, ErrBadSenML) || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("%s: error %q, want ErrBadSenML saying %q", format, err, tt.want)
				}
			}
		})
	}
}

func TestResetRequest(t *testing.T) {
	device := []SenMLRecord{{Name: "/3/0/0", StringValue: str("nbpair")}, {Name: "/3/0/9", Value: num(87)}}
	tests := map[string]struct {
		records []SenMLRecord
		kind    ResetKind
		ok      bool
		err     string
	}{
		"normal":                  {[]SenMLRecord{ResetRecord(ResetNormal)}, ResetNormal, true, ""},
		"factory among others":    {append(device[:2:2], ResetRecord(ResetFactory)), ResetFactory, true, ""},
		"twice, the same":         {[]SenMLRecord{ResetRecord(ResetFactory), ResetRecord(ResetFactory)}, ResetFactory, true, ""},
		"none":                    {device, 0, false, ""},
		"empty":                   {nil, 0, false, ""},
		"other instance":          {[]SenMLRecord{{Name: "/33050/1/5", Value: num(2)}}, 0, false, ""},
		"value 0":                 {[]SenMLRecord{{Name: PairingResetPath, Value: num(0)}}, 0, false, "is 0; want 1"},
		"value 3":                 {[]SenMLRecord{{Name: PairingResetPath, Value: num(3)}}, 0, false, "is 3; want 1"},
		"value 1.5":               {[]SenMLRecord{{Name: PairingResetPath, Value: num(1.5)}}, 0, false, "is 1.5"},
		"string value":            {[]SenMLRecord{{Name: PairingResetPath, StringValue: str("2")}}, 0, false, "needs a numeric value"},
		"no value":                {[]SenMLRecord{{Name: PairingResetPath}}, 0, false, "needs a numeric value"},
		"normal and factory":      {[]SenMLRecord{ResetRecord(ResetNormal), ResetRecord(ResetFactory)}, 0, false, "factory reset after a normal reset"},
		"bad value after a valid": {[]SenMLRecord{ResetRecord(ResetNormal), {Name: PairingResetPath, Value: num(-1)}}, 0, false, "is -1"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			kind, ok, err := ResetRequest(tt.records)
			if tt.err != "" {
				if err == nil || !errors.Is(err, ErrBadSenML) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ResetRequest() error = %v, want ErrBadSenML saying %q", err, tt.err)
				}
				return
			}
			if err != nil || kind != tt.kind || ok != tt.ok {
				t.Errorf("ResetRequest() = %v, %v, %v; want %v, %v, nil", kind, ok, err, tt.kind, tt.ok)
			}
		})
	}
}

func TestResetRequestFromPayloads(t *testing.T) {
	for _, payload := range []string{
		`[{"bn":"/33050/0/","n":"5","v":2}]`,
		`[{"bn":"/3/0/","n":"0","vs":"nbpair"},{"bn":"/33050/0/","n":"5","v":2}]`,
		`[{"bn":"/33050/0/","n":"0","vs":"dev_1"},{"n":"5","v":2.0}]`,
		`[{"bn":"/33050/","n":"0/5","v":2e0}]`,
	} {
		records, err := DecodeSenMLJSON([]byte(payload))
		if err != nil {
			t.Fatalf("%s: %v", payload, err)
		}
		if kind, ok, err := ResetRequest(records); kind != ResetFactory || !ok || err != nil {
			t.Errorf("%s: ResetRequest() = %v, %v, %v; want factory reset", payload, kind, ok, err)
		}
	}
}

func TestResetKindString(t *testing.T) {
	for kind, want := range map[ResetKind]string{ResetNormal: "normal reset", ResetFactory: "factory reset", 7: "reset kind 7"} {
		if got := kind.String(); got != want {
			t.Errorf("ResetKind(%d).String() = %q, want %q", int64(kind), got, want)
		}
	}
	if PairingResetPath != "/"+strconv.Itoa(PairingObjectID)+"/0/"+strconv.Itoa(PairingResReset) {
		t.Errorf("PairingResetPath %q does not match the object and resource IDs", PairingResetPath)
	}
}

// checkSenMLProperties is the property both fuzzers check of an accepted
// payload: the bounds hold, and the records survive encoding to JSON and to
// CBOR and decoding again unchanged.
func checkSenMLProperties(t *testing.T, payload []byte, records []SenMLRecord) {
	if len(payload) > MaxSenMLPayload || len(records) > MaxSenMLRecords {
		t.Fatalf("accepted %d bytes holding %d records", len(payload), len(records))
	}
	for i := range records {
		if err := records[i].check(); err != nil || len(records[i].Name) > MaxSenMLName {
			t.Fatalf("record %d (%s) fails its own check: %v", i, dump(records[i:i+1]), err)
		}
	}
	for format, codec := range map[string]struct {
		encode func([]SenMLRecord) ([]byte, error)
		decode func([]byte) ([]SenMLRecord, error)
	}{
		"json": {appendSenMLJSON, DecodeSenMLJSON},
		"cbor": {appendSenMLCBOR, DecodeSenMLCBOR},
	} {
		b, err := codec.encode(records)
		if err != nil {
			t.Fatalf("%s: encoding accepted records %s: %v", format, dump(records), err)
		}
		if len(b) > MaxSenMLPayload {
			continue // base fields saved the original its space; nothing to decode
		}
		back, err := codec.decode(b)
		if err != nil {
			t.Fatalf("%s: decoding %q (re-encoded from %q): %v", format, b, payload, err)
		}
		if !sameRecords(back, records) {
			t.Fatalf("%s round trip of %q\n got %s\nwant %s", format, payload, dump(back), dump(records))
		}
	}
}

func FuzzDecodeSenMLJSON(f *testing.F) {
	for _, tt := range sendPacks {
		f.Add([]byte(tt.json))
	}
	for _, s := range []string{
		`[{"bn":"/3/0/","n":"0","v":1,"vs":"x"}]`,
		`[{"bt":1e308,"n":"x","t":1e308}]`,
		`[{"n":"/3/0/0","vd":"AQI="},{"n":"x_","foo_":1}]`,
		`[{"bver":10,"bn":"a","bu":"m","bv":1.5,"bs":-2,"v":0.5,"s":1,"ut":3}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		records, err := DecodeSenMLJSON(payload)
		if err != nil {
			if !errors.Is(err, ErrBadSenML) {
				t.Fatalf("error %v does not wrap ErrBadSenML", err)
			}
			return
		}
		checkSenMLProperties(t, payload, records)
	})
}

func FuzzDecodeSenMLCBOR(f *testing.F) {
	for _, tt := range sendPacks {
		f.Add(cborPack(f, tt.cbor...))
	}
	f.Add(handCBOR)
	f.Add(cborPack(f, map[any]any{0: "/3/0/0", 2: math.NaN()}, map[any]any{"x_": 1}))
	f.Add(cborPack(f, map[any]any{-1: 10, -2: "a", -4: "m", -5: 1.5, -6: -2, 2: 0.5, 5: 1, 7: 3, 8: []byte{1}}))
	f.Fuzz(func(t *testing.T, payload []byte) {
		records, err := DecodeSenMLCBOR(payload)
		if err != nil {
			if !errors.Is(err, ErrBadSenML) {
				t.Fatalf("error %v does not wrap ErrBadSenML", err)
			}
			return
		}
		checkSenMLProperties(t, payload, records)
	})
}
