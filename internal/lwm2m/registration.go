package lwm2m

import (
	"bytes"
	"errors"
	"strings"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/mux"

	"github.com/nbpair/nbpair/internal/lwm2m/wire"
	"github.com/nbpair/nbpair/internal/pairing"
)

// serveCOAP routes a device request. The registration interface is small
// enough that a switch reads better than a router.
func (s *Server) serveCOAP(w mux.ResponseWriter, r *mux.Message) {
	s.heard(w.Conn())
	path, _ := r.Path()
	regID, isReg := strings.CutPrefix(path, "rd/")
	if !isReg {
		regID, isReg = strings.CutPrefix(path, "/rd/")
	}
	var err error
	switch {
	case (path == "rd" || path == "/rd") && r.Code() == codes.POST:
		err = s.register(w, r)
	case isReg && regID != "" && !strings.Contains(regID, "/") && r.Code() == codes.POST:
		err = s.update(w, r, regID)
	case isReg && regID != "" && !strings.Contains(regID, "/") && r.Code() == codes.DELETE:
		err = s.deregister(w, r, regID)
	case (path == "dp" || path == "/dp") && r.Code() == codes.POST:
		err = s.send(w, r)
	case path == "rd" || path == "/rd" || isReg || path == "dp" || path == "/dp":
		err = &coapError{codes.MethodNotAllowed, "method not allowed on " + path}
	default:
		err = &coapError{codes.NotFound, "no resource " + path}
	}
	if err != nil {
		s.respondError(w, err)
	}
}

func (s *Server) register(w mux.ResponseWriter, r *mux.Message) error {
	if r.Type() != message.Confirmable {
		return &coapError{codes.BadRequest, "Register must be a confirmable (CON) request"}
	}
	q, err := wire.ParseRegisterQuery(queries(r))
	if err != nil {
		return err
	}
	objs, ct, err := objectLinks(r, true)
	if err != nil {
		return err
	}
	reg, err := s.svc.Register(r.Context(), pairing.RegisterRequest{
		Query: q, Objects: objs, ContentFormat: ct, Addr: w.Conn().RemoteAddr().String(), Peer: s.peer(w.Conn()),
	})
	if err != nil {
		return err
	}
	s.log.Info("registered", "endpoint", reg.Endpoint, "device_id", reg.DeviceID, "registration", reg.ID,
		"remote_addr", reg.Addr, "lifetime", reg.Lifetime, "queue", reg.QueueMode)
	return w.SetResponse(codes.Created, message.TextPlain, nil,
		message.Option{ID: message.LocationPath, Value: []byte("rd")},
		message.Option{ID: message.LocationPath, Value: []byte(reg.ID)})
}

func (s *Server) update(w mux.ResponseWriter, r *mux.Message, regID string) error {
	q, err := wire.ParseUpdateQuery(queries(r))
	if err != nil {
		return err
	}
	objs, _, err := objectLinks(r, false)
	if err != nil {
		return err
	}
	reg, err := s.svc.Update(r.Context(), pairing.UpdateRequest{
		RegistrationID: regID, Query: q, Objects: objs, Addr: w.Conn().RemoteAddr().String(), Peer: s.peer(w.Conn()),
	})
	if err != nil {
		return err
	}
	s.log.Debug("updated", "endpoint", reg.Endpoint, "device_id", reg.DeviceID, "remote_addr", reg.Addr)
	return w.SetResponse(codes.Changed, message.TextPlain, nil)
}

func (s *Server) deregister(w mux.ResponseWriter, r *mux.Message, regID string) error {
	if err := s.svc.Deregister(r.Context(), regID, s.peer(w.Conn())); err != nil {
		return err
	}
	s.log.Info("de-registered", "registration", regID, "remote_addr", w.Conn().RemoteAddr().String())
	return w.SetResponse(codes.Deleted, message.TextPlain, nil)
}

func queries(r *mux.Message) []string {
	q, err := r.Queries()
	if err != nil {
		return nil
	}
	return q
}

// objectLinks reads the link-format payload: the objects, and the content
// formats announced on the root link. Without a payload it returns nil,
// which for an Update means "unchanged".
func objectLinks(r *mux.Message, required bool) ([]wire.ObjectLink, string, error) {
	if cf, err := r.ContentFormat(); err == nil && cf != message.AppLinkFormat {
		return nil, "", &coapError{codes.UnsupportedMediaType, "the object list must be application/link-format (40)"}
	}
	var body []byte
	if r.Body() != nil {
		var err error
		if body, err = r.ReadBody(); err != nil {
			return nil, "", &coapError{codes.BadRequest, "unreadable payload"}
		}
	}
	if len(body) == 0 {
		if required {
			return nil, "", &coapError{codes.BadRequest, "Register needs a link-format payload listing the client's objects"}
		}
		return nil, "", nil
	}
	links, err := wire.ParseLinkFormat(body)
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
	case errors.Is(err, pairing.ErrUnknownEndpoint), errors.Is(err, pairing.ErrPlainRefused):
		return codes.Forbidden
	case errors.Is(err, pairing.ErrNotFound):
		return codes.NotFound
	}
	return codes.InternalServerError
}

// forbiddenPlain is the diagnostic of every 4.03 to plain CoAP.
const forbiddenPlain = "forbidden: a provisioned device registers with its IMEI, over DTLS (coaps) with its PSK unless its product allows plain CoAP; the server's log says why this one was refused"

// respondError answers with the error's code and, as a diagnostic payload
// (RFC 7252, 5.5.2), a sentence a person can act on.
func (s *Server) respondError(w mux.ResponseWriter, err error) {
	code := codeOf(err)
	msg := err.Error()
	log := s.log.With("remote_addr", w.Conn().RemoteAddr().String(), "code", code.String())
	switch {
	case code == codes.InternalServerError:
		log.Error("request failed", "err", err)
		msg = "internal error; the request can be retried"
	case code == codes.Forbidden && !s.peer(w.Conn()).Secure:
		// Whether an IMEI is provisioned, and for which product, is not
		// for a sender nobody has authenticated: the log has the reason.
		log.Info("request refused", "err", err)
		msg = forbiddenPlain
	default:
		log.Info("request refused", "err", err)
	}
	if len(msg) > 200 {
		msg = msg[:200]
	}
	if werr := w.SetResponse(code, message.TextPlain, bytes.NewReader([]byte(msg))); werr != nil {
		s.log.Error("setting response", "err", werr)
	}
}
