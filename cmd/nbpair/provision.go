package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"text/tabwriter"
	"time"
)

// deviceView is what the admin API answers for a device.
type deviceView struct {
	ID        string `json:"id"`
	ProductID string `json:"productId"`
	IMEI      string `json:"imei"`
	NbID      string `json:"nbId"`
	Name      string `json:"name"`
	QR        string `json:"qr"`
	ShortCode string `json:"shortCode"`
	Online    bool   `json:"online"`
	OwnerUID  string `json:"ownerUid"`
	Blocked   *struct {
		At     time.Time `json:"at"`
		Reason string    `json:"reason"`
	} `json:"blocked"`
	Registration *struct {
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
	} `json:"registration"`
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
	var d json.RawMessage
	body := map[string]string{"imei": *imei, "productId": *product, "name": *name}
	if err := c.do(ctx, "POST", "/v1/admin/devices", body, &d); err != nil {
		return err
	}
	if *asJSON {
		_, err := fmt.Fprintf(stdout, "%s\n", d)
		return err
	}
	var v deviceView
	if err := json.Unmarshal(d, &v); err != nil {
		return err
	}
	var cred struct{ PSKIdentity, PSK string }
	json.Unmarshal(d, &cred)
	fmt.Fprintf(stdout, "device ID:    %s\nIMEI:         %s\nnbId:         %s\nshort code:   %s\nQR text:      %s\nPSK identity: %s\nPSK (hex):    %s\n",
		v.ID, v.IMEI, v.NbID, v.ShortCode, v.QR, cred.PSKIdentity, cred.PSK)
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
	c, err := newAdminClient(*server, *tokenFile)
	if err != nil {
		return err
	}
	if len(pos) == 1 {
		var raw json.RawMessage
		if err := c.do(ctx, "GET", "/v1/admin/devices/"+url.PathEscape(pos[0]), nil, &raw); err != nil {
			return err
		}
		return printDevice(stdout, raw, *asJSON)
	}
	var list struct {
		Devices []deviceView `json:"devices"`
	}
	if err := c.do(ctx, "GET", "/v1/admin/devices?limit=1000", nil, &list); err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(list)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE ID\tIMEI\tONLINE\tLAST SEEN\tADDRESS")
	for _, d := range list.Devices {
		seen, addr := "-", "-"
		if r := d.Registration; r != nil {
			seen, addr = r.LastSeen.Local().Format(time.DateTime), r.Addr
		}
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%s\n", d.ID, d.IMEI, d.Online, seen, addr)
	}
	return tw.Flush()
}

func printDevice(w io.Writer, raw json.RawMessage, asJSON bool) error {
	if asJSON {
		_, err := fmt.Fprintf(w, "%s\n", raw)
		return err
	}
	var d deviceView
	if err := json.Unmarshal(raw, &d); err != nil {
		return err
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
func writeLabel(ctx context.Context, c *adminClient, id, file string) error {
	resp, err := c.send(ctx, "GET", "/v1/admin/devices/"+url.PathEscape(id)+"/label.png", "", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, resp.Body)
	return errors.Join(err, f.Close())
}
