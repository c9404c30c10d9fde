package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"text/tabwriter"
	"time"
)

func runAudit(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	server, tokenFile := adminFlags(fs)
	deviceID := fs.String("device", "", "only entries of this device ID")
	uid := fs.String("user", "", "only entries of this user ID")
	action := fs.String("action", "", "only this action: provision, export-keys, parse, bind, unbind, reset, rate-limited, login, dtls-handshake, downlink")
	outcome := fs.String("outcome", "", "only this outcome: ok, refused or dropped (a downlink given up)")
	limit := fs.Int("limit", 50, "how many entries, newest first (1 to 1000)")
	asJSON := fs.Bool("json", false, "print the API's JSON answer")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := newAdminClient(*server, *tokenFile)
	if err != nil {
		return err
	}
	q := url.Values{"limit": {strconv.Itoa(*limit)}}
	for k, v := range map[string]string{"deviceId": *deviceID, "uid": *uid, "action": *action, "outcome": *outcome} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var raw json.RawMessage
	if err := c.do(ctx, "GET", "/v1/admin/audit?"+q.Encode(), nil, &raw); err != nil {
		return err
	}
	if *asJSON {
		_, err := fmt.Fprintf(stdout, "%s\n", raw)
		return err
	}
	var log struct {
		Entries []struct {
			At                                                     time.Time
			Action, Outcome, Actor, UID, DevID, RemoteAddr, Detail string
		}
		Total int
	}
	if err := json.Unmarshal(raw, &log); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tACTION\tOUTCOME\tACTOR\tUSER\tDEVICE\tFROM\tDETAIL")
	for _, e := range log.Entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.At.Local().Format(time.DateTime), e.Action, e.Outcome,
			e.Actor, dash(e.UID), dash(e.DevID), dash(e.RemoteAddr), e.Detail)
	}
	fmt.Fprintf(tw, "(%d of %d matching entries)\n", len(log.Entries), log.Total)
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
