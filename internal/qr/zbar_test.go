package qr

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// zbarimg is the command-line reader of ZBar, a QR decoder independent of
// ZXing (Debian package zbar-tools).
const zbarimg = "zbarimg"

// requireTool returns the path of an external program the test needs. It
// skips the test when the program is missing, except in CI (CI=true), where
// a missing tool must fail rather than quietly test nothing.
func requireTool(t *testing.T, name, debianPackage string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	msg := fmt.Sprintf("%s is not installed (%v); on Debian/Ubuntu: apt-get install %s", name, err, debianPackage)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// TestZbarimgReadsEncodePNG checks that EncodePNG's labels are standard
// QR codes, not merely codes gozxing can read back.
func TestZbarimgReadsEncodePNG(t *testing.T) {
	zbar := requireTool(t, zbarimg, "zbar-tools")
	tests := map[string]struct {
		text string
		size int
	}{
		"label URL":              {text: labelURL},
		"label URL, print size":  {text: labelURL, size: 1200},
		"label URL, 2 px/module": {text: labelURL, size: 2 * labelSide},
		"300 characters":         {text: strings.Repeat("nbpair-300/", 28)[:300]},
		"512 bytes":              {text: strings.Repeat("0123456789abcdef", 32), size: 800},
		"UTF-8 device name":      {text: "Gerät Küche – 温度計 #1"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p, err := EncodePNG(tc.text, tc.size)
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
			// zbarimg ends each symbol's text with a newline.
			if got := strings.TrimSuffix(string(out), "\n"); got != tc.text {
				t.Errorf("zbarimg read %q, want %q", got, tc.text)
			}
		})
	}
}
