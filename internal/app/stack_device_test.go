package app_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/udp/coder"

	"github.com/nbpair/nbpair/internal/wire"
)

// stackDevice emulates an LwM2M client stack nobody on the team wrote, on
// a raw UDP socket with go-coap's codec: it registers as the stack does
// (its version, its ct on </>), reads only the content formats the stack
// reads, answers the rest with 4.06 as Wakaama does, and in queue mode
// sleeps with its socket closed and wakes on a new source port.
type stackDevice struct {
	server  string // host:port of the CoAP socket
	imei    string
	version string // "1.1" or "1.0"
	ct      string // the ct on </>; "" for none
	reads   []int  // the content formats it reads (wire.Format*)
	// notFound answers every write with 4.04, as a client without the
	// object written to does.
	notFound bool
	// refuseWith answers a format the device does not read (4.06, as
	// Wakaama does, when zero).
	refuseWith codes.Code
	// queue, awake and sleep: awake that long after each uplink's answer,
	// then asleep (socket closed) that long.
	queue        bool
	awake, sleep time.Duration

	mu     sync.Mutex
	state  wire.PairingState // guarded by mu
	writes []stackWrite      // guarded by mu
	wakes  int               // uplinks answered so far; guarded by mu
	asleep bool              // guarded by mu
}

// stackWrite is one write the device got.
type stackWrite struct {
	wake   int // the uplink after which it came (1: the Register)
	path   string
	format int
	code   codes.Code
}

func (d *stackDevice) snapshot() (wire.PairingState, []stackWrite, int, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.state, slices.Clone(d.writes), d.wakes, d.asleep
}

// run registers the device and keeps it going until the test ends.
func (d *stackDevice) run(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.loop(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("emulated device: %v", err)
		}
	})
}

func (d *stackDevice) loop(ctx context.Context) error {
	var loc string
	for mid := uint16(1); ; mid += 16 {
		conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return err
		}
		awake := d.serve(conn)
		if loc == "" {
			loc, err = d.uplink(ctx, conn, awake, d.register(mid))
		} else {
			_, err = d.uplink(ctx, conn, awake, d.update(mid, loc))
		}
		if err == nil && d.queue {
			select {
			case <-ctx.Done():
			case <-time.After(d.awake):
			}
		} else if err == nil {
			<-ctx.Done()
		}
		d.setAsleep(true)
		conn.Close()
		if err != nil || ctx.Err() != nil {
			return errors.Join(err, ctx.Err())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d.sleep):
		}
	}
}

func (d *stackDevice) setAsleep(v bool) {
	d.mu.Lock()
	d.asleep = v
	d.mu.Unlock()
}

// register is the stack's Register request.
func (d *stackDevice) register(mid uint16) message.Message {
	b := "U"
	q := []string{"ep=" + wire.EndpointForIMEI(d.imei), "lt=300", "lwm2m=" + d.version}
	switch {
	case d.queue && d.version == "1.0":
		b = "UQ"
	case d.queue:
		q = append(q, "Q")
	}
	root := `</>;rt="oma.lwm2m"`
	if d.ct != "" {
		root += ";ct=" + d.ct
	}
	m := stackRequest(mid, codes.POST, []string{"rd"}, append(q, "b="+b))
	m.Options = append(m.Options, message.Option{ID: message.ContentFormat, Value: []byte{byte(message.AppLinkFormat)}})
	m.Payload = []byte(root + ",</1/0>,</3/0>,</33050/0>")
	return m
}

func (d *stackDevice) update(mid uint16, loc string) message.Message {
	return stackRequest(mid, codes.POST, strings.Split(loc, "/"), nil)
}

func stackRequest(mid uint16, code codes.Code, path, queries []string) message.Message {
	m := message.Message{Type: message.Confirmable, Code: code, MessageID: int32(mid), Token: []byte{byte(mid), byte(mid >> 8), 0x51}}
	for _, p := range path {
		m.Options = append(m.Options, message.Option{ID: message.URIPath, Value: []byte(p)})
	}
	for _, q := range queries {
		m.Options = append(m.Options, message.Option{ID: message.URIQuery, Value: []byte(q)})
	}
	return m
}

// uplink sends a confirmable request each second until its answer comes,
// counts the wake-up, and returns the answer's location.
func (d *stackDevice) uplink(ctx context.Context, conn *net.UDPConn, answers <-chan message.Message, m message.Message) (string, error) {
	sort.SliceStable(m.Options, func(i, j int) bool { return m.Options[i].ID < m.Options[j].ID })
	b, err := stackEncode(m)
	if err != nil {
		return "", err
	}
	d.mu.Lock()
	d.wakes++ // awake from now: a write may come before the answer does
	d.asleep = false
	d.mu.Unlock()
	for try := 0; try < 20; try++ {
		if _, err := conn.WriteToUDP(b, stackAddr(d.server)); err != nil {
			return "", err
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case a := <-answers:
			if a.Code != codes.Created && a.Code != codes.Changed {
				return "", fmt.Errorf("uplink answered %v: %s", a.Code, a.Payload)
			}
			return locationOf(a), nil
		case <-time.After(time.Second):
		}
	}
	return "", errors.New("no answer to an uplink in 20 tries")
}

func stackAddr(s string) *net.UDPAddr {
	a, _ := net.ResolveUDPAddr("udp", s)
	return a
}

func stackEncode(m message.Message) ([]byte, error) {
	buf := make([]byte, 4096)
	n, err := coder.DefaultCoder.Encode(m, buf)
	return buf[:n], err
}

// serve reads the socket until it is closed: answers to the device's own
// requests go to the channel, the server's requests are answered.
func (d *stackDevice) serve(conn *net.UDPConn) <-chan message.Message {
	answers := make(chan message.Message, 4)
	go func() {
		seen := map[int32][]byte{} // message ID → the answer sent, for retransmissions
		buf := make([]byte, 2048)
		for {
			n, from, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			m := message.Message{Options: make(message.Options, 0, 16)}
			// The message keeps slices of what it was decoded from.
			if _, err := coder.DefaultCoder.Decode(slices.Clone(buf[:n]), &m); err != nil {
				continue
			}
			if m.Code >= 64 || m.Code == codes.Empty { // a response (or an empty ACK)
				if m.Code == codes.Empty {
					continue
				}
				if m.Type == message.Confirmable { // a separate response
					empty, _ := stackEncode(message.Message{Type: message.Acknowledgement, MessageID: m.MessageID})
					conn.WriteToUDP(empty, from)
				}
				select {
				case answers <- m:
				default: // a copy of an answer already taken
				}
				continue
			}
			ack, ok := seen[m.MessageID]
			if !ok {
				ack, _ = stackEncode(d.handle(m))
				seen[m.MessageID] = ack
			}
			conn.WriteToUDP(ack, from)
		}
	}()
	return answers
}

// handle answers a request of the server as the emulated stack would.
func (d *stackDevice) handle(m message.Message) message.Message {
	ack := message.Message{Type: message.Acknowledgement, MessageID: m.MessageID, Token: m.Token, Code: d.write(m)}
	return ack
}

func (d *stackDevice) write(m message.Message) codes.Code {
	path, _ := m.Options.Path()
	path = "/" + strings.TrimPrefix(path, "/")
	cf, err := m.Options.ContentFormat()
	if err != nil {
		cf = message.TextPlain
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	code := d.apply(m.Code, path, int(cf), m.Payload)
	d.writes = append(d.writes, stackWrite{wake: d.wakes, path: path, format: int(cf), code: code})
	return code
}

// apply applies a write to the device's Pairing object; called with mu.
func (d *stackDevice) apply(method codes.Code, path string, cf int, payload []byte) codes.Code {
	rest, ok := strings.CutPrefix(path, "/33050/0")
	switch {
	case method != codes.PUT || !ok:
		return codes.MethodNotAllowed
	case d.notFound:
		return codes.NotFound
	case !slices.Contains(d.reads, cf) || (rest == "") == (cf == wire.FormatText):
		if d.refuseWith != 0 {
			return d.refuseWith
		}
		return codes.NotAcceptable
	}
	var next wire.PairingState
	var err error
	switch cf {
	case wire.FormatText:
		id, perr := strconv.ParseUint(strings.TrimPrefix(rest, "/"), 10, 16)
		if perr != nil {
			return codes.NotFound
		}
		next, err = wire.ApplyPairingText(d.state, uint16(id), payload)
	case wire.FormatTLV:
		next, err = wire.ApplyPairingTLV(d.state, payload)
	case wire.FormatSenMLJSON, wire.FormatSenMLCBOR:
		decode := wire.DecodeSenMLJSON
		if cf == wire.FormatSenMLCBOR {
			decode = wire.DecodeSenMLCBOR
		}
		var records []wire.SenMLRecord
		if records, err = decode(payload); err == nil {
			next, err = wire.ApplyPairingSenML(d.state, records)
		}
	default:
		return codes.NotAcceptable
	}
	if err != nil {
		return codes.BadRequest
	}
	d.state = next
	return codes.Changed
}
