package qr

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/gomonobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// Label is a device's label: a small card with the QR code of Text at the
// top and, under it, what a person reads: the product, the device, the
// short code to type when the code cannot be scanned, and the URL itself.
// Every text but Text may be empty; its line is then left out. Text is
// drawn in the Go fonts (golang.org/x/image/font/gofont), embedded in the
// binary, in black on white only, as a 1-bit label printer prints.
type Label struct {
	// Text is the text of the QR code: the device's pairing URL. It is
	// printed under the code as well, split at "/nb/" when it is long.
	Text string
	// Product is the product's name, in bold.
	Product string
	// Name is the device's name or serial number.
	Name string
	// Code is the short code of the device's pairing ID, printed large in
	// a monospaced font, in two lines when it has more than four groups.
	Code string
}

// Limits of a label's texts and size.
const (
	// MaxLabelLine is the most characters of Product or Name a label
	// prints; a longer one is cut with an ellipsis.
	MaxLabelLine = 64
	// DefaultLabelWidth is the width in pixels of a label PNG when the
	// caller asks for 0 or less: 40 mm at 300 dpi, as on the A4 sheet.
	DefaultLabelWidth = 472
	// minTextPx is the smallest em, in pixels, a line is drawn at; less is
	// not legible in black and white.
	minTextPx = 9
)

// LabelHeight is the height of a label PNG of width w: the proportions of
// a cell of the A4 sheet (40 by 41 mm).
func LabelHeight(w int) int { return w * 41 / 40 }

// EncodePNG draws the label on a card of width×height pixels (0 or less:
// DefaultLabelWidth and its LabelHeight) and returns it as a
// black-and-white PNG.
func (l Label) EncodePNG(width, height int) ([]byte, error) {
	if width <= 0 {
		width = DefaultLabelWidth
	}
	if height <= 0 {
		height = LabelHeight(width)
	}
	if width > MaxSize || height > MaxSize {
		return nil, fmt.Errorf("%w: a label of %d×%d px; at most %d px a side", ErrBadSize, width, height, MaxSize)
	}
	img := image.NewPaletted(image.Rect(0, 0, width, height), color.Palette{color.White, color.Black})
	if err := l.draw(img, img.Rect); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("qr: encode png: %w", err)
	}
	return buf.Bytes(), nil
}

// textLine is one line of a label's text.
type textLine struct {
	text  string
	font  *opentype.Font
	maxEm float64 // the largest em, as a fraction of the card's width
	group int     // lines of one group (a code or URL split in two) share one em
	em    float64 // the em it is drawn at, in pixels
}

// fonts are the embedded Go fonts, parsed once.
var fonts = sync.OnceValues(func() ([3]*opentype.Font, error) {
	var out [3]*opentype.Font
	for i, ttf := range [][]byte{goregular.TTF, gobold.TTF, gomonobold.TTF} {
		f, err := opentype.Parse(ttf)
		if err != nil {
			return out, fmt.Errorf("qr: the embedded Go font: %w", err)
		}
		out[i] = f
	}
	return out, nil
})

// lines are the label's lines of text, top to bottom.
func (l Label) lines() ([]textLine, error) {
	f, err := fonts()
	if err != nil {
		return nil, err
	}
	regular, bold, mono := f[0], f[1], f[2]
	var out []textLine
	add := func(text string, ft *opentype.Font, maxEm float64, group int) {
		if text = strings.TrimSpace(text); text != "" {
			out = append(out, textLine{text: text, font: ft, maxEm: maxEm, group: group})
		}
	}
	add(clip(l.Product), bold, 1.0/12, 1)
	add(clip(l.Name), regular, 1.0/14, 2)
	for _, c := range splitCode(l.Code) {
		add(c, mono, 1.0/10, 3)
	}
	base, id, ok := strings.Cut(l.Text, "/nb/")
	if ok && id != "" {
		add(base+"/nb/", regular, 1.0/20, 4)
		add(id, regular, 1.0/20, 4)
	} else {
		add(l.Text, regular, 1.0/20, 4)
	}
	return out, nil
}

// clip cuts s to MaxLabelLine characters, replacing what is cut and any
// control character.
func clip(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || r == utf8.RuneError {
			return -1
		}
		return r
	}, s)
	if utf8.RuneCountInString(s) <= MaxLabelLine {
		return s
	}
	return string([]rune(s)[:MaxLabelLine-1]) + "…"
}

// splitCode puts a short code of dash-separated groups on two lines when
// it has more than four groups, so that it can be printed large.
func splitCode(code string) []string {
	code = clip(code)
	groups := strings.Split(code, "-")
	if len(groups) <= 4 {
		return []string{code}
	}
	half := (len(groups) + 1) / 2
	return []string{strings.Join(groups[:half], "-"), strings.Join(groups[half:], "-")}
}

// lineSpacing is a line's height as a multiple of its em.
const lineSpacing = 1.2

// layout sizes the lines for a card of w×h pixels: each as large as its
// maxEm allows and the width holds, then all scaled down together if they
// would leave the code less than 55% of the height. It returns the height
// of the text block.
func layout(lines []textLine, w, h int) (int, error) {
	pad := float64(w) / 32
	total := 0.0
	for i := range lines {
		l := &lines[i]
		adv := advanceAt(l.font, l.text, 100) / 100 // width per pixel of em
		l.em = min(l.maxEm*float64(w), (float64(w)-2*pad)/adv)
	}
	for i := range lines { // a group's lines at the em of its longest
		for j := range lines {
			if lines[j].group == lines[i].group {
				lines[i].em = min(lines[i].em, lines[j].em)
			}
		}
	}
	for _, l := range lines {
		total += l.em * lineSpacing
	}
	if room := float64(h) * 0.45; total > room {
		for i := range lines {
			lines[i].em *= room / total
		}
		total = room
	}
	for _, l := range lines {
		if l.em < minTextPx {
			return 0, fmt.Errorf("%w: a label of %d×%d px is too small for the text %q", ErrBadSize, w, h, l.text)
		}
	}
	return int(total + pad/2), nil
}

// advanceAt is the width in pixels of text in f at an em of px pixels.
func advanceAt(f *opentype.Font, text string, px float64) float64 {
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: px, DPI: 72, Hinting: font.HintingNone})
	if err != nil {
		return float64(len(text)) * px // not reached with the embedded fonts
	}
	defer face.Close()
	return float64(font.MeasureString(face, text)) / 64
}

// draw draws the label into the rectangle r of img: the code at the top,
// centred, with its quiet zone, and the lines of text under it, each
// centred.
func (l Label) draw(img *image.Paletted, r image.Rectangle) error {
	m, err := modules(l.Text)
	if err != nil {
		return err
	}
	lines, err := l.lines()
	if err != nil {
		return err
	}
	w, h := r.Dx(), r.Dy()
	textH, err := layout(lines, w, h)
	if err != nil {
		return err
	}
	n := len(m) + 2*QuietZone
	scale := min(w, h-textH) / n
	if scale < 1 {
		return fmt.Errorf("%w: a label of %d×%d px is too small for this code, which needs %d px", ErrBadSize, w, h, n)
	}
	x0 := r.Min.X + (w-n*scale)/2 + QuietZone*scale
	y0 := r.Min.Y + QuietZone*scale
	for y, row := range m {
		for x, dark := range row {
			if dark {
				fill(img, image.Rect(x0+x*scale, y0+y*scale, x0+(x+1)*scale, y0+(y+1)*scale))
			}
		}
	}
	// The text starts where the quiet zone under the code ends, or lower
	// if the code was made smaller than its room.
	y := float64(r.Min.Y + max(n*scale, h-textH))
	for _, ln := range lines {
		if err := drawLine(img, r, ln, y); err != nil {
			return err
		}
		y += ln.em * lineSpacing
	}
	return nil
}

// drawLine draws one line centred in r, its em box starting at y.
func drawLine(img *image.Paletted, r image.Rectangle, ln textLine, y float64) error {
	face, err := opentype.NewFace(ln.font, &opentype.FaceOptions{Size: ln.em, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		return fmt.Errorf("qr: font face: %w", err)
	}
	defer face.Close()
	d := &font.Drawer{Dst: img, Src: image.Black, Face: face}
	adv := d.MeasureString(ln.text)
	x := fixed.I(r.Min.X) + (fixed.I(r.Dx())-adv)/2
	ascent := face.Metrics().Ascent
	d.Dot = fixed.Point26_6{X: x, Y: fixed.Int26_6(y*64) + ascent + (fixed.Int26_6(ln.em*64*(lineSpacing-1)))/2}
	d.DrawString(ln.text)
	return nil
}
