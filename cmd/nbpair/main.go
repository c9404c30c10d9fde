// Command nbpair is the one binary of nbpair: the pairing cloud (serve), the
// device simulator (device), and the tools around them.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// command is one subcommand: it parses its own flags from args and writes
// what a person should read to stdout. Its help (synopsis and description)
// is in helpTexts under its name.
type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout io.Writer) error
}

func commands() []command {
	return []command{
		{"demo", "the whole pairing story on this machine: server, device, QR label, app; ends paired", runDemo},
		{"serve", "run the pairing cloud (CoAP/LwM2M for devices, HTTP for apps and admins)", runServe},
		{"provision", "provision a device by IMEI and print its device ID, nbId, short code and QR text", adminCommand(runProvision)},
		{"devices", "list provisioned devices, show one with its registration, or list a home's (--home)", runDevices},
		{"batch", "factory batches: import a CSV of IMEIs, export keys for flashing, print label sheets", adminCommand(runBatch)},
		{"audit", "read the audit log (provisions, binds, unbinds, resets, refusals), by device or user", adminCommand(runAudit)},
		{"webhooks", "the device maker's webhooks: add, list, rm, and the deliveries of one", adminCommand(runWebhooks)},
		{"device-admin", "act on one device: block, unblock, unbind (force), deprovision, rotate its DTLS key", adminCommand(runDeviceAdmin)},
		{"device", "simulate an NB-IoT device: register, wake up, print each state change", runDevice},
		{"fleet", "load generator: N simulated devices (register|update|deregister storms) and bare baselines", runFleet},
		{"signup", "create an app account and log in", runSignUp},
		{"login", "log in to an nbpair server; the session is kept in your config directory", runLogIn},
		{"homes", "list your homes, create one (--create NAME), or delete one (homes delete NAME)", runHomes},
		{"pair", "pair a device: scan its label (--qr-image or --code) into a home (--home)", runPair},
		{"remove", "remove a device from your home (unbind it); the device is told", runRemove},
		{"share", "share a device with another user (--access read|control); unshare ends it", runShare},
		{"unshare", "end the share of a device with a user", runUnshare},
		{"transfer", "offer a device to another user; it moves when they accept", runTransfer},
		{"transfers", "list transfer offers to and from you; accept, decline or cancel one", runTransfers},
		{"sessions", "list your logged-in sessions, or revoke one (sessions revoke ID)", runSessions},
		{"password", "change your password (asked, never a flag); your other sessions end", runPassword},
		{"account", "delete your account (account delete): asks for the password and a confirmation", runAccount},
		{"qr", "encode text as a QR label PNG, or decode a label image", runQR},
		{"migrate", "apply (up) or list (status) the schema migrations of the store: SQLite or --store postgres://…", runMigrate},
		{"backup", "copy the SQLite database while the server runs (-o FILE); secret.key and admin.token apart", runBackup},
		{"config", "print the default configuration, or check a file (config print-default | check FILE)", runConfig},
		{"version", "print nbpair's version: module version, commit and Go version", runVersion},
		{"help", "show the commands, or a command's help (help COMMAND [SUBCOMMAND])", func(_ context.Context, args []string, stdout io.Writer) error {
			return runHelp(args, stdout)
		}},
	}
}

func findCommand(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	code, msg := exitCode(err)
	if msg != "" {
		fmt.Fprintln(os.Stderr, msg)
	}
	os.Exit(code)
}

// run runs the command line args (without the program's name): -h prints
// the command's help to stdout and is no error.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		usage(os.Stderr)
		return &usageError{msg: "no command given"}
	}
	switch args[0] {
	case "-h", "--help", "-help":
		usage(stdout)
		return nil
	case "-version", "--version":
		return runVersion(ctx, nil, stdout)
	}
	c, ok := findCommand(args[0])
	if !ok {
		return &usageError{msg: fmt.Sprintf("unknown command %q", args[0])}
	}
	err := c.run(ctx, args[1:], stdout)
	if h := (*helpRequest)(nil); errors.As(err, &h) {
		printHelp(stdout, h.fs)
		return nil
	}
	return err
}
