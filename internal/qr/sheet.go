package qr

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
)

// Sheet is the layout of a printable page of labels: a grid of equal cells
// inside a blank margin, each cell a QR code with a caption under it.
type Sheet struct {
	Width, Height int // the page, in pixels
	Margin        int // the blank border of the page, in pixels
	Columns, Rows int
}

// A4 is an A4 page at 300 dpi (2480×3508 pixels, 5 mm margins) with 35
// labels in 5 columns and 7 rows: cells of 40×41 mm; a pairing URL's code
// is 31 mm wide (38 mm with its quiet zone), its caption 2.4 mm high.
var A4 = Sheet{Width: 2480, Height: 3508, Margin: 60, Columns: 5, Rows: 7}

// Label is one label on a sheet: the text of its QR code and a caption
// printed under it. The caption is drawn in a built-in 5×7 pixel font that
// has the digits 0-9 only, enough for an IMEI; other characters are left
// blank.
type Label struct {
	Text    string
	Caption string
}

// PerPage is the number of labels a sheet holds.
func (s Sheet) PerPage() int { return s.Columns * s.Rows }

// Cell returns the rectangle of the i-th cell of the sheet (0 ≤ i <
// PerPage), counting row by row from the top left.
func (s Sheet) Cell(i int) image.Rectangle {
	w, h := s.cellSize()
	x := s.Margin + (i%s.Columns)*w
	y := s.Margin + (i/s.Columns)*h
	return image.Rect(x, y, x+w, y+h)
}

func (s Sheet) cellSize() (w, h int) {
	return (s.Width - 2*s.Margin) / s.Columns, (s.Height - 2*s.Margin) / s.Rows
}

// EncodePNG draws the labels (at most PerPage) into the cells of one sheet,
// in order, and returns the page as a black-and-white PNG.
func (s Sheet) EncodePNG(labels []Label) ([]byte, error) {
	if s.Columns < 1 || s.Rows < 1 || s.Width > MaxSize*4 || s.Height > MaxSize*4 {
		return nil, fmt.Errorf("%w: a sheet of %d×%d pixels in %d×%d cells", ErrBadSize, s.Width, s.Height, s.Columns, s.Rows)
	}
	if len(labels) > s.PerPage() {
		return nil, fmt.Errorf("qr: %d labels for a sheet of %d", len(labels), s.PerPage())
	}
	// Index 0 is white, so a fresh page is blank.
	img := image.NewPaletted(image.Rect(0, 0, s.Width, s.Height), color.Palette{color.White, color.Black})
	for i, l := range labels {
		if err := drawLabel(img, s.Cell(i), l); err != nil {
			return nil, fmt.Errorf("label %d: %w", i+1, err)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("qr: encode png: %w", err)
	}
	return buf.Bytes(), nil
}

// drawLabel draws one label into cell: the code at the top, centred, with
// its quiet zone, and the caption centred under it.
func drawLabel(img *image.Paletted, cell image.Rectangle, l Label) error {
	m, err := modules(l.Text)
	if err != nil {
		return err
	}
	w, h := cell.Dx(), cell.Dy()
	// A font pixel is 4 image pixels, fewer if the caption is long.
	fs := 0
	if l.Caption != "" {
		fs = min(4, w/(glyphAdvance*len(l.Caption)))
	}
	n := len(m) + 2*QuietZone
	scale := min(w, h-(glyphHeight+1)*fs) / n
	if scale < 1 || l.Caption != "" && fs < 1 {
		return fmt.Errorf("%w: a cell of %d×%d pixels is too small for this label", ErrBadSize, w, h)
	}
	x0 := cell.Min.X + (w-n*scale)/2 + QuietZone*scale
	y0 := cell.Min.Y + QuietZone*scale
	for y, row := range m {
		for x, dark := range row {
			if dark {
				fill(img, image.Rect(x0+x*scale, y0+y*scale, x0+(x+1)*scale, y0+(y+1)*scale))
			}
		}
	}
	if l.Caption != "" {
		textW := (glyphAdvance*len(l.Caption) - 1) * fs
		drawText(img, cell.Min.X+(w-textW)/2, cell.Min.Y+n*scale, fs, l.Caption)
	}
	return nil
}

// The built-in font: 5×7 pixel glyphs, one column of space between them.
const (
	glyphWidth   = 5
	glyphHeight  = 7
	glyphAdvance = glyphWidth + 1
)

// digitGlyphs are the digits 0-9, each row of a glyph 5 bits, the leftmost
// pixel the highest bit.
var digitGlyphs = [10][glyphHeight]uint8{
	{0b01110, 0b10001, 0b10011, 0b10101, 0b11001, 0b10001, 0b01110},
	{0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110},
	{0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b01000, 0b11111},
	{0b11111, 0b00010, 0b00100, 0b00010, 0b00001, 0b10001, 0b01110},
	{0b00010, 0b00110, 0b01010, 0b10010, 0b11111, 0b00010, 0b00010},
	{0b11111, 0b10000, 0b11110, 0b00001, 0b00001, 0b10001, 0b01110},
	{0b00110, 0b01000, 0b10000, 0b11110, 0b10001, 0b10001, 0b01110},
	{0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b01000, 0b01000},
	{0b01110, 0b10001, 0b10001, 0b01110, 0b10001, 0b10001, 0b01110},
	{0b01110, 0b10001, 0b10001, 0b01111, 0b00001, 0b00010, 0b01100},
}

// drawText draws text with its top left at (x, y), each font pixel s×s
// image pixels, clipped to the image.
func drawText(img *image.Paletted, x, y, s int, text string) {
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c < '0' || c > '9' {
			continue
		}
		for row, bits := range digitGlyphs[c-'0'] {
			for col := range glyphWidth {
				if bits&(1<<(glyphWidth-1-col)) != 0 {
					px := x + (i*glyphAdvance+col)*s
					fill(img, image.Rect(px, y+row*s, px+s, y+(row+1)*s).Intersect(img.Rect))
				}
			}
		}
	}
}
