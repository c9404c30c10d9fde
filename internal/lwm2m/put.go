package lwm2m

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"

	"github.com/nbpair/nbpair/internal/pairing"
)

// put is the one low-level downlink exchange: a confirmable PUT of body
// (in content format cf) to path on the device of r, and the code the
// device answered. A device that registered over DTLS is reached through
// its DTLS session (never plain CoAP); any other through the plain front
// at its current address, with RFC 7252 retransmission. It returns when
// the device answers, the exchange times out, or ctx is done.
func (s *Server) put(ctx context.Context, r pairing.Registration, path string, cf message.MediaType, body []byte) (codes.Code, error) {
	if r.Secure {
		return s.putSecure(ctx, r, path, cf, body)
	}
	to, err := netip.ParseAddrPort(r.Addr)
	if err != nil {
		return 0, fmt.Errorf("device address %q: %w", r.Addr, err)
	}
	to = netip.AddrPortFrom(to.Addr().Unmap(), to.Port())
	s.mu.Lock()
	front := s.front
	s.mu.Unlock()
	if front == nil {
		return 0, fmt.Errorf("put %s to %s: the CoAP socket is not open", path, r.Addr)
	}
	reply, err := front.Exchange(ctx, to, codes.PUT, requestOptions(path, cf), body)
	if err != nil {
		return 0, fmt.Errorf("PUT %s to %s: %w", path, r.Addr, err)
	}
	return reply.Code, nil
}

// putSecure sends the PUT through the DTLS session the device was last
// heard on.
func (s *Server) putSecure(ctx context.Context, r pairing.Registration, path string, cf message.MediaType, body []byte) (codes.Code, error) {
	cc, ok := s.sessions.get(r.Endpoint)
	if !ok {
		return 0, fmt.Errorf("%s registered over DTLS and its session has ended; the write waits for its next uplink", r.Endpoint)
	}
	resp, err := cc.Put(ctx, path, cf, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("PUT %s to %s: %w", path, r.Addr, err)
	}
	defer cc.ReleaseMessage(resp)
	return resp.Code(), nil
}

// requestOptions are the Uri-Path options of path and the Content-Format
// cf, in option order.
func requestOptions(path string, cf message.MediaType) message.Options {
	var opts message.Options
	for seg := range strings.SplitSeq(strings.Trim(path, "/"), "/") {
		opts = append(opts, message.Option{ID: message.URIPath, Value: []byte(seg)})
	}
	return append(opts, message.Option{ID: message.ContentFormat, Value: uintValue(uint32(cf))})
}

// uintValue encodes a CoAP uint option value in as few bytes as it needs.
func uintValue(v uint32) []byte {
	var b []byte
	for v > 0 {
		b = append([]byte{byte(v)}, b...)
		v >>= 8
	}
	return b
}
