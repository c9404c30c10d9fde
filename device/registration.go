package device

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/message/pool"
	"github.com/plgd-dev/go-coap/v3/mux"
	"github.com/plgd-dev/go-coap/v3/options"
	udpclient "github.com/plgd-dev/go-coap/v3/udp/client"
)

// maxDiagnostic bounds the diagnostic text kept from an error response.
const maxDiagnostic = 256

// ResponseError is returned when the server answers Register, Update,
// De-register or Send with a code other than the expected one.
type ResponseError struct {
	// Op is "register", "update", "de-register" or "send" (RequestReset).
	Op string
	// Code is the server's CoAP response code.
	Code codes.Code
	// Diagnostic is the server's diagnostic payload, if it sent one.
	Diagnostic string
}

// Error reads like "register refused: 4.03 Forbidden: unknown device".
func (e *ResponseError) Error() string {
	s := e.Op + " refused: " + codeText(e.Code)
	if e.Diagnostic != "" {
		s += ": " + e.Diagnostic
	}
	return s
}

// codeText renders a CoAP code as "4.04 NotFound".
func codeText(c codes.Code) string {
	return fmt.Sprintf("%d.%02d %v", c>>5, c&0x1f, c)
}

func responseError(op string, resp *pool.Message) *ResponseError {
	e := &ResponseError{Op: op, Code: resp.Code()}
	if body, err := resp.ReadBody(); err == nil && len(body) > 0 {
		if len(body) > maxDiagnostic {
			body = body[:maxDiagnostic]
		}
		e.Diagnostic = strings.Map(func(r rune) rune {
			if unicode.IsPrint(r) {
				return r
			}
			return '?'
		}, string(body))
	}
	return e
}

// exchangeError explains a request that got no answer.
func exchangeError(what string, conn *udpclient.Conn, err error) error {
	switch {
	case isClosed(conn):
		return fmt.Errorf("%s: no answer; the socket was closed after an ICMP error (is the server up?): %w", what, err)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: no answer in time: %w", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// registerQuery is the Uri-Query of Register.
func (c *Client) registerQuery() []message.Option {
	params := []string{
		"ep=" + c.cfg.Endpoint,
		"lt=" + strconv.Itoa(c.cfg.lifetimeSeconds()),
		"lwm2m=1.1",
		"b=U",
	}
	if c.cfg.QueueMode {
		params = append(params, "Q")
	}
	if c.cfg.ProductID != "" {
		params = append(params, "pid="+c.cfg.ProductID)
	}
	opts := make([]message.Option, len(params))
	for i, p := range params {
		opts[i] = message.Option{ID: message.URIQuery, Value: []byte(p)}
	}
	return opts
}

// registerPayload is the CoRE link format list of the device's objects.
// The content format it prefers is announced as ct only when configured:
// servers differ in which values they accept (Wakaama's refuses 11542).
func (c *Client) registerPayload() []byte {
	links := `</>;rt="oma.lwm2m"`
	if c.cfg.PreferredFormat != 0 {
		links += ";ct=" + strconv.Itoa(c.cfg.PreferredFormat)
	}
	for _, id := range objectIDs {
		if c.hasObject(id) {
			links += ",</" + strconv.Itoa(id) + "/0>"
		}
	}
	return []byte(links)
}

// maxLocation bounds the registration location a server may give.
const maxLocation = 255

// locationPath joins the Location-Path options of a Register's answer into
// "rd/abc". Some servers put the whole path into one option ("rd/0");
// that is taken as it is, for the Update's Uri-Path splits it the same
// way. It returns "" when there is none, or it is too long or not
// printable ASCII.
func locationPath(opts message.Options) string {
	var parts []string
	for _, o := range opts {
		if o.ID == message.LocationPath {
			parts = append(parts, string(o.Value))
		}
	}
	loc := strings.Trim(strings.Join(parts, "/"), "/")
	if len(loc) > maxLocation || !printableASCII(loc) {
		return ""
	}
	return loc
}

// register sends Register on the open socket. c.opMu must be held.
func (c *Client) register(ctx context.Context) error {
	conn := c.socket()
	ctx, cancel := context.WithTimeout(ctx, c.cfg.maxTransmitWait())
	defer cancel()
	resp, err := conn.Post(ctx, "/rd", message.AppLinkFormat, bytes.NewReader(c.registerPayload()), c.registerQuery()...)
	if err != nil {
		return exchangeError("register with "+c.cfg.Server, conn, err)
	}
	defer conn.ReleaseMessage(resp)
	if resp.Code() != codes.Created {
		return responseError("register", resp)
	}
	loc := locationPath(resp.Options())
	if loc == "" {
		return fmt.Errorf("register with %s: the answer 2.01 has no valid Location-Path", c.cfg.Server)
	}
	c.obs.clear() // a new registration: the server observes afresh
	c.accepted(loc)
	c.emit(Event{Kind: EventRegistered, Location: loc})
	return nil
}

// update sends Update for the current registration, and registers again
// when the server no longer knows it. c.opMu must be held.
func (c *Client) update(ctx context.Context) error {
	conn, loc := c.socket(), c.Location()
	reqCtx, cancel := context.WithTimeout(ctx, c.cfg.maxTransmitWait())
	defer cancel()
	resp, err := conn.Post(reqCtx, "/"+loc, message.TextPlain, nil)
	if err != nil {
		return exchangeError("update "+loc, conn, err)
	}
	defer conn.ReleaseMessage(resp)
	switch resp.Code() {
	case codes.Changed:
		c.accepted(loc)
		c.emit(Event{Kind: EventUpdated, Location: loc})
		return nil
	case codes.NotFound:
		c.setLocation("")
		c.emit(Event{Kind: EventRegistrationLost, Location: loc})
		return c.register(ctx)
	}
	return responseError("update", resp)
}

// deregister sends De-register, waking up first if asleep. The location is
// forgotten whatever the answer. c.opMu must be held.
func (c *Client) deregister(ctx context.Context) error {
	if err := c.ensureSocket(ctx); err != nil {
		return err
	}
	conn, loc := c.socket(), c.Location()
	c.setLocation("")
	resp, err := conn.Delete(ctx, "/"+loc)
	if err != nil {
		return exchangeError("de-register "+loc, conn, err)
	}
	defer conn.ReleaseMessage(resp)
	if resp.Code() != codes.Deleted && resp.Code() != codes.NotFound {
		return responseError("de-register", resp)
	}
	c.emit(Event{Kind: EventDeregistered, Location: loc})
	return nil
}

// uplink wakes the device if it sleeps, then sends Update, or Register when
// it is not registered. A failure is reported as EventError and retried
// later. c.opMu must be held.
func (c *Client) uplink(ctx context.Context) error {
	if err := c.ensureSocket(ctx); err != nil {
		c.failed(ctx, err)
		return err
	}
	var err error
	if c.Location() == "" {
		err = c.register(ctx)
	} else {
		err = c.update(ctx)
	}
	if err != nil {
		c.failed(ctx, err)
	}
	return err
}

// accepted records a Register or Update the server accepted and schedules
// the next Update and, in queue mode, the next sleep.
func (c *Client) accepted(loc string) {
	now := time.Now()
	c.mu.Lock()
	c.location = loc
	c.failures = 0
	c.nextUplink = now.Add(c.cfg.refreshInterval())
	c.awakeUntil = now.Add(c.cfg.AwakeTime)
	c.changedLocked()
	c.mu.Unlock()
	c.rescheduled()
}

// failed reports a failed uplink and schedules a retry with exponential
// backoff from twice the ACK timeout, capped at the refresh interval. In
// queue mode the device goes back to sleep until then.
func (c *Client) failed(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return // shutting down; not worth an event
	}
	now := time.Now()
	c.mu.Lock()
	c.failures++
	backoff := c.cfg.AckTimeout << min(c.failures, 6)
	c.nextUplink = now.Add(min(backoff, c.cfg.refreshInterval()))
	c.awakeUntil = now
	c.mu.Unlock()
	c.dropSessionAfter(err)
	c.rescheduled()
	c.emit(Event{Kind: EventError, Err: err})
}

func (c *Client) setLocation(loc string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.location = loc
	c.changedLocked()
}

// socket returns the open socket, nil while asleep.
func (c *Client) socket() *udpclient.Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conn
}

// openSocket dials the server from a new UDP socket, hence a new source
// port; for coaps it sets up DTLS too (see dial). c.opMu must be held.
func (c *Client) openSocket(ctx context.Context) (*udpclient.Conn, error) {
	router := mux.NewRouter()
	router.DefaultHandle(mux.HandlerFunc(c.serveCOAP))
	conn, err := c.dial(ctx,
		options.WithMux(router),
		options.WithTransmission(1, c.cfg.AckTimeout, c.cfg.maxRetransmit),
		options.WithErrors(func(err error) { c.log.Debug("coap", "err", err) }),
	)
	if err != nil {
		return nil, fmt.Errorf("open socket to %s: %w", c.cfg.addr, err)
	}
	c.mu.Lock()
	c.conn = conn
	c.changedLocked()
	c.mu.Unlock()
	return conn, nil
}

// ensureSocket wakes the device up on a new socket if it sleeps, or if
// go-coap closed the old one: an ICMP error (server down) ends go-coap's
// session on a connected socket, where a real modem would just send again.
// c.opMu must be held.
func (c *Client) ensureSocket(ctx context.Context) error {
	if conn := c.socket(); conn != nil && isClosed(conn) {
		c.closeSocket()
	}
	if c.socket() != nil {
		return nil
	}
	return c.wake(ctx)
}

// wake opens a new socket after sleeping. c.opMu must be held.
func (c *Client) wake(ctx context.Context) error {
	conn, err := c.openSocket(ctx)
	if err != nil {
		return err
	}
	c.emit(Event{Kind: EventWaking, LocalAddr: conn.LocalAddr().String()})
	return nil
}

// closeSocket closes the socket; nothing reaches the device until the next
// openSocket. c.opMu must be held.
func (c *Client) closeSocket() {
	c.mu.Lock()
	conn := c.conn
	c.conn = nil
	c.changedLocked()
	c.mu.Unlock()
	if conn == nil {
		return
	}
	if err := conn.Close(); err != nil && !errors.Is(err, context.Canceled) {
		c.log.Debug("close socket", "err", err)
	}
	<-conn.Done()
}

// isClosed reports whether go-coap has closed the socket.
func isClosed(conn *udpclient.Conn) bool {
	select {
	case <-conn.Done():
		return true
	default:
		return false
	}
}
