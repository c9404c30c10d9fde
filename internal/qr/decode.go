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
// at most MaxImageBytes read, and at most DefaultMaxDecodedBytes (or a
// Reader's budget) of decoded pixels, as the image's header tells before
// any pixel is decoded.
const (
	// MaxImageBytes is the largest encoded image Decode reads: 10 MiB.
	MaxImageBytes = 10 << 20
	// MaxDimension is the largest width or height, in pixels, Decode
	// decodes.
	MaxDimension = 8000
	// MaxPixels is the largest width×height Decode decodes: 48 megapixels,
	// an 8000×6000 photo, whatever its decoded size.
	MaxPixels = 8000 * 6000
	// DefaultMaxDecodedBytes is the most memory Decode lets one image's
	// pixels take once decoded (see DecodedBytes): 64 MiB, enough for a
	// 12-megapixel phone photo as JPEG or as 8-bit PNG.
	DefaultMaxDecodedBytes = 64 << 20
)

// Errors Decode returns, wrapped with details. Callers map them with
// errors.Is: ErrNotImage and ErrTooLarge are the caller's bad input,
// ErrNoCode means the image was read but holds no readable QR code.
var (
	// ErrNotImage means the input is not a PNG, JPEG or GIF, or is corrupt.
	ErrNotImage = errors.New("qr: not a PNG, JPEG or GIF image")
	// ErrTooLarge means the input is over MaxImageBytes, its pixel
	// dimensions are over MaxDimension or MaxPixels, or its pixels would
	// take more memory than the decoding budget once decoded.
	ErrTooLarge = errors.New("qr: image too large")
	// ErrNoCode means the image is fine but no QR code could be read in it.
	ErrNoCode = errors.New("qr: no QR code found")
)

// Decode reads one PNG, JPEG or GIF image from r and returns the text of
// the QR code in it. It reads at most MaxImageBytes (plus one byte to tell
// that the stream goes on), and checks the dimensions and the decoded size
// (DecodedBytes, at most DefaultMaxDecodedBytes) in the image header before
// decoding any pixel, so a small file claiming a huge image costs nothing.
// When the plain attempt finds no code, Decode retries on a downscaled copy
// (which also averages out a photo's noise), with a global rather than
// local threshold, and inverted (light modules on dark).
func Decode(r io.Reader) (string, error) {
	data, err := readBounded(r)
	if err != nil {
		return "", err
	}
	return decodeBytes(data, DefaultMaxDecodedBytes, nil)
}

// decodeBytes reads the code in the image data, refusing an image whose
// pixels would take more than budget bytes. wait, when not nil, is called
// once the image has passed its checks and before its pixels are decoded;
// it returns a function to call when decoding is done, or an error that
// ends the decode.
func decodeBytes(data []byte, budget int64, wait func() (func(), error)) (string, error) {
	cfg, format, err := checkHeader(data, budget)
	if err != nil {
		return "", err
	}
	if wait != nil {
		done, err := wait()
		if err != nil {
			return "", err
		}
		defer done()
	}
	img, err := decodePixels(data, cfg, format)
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

// decodeImage checks the header of data against DefaultMaxDecodedBytes,
// then decodes its pixels.
func decodeImage(data []byte) (image.Image, error) {
	cfg, format, err := checkHeader(data, DefaultMaxDecodedBytes)
	if err != nil {
		return nil, err
	}
	return decodePixels(data, cfg, format)
}

// checkHeader reads the header of data and refuses an image too large in
// pixels, or whose pixels would take more than budget bytes decoded.
func checkHeader(data []byte, budget int64) (image.Config, string, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return cfg, "", fmt.Errorf("%w: %v", ErrNotImage, err)
	}
	w, h := cfg.Width, cfg.Height
	switch {
	case w <= 0 || h <= 0:
		return cfg, "", fmt.Errorf("%w: %s of %d×%d pixels", ErrNotImage, format, w, h)
	case w > MaxDimension || h > MaxDimension:
		return cfg, "", fmt.Errorf("%w: %s of %d×%d pixels, at most %d on a side",
			ErrTooLarge, format, w, h, MaxDimension)
	case w*h > MaxPixels:
		return cfg, "", fmt.Errorf("%w: %s of %d×%d pixels, at most %d megapixels",
			ErrTooLarge, format, w, h, MaxPixels/1_000_000)
	}
	if n := DecodedBytes(cfg, format, data); n > budget {
		return cfg, "", fmt.Errorf("%w: %s of %d×%d pixels would take %d MiB to decode, at most %d MiB; send a smaller or 8-bit image",
			ErrTooLarge, format, w, h, (n+1<<20-1)>>20, budget>>20)
	}
	return cfg, format, nil
}

// decodePixels decodes the image whose header checkHeader passed.
func decodePixels(data []byte, cfg image.Config, format string) (image.Image, error) {
	w, h := cfg.Width, cfg.Height
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
