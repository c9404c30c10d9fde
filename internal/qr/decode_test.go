package qr

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

// TestDecodeDistorted decodes labels as they reach the server: photos of
// printed labels, scaled, turned, noisy, blurred and JPEG-compressed. Each
// case is a distortion Decode is known to overcome; see scan's attempts.
func TestDecodeDistorted(t *testing.T) {
	base := labelImage(t, labelURL, 0) // 320 px, 7 px modules
	tests := map[string]struct {
		img    func() image.Image
		encode func(testing.TB, image.Image) []byte
	}{
		"scaled 3×, turned 90°, noise σ20, blur, JPEG 70": {
			img: func() image.Image { return blur(noise(rotate90(scaleUp(base, 3)), 20, 1), 1) }, encode: jpeg70,
		},
		"scaled 3×, turned 90°, noise σ40, blur r2, JPEG 70": {
			img: func() image.Image { return blur(noise(rotate90(scaleUp(base, 3)), 40, 1), 2) }, encode: jpeg70,
		},
		"turned 30°":                   {img: func() image.Image { return rotate(base, 30) }, encode: jpeg70},
		"turned 45°, scaled 3×, noisy": {img: func() image.Image { return noise(rotate(scaleUp(base, 3), 45), 20, 2) }, encode: jpeg70},
		"out of focus: blur r8 at 3×":  {img: func() image.Image { return blur(scaleUp(base, 3), 8) }, encode: jpeg70},
		"JPEG quality 5":               {img: func() image.Image { return base }, encode: jpeg5},
		"grainy: noise σ60 at 3×":      {img: func() image.Image { return noise(scaleUp(base, 3), 60, 1) }, encode: jpeg70},
		"grainy: noise σ80 at 3×":      {img: func() image.Image { return noise(scaleUp(base, 3), 80, 1) }, encode: jpeg70},
		"specks: 15% salt and pepper":  {img: func() image.Image { return saltAndPepper(scaleUp(base, 3), 0.15, 3) }, encode: encodePNG},
		"specks: 30% salt and pepper":  {img: func() image.Image { return saltAndPepper(scaleUp(base, 3), 0.30, 3) }, encode: encodePNG},
		"faded: grey 110 on 150":       {img: func() image.Image { return levels(base, 110, 150) }, encode: jpeg70},
		"faded: grey 120 on 140, noisy": {
			img: func() image.Image { return noise(levels(scaleUp(base, 3), 120, 140), 8, 4) }, encode: encodePNG,
		},
		"lamp to one side: 10% light on the right": {img: func() image.Image { return shade(base, 0.1) }, encode: jpeg70},
		"scratched: 4% of the code blotted": {
			img: func() image.Image { return blot(scaleUp(base, 4), 500, 600, 220) }, encode: jpeg70,
		},
		"negative: light on dark": {img: func() image.Image { return invert(base) }, encode: jpeg70},
		"in a 2400×1600 photo, turned 15°": {
			img: func() image.Image { return inPhoto(rotate(scaleUp(base, 2), 15), 2400, 1600, 1000, 500) }, encode: jpeg85,
		},
		"GIF":                         {img: func() image.Image { return base }, encode: encodeGIF},
		"PNG, transparent background": {img: func() image.Image { return transparent(base) }, encode: encodePNG},
		"PNG, 16-bit RGBA":            {img: func() image.Image { return deep(base) }, encode: encodePNG},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := Decode(bytes.NewReader(tc.encode(t, tc.img())))
			if err != nil {
				t.Fatal(err)
			}
			if got != labelURL {
				t.Errorf("Decode = %q, want %q", got, labelURL)
			}
		})
	}
}

func jpeg5(t testing.TB, img image.Image) []byte  { return encodeJPEG(t, img, 5) }
func jpeg70(t testing.TB, img image.Image) []byte { return encodeJPEG(t, img, 70) }
func jpeg85(t testing.TB, img image.Image) []byte { return encodeJPEG(t, img, 85) }

func TestDecodeRejects(t *testing.T) {
	label, err := EncodePNG(labelURL, 0)
	if err != nil {
		t.Fatal(err)
	}
	random := make([]byte, 4096)
	rand.NewChaCha8([32]byte{1}).Read(random)
	tests := map[string]struct {
		data []byte
		want error
	}{
		"empty":                           {data: nil, want: ErrNotImage},
		"random bytes":                    {data: random, want: ErrNotImage},
		"BMP, an unsupported format":      {data: append([]byte("BM"), make([]byte, 60)...), want: ErrNotImage},
		"truncated PNG":                   {data: label[:len(label)/2], want: ErrNotImage},
		"truncated JPEG":                  {data: truncate(jpeg70(t, labelImage(t, labelURL, 0)), 2), want: ErrNotImage},
		"PNG without a code":              {data: encodePNG(t, noise(mapPixels(400, 300, grid), 10, 5)), want: ErrNoCode},
		"1×1 PNG":                         {data: encodePNG(t, image.NewGray(image.Rect(0, 0, 1, 1))), want: ErrNoCode},
		"code cut in half":                {data: encodePNG(t, labelImage(t, labelURL, 0).SubImage(image.Rect(0, 0, 320, 160))), want: ErrNoCode},
		"PNG header of 50000×50000":       {data: pngHeader(50000, 50000), want: ErrTooLarge},
		"PNG header of 8001×1":            {data: pngHeader(MaxDimension+1, 1), want: ErrTooLarge},
		"PNG header of 7000×7000 (49 MP)": {data: pngHeader(7000, 7000), want: ErrTooLarge},
		"8000×6000 (48 MP) grey PNG, 92 MiB decoded": {data: pngHeader(8000, 6000), want: ErrTooLarge},
		"6000×5000 (30 MP) PNG, short of pixels":     {data: pngHeader(6000, 5000), want: ErrNotImage},
		"10 MiB of zeros, the most read":             {data: make([]byte, MaxImageBytes), want: ErrNotImage},
		"10 MiB and one byte":                        {data: make([]byte, MaxImageBytes+1), want: ErrTooLarge},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := Decode(bytes.NewReader(tc.data))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode = %q, %v; want %v", got, err, tc.want)
			}
		})
	}
}

// grid draws 20 px squares, a pattern with edges everywhere but no code.
func grid(x, y int) uint8 {
	return uint8(255 * ((x/20 + y/20) % 2))
}

// truncate returns the first 1/n of data.
func truncate(data []byte, n int) []byte { return data[:len(data)/n] }

// pngHeader returns a PNG that claims to be a w×h 8-bit grey image: the
// signature, an IHDR chunk and one IDAT chunk holding a single compressed
// row, then the end. That is a decompression bomb: a decoder that believed
// the header would allocate w×h bytes before finding the data short.
func pngHeader(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 0, 0, 0, 0) // bit depth 8, grey, deflate, no filter, no interlace
	var idat bytes.Buffer
	z := zlib.NewWriter(&idat)
	z.Write(make([]byte, 1+min(w, 1<<16))) // filter byte and one row
	z.Close()
	b := []byte("\x89PNG\r\n\x1a\n")
	b = pngChunk(b, "IHDR", ihdr)
	b = pngChunk(b, "IDAT", idat.Bytes())
	return pngChunk(b, "IEND", nil)
}

// pngChunk appends a PNG chunk of the given type and data to b.
func pngChunk(b []byte, typ string, data []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	start := len(b)
	b = append(append(b, typ...), data...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[start:]))
}

// TestDecodeHugeHeaderAllocatesNothing checks that a header claiming 2.5
// gigapixels is turned away before any pixel buffer is allocated.
func TestDecodeHugeHeaderAllocatesNothing(t *testing.T) {
	bomb := pngHeader(50000, 50000)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Decode(bytes.NewReader(bomb))
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("Decode = %v, want ErrTooLarge", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Errorf("Decode allocated %d bytes for a %d-byte file", n, len(bomb))
	}
}

// TestDecodeStopsReading feeds Decode an endless stream: it must stop one
// byte past MaxImageBytes and say the image is too large.
func TestDecodeStopsReading(t *testing.T) {
	r := &endless{}
	_, err := Decode(r)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "image larger than 10 MiB") {
		t.Fatalf("Decode = %v, want ErrTooLarge: image larger than 10 MiB", err)
	}
	if r.n > MaxImageBytes+1 {
		t.Errorf("read %d bytes, want at most %d", r.n, MaxImageBytes+1)
	}
}

// endless is a reader of a PNG signature followed by zeros, for ever.
type endless struct{ n int }

func (r *endless) Read(p []byte) (int, error) {
	clear(p)
	if r.n == 0 && len(p) >= 8 {
		copy(p, "\x89PNG\r\n\x1a\n")
	}
	r.n += len(p)
	return len(p), nil
}

// TestDecodeReadError checks that a failing reader's error reaches the
// caller, rather than being mistaken for a bad image.
func TestDecodeReadError(t *testing.T) {
	_, err := Decode(io.MultiReader(strings.NewReader("\x89PNG"), iotest.ErrReader(errBroken)))
	if !errors.Is(err, errBroken) || errors.Is(err, ErrNotImage) {
		t.Fatalf("Decode = %v, want errBroken", err)
	}
}

var errBroken = errors.New("connection reset")
