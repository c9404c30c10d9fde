package qr

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nbpair/nbpair/internal/testkit"
)

// sheetLabels returns n labels of distinct pairing URLs and serials.
func sheetLabels(n int) []Label {
	out := make([]Label, n)
	for i := range out {
		out[i] = Label{Text: fmt.Sprintf("https://pair.example.com/nb/%032x", i+1), Product: "Water meter WM-3",
			Name: fmt.Sprintf("S/N WM3-%07d", i+1), Code: "0J2P-6KYF-4XDV-ABCD-EFGH-JKMN-PQRS"}
	}
	return out
}

// sheetImage draws labels on s and decodes the PNG into grey levels.
func sheetImage(t *testing.T, s Sheet, labels []Label) *image.Gray {
	t.Helper()
	p, err := s.EncodePNG(labels)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(p))
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Dx() != s.Width || img.Bounds().Dy() != s.Height {
		t.Fatalf("sheet is %v, want %d×%d", img.Bounds(), s.Width, s.Height)
	}
	return toGray(img)
}

// decodeCell crops the i-th cell of the sheet and reads its code.
func decodeCell(t *testing.T, g *image.Gray, s Sheet, i int) string {
	t.Helper()
	cell := toGray(g.SubImage(s.Cell(i)))
	text, err := Decode(bytes.NewReader(encodePNG(t, cell)))
	if err != nil {
		t.Fatalf("cell %d: %v", i, err)
	}
	return text
}

func TestSheetA4(t *testing.T) {
	labels := sheetLabels(A4.PerPage())
	g := sheetImage(t, A4, labels)
	for _, i := range []int{0, 1, A4.Columns, A4.PerPage() / 2, A4.PerPage() - 1} {
		if got := decodeCell(t, g, A4, i); got != labels[i].Text {
			t.Errorf("cell %d reads %q, want %q", i, got, labels[i].Text)
		}
		if dark := darkPixels(g, textBand(A4.Cell(i))); dark < 1000 {
			t.Errorf("cell %d has %d dark pixels under its code; where is its text?", i, dark)
		}
	}
}

func TestSheetPartialPage(t *testing.T) {
	s := Sheet{Width: 900, Height: 500, Margin: 10, Columns: 3, Rows: 1}
	labels := sheetLabels(2)
	g := sheetImage(t, s, labels)
	for i, l := range labels {
		if got := decodeCell(t, g, s, i); got != l.Text {
			t.Errorf("cell %d reads %q", i, got)
		}
	}
	if dark := darkPixels(g, s.Cell(2)); dark != 0 {
		t.Errorf("the empty third cell has %d dark pixels", dark)
	}
	if dark := darkPixels(g, image.Rect(0, 0, s.Width, s.Margin)); dark != 0 {
		t.Errorf("the margin has %d dark pixels", dark)
	}
}

func TestSheetRejects(t *testing.T) {
	tests := map[string]struct {
		sheet  Sheet
		labels []Label
		err    error
	}{
		"too many labels": {sheet: Sheet{Width: 400, Height: 400, Columns: 1, Rows: 1}, labels: sheetLabels(2)},
		"no columns":      {sheet: Sheet{Width: 400, Height: 400, Rows: 1}, labels: sheetLabels(1), err: ErrBadSize},
		"cells too small": {sheet: Sheet{Width: 400, Height: 400, Columns: 20, Rows: 20}, labels: sheetLabels(1), err: ErrBadSize},
		"huge sheet":      {sheet: Sheet{Width: 100000, Height: 100000, Columns: 1, Rows: 1}, labels: sheetLabels(1), err: ErrBadSize},
		"empty text":      {sheet: A4, labels: []Label{{Product: "1"}}, err: ErrEmptyText},
		"text too long":   {sheet: A4, labels: []Label{{Text: strings.Repeat("x", MaxTextLen+1)}}, err: ErrTextTooLong},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := tc.sheet.EncodePNG(tc.labels)
			if err == nil || tc.err != nil && !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
		})
	}
}

// TestZbarimgReadsSheet has ZBar, a decoder independent of ZXing, find
// every code on a whole A4 sheet at once, as a scanner at the factory would.
func TestZbarimgReadsSheet(t *testing.T) {
	testkit.Long(t, "zbarimg reads an A4 sheet of 35 labels")
	zbar := requireTool(t, zbarimg, "zbar-tools")
	labels := sheetLabels(A4.PerPage())
	p, err := A4.EncodePNG(labels)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "sheet.png")
	if err := os.WriteFile(file, p, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), zbar, "--raw", "-q", file).Output()
	if err != nil {
		t.Fatalf("%s --raw -q %s: %v", zbarimg, file, err)
	}
	got := strings.Fields(string(out))
	var want []string
	for _, l := range labels {
		want = append(want, l.Text)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("zbarimg read %d codes:\n%s\nwant the %d of the sheet", len(got), out, len(want))
	}
}

func darkPixels(g *image.Gray, r image.Rectangle) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if g.GrayAt(x, y).Y < 128 {
				n++
			}
		}
	}
	return n
}

// textBand is the lower part of a label's card, where its text is.
func textBand(cell image.Rectangle) image.Rectangle {
	return image.Rect(cell.Min.X, cell.Min.Y+cell.Dy()*60/100, cell.Max.X, cell.Max.Y)
}
