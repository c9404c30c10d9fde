package qr

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
)

// Sheet is the layout of a printable page of labels: a grid of equal cells
// inside a blank margin, each cell one Label card.
type Sheet struct {
	Width, Height int // the page, in pixels
	Margin        int // the blank border of the page, in pixels
	Columns, Rows int
}

// A4 is an A4 page at 300 dpi (2480×3508 pixels, 5 mm margins) with 35
// labels in 5 columns and 7 rows: cards of 40×41 mm, each the same as a
// single label of DefaultLabelWidth; a pairing URL's code is about 21 mm
// wide with its quiet zone, the short code under it about 3 mm high.
var A4 = Sheet{Width: 2480, Height: 3508, Margin: 60, Columns: 5, Rows: 7}

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
		if err := l.draw(img, s.Cell(i)); err != nil {
			return nil, fmt.Errorf("label %d: %w", i+1, err)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("qr: encode png: %w", err)
	}
	return buf.Bytes(), nil
}
