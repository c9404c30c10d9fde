package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nbpair/nbpair/activator"
)

// printHomeDevices lists the devices of one of the user's homes.
func printHomeDevices(ctx context.Context, sessionFile, home string, asJSON bool, stdout io.Writer) error {
	c, _, err := appClient(sessionFile)
	if err != nil {
		return err
	}
	h, err := findHome(ctx, c, home)
	if err != nil {
		return err
	}
	devs, err := c.HomeDevices(ctx, h.ID)
	if err != nil {
		return explain(err)
	}
	if asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{"home": h, "devices": devs})
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "NAME\tDEVICE ID\tIMEI\tONLINE\tLAST SEEN\tBOUND AT\n")
	for _, d := range devs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\t%s\n", dash(d.Name), d.DevID, d.UniqueID, d.Online, when(d.LastSeen), when(d.BoundAt))
	}
	fmt.Fprintf(tw, "(%d devices in home %q)\n", len(devs), h.Name)
	return tw.Flush()
}

// when is a time for a table, "-" for none.
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format(time.DateTime)
}

// runRemove is "nbpair remove DEVICE": unbind a device from its home.
func runRemove(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("remove")
	sessionFile := sessionFlag(fs)
	pos, err := parseExactly(fs, args, 1, "one DEVICE: a device ID or the name of a device in one of your homes")
	if err != nil {
		return err
	}
	c, _, err := appClient(*sessionFile)
	if err != nil {
		return err
	}
	d, home, err := findDevice(ctx, c, pos[0])
	if err != nil {
		return err
	}
	if err := c.RemoveDevice(ctx, d.DevID); err != nil {
		return explain(err)
	}
	fmt.Fprintf(stdout, "removed %s %q (IMEI %s) from home %q; the device is told when it is next awake\n", d.DevID, d.Name, d.UniqueID, home.Name)
	return nil
}

// findDevice finds a device in the user's homes by device ID or name: an
// exact match first, else the one name that differs only in case; several
// such names are an error that lists them.
func findDevice(ctx context.Context, c *activator.Client, idOrName string) (activator.DeviceModel, activator.Home, error) {
	homes, err := c.Homes(ctx)
	if err != nil {
		return activator.DeviceModel{}, activator.Home{}, explain(err)
	}
	type found struct {
		d activator.DeviceModel
		h activator.Home
	}
	var exact, folded []found
	for _, h := range homes {
		devs, err := c.HomeDevices(ctx, h.ID)
		if err != nil {
			return activator.DeviceModel{}, activator.Home{}, explain(err)
		}
		for _, d := range devs {
			switch {
			case d.DevID == idOrName || d.Name == idOrName:
				exact = append(exact, found{d, h})
			case strings.EqualFold(d.Name, idOrName):
				folded = append(folded, found{d, h})
			}
		}
	}
	if len(exact) == 0 {
		exact = folded
	}
	switch len(exact) {
	case 1:
		return exact[0].d, exact[0].h, nil
	case 0:
		return activator.DeviceModel{}, activator.Home{}, fmt.Errorf("no device %q in your homes; 'nbpair devices --home NAME' lists a home's devices", idOrName)
	}
	var names []string
	for _, f := range exact {
		names = append(names, fmt.Sprintf("%s (%q in home %q)", f.d.DevID, f.d.Name, f.h.Name))
	}
	return activator.DeviceModel{}, activator.Home{}, fmt.Errorf("%d devices are called %q: %s; give the device ID", len(exact), idOrName, strings.Join(names, ", "))
}
