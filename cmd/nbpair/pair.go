package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
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
	fs := flag.NewFlagSet("homes", flag.ContinueOnError)
	sessionFile := fs.String("session-file", defaultSessionFile(), "where the login is kept")
	create := fs.String("create", "", "create a home with this name")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, _, err := appClient(*sessionFile)
	if err != nil {
		return err
	}
	if *create != "" {
		h, err := c.CreateHome(ctx, *create)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created home %q (%s)\n", h.Name, h.ID)
		return nil
	}
	homes, err := c.Homes(ctx)
	if err != nil {
		return err
	}
	for _, h := range homes {
		fmt.Fprintf(stdout, "%s\t%s\t%s\n", h.ID, h.Role, h.Name)
	}
	return nil
}

func runPair(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("pair", flag.ContinueOnError)
	sessionFile := fs.String("session-file", defaultSessionFile(), "where the login is kept")
	home := fs.String("home", "", "name or ID of the home to add the device to")
	image := fs.String("qr-image", "", "photo or image of the device's QR label")
	code := fs.String("code", "", "the text of the device's QR label")
	timeout := fs.Duration("timeout", activator.DefaultTimeout, "how long to wait for the device")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *home == "" || (*image == "") == (*code == "") {
		fs.Usage()
		return fmt.Errorf("%w: give --home and one of --qr-image or --code", errUsage)
	}
	c, _, err := appClient(*sessionFile)
	if err != nil {
		return err
	}
	text, err := labelText(*image, *code)
	if err != nil {
		return err
	}
	homeID, err := findHome(ctx, c, *home)
	if err != nil {
		return err
	}
	scan, err := c.ParseQRCode(ctx, text)
	if err != nil {
		return explain(err)
	}
	fmt.Fprintf(stdout, "label: %s %q (nbId %s)\n", scan.ActionData.ProductName, scan.ActionData.Name, scan.ActionData.ID)
	t := activator.TypeModel{Type: activator.TypeNB, TypeName: "NB", Timeout: *timeout, SpaceID: homeID, NbID: scan.ActionData.ID}
	d, err := activateWithCountdown(ctx, c, t, stdout)
	if err != nil {
		return explain(err)
	}
	fmt.Fprintf(stdout, "Device is paired: %s %q (IMEI %s) in home %s\n", d.DevID, d.Name, d.UniqueID, d.SpaceID)
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

func findHome(ctx context.Context, c *activator.Client, nameOrID string) (string, error) {
	homes, err := c.Homes(ctx)
	if err != nil {
		return "", explain(err)
	}
	for _, h := range homes {
		if h.ID == nameOrID || strings.EqualFold(h.Name, nameOrID) {
			return h.ID, nil
		}
	}
	return "", fmt.Errorf("you have no home %q; create it with 'nbpair homes --create %q'", nameOrID, nameOrID)
}

// activateWithCountdown runs the blocking activation and shows a live
// progress line with the time left.
func activateWithCountdown(ctx context.Context, c *activator.Client, t activator.TypeModel, w io.Writer) (activator.DeviceModel, error) {
	type result struct {
		d   activator.DeviceModel
		err error
	}
	done := make(chan result, 1)
	go func() {
		d, err := c.Activate(ctx, t)
		done <- result{d, err}
	}()
	deadline := time.Now().Add(t.Timeout)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		fmt.Fprintf(w, "\rwaiting for the device to register and bind … %3d s left ", max(0, int(time.Until(deadline).Seconds())))
		select {
		case r := <-done:
			fmt.Fprintln(w)
			return r.d, r.err
		case <-tick.C:
		}
	}
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
