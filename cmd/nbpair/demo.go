package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nbpair/nbpair/activator"
	"github.com/nbpair/nbpair/device"
	"github.com/nbpair/nbpair/internal/app"
	"github.com/nbpair/nbpair/internal/config"
	"github.com/nbpair/nbpair/internal/qr"
)

// The demo's device.
const (
	demoIMEI    = "868000000000001"
	demoProduct = "Water meter WM-3"
)

// demo is the whole story of the seed over real sockets on this machine.
type demo struct {
	out   io.Writer
	start time.Time
	dir   string
	a     *app.App
	// keepLabel is where the label is copied to ("": nowhere).
	keepLabel string

	mu    sync.Mutex
	marks map[string]time.Time // guarded by mu
}

func runDemo(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("demo")
	verbose := fs.Bool("v", false, "show the server's log on standard error")
	keep := fs.String("label", "", "also write the device's label card (PNG) to this `FILE`, kept after the demo")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "nbpair-demo-")
	if err != nil {
		return err
	}
	// The directory holds the database, the admin token and the key that
	// seals device PSKs: it goes, whatever happens.
	defer func() {
		if err := os.RemoveAll(dir); err != nil {
			fmt.Fprintf(os.Stderr, "nbpair demo: removing %s: %v\n", dir, err)
		}
	}()
	d := &demo{out: stdout, dir: dir, keepLabel: *keep, marks: map[string]time.Time{}}
	log := slog.New(slog.DiscardHandler)
	if *verbose {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	stop, err := d.startServer(ctx, log)
	if err != nil {
		return err
	}
	err = d.run(ctx)
	stop() // before the directory goes
	if err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing the demo's data directory: %w", err)
	}
	fmt.Fprintf(stdout, "removed the demo's data directory %s (database, keys, label)\nDevice is paired\n", dir)
	return nil
}

func (d *demo) startServer(ctx context.Context, log *slog.Logger) (stop func(), err error) {
	cfg := config.Default()
	cfg.DataDir, cfg.HTTPAddr, cfg.CoAPAddr = d.dir, "127.0.0.1:0", "127.0.0.1:0"
	cfg.CoAPSAddr = "127.0.0.1:0"
	if d.a, err = app.New(ctx, cfg, log); err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- d.a.Run(runCtx) }()
	fmt.Fprintf(d.out, "server: HTTP %s, CoAP %s, data in %s\n", d.a.HTTPAddr(), d.a.CoAPAddr(), d.dir)
	return func() { cancel(); <-done }, nil
}

func (d *demo) mark(name string) {
	d.mu.Lock()
	if _, ok := d.marks[name]; !ok {
		d.marks[name] = time.Now()
	}
	d.mu.Unlock()
}

// waitMark waits until the mark name is set, for at most 5 seconds.
func (d *demo) waitMark(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for d.at(name).IsZero() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("the device did not report %q", name)
		case <-tick.C:
		}
	}
	return nil
}

func (d *demo) at(name string) time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.marks[name]
}

func (d *demo) run(ctx context.Context) error {
	base := "http://" + d.a.HTTPAddr()
	admin, err := newAdminClient(base, filepath.Join(d.dir, app.AdminTokenFile))
	if err != nil {
		return err
	}
	if _, err := admin.CreateProduct(ctx, activator.NewProduct{ID: "wm3", Name: demoProduct}); err != nil {
		return err
	}
	dev, err := admin.Provision(ctx, activator.ProvisionRequest{IMEI: demoIMEI, ProductID: "wm3", Name: "Cellar meter"})
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "provisioned device %s (IMEI %s, nbId %s)\n", dev.ID, dev.IMEI, dev.NbID)
	label, err := d.writeLabel(dev)
	if err != nil {
		return err
	}

	client, home, err := d.signUp(ctx, base)
	if err != nil {
		return err
	}
	sim, err := d.powerOn(ctx)
	if err != nil {
		return err
	}
	if err := d.waitDevice(ctx, sim, "device ID", func(s device.Status) bool { return s.Pairing.DeviceID != "" }); err != nil {
		return err
	}
	paired, err := d.pair(ctx, client, home, label)
	if err != nil {
		return err
	}
	if err := d.waitDevice(ctx, sim, "owner", func(s device.Status) bool { return s.Pairing.OwnerUID == paired.OwnerUID }); err != nil {
		return err
	}
	// The device's events, which set the marks, may come a moment after
	// its status changed.
	for _, m := range []string{"registered", "device ID", "device bound"} {
		if err := d.waitMark(ctx, m); err != nil {
			return err
		}
	}
	d.printSteps(dev.ID, paired)
	return nil
}

// writeLabel draws the device's label card as a PNG in the demo's
// directory (and in keepLabel), and its QR code in the terminal.
func (d *demo) writeLabel(dev activator.ProvisionedDevice) (string, error) {
	card := qr.Label{Text: dev.QR, Product: demoProduct, Name: dev.Name, Code: dev.ShortCode}
	png, err := card.EncodePNG(0, 0)
	if err != nil {
		return "", err
	}
	path := filepath.Join(d.dir, "label.png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return "", err
	}
	where := path
	if d.keepLabel != "" {
		if err := os.WriteFile(d.keepLabel, png, 0o644); err != nil {
			return "", err
		}
		where = d.keepLabel
	}
	term, err := qr.Terminal(dev.QR)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(d.out, "the device's label (%s, code to type %s), written to %s:\n%s", dev.QR, dev.ShortCode, where, term)
	return path, nil
}

func (d *demo) signUp(ctx context.Context, base string) (*activator.Client, string, error) {
	c := activator.NewClient(base)
	if _, err := c.SignUp(ctx, "demo", "demo password"); err != nil {
		return nil, "", err
	}
	if _, err := c.LogIn(ctx, "demo", "demo password"); err != nil {
		return nil, "", err
	}
	h, err := c.CreateHome(ctx, "Demo home")
	if err != nil {
		return nil, "", err
	}
	fmt.Fprintf(d.out, "app: signed up as demo, home %q (%s)\n", h.Name, h.ID)
	return c, h.ID, nil
}

// powerOn starts the simulated device; its events set the marks of
// steps 1 to 5 and 9.
func (d *demo) powerOn(ctx context.Context) (*device.Client, error) {
	sim, err := device.New(device.Config{
		Server: "coap://" + d.a.CoAPAddr(), IMEI: demoIMEI,
		OnEvent: func(e device.Event) {
			switch {
			case e.Kind == device.EventRegistered:
				d.mark("registered")
			case e.Kind == device.EventPairingChanged && e.Pairing.OwnerUID != "":
				d.mark("device bound")
			case e.Kind == device.EventPairingChanged && e.Pairing.DeviceID != "":
				d.mark("device ID")
			}
		},
	})
	if err != nil {
		return nil, err
	}
	d.start = time.Now()
	go sim.Run(ctx)
	return sim, nil
}

func (d *demo) waitDevice(ctx context.Context, sim *device.Client, what string, cond func(device.Status) bool) error {
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := sim.Wait(wctx, cond); err != nil {
		return fmt.Errorf("the device did not learn its %s: %w", what, err)
	}
	return nil
}

// pair is the app's part: scan the label, start the activation, and wait
// for the delegate.
func (d *demo) pair(ctx context.Context, c *activator.Client, home, label string) (activator.DeviceModel, error) {
	d.mark("scan")
	text, err := labelText(label, "")
	if err != nil {
		return activator.DeviceModel{}, err
	}
	scan, err := c.ParseQRCode(ctx, text)
	if err != nil {
		return activator.DeviceModel{}, err
	}
	d.mark("parsed")
	type result struct {
		devices []activator.DeviceModel
		err     *activator.ErrorModel
	}
	results := make(chan result, 1)
	disc := activator.NewDiscovery(c, activator.DelegateFunc(func(_ *activator.Discovery, _ activator.TypeModel, devs []activator.DeviceModel, em *activator.ErrorModel) {
		d.mark("delegate")
		results <- result{devs, em}
	}))
	t := activator.TypeModel{Type: activator.TypeNB, TypeName: "NB", Timeout: activator.DefaultTimeout, SpaceID: home, NbID: scan.ActionData.ID}
	disc.Register(t)
	d.mark("start")
	if err := disc.StartActive(t, nil); err != nil {
		return activator.DeviceModel{}, err
	}
	select {
	case r := <-results:
		if r.err != nil {
			return activator.DeviceModel{}, explain(r.err)
		}
		return r.devices[0], nil
	case <-ctx.Done():
		return activator.DeviceModel{}, errors.New("no result from the activation in time")
	}
}

func (d *demo) printSteps(devID string, paired activator.DeviceModel) {
	ms := func(from, to string) string {
		a, b := d.at(from), d.at(to)
		if from == "" {
			a = d.start
		}
		return fmt.Sprintf("%6.1f ms", float64(b.Sub(a).Microseconds())/1000)
	}
	fmt.Fprintln(d.out, "\nThe ten steps of the pairing flow:")
	rows := [][3]string{
		{"1  Device powers on and registers (LwM2M Register)", ms("", "registered"), "2.01 Created with its registration"},
		{"2  Cloud determines the task by event", "", "within step 1: the Register event picks the tasks"},
		{"3  Cloud registers the device information", "", "within step 1: answered only once stored"},
		{"4  Cloud returns the device ID", ms("", "device ID"), "since power-on (it may beat the 2.01 to the device): Write of the Pairing object " + devID},
		{"5  Device has its registration result", "", "with step 4: registered, not bound"},
		{"6  App scans the QR code, gets device info", ms("scan", "parsed"), "label image decoded, qrcode:parse"},
		{"7  App binds the device with the user account", "", "StartActive with the NB type"},
		{"8  Cloud binds the device, returns the result", ms("start", "delegate"), "StartActive to the delegate: bound in one transaction"},
		{"9  Cloud records the UID, tells the device", ms("start", "device bound"), "StartActive to the device knowing its owner " + paired.OwnerUID},
		{"10 App gets the result: device is paired", "", "with step 8: delegate called with " + paired.DevID},
	}
	for _, r := range rows {
		fmt.Fprintf(d.out, "  %-48s %9s  %s\n", r[0], r[1], r[2])
	}
}
