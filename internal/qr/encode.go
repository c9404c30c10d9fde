// Package qr makes and reads the QR codes on nbpair device labels.
//
// A label's text is the device's pairing URL, such as
// https://pair.example.com/nb/0123456789abcdef0123456789abcdef. EncodePNG
// draws the bare code, Label draws the label card that is printed (the code
// with the product, the device, the short code to type and the URL in the
// Go fonts), Sheet lays cards out on a page, Terminal draws the code for a
// terminal, and Decode finds it again in an uploaded image, from a clean PNG
// to a phone's photo of a printed label. Encoding and decoding use gozxing,
// a Go port of ZXing.
//
// Every code is made at error correction level M (about 15% of the symbol
// may be lost) with a quiet zone of at least 4 modules, as ISO/IEC 18004
// asks.
package qr

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"

	"github.com/makiuchi-d/gozxing/qrcode/decoder"
	"github.com/makiuchi-d/gozxing/qrcode/encoder"
)

// Limits on what EncodePNG and Terminal accept.
const (
	// MaxTextLen is the most bytes of text a label's code may hold. A
	// pairing URL is well under 100 bytes; 512 keeps codes small enough to
	// print and to scan from a terminal.
	MaxTextLen = 512
	// DefaultSize is the width and height in pixels of a PNG when the
	// caller asks for size 0 or less.
	DefaultSize = 320
	// MaxSize is the largest PNG width and height EncodePNG draws.
	MaxSize = 4096
	// QuietZone is the least number of light modules around the code.
	QuietZone = 4
)

// Errors EncodePNG and Terminal return, wrapped with details.
var (
	// ErrEmptyText means there was no text to encode.
	ErrEmptyText = errors.New("qr: empty text")
	// ErrTextTooLong means the text is longer than MaxTextLen bytes.
	ErrTextTooLong = errors.New("qr: text too long for a label")
	// ErrBadSize means the requested PNG size is above MaxSize or too small
	// to give every module at least one pixel.
	ErrBadSize = errors.New("qr: bad image size")
)

// EncodePNG returns a PNG of the QR code for text: size×size pixels (or
// DefaultSize when size <= 0), black modules on white, each module a whole
// number of pixels, centred so the quiet zone is at least QuietZone modules.
// The text is encoded as UTF-8 without an ECI header, which is what phone
// scanners expect of a URL.
func EncodePNG(text string, size int) ([]byte, error) {
	if size <= 0 {
		size = DefaultSize
	}
	if size > MaxSize {
		return nil, fmt.Errorf("%w: %d px is more than the maximum %d px", ErrBadSize, size, MaxSize)
	}
	m, err := modules(text)
	if err != nil {
		return nil, err
	}
	img, err := render(m, size)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("qr: encode png: %w", err)
	}
	return buf.Bytes(), nil
}

// modules encodes text and returns its module matrix without quiet zone:
// m[y][x] is true for a dark module.
func modules(text string) ([][]bool, error) {
	switch {
	case text == "":
		return nil, ErrEmptyText
	case len(text) > MaxTextLen:
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTextTooLong, len(text), MaxTextLen)
	}
	code, err := encoder.Encoder_encode(text, decoder.ErrorCorrectionLevel_M, nil)
	if err != nil {
		return nil, fmt.Errorf("qr: encode %q: %w", text, err)
	}
	bm := code.GetMatrix()
	m := make([][]bool, bm.GetHeight())
	for y := range m {
		m[y] = make([]bool, bm.GetWidth())
		for x := range m[y] {
			m[y][x] = bm.Get(x, y) == 1
		}
	}
	return m, nil
}

// render draws the module matrix m into a size×size two-colour image. The
// pixels left over after the largest whole module size widen the quiet zone.
func render(m [][]bool, size int) (*image.Paletted, error) {
	n := len(m)
	scale := size / (n + 2*QuietZone)
	if scale < 1 {
		return nil, fmt.Errorf("%w: %d px is too small for this text, which needs at least %d px",
			ErrBadSize, size, n+2*QuietZone)
	}
	// Index 0 is white, so a fresh image is all quiet zone.
	img := image.NewPaletted(image.Rect(0, 0, size, size), color.Palette{color.White, color.Black})
	off := (size - n*scale) / 2
	for y, row := range m {
		for x, dark := range row {
			if dark {
				r := image.Rect(off+x*scale, off+y*scale, off+(x+1)*scale, off+(y+1)*scale)
				fill(img, r)
			}
		}
	}
	return img, nil
}

// fill sets the pixels of r to black (palette index 1).
func fill(img *image.Paletted, r image.Rectangle) {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := img.Pix[img.PixOffset(r.Min.X, y):img.PixOffset(r.Max.X, y)]
		for i := range row {
			row[i] = 1
		}
	}
}
