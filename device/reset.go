package device

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/plgd-dev/go-coap/v3/message"

	"github.com/nbpair/nbpair/internal/wire"
)

// ResetKind is the reset a device asks the cloud for: the value of the
// Pairing object's Reset resource (/33050/0/5).
type ResetKind = wire.ResetKind

// The resets a device can ask for.
const (
	// ResetNormal unbinds the device and keeps its data.
	ResetNormal = wire.ResetNormal
	// ResetFactory unbinds the device and erases its data.
	ResetFactory = wire.ResetFactory
)

// ErrNoPairingObject is returned by RequestReset for a device configured
// WithoutPairingObject: it has no Reset resource to send.
var ErrNoPairingObject = errors.New("device: the device has no Pairing object")

// SenML content formats of the LwM2M Send that carries a reset request.
const (
	formatSenMLJSON = message.MediaType(wire.FormatSenMLJSON)
	formatSenMLCBOR = message.MediaType(wire.FormatSenMLCBOR)
)

// RequestReset asks the server to reset the device's pairing, as a user
// pressing the device's reset button would: an LwM2M Send (confirmable
// POST /dp) of the Pairing object's Reset resource, /33050/0/5 = kind, in
// SenML CBOR, or SenML JSON when Config.SenMLJSON is set. A device that
// sleeps in queue mode wakes up first and sends an Update from its new
// socket, so that the server knows where it is; a device that is not
// registered registers first.
//
// From the moment the request goes out, Pairing() shows
// BindResetRequested until the server writes a new state; if the server
// refuses (any code but 2.xx, returned as a *ResponseError with Op "send")
// or does not answer, the state goes back to what it was. On success the
// client reports EventResetRequested. It returns ErrNotRunning when Run is
// not running.
func (c *Client) RequestReset(ctx context.Context, kind ResetKind) error {
	if kind != ResetNormal && kind != ResetFactory {
		return fmt.Errorf("device: %v is not a reset kind: want %d (normal) or %d (factory)", kind, ResetNormal, ResetFactory)
	}
	if c.cfg.WithoutPairingObject {
		return ErrNoPairingObject
	}
	c.opMu.Lock()
	defer c.opMu.Unlock()
	if !c.active {
		return ErrNotRunning
	}
	if !c.readyToSend() {
		if err := c.uplink(ctx); err != nil {
			return err
		}
	}
	return c.sendReset(ctx, kind)
}

// readyToSend reports whether the device is registered and awake on a
// socket the server has seen. c.opMu must be held.
func (c *Client) readyToSend() bool {
	conn := c.socket()
	return conn != nil && !isClosed(conn) && c.Location() != ""
}

// resetPayload encodes the Send of a reset request.
func (c *Client) resetPayload(kind ResetKind) (message.MediaType, []byte, error) {
	records := []wire.SenMLRecord{wire.ResetRecord(kind)}
	if c.cfg.SenMLJSON {
		b, err := wire.EncodeSenMLJSON(records)
		return formatSenMLJSON, b, err
	}
	b, err := wire.EncodeSenMLCBOR(records)
	return formatSenMLCBOR, b, err
}

// sendReset sends the reset request on the open socket. c.opMu must be
// held.
func (c *Client) sendReset(ctx context.Context, kind ResetKind) error {
	format, payload, err := c.resetPayload(kind)
	if err != nil {
		return fmt.Errorf("device: encode reset request: %w", err)
	}
	undo := c.markResetRequested()
	conn := c.socket()
	reqCtx, cancel := context.WithTimeout(ctx, c.cfg.maxTransmitWait())
	defer cancel()
	resp, err := conn.Post(reqCtx, "/dp", format, bytes.NewReader(payload))
	if err != nil {
		undo()
		return exchangeError("send reset request", conn, err)
	}
	defer conn.ReleaseMessage(resp)
	if resp.Code()>>5 != 2 {
		undo()
		return responseError("send", resp)
	}
	c.stayAwake()
	c.emit(Event{Kind: EventResetRequested, Reset: kind, Pairing: c.Pairing()})
	return nil
}

// markResetRequested sets the bind state to BindResetRequested and returns
// a function that sets it back, unless the server has written the Pairing
// object in between. It is set before the request goes out because the
// server may write the state that follows the reset before its answer to
// the Send arrives.
func (c *Client) markResetRequested() (undo func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	prev, gen := c.pairing, c.writes
	c.pairing.State = wire.BindResetRequested
	c.changedLocked()
	c.valuesChanged()
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.writes == gen {
			c.pairing = prev
			c.changedLocked()
			c.valuesChanged()
		}
	}
}
