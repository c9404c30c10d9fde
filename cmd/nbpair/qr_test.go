package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"image"
	"image/png"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nbpair/nbpair/internal/qr"
)

const qrLabelURL = "https://pair.example.com/nb/0123456789abcdef0123456789abcdef"

func TestRunQREncodeThenDecode(t *testing.T) {
	tests := map[string]struct {
		text  string
		flags []string
	}{
		"label URL":              {text: qrLabelURL},
		"label URL at 1000 px":   {text: qrLabelURL, flags: []string{"--size", "1000"}},
		"text with spaces":       {text: "Boiler room, unit 7"},
		"text starting with a -": {text: "-not-a-flag", flags: []string{"--"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "label.png")
			args := append(append([]string{"encode", "-o", file}, tc.flags...), tc.text)
			if out := runQROK(t, args...); out != "" {
				t.Errorf("encode -o printed %q, want nothing", out)
			}
			if got := runQROK(t, "decode", file); got != tc.text+"\n" {
				t.Errorf("decode printed %q, want %q", got, tc.text+"\n")
			}
		})
	}
}

func TestRunQREncodeOutput(t *testing.T) {
	dark, err := qr.Terminal(qrLabelURL)
	if err != nil {
		t.Fatal(err)
	}
	light, err := qr.TerminalForLightBackground(qrLabelURL)
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		args []string
		want func(t *testing.T, out string)
	}{
		"terminal": {args: []string{"encode", qrLabelURL}, want: equals(dark)},
		"terminal, --size ignored": {
			args: []string{"encode", "--size", "900", qrLabelURL}, want: equals(dark),
		},
		"light terminal": {args: []string{"encode", "--light", qrLabelURL}, want: equals(light)},
		"PNG on standard output": {
			args: []string{"encode", "-o", "-", qrLabelURL},
			want: func(t *testing.T, out string) {
				got, err := qr.Decode(strings.NewReader(out))
				if err != nil || got != qrLabelURL {
					t.Errorf("decoding the PNG = %q, %v; want %q", got, err, qrLabelURL)
				}
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tc.want(t, runQROK(t, tc.args...))
		})
	}
}

// equals checks that the output is exactly want.
func equals(want string) func(*testing.T, string) {
	return func(t *testing.T, out string) {
		t.Helper()
		if out != want {
			t.Errorf("printed\n%s\nwant\n%s", out, want)
		}
	}
}

func TestRunQRErrors(t *testing.T) {
	dir := t.TempDir()
	truncated := filepath.Join(dir, "truncated.png")
	writeFile(t, truncated, pngOf(t, "x")[:40])
	blank := filepath.Join(dir, "blank.png")
	writeFile(t, blank, blankPNG(t))
	notImage := filepath.Join(dir, "notes.txt")
	writeFile(t, notImage, []byte("not an image"))
	tests := map[string]struct {
		args []string
		want error  // what the error wraps, if anything
		text string // what the error says
	}{
		"no subcommand":               {args: nil, want: errUsage},
		"unknown subcommand":          {args: []string{"print"}, want: errUsage},
		"encode without text":         {args: []string{"encode"}, want: errUsage},
		"encode two texts":            {args: []string{"encode", "a", "b"}, want: errUsage},
		"encode text too long":        {args: []string{"encode", strings.Repeat("a", 513)}, want: qr.ErrTextTooLong},
		"encode size too large":       {args: []string{"encode", "-o", filepath.Join(dir, "x.png"), "--size", "99999", "x"}, want: qr.ErrBadSize},
		"encode unknown flag":         {args: []string{"encode", "--colour", "red", "x"}, want: errUsage, text: "flag provided but not defined: -colour"},
		"encode -h":                   {args: []string{"encode", "-h"}, want: flag.ErrHelp},
		"decode without image":        {args: []string{"decode"}, want: errUsage},
		"decode missing file":         {args: []string{"decode", filepath.Join(dir, "missing.png")}, want: fs.ErrNotExist},
		"decode text file":            {args: []string{"decode", notImage}, want: qr.ErrNotImage},
		"decode truncated PNG":        {args: []string{"decode", truncated}, want: qr.ErrNotImage},
		"decode image without a code": {args: []string{"decode", blank}, want: qr.ErrNoCode, text: "blank.png: "},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			err := runQR(context.Background(), tc.args, &out)
			if err == nil || tc.want != nil && !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("runQR(%q) = %v, want an error wrapping %v and saying %q", tc.args, err, tc.want, tc.text)
			}
		})
	}
}

// runQROK runs "nbpair qr ARGS..." and returns what it printed.
func runQROK(t *testing.T, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	if err := runQR(context.Background(), args, &out); err != nil {
		t.Fatalf("runQR(%q): %v", args, err)
	}
	return out.String()
}

func pngOf(t *testing.T, text string) []byte {
	t.Helper()
	p, err := qr.EncodePNG(text, 0)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// blankPNG returns a white 200×200 PNG.
func blankPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 200, 200))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func writeFile(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
