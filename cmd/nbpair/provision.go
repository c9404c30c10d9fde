package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"text/tabwriter"
	"time"
)

// deviceView is what the admin API answers for a device.
type deviceView struct {
	ID           string `json:"id"`
	ProductID    string `json:"productId"`
	IMEI         string `json:"imei"`
	NbID         string `json:"nbId"`
	Name         string `json:"name"`
	QR           string `json:"qr"`
	Online       bool   `json:"online"`
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
	fs := flag.NewFlagSet("provision", flag.ContinueOnError)
	server, tokenFile := adminFlags(fs)
	imei := fs.String("imei", "", "IMEI of the device (15 digits)")
	product := fs.String("product", "", "product ID (default: the default product)")
	name := fs.String("name", "", "display name")
	asJSON := fs.Bool("json", false, "print the API's JSON answer")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *imei == "" {
		fs.Usage()
		return fmt.Errorf("%w: --imei is required", errUsage)
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
	fmt.Fprintf(stdout, "device ID:    %s\nIMEI:         %s\nnbId:         %s\nQR text:      %s\nPSK identity: %s\nPSK (hex):    %s\n",
		v.ID, v.IMEI, v.NbID, v.QR, cred.PSKIdentity, cred.PSK)
	return nil
}

func runDevices(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("devices", flag.ContinueOnError)
	server, tokenFile := adminFlags(fs)
	asJSON := fs.Bool("json", false, "print the API's JSON answer")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: nbpair devices [flags] [DEVICE_ID|IMEI]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := newAdminClient(*server, *tokenFile)
	if err != nil {
		return err
	}
	if fs.NArg() == 1 {
		var raw json.RawMessage
		if err := c.do(ctx, "GET", "/v1/admin/devices/"+url.PathEscape(fs.Arg(0)), nil, &raw); err != nil {
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
	fmt.Fprintf(tw, "device ID\t%s\nproduct\t%s\nIMEI\t%s\nnbId\t%s\nQR text\t%s\nonline\t%v\n",
		d.ID, d.ProductID, d.IMEI, d.NbID, d.QR, d.Online)
	if r := d.Registration; r != nil {
		fmt.Fprintf(tw, "endpoint\t%s\nregistration\trd/%s\nLwM2M\t%s\nbinding\t%s (queue mode %v)\nlifetime\t%d s (expires %s)\nlast seen\t%s from %s\nobjects\t%v\n",
			r.Endpoint, r.ID, r.Version, r.Binding, r.QueueMode, r.Lifetime,
			r.ExpiresAt.Local().Format(time.DateTime), r.LastSeen.Local().Format(time.DateTime), r.Addr, r.Objects)
	}
	return tw.Flush()
}
