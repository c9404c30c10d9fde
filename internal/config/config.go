// Package config is nbpair's one typed configuration: defaults, then a JSON
// file, then NBPAIR_* environment variables, then command-line flags, each
// overriding the one before. Validate names the field that is wrong.
package config

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The configuration profiles.
const (
	ProfileDevelopment = "development"
	// ProfileProduction refuses plain CoAP from every device.
	ProfileProduction = "production"
)

// Config is everything `nbpair serve` can be told.
type Config struct {
	Profile string `json:"profile"` // development or production
	DataDir string `json:"dataDir"`
	Store   string `json:"store"` // empty: SQLite in DataDir; postgres://…: PostgreSQL, shareable by nodes
	NATS    string `json:"nats"`  // empty: the in-process event bus; nats://…: NATS JetStream
	// NATSPrefix names the JetStream stream and subjects; every node of one
	// cluster uses the same.
	NATSPrefix string `json:"natsPrefix"`
	HTTPAddr   string `json:"httpAddr"`
	CoAPAddr   string `json:"coapAddr"`
	CoAPSAddr  string `json:"coapsAddr"` // DTLS 1.2 with PSK; empty turns DTLS off
	PublicURL  string `json:"publicUrl"` // base of QR label URLs; derived from httpAddr when empty
	LogLevel   string `json:"logLevel"`  // debug, info, warn, error
	LogFormat  string `json:"logFormat"` // text or json

	CoAPACKTimeout    Duration `json:"coapAckTimeout"`
	CoAPMaxRetransmit int      `json:"coapMaxRetransmit"`
	AwakeWindow       Duration `json:"awakeWindow"`
	// DownlinkAttempts is how many attempts of one downlink may get no
	// answer before it is dropped.
	DownlinkAttempts int `json:"downlinkAttempts"`
	// ActivationRecheck is how often, with NATS, a waiting app's activation
	// is re-read from the store in case the notice of its end was lost.
	ActivationRecheck Duration `json:"activationRecheck"`
	ExpiryGrace       Duration `json:"expiryGrace"`
	SessionTTL        Duration `json:"sessionTtl"`
	RateLimitPerUser  int      `json:"rateLimitPerUser"` // QR parse/scan and activation starts a minute, per user
	RateLimitPerAddr  int      `json:"rateLimitPerAddr"` // the same, per source address
	// LoginFailures is how many failed logins of one username from one
	// address are free; each further one doubles the wait before the next
	// (1 s up to 15 min). LoginFailuresPerAddr is the same for one address
	// over all usernames. Failures are forgiven an hour after the last.
	LoginFailures        int      `json:"loginFailures"`
	LoginFailuresPerAddr int      `json:"loginFailuresPerAddr"`
	ShutdownTimeout      Duration `json:"shutdownTimeout"`

	// Label photos (POST /v1/qrcode:scan): the memory one photo's pixels
	// may take decoded (from its header, before decoding), how many decode
	// at once, and how many more may wait; beyond that the answer is 503.
	QRScanDecodeBytes int `json:"qrScanDecodeBytes"`
	QRScanConcurrent  int `json:"qrScanConcurrent"`
	QRScanQueue       int `json:"qrScanQueue"`

	// The HTTP server: how long a request's header, and the whole request
	// with its body, may take to arrive; how long writing an answer may
	// take; how long a keep-alive connection may sit idle; the largest
	// request header. Long-polls and event streams are exempt from the
	// read and write timeouts but last at most HTTPStreamMax, and at most
	// MaxStreams of them are open at once, MaxStreamsPerUser per user.
	// TrustedProxies are CIDRs (or addresses) of the reverse proxies in
	// front of the HTTP API; only from them is X-Forwarded-For (or
	// Forwarded) believed as the client's address.
	TrustedProxies []string `json:"trustedProxies"`

	HTTPReadHeaderTimeout Duration `json:"httpReadHeaderTimeout"`
	HTTPReadTimeout       Duration `json:"httpReadTimeout"`
	HTTPWriteTimeout      Duration `json:"httpWriteTimeout"`
	HTTPIdleTimeout       Duration `json:"httpIdleTimeout"`
	HTTPMaxHeaderBytes    int      `json:"httpMaxHeaderBytes"`
	// HTTPMaxConns caps the HTTP connections open at once; more wait to
	// be accepted.
	HTTPMaxConns      int      `json:"httpMaxConns"`
	HTTPStreamMax     Duration `json:"httpStreamMax"`
	MaxStreams        int      `json:"maxStreams"`
	MaxStreamsPerUser int      `json:"maxStreamsPerUser"`

	// MinFreeDisk is the free space in bytes on the SQLite data directory's
	// disk under which the node is not ready (0: no check).
	MinFreeDisk int `json:"minFreeDisk"`
	// SQLiteCheckpoint is how often SQLite's WAL is copied into the
	// database file and truncated, when something was written.
	SQLiteCheckpoint Duration `json:"sqliteCheckpoint"`

	CoAPSHandshakeTimeout Duration `json:"coapsHandshakeTimeout"`
	CoAPSSessionIdle      Duration `json:"coapsSessionIdle"`
	// CoAPSMaxHandshakes caps the DTLS handshakes in progress; over it,
	// hellos with a valid cookie are dropped (and counted).
	CoAPSMaxHandshakes int `json:"coapsMaxHandshakes"`

	// The plain CoAP front: goroutines reading the socket, workers
	// handling datagrams, datagrams that may wait for a worker (more are
	// dropped; devices retransmit), and the cap of the duplicate cache
	// (RFC 7252, 4.5), which holds each answer for EXCHANGE_LIFETIME.
	CoAPReaders    int `json:"coapReaders"`
	CoAPWorkers    int `json:"coapWorkers"`
	CoAPQueueLen   int `json:"coapQueueLen"`
	CoAPDedupBytes int `json:"coapDedupBytes"`

	// Block-wise requests (RFC 7959 Block1) on plain CoAP: the memory cap
	// of the partial transfers together and the number of them kept at
	// once; a new one beyond either is refused with 5.03.
	CoAPBlock1Bytes     int `json:"coapBlock1Bytes"`
	CoAPBlock1Transfers int `json:"coapBlock1Transfers"`

	WebhookConfig
}

// Default is the configuration `nbpair serve` runs with when told nothing.
func Default() Config {
	return Config{
		Profile:              ProfileDevelopment,
		NATSPrefix:           "nbpair",
		DataDir:              "nbpair-data",
		HTTPAddr:             ":8080",
		CoAPAddr:             ":5683",
		CoAPSAddr:            ":5684",
		LogLevel:             "info",
		LogFormat:            "text",
		CoAPACKTimeout:       Duration(2 * time.Second),
		CoAPMaxRetransmit:    4,
		AwakeWindow:          Duration(93 * time.Second),
		DownlinkAttempts:     5,
		ActivationRecheck:    Duration(2 * time.Second),
		ExpiryGrace:          0,
		SessionTTL:           Duration(30 * 24 * time.Hour),
		RateLimitPerUser:     30,
		RateLimitPerAddr:     60,
		LoginFailures:        5,
		LoginFailuresPerAddr: 50,
		ShutdownTimeout:      Duration(10 * time.Second),
		QRScanDecodeBytes:    64 << 20,
		QRScanConcurrent:     2,
		QRScanQueue:          4,
		MinFreeDisk:          64 << 20,
		SQLiteCheckpoint:     Duration(10 * time.Second),

		HTTPReadHeaderTimeout: Duration(10 * time.Second),
		HTTPReadTimeout:       Duration(60 * time.Second),
		HTTPWriteTimeout:      Duration(60 * time.Second),
		HTTPIdleTimeout:       Duration(30 * time.Second),
		HTTPMaxHeaderBytes:    32 << 10,
		HTTPMaxConns:          10000,
		HTTPStreamMax:         Duration(10 * time.Minute),
		MaxStreams:            1024,
		MaxStreamsPerUser:     8,

		CoAPSHandshakeTimeout: Duration(30 * time.Second),
		CoAPSSessionIdle:      Duration(24*time.Hour + 5*time.Minute),
		CoAPSMaxHandshakes:    256,

		CoAPReaders:    2,
		CoAPWorkers:    256,
		CoAPQueueLen:   4096,
		CoAPDedupBytes: 64 << 20,

		CoAPBlock1Bytes:     4 << 20,
		CoAPBlock1Transfers: 1024,

		WebhookConfig: defaultWebhooks(),
	}
}

// Duration is a time.Duration written as "30s" in JSON.
type Duration time.Duration

// MarshalJSON writes the duration as a string such as "1m30s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a string such as "90s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"30s\"")
	}
	v, err := time.ParseDuration(s)
	*d = Duration(v)
	return err
}

// String implements flag.Value.
func (d *Duration) String() string { return time.Duration(*d).String() }

// Type names the flag's value in help texts.
func (d *Duration) Type() string { return "duration" }

// Set implements flag.Value.
func (d *Duration) Set(s string) error {
	v, err := time.ParseDuration(s)
	*d = Duration(v)
	return err
}

// field ties one setting to its flag and environment variable.
type field struct {
	flag, usage string
	value       flag.Value
}

func (c *Config) fields() []field {
	return append([]field{
		{"profile", "development, or production (devices must use DTLS)", (*stringValue)(&c.Profile)},
		{"data-dir", "directory of the database, the admin token and the secret key", (*stringValue)(&c.DataDir)},
		{"nats", "empty for the in-process event bus, or nats://HOST:PORT for NATS JetStream (JetStream enabled)", (*stringValue)(&c.NATS)},
		{"nats-prefix", "name of the NATS stream and subjects, the same on every node", (*stringValue)(&c.NATSPrefix)},
		{"store", "empty for SQLite in the data directory, or postgres://USER@HOST:PORT/DB for PostgreSQL (a password is better in the env or PGPASSWORD than on the command line)", (*stringValue)(&c.Store)},
		{"http-addr", "HTTP listen address (apps, admins, /healthz)", (*stringValue)(&c.HTTPAddr)},
		{"coap-addr", "CoAP/UDP listen address (LwM2M devices)", (*stringValue)(&c.CoAPAddr)},
		{"coaps-addr", "CoAP over DTLS (PSK) listen address; empty turns DTLS off", (*stringValue)(&c.CoAPSAddr)},
		{"coaps-handshake-timeout", "how long a DTLS handshake may take", &c.CoAPSHandshakeTimeout},
		{"coaps-session-idle", "how long a silent DTLS session is kept for a sleeping device", &c.CoAPSSessionIdle},
		{"coaps-max-handshakes", "DTLS handshakes in progress at most; more hellos are dropped", (*intValue)(&c.CoAPSMaxHandshakes)},
		{"public-url", "base URL of QR labels, e.g. https://pair.example.com", (*stringValue)(&c.PublicURL)},
		{"log-level", "debug, info, warn or error", (*stringValue)(&c.LogLevel)},
		{"log-format", "text or json", (*stringValue)(&c.LogFormat)},
		{"coap-ack-timeout", "CoAP ACK_TIMEOUT for downlinks", &c.CoAPACKTimeout},
		{"coap-max-retransmit", "CoAP MAX_RETRANSMIT for downlinks", (*intValue)(&c.CoAPMaxRetransmit)},
		{"awake-window", "how long a queue-mode device listens after an uplink, at most (less for a device seen asleep sooner)", &c.AwakeWindow},
		{"downlink-attempts", "attempts of one downlink that may get no answer before it is dropped", (*intValue)(&c.DownlinkAttempts)},
		{"coap-readers", "goroutines reading the CoAP/UDP socket", (*intValue)(&c.CoAPReaders)},
		{"coap-workers", "goroutines handling CoAP/UDP requests; each holds one request while the store writes it, so they bound what one commit can batch", (*intValue)(&c.CoAPWorkers)},
		{"coap-queue-len", "CoAP/UDP datagrams that may wait for a worker; more are dropped and counted (devices retransmit)", (*intValue)(&c.CoAPQueueLen)},
		{"coap-dedup-bytes", "memory cap in bytes of the CoAP duplicate cache (each answer kept for EXCHANGE_LIFETIME; the oldest evicted when full)", (*intValue)(&c.CoAPDedupBytes)},
		{"coap-block1-bytes", "memory cap in bytes of the block-wise (Block1) requests being reassembled on plain CoAP; beyond it a new one is refused with 5.03", (*intValue)(&c.CoAPBlock1Bytes)},
		{"coap-block1-transfers", "block-wise (Block1) requests on plain CoAP reassembled at once; beyond it a new one is refused with 5.03", (*intValue)(&c.CoAPBlock1Transfers)},
		{"activation-recheck", "with NATS, how often a waiting activation is re-read from the store in case the notice of its end was lost", &c.ActivationRecheck},
		{"expiry-grace", "extra time after a registration's lifetime before it expires", &c.ExpiryGrace},
		{"session-ttl", "how long a login lasts", &c.SessionTTL},
		{"rate-limit-per-user", "QR parses and activation starts a minute per user (0: no limit)", (*intValue)(&c.RateLimitPerUser)},
		{"rate-limit-per-addr", "QR parses and activation starts a minute per source address (0: no limit)", (*intValue)(&c.RateLimitPerAddr)},
		{"login-failures", "failed logins of one username from one address before each further one doubles the wait, 1 s up to 15 min (0: no throttle); forgiven an hour after the last", (*intValue)(&c.LoginFailures)},
		{"login-failures-per-addr", "the same for one address over all usernames; an address and username that logged in correctly in the last 30 days are not held back by it", (*intValue)(&c.LoginFailuresPerAddr)},
		{"qr-scan-decode-bytes", "memory in bytes one uploaded label photo's pixels may take once decoded, read from its header before decoding (a 16-bit PNG takes 8 bytes a pixel); larger photos are refused with 413", (*intValue)(&c.QRScanDecodeBytes)},
		{"qr-scan-concurrent", "label photos decoded at once", (*intValue)(&c.QRScanConcurrent)},
		{"qr-scan-queue", "label photos that may wait for a turn to decode; beyond it uploads are refused with 503 and Retry-After", (*intValue)(&c.QRScanQueue)},
		{"trusted-proxies", "comma-separated CIDRs of the reverse proxies in front of the HTTP API, e.g. 10.0.0.0/8,::1; only from them is X-Forwarded-For (or Forwarded) taken as the client's address for rate limits, the login throttle and the audit log", (*listValue)(&c.TrustedProxies)},
		{"http-read-header-timeout", "how long a request's header may take to arrive", &c.HTTPReadHeaderTimeout},
		{"http-read-timeout", "how long a whole request, with its body (a label photo, a batch CSV), may take to arrive", &c.HTTPReadTimeout},
		{"http-write-timeout", "how long writing an answer may take (long-polls and event streams excepted)", &c.HTTPWriteTimeout},
		{"http-idle-timeout", "how long a keep-alive connection may wait for its next request", &c.HTTPIdleTimeout},
		{"http-max-header-bytes", "the largest request header in bytes; larger ones get 431", (*intValue)(&c.HTTPMaxHeaderBytes)},
		{"http-max-conns", "HTTP connections open at once (each costs about 16 KiB while open); more wait in the listen queue until one closes", (*intValue)(&c.HTTPMaxConns)},
		{"http-stream-max", "how long an activation's event stream may stay open (clients then long-poll or reconnect)", &c.HTTPStreamMax},
		{"max-streams", "long-polls and event streams open at once on this node; beyond it 503 (5032)", (*intValue)(&c.MaxStreams)},
		{"max-streams-per-user", "long-polls and event streams open at once for one user; beyond it 429 (4290)", (*intValue)(&c.MaxStreamsPerUser)},
		{"shutdown-timeout", "how long a graceful shutdown may take", &c.ShutdownTimeout},
		{"min-free-disk", "free bytes on the SQLite data directory's disk under which /readyz answers 503 (0: no check)", (*intValue)(&c.MinFreeDisk)},
		{"sqlite-checkpoint", "how often SQLite's WAL is copied into the database file and truncated, when something was written", &c.SQLiteCheckpoint},
	}, c.WebhookConfig.fields()...)
}

// EnvName is the environment variable of a flag: data-dir → NBPAIR_DATA_DIR.
func EnvName(flagName string) string {
	return "NBPAIR_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Load builds the configuration from defaults, the file named by --config
// (or NBPAIR_CONFIG), the environment and the flags in args.
func Load(fs *flag.FlagSet, args []string, getenv func(string) string) (Config, error) {
	c, err := Register(fs, args, getenv)
	if err != nil {
		return Config{}, err
	}
	if err := fs.Parse(args); err != nil {
		return *c, err
	}
	return *c, c.Validate()
}

// Register is Load without the parsing: it reads the file named by
// --config in args (or NBPAIR_CONFIG) and the environment into a new
// Config, and defines on fs --config and the flag of every setting (only
// those named in only, if any) to set it. The caller parses fs, which
// fills the Config, then calls Validate.
func Register(fs *flag.FlagSet, args []string, getenv func(string) string, only ...string) (*Config, error) {
	c := Default()
	path := getenv("NBPAIR_CONFIG")
	for i, a := range args { // the file comes before flags, so find it first
		if v, ok := strings.CutPrefix(strings.TrimLeft(a, "-"), "config="); ok && strings.HasPrefix(a, "-") {
			path = v
		} else if (a == "-config" || a == "--config") && i+1 < len(args) {
			path = args[i+1]
		}
	}
	if path != "" {
		if err := c.loadFile(path); err != nil {
			return nil, err
		}
	}
	fields := c.fields()
	for _, f := range fields {
		if v := getenv(EnvName(f.flag)); v != "" {
			if err := f.value.Set(v); err != nil {
				return nil, fmt.Errorf("%s=%q: %v", EnvName(f.flag), v, err)
			}
		}
	}
	fs.String("config", path, "JSON configuration `FILE` (see 'nbpair config print-default'); env NBPAIR_CONFIG")
	for _, f := range fields {
		if len(only) == 0 || slices.Contains(only, f.flag) {
			fs.Var(f.value, f.flag, f.usage+" (env "+EnvName(f.flag)+")")
		}
	}
	return &c, nil
}

func (c *Config) loadFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	return nil
}

// Validate checks every field and names the first bad one.
func (c *Config) Validate() error {
	var errs []error
	if c.Profile != ProfileDevelopment && c.Profile != ProfileProduction {
		errs = append(errs, fmt.Errorf("profile: %q is not development or production", c.Profile))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("dataDir: must not be empty"))
	}
	if err := validateStore(c.Store); err != nil {
		errs = append(errs, err)
	}
	if c.NATS != "" {
		if u, err := url.Parse(c.NATS); err != nil || (u.Scheme != "nats" && u.Scheme != "tls") || u.Host == "" {
			errs = append(errs, fmt.Errorf("nats: %q is not a nats:// URL", c.NATS))
		}
	}
	addrs := map[string]string{"httpAddr": c.HTTPAddr, "coapAddr": c.CoAPAddr}
	if c.CoAPSAddr != "" {
		addrs["coapsAddr"] = c.CoAPSAddr
	}
	for name, addr := range addrs {
		if _, port, err := net.SplitHostPort(addr); err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not host:port", name, addr))
		} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
			errs = append(errs, fmt.Errorf("%s: port %q is not 0..65535", name, port))
		}
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("publicUrl: %q is not an http(s) URL", c.PublicURL))
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("logLevel: %q is not debug, info, warn or error", c.LogLevel))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("logFormat: %q is not text or json", c.LogFormat))
	}
	if c.CoAPACKTimeout < Duration(100*time.Millisecond) || c.CoAPMaxRetransmit < 0 || c.CoAPMaxRetransmit > 10 {
		errs = append(errs, errors.New("coapAckTimeout/coapMaxRetransmit: need a timeout of at least 100ms and 0..10 retransmissions"))
	}
	if c.CoAPReaders < 1 || c.CoAPReaders > 64 || c.CoAPWorkers < 1 || c.CoAPWorkers > 4096 || c.CoAPQueueLen < 1 || c.CoAPQueueLen > 1<<20 {
		errs = append(errs, errors.New("coapReaders/coapWorkers/coapQueueLen: need 1..64 readers, 1..4096 workers and a queue of 1..1048576"))
	}
	if c.CoAPDedupBytes < 64<<10 {
		errs = append(errs, errors.New("coapDedupBytes: need at least 65536 bytes"))
	}
	if c.CoAPBlock1Bytes < 64<<10 || c.CoAPBlock1Transfers < 1 {
		errs = append(errs, errors.New("coapBlock1Bytes/coapBlock1Transfers: need at least 65536 bytes and 1 transfer"))
	}
	if c.RateLimitPerUser < 0 || c.RateLimitPerAddr < 0 || c.LoginFailures < 0 || c.LoginFailuresPerAddr < 0 {
		errs = append(errs, errors.New("rateLimitPerUser, rateLimitPerAddr, loginFailures and loginFailuresPerAddr must not be negative"))
	}
	if c.QRScanDecodeBytes < 1<<20 || c.QRScanConcurrent < 1 || c.QRScanConcurrent > 64 || c.QRScanQueue < 0 || c.QRScanQueue > 1024 {
		errs = append(errs, errors.New("qrScanDecodeBytes/qrScanConcurrent/qrScanQueue: need at least 1 MiB, 1..64 at once and a queue of 0..1024"))
	}
	if c.HTTPReadHeaderTimeout <= 0 || c.HTTPReadTimeout < c.HTTPReadHeaderTimeout || c.HTTPWriteTimeout <= 0 || c.HTTPIdleTimeout <= 0 || c.HTTPStreamMax <= 0 {
		errs = append(errs, errors.New("httpReadHeaderTimeout, httpReadTimeout, httpWriteTimeout, httpIdleTimeout and httpStreamMax must be positive, httpReadTimeout at least httpReadHeaderTimeout"))
	}
	if c.HTTPMaxHeaderBytes < 4<<10 || c.HTTPMaxConns < 1 || c.MaxStreams < 1 || c.MaxStreamsPerUser < 1 {
		errs = append(errs, errors.New("httpMaxHeaderBytes/httpMaxConns/maxStreams/maxStreamsPerUser: need at least 4096 bytes, 1 connection, 1 stream and 1 stream per user"))
	}
	for _, p := range c.TrustedProxies {
		if !validCIDR(p) {
			errs = append(errs, fmt.Errorf("trustedProxies: %q is not a CIDR such as 10.0.0.0/8 or an address", p))
		}
	}
	if c.MinFreeDisk < 0 {
		errs = append(errs, errors.New("minFreeDisk: must not be negative (0 turns the check off)"))
	}
	if c.SQLiteCheckpoint < Duration(10*time.Millisecond) {
		errs = append(errs, errors.New("sqliteCheckpoint: need at least 10ms"))
	}
	if c.CoAPSMaxHandshakes < 1 {
		errs = append(errs, errors.New("coapsMaxHandshakes: need at least 1"))
	}
	if c.CoAPSHandshakeTimeout < Duration(time.Second) || c.CoAPSSessionIdle <= 0 {
		errs = append(errs, errors.New("coapsHandshakeTimeout/coapsSessionIdle: need a handshake timeout of at least 1s and a positive session idle time"))
	}
	if c.DownlinkAttempts < 1 {
		errs = append(errs, errors.New("downlinkAttempts must be at least 1"))
	}
	if c.AwakeWindow <= 0 || c.ActivationRecheck <= 0 || c.SessionTTL <= 0 || c.ExpiryGrace < 0 || c.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("awakeWindow, activationRecheck, sessionTtl and shutdownTimeout must be positive, expiryGrace not negative"))
	}
	errs = append(errs, c.WebhookConfig.validate())
	return errors.Join(errs...)
}

// validateStore checks that s is empty or a postgres:// URL. Its errors show
// the URL without its password.
func validateStore(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("store: not a postgres:// URL") // the parse error would show the password
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return fmt.Errorf("store: %q is not empty (SQLite) or a postgres:// URL", u.Redacted())
	}
	return nil
}

// RedactedStore is the store URL s without its password, for logs and
// messages.
func RedactedStore(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unreadable store URL)"
	}
	return u.Redacted()
}

// PublicBase is the base of QR label URLs: PublicURL, or one derived from
// the address the HTTP server is bound to.
func (c *Config) PublicBase(boundHTTPAddr string) string {
	if c.PublicURL != "" {
		return strings.TrimSuffix(c.PublicURL, "/")
	}
	host, port, _ := net.SplitHostPort(boundHTTPAddr)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// validCIDR tells whether s is a CIDR or a single address.
func validCIDR(s string) bool {
	if _, err := netip.ParsePrefix(s); err == nil {
		return true
	}
	_, err := netip.ParseAddr(s)
	return err == nil
}

// listValue is a comma-separated list flag.
type listValue []string

func (l *listValue) String() string { return strings.Join(*l, ",") }
func (l *listValue) Set(v string) error {
	*l = nil
	for s := range strings.SplitSeq(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

type stringValue string

func (s *stringValue) String() string     { return string(*s) }
func (s *stringValue) Set(v string) error { *s = stringValue(v); return nil }

// Type names the flag's value in help texts.
func (s *stringValue) Type() string { return "string" }

type intValue int

func (i *intValue) String() string { return strconv.Itoa(int(*i)) }

// Type names the flag's value in help texts.
func (i *intValue) Type() string { return "int" }

func (l *listValue) Type() string { return "list" }
func (i *intValue) Set(v string) error {
	n, err := strconv.Atoi(v)
	*i = intValue(n)
	return err
}
