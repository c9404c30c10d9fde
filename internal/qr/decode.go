package qr

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	_ "image/gif"  // register GIF for image.Decode
	_ "image/jpeg" // register JPEG for image.Decode
	_ "image/png"  // register PNG for image.Decode
	"io"
)

// Limits on what Decode accepts. They bound the memory one upload can take:
// at most MaxImageBytes read and MaxPixels decoded.
const (
	// MaxImageBytes is the largest encoded image Decode reads: 10 MiB.
	MaxImageBytes = 10 << 20
	// MaxDimension is the largest width or height, in pixels, Decode
	// decodes.
	MaxDimension = 8000
	// MaxPixels is the largest width×height Decode decodes: 48 megapixels,
	// an 8000×6000 photo. Decoding such an image takes up to 4 bytes a
	// pixel (16-bit PNGs 8), so this caps one call at a few hundred MB.
	MaxPixels = 8000 * 6000
)

// Errors Decode returns, wrapped with details. Callers map them with
// errors.Is: ErrNotImage and ErrTooLarge are the caller's bad input,
// ErrNoCode means the image was read but holds no readable QR code.
var (
	// ErrNotImage means the input is not a PNG, JPEG or GIF, or is corrupt.
	ErrNotImage = errors.New("qr: not a PNG, JPEG or GIF image")
	// ErrTooLarge means the input is over MaxImageBytes, or its pixel
	// dimensions are over MaxDimension or MaxPixels.
	ErrTooLarge = errors.New("qr: image too large")
	// ErrNoCode means the image is fine but no QR code could be read in it.
	ErrNoCode = errors.New("qr: no QR code found")
)

// Decode reads one PNG, JPEG or GIF image from r and returns the text of
// the QR code in it. It reads at most MaxImageBytes (plus one byte to tell
// that the stream goes on), and checks the dimensions in the image header
// before decoding any pixel, so a small file claiming a huge image costs
// nothing. When the plain attempt finds no code, Decode retries on a
// downscaled copy (which also averages out a photo's noise), with a global
// rather than local threshold, and inverted (light modules on dark).
func Decode(r io.Reader) (string, error) {
	data, err := readBounded(r)
	if err != nil {
		return "", err
	}
	img, err := decodeImage(data)
	if err != nil {
		return "", err
	}
	return scan(luminance(img))
}

// readBounded reads all of r, failing with ErrTooLarge past MaxImageBytes.
func readBounded(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxImageBytes+1))
	if err != nil {
		return nil, fmt.Errorf("qr: read image: %w", err)
	}
	if len(data) > MaxImageBytes {
		return nil, fmt.Errorf("%w: image larger than 10 MiB", ErrTooLarge)
	}
	return data, nil
}

// decodeImage checks the header of data, then decodes its pixels.
func decodeImage(data []byte) (image.Image, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotImage, err)
	}
	w, h := cfg.Width, cfg.Height
	switch {
	case w <= 0 || h <= 0:
		return nil, fmt.Errorf("%w: %s of %d×%d pixels", ErrNotImage, format, w, h)
	case w > MaxDimension || h > MaxDimension:
		return nil, fmt.Errorf("%w: %s of %d×%d pixels, at most %d on a side",
			ErrTooLarge, format, w, h, MaxDimension)
	case w*h > MaxPixels:
		return nil, fmt.Errorf("%w: %s of %d×%d pixels, at most %d megapixels",
			ErrTooLarge, format, w, h, MaxPixels/1_000_000)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotImage, err)
	}
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
		// The header lied; never trust pixels beyond what was checked.
		return nil, fmt.Errorf("%w: %s header says %d×%d, pixels are %d×%d",
			ErrNotImage, format, w, h, b.Dx(), b.Dy())
	}
	return img, nil
}
