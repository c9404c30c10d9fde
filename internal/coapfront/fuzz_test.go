package coapfront

import (
	"context"
	"log/slog"
	"testing"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"

	"github.com/nbpair/nbpair/internal/coaptx"
)

// FuzzDatagram feeds arbitrary datagrams through the worker's path
// (decode, deduplication, dispatch to a handler that reads every option a
// request handler reads, encode) and the matching of answers to a
// downlink in flight. It must never panic.
func FuzzDatagram(f *testing.F) {
	f.Add(registerMsg(f, message.Confirmable, 1))
	f.Add(registerMsg(f, message.NonConfirmable, 2))
	f.Add(coaptx.AppendEmpty(nil, message.Confirmable, codes.Empty, 3, nil))
	f.Add(coaptx.AppendEmpty(nil, message.Acknowledgement, codes.Changed, 4, []byte{1, 2, 3, 4, 5, 6, 7, 8}))
	f.Add(coaptx.AppendEmpty(nil, message.Confirmable, codes.Content, 5, []byte{1, 2, 3, 4, 5, 6, 7, 8}))
	f.Add([]byte{0x40, 0x02, 0x00, 0x16, 0xff})
	f.Add([]byte{0x48, 0x02, 0x00, 0x16})
	fr, err := Listen("127.0.0.1:0", Config{Workers: 1, QueueLen: 1}, HandlerFunc(func(_ context.Context, req *Request) Response {
		m := req.Msg
		m.Options.Path()
		m.Options.Queries()
		m.Options.ContentFormat()
		m.Options.Accept()
		return Response{Code: codes.Changed, Options: message.Options{{ID: message.LocationPath, Value: m.Token}}, Payload: m.Payload}
	}), slog.New(slog.DiscardHandler))
	if err != nil {
		f.Fatal(err)
	}
	defer fr.Close()
	p := dialPeer(f, fr)
	w := &worker{f: fr, out: make([]byte, 0, MaxDatagram)}
	w.msg.Options = make(message.Options, 0, maxOptions)
	w.req.Msg = &w.msg
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go fr.Exchange(ctx, p.addr(), codes.PUT, nil, nil) // a downlink for answers to match
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > MaxDatagram {
			return
		}
		w.handle(p.addr(), b)
	})
}
