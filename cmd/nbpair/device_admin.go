package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"time"
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
// subcommand and returns the client and the device's path in the API.
func deviceAdminArgs(parse func() ([]string, error), server, tokenFile *string) (*adminClient, string, error) {
	pos, err := parse()
	if err != nil {
		return nil, "", err
	}
	c, err := newAdminClient(*server, *tokenFile)
	if err != nil {
		return nil, "", err
	}
	return c, "/v1/admin/devices/" + url.PathEscape(pos[0]), nil
}

func runBlock(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("device-admin block")
	server, tokenFile := adminFlags(fs)
	reason := fs.String("reason", "", "why the device is blocked, for the audit log and its state (at most 200 characters)")
	c, path, err := deviceAdminArgs(func() ([]string, error) { return parseExactly(fs, args, 1, "one device ID or IMEI") }, server, tokenFile)
	if err != nil {
		return err
	}
	var raw json.RawMessage
	if err := c.do(ctx, "PUT", path+"/block", map[string]string{"reason": *reason}, &raw); err != nil {
		return err
	}
	return printDevice(stdout, raw, false)
}

func runUnblock(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("device-admin unblock")
	server, tokenFile := adminFlags(fs)
	c, path, err := deviceAdminArgs(func() ([]string, error) { return parseExactly(fs, args, 1, "one device ID or IMEI") }, server, tokenFile)
	if err != nil {
		return err
	}
	var raw json.RawMessage
	if err := c.do(ctx, "DELETE", path+"/block", nil, &raw); err != nil {
		return err
	}
	return printDevice(stdout, raw, false)
}

func runForceUnbind(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("device-admin unbind")
	server, tokenFile := adminFlags(fs)
	c, path, err := deviceAdminArgs(func() ([]string, error) { return parseExactly(fs, args, 1, "one device ID or IMEI") }, server, tokenFile)
	if err != nil {
		return err
	}
	var raw json.RawMessage
	if err := c.do(ctx, "POST", path+"/unbind", nil, &raw); err != nil {
		return err
	}
	return printDevice(stdout, raw, false)
}

func runDeprovision(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("device-admin deprovision")
	server, tokenFile := adminFlags(fs)
	yes := fs.Bool("yes", false, "confirm: the device is removed for good")
	c, path, err := deviceAdminArgs(func() ([]string, error) {
		pos, err := parseExactly(fs, args, 1, "one device ID or IMEI")
		if err == nil && !*yes {
			err = usagef(fs.Name(), "deprovisioning %s cannot be undone: add --yes", pos[0])
		}
		return pos, err
	}, server, tokenFile)
	if err != nil {
		return err
	}
	var gone struct{ ID, IMEI string }
	if err := c.do(ctx, "DELETE", path, nil, &gone); err != nil {
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
	c, path, err := deviceAdminArgs(func() ([]string, error) { return parseExactly(fs, args, 1, "one device ID or IMEI") }, server, tokenFile)
	if err != nil {
		return err
	}
	var r struct {
		ID, PSKIdentity, PSK string
		Deadline             time.Time
	}
	if err := c.do(ctx, "POST", path+"/psk", map[string]string{"deadline": deadline.String()}, &r); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "device ID:    %s\nPSK identity: %s\nnew PSK (hex): %s\nold key valid until the device uses the new one, or %s\n(the new key is shown only now)\n",
		r.ID, r.PSKIdentity, r.PSK, r.Deadline.Local().Format(time.DateTime))
	return err
}
