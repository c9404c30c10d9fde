package qr

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"strings"
	"testing"
)

// labelURL is the text of a real device label.
const labelURL = "https://pair.example.com/nb/0123456789abcdef0123456789abcdef"

// labelSide is the side of labelURL's code in modules, quiet zone included:
// version 4 (33 modules) at level M, the least size EncodePNG draws it at.
const labelSide = 33 + 2*QuietZone

func TestEncodePNGRoundTrip(t *testing.T) {
	tests := map[string]struct {
		text string
		size int
	}{
		"one character":           {text: "x"},
		"label URL":               {text: labelURL},
		"label URL, 1 px/module":  {text: labelURL, size: labelSide},
		"label URL, print size":   {text: labelURL, size: 1200},
		"300 characters":          {text: strings.Repeat("nbpair-300/", 28)[:300]},
		"512 bytes, the maximum":  {text: strings.Repeat("0123456789abcdef", 32), size: 800},
		"UTF-8 device name":       {text: "Gerät Küche – 温度計 #1"},
		"URL with query and frag": {text: labelURL + "?imei=490154203237518&n=Boiler%20room#x"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p, err := EncodePNG(tc.text, tc.size)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.size
			if want == 0 {
				want = DefaultSize
			}
			cfg, err := png.DecodeConfig(bytes.NewReader(p))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Width != want || cfg.Height != want {
				t.Errorf("PNG is %d×%d, want %d×%d", cfg.Width, cfg.Height, want, want)
			}
			got, err := Decode(bytes.NewReader(p))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.text {
				t.Errorf("Decode = %q, want %q", got, tc.text)
			}
		})
	}
}

func TestEncodePNGRejects(t *testing.T) {
	tests := map[string]struct {
		text string
		size int
		want error
	}{
		"empty text":            {text: "", want: ErrEmptyText},
		"513 bytes":             {text: strings.Repeat("a", MaxTextLen+1), want: ErrTextTooLong},
		"larger than MaxSize":   {text: labelURL, size: MaxSize + 1, want: ErrBadSize},
		"under 1 px per module": {text: labelURL, size: labelSide - 1, want: ErrBadSize},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p, err := EncodePNG(tc.text, tc.size)
			if !errors.Is(err, tc.want) {
				t.Fatalf("EncodePNG = %d bytes, %v; want %v", len(p), err, tc.want)
			}
		})
	}
}

// TestEncodePNGLayout checks what a printer relies on: two colours, whole
// pixels per module, and at least QuietZone light modules on every side.
func TestEncodePNGLayout(t *testing.T) {
	tests := map[string]struct {
		text string
		size int
	}{
		"default size":           {text: labelURL},
		"odd size":               {text: labelURL, size: 333},
		"exactly 1 px/module":    {text: "x", size: 29},
		"label URL, 1 px/module": {text: labelURL, size: labelSide},
		"long text":              {text: strings.Repeat("z", 400), size: 500},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			m, err := modules(tc.text)
			if err != nil {
				t.Fatal(err)
			}
			g := labelImage(t, tc.text, tc.size)
			scale := g.Rect.Dx() / (len(m) + 2*QuietZone)
			dark := darkBounds(t, g)
			for _, gap := range []int{dark.Min.X, dark.Min.Y, g.Rect.Dx() - dark.Max.X, g.Rect.Dy() - dark.Max.Y} {
				if gap < QuietZone*scale {
					t.Errorf("quiet zone of %d px, want at least %d (%d px modules)", gap, QuietZone*scale, scale)
				}
			}
			if dark.Dx() != len(m)*scale || dark.Dy() != len(m)*scale {
				t.Errorf("code is %v, want %d px square", dark, len(m)*scale)
			}
		})
	}
}

// darkBounds returns the smallest rectangle holding every black pixel of g,
// failing if g has a pixel neither black nor white.
func darkBounds(t *testing.T, g *image.Gray) image.Rectangle {
	t.Helper()
	var r image.Rectangle
	for y := range g.Rect.Dy() {
		for x := range g.Rect.Dx() {
			switch g.GrayAt(x, y).Y {
			case 0:
				r = r.Union(image.Rect(x, y, x+1, y+1))
			case 255:
			default:
				t.Fatalf("pixel (%d, %d) is grey %d", x, y, g.GrayAt(x, y).Y)
			}
		}
	}
	return r
}
