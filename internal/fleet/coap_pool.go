package fleet

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/message/pool"
	"github.com/plgd-dev/go-coap/v3/mux"
	"github.com/plgd-dev/go-coap/v3/options"
	"github.com/plgd-dev/go-coap/v3/pkg/runner/periodic"
	"github.com/plgd-dev/go-coap/v3/udp"
	"github.com/plgd-dev/go-coap/v3/udp/client"
)

// objectLinks is what every simulated device announces: Security, Device
// and nbpair's Pairing object, like the device library does.
const objectLinks = "</1/0>,</3/0>,</33050/0>"

// retransmitTick is how often go-coap's timer looks for requests to
// retransmit (its default is 4 s, too coarse to retransmit on time).
const retransmitTick = 50 * time.Millisecond

// coapPool is the fixed set of UDP sockets the simulated devices share:
// one go-coap client connection per socket, each allowed perSocket
// requests in flight (its NSTART: every device behind it is one CoAP
// endpoint with NSTART 1 of its own).
type coapPool struct {
	conns []*client.Conn
	// timeout bounds one request with its retransmissions.
	timeout time.Duration
	stop    context.CancelFunc
}

// dialPool opens sockets connections to addr. Requests to a device's
// Pairing object (the server's Write after a Register) are answered 2.04,
// anything else 4.04, as a device would.
func dialPool(addr string, sockets, perSocket int, t Transmission) (*coapPool, error) {
	ctx, stop := context.WithCancel(context.Background())
	p := &coapPool{timeout: t.maxTransmitWait(), stop: stop}
	runner := periodic.New(ctx.Done(), retransmitTick)
	for range sockets {
		cc, err := udp.Dial(addr,
			options.WithTransmission(uint32(perSocket), t.ACKTimeout, uint32(t.MaxRetransmit), 1),
			options.WithPeriodicRunner(runner),
			options.WithMux(mux.HandlerFunc(answerDownlink)),
			options.WithErrors(func(error) {}),
		)
		if err != nil {
			p.close()
			return nil, fmt.Errorf("dial %s: %w", addr, err)
		}
		p.conns = append(p.conns, cc)
	}
	return p, nil
}

func (p *coapPool) close() {
	for _, cc := range p.conns {
		cc.Close()
	}
	p.stop()
}

// conn is the socket worker w sends on.
func (p *coapPool) conn(w int) *client.Conn { return p.conns[w%len(p.conns)] }

// answerDownlink answers the server's requests to a simulated device.
func answerDownlink(w mux.ResponseWriter, r *mux.Message) {
	path, _ := r.Path()
	code := codes.NotFound
	if (r.Code() == codes.PUT || r.Code() == codes.POST) && strings.Trim(path, "/") == "33050/0" {
		code = codes.Changed
	}
	w.SetResponse(code, message.TextPlain, nil)
}

// register sends a Register for imei and returns the registration ID
// from the answer's Location-Path.
func (p *coapPool) register(ctx context.Context, cc *client.Conn, imei string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	resp, err := cc.Post(ctx, "/rd", message.AppLinkFormat, strings.NewReader(objectLinks),
		message.Option{ID: message.URIQuery, Value: []byte("ep=urn:imei:" + imei)},
		message.Option{ID: message.URIQuery, Value: []byte("lt=86400")},
		message.Option{ID: message.URIQuery, Value: []byte("lwm2m=1.1")},
		message.Option{ID: message.URIQuery, Value: []byte("b=U")})
	if err != nil {
		return "", err
	}
	defer cc.ReleaseMessage(resp)
	if resp.Code() != codes.Created {
		return "", &codeError{resp.Code()}
	}
	loc, err := resp.Options().LocationPath()
	if err != nil {
		return "", fmt.Errorf("register answered without Location-Path: %w", err)
	}
	return strings.TrimPrefix(strings.Trim(loc, "/"), "rd/"), nil
}

// update sends an Update (POST /rd/ID, no payload) and wants 2.04.
func (p *coapPool) update(ctx context.Context, cc *client.Conn, regID string) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	resp, err := cc.Post(ctx, "/rd/"+regID, message.AppLinkFormat, nil)
	return p.expect(cc, resp, err, codes.Changed)
}

// deregister sends a De-register (DELETE /rd/ID) and wants 2.02.
func (p *coapPool) deregister(ctx context.Context, cc *client.Conn, regID string) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	resp, err := cc.Delete(ctx, "/rd/"+regID)
	return p.expect(cc, resp, err, codes.Deleted)
}

func (p *coapPool) expect(cc *client.Conn, resp *pool.Message, err error, want codes.Code) error {
	if err != nil {
		return err
	}
	defer cc.ReleaseMessage(resp)
	if resp.Code() != want {
		return &codeError{resp.Code()}
	}
	return nil
}
