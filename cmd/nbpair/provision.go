package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/nbpair/nbpair/activator"
)

// deviceView is a device as `nbpair devices --json` lists it.
type deviceView struct {
	ID           string        `json:"id"`
	ProductID    string        `json:"productId"`
	IMEI         string        `json:"imei"`
	NbID         string        `json:"nbId"`
	Name         string        `json:"name"`
	QR           string        `json:"qr"`
	ShortCode    string        `json:"shortCode"`
	Online       bool          `json:"online"`
	OwnerUID     string        `json:"ownerUid"`
	Blocked      *blockView    `json:"blocked"`
	Registration *registration `json:"registration"`
}

// blockView is a device's block in a deviceView.
type blockView struct {
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
}

// registration is a device's registration in a deviceView.
type registration struct {
	ID        string    `json:"id"`
	Endpoint  string    `json:"endpoint"`
	Lifetime  int       `json:"lifetime"`
	Version   string    `json:"lwm2mVersion"`
	Binding   string    `json:"binding"`
	QueueMode bool      `json:"queueMode"`
	Objects   []string  `json:"objects"`
	Addr      string    `json:"remoteAddr"`
	LastSeen  time.Time `json:"lastSeen"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// viewDevice is d as `nbpair devices --json` lists it.
func viewDevice(d activator.AdminDevice) deviceView {
	v := deviceView{ID: d.ID, ProductID: d.ProductID, IMEI: d.IMEI, NbID: d.NbID, Name: d.Name, QR: d.QR,
		ShortCode: d.ShortCode, Online: d.Online, OwnerUID: d.OwnerUID}
	if b := d.Blocked; b != nil {
		v.Blocked = &blockView{At: b.At, Reason: b.Reason}
	}
	if r := d.Registration; r != nil {
		v.Registration = &registration{ID: r.ID, Endpoint: r.Endpoint, Lifetime: r.Lifetime, Version: r.Version, Binding: r.Binding,
			QueueMode: r.QueueMode, Objects: r.Objects, Addr: r.Addr, LastSeen: r.LastSeen, ExpiresAt: r.ExpiresAt}
	}
	return v
}

// printJSON prints v as the API answers it: indented by two spaces.
func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func runProvision(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("provision")
	server, tokenFile := adminFlags(fs)
	imei := fs.String("imei", "", "the device's 15-digit `IMEI` (required)")
	product := fs.String("product", "", "product `ID` (default: the default product)")
	name := fs.String("name", "", "display `NAME`, printed on its label")
	asJSON := fs.Bool("json", false, "print the API's JSON answer")
	label := fs.String("label", "", "write the device's label card (PNG) to this `FILE`")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if *imei == "" {
		return usagef("provision", "--imei is required")
	}
	c, err := newAdminClient(*server, *tokenFile)
	if err != nil {
		return err
	}
	v, err := c.Provision(ctx, activator.ProvisionRequest{IMEI: *imei, ProductID: *product, Name: *name})
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, v)
	}
	fmt.Fprintf(stdout, "device ID:    %s\nIMEI:         %s\nnbId:         %s\nshort code:   %s\nQR text:      %s\nPSK identity: %s\nPSK (hex):    %s\n",
		v.ID, v.IMEI, v.NbID, v.ShortCode, v.QR, v.PSKIdentity, v.PSK)
	if *label != "" {
		if err := writeLabel(ctx, c, v.ID, *label); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "label card:   %s\n", *label)
	}
	return nil
}

func runDevices(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("devices")
	server, tokenFile := adminFlags(fs)
	home := fs.String("home", "", "list the devices of your home `NAME` (or ID), as the logged-in user")
	sessionFile := sessionFlag(fs)
	asJSON := fs.Bool("json", false, "print the API's JSON answer")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 1:
		return usagef("devices", "unexpected argument %q: give at most one DEVICE_ID or IMEI", pos[1])
	case *home != "" && len(pos) == 1:
		return usagef("devices", "give --home NAME or a device, not both")
	case *home != "":
		return printHomeDevices(ctx, *sessionFile, *home, *asJSON, stdout)
	}
	return adminErr(showDevices(ctx, *server, *tokenFile, pos, *asJSON, stdout))
}

// showDevices prints the device pos names, or with none the list of
// devices.
func showDevices(ctx context.Context, server, tokenFile string, pos []string, asJSON bool, stdout io.Writer) error {
	c, err := newAdminClient(server, tokenFile)
	if err != nil {
		return err
	}
	if len(pos) == 1 {
		d, err := c.Device(ctx, pos[0])
		if err != nil {
			return err
		}
		return printDevice(stdout, d, asJSON)
	}
	page, err := c.Devices(ctx, activator.DeviceQuery{Limit: 1000})
	if err != nil {
		return err
	}
	if asJSON {
		list := struct {
			Devices []deviceView `json:"devices"`
		}{Devices: make([]deviceView, len(page.Devices))}
		for i, d := range page.Devices {
			list.Devices[i] = viewDevice(d)
		}
		return json.NewEncoder(stdout).Encode(list)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE ID\tIMEI\tONLINE\tLAST SEEN\tADDRESS")
	for _, d := range page.Devices {
		seen, addr := "-", "-"
		if r := d.Registration; r != nil {
			seen, addr = r.LastSeen.Local().Format(time.DateTime), r.Addr
		}
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%s\n", d.ID, d.IMEI, d.Online, seen, addr)
	}
	return tw.Flush()
}

// printDevice prints a device for people, or with asJSON as the API
// answers it.
func printDevice(w io.Writer, d activator.AdminDevice, asJSON bool) error {
	if asJSON {
		return printJSON(w, d)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "device ID\t%s\nproduct\t%s\nIMEI\t%s\nnbId\t%s\nshort code\t%s\nQR text\t%s\nonline\t%v\n",
		d.ID, d.ProductID, d.IMEI, d.NbID, d.ShortCode, d.QR, d.Online)
	if d.OwnerUID != "" {
		fmt.Fprintf(tw, "owner\t%s\n", d.OwnerUID)
	}
	if b := d.Blocked; b != nil {
		fmt.Fprintf(tw, "blocked\tsince %s%s\n", b.At.Local().Format(time.DateTime), reasonSuffix(b.Reason))
	}
	if r := d.Registration; r != nil {
		fmt.Fprintf(tw, "endpoint\t%s\nregistration\trd/%s\nLwM2M\t%s\nbinding\t%s (queue mode %v)\nlifetime\t%d s (expires %s)\nlast seen\t%s from %s\nobjects\t%v\n",
			r.Endpoint, r.ID, r.Version, r.Binding, r.QueueMode, r.Lifetime,
			r.ExpiresAt.Local().Format(time.DateTime), r.LastSeen.Local().Format(time.DateTime), r.Addr, r.Objects)
	}
	return tw.Flush()
}

// writeLabel writes the label card of a device to file.
func writeLabel(ctx context.Context, c *activator.Admin, id, file string) error {
	png, err := c.DeviceLabel(ctx, id, 0)
	if err != nil {
		return err
	}
	return os.WriteFile(file, png, 0o666)
}
