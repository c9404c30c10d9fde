package device

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/mux"
)

// Operations of the LwM2M device management and information reporting
// interfaces, as Request.Operation names them.
const (
	OpRead            = "Read"
	OpDiscover        = "Discover"
	OpWrite           = "Write"
	OpWriteAttributes = "Write-Attributes"
	OpExecute         = "Execute"
	OpObserve         = "Observe"
	OpCancelObserve   = "Cancel Observation"
	OpNotify          = "Notify"
)

// Request describes one request of the server that the device answered
// (EventServerRequest), or one notification it sent (EventNotified).
type Request struct {
	// Operation is one of the Op constants, or the CoAP method of a
	// request that was refused before its operation was known.
	Operation string
	// Method is the request's CoAP method, for example "GET".
	Method string
	// Path is the request's path, for example "/3/0/0".
	Path string
	// Format names the content format of the payload that carried data:
	// the answer's for Read, Discover, Observe and Notify, the request's
	// for Write and Execute; empty when there was none.
	Format string
	// Code is the device's answer, for example 2.05 Content.
	Code codes.Code
	// Sequence is the Observe sequence number of an Observe answer or a
	// notification.
	Sequence uint32
}

// String reads like "Read GET /3/0/0 text/plain -> 2.05 Content".
func (r Request) String() string {
	s := r.Operation
	if r.Method != "" {
		s += " " + r.Method
	}
	s += " " + r.Path
	if r.Format != "" {
		s += " " + r.Format
	}
	if r.Sequence != 0 {
		s += " seq " + strconv.FormatUint(uint64(r.Sequence), 10)
	}
	return s + " -> " + codeText(r.Code)
}

// serveCOAP answers the server's requests: Read, Discover, Write,
// Write-Attributes, Execute and Observe; a Reset cancels the observation
// whose notification it answers. Each answered request is reported as
// EventServerRequest.
func (c *Client) serveCOAP(w mux.ResponseWriter, r *mux.Message) {
	if r.Type() == message.Reset {
		c.cancelByReset(r.MessageID())
		return
	}
	if r.Code() == codes.Empty {
		return // an ACK or ping go-coap has not consumed: nothing to answer
	}
	c.stayAwake()
	path, _ := r.Options().Path()
	path = "/" + strings.Trim(path, "/")
	req := Request{Operation: r.Code().String(), Method: r.Code().String(), Path: path}
	c.log.Debug("server request", "method", req.Method, "path", path)
	if p, ok := parseObjectPath(path); ok {
		c.route(w, r, p, &req)
	} else {
		reply(w, codes.NotFound, "no such object")
	}
	req.Code = w.Message().Code()
	if req.Format == "" && req.Code == codes.Content {
		if cf, err := w.Message().ContentFormat(); err == nil {
			req.Format = formatName(cf)
		}
	}
	c.emit(Event{Kind: EventServerRequest, Request: req})
}

// route hands a request on an object path to its operation.
func (c *Client) route(w mux.ResponseWriter, r *mux.Message, p objectPath, req *Request) {
	switch r.Code() {
	case codes.GET:
		accept, errAccept := r.Options().Accept()
		_, errObserve := r.Options().Observe()
		switch {
		case errAccept == nil && accept == formatLinkFormat:
			req.Operation = OpDiscover
			c.serveDiscover(w, p)
		case errObserve == nil: // the request has an Observe option
			c.serveObserve(w, r, p, req)
		default:
			req.Operation = OpRead
			c.serveRead(w, r, p)
		}
	case codes.PUT:
		if !r.Options().HasOption(message.ContentFormat) && r.Options().HasOption(message.URIQuery) {
			req.Operation = OpWriteAttributes
			c.serveWriteAttributes(w, r, p)
			return
		}
		req.Operation = OpWrite
		c.serveWriteRequest(w, r, p, req)
	case codes.POST:
		if p.resource >= 0 {
			req.Operation = OpExecute
			c.serveExecute(w, r, p)
			return
		}
		req.Operation = OpWrite
		c.serveWriteRequest(w, r, p, req)
	default:
		reply(w, codes.MethodNotAllowed, r.Code().String()+" is not supported")
	}
}

// serveWriteRequest notes the Write's content format and answers it.
func (c *Client) serveWriteRequest(w mux.ResponseWriter, r *mux.Message, p objectPath, req *Request) {
	if cf, err := r.Options().ContentFormat(); err == nil {
		req.Format = formatName(cf)
	}
	c.serveWrite(w, r, p)
}

// stayAwake restarts the awake time in queue mode: the device answered the
// server, so it stays reachable a while longer.
func (c *Client) stayAwake() {
	if !c.cfg.QueueMode {
		return
	}
	until := time.Now().Add(c.cfg.AwakeTime)
	c.mu.Lock()
	if until.After(c.awakeUntil) {
		c.awakeUntil = until
	}
	c.mu.Unlock()
	c.rescheduled()
}

// serveRead answers a Read of an object, an instance or a resource in
// text/plain, TLV, SenML JSON or SenML CBOR.
func (c *Client) serveRead(w mux.ResponseWriter, r *mux.Message, p objectPath) {
	cf, body, ref := c.read(r, p)
	if ref != nil {
		reply(w, ref.code, ref.msg)
		return
	}
	_ = w.SetResponse(codes.Content, cf, bytes.NewReader(body))
}

// read encodes what a Read (or Observe) of p returns.
func (c *Client) read(r *mux.Message, p objectPath) (message.MediaType, []byte, *refusal) {
	_, def, ok := c.lookup(p)
	if !ok {
		return 0, nil, refuse(codes.NotFound, "no such object instance or resource %v", p)
	}
	if p.resource >= 0 && def.ops&opRead == 0 {
		return 0, nil, refuse(codes.MethodNotAllowed, "resource %v is not readable", p)
	}
	accept, err := r.Options().Accept()
	return c.encodeAt(p, accept, err == nil)
}

// encodeAt encodes the current values at p, which the device has.
func (c *Client) encodeAt(p objectPath, accept message.MediaType, hasAccept bool) (message.MediaType, []byte, *refusal) {
	res, ok := c.selectValues(p)
	if !ok {
		return 0, nil, refuse(codes.NotFound, "nothing readable at %v", p)
	}
	return encodeRead(p, res, accept, hasAccept)
}

// reply answers with a code and a diagnostic payload.
func reply(w mux.ResponseWriter, code codes.Code, diagnostic string) {
	_ = w.SetResponse(code, message.TextPlain, strings.NewReader(diagnostic))
}
