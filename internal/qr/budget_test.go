package qr

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"
)

// DecodedBytes reads the header's colour model and the encoding's layout.
func TestDecodedBytes(t *testing.T) {
	img := labelImage(t, "https://pair.example.com/nb/0123", 0)
	w, h := img.Rect.Dx(), img.Rect.Dy()
	px := int64(w * h)
	var baseline bytes.Buffer
	jpeg.Encode(&baseline, img, &jpeg.Options{Quality: 80})
	rgba64 := image.NewNRGBA64(image.Rect(0, 0, w, h))
	var png16 bytes.Buffer
	png.Encode(&png16, rgba64)
	for name, tt := range map[string]struct {
		data []byte
		want int64
	}{
		"grey PNG":              {encodePNG(t, img), 2 * px},
		"16-bit RGBA PNG":       {png16.Bytes(), 9 * px},
		"baseline grey JPEG":    {baseline.Bytes(), 2 * px},
		"progressive grey JPEG": {progressive(t, baseline.Bytes()), 6 * px},
		"GIF":                   {encodeGIF(t, img), 2 * px},
		"interlaced 16-bit PNG": {interlaced(png16.Bytes()), 17 * px},
	} {
		t.Run(name, func(t *testing.T) {
			cfg, format, err := image.DecodeConfig(bytes.NewReader(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			if got := DecodedBytes(cfg, format, tt.data); got != tt.want {
				t.Errorf("DecodedBytes = %d, want %d (%d pixels, %v)", got, tt.want, px, cfg.ColorModel == color.GrayModel)
			}
		})
	}
}

// progressive turns a baseline JPEG's SOF0 into SOF2: only the header is
// read here.
func progressive(t *testing.T, data []byte) []byte {
	out := bytes.Clone(data)
	i := bytes.Index(out, []byte{0xFF, 0xC0})
	if i < 0 {
		t.Fatal("no SOF0")
	}
	out[i+1] = 0xC2
	return out
}

// interlaced sets the interlace byte of a PNG's IHDR and its CRC: only
// the header is read here.
func interlaced(data []byte) []byte {
	out := bytes.Clone(data)
	out[28] = 1
	binary.BigEndian.PutUint32(out[29:], crc32.ChecksumIEEE(out[12:29]))
	return out
}

// A Reader refuses an image over its budget before decoding it, and
// reads one within it.
func TestReaderBudget(t *testing.T) {
	data := encodePNG(t, labelImage(t, "https://pair.example.com/nb/0123", 0))
	cfg, format, _ := image.DecodeConfig(bytes.NewReader(data))
	need := DecodedBytes(cfg, format, data)
	tight := NewReader(ReaderLimits{MaxDecodedBytes: need - 1, Concurrent: 1})
	if _, err := tight.Decode(t.Context(), bytes.NewReader(data)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over the budget by a byte: %v, want ErrTooLarge", err)
	}
	fits := NewReader(ReaderLimits{MaxDecodedBytes: need, Concurrent: 1})
	if text, err := fits.Decode(t.Context(), bytes.NewReader(data)); err != nil || text != "https://pair.example.com/nb/0123" {
		t.Errorf("within the budget: %q, %v", text, err)
	}
}
