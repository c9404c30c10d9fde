package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/nbpair/nbpair/activator"
)

// runDeviceAdmin is `nbpair device-admin block|unblock|unbind|deprovision`.
func runDeviceAdmin(ctx context.Context, args []string, stdout io.Writer) error {
	subs := map[string]func(context.Context, []string, io.Writer) error{
		"block": runBlock, "unblock": runUnblock, "unbind": runForceUnbind, "deprovision": runDeprovision,
		"rotate-psk": runRotatePSK,
	}
	return runSubcommand(ctx, "device-admin", subs, args, stdout)
}

// deviceAdminArgs parses the flags and the one DEVICE of a device-admin
// subcommand and returns the client and the device.
func deviceAdminArgs(parse func() ([]string, error), server, tokenFile *string) (*activator.Admin, string, error) {
	pos, err := parse()
	if err != nil {
		return nil, "", err
	}
	c, err := newAdminClient(*server, *tokenFile)
	if err != nil {
		return nil, "", err
	}
	return c, pos[0], nil
}

func runBlock(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("device-admin block")
	server, tokenFile := adminFlags(fs)
	reason := fs.String("reason", "", "why the device is blocked, for the audit log and its state (at most 200 characters)")
	c, dev, err := deviceAdminArgs(func() ([]string, error) { return parseExactly(fs, args, 1, "one device ID or IMEI") }, server, tokenFile)
	if err != nil {
		return err
	}
	d, err := c.BlockDevice(ctx, dev, *reason)
	if err != nil {
		return err
	}
	return printDevice(stdout, d, false)
}

func runUnblock(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("device-admin unblock")
	server, tokenFile := adminFlags(fs)
	c, dev, err := deviceAdminArgs(func() ([]string, error) { return parseExactly(fs, args, 1, "one device ID or IMEI") }, server, tokenFile)
	if err != nil {
		return err
	}
	d, err := c.UnblockDevice(ctx, dev)
	if err != nil {
		return err
	}
	return printDevice(stdout, d, false)
}

func runForceUnbind(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("device-admin unbind")
	server, tokenFile := adminFlags(fs)
	c, dev, err := deviceAdminArgs(func() ([]string, error) { return parseExactly(fs, args, 1, "one device ID or IMEI") }, server, tokenFile)
	if err != nil {
		return err
	}
	d, err := c.ForceUnbind(ctx, dev)
	if err != nil {
		return err
	}
	return printDevice(stdout, d, false)
}

func runDeprovision(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("device-admin deprovision")
	server, tokenFile := adminFlags(fs)
	yes := fs.Bool("yes", false, "confirm: the device is removed for good")
	c, dev, err := deviceAdminArgs(func() ([]string, error) {
		pos, err := parseExactly(fs, args, 1, "one device ID or IMEI")
		if err == nil && !*yes {
			err = usagef(fs.Name(), "deprovisioning %s cannot be undone: add --yes", pos[0])
		}
		return pos, err
	}, server, tokenFile)
	if err != nil {
		return err
	}
	gone, err := c.Deprovision(ctx, dev)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "deprovisioned device %s (IMEI %s); the IMEI may be provisioned again\n", gone.ID, gone.IMEI)
	return err
}

// reasonSuffix is " (reason)", or nothing without one.
func reasonSuffix(reason string) string {
	if reason == "" {
		return ""
	}
	return " (" + reason + ")"
}

func runRotatePSK(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("device-admin rotate-psk")
	server, tokenFile := adminFlags(fs)
	deadline := fs.Duration("deadline", 7*24*time.Hour, "how long the old key stays valid at most, if the device does not use the new one before")
	c, dev, err := deviceAdminArgs(func() ([]string, error) {
		rest, err := parseExactly(fs, args, 1, "one device ID or IMEI")
		if err == nil && *deadline <= 0 {
			err = usagef("device-admin rotate-psk", "--deadline must be positive, such as 24h: the old key stays valid until then at most")
		}
		return rest, err
	}, server, tokenFile)
	if err != nil {
		return err
	}
	r, err := c.RotatePSK(ctx, dev, *deadline)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "device ID:    %s\nPSK identity: %s\nnew PSK (hex): %s\nold key valid until the device uses the new one, or %s\n(the new key is shown only now)\n",
		r.ID, r.PSKIdentity, r.PSK, r.Deadline.Local().Format(time.DateTime))
	return err
}
