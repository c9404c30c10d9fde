package qr

import (
	"fmt"
	"image"
	"strings"
	"sync"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

// scanSide is the longest side, in pixels, of the downscaled copy scan
// retries on. A label photo seldom needs more than 1000 pixels for its
// code, and averaging blocks of pixels removes sensor noise and JPEG
// artefacts that a per-block threshold would otherwise see as modules.
const scanSide = 1000

// hints are the decode hints of every attempt. Labels are written as UTF-8
// without an ECI header; saying so keeps ZXing from guessing Shift_JIS for
// short non-ASCII texts.
var hints = map[gozxing.DecodeHintType]any{
	gozxing.DecodeHintType_TRY_HARDER:    true,
	gozxing.DecodeHintType_CHARACTER_SET: "UTF-8",
}

// attempt is one way of looking for the code: an image made from the
// original on demand, and a binarizer.
type attempt struct {
	name   string
	img    func() *image.Gray
	global bool // GlobalHistogramBinarizer instead of HybridBinarizer
	invert bool // look for light modules on dark
}

// attempts lists the ways scan tries, cheapest and most common first. Each
// later one cleans up what defeated the earlier ones, as found with the
// distorted labels of the tests: speckles (median), heavy noise (halving
// then median), faded print (stretched contrast), a negative (inverted).
func attempts(g *image.Gray) []attempt {
	small := sync.OnceValue(func() *image.Gray { return downscale(g, scanSide) })
	med := sync.OnceValue(func() *image.Gray { return median3(small()) })
	halfMed := sync.OnceValue(func() *image.Gray {
		s := small()
		return median3(downscale(s, (max(s.Rect.Dx(), s.Rect.Dy())+1)/2))
	})
	// A large photo is mostly background: look at a downscaled copy first,
	// which is cheaper and averages out the sensor's noise.
	list := []attempt{{name: "as is", img: func() *image.Gray { return g }}}
	if small() != g {
		list = []attempt{{name: "downscaled", img: small}, list[0]}
	}
	return append(list,
		attempt{name: "global threshold", img: small, global: true},
		attempt{name: "median", img: med},
		attempt{name: "median, global threshold", img: med, global: true},
		attempt{name: "halved, median", img: halfMed},
		attempt{name: "halved, median, stretched", img: func() *image.Gray { return stretch(halfMed()) }},
		attempt{name: "inverted", img: small, invert: true},
	)
}

// scan looks for a QR code in g, trying ever more forgiving attempts until
// one reads it. The error says why the first attempt failed: the later
// ones fail in ways that tell less about the image.
func scan(g *image.Gray) (string, error) {
	var first error
	for _, a := range attempts(g) {
		text, err := read(a)
		if err == nil {
			return text, nil
		}
		if first == nil {
			first = err
		}
	}
	return "", fmt.Errorf("%w (%v)", ErrNoCode, first)
}

// read runs one attempt.
func read(a attempt) (string, error) {
	src := source(a.img())
	if a.invert {
		src = gozxing.NewInvertedLuminanceSource(src)
	}
	text, err := zxing(src, a.global)
	switch {
	case err != nil:
		return "", fmt.Errorf("%s: %w", a.name, err)
	case text == "":
		return "", fmt.Errorf("%s: the code holds no text", a.name)
	}
	// Byte segments are read as UTF-8, and gozxing replaces what is not;
	// make sure of it, since callers put the text in JSON and HTML.
	return strings.ToValidUTF8(text, "\uFFFD"), nil
}

// zxing binarizes src and reads a QR code in it. gozxing is a port of Java
// code that signals failure with exceptions; any panic it raises on odd
// input is turned into an error, so that no upload can bring the server
// down. (Only gozxing's calls are guarded, so that the fuzz tests still
// catch a panic in this package's own image code.)
func zxing(src gozxing.LuminanceSource, global bool) (text string, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("decoder panic: %v", p)
		}
	}()
	bin := gozxing.NewHybridBinarizer(src)
	if global {
		bin = gozxing.NewGlobalHistgramBinarizer(src)
	}
	bmp, err := gozxing.NewBinaryBitmap(bin)
	if err != nil {
		return "", err
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, hints)
	if err != nil {
		return "", err
	}
	return res.GetText(), nil
}

// source wraps g, whose Stride must equal its width, for gozxing without
// copying its pixels.
func source(g *image.Gray) gozxing.LuminanceSource {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	src, err := gozxing.NewPlanarYUVLuminanceSource(g.Pix, w, h, 0, 0, w, h, false)
	if err != nil {
		panic(err) // unreachable: the crop is the whole image
	}
	return src
}
