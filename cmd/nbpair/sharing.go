package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/nbpair/nbpair/activator"
)

// runShare is "nbpair share DEVICE USER --access read|control".
func runShare(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("share")
	sessionFile := sessionFlag(fs)
	access := fs.String("access", "read", "what USER may do: `read|control` (control also lets them rename it)")
	pos, err := parseExactly(fs, args, 2, "a DEVICE (ID or name) and the USER to share it with")
	if err != nil {
		return err
	}
	if *access != string(activator.AccessRead) && *access != string(activator.AccessControl) {
		return usagef("share", "--access must be read or control, not %q", *access)
	}
	c, _, err := appClient(*sessionFile)
	if err != nil {
		return err
	}
	d, _, err := findDevice(ctx, c, pos[0])
	if err != nil {
		return err
	}
	sh, err := c.ShareDevice(ctx, d.DevID, pos[1], activator.Access(*access))
	if err != nil {
		return explain(err)
	}
	fmt.Fprintf(stdout, "shared %s %q with %s (%s access)\n", d.DevID, d.Name, sh.Username, sh.Access)
	return nil
}

// runUnshare is "nbpair unshare DEVICE USER": the owner ends a share, or
// the user it was shared with leaves it.
func runUnshare(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("unshare")
	sessionFile := sessionFlag(fs)
	pos, err := parseExactly(fs, args, 2, "a DEVICE (ID or name) and the USER it is shared with")
	if err != nil {
		return err
	}
	c, s, err := appClient(*sessionFile)
	if err != nil {
		return err
	}
	devID, uid, err := findShare(ctx, c, s, pos[0], pos[1])
	if err != nil {
		return err
	}
	if err := c.Unshare(ctx, devID, uid); err != nil {
		return explain(err)
	}
	fmt.Fprintf(stdout, "%s no longer shares device %s\n", pos[1], devID)
	return nil
}

// findShare finds the share of device with user: on a device of one's
// own homes by the user's name, or one's own share of a device shared
// with one.
func findShare(ctx context.Context, c *activator.Client, s savedSession, device, user string) (devID, uid string, err error) {
	d, _, ownErr := findDevice(ctx, c, device)
	if ownErr != nil {
		if user != s.Username {
			return "", "", ownErr
		}
		shared, err := c.SharedDevices(ctx)
		if err != nil {
			return "", "", explain(err)
		}
		for _, sd := range shared {
			if sd.DevID == device || sd.Name == device {
				return sd.DevID, s.UID, nil
			}
		}
		return "", "", fmt.Errorf("no device %q in your homes or shared with you", device)
	}
	shares, err := c.DeviceShares(ctx, d.DevID)
	if err != nil {
		return "", "", explain(err)
	}
	for _, sh := range shares {
		if sh.Username == user || sh.UID == user {
			return d.DevID, sh.UID, nil
		}
	}
	return "", "", fmt.Errorf("device %s %q is not shared with %q", d.DevID, d.Name, user)
}

// runTransfer is "nbpair transfer DEVICE USER": offer a device to a user.
func runTransfer(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("transfer")
	sessionFile := sessionFlag(fs)
	expires := fs.Duration("expires", 0, "how long USER has to accept (0: the server's default, 72 hours)")
	pos, err := parseExactly(fs, args, 2, "a DEVICE (ID or name) and the USER to offer it to")
	if err != nil {
		return err
	}
	if *expires < 0 {
		return usagef("transfer", "--expires must not be negative")
	}
	c, _, err := appClient(*sessionFile)
	if err != nil {
		return err
	}
	d, _, err := findDevice(ctx, c, pos[0])
	if err != nil {
		return err
	}
	tr, err := c.OfferTransfer(ctx, d.DevID, pos[1], *expires)
	if err != nil {
		return explain(err)
	}
	fmt.Fprintf(stdout, "offered %s %q to %s: transfer %s, open until %s; they accept it with 'nbpair transfers accept %s'\n",
		d.DevID, d.Name, tr.ToUsername, tr.ID, when(tr.Deadline), tr.ID)
	return nil
}

// runTransfers is "nbpair transfers" (list) and its accept, decline and
// cancel.
func runTransfers(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "accept":
			return runTransferAccept(ctx, args[1:], stdout)
		case "decline", "cancel":
			return runTransferStep(ctx, args[0], args[1:], stdout)
		}
	}
	fs := newFlagSet("transfers")
	sessionFile := sessionFlag(fs)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	c, _, err := appClient(*sessionFile)
	if err != nil {
		return err
	}
	in, out, err := c.Transfers(ctx)
	if err != nil {
		return explain(err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TRANSFER ID\tDIRECTION\tDEVICE ID\tDEVICE\tFROM\tTO\tUNTIL")
	for _, t := range in {
		fmt.Fprintf(tw, "%s\tto me\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.DevID, dash(t.DeviceName), t.FromUsername, t.ToUsername, when(t.Deadline))
	}
	for _, t := range out {
		fmt.Fprintf(tw, "%s\tfrom me\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.DevID, dash(t.DeviceName), t.FromUsername, t.ToUsername, when(t.Deadline))
	}
	fmt.Fprintf(tw, "(%d offered to you, %d offered by you)\n", len(in), len(out))
	return tw.Flush()
}

func runTransferAccept(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("transfers accept")
	sessionFile := sessionFlag(fs)
	home := fs.String("home", "", "the home (`NAME` or ID) to put the device in; needed when you own several")
	pos, err := parseExactly(fs, args, 1, "one transfer ID ('nbpair transfers' lists them)")
	if err != nil {
		return err
	}
	c, s, err := appClient(*sessionFile)
	if err != nil {
		return err
	}
	h, err := acceptHome(ctx, c, s, *home)
	if err != nil {
		return err
	}
	tr, err := c.AcceptTransfer(ctx, pos[0], h.ID)
	if err != nil {
		return explain(err)
	}
	fmt.Fprintf(stdout, "accepted transfer %s: device %s %q is yours, in home %q; it is told when next awake\n", tr.ID, tr.DevID, tr.DeviceName, h.Name)
	return nil
}

// acceptHome is the home named, or the only home the user owns.
func acceptHome(ctx context.Context, c *activator.Client, s savedSession, name string) (activator.Home, error) {
	if name != "" {
		return findHome(ctx, c, name)
	}
	homes, err := c.Homes(ctx)
	if err != nil {
		return activator.Home{}, explain(err)
	}
	var own []activator.Home
	for _, h := range homes {
		if h.OwnerUID == s.UID {
			own = append(own, h)
		}
	}
	switch len(own) {
	case 1:
		return own[0], nil
	case 0:
		return activator.Home{}, fmt.Errorf("you own no home to put the device in; create one with 'nbpair homes --create NAME'")
	}
	return activator.Home{}, usagef("transfers accept", "you own %d homes: choose one with --home NAME", len(own))
}

func runTransferStep(ctx context.Context, step string, args []string, stdout io.Writer) error {
	fs := newFlagSet("transfers " + step)
	sessionFile := sessionFlag(fs)
	pos, err := parseExactly(fs, args, 1, "one transfer ID ('nbpair transfers' lists them)")
	if err != nil {
		return err
	}
	c, _, err := appClient(*sessionFile)
	if err != nil {
		return err
	}
	do := c.DeclineTransfer
	if step == "cancel" {
		do = c.CancelTransfer
	}
	tr, err := do(ctx, pos[0])
	if err != nil {
		return explain(err)
	}
	fmt.Fprintf(stdout, "transfer %s of device %s is %s; the device stays with %s\n", tr.ID, tr.DevID, tr.Status, tr.FromUsername)
	return nil
}
