package qr

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"testing"
)

// The helpers below make the distorted label images of the decode tests
// out of EncodePNG's output, using the standard library only. Every one
// returns a new *image.Gray; the random ones are seeded so every run sees
// the same pixels.

// labelImage returns EncodePNG(text, size) decoded into grey levels.
func labelImage(t testing.TB, text string, size int) *image.Gray {
	t.Helper()
	p, err := EncodePNG(text, size)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(p))
	if err != nil {
		t.Fatal(err)
	}
	return toGray(img)
}

// toGray copies img into a grey image at origin (0, 0).
func toGray(img image.Image) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, img.Bounds().Dx(), img.Bounds().Dy()))
	draw.Draw(g, g.Rect, img, img.Bounds().Min, draw.Src)
	return g
}

// mapPixels returns a w×h image whose pixel (x, y) is f(x, y).
func mapPixels(w, h int, f func(x, y int) uint8) *image.Gray {
	out := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			out.Pix[y*w+x] = f(x, y)
		}
	}
	return out
}

// scaleUp enlarges g k times, nearest neighbour.
func scaleUp(g *image.Gray, k int) *image.Gray {
	return mapPixels(g.Rect.Dx()*k, g.Rect.Dy()*k, func(x, y int) uint8 { return g.GrayAt(x/k, y/k).Y })
}

// rotate90 turns g a quarter turn clockwise.
func rotate90(g *image.Gray) *image.Gray {
	h := g.Rect.Dy()
	return mapPixels(h, g.Rect.Dx(), func(x, y int) uint8 { return g.GrayAt(y, h-1-x).Y })
}

// rotate turns g by deg degrees about its centre, bilinear, onto a canvas
// large enough to hold it; the corners are filled white.
func rotate(g *image.Gray, deg float64) *image.Gray {
	w, h := float64(g.Rect.Dx()), float64(g.Rect.Dy())
	sin, cos := math.Sincos(deg * math.Pi / 180)
	side := int(math.Ceil(math.Abs(w*cos) + math.Abs(h*sin)))
	c := float64(side) / 2
	return mapPixels(side, side, func(x, y int) uint8 {
		dx, dy := float64(x)-c, float64(y)-c
		return bilinear(g, dx*cos+dy*sin+w/2, -dx*sin+dy*cos+h/2)
	})
}

// bilinear samples g at (fx, fy); outside g it is white.
func bilinear(g *image.Gray, fx, fy float64) uint8 {
	at := func(x, y int) float64 {
		if !(image.Point{x, y}.In(g.Rect)) {
			return 255
		}
		return float64(g.GrayAt(x, y).Y)
	}
	x0, y0 := math.Floor(fx-0.5), math.Floor(fy-0.5)
	ax, ay := fx-0.5-x0, fy-0.5-y0
	x, y := int(x0), int(y0)
	v := (at(x, y)*(1-ax)+at(x+1, y)*ax)*(1-ay) + (at(x, y+1)*(1-ax)+at(x+1, y+1)*ax)*ay
	return uint8(math.Round(v))
}

// blur averages every pixel with its neighbours within radius r: a box
// blur, applied across then down.
func blur(g *image.Gray, r int) *image.Gray {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	across := mapPixels(w, h, func(x, y int) uint8 {
		return mean(g.Pix[y*w+max(0, x-r):y*w+min(w-1, x+r)+1], 1)
	})
	return mapPixels(w, h, func(x, y int) uint8 {
		return mean(across.Pix[max(0, y-r)*w+x:min(h-1, y+r)*w+x+1], w)
	})
}

// mean is the mean of every step-th value of p, starting with the first.
func mean(p []uint8, step int) uint8 {
	var sum, n int
	for i := 0; i < len(p); i += step {
		sum += int(p[i])
		n++
	}
	return uint8(sum / n)
}

// noise adds Gaussian noise of standard deviation sigma grey levels.
func noise(g *image.Gray, sigma float64, seed uint64) *image.Gray {
	rnd := rand.New(rand.NewPCG(seed, 1))
	return mapPixels(g.Rect.Dx(), g.Rect.Dy(), func(x, y int) uint8 {
		return clamp(float64(g.GrayAt(x, y).Y) + rnd.NormFloat64()*sigma)
	})
}

// saltAndPepper sets a fraction p of the pixels to black or white.
func saltAndPepper(g *image.Gray, p float64, seed uint64) *image.Gray {
	rnd := rand.New(rand.NewPCG(seed, 2))
	return mapPixels(g.Rect.Dx(), g.Rect.Dy(), func(x, y int) uint8 {
		switch r := rnd.Float64(); {
		case r < p/2:
			return 0
		case r < p:
			return 255
		}
		return g.GrayAt(x, y).Y
	})
}

// levels maps black to lo and white to hi: lo 90, hi 170 is a faded print
// under dim light.
func levels(g *image.Gray, lo, hi float64) *image.Gray {
	return mapPixels(g.Rect.Dx(), g.Rect.Dy(), func(x, y int) uint8 {
		return clamp(lo + float64(g.GrayAt(x, y).Y)/255*(hi-lo))
	})
}

// shade darkens g from full brightness on the left to a fraction f of it
// on the right, as a lamp to one side does.
func shade(g *image.Gray, f float64) *image.Gray {
	w := float64(g.Rect.Dx())
	return mapPixels(g.Rect.Dx(), g.Rect.Dy(), func(x, y int) uint8 {
		return clamp(float64(g.GrayAt(x, y).Y) * (1 - (1-f)*float64(x)/w))
	})
}

// blot paints a black square of side s at (x, y): a scratch or a sticker.
func blot(g *image.Gray, x, y, s int) *image.Gray {
	out := toGray(g)
	draw.Draw(out, image.Rect(x, y, x+s, y+s), image.Black, image.Point{}, draw.Src)
	return out
}

// invert swaps dark and light.
func invert(g *image.Gray) *image.Gray {
	return mapPixels(g.Rect.Dx(), g.Rect.Dy(), func(x, y int) uint8 { return 255 - g.GrayAt(x, y).Y })
}

// inPhoto places g at (x, y) on a w×h mid-grey, noisy canvas, as a label
// on a device in a phone photo.
func inPhoto(g *image.Gray, w, h, x, y int) *image.Gray {
	out := image.NewGray(image.Rect(0, 0, w, h))
	draw.Draw(out, out.Rect, &image.Uniform{color.Gray{100}}, image.Point{}, draw.Src)
	draw.Draw(out, g.Rect.Add(image.Pt(x, y)), g, image.Point{}, draw.Src)
	return noise(out, 12, 7)
}

func clamp(v float64) uint8 {
	return uint8(math.Round(max(0, min(255, v))))
}

// Encoders of the distorted images into the bytes Decode reads.

func encodeJPEG(t testing.TB, img image.Image, quality int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: quality}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeGIF(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := gif.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// transparent returns g as black ink on a transparent background, light
// pixels fully transparent (and black, as image editors store them).
func transparent(g *image.Gray) *image.NRGBA {
	out := image.NewNRGBA(g.Rect)
	for i, p := range g.Pix {
		out.Pix[4*i+3] = 255 - p
	}
	return out
}

// deep returns g as a 16-bit RGBA image, which no fast path of luminance
// handles.
func deep(g *image.Gray) *image.RGBA64 {
	out := image.NewRGBA64(g.Rect)
	draw.Draw(out, out.Rect, g, image.Point{}, draw.Src)
	return out
}
