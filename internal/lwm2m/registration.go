package lwm2m

import (
	"context"
	"errors"
	"strings"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"

	"github.com/nbpair/nbpair/internal/pairing"
	"github.com/nbpair/nbpair/internal/wire"
)

// request is a device's request as the registration interface sees it,
// whichever transport brought it: the plain front or a DTLS session.
type request struct {
	code        codes.Code
	confirmable bool
	path        string
	queries     []string
	format      message.MediaType
	hasFormat   bool
	body        []byte
	addr        string       // the source address, host:port
	peer        pairing.Peer // who sent it, as far as the transport knows
}

// response is the answer to a request: a code, the registration's
// Location-Path for a 2.01, and a diagnostic payload (text/plain) for an
// error.
type response struct {
	code       codes.Code
	location   string // registration ID; "" for none
	diagnostic string
	maxAge     uint32 // seconds; with a 5.03, when to try again (RFC 7252, 5.9.3.4); 0 for none
}

// options appends the response's options to opts.
func (r response) options(opts message.Options) message.Options {
	if r.location != "" {
		opts = append(opts, message.Option{ID: message.LocationPath, Value: []byte("rd")},
			message.Option{ID: message.LocationPath, Value: []byte(r.location)})
	}
	if r.diagnostic != "" {
		// text/plain is 0, which a CoAP uint option encodes as no bytes.
		opts = append(opts, message.Option{ID: message.ContentFormat, Value: []byte{}})
	}
	if r.maxAge > 0 {
		opts = append(opts, message.Option{ID: message.MaxAge, Value: uintValue(r.maxAge)})
	}
	return opts
}

// handle routes a device request. The registration interface is small
// enough that a switch reads better than a router.
func (s *Server) handle(ctx context.Context, r *request) response {
	path := r.path
	regID, isReg := strings.CutPrefix(path, "rd/")
	if !isReg {
		regID, isReg = strings.CutPrefix(path, "/rd/")
	}
	regOK := isReg && regID != "" && !strings.Contains(regID, "/")
	var resp response
	var err error
	switch {
	case (path == "rd" || path == "/rd") && r.code == codes.POST:
		resp, err = s.register(ctx, r)
	case regOK && r.code == codes.POST:
		resp, err = s.update(ctx, r, regID)
	case regOK && r.code == codes.DELETE:
		resp, err = s.deregister(ctx, r, regID)
	case (path == "dp" || path == "/dp") && r.code == codes.POST:
		resp, err = s.send(ctx, r)
	case path == "rd" || path == "/rd" || isReg || path == "dp" || path == "/dp":
		err = &coapError{codes.MethodNotAllowed, "method not allowed on " + path}
	default:
		err = &coapError{codes.NotFound, "no resource " + path}
	}
	if err != nil {
		return s.errorResponse(r, err)
	}
	return resp
}

func (s *Server) register(ctx context.Context, r *request) (response, error) {
	if !r.confirmable {
		return response{}, &coapError{codes.BadRequest, "Register must be a confirmable (CON) request"}
	}
	q, err := wire.ParseRegisterQuery(r.queries)
	if err != nil {
		return response{}, err
	}
	objs, ct, err := objectLinks(r, true)
	if err != nil {
		return response{}, err
	}
	reg, err := s.svc.Register(ctx, pairing.RegisterRequest{Query: q, Objects: objs, ContentFormat: ct, Addr: r.addr, Peer: r.peer})
	if err != nil {
		return response{}, err
	}
	s.log.Info("registered", "endpoint", reg.Endpoint, "device_id", reg.DeviceID, "registration", reg.ID,
		"remote_addr", reg.Addr, "lifetime", reg.Lifetime, "queue", reg.QueueMode)
	return response{code: codes.Created, location: reg.ID}, nil
}

func (s *Server) update(ctx context.Context, r *request, regID string) (response, error) {
	q, err := wire.ParseUpdateQuery(r.queries)
	if err != nil {
		return response{}, err
	}
	objs, _, err := objectLinks(r, false)
	if err != nil {
		return response{}, err
	}
	reg, err := s.svc.Update(ctx, pairing.UpdateRequest{
		RegistrationID: regID, Query: q, Objects: objs, Addr: r.addr, Peer: r.peer,
	})
	if err != nil {
		return response{}, err
	}
	s.log.Debug("updated", "endpoint", reg.Endpoint, "device_id", reg.DeviceID, "remote_addr", reg.Addr)
	return response{code: codes.Changed}, nil
}

func (s *Server) deregister(ctx context.Context, r *request, regID string) (response, error) {
	if err := s.svc.Deregister(ctx, regID, r.peer); err != nil {
		return response{}, err
	}
	s.log.Info("de-registered", "registration", regID, "remote_addr", r.addr)
	return response{code: codes.Deleted}, nil
}

// objectLinks reads the link-format payload: the objects, and the content
// formats announced on the root link. Without a payload it returns nil,
// which for an Update means "unchanged".
func objectLinks(r *request, required bool) ([]wire.ObjectLink, string, error) {
	if r.hasFormat && r.format != message.AppLinkFormat {
		return nil, "", &coapError{codes.UnsupportedMediaType, "the object list must be application/link-format (40)"}
	}
	if len(r.body) == 0 {
		if required {
			return nil, "", &coapError{codes.BadRequest, "Register needs a link-format payload listing the client's objects"}
		}
		return nil, "", nil
	}
	links, err := wire.ParseLinkFormat(r.body)
	if err != nil {
		return nil, "", err
	}
	objs, err := wire.ObjectLinks(links)
	if objs == nil && err == nil {
		objs = []wire.ObjectLink{}
	}
	return objs, wire.RootContentFormat(links), err
}

// coapError is an error with the response code it must be answered with.
type coapError struct {
	code codes.Code
	msg  string
}

func (e *coapError) Error() string { return e.msg }

// codeOf maps an error to its CoAP response code; this is the one place
// the domain's errors meet CoAP.
func codeOf(err error) codes.Code {
	var ce *coapError
	switch {
	case errors.As(err, &ce):
		return ce.code
	case errors.Is(err, wire.ErrBadQuery), errors.Is(err, wire.ErrBadLinkFormat), errors.Is(err, wire.ErrBadSenML),
		errors.Is(err, pairing.ErrInvalid):
		return codes.BadRequest
	case errors.Is(err, pairing.ErrUnknownEndpoint), errors.Is(err, pairing.ErrPlainRefused),
		errors.Is(err, pairing.ErrDeviceBlocked):
		return codes.Forbidden
	case errors.Is(err, pairing.ErrNotFound):
		return codes.NotFound
	case errors.Is(err, pairing.ErrStoreFull):
		return codes.ServiceUnavailable
	}
	return codes.InternalServerError
}

// forbiddenPlain is the diagnostic of every 4.03 to plain CoAP.
const forbiddenPlain = "forbidden: a provisioned device registers with its IMEI, over DTLS (coaps) with its PSK unless its product allows plain CoAP; the server's log says why this one was refused"

// maxDiagnostic bounds a diagnostic payload.
const maxDiagnostic = 200

// errorResponse answers with the error's code and, as a diagnostic
// payload (RFC 7252, 5.5.2), a sentence a person can act on.
func (s *Server) errorResponse(r *request, err error) response {
	code := codeOf(err)
	msg := err.Error()
	log := s.log.With("remote_addr", r.addr, "code", code.String())
	switch {
	case code == codes.InternalServerError:
		log.Error("request failed", "err", err)
		msg = "internal error; the request can be retried"
	case errors.Is(err, pairing.ErrStoreFull):
		log.Warn("request refused: the store is full", "err", err)
		return response{code: code, diagnostic: "the server cannot store the request now; nothing was changed; retry after Max-Age seconds",
			maxAge: uint32(pairing.StoreFullRetry.Seconds())}
	case code == codes.Forbidden && !r.peer.Secure:
		// Whether an IMEI is provisioned, and for which product, is not
		// for a sender nobody has authenticated: the log has the reason.
		log.Info("request refused", "err", err)
		msg = forbiddenPlain
	default:
		log.Info("request refused", "err", err)
	}
	if len(msg) > maxDiagnostic {
		msg = msg[:maxDiagnostic]
	}
	return response{code: code, diagnostic: msg}
}
