package qr

import (
	"bytes"
	"errors"
	"image"
	"testing"
	"unicode/utf8"
)

// FuzzDecode feeds Decode arbitrary bytes, starting from small real labels
// in every format. Decode must never panic, must fail only with one of its
// sentinels, and must return only non-empty UTF-8 text. Found inputs
// live in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	png, err := EncodePNG("x", 29) // version 1, 1 px a module
	if err != nil {
		f.Fatal(err)
	}
	img := labelImage(f, "https://pair.example.com/nb/0123", 0)
	for _, seed := range [][]byte{
		png,
		encodeGIF(f, img),
		encodeJPEG(f, img, 50),
		pngHeader(50000, 50000),
		png[:len(png)/2],
		nil,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		text, err := Decode(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrNotImage) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrNoCode) {
				t.Fatalf("error %v wraps none of the sentinels", err)
			}
			return
		}
		if text == "" {
			t.Fatal("decoded an empty text without error")
		}
		if !utf8.ValidString(text) {
			t.Fatalf("decoded text is not UTF-8: %q", text)
		}
	})
}

// FuzzScan feeds the QR reader grey pixels directly, past the image
// decoders' checksums that keep FuzzDecode's mutations from reaching it:
// the first byte is the width, the rest are the pixels row by row. scan
// must never panic and must return only non-empty UTF-8 text or ErrNoCode.
func FuzzScan(f *testing.F) {
	for _, seed := range []*image.Gray{
		labelImage(f, "x", 29),
		labelImage(f, "https://pair.example.com/nb/0123", 2*37),
		rotate(labelImage(f, "nbpair", 3*25), 20),
	} {
		f.Add(append([]byte{byte(seed.Rect.Dx())}, seed.Pix...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 || data[0] == 0 {
			return
		}
		w := int(data[0])
		h := (len(data) - 1) / w
		if h == 0 {
			return
		}
		g := &image.Gray{Pix: data[1 : 1+w*h], Stride: w, Rect: image.Rect(0, 0, w, h)}
		text, err := scan(g)
		switch {
		case err != nil && !errors.Is(err, ErrNoCode):
			t.Fatalf("error %v does not wrap ErrNoCode", err)
		case err == nil && (text == "" || !utf8.ValidString(text)):
			t.Fatalf("decoded %q", text)
		}
	})
}

// FuzzDecodedBytes checks that DecodedBytes never says less than what the
// decoders really allocate for the pixels of an image they accept, so that
// the budget checked before decoding holds. Progressive and baseline JPEGs,
// interlaced and plain PNGs and GIFs are among the seeds.
func FuzzDecodedBytes(f *testing.F) {
	img := labelImage(f, "https://pair.example.com/nb/0123", 0)
	png, err := EncodePNG("x", 29)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range [][]byte{png, encodeGIF(f, img), encodeJPEG(f, img, 50), {0xFF, 0xD8, 0xFF, 0xC2, 0, 2}} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, format, err := checkHeader(data, 1<<40)
		if err != nil || cfg.Width*cfg.Height > 1<<20 {
			return
		}
		want := DecodedBytes(cfg, format, data)
		img, err := decodePixels(data, cfg, format)
		if err != nil {
			return
		}
		if got := pixelBytes(img) + int64(cfg.Width*cfg.Height); got > want {
			t.Fatalf("%s %d×%d %T: pixels take %d bytes, DecodedBytes says %d", format, cfg.Width, cfg.Height, img, got, want)
		}
	})
}

// pixelBytes is the memory of img's pixel buffers.
func pixelBytes(img image.Image) int64 {
	switch m := img.(type) {
	case *image.YCbCr:
		return int64(len(m.Y) + len(m.Cb) + len(m.Cr))
	case *image.Gray:
		return int64(len(m.Pix))
	case *image.Gray16:
		return int64(len(m.Pix))
	case *image.RGBA:
		return int64(len(m.Pix))
	case *image.NRGBA:
		return int64(len(m.Pix))
	case *image.RGBA64:
		return int64(len(m.Pix))
	case *image.NRGBA64:
		return int64(len(m.Pix))
	case *image.Paletted:
		return int64(len(m.Pix))
	case *image.CMYK:
		return int64(len(m.Pix))
	}
	return 0
}
