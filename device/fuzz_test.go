package device

import (
	"strings"
	"testing"

	"github.com/plgd-dev/go-coap/v3/message"

	"github.com/nbpair/nbpair/internal/wire"
)

// FuzzDecodeWrite feeds the decoder of the server's Writes (TLV, SenML
// JSON, SenML CBOR, text) arbitrary payloads on every writable path: it
// must refuse or decode, never panic, and what it decodes must be single
// resources of the path it was written to.
func FuzzDecodeWrite(f *testing.F) {
	f.Add(uint16(wire.FormatTLV), 1, []byte(wire.EncodePairingTLV(wire.PairingState{DeviceID: "d", OwnerUID: "u"})))
	f.Add(uint16(wire.FormatSenMLJSON), 1, []byte(`[{"bn":"/33050/0/","n":"2","vs":"u_1"},{"n":"1","v":1}]`))
	f.Add(uint16(wire.FormatSenMLCBOR), 2, []byte("\x81\xa2\x00\x6a/33050/0/2\x03\x63u_1"))
	f.Add(uint16(wire.FormatText), 2, []byte("u_1"))
	f.Add(uint16(wire.FormatText), 3, []byte("12"))
	paths := []objectPath{{wire.PairingObjectID, 0, -1}, {wire.PairingObjectID, 0, 2}, {wire.PairingObjectID, 0, 1}, {wire.PairingObjectID, 0, 4}}
	defs := objectDefs[wire.PairingObjectID]
	f.Fuzz(func(t *testing.T, format uint16, pathIndex int, body []byte) {
		if len(body) > maxWritePayload {
			return
		}
		p := paths[uint(pathIndex)%uint(len(paths))]
		entries, ref := decodeWrite(p, defs, message.MediaType(format), body)
		if ref != nil {
			if ref.msg == "" {
				t.Fatalf("refusal %v without a diagnostic", ref.code)
			}
			return
		}
		for _, e := range entries {
			if e.Kind != wire.TLVResource || p.resource >= 0 && int(e.ID) != p.resource {
				t.Fatalf("write to %v decoded into %+v", p, e)
			}
		}
		if p.resource >= 0 && len(entries) != 1 {
			t.Fatalf("write to %v decoded into %d entries", p, len(entries))
		}
	})
}

// FuzzParseAttributes feeds the Write-Attributes parser arbitrary queries:
// it must refuse or accept, never panic, and never keep a negative or
// oversized period.
func FuzzParseAttributes(f *testing.F) {
	f.Add("pmin=10&pmax=60")
	f.Add("pmin&pmax=1")
	f.Add("gt=5")
	f.Add("pmax=99999999999")
	f.Fuzz(func(t *testing.T, query string) {
		a, err := parseAttributes(noAttributes, strings.Split(query, "&"))
		if err != nil {
			return
		}
		for _, v := range []int64{a.pmin, a.pmax} {
			if v < -1 || v > maxAttributeSeconds {
				t.Fatalf("parseAttributes(%q) = %+v", query, a)
			}
		}
	})
}
