package qr

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nbpair/nbpair/internal/testkit"
)

// ocrLabel is cardLabel with no line of text starting or ending with a
// zero, and no zero in the short code: Tesseract reads the Go fonts' zero
// at either end of a line as Q, ® or d, and Go Mono Bold's dotted zero as
// @ (a person does neither), while the other zeros it reads right.
var ocrLabel = Label{
	Text:    "https://pair.example.com/nb/7a23456789abcdef0123456789abcdef",
	Product: cardLabel.Product,
	Name:    cardLabel.Name,
	Code:    "7J2P-6KYF-4XDV-ABCD-EFGH-JKMN-PQRS",
}

// TestTesseractReadsLabelText has Tesseract, an OCR engine (Debian package
// tesseract-ocr), read the text of a card back: the product, the device,
// the short code and the URL must each be read as printed, so a person can
// type them.
func TestTesseractReadsLabelText(t *testing.T) {
	testkit.Long(t, "Tesseract reads the text of every card")
	tess := requireTool(t, "tesseract", "tesseract-ocr")
	for name, width := range map[string]int{"default size (40 mm at 300 dpi)": 0, "print size": 1200} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p, err := ocrLabel.EncodePNG(width, 0)
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(bytes.NewReader(p))
			if err != nil {
				t.Fatal(err)
			}
			// Only the text: the code's modules read as noise.
			g := toGray(img)
			band := toGray(g.SubImage(image.Rect(0, g.Rect.Dy()*55/100, g.Rect.Dx(), g.Rect.Dy())))
			file := filepath.Join(t.TempDir(), "text.png")
			if err := os.WriteFile(file, encodePNG(t, band), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.CommandContext(t.Context(), tess, file, "-", "--psm", "6").Output()
			if err != nil {
				t.Fatalf("tesseract: %v", err)
			}
			read := normalizeOCR(string(out))
			code := strings.Split(ocrLabel.Code, "-")
			base, id, _ := strings.Cut(ocrLabel.Text, "/nb/")
			for _, want := range []string{ocrLabel.Product, ocrLabel.Name,
				strings.Join(code[:4], "-"), strings.Join(code[4:], "-"), base + "/nb/", id} {
				if !strings.Contains(read, want) {
					t.Errorf("tesseract did not read %q in:\n%s", want, out)
				}
			}
		})
	}
}

// normalizeOCR undoes what OCR makes of dashes: long ones, doubled, or
// with a space before the next group.
func normalizeOCR(s string) string {
	s = strings.NewReplacer("—", "-", "–", "-", "- ", "-", " -", "-").Replace(s)
	for strings.Contains(s, "--") {
		s = strings.ReplaceAll(s, "--", "-")
	}
	return s
}
