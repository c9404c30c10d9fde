package device

import (
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/mux"
)

// maxExecuteArguments bounds the arguments of an Execute kept for the
// event; longer ones are refused.
const maxExecuteArguments = 256

// serveExecute answers an Execute (POST on a resource). Reboot and Factory
// Reset of the Device object are reported to the program as events, which
// decides what to do; the Registration Update Trigger of the Server object
// makes the device send an Update at once.
func (c *Client) serveExecute(w mux.ResponseWriter, r *mux.Message, p objectPath) {
	_, def, ok := c.lookup(p)
	switch {
	case !ok:
		reply(w, codes.NotFound, "no such resource "+p.String())
		return
	case def.ops&opExecute == 0:
		reply(w, codes.MethodNotAllowed, "resource "+p.String()+" cannot be executed")
		return
	}
	args, err := r.ReadBody()
	if err != nil || len(args) > maxExecuteArguments {
		reply(w, codes.BadRequest, "the arguments of an Execute are at most 256 bytes")
		return
	}
	_ = w.SetResponse(codes.Changed, message.TextPlain, nil)
	switch p.String() {
	case PathReboot:
		c.emit(Event{Kind: EventRebootRequested, Arguments: string(args)})
	case PathFactoryReset:
		c.emit(Event{Kind: EventFactoryResetRequested, Arguments: string(args)})
	case PathUpdateTrigger:
		c.updateNow()
	}
}

// updateNow makes Run's scheduler send an Update at once.
func (c *Client) updateNow() {
	c.mu.Lock()
	c.nextUplink = time.Now()
	c.mu.Unlock()
	c.rescheduled()
}
