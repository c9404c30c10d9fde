package main

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nbpair/nbpair/device"
	"github.com/nbpair/nbpair/internal/wire"
)

// eventTimeFormat is RFC 3339 with milliseconds.
const eventTimeFormat = "2006-01-02T15:04:05.000Z07:00"

// deviceFlags are the flags of the device command.
type deviceFlags struct {
	cfg           device.Config
	maxRetransmit int
	reset         string
	psk           string // hex
	pskFile       string // a file holding the hex key
	verbose       bool
}

func newDeviceFlags() (*flag.FlagSet, *deviceFlags) {
	fs := newFlagSet("device")
	f := &deviceFlags{}
	fs.StringVar(&f.cfg.Server, "server", "coap://127.0.0.1:5683", "LwM2M server `URL`: coap://host:port, or coaps://host:port for DTLS (needs --psk)")
	fs.StringVar(&f.psk, "psk", "", "the device's DTLS pre-shared key in `HEX` (as provisioning printed it), for coaps://; visible to other users in the process list, so prefer --psk-file")
	fs.StringVar(&f.pskFile, "psk-file", "", "a `FILE` holding the device's DTLS pre-shared key in hex")
	fs.StringVar(&f.cfg.IMEI, "imei", "", "the device's 15-digit `IMEI` (required)")
	fs.StringVar(&f.cfg.Endpoint, "endpoint", "", "LwM2M endpoint `name` (default urn:imei:<IMEI>)")
	fs.DurationVar(&f.cfg.Lifetime, "lifetime", device.DefaultLifetime, "registration lifetime (whole seconds)")
	fs.BoolVar(&f.cfg.QueueMode, "queue", false, "queue mode: sleep between wake-ups like an NB-IoT module in PSM")
	fs.DurationVar(&f.cfg.AwakeTime, "awake", 0, "queue mode: stay awake this long after each message (default MAX_TRANSMIT_WAIT, 93s)")
	fs.DurationVar(&f.cfg.SleepTime, "sleep", 0, "queue mode: sleep this long, then wake up on a new socket and Update (default: until the registration needs refreshing)")
	fs.StringVar(&f.cfg.ProductID, "pid", "", "product `ID` to send on Register (pid=), for auto-registration")
	fs.BoolVar(&f.cfg.WithoutPairingObject, "no-pairing-object", false, "behave like a stock LwM2M client without the Pairing object (33050)")
	fs.DurationVar(&f.cfg.AckTimeout, "ack-timeout", device.DefaultAckTimeout, "CoAP ACK_TIMEOUT")
	fs.IntVar(&f.maxRetransmit, "max-retransmit", device.DefaultMaxRetransmit, "CoAP MAX_RETRANSMIT (0: never retransmit)")
	fs.StringVar(&f.reset, "reset", "", "right after the first registration, ask the server once for a `normal|factory` reset (an LwM2M Send of /33050/0/5)")
	fs.IntVar(&f.cfg.PreferredFormat, "ct", 0, "content `format` to announce as ct= on Register's </> link: 110 (SenML JSON), 112 (SenML CBOR) or 11542 (TLV); 0 announces none, which every server accepts")
	fs.BoolVar(&f.cfg.SenMLJSON, "senml-json", false, "send SenML as JSON (110) instead of CBOR (112)")
	fs.BoolVar(&f.verbose, "v", false, "log protocol details to stderr")
	return fs, f
}

// resetKind is the kind --reset asks for; zero when it is not set.
func (f *deviceFlags) resetKind() (device.ResetKind, error) {
	switch f.reset {
	case "":
		return 0, nil
	case "normal":
		return device.ResetNormal, nil
	case "factory":
		return device.ResetFactory, nil
	}
	return 0, usagef("device", "--reset %q: want normal or factory", f.reset)
}

// pskBytes decodes --psk (or the key in --psk-file), which coaps:// needs
// and coap:// must not have.
func (f *deviceFlags) pskBytes() ([]byte, error) {
	if f.pskFile != "" {
		if f.psk != "" {
			return nil, usagef("device", "give --psk or --psk-file, not both")
		}
		b, err := os.ReadFile(f.pskFile)
		if err != nil {
			return nil, fmt.Errorf("device: --psk-file: %w", err)
		}
		f.psk = strings.TrimSpace(string(b))
	}
	secure := strings.HasPrefix(strings.ToLower(f.cfg.Server), "coaps:")
	switch {
	case secure && f.psk == "":
		return nil, usagef("device", "--server %s is DTLS and needs the device's key: --psk HEX (provisioning prints it)", f.cfg.Server)
	case !secure && f.psk != "":
		return nil, usagef("device", "--psk needs a coaps:// server, not %s", f.cfg.Server)
	case f.psk == "":
		return nil, nil
	}
	psk, err := hex.DecodeString(f.psk)
	if err != nil || len(psk) == 0 {
		return nil, usagef("device", "--psk must be the key in hex, e.g. 00112233445566778899aabbccddeeff")
	}
	return psk, nil
}

// config returns the device configuration the flags describe.
func (f *deviceFlags) config(stdout io.Writer) (device.Config, error) {
	cfg := f.cfg
	switch {
	case cfg.IMEI == "":
		return cfg, usagef("device", "--imei is required")
	case !cfg.QueueMode && (cfg.AwakeTime != 0 || cfg.SleepTime != 0):
		return cfg, usagef("device", "--awake and --sleep need --queue")
	case f.maxRetransmit < 0:
		return cfg, usagef("device", "--max-retransmit must not be negative")
	}
	psk, err := f.pskBytes()
	if err != nil {
		return cfg, err
	}
	cfg.PSK = psk
	cfg.MaxRetransmit = f.maxRetransmit
	if f.maxRetransmit == 0 {
		cfg.MaxRetransmit = -1 // the library's zero means its default
	}
	level := slog.LevelError // events go to stdout already; -v adds the protocol details
	if f.verbose {
		level = slog.LevelDebug
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	cfg.OnEvent = func(e device.Event) {
		fmt.Fprintf(stdout, "%s %s\n", e.Time.Format(eventTimeFormat), e)
	}
	return cfg, nil
}

// lockedWriter serializes the lines of the event callback and of the reset
// request, which come from different goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer // guarded by mu
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// resetAfterRegister asks c for a reset of kind once registered is closed,
// printing a failure to out; it returns when that is done or ctx is.
func resetAfterRegister(ctx context.Context, c *device.Client, kind device.ResetKind, registered <-chan struct{}, out io.Writer) {
	select {
	case <-ctx.Done():
		return
	case <-registered:
	}
	if err := c.RequestReset(ctx, kind); err != nil && ctx.Err() == nil {
		fmt.Fprintf(out, "%s error: %v request: %v\n", time.Now().Format(eventTimeFormat), kind, err)
	}
}

// runDevice runs a simulated device until ctx is done, printing each event
// to stdout as one line that starts with its time.
func runDevice(ctx context.Context, args []string, stdout io.Writer) error {
	fs, f := newDeviceFlags()
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	kind, err := f.resetKind()
	if err != nil {
		return err
	}
	out := &lockedWriter{w: stdout}
	cfg, err := f.config(out)
	if err != nil {
		return err
	}
	registered := make(chan struct{})
	if kind != 0 {
		printEvent, once := cfg.OnEvent, sync.Once{}
		cfg.OnEvent = func(e device.Event) {
			printEvent(e)
			if e.Kind == device.EventRegistered {
				once.Do(func() { close(registered) })
			}
		}
	}
	c, err := device.New(cfg)
	if err != nil {
		return err
	}
	endpoint := cfg.Endpoint
	if endpoint == "" {
		endpoint = wire.EndpointForIMEI(cfg.IMEI)
	}
	fmt.Fprintf(out, "%s device %s registering with %s\n", time.Now().Format(eventTimeFormat), endpoint, cfg.Server)
	if kind == 0 {
		return c.Run(ctx)
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { resetAfterRegister(ctx, c, kind, registered, out) })
	err = c.Run(ctx)
	cancel()
	wg.Wait()
	return err
}
