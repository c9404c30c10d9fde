package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/nbpair/nbpair/internal/qr"
)

// runQR is "nbpair qr": it draws label QR codes and reads them back.
//
//	nbpair qr encode [--size N] [-o FILE.png] [--light] TEXT
//	nbpair qr decode IMAGE
func runQR(_ context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		qrUsage(os.Stderr)
		return fmt.Errorf("%w: qr needs a subcommand, encode or decode", errUsage)
	}
	switch args[0] {
	case "-h", "--help", "help":
		qrUsage(stdout)
		return nil
	case "encode":
		return runQREncode(args[1:], stdout)
	case "decode":
		return runQRDecode(args[1:], stdout)
	}
	qrUsage(os.Stderr)
	return fmt.Errorf("%w: unknown qr subcommand %q", errUsage, args[0])
}

func qrUsage(w io.Writer) {
	fmt.Fprint(w, `Usage:
  nbpair qr encode [--size N] [-o FILE.png] [--light] TEXT
        draw TEXT's QR code as a PNG, or in the terminal without -o
  nbpair qr decode IMAGE
        print the text of the QR code in a PNG, JPEG or GIF image

Run 'nbpair qr encode -h' for encode's flags.
`)
}

func runQREncode(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("qr encode", flag.ContinueOnError)
	size := fs.Int("size", qr.DefaultSize, "width and height of the PNG in pixels (with -o)")
	out := fs.String("o", "", "write a PNG to this file ('-' for standard output) instead of drawing in the terminal")
	light := fs.Bool("light", false, "draw for a terminal with dark text on a light background")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: nbpair qr encode [--size N] [-o FILE.png] [--light] TEXT")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("%w: qr encode takes one TEXT argument, got %d (quote text with spaces)", errUsage, fs.NArg())
	}
	text := fs.Arg(0)
	if *out == "" {
		render := qr.Terminal
		if *light {
			render = qr.TerminalForLightBackground
		}
		s, err := render(text)
		if err != nil {
			return err
		}
		_, err = io.WriteString(stdout, s)
		return err
	}
	png, err := qr.EncodePNG(text, *size)
	if err != nil {
		return err
	}
	if *out == "-" {
		_, err = stdout.Write(png)
		return err
	}
	return os.WriteFile(*out, png, 0o644)
}

func runQRDecode(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("qr decode", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: nbpair qr decode IMAGE\n\nPrints the text of the QR code in IMAGE, a PNG, JPEG or GIF file.")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("%w: qr decode takes one IMAGE argument, got %d", errUsage, fs.NArg())
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	text, err := qr.Decode(f)
	if err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}
	_, err = fmt.Fprintln(stdout, text)
	return err
}
