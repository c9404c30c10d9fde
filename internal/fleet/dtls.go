package fleet

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/pion/dtls/v3"
	dtlsnet "github.com/pion/dtls/v3/pkg/net"
	coapdtls "github.com/plgd-dev/go-coap/v3/dtls"
	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/message/pool"
	"github.com/plgd-dev/go-coap/v3/mux"
	"github.com/plgd-dev/go-coap/v3/options"
	"github.com/plgd-dev/go-coap/v3/pkg/runner/periodic"
	udpclient "github.com/plgd-dev/go-coap/v3/udp/client"
)

// retransmitTick is how often go-coap's timer looks for DTLS requests to
// retransmit (its default, 4 s, is too coarse to retransmit on time).
const retransmitTick = 50 * time.Millisecond

// dtlsCipherSuites are the suites nbpair's devices offer.
var dtlsCipherSuites = []dtls.CipherSuiteID{dtls.TLS_PSK_WITH_AES_128_CCM_8, dtls.TLS_PSK_WITH_AES_128_CBC_SHA256}

// runDTLS runs cfg.Scenario over DTLS-PSK: every device has its own
// socket and session, keyed with its PSK from the factory CSV. A
// Register's latency includes its device's handshake. The sessions are
// go-coap DTLS client connections, so the generator's cost per request is
// go-coap's and pion's, not the plain engine's, and its retransmissions
// are not counted.
func runDTLS(ctx context.Context, cfg Config, devs []FactoryRow) (Result, error) {
	addr, stop, err := cfg.route(cfg.DTLSAddr)
	if err != nil {
		return Result{}, err
	}
	defer stop()
	raddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return Result{}, err
	}
	rctx, stopRunner := context.WithCancel(context.Background())
	defer stopRunner()
	runner := periodic.New(rctx.Done(), retransmitTick)
	sessions := make([]*udpclient.Conn, len(devs))
	defer func() {
		for _, cc := range sessions {
			if cc != nil {
				cc.Close()
			}
		}
	}()
	regIDs := make([]string, len(devs))
	name := "nbpair " + string(cfg.Scenario) + " (dtls)"
	regName := name
	if cfg.Scenario != Register {
		regName = "nbpair register (dtls, setup)"
	}
	reg := drive(ctx, cfg, nil, regName, len(devs), 0, 0, func(ctx context.Context, _, i int) (int, error) {
		cc, err := dialDTLS(ctx, raddr, devs[i], cfg.Transmission, runner)
		if err != nil {
			return 0, err
		}
		sessions[i] = cc
		regIDs[i], err = dtlsRegister(ctx, cc, devs[i].IMEI, cfg.Transmission)
		return 0, err
	})
	reg.Sockets = len(devs)
	if cfg.Scenario == Register {
		return reg, nil
	}
	if n := reg.Failed(); n > 0 {
		return reg, fmt.Errorf("%d of %d DTLS Registers before the %s failed: %s", n, len(devs), cfg.Scenario, FormatErrors(reg.Errors))
	}
	var r Result
	if cfg.Scenario == Update {
		r = drive(ctx, cfg, nil, name, 0, cfg.Duration, cfg.Rate, func(ctx context.Context, _, i int) (int, error) {
			i %= len(devs)
			return 0, dtlsCall(ctx, sessions[i], codes.POST, regIDs[i], codes.Changed, cfg.Transmission)
		})
	} else {
		r = drive(ctx, cfg, nil, name, len(devs), 0, 0, func(ctx context.Context, _, i int) (int, error) {
			return 0, dtlsCall(ctx, sessions[i], codes.DELETE, regIDs[i], codes.Deleted, cfg.Transmission)
		})
	}
	r.Sockets = len(devs)
	return r, nil
}

// dialDTLS opens a device's socket and DTLS session.
func dialDTLS(ctx context.Context, raddr *net.UDPAddr, d FactoryRow, t Transmission, runner periodic.Func) (*udpclient.Conn, error) {
	sock, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		return nil, err
	}
	psk := d.PSK
	conn, err := dtls.ClientWithOptions(dtlsnet.PacketConnFromConn(sock), raddr,
		dtls.WithPSK(func([]byte) ([]byte, error) { return psk, nil }),
		dtls.WithPSKIdentityHint([]byte(d.PSKIdentity)),
		dtls.WithCipherSuites(dtlsCipherSuites...),
		dtls.WithConnectionIDGenerator(dtls.OnlySendCIDGenerator()))
	if err != nil {
		sock.Close()
		return nil, err
	}
	hctx, cancel := context.WithTimeout(ctx, t.maxTransmitWait())
	defer cancel()
	if err := conn.HandshakeContext(hctx); err != nil {
		conn.Close()
		sock.Close()
		return nil, fmt.Errorf("DTLS handshake as %q: %w", d.PSKIdentity, err)
	}
	return coapdtls.Client(conn,
		options.WithTransmission(1, t.ACKTimeout, uint32(t.MaxRetransmit), 1),
		options.WithPeriodicRunner(runner),
		options.WithMux(mux.HandlerFunc(answerDownlink)),
		options.WithErrors(func(error) {}),
		options.WithCloseSocket()), nil
}

// answerDownlink answers the server's requests to a DTLS device as the
// plain engine does.
func answerDownlink(w mux.ResponseWriter, r *mux.Message) {
	path, _ := r.Path()
	code := codes.NotFound
	if (r.Code() == codes.PUT || r.Code() == codes.POST) && strings.Trim(path, "/") == "33050/0" {
		code = codes.Changed
	}
	w.SetResponse(code, message.TextPlain, nil)
}

// dtlsRegister sends a device's Register and returns its registration ID.
func dtlsRegister(ctx context.Context, cc *udpclient.Conn, imei string, t Transmission) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, t.maxTransmitWait())
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

// dtlsCall sends an Update (POST) or De-register (DELETE) of a
// registration and wants the code want.
func dtlsCall(ctx context.Context, cc *udpclient.Conn, method codes.Code, regID string, want codes.Code, t Transmission) error {
	ctx, cancel := context.WithTimeout(ctx, t.maxTransmitWait())
	defer cancel()
	var resp *pool.Message
	var err error
	if method == codes.DELETE {
		resp, err = cc.Delete(ctx, "/rd/"+regID)
	} else {
		resp, err = cc.Post(ctx, "/rd/"+regID, message.AppLinkFormat, nil)
	}
	if err != nil {
		return err
	}
	defer cc.ReleaseMessage(resp)
	if resp.Code() != want {
		return &codeError{resp.Code()}
	}
	return nil
}
