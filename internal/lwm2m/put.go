package lwm2m

import (
	"bytes"
	"context"
	"fmt"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/mux"

	"github.com/nbpair/nbpair/internal/pairing"
)

// put is the one low-level downlink exchange: a confirmable PUT of body,
// in content format cf, to path on the registered device at its current
// address (over its DTLS session if it registered over DTLS). It returns
// the device's response code, or an error if there was no answer before
// ctx ended.
func (s *Server) put(ctx context.Context, r pairing.Registration, path string, cf message.MediaType, body []byte) (codes.Code, error) {
	cc, err := s.downlinkConn(r)
	if err != nil {
		return 0, err
	}
	resp, err := cc.Put(ctx, path, cf, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("PUT %s to %s: %w", path, r.Addr, err)
	}
	defer cc.ReleaseMessage(resp)
	return resp.Code(), nil
}

// downlinkConn is the connection a downlink to r goes out on: the DTLS
// session the device was last heard on if it registered over DTLS (never
// plain CoAP), else a UDP connection to its current address.
func (s *Server) downlinkConn(r pairing.Registration) (mux.Conn, error) {
	if !r.Secure {
		return s.conn(r.Addr)
	}
	cc, ok := s.sessions.get(r.Endpoint)
	if !ok {
		return nil, fmt.Errorf("%s registered over DTLS and its session has ended; the write waits for its next uplink", r.Endpoint)
	}
	return cc, nil
}
