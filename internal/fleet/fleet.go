// Package fleet is a load generator for nbpair: it provisions a fleet of
// simulated NB-IoT devices through batch imports, then drives LwM2M
// Register, Update or De-register traffic from one source address per
// device (or from fewer, shared, when asked), or pairs the devices with users through the activator SDK, and
// measures throughput, latency percentiles, CoAP retransmissions, errors,
// its own processor time and the server's figures from /metrics. The same
// engine measures two baselines, a bare UDP echo and a bare go-coap server,
// so that nbpair's numbers can be read against what the machine and the
// CoAP library alone can do. A lossy relay between generator and server
// mimics an NB-IoT link; a sweep measures Registers as the fleet grows.
package fleet

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// Scenario is the traffic a run measures.
type Scenario string

// The scenarios.
const (
	// Register is a Register storm: every device registers once.
	Register Scenario = "register"
	// Update registers every device (not measured), then sends Updates
	// round the fleet at full speed for Config.Duration.
	Update Scenario = "update"
	// Deregister registers every device (not measured), then measures the
	// wave of De-registers, one per device.
	Deregister Scenario = "deregister"
	// Pair signs up users (one per Config.DevicesPerUser devices), starts
	// an activation through the SDK for every device, then registers the
	// devices and measures the bindings and the SDK's callbacks.
	Pair Scenario = "pair"
)

// Transmission holds the CoAP transmission parameters of the simulated
// devices (RFC 7252, 4.8). The random factor is 1: a request is
// retransmitted exactly ACKTimeout after it was sent, then after twice
// that, and so on.
type Transmission struct {
	ACKTimeout    time.Duration
	MaxRetransmit int
}

// DefaultTransmission is RFC 7252's.
var DefaultTransmission = Transmission{ACKTimeout: 2 * time.Second, MaxRetransmit: 4}

// maxTransmitWait is how long a request may go unanswered, with all its
// retransmissions, before it times out.
func (t Transmission) maxTransmitWait() time.Duration {
	return t.ACKTimeout * time.Duration(int(1)<<(t.MaxRetransmit+1)-1)
}

// Config says what to run. CoAPAddr, HTTPURL and Token are needed for
// nbpair runs only.
type Config struct {
	// CoAPAddr is nbpair's CoAP/UDP address, host:port.
	CoAPAddr string
	// HTTPURL is the base URL of nbpair's HTTP API, Token its admin token.
	HTTPURL, Token string
	// ProductID is the product the fleet is provisioned for (the default
	// product when empty).
	ProductID string
	// Devices is the size of the fleet: the number of Registers of a
	// storm, of De-registers of a wave, of round trips of the echo.
	Devices int
	// IMEIBase is the first digits of every IMEI; the device's index
	// fills the rest of the 15 digits.
	IMEIBase string
	Scenario Scenario
	// Concurrency is the number of requests in flight.
	Concurrency int
	// Sources is the number of source addresses the devices send from:
	// device i always sends from source i mod Sources, as a device reaches
	// the server through its own NAT binding. 0 (AllSources) gives every
	// device a source of its own. A source is an (IP, port) pair bound
	// explicitly, away from the ephemeral ports: ports of 127.0.0.1, then
	// of 127.0.0.2 and on through 127.0.0.0/8 when the server is on
	// loopback. Over DTLS every device has its own source whatever this
	// says.
	Sources int
	// MaxOpen is the most sockets the generator keeps open. With at most
	// MaxOpen sources each one's socket stays open for the run; with more,
	// a source's socket is opened for an exchange, stays open for Awake
	// after it (answering the server's Writes, as a device does while it
	// is awake), and is closed, sooner when MaxOpen sockets are open.
	MaxOpen int
	Awake   time.Duration
	// SharedSockets, when above 0, sends every source's datagrams from that
	// many sockets, each bound to a port of the wildcard address, each
	// datagram from its source's own IP of 127.0.0.0/8 (IP_PKTINFO;
	// Linux, a server on 127.0.0.0/8): as many sources, no socket opened
	// per exchange, every device reachable for the whole run. MaxOpen and
	// Awake do not apply then.
	SharedSockets int
	// Duration is how long the Update scenario runs; Rate the Updates a
	// second it sends (0: as fast as the concurrency allows).
	Duration     time.Duration
	Rate         float64
	Transmission Transmission
	// Loss is the fraction of datagrams dropped each way and Delay the
	// delay added to each, by a relay on 127.0.0.1 between the generator
	// and the server; Seed seeds the relay's drops. No relay when both
	// are zero.
	Loss  float64
	Delay time.Duration
	Seed  uint64
	// DTLS runs the scenario over DTLS-PSK to DTLSAddr, each device with
	// its own socket, session and key from the batch's factory CSV.
	DTLS     bool
	DTLSAddr string
	// DevicesPerUser is how many devices each user of the Pair scenario
	// pairs (signing up is slow on purpose: argon2id); ActivationTimeout
	// is the timeout of each activation.
	DevicesPerUser    int
	ActivationTimeout time.Duration
	// PairOrder says which condition of the Pair scenario's binds comes
	// last: the Register or the activation's start.
	PairOrder PairOrder
	// StormDevices, when above 0, runs the Pair scenario (activate-first)
	// twice in the same run, each time with Devices binding devices of
	// its own: first idle, then while StormDevices other devices register
	// from Concurrency workers, at StormRate Registers a second (0: full
	// speed), round and round (new devices on the first pass,
	// re-Registers after) until the binds are done. The binding devices
	// register one at a time, or at BindRate a second when above 0.
	StormDevices        int
	StormRate, BindRate float64
	// Progress, when not nil, gets the run's progress: with ProgressLive
	// (a terminal) one line redrawn in place at most 4 times a second;
	// otherwise (a log file, a pipe) a plain line every ProgressEvery and
	// one at the end, so that a log holds no carriage-return frames.
	Progress     io.Writer
	ProgressLive bool
}

// AllSources is the Sources setting that gives every device a source
// address of its own.
const AllSources = 0

// DefaultMaxOpen is the default of Config.MaxOpen: well under the usual
// limit of 20,000 open files, with room for the HTTP connections of the
// pair scenario.
const DefaultMaxOpen = 8192

// DefaultConfig is a small register storm, one source per device.
func DefaultConfig() Config {
	return Config{
		Devices: 1000, IMEIBase: "35", Scenario: Register, Concurrency: 64, Sources: AllSources,
		MaxOpen: DefaultMaxOpen, Awake: 2 * time.Second,
		Duration: 10 * time.Second, Transmission: DefaultTransmission, Seed: 1,
		DevicesPerUser: 100, ActivationTimeout: 120 * time.Second, PairOrder: ActivateFirst,
	}
}

// Validate names the first bad field.
func (c Config) Validate() error {
	switch {
	case c.Devices < 1:
		return errors.New("devices must be at least 1")
	case c.Concurrency < 1:
		return errors.New("concurrency must be at least 1")
	case c.Sources < 0:
		return errors.New("sources must be 0 (one per device) or more")
	case c.SharedSockets < 0:
		return errors.New("shared sockets must be 0 (a socket per source) or more")
	case c.MaxOpen < 1 || c.Awake < 0:
		return errors.New("max open sockets must be at least 1, the awake time 0 or more")
	case (c.Loss > 0 || c.Delay > 0) && c.sources() > c.MaxOpen:
		return fmt.Errorf("the lossy relay keeps a socket per source: at most %d sources (max open) with loss or delay", c.MaxOpen)
	case c.Scenario != Register && c.Scenario != Update && c.Scenario != Deregister && c.Scenario != Pair:
		return fmt.Errorf("scenario %q: want register, update, deregister or pair", c.Scenario)
	case c.Scenario == Update && c.Duration <= 0:
		return errors.New("the update scenario needs a duration above 0")
	case c.Rate < 0:
		return errors.New("rate must be 0 (full speed) or more")
	case c.Loss < 0 || c.Loss >= 1 || c.Delay < 0:
		return errors.New("loss must be from 0 to below 1, delay 0 or more")
	case c.Scenario == Pair && (c.DevicesPerUser < 1 || c.ActivationTimeout < time.Second):
		return errors.New("the pair scenario needs devices per user of 1 or more and an activation timeout of 1 s or more")
	case c.Scenario == Pair && c.PairOrder != ActivateFirst && c.PairOrder != RegisterFirst:
		return fmt.Errorf("pair order %q: want %s or %s", c.PairOrder, ActivateFirst, RegisterFirst)
	case c.Scenario == Pair && c.DTLS:
		return errors.New("the pair scenario runs over plain CoAP only")
	case c.StormDevices < 0 || c.StormRate < 0 || c.BindRate < 0:
		return errors.New("storm devices, storm rate and bind rate must be 0 or more")
	case c.StormDevices > 0 && (c.Scenario != Pair || c.PairOrder != ActivateFirst || c.Loss > 0 || c.Delay > 0):
		return errors.New("a storm runs with the pair scenario, activations first, on a plain link (no loss or delay)")
	case c.Transmission.ACKTimeout <= 0 || c.Transmission.MaxRetransmit < 0 || c.Transmission.MaxRetransmit > 8:
		return errors.New("transmission: ACK timeout above 0 and 0 to 8 retransmissions")
	}
	_, err := IMEIs(c.IMEIBase, c.fleetSize())
	return err
}

// fleetSize is the number of devices the run provisions: Devices, or,
// with a storm, the binding devices of the idle and the storm runs and the
// storm's devices after them.
func (c Config) fleetSize() int {
	if c.StormDevices > 0 {
		return 2*c.Devices + c.StormDevices
	}
	return c.Devices
}

// sources is the number of source addresses of the run.
func (c Config) sources() int {
	if c.Sources == AllSources {
		return c.fleetSize()
	}
	return c.Sources
}

// IMEIs returns n distinct 15-digit IMEIs that start with base.
func IMEIs(base string, n int) ([]string, error) {
	for _, r := range base {
		if r < '0' || r > '9' {
			return nil, fmt.Errorf("IMEI base %q: digits only", base)
		}
	}
	digits := 15 - len(base)
	limit := 1
	for range max(digits, 0) {
		if limit > n {
			break
		}
		limit *= 10
	}
	if digits < 1 || n > limit {
		return nil, fmt.Errorf("IMEI base %q leaves room for %d devices, not %d", base, limit, n)
	}
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%0*d", base, digits, i)
	}
	return out, nil
}
