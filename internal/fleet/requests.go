package fleet

import (
	"bytes"
	"context"
	"fmt"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
)

// objectLinks is what every simulated device announces: Security, Device
// and nbpair's Pairing object, like the device library does.
const objectLinks = "</1/0>,</3/0>,</33050/0>"

// imeiLen is the length of every IMEI.
const imeiLen = 15

// registerTemplate is a Register encoded once, with a zero message ID,
// token and IMEI; imeiAt is where the IMEI starts in it. A Register is
// this template with three fields written over.
var registerTemplate, imeiAt = func() ([]byte, int) {
	var opts message.Options
	buf := make([]byte, 256)
	opts, _, _ = opts.SetPath(buf, "/rd")
	opts = opts.Add(message.Option{ID: message.ContentFormat, Value: []byte{byte(message.AppLinkFormat)}})
	for _, q := range []string{"ep=urn:imei:000000000000000", "lt=86400", "lwm2m=1.1", "b=U"} {
		opts = opts.Add(message.Option{ID: message.URIQuery, Value: []byte(q)})
	}
	b := encode(codes.POST, 0, 0, opts, []byte(objectLinks))
	return b, bytes.Index(b, []byte("urn:imei:")) + len("urn:imei:")
}()

// register sends a Register for imei from device dev's source and returns
// the registration ID of the answer's Location-Path ("" when it has none,
// as from the echo baseline).
func (e *engine) register(ctx context.Context, dev int, imei string) (string, int, error) {
	if len(imei) != imeiLen {
		return "", 0, fmt.Errorf("IMEI %q: want %d digits", imei, imeiLen)
	}
	a, retrans, err := e.roundTrip(ctx, dev, func(mid uint16, token uint32) []byte {
		b := append([]byte(nil), registerTemplate...)
		patchHeader(b, mid, token)
		copy(b[imeiAt:], imei)
		return b
	})
	if err == nil && a.code != codes.Created {
		err = &codeError{a.code}
	}
	return a.location, retrans, err
}

// update sends an Update (POST /rd/ID, no payload) and wants 2.04.
func (e *engine) update(ctx context.Context, dev int, regID string) (int, error) {
	return e.expect(ctx, dev, codes.POST, regID, codes.Changed)
}

// deregister sends a De-register (DELETE /rd/ID) and wants 2.02.
func (e *engine) deregister(ctx context.Context, dev int, regID string) (int, error) {
	return e.expect(ctx, dev, codes.DELETE, regID, codes.Deleted)
}

func (e *engine) expect(ctx context.Context, dev int, code codes.Code, regID string, want codes.Code) (int, error) {
	var opts message.Options
	buf := make([]byte, 64)
	opts, _, _ = opts.SetPath(buf, "/rd/"+regID)
	a, retrans, err := e.roundTrip(ctx, dev, func(mid uint16, token uint32) []byte {
		return encode(code, mid, token, opts, nil)
	})
	if err == nil && a.code != want {
		err = &codeError{a.code}
	}
	return retrans, err
}
