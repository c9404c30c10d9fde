package device

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/nbpair/nbpair/internal/wire"
)

// Defaults applied by New to the zero fields of a Config.
const (
	// DefaultPort is the CoAP port of a Server given without one.
	DefaultPort = "5683"
	// DefaultLifetime is the registration lifetime of the simulator.
	DefaultLifetime = 300 * time.Second
	// DefaultManufacturer is the Device object's manufacturer (/3/0/0).
	DefaultManufacturer = "nbpair"
	// DefaultModel is the Device object's model number (/3/0/1).
	DefaultModel = "nbpair-sim"
	// DefaultFirmwareVersion is the Device object's firmware version (/3/0/3).
	DefaultFirmwareVersion = "1.0.0"
	// DefaultAckTimeout is go-coap's (and RFC 7252's) ACK_TIMEOUT.
	DefaultAckTimeout = 2 * time.Second
	// DefaultMaxRetransmit is go-coap's (and RFC 7252's) MAX_RETRANSMIT.
	DefaultMaxRetransmit = 4
)

// maxMaxRetransmit bounds MaxRetransmit; 10 retransmissions with the
// default ACK timeout already wait for more than an hour.
const maxMaxRetransmit = 10

// ackRandomFactor is RFC 7252's ACK_RANDOM_FACTOR, which go-coap uses too.
const ackRandomFactor = 1.5

// ErrConfig is wrapped by every error New returns for a bad Config.
var ErrConfig = errors.New("device: bad config")

// Config describes one simulated device. Only Server and IMEI are required;
// New fills in the rest.
type Config struct {
	// Server is the LwM2M server as "coap://host:port" (the port defaults
	// to 5683), or "coaps://host:port" for DTLS 1.2 with PSK (the port
	// defaults to 5684), which needs PSK.
	Server string
	// PSK is the device's pre-shared key for coaps; Endpoint is its PSK
	// identity. It must be empty for coap.
	PSK []byte
	// IMEI is the device's 15-digit IMEI.
	IMEI string
	// Endpoint is the LwM2M endpoint name; it defaults to urn:imei:<IMEI>.
	Endpoint string
	// Lifetime is the registration lifetime, sent as lt= in whole seconds
	// (at least 1 s; fractions are dropped). It defaults to 300 s.
	Lifetime time.Duration
	// QueueMode makes the device register with Q (LwM2M 1.1 queue mode)
	// and sleep between wake-ups, see AwakeTime and SleepTime.
	QueueMode bool
	// ProductID, when set, is sent as pid=<id> on Register, nbpair's
	// extension for auto-registration. It may hold letters, digits and
	// "-._~:" only, so that no server mistakes it for an escape.
	ProductID string
	// Manufacturer, Model, FirmwareVersion and SerialNumber are the Device
	// object's resources 0, 1, 3 and 2. They default to "nbpair",
	// "nbpair-sim", "1.0.0" and the IMEI.
	Manufacturer, Model, FirmwareVersion, SerialNumber string
	// WithoutPairingObject makes the device behave like a stock client that
	// lacks nbpair's Pairing object: it is not announced on Register and
	// every request for it is answered 4.04.
	WithoutPairingObject bool
	// AwakeTime is, in queue mode, how long the device stays awake after
	// each message it sends or answers. It defaults to MAX_TRANSMIT_WAIT of
	// the transmission settings (93 s with go-coap's defaults), as LwM2M
	// 1.1 recommends. It needs QueueMode.
	AwakeTime time.Duration
	// SleepTime is, in queue mode, how long the device sleeps before it
	// wakes up on a new UDP socket and sends an Update. Zero means it sleeps
	// until the registration must be refreshed; longer values are cut to
	// that too, so that the registration does not expire. It needs
	// QueueMode.
	SleepTime time.Duration
	// PreferredFormat, when set, is announced as ct=<n> on the </> link of
	// Register: the content format the device prefers for the server's
	// Reads and Writes, 110 (SenML JSON), 112 (SenML CBOR) or 11542
	// (TLV). Zero announces none, which every server accepts (Wakaama's
	// refuses 11542, the LwM2M 1.0 default). Whatever it announces, the
	// device reads and writes TLV, SenML JSON, SenML CBOR and text/plain.
	PreferredFormat int
	// SenMLJSON makes RequestReset send its SenML in JSON (content format
	// 110) instead of CBOR (112), which NB-IoT clients prefer for its size.
	SenMLJSON bool
	// Logger receives the client's diagnostics; nil discards them.
	Logger *slog.Logger
	// OnEvent, when set, is called for every state change, in order, from
	// one goroutine that Run starts. It must not block for long.
	OnEvent func(Event)
	// AckTimeout is the CoAP ACK_TIMEOUT; zero means DefaultAckTimeout.
	AckTimeout time.Duration
	// MaxRetransmit is the CoAP MAX_RETRANSMIT; zero means
	// DefaultMaxRetransmit and a negative value means never retransmit.
	MaxRetransmit int
}

// settings is a Config with its defaults applied and the server address
// resolved into host:port.
type settings struct {
	Config
	addr          string // host:port of the server
	secure        bool   // coaps: DTLS with PSK
	maxRetransmit uint32
}

func newSettings(cfg Config) (settings, error) {
	s := settings{Config: cfg}
	if !wire.ValidIMEI(cfg.IMEI) {
		return s, fmt.Errorf("%w: IMEI %q is not 15 digits", ErrConfig, cfg.IMEI)
	}
	addr, secure, err := serverAddr(cfg.Server)
	if err != nil {
		return s, err
	}
	s.addr, s.secure = addr, secure
	s.applyDefaults()
	if err := s.validate(); err != nil {
		return s, err
	}
	return s, nil
}

func (s *settings) applyDefaults() {
	setDefault(&s.Endpoint, wire.EndpointForIMEI(s.IMEI))
	setDefault(&s.Manufacturer, DefaultManufacturer)
	setDefault(&s.Model, DefaultModel)
	setDefault(&s.FirmwareVersion, DefaultFirmwareVersion)
	setDefault(&s.SerialNumber, s.IMEI)
	if s.Lifetime == 0 {
		s.Lifetime = DefaultLifetime
	}
	if s.AckTimeout == 0 {
		s.AckTimeout = DefaultAckTimeout
	}
	switch {
	case s.MaxRetransmit == 0:
		s.maxRetransmit = DefaultMaxRetransmit
	case s.MaxRetransmit > 0:
		s.maxRetransmit = uint32(s.MaxRetransmit)
	}
	if s.QueueMode && s.AwakeTime == 0 {
		s.AwakeTime = s.maxTransmitWait()
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

func setDefault(field *string, value string) {
	if *field == "" {
		*field = value
	}
}

func (s *settings) validate() error {
	switch {
	case s.Lifetime < time.Second || s.Lifetime > wire.MaxLifetime*time.Second:
		return fmt.Errorf("%w: Lifetime %v is outside 1s..%ds", ErrConfig, s.Lifetime, wire.MaxLifetime)
	case !printableASCII(s.Endpoint) || len(s.Endpoint) > wire.MaxEndpointLen:
		return fmt.Errorf("%w: Endpoint %q must be 1..%d printable ASCII characters without spaces", ErrConfig, s.Endpoint, wire.MaxEndpointLen)
	case s.ProductID != "" && !validProductID(s.ProductID):
		return fmt.Errorf("%w: ProductID %q may hold letters, digits and -._~: only", ErrConfig, s.ProductID)
	case !s.QueueMode && (s.AwakeTime != 0 || s.SleepTime != 0):
		return fmt.Errorf("%w: AwakeTime and SleepTime need QueueMode", ErrConfig)
	case s.AwakeTime < 0 || s.SleepTime < 0 || s.AckTimeout < 0:
		return fmt.Errorf("%w: AwakeTime, SleepTime and AckTimeout must not be negative", ErrConfig)
	case s.PreferredFormat != 0 && s.PreferredFormat != wire.FormatSenMLJSON && s.PreferredFormat != wire.FormatSenMLCBOR && s.PreferredFormat != wire.FormatTLV:
		return fmt.Errorf("%w: PreferredFormat %d is not 110 (SenML JSON), 112 (SenML CBOR) or 11542 (TLV)", ErrConfig, s.PreferredFormat)
	case s.MaxRetransmit > maxMaxRetransmit:
		return fmt.Errorf("%w: MaxRetransmit %d is more than %d", ErrConfig, s.MaxRetransmit, maxMaxRetransmit)
	}
	return s.validatePSK()
}

// serverAddr turns "coap://host[:port]" or "coaps://host[:port]" into
// host:port; secure is set for coaps.
func serverAddr(server string) (addr string, secure bool, err error) {
	if server == "" {
		return "", false, fmt.Errorf("%w: Server is required (coap://host:port or coaps://host:port)", ErrConfig)
	}
	u, err := url.Parse(server)
	if err != nil {
		return "", false, fmt.Errorf("%w: Server %q: %v", ErrConfig, server, err)
	}
	switch {
	case u.Scheme != "coap" && u.Scheme != "coaps" || u.Hostname() == "":
		return "", false, fmt.Errorf("%w: Server %q is not of the form coap://host:port or coaps://host:port", ErrConfig, server)
	case u.Path != "" && u.Path != "/", u.RawQuery != "", u.User != nil:
		return "", false, fmt.Errorf("%w: Server %q must not have a path, query or user", ErrConfig, server)
	}
	secure = u.Scheme == "coaps"
	port := u.Port()
	switch {
	case port == "" && secure:
		port = DefaultSecurePort
	case port == "":
		port = DefaultPort
	}
	return net.JoinHostPort(u.Hostname(), port), secure, nil
}

func printableASCII(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func validProductID(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !ok && strings.IndexByte("-._~:", c) < 0 {
			return false
		}
	}
	return true
}

// lifetimeSeconds is the lt= value.
func (s *settings) lifetimeSeconds() int {
	return int(s.Lifetime / time.Second)
}

// maxTransmitWait is CoAP's MAX_TRANSMIT_WAIT for these settings: the
// longest a confirmable request can wait for its answer (93 s by default).
func (s *settings) maxTransmitWait() time.Duration {
	factor := float64(int64(1)<<(s.maxRetransmit+1)-1) * ackRandomFactor
	return time.Duration(float64(s.AckTimeout) * factor)
}

// refreshInterval is how long after a Register or Update the next Update is
// due: half the lifetime, or the lifetime less MAX_TRANSMIT_WAIT when that
// is later, so that even a fully retransmitted Update arrives in time.
func (s *settings) refreshInterval() time.Duration {
	lt := time.Duration(s.lifetimeSeconds()) * time.Second
	return max(lt/2, lt-s.maxTransmitWait())
}

// binding is the Server object's binding resource.
func (s *settings) binding() string {
	if s.QueueMode {
		return "UQ"
	}
	return "U"
}
