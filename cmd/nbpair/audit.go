package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nbpair/nbpair/activator"
	"github.com/nbpair/nbpair/internal/pairing"
)

func runAudit(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("audit")
	server, tokenFile := adminFlags(fs)
	deviceID := fs.String("device", "", "only entries of this device `ID`")
	uid := fs.String("user", "", "only entries of this user `UID`")
	action := fs.String("action", "", "only this `ACTION`: "+strings.Join(pairing.AuditActions(), ", "))
	outcome := fs.String("outcome", "", "only this `OUTCOME`: ok, refused or dropped (a downlink given up)")
	limit := fs.Int("limit", 50, "how many entries, newest first (1 to 1000)")
	asJSON := fs.Bool("json", false, "print the API's JSON answer")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	switch {
	case *action != "" && !slices.Contains(pairing.AuditActions(), *action):
		return usagef("audit", "unknown --action %q: give one of %s", *action, strings.Join(pairing.AuditActions(), ", "))
	case *outcome != "" && !slices.Contains(pairing.AuditOutcomes(), *outcome):
		return usagef("audit", "unknown --outcome %q: give one of %s", *outcome, strings.Join(pairing.AuditOutcomes(), ", "))
	case *limit < 1 || *limit > 1000:
		return usagef("audit", "--limit must be 1 to 1000, not %d", *limit)
	}
	c, err := newAdminClient(*server, *tokenFile)
	if err != nil {
		return err
	}
	log, err := c.Audit(ctx, activator.AuditQuery{DeviceID: *deviceID, UID: *uid, Action: *action, Outcome: *outcome, Limit: *limit})
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, log)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tACTION\tOUTCOME\tACTOR\tUSER\tDEVICE\tFROM\tDETAIL")
	for _, e := range log.Entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.At.Local().Format(time.DateTime), e.Action, e.Outcome,
			e.Actor, dash(e.UID), dash(e.DeviceID), dash(e.RemoteAddr), e.Detail)
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
