package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// runWebhooks is `nbpair webhooks add|list|rm|deliveries`.
func runWebhooks(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: nbpair webhooks add --url URL --events TYPE,… | list | rm ID | deliveries ID [--limit N]")
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("webhooks "+sub, flag.ContinueOnError)
	server, tokenFile := adminFlags(fs)
	hookURL := fs.String("url", "", "add: the http(s) URL events are POSTed to")
	events := fs.String("events", "", "add: comma-separated event types: device.registered, device.online, device.offline, device.bound, device.unbound, device.reset, activation.failed")
	limit := fs.Int("limit", 50, "deliveries: how many attempts, newest first (1 to 1000)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := newAdminClient(*server, *tokenFile)
	if err != nil {
		return err
	}
	switch sub {
	case "add":
		return webhookAdd(ctx, c, *hookURL, *events, stdout)
	case "list":
		return webhookList(ctx, c, stdout)
	case "rm":
		if fs.NArg() != 1 {
			return errors.New("usage: nbpair webhooks rm ID")
		}
		if err := c.do(ctx, "DELETE", "/v1/admin/webhooks/"+url.PathEscape(fs.Arg(0)), nil, nil); err != nil {
			return err
		}
		_, err := fmt.Fprintf(stdout, "deleted webhook %s\n", fs.Arg(0))
		return err
	case "deliveries":
		if fs.NArg() != 1 {
			return errors.New("usage: nbpair webhooks deliveries ID [--limit N]")
		}
		return webhookDeliveries(ctx, c, fs.Arg(0), *limit, stdout)
	}
	return fmt.Errorf("unknown webhooks command %q: add, list, rm or deliveries", sub)
}

type webhookJSON struct {
	ID, URL, Secret string
	Events          []string
	CreatedAt       time.Time
}

func webhookAdd(ctx context.Context, c *adminClient, hookURL, events string, stdout io.Writer) error {
	var types []string
	for _, e := range strings.Split(events, ",") {
		if e = strings.TrimSpace(e); e != "" {
			types = append(types, e)
		}
	}
	var h webhookJSON
	if err := c.do(ctx, "POST", "/v1/admin/webhooks", map[string]any{"url": hookURL, "events": types}, &h); err != nil {
		return err
	}
	_, err := fmt.Fprintf(stdout, "webhook %s\nurl     %s\nevents  %s\nsecret  %s\n(the secret is shown only now: receivers check X-Nbpair-Signature = sha256=HMAC-SHA256(secret, body))\n",
		h.ID, h.URL, strings.Join(h.Events, ", "), h.Secret)
	return err
}

func webhookList(ctx context.Context, c *adminClient, stdout io.Writer) error {
	var list struct{ Webhooks []webhookJSON }
	if err := c.do(ctx, "GET", "/v1/admin/webhooks", nil, &list); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tURL\tEVENTS\tCREATED")
	for _, h := range list.Webhooks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", h.ID, h.URL, strings.Join(h.Events, ","), h.CreatedAt.Local().Format(time.DateTime))
	}
	return tw.Flush()
}

func webhookDeliveries(ctx context.Context, c *adminClient, id string, limit int, stdout io.Writer) error {
	var log struct {
		Deliveries []struct {
			At                                      time.Time
			EventID, Type, DeviceID, Error, Outcome string
			Attempt, StatusCode                     int
			DurationMs                              float64
		}
	}
	path := "/v1/admin/webhooks/" + url.PathEscape(id) + "/deliveries?limit=" + strconv.Itoa(limit)
	if err := c.do(ctx, "GET", path, nil, &log); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tEVENT\tTYPE\tDEVICE\tATTEMPT\tSTATUS\tOUTCOME\tMS\tERROR")
	for _, d := range log.Deliveries {
		status := "-"
		if d.StatusCode != 0 {
			status = strconv.Itoa(d.StatusCode)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%.1f\t%s\n", d.At.Local().Format(time.DateTime), d.EventID, d.Type,
			d.DeviceID, d.Attempt, status, d.Outcome, d.DurationMs, dash(d.Error))
	}
	return tw.Flush()
}
