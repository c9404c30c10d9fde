package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/nbpair/nbpair/internal/qr"
)

// runQR is "nbpair qr": it draws label QR codes and reads them back.
func runQR(ctx context.Context, args []string, stdout io.Writer) error {
	subs := map[string]func(context.Context, []string, io.Writer) error{
		"encode": func(_ context.Context, args []string, stdout io.Writer) error { return runQREncode(args, stdout) },
		"decode": func(_ context.Context, args []string, stdout io.Writer) error { return runQRDecode(args, stdout) },
	}
	return runSubcommand(ctx, "qr", subs, args, stdout)
}

func runQREncode(args []string, stdout io.Writer) error {
	fs := newFlagSet("qr encode")
	size := fs.Int("size", qr.DefaultSize, "width and height of the PNG in pixels (with -o)")
	out := fs.String("o", "", "write a PNG to this `FILE` ('-' for standard output) instead of drawing in the terminal")
	light := fs.Bool("light", false, "draw for a terminal with dark text on a light background")
	pos, err := parseExactly(fs, args, 1, "one TEXT")
	if err != nil {
		return err
	}
	text := pos[0]
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
	pos, err := parseExactly(newFlagSet("qr decode"), args, 1, "one IMAGE")
	if err != nil {
		return err
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return err
	}
	defer f.Close()
	text, err := qr.Decode(f)
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	_, err = fmt.Fprintln(stdout, text)
	return err
}
