package device

import (
	"testing"

	"github.com/plgd-dev/go-coap/v3/message"

	"github.com/nbpair/nbpair/internal/wire"
)

// BenchmarkEncodeRead measures the answer to a Read of the Pairing object
// instance in each format the device writes.
func BenchmarkEncodeRead(b *testing.B) {
	res := pairingResources(wire.PairingState{DeviceID: "dev_0123456789", State: wire.BindBound, OwnerUID: "u_42", HomeID: "h_7"})
	p := objectPath{wire.PairingObjectID, 0, -1}
	for _, f := range []message.MediaType{formatTLV, formatSenMLJSON, formatSenMLCBOR} {
		b.Run(formatName(f), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, ref := encodeRead(p, res, f, true); ref != nil {
					b.Fatal(ref.msg)
				}
			}
		})
	}
}

// BenchmarkDecodeWrite measures the decoding of a Write of the whole
// Pairing object in each format the device reads.
func BenchmarkDecodeWrite(b *testing.B) {
	res := pairingResources(wire.PairingState{DeviceID: "dev_0123456789", State: wire.BindBound, OwnerUID: "u_42", HomeID: "h_7"})
	p := objectPath{wire.PairingObjectID, 0, -1}
	defs := objectDefs[wire.PairingObjectID]
	for _, f := range []message.MediaType{formatTLV, formatSenMLJSON, formatSenMLCBOR} {
		_, body, _ := encodeRead(p, res, f, true)
		b.Run(formatName(f), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ref := decodeWrite(p, defs, f, body); ref != nil {
					b.Fatal(ref.msg)
				}
			}
		})
	}
}
