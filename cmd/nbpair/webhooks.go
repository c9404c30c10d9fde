package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nbpair/nbpair/activator"
)

// runWebhooks is `nbpair webhooks add|list|rm|deliveries`.
func runWebhooks(ctx context.Context, args []string, stdout io.Writer) error {
	subs := map[string]func(context.Context, []string, io.Writer) error{
		"add": runWebhookAdd, "list": runWebhookList, "rm": runWebhookRm, "deliveries": runWebhookDeliveries,
	}
	return runSubcommand(ctx, "webhooks", subs, args, stdout)
}

func runWebhookAdd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("webhooks add")
	server, tokenFile := adminFlags(fs)
	hookURL := fs.String("url", "", "the http(s) `URL` events are POSTed to")
	events := fs.String("events", "", "comma-separated event `types`: device.registered, device.online, device.offline, device.bound, device.unbound, device.transferred, device.reset, activation.failed")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if *hookURL == "" || *events == "" {
		return usagef(fs.Name(), "give --url and --events")
	}
	c, err := newAdminClient(*server, *tokenFile)
	if err != nil {
		return err
	}
	return webhookAdd(ctx, c, *hookURL, *events, stdout)
}

func runWebhookList(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("webhooks list")
	server, tokenFile := adminFlags(fs)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	c, err := newAdminClient(*server, *tokenFile)
	if err != nil {
		return err
	}
	return webhookList(ctx, c, stdout)
}

func runWebhookRm(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("webhooks rm")
	server, tokenFile := adminFlags(fs)
	pos, err := parseExactly(fs, args, 1, "one webhook ID")
	if err != nil {
		return err
	}
	c, err := newAdminClient(*server, *tokenFile)
	if err != nil {
		return err
	}
	if err := c.DeleteWebhook(ctx, pos[0]); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "deleted webhook %s\n", pos[0])
	return err
}

func runWebhookDeliveries(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("webhooks deliveries")
	server, tokenFile := adminFlags(fs)
	limit := fs.Int("limit", 50, "how many attempts, newest first (1 to 1000)")
	pos, err := parseExactly(fs, args, 1, "one webhook ID")
	if err != nil {
		return err
	}
	if *limit < 1 || *limit > 1000 {
		return usagef(fs.Name(), "--limit must be 1 to 1000")
	}
	c, err := newAdminClient(*server, *tokenFile)
	if err != nil {
		return err
	}
	return webhookDeliveries(ctx, c, pos[0], *limit, stdout)
}

func webhookAdd(ctx context.Context, c *activator.Admin, hookURL, events string, stdout io.Writer) error {
	var types []string
	for _, e := range strings.Split(events, ",") {
		if e = strings.TrimSpace(e); e != "" {
			types = append(types, e)
		}
	}
	h, err := c.CreateWebhook(ctx, hookURL, types)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "webhook %s\nurl     %s\nevents  %s\nsecret  %s\n(the secret is shown only now: receivers check X-Nbpair-Signature = sha256=HMAC-SHA256(secret, body))\n",
		h.ID, h.URL, strings.Join(h.Events, ", "), h.Secret)
	return err
}

func webhookList(ctx context.Context, c *activator.Admin, stdout io.Writer) error {
	hooks, err := c.Webhooks(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tURL\tEVENTS\tCREATED")
	for _, h := range hooks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", h.ID, h.URL, strings.Join(h.Events, ","), h.CreatedAt.Local().Format(time.DateTime))
	}
	return tw.Flush()
}

func webhookDeliveries(ctx context.Context, c *activator.Admin, id string, limit int, stdout io.Writer) error {
	deliveries, err := c.WebhookDeliveries(ctx, id, activator.DeliveryQuery{Limit: limit})
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tEVENT\tTYPE\tDEVICE\tATTEMPT\tSTATUS\tOUTCOME\tMS\tERROR")
	for _, d := range deliveries {
		status := "-"
		if d.StatusCode != 0 {
			status = strconv.Itoa(d.StatusCode)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%.1f\t%s\n", d.At.Local().Format(time.DateTime), d.EventID, d.Type,
			d.DeviceID, d.Attempt, status, d.Outcome, d.DurationMs, dash(d.Error))
	}
	return tw.Flush()
}
