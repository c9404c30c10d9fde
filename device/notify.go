package device

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
)

// idleWait is how long the notifier sleeps when nothing is observed; a
// new observation wakes it earlier.
const idleWait = time.Hour

// maxObserveSeq is the largest Observe sequence number (24 bits).
const maxObserveSeq = 1<<24 - 1

// errAsleep is returned when a notification is due while the device
// sleeps; it goes out after the next wake-up.
var errAsleep = errors.New("device: asleep")

// snapshot copies the observations.
func (s *observerSet) snapshot() []observation {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]observation, len(s.list))
	for i, o := range s.list {
		out[i] = *o
	}
	return out
}

// sent records a notification of the observation with token, if it is
// still there.
func (s *observerSet) sent(token message.Token, seq uint32, mid int32, body []byte, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.list {
		if bytes.Equal(o.token, token) {
			o.seq, o.mid, o.last, o.sentAt = seq, mid, body, at
		}
	}
}

// setMID records the message ID of the notification about to go out for
// the observation with token.
func (s *observerSet) setMID(token message.Token, mid int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.list {
		if bytes.Equal(o.token, token) {
			o.mid = mid
		}
	}
}

// notifyDue sends the notifications that are due and returns when to look
// again: a notification is due when the value changed and pmin has passed
// since the last one, or when pmax has passed (LwM2M 1.1 Core 5.1.2).
func (c *Client) notifyDue(ctx context.Context, now time.Time) time.Time {
	list := c.obs.snapshot()
	if len(list) == 0 {
		return now.Add(idleWait)
	}
	next := now.Add(pollInterval)
	for _, o := range list {
		cf, body, ref := c.encodeAt(o.path, o.accept, o.hasAcc)
		if ref != nil {
			c.obs.remove(func(x *observation) bool { return bytes.Equal(x.token, o.token) })
			continue
		}
		a := c.obs.effective(o.path)
		pmin, pmax := seconds(a.pmin), seconds(a.pmax)
		changed := !bytes.Equal(body, o.last)
		due := changed && !now.Before(o.sentAt.Add(pmin)) || pmax > 0 && !now.Before(o.sentAt.Add(pmax))
		switch {
		case due:
			c.notify(ctx, o, cf, body, now)
		case changed && o.sentAt.Add(pmin).Before(next):
			next = o.sentAt.Add(pmin)
		case pmax > 0 && o.sentAt.Add(pmax).Before(next):
			next = o.sentAt.Add(pmax)
		}
	}
	return next
}

// seconds converts an attribute to a duration; unset is zero.
func seconds(n int64) time.Duration {
	if n < 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}

// notify sends one notification and records it.
func (c *Client) notify(ctx context.Context, o observation, cf message.MediaType, body []byte, now time.Time) {
	seq := o.seq + 1
	if seq > maxObserveSeq {
		seq = 2 // RFC 7641 section 4.4: the numbers wrap around
	}
	mid, err := c.sendNotification(ctx, o.token, seq, cf, body, c.obs.setMID)
	if err != nil {
		if !errors.Is(err, errAsleep) {
			c.log.Debug("notification not sent", "path", o.path.String(), "err", err)
		}
		return
	}
	c.obs.sent(o.token, seq, mid, body, now)
	c.emit(Event{Kind: EventNotified, Request: Request{
		Operation: OpNotify, Path: o.path.String(), Format: formatName(cf), Code: codes.Content, Sequence: seq,
	}})
}

// sendNotification sends a non-confirmable 2.05 with the Observe option on
// the open socket and returns its message ID, which it hands to setMID
// before the message goes out: the server's Reset may come back at once.
func (c *Client) sendNotification(ctx context.Context, token message.Token, seq uint32, cf message.MediaType, body []byte, setMID func(message.Token, int32)) (int32, error) {
	conn := c.socket()
	if conn == nil || isClosed(conn) {
		return 0, errAsleep
	}
	msg := conn.AcquireMessage(ctx)
	defer conn.ReleaseMessage(msg)
	mid := conn.GetMessageID()
	msg.SetCode(codes.Content)
	msg.SetType(message.NonConfirmable)
	msg.SetMessageID(mid)
	setMID(token, mid)
	msg.SetToken(token)
	msg.SetObserve(seq)
	msg.SetContentFormat(cf)
	msg.SetBody(bytes.NewReader(body))
	// Straight to the session: go-coap's block-wise layer would copy the
	// message under a new message ID, and a notification is never split.
	if err := conn.Session().WriteMessage(msg); err != nil {
		return 0, err
	}
	return mid, nil
}
