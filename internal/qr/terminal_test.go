package qr

import (
	"bytes"
	"errors"
	"image"
	"strings"
	"testing"
)

func TestTerminalRoundTrip(t *testing.T) {
	renderers := map[string]struct {
		render     func(string) (string, error)
		glyphsDark bool
	}{
		"dark terminal":  {render: Terminal, glyphsDark: false},
		"light terminal": {render: TerminalForLightBackground, glyphsDark: true},
	}
	texts := map[string]string{
		"one character":  "x",
		"label URL":      labelURL,
		"300 characters": strings.Repeat("nbpair-300/", 28)[:300],
	}
	for rname, r := range renderers {
		for tname, text := range texts {
			t.Run(rname+"/"+tname, func(t *testing.T) {
				t.Parallel()
				out, err := r.render(text)
				if err != nil {
					t.Fatal(err)
				}
				g := parseTerminal(t, out, r.glyphsDark)
				checkQuietZone(t, g)
				got, err := Decode(bytes.NewReader(encodePNG(t, scaleUp(g, 4))))
				if err != nil {
					t.Fatal(err)
				}
				if got != text {
					t.Errorf("decoded %q, want %q", got, text)
				}
			})
		}
	}
}

// parseTerminal turns a rendering back into an image of one pixel per
// module, failing on anything but whole lines of half blocks that form a
// square.
func parseTerminal(t *testing.T, out string, glyphsDark bool) *image.Gray {
	t.Helper()
	lines := strings.SplitAfter(out, "\n")
	if last := lines[len(lines)-1]; last != "" {
		t.Fatalf("output does not end in a newline: %q", last)
	}
	lines = lines[:len(lines)-1]
	n := len([]rune(strings.TrimSuffix(lines[0], "\n")))
	if want := (n + 1) / 2; len(lines) != want {
		t.Fatalf("%d lines of %d modules, want %d lines", len(lines), n, want)
	}
	g := image.NewGray(image.Rect(0, 0, n, 2*len(lines)))
	for y, line := range lines {
		row := []rune(strings.TrimSuffix(line, "\n"))
		if len(row) != n {
			t.Fatalf("line %d is %d modules wide, want %d", y, len(row), n)
		}
		for x, r := range row {
			top, bottom, ok := halves(r)
			if !ok {
				t.Fatalf("line %d holds %q", y, r)
			}
			g.Pix[2*y*n+x] = shadeOf(top == glyphsDark)
			g.Pix[(2*y+1)*n+x] = shadeOf(bottom == glyphsDark)
		}
	}
	return g
}

// halves tells which halves of its cell a half-block character draws.
func halves(r rune) (top, bottom, ok bool) {
	switch r {
	case ' ':
		return false, false, true
	case '▀':
		return true, false, true
	case '▄':
		return false, true, true
	case '█':
		return true, true, true
	}
	return false, false, false
}

// shadeOf is the grey level of a module: black if dark.
func shadeOf(dark bool) uint8 {
	if dark {
		return 0
	}
	return 255
}

// checkQuietZone fails unless the first and last QuietZone columns and
// rows of g are light.
func checkQuietZone(t *testing.T, g *image.Gray) {
	t.Helper()
	w := g.Rect.Dx()
	for y := range g.Rect.Dy() {
		for x := range w {
			inZone := x < QuietZone || x >= w-QuietZone || y < QuietZone || y >= w-QuietZone
			if inZone && g.Pix[y*w+x] == 0 {
				t.Fatalf("module (%d, %d) of the quiet zone is dark", x, y)
			}
		}
	}
}

func TestTerminalRejects(t *testing.T) {
	tests := map[string]struct {
		text string
		want error
	}{
		"empty text": {text: "", want: ErrEmptyText},
		"513 bytes":  {text: strings.Repeat("a", MaxTextLen+1), want: ErrTextTooLong},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			for _, render := range []func(string) (string, error){Terminal, TerminalForLightBackground} {
				if out, err := render(tc.text); !errors.Is(err, tc.want) {
					t.Errorf("= %d bytes, %v; want %v", len(out), err, tc.want)
				}
			}
		})
	}
}
