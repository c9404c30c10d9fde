// Package fleet is a load generator for nbpair: it provisions a fleet of
// simulated NB-IoT devices through one batch import, then drives LwM2M
// Register, Update or De-register traffic at them from a small fixed pool
// of UDP sockets, and measures throughput, latency percentiles, CoAP
// retransmissions and errors. The same engine measures two baselines, a
// bare UDP echo and a bare go-coap server, so that nbpair's numbers can be
// read against what the machine and the CoAP library alone can do.
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
)

// Transmission holds the CoAP transmission parameters of the simulated
// devices (RFC 7252, 4.8). The random factor is 1, so that a request is
// retransmitted exactly ACKTimeout after it was sent (give or take the
// 50 ms of go-coap's retransmission timer).
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
	// Concurrency is the number of requests in flight; Sockets the number
	// of UDP sockets they share.
	Concurrency, Sockets int
	// Duration is how long the Update scenario runs.
	Duration     time.Duration
	Transmission Transmission
	// Progress, when not nil, gets a live progress line, at most 4 a
	// second.
	Progress io.Writer
}

// DefaultConfig is a small register storm.
func DefaultConfig() Config {
	return Config{
		Devices: 1000, IMEIBase: "35", Scenario: Register, Concurrency: 64, Sockets: 16,
		Duration: 10 * time.Second, Transmission: DefaultTransmission,
	}
}

// Validate names the first bad field.
func (c Config) Validate() error {
	switch {
	case c.Devices < 1:
		return errors.New("devices must be at least 1")
	case c.Concurrency < 1:
		return errors.New("concurrency must be at least 1")
	case c.Sockets < 1:
		return errors.New("sockets must be at least 1")
	case c.Scenario != Register && c.Scenario != Update && c.Scenario != Deregister:
		return fmt.Errorf("scenario %q: want register, update or deregister", c.Scenario)
	case c.Scenario == Update && c.Duration <= 0:
		return errors.New("the update scenario needs a duration above 0")
	case c.Transmission.ACKTimeout <= 0 || c.Transmission.MaxRetransmit < 0 || c.Transmission.MaxRetransmit > 8:
		return errors.New("transmission: ACK timeout above 0 and 0 to 8 retransmissions")
	}
	_, err := IMEIs(c.IMEIBase, c.Devices)
	return err
}

// perSocket is the number of requests each socket may have in flight.
func (c Config) perSocket() int { return (c.Concurrency + c.Sockets - 1) / c.Sockets }

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
