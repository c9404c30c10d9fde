package qr

import (
	"bytes"
	"errors"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// cardLabel is a label as the server prints it.
var cardLabel = Label{
	Text:    "https://pair.example.com/nb/0123456789abcdef0123456789abcdef",
	Product: "Water meter WM-3",
	Name:    "S/N WM3-0042117",
	Code:    "0J2P-6KYF-4XDV-ABCD-EFGH-JKMN-PQRS",
}

// cardCases are labels of every shape the server makes, and some it might.
func cardCases() map[string]struct {
	label         Label
	width, height int
} {
	long := cardLabel
	long.Product = strings.Repeat("Smart water meter with a very long name ", 3)
	long.Name = strings.Repeat("Küche – 温度計 ", 8)
	bare := Label{Text: cardLabel.Text}
	otherURL := cardLabel
	otherURL.Text = "http://localhost:8080/some/where/else/than/a/label/path"
	return map[string]struct {
		label         Label
		width, height int
	}{
		"default size":                      {label: cardLabel},
		"print size":                        {label: cardLabel, width: 1200},
		"small":                             {label: cardLabel, width: 300},
		"wide":                              {label: cardLabel, width: 800, height: 500},
		"long product and UTF-8 name":       {label: long},
		"code only":                         {label: bare},
		"URL without /nb/":                  {label: otherURL},
		"name without product, no code":     {label: Label{Text: cardLabel.Text, Name: "Boiler"}},
		"control characters in the texts":   {label: Label{Text: cardLabel.Text, Product: "a\x00b\nc", Name: "\x1b[31mred"}},
		"short code in one line (4 groups)": {label: Label{Text: cardLabel.Text, Code: "ABCD-EFGH-JKMN-PQRS"}},
	}
}

// TestLabelCardReads draws each label and reads its code back with this
// package's decoder, and checks that the card has text under its code and
// nothing outside its rectangle.
func TestLabelCardReads(t *testing.T) {
	for name, tc := range cardCases() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p, err := tc.label.EncodePNG(tc.width, tc.height)
			if err != nil {
				t.Fatal(err)
			}
			text, err := Decode(bytes.NewReader(p))
			if err != nil || text != tc.label.Text {
				t.Fatalf("the card's code reads %q, %v; want %q", text, err, tc.label.Text)
			}
			img, err := png.Decode(bytes.NewReader(p))
			if err != nil {
				t.Fatal(err)
			}
			g := toGray(img)
			if dark := darkPixels(g, textBand(g.Rect)); dark < 500 {
				t.Errorf("%d dark pixels under the code; where is the text?", dark)
			}
			// On a sheet with a margin, nothing is drawn outside the card.
			s := Sheet{Width: g.Rect.Dx() + 200, Height: g.Rect.Dy() + 200, Margin: 100, Columns: 1, Rows: 1}
			sheet := sheetImage(t, s, []Label{tc.label})
			inside := darkPixels(sheet, s.Cell(0))
			if all := darkPixels(sheet, sheet.Rect); all != inside {
				t.Errorf("%d dark pixels outside the card", all-inside)
			}
		})
	}
}

// TestZbarimgReadsLabelCard has ZBar, a decoder independent of ZXing, read
// every card: the text next to the code must not keep a scanner from it.
func TestZbarimgReadsLabelCard(t *testing.T) {
	zbar := requireTool(t, zbarimg, "zbar-tools")
	for name, tc := range cardCases() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p, err := tc.label.EncodePNG(tc.width, tc.height)
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(t.TempDir(), "label.png")
			if err := os.WriteFile(file, p, 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.CommandContext(t.Context(), zbar, "--raw", "-q", file).Output()
			if err != nil {
				t.Fatalf("%s --raw -q %s: %v", zbarimg, file, err)
			}
			if got := strings.TrimSuffix(string(out), "\n"); got != tc.label.Text {
				t.Errorf("zbarimg read %q, want %q", got, tc.label.Text)
			}
		})
	}
}

func TestLabelCardRejects(t *testing.T) {
	tests := map[string]struct {
		label         Label
		width, height int
		err           error
	}{
		"no text":        {label: Label{Product: "x"}, err: ErrEmptyText},
		"text too long":  {label: Label{Text: strings.Repeat("x", MaxTextLen+1)}, err: ErrTextTooLong},
		"too small":      {label: cardLabel, width: 60, err: ErrBadSize},
		"too large":      {label: cardLabel, width: MaxSize + 1, err: ErrBadSize},
		"far too flat":   {label: cardLabel, width: 472, height: 80, err: ErrBadSize},
		"code too large": {label: Label{Text: strings.Repeat("x", MaxTextLen)}, width: 120, err: ErrBadSize},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := tc.label.EncodePNG(tc.width, tc.height)
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
		})
	}
}

// The longest product and name are cut with an ellipsis, so a label's
// text is bounded whatever the device's name.
func TestClip(t *testing.T) {
	long := strings.Repeat("é", 1000)
	if got := []rune(clip(long)); len(got) != MaxLabelLine || got[len(got)-1] != '…' {
		t.Errorf("clip of 1000 runes: %d runes ending %q", len(got), got[len(got)-1])
	}
	if got := clip("a\x00b\tc\x7f"); got != "abc" {
		t.Errorf("clip of control characters: %q", got)
	}
	if got := splitCode("0J2P-6KYF-4XDV-ABCD-EFGH-JKMN-PQRS"); len(got) != 2 || got[0] != "0J2P-6KYF-4XDV-ABCD" || got[1] != "EFGH-JKMN-PQRS" {
		t.Errorf("splitCode: %q", got)
	}
}
