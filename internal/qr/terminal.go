package qr

import "strings"

// Terminal returns the QR code for text drawn with Unicode half blocks
// (▀ ▄ █ and space), two rows of modules to a line of text, with a quiet
// zone of QuietZone modules; every line ends in a newline.
//
// It is meant for the usual terminal with light text on a dark background:
// the glyphs, drawn in the text colour, are the code's light modules and
// its quiet zone, and the dark background shows through as the dark
// modules. So the code appears dark on light, as scanners expect, even
// though the terminal is dark. On a terminal with dark text on a light
// background use TerminalForLightBackground.
func Terminal(text string) (string, error) {
	return terminal(text, false)
}

// TerminalForLightBackground is Terminal for terminals with dark text on a
// light background: its glyphs are the dark modules, and the background
// shows through as the light modules and quiet zone.
func TerminalForLightBackground(text string) (string, error) {
	return terminal(text, true)
}

// halfBlocks maps (top, bottom) glyph halves to the character drawing them.
var halfBlocks = [2][2]string{
	{" ", "▄"}, // top half blank: nothing, bottom half
	{"▀", "█"}, // top half drawn: top half, both halves
}

// terminal draws text's code; glyphsDark says whether a drawn half is a
// dark module (true) or a light one (false).
func terminal(text string, glyphsDark bool) (string, error) {
	m, err := modules(text)
	if err != nil {
		return "", err
	}
	n := len(m) + 2*QuietZone
	// dark reports whether the module at (x, y) of the code with its quiet
	// zone is dark; the row past the bottom, which pads the
	// odd n to whole lines, is quiet zone too.
	dark := func(x, y int) bool {
		x, y = x-QuietZone, y-QuietZone
		return y >= 0 && y < len(m) && x >= 0 && x < len(m) && m[y][x]
	}
	var b strings.Builder
	for y := 0; y < n; y += 2 {
		for x := range n {
			top := dark(x, y) == glyphsDark
			bottom := dark(x, y+1) == glyphsDark
			b.WriteString(halfBlocks[b2i(top)][b2i(bottom)])
		}
		b.WriteByte('\n')
	}
	return b.String(), nil
}

// b2i is 1 for true and 0 for false.
func b2i(v bool) int {
	if v {
		return 1
	}
	return 0
}
