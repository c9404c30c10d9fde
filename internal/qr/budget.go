package qr

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
)

// DecodedBytes is, from its header alone, the most memory the pixels of
// the image in data take while Decode reads it: the decoder's output at
// its bytes per pixel (8 for a 16-bit RGBA PNG, 3 for a JPEG as if it had
// no chroma subsampling), twice that for an interlaced PNG (its passes),
// 4 bytes a pixel and component more for a progressive JPEG (its
// coefficients), and one byte a pixel for the grey copy the QR reader
// scans.
func DecodedBytes(cfg image.Config, format string, data []byte) int64 {
	px := int64(cfg.Width) * int64(cfg.Height)
	bpp := int64(8)
	switch cfg.ColorModel {
	case color.GrayModel, color.AlphaModel:
		bpp = 1
	case color.Gray16Model, color.Alpha16Model:
		bpp = 2
	case color.YCbCrModel:
		bpp = 3
	case color.RGBAModel, color.NRGBAModel:
		bpp = 4
	case color.CMYKModel: // decoded as YCbCr and black, then converted
		bpp = 8
	case color.RGBA64Model, color.NRGBA64Model:
		bpp = 8
	default:
		if _, ok := cfg.ColorModel.(color.Palette); ok {
			bpp = 1
		}
	}
	switch {
	case format == "png" && pngInterlaced(data):
		bpp *= 2
	case format == "jpeg" && jpegProgressive(data):
		bpp += 4 * min(bpp, 4)
	}
	return px * (bpp + 1)
}

// pngInterlaced tells whether the PNG in data says it is interlaced (Adam7):
// the last byte of its IHDR, which comes first.
func pngInterlaced(data []byte) bool {
	return len(data) > 28 && data[28] != 0
}

// jpegProgressive tells whether the JPEG in data has a progressive frame
// header (SOF2, SOF6, SOF10 or SOF14), walking its markers up to the first
// frame header. It answers true when it cannot tell, the safe guess.
func jpegProgressive(data []byte) bool {
	i := 2 // past SOI
	for i+4 <= len(data) {
		if data[i] != 0xFF {
			return true
		}
		m := data[i+1]
		switch {
		case m == 0xFF: // fill byte
			i++
			continue
		case m == 0x01 || m >= 0xD0 && m <= 0xD8: // no length
			i += 2
			continue
		case m == 0xC2 || m == 0xC6 || m == 0xCA || m == 0xCE:
			return true
		case m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC:
			return false // a sequential frame
		}
		n := int(data[i+2])<<8 | int(data[i+3])
		if n < 2 {
			return true
		}
		i += 2 + n
	}
	return true
}

// ErrBusy means a Reader has as many images decoding and waiting as it
// allows; the caller should try again shortly.
var ErrBusy = errors.New("qr: too many images being read; try again shortly")

// ReaderLimits bound what a Reader holds at once.
type ReaderLimits struct {
	// MaxDecodedBytes bounds one image's decoded pixels (DecodedBytes).
	MaxDecodedBytes int64
	// Concurrent is how many images decode at once.
	Concurrent int
	// Queue is how many more may wait, their encoded bytes read, for a
	// turn; beyond it Decode fails at once with ErrBusy.
	Queue int
}

// Reader reads QR codes from uploaded images with bounded memory: at most
// Concurrent images decode at once, each within MaxDecodedBytes, and at
// most Concurrent+Queue uploads are held (each at most MaxImageBytes).
type Reader struct {
	budget int64
	held   chan struct{} // a place per upload held, decoding or waiting
	slots  chan struct{} // a place per image decoding
}

// NewReader returns a Reader with the given limits.
func NewReader(l ReaderLimits) *Reader {
	return &Reader{budget: l.MaxDecodedBytes, held: make(chan struct{}, l.Concurrent+l.Queue),
		slots: make(chan struct{}, l.Concurrent)}
}

// Decode is Decode under the Reader's limits: it fails at once with
// ErrBusy when the Reader holds all it may, reads r (at most
// MaxImageBytes), checks the header against the budget, then waits for a
// turn to decode (or for ctx to end).
func (rd *Reader) Decode(ctx context.Context, r io.Reader) (string, error) {
	select {
	case rd.held <- struct{}{}:
	default:
		return "", ErrBusy
	}
	defer func() { <-rd.held }()
	data, err := readBounded(r)
	if err != nil {
		return "", err
	}
	return decodeBytes(data, rd.budget, func() (func(), error) {
		select {
		case rd.slots <- struct{}{}:
			return func() { <-rd.slots }, nil
		case <-ctx.Done():
			return nil, fmt.Errorf("qr: waiting for a turn to decode: %w", ctx.Err())
		}
	})
}
