package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nbpair/nbpair/activator"
	"github.com/nbpair/nbpair/internal/qr"
)

// appClient returns an SDK client for the logged-in session.
func appClient(sessionFile string) (*activator.Client, savedSession, error) {
	s, err := loadSession(sessionFile)
	if err != nil {
		return nil, s, err
	}
	return activator.NewClient(s.Server, activator.WithToken(s.Token)), s, nil
}

func runHomes(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) > 0 && args[0] == "delete" {
		return runHomesDelete(ctx, args[1:], stdout)
	}
	fs := newFlagSet("homes")
	sessionFile := sessionFlag(fs)
	create := fs.String("create", "", "create a home with this `NAME`")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	c, _, err := appClient(*sessionFile)
	if err != nil {
		return err
	}
	if *create != "" {
		h, err := c.CreateHome(ctx, *create)
		if err != nil {
			return explain(err)
		}
		fmt.Fprintf(stdout, "created home %q (%s)\n", h.Name, h.ID)
		return nil
	}
	homes, err := c.Homes(ctx)
	if err != nil {
		return explain(err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOME ID\tROLE\tNAME")
	for _, h := range homes {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", h.ID, h.Role, h.Name)
	}
	return tw.Flush()
}

func runPair(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("pair")
	sessionFile := sessionFlag(fs)
	home := fs.String("home", "", "`NAME` or ID of the home to add the device to")
	image := fs.String("qr-image", "", "photo or image `FILE` of the device's QR label")
	code := fs.String("code", "", "the label's `TEXT`: its URL, or the short code printed under the QR")
	timeout := fs.Duration("timeout", 0, "how long to wait for the device; 0 is the server's default (120s)")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	switch {
	case *home == "":
		return usagef("pair", "give --home NAME (see 'nbpair homes')")
	case (*image == "") == (*code == ""):
		return usagef("pair", "give one of --qr-image FILE or --code TEXT")
	case *timeout < 0:
		return usagef("pair", "--timeout must not be negative")
	}
	c, _, err := appClient(*sessionFile)
	if err != nil {
		return err
	}
	text, err := labelText(*image, *code)
	if err != nil {
		return err
	}
	h, err := findHome(ctx, c, *home)
	if err != nil {
		return err
	}
	scan, err := c.ParseQRCode(ctx, text)
	if err != nil {
		return explain(err)
	}
	fmt.Fprintf(stdout, "label: %s %q (nbId %s)\n", scan.ActionData.ProductName, scan.ActionData.Name, scan.ActionData.ID)
	t := activator.TypeModel{Type: activator.TypeNB, TypeName: "NB", Timeout: *timeout, SpaceID: h.ID, NbID: scan.ActionData.ID}
	d, err := activateWithCountdown(ctx, c, t, stdout, isTerminalWriter(stdout))
	if err != nil {
		return explain(err)
	}
	fmt.Fprintf(stdout, "Device is paired: %s %q (IMEI %s) in home %q (%s)\n", d.DevID, d.Name, d.UniqueID, h.Name, d.SpaceID)
	return nil
}

func labelText(image, code string) (string, error) {
	if code != "" {
		return code, nil
	}
	f, err := os.Open(image)
	if err != nil {
		return "", err
	}
	defer f.Close()
	text, err := qr.Decode(f)
	if err != nil {
		return "", fmt.Errorf("reading the label in %s: %w", image, err)
	}
	return text, nil
}

// findHome finds one of the user's homes by ID or name: an exact match
// first, else the one name that differs only in case; several such names
// are an error that lists them.
func findHome(ctx context.Context, c *activator.Client, nameOrID string) (activator.Home, error) {
	homes, err := c.Homes(ctx)
	if err != nil {
		return activator.Home{}, explain(err)
	}
	var exact, folded []activator.Home
	for _, h := range homes {
		switch {
		case h.ID == nameOrID || h.Name == nameOrID:
			exact = append(exact, h)
		case strings.EqualFold(h.Name, nameOrID):
			folded = append(folded, h)
		}
	}
	if len(exact) == 0 {
		exact = folded
	}
	switch len(exact) {
	case 1:
		return exact[0], nil
	case 0:
		return activator.Home{}, fmt.Errorf("you have no home %q; create it with 'nbpair homes --create %q', or see yours with 'nbpair homes'", nameOrID, nameOrID)
	}
	var names []string
	for _, h := range exact {
		names = append(names, fmt.Sprintf("%q (%s)", h.Name, h.ID))
	}
	return activator.Home{}, fmt.Errorf("%d of your homes are called %q: %s; give the home's ID", len(exact), nameOrID, strings.Join(names, ", "))
}

// activateWithCountdown runs the blocking activation and shows the time
// left until the server's deadline: on a terminal as one line redrawn
// every second, otherwise as a line every 10 seconds.
func activateWithCountdown(ctx context.Context, c *activator.Client, t activator.TypeModel, w io.Writer, live bool) (activator.DeviceModel, error) {
	type result struct {
		d   activator.DeviceModel
		err error
	}
	done := make(chan result, 1)
	started := make(chan activator.Started, 1)
	go func() {
		d, err := c.ActivateNotify(ctx, t, func(s activator.Started) { started <- s })
		done <- result{d, err}
	}()
	var deadline time.Time
	select {
	case s := <-started:
		deadline = s.Deadline
	case r := <-done: // refused at the start
		return r.d, r.err
	}
	every := time.Second
	if !live {
		every = 10 * time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		left := max(0, int(time.Until(deadline).Round(time.Second).Seconds()))
		if live {
			fmt.Fprintf(w, "\rwaiting for the device to register and bind … %3d s left ", left)
		} else {
			fmt.Fprintf(w, "waiting for the device to register and bind … %d s left\n", left)
		}
		select {
		case r := <-done:
			if live {
				fmt.Fprintln(w)
			}
			return r.d, r.err
		case <-tick.C:
		}
	}
}

// isTerminalWriter is whether w is a terminal.
func isTerminalWriter(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isTerminal(f)
}

// advice says what a person can do about an error code.
var advice = map[int]string{
	activator.CodeTimeout:              "power the device on (or wake it) where it has NB-IoT coverage, then try again",
	activator.CodeDeviceAlreadyBound:   "ask its owner to remove it from their home, or reset the device, then try again",
	activator.CodeDeviceNotExist:       "check that the label belongs to a device of this cloud",
	activator.CodePermissionDenied:     "ask the home's owner to make you an admin, or pick one of your homes",
	activator.CodeUserSessionLoss:      "log in with 'nbpair login'",
	activator.CodeTokenExpired:         "your login has expired; log in again with 'nbpair login'",
	activator.CodeDeviceActiveRepeated: "a pairing of this device is already running; wait for it or stop it",
	activator.CodeQRCodeIsIMEI:         "type the code printed under the QR code (7 groups of 4 letters and digits), or scan the QR with --qr-image",
	activator.CodeQRCodeNotRecognised:  "scan the device's QR label with --qr-image, or type the code printed under it exactly",
	activator.CodeRateLimited:          "wait a minute, then try again",
}

// explain adds what to do to an API error.
func explain(err error) error {
	var ae *activator.Error
	if !errors.As(err, &ae) {
		return err
	}
	if a, ok := advice[ae.Code]; ok {
		return fmt.Errorf("%w\nwhat to do: %s", err, a)
	}
	return err
}
