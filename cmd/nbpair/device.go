package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/nbpair/nbpair/device"
	"github.com/nbpair/nbpair/internal/lwm2m/wire"
)

// eventTimeFormat is RFC 3339 with milliseconds.
const eventTimeFormat = "2006-01-02T15:04:05.000Z07:00"

// deviceFlags are the flags of the device command.
type deviceFlags struct {
	cfg           device.Config
	maxRetransmit int
	verbose       bool
}

func newDeviceFlags() (*flag.FlagSet, *deviceFlags) {
	fs := flag.NewFlagSet("device", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	f := &deviceFlags{}
	fs.StringVar(&f.cfg.Server, "server", "coap://127.0.0.1:5683", "LwM2M server `URL` (coap://host:port)")
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
	fs.BoolVar(&f.verbose, "v", false, "log protocol details to stderr")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: nbpair device --server coap://HOST:PORT --imei IMEI [flags]\n\n"+
			"Simulates an NB-IoT device: registers over LwM2M, keeps the registration fresh,\n"+
			"answers the server, and prints each state change. Stop it with Ctrl-C.\n\nFlags:")
		fs.PrintDefaults()
	}
	return fs, f
}

// config returns the device configuration the flags describe.
func (f *deviceFlags) config(stdout io.Writer) (device.Config, error) {
	cfg := f.cfg
	switch {
	case cfg.IMEI == "":
		return cfg, errors.New("device: --imei is required")
	case !cfg.QueueMode && (cfg.AwakeTime != 0 || cfg.SleepTime != 0):
		return cfg, errors.New("device: --awake and --sleep need --queue")
	case f.maxRetransmit < 0:
		return cfg, errors.New("device: --max-retransmit must not be negative")
	}
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

// runDevice runs a simulated device until ctx is done, printing each event
// to stdout as one line that starts with its time.
func runDevice(ctx context.Context, args []string, stdout io.Writer) error {
	fs, f := newDeviceFlags()
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("device: unexpected arguments %q", fs.Args())
	}
	cfg, err := f.config(stdout)
	if err != nil {
		return err
	}
	c, err := device.New(cfg)
	if err != nil {
		return err
	}
	endpoint := cfg.Endpoint
	if endpoint == "" {
		endpoint = wire.EndpointForIMEI(cfg.IMEI)
	}
	fmt.Fprintf(stdout, "%s device %s registering with %s\n", time.Now().Format(eventTimeFormat), endpoint, cfg.Server)
	return c.Run(ctx)
}
