package qr

import (
	"image"
	"image/color"
)

// luminance returns img as 8-bit grey levels: a JPEG's own luma, else
// (R+2G+B)/4 as ZXing computes it, composited over white so that a
// transparent background reads as light. The result's Stride equals its
// width and its origin is (0, 0).
func luminance(img image.Image) *image.Gray {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	g := image.NewGray(image.Rect(0, 0, w, h))
	row := rowReader(img)
	for y := range h {
		row(g.Pix[y*w:(y+1)*w], b.Min.X, b.Min.Y+y)
	}
	return g
}

// rowReader returns a function that fills out with the grey levels of the
// len(out) pixels of img's row y from x0 on. The common decoder outputs
// (JPEG's YCbCr, PNG's grey, NRGBA and palette images) are read directly
// rather than pixel by pixel through At.
func rowReader(img image.Image) func(out []byte, x0, y int) {
	switch src := img.(type) {
	case *image.YCbCr:
		return func(out []byte, x0, y int) { copy(out, src.Y[src.YOffset(x0, y):]) }
	case *image.Gray:
		return func(out []byte, x0, y int) { copy(out, src.Pix[src.PixOffset(x0, y):]) }
	case *image.Paletted:
		lut := paletteLuminance(src.Palette)
		return func(out []byte, x0, y int) {
			for x, p := range src.Pix[src.PixOffset(x0, y):][:len(out)] {
				out[x] = lut[p]
			}
		}
	case *image.NRGBA:
		return func(out []byte, x0, y int) { nrgbaRow(out, src.Pix[src.PixOffset(x0, y):]) }
	}
	return func(out []byte, x0, y int) {
		for x := range out {
			out[x] = lum(img.At(x0+x, y))
		}
	}
}

// nrgbaRow converts one row of non-premultiplied RGBA pixels.
func nrgbaRow(out, pix []byte) {
	for x := range out {
		p := pix[4*x : 4*x+4 : 4*x+4]
		l := (uint32(p[0]) + 2*uint32(p[1]) + uint32(p[2])) / 4
		a := uint32(p[3])
		out[x] = byte((l*a + 255*(255-a)) / 255)
	}
}

// paletteLuminance returns the grey level of every palette index; indexes
// past the palette's end (which a corrupt image may hold) read as black.
func paletteLuminance(p color.Palette) *[256]byte {
	var lut [256]byte
	for i, c := range p {
		if i < len(lut) {
			lut[i] = lum(c)
		}
	}
	return &lut
}

// lum is the grey level of c over white.
func lum(c color.Color) byte {
	r, g, b, a := c.RGBA() // premultiplied, 16 bits
	l := (r+2*g+b)/4 + (0xffff - a)
	return byte(l >> 8)
}

// downscale returns g shrunk by the smallest whole factor that brings its
// longer side to at most side pixels, each output pixel the mean of a
// factor×factor block. It returns g itself when it is small enough, or
// too narrow to shrink.
func downscale(g *image.Gray, side int) *image.Gray {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	k := (max(w, h) + side - 1) / max(side, 1)
	if k <= 1 || w/k == 0 || h/k == 0 {
		return g
	}
	out := image.NewGray(image.Rect(0, 0, w/k, h/k))
	for y := range h / k {
		for x := range w / k {
			var sum int
			for dy := range k {
				row := g.Pix[(y*k+dy)*w+x*k:]
				for _, p := range row[:k] {
					sum += int(p)
				}
			}
			out.Pix[y*(w/k)+x] = byte(sum / (k * k))
		}
	}
	return out
}

// median3 returns g with every pixel replaced by the median of its 3×3
// neighbourhood (edges repeat), which removes speckles, the salt and
// pepper of a dirty label or a grainy photo, yet keeps module edges sharp.
func median3(g *image.Gray) *image.Gray {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	out := image.NewGray(g.Rect)
	var win [9]byte
	for y := range h {
		for x := range w {
			i := 0
			for dy := -1; dy <= 1; dy++ {
				row := min(max(y+dy, 0), h-1) * w
				for dx := -1; dx <= 1; dx++ {
					win[i] = g.Pix[row+min(max(x+dx, 0), w-1)]
					i++
				}
			}
			out.Pix[y*w+x] = median9(&win)
		}
	}
	return out
}

// median9 returns the median of the nine values, partially sorting them.
func median9(v *[9]byte) byte {
	for i := range 5 {
		m := i
		for j := i + 1; j < 9; j++ {
			if v[j] < v[m] {
				m = j
			}
		}
		v[i], v[m] = v[m], v[i]
	}
	return v[4]
}

// stretch returns g with its grey levels spread over 0–255: the darkest
// and lightest 1% of pixels go to black and white, the rest linearly in
// between. ZXing's local threshold ignores blocks with less than 24 levels
// of contrast, so a faded label in dim light needs this.
func stretch(g *image.Gray) *image.Gray {
	var hist [256]int
	for _, p := range g.Pix {
		hist[p]++
	}
	lo, hi := percentile(&hist, len(g.Pix)/100), percentile(&hist, len(g.Pix)-len(g.Pix)/100)
	out := image.NewGray(g.Rect)
	if hi <= lo {
		copy(out.Pix, g.Pix)
		return out
	}
	for i, p := range g.Pix {
		v := (int(p) - lo) * 255 / (hi - lo)
		out.Pix[i] = byte(min(max(v, 0), 255))
	}
	return out
}

// percentile returns the grey level below which n pixels of hist lie.
func percentile(hist *[256]int, n int) int {
	sum := 0
	for v, c := range hist {
		sum += c
		if sum > n {
			return v
		}
	}
	return 255
}
