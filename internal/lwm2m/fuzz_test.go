package lwm2m

import (
	"context"
	"net/netip"
	"testing"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/udp/coder"

	"github.com/nbpair/nbpair/internal/coapfront"
	"github.com/nbpair/nbpair/internal/wire"
)

// FuzzPlainRequest decodes arbitrary datagrams as the front does and
// hands them to the registration interface over a real pairing service on
// SQLite: routing, query and link-format parsing, Send decoding, the call
// into the service and the error mapping must never panic, and every
// confirmable request gets an answer with a response code.
func FuzzPlainRequest(f *testing.F) {
	s, svc, _ := startServer(f, Config{})
	const imei = "868000000000201"
	provision(f, svc, imei)
	f.Add(registerDatagram(f, 1, imei, "</1/0>,</3/0>"))
	f.Add(registerDatagram(f, 2, "999999999999999", "</1/0>"))
	f.Add(registerDatagram(f, 3, imei, "</1/0,</3/0>"))
	objs := []byte("</1/0>,</3/0>,</33050/0>")
	f.Add(blockDatagram(f, 4, imei, objs, 0, 0))
	f.Add(blockDatagram(f, 5, imei, objs, 1, 0))
	f.Add(blockDatagram(f, 6, imei, objs, 3, 0, message.Option{ID: message.Size1, Value: []byte{0xff, 0xff}}))
	for _, m := range []message.Message{
		{Code: codes.POST, Options: message.Options{{ID: message.URIPath, Value: []byte("rd")}, {ID: message.URIPath, Value: []byte("abc")}, {ID: message.URIQuery, Value: []byte("lt=60")}}},
		{Code: codes.DELETE, Options: message.Options{{ID: message.URIPath, Value: []byte("rd")}, {ID: message.URIPath, Value: []byte("abc")}}},
		{Code: codes.POST, Options: message.Options{{ID: message.URIPath, Value: []byte("dp")}, {ID: message.ContentFormat, Value: uintValue(wire.FormatSenMLJSON)}},
			Payload: []byte(`[{"bn":"/33050/0/","n":"5","vs":"normal"}]`)},
		{Code: codes.GET, Options: message.Options{{ID: message.URIPath, Value: []byte(".well-known")}, {ID: message.URIPath, Value: []byte("core")}}},
	} {
		m.Type, m.MessageID, m.Token = message.Confirmable, 9, []byte{1}
		b := make([]byte, 1024)
		n, err := coder.DefaultCoder.Encode(m, b)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[:n])
	}
	from := netip.MustParseAddrPort("127.0.0.1:40000")
	f.Fuzz(func(t *testing.T, b []byte) {
		m := message.Message{Options: make(message.Options, 0, 64)}
		if _, err := coder.DefaultCoder.Decode(b, &m); err != nil || m.Code == codes.Empty || m.Code >= 32 {
			return // the front drops these or does not route them here
		}
		resp := s.servePlain(context.Background(), &coapfront.Request{From: from, Msg: &m})
		if resp.Code == codes.Empty && m.Type != message.Confirmable {
			return // a request refused without an answer (RFC 7252, 4.3)
		}
		if resp.Code < 64 {
			t.Fatalf("answer code %v is not a response code", resp.Code)
		}
	})
}
