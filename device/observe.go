package device

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/mux"
)

// maxObservations bounds the observations a device keeps; an Observe
// beyond it is answered as a plain Read (RFC 7641 section 4.1).
const maxObservations = 16

// pollInterval is how often the notifier looks at observed values that
// change by themselves, such as the Device object's Current Time.
const pollInterval = time.Second

// observation is one Observe of the server (RFC 7641): the token it used,
// the path and format it asked for, and what was last sent.
type observation struct {
	token  message.Token
	path   objectPath
	accept message.MediaType
	hasAcc bool
	seq    uint32    // the last Observe sequence number sent
	mid    int32     // message ID of the last notification, -1 before the first; a Reset with it cancels
	last   []byte    // the last value sent
	sentAt time.Time // when it was sent
}

// observerSet holds the server's observations and the attributes it wrote.
type observerSet struct {
	mu    sync.Mutex
	list  []*observation            // guarded by mu
	attrs map[objectPath]attributes // guarded by mu; only paths the device has
	kick  chan struct{}             // wakes the notifier
}

func newObserverSet() observerSet {
	return observerSet{attrs: map[objectPath]attributes{}, kick: make(chan struct{}, 1)}
}

// wake tells the notifier that values or observations changed.
func (s *observerSet) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// valuesChanged tells the notifier that an observed value may have
// changed.
func (c *Client) valuesChanged() { c.obs.wake() }

// add starts or replaces the observation with o's token; it returns false
// when the set is full.
func (s *observerSet) add(o *observation) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, old := range s.list {
		if bytes.Equal(old.token, o.token) {
			s.list[i] = o
			return true
		}
	}
	if len(s.list) >= maxObservations {
		return false
	}
	s.list = append(s.list, o)
	return true
}

// remove ends the observations that match and returns them.
func (s *observerSet) remove(match func(*observation) bool) []*observation {
	s.mu.Lock()
	defer s.mu.Unlock()
	var gone []*observation
	s.list = slices.DeleteFunc(s.list, func(o *observation) bool {
		if match(o) {
			gone = append(gone, o)
			return true
		}
		return false
	})
	return gone
}

// count is the number of observations.
func (s *observerSet) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.list)
}

// clear ends every observation and forgets the attributes: a new
// registration starts afresh (LwM2M 1.1 Core 6.2.1).
func (s *observerSet) clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.list = nil
	clear(s.attrs)
}

// writeAttributes applies a Write-Attributes to path p.
func (s *observerSet) writeAttributes(p objectPath, queries []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.attrs[p]
	if !ok {
		a = noAttributes
	}
	a, err := parseAttributes(a, queries)
	if err != nil {
		return err
	}
	if a == noAttributes {
		delete(s.attrs, p)
	} else {
		s.attrs[p] = a
	}
	return nil
}

// attributesOf returns the attributes written on p itself.
func (s *observerSet) attributesOf(p objectPath) attributes {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.attrs[p]; ok {
		return a
	}
	return noAttributes
}

// effective returns the attributes that apply to p: each one from the
// resource, else the instance, else the object (LwM2M 1.1 Core 5.1.2).
func (s *observerSet) effective(p objectPath) attributes {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := noAttributes
	for _, q := range []objectPath{p, {p.object, p.instance, -1}, {p.object, -1, -1}} {
		a, ok := s.attrs[q]
		if !ok {
			continue
		}
		if out.pmin < 0 {
			out.pmin = a.pmin
		}
		if out.pmax < 0 {
			out.pmax = a.pmax
		}
	}
	return out
}

// serveObserve answers a GET with the Observe option: 0 starts (or
// renews) an observation, 1 cancels the one with the request's token;
// either way the answer carries the current value.
func (c *Client) serveObserve(w mux.ResponseWriter, r *mux.Message, p objectPath, req *Request) {
	cf, body, ref := c.read(r, p)
	if ref != nil {
		req.Operation = OpObserve
		reply(w, ref.code, ref.msg)
		return
	}
	token := slices.Clone(r.Token())
	if v, _ := r.Options().Observe(); v != 0 {
		req.Operation = OpCancelObserve
		c.obs.remove(func(o *observation) bool { return bytes.Equal(o.token, token) })
		_ = w.SetResponse(codes.Content, cf, bytes.NewReader(body))
		return
	}
	req.Operation = OpObserve
	accept, err := r.Options().Accept()
	o := &observation{token: token, path: p, accept: accept, hasAcc: err == nil, seq: 1, mid: -1, last: body, sentAt: time.Now()}
	if !c.obs.add(o) {
		c.log.Warn("observation refused: too many", "path", p.String(), "max", maxObservations)
		_ = w.SetResponse(codes.Content, cf, bytes.NewReader(body))
		return
	}
	req.Sequence = o.seq
	_ = w.SetResponse(codes.Content, cf, bytes.NewReader(body), observeOption(o.seq))
	c.obs.wake()
}

// observeOption encodes an Observe option.
func observeOption(seq uint32) message.Option {
	buf := make([]byte, 4)
	n, _ := message.EncodeUint32(buf, seq)
	return message.Option{ID: message.Observe, Value: buf[:n]}
}

// cancelByReset ends the observation whose notification the server
// answered with a Reset (RFC 7641 section 3.6).
func (c *Client) cancelByReset(mid int32) {
	for _, o := range c.obs.remove(func(o *observation) bool { return o.mid == mid }) {
		c.log.Debug("observation cancelled by reset", "path", o.path.String())
		c.emit(Event{Kind: EventServerRequest, Request: Request{Operation: OpCancelObserve, Method: "RST", Path: o.path.String(), Code: codes.Empty}})
	}
}

// notifier sends notifications until ctx is done.
func (c *Client) notifier(ctx context.Context) {
	timer := time.NewTimer(pollInterval)
	defer timer.Stop()
	for {
		next := c.notifyDue(ctx, time.Now())
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(time.Until(next))
		select {
		case <-ctx.Done():
			return
		case <-c.obs.kick:
		case <-timer.C:
		}
	}
}
