// Command nbpair is the one binary of nbpair: the pairing cloud (serve), the
// device simulator (device), and the tools around them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// command is one subcommand: it parses its own flags from args and writes
// what a person should read to stdout.
type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout io.Writer) error
}

func commands() []command {
	return []command{
		{"demo", "the whole pairing story on this machine: server, device, QR label, app; ends paired", runDemo},
		{"serve", "run the pairing cloud (CoAP/LwM2M for devices, HTTP for apps and admins)", runServe},
		{"provision", "provision a device by IMEI and print its device ID, nbId and QR text", runProvision},
		{"devices", "list provisioned devices, or show one with its registration", runDevices},
		{"batch", "factory batches: import a CSV of IMEIs, export keys for flashing, print label sheets", runBatch},
		{"audit", "read the audit log (provisions, binds, unbinds, resets, refusals), by device or user", runAudit},
		{"webhooks", "the device maker's webhooks: add, list, rm, and the deliveries of one", runWebhooks},
		{"device", "simulate an NB-IoT device: register, wake up, print each state change", runDevice},
		{"fleet", "load generator: N simulated devices (register|update|deregister storms) and bare baselines", runFleet},
		{"signup", "create an app account and log in", runSignUp},
		{"login", "log in to an nbpair server; the session is kept in your config directory", runLogIn},
		{"homes", "list your homes, or create one (--create NAME)", runHomes},
		{"pair", "pair a device: scan its label (--qr-image or --code) into a home (--home)", runPair},
		{"qr", "encode text as a QR label PNG, or decode a label image", runQR},
		{"migrate", "apply (up) or list (status) the schema migrations of the store: SQLite or --store postgres://…", runMigrate},
		{"backup", "copy the SQLite database while the server runs (-o FILE); secret.key and admin.token apart", runBackup},
		{"config", "print the default configuration, or check a file (config print-default | check FILE)", runConfig},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "nbpair:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout)
		}
	}
	usage(os.Stderr)
	return fmt.Errorf("unknown command %q", args[0])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: nbpair COMMAND [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'nbpair COMMAND -h' for a command's flags.")
}
