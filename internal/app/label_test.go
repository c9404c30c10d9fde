package app_test

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/pairing"
	"github.com/nbpair/nbpair/internal/qr"
)

// A device's label from the real server: its QR code reads back (with
// nbpair's decoder and with ZBar's zbarimg), and the short code printed
// under it pairs the same device when typed, in lower case, as parse
// answers for the label's URL.
func TestDeviceLabelCard(t *testing.T) {
	n := apptest.Start(t, "", apptest.QuietLogs)
	if code := n.API(t, "POST", "/v1/admin/products", map[string]any{"id": "wm3", "name": "Water meter WM-3"}, nil); code != http.StatusCreated {
		t.Fatalf("create product: HTTP %d", code)
	}
	var d apptest.Provisioned
	body := map[string]string{"imei": apptest.IMEI(300), "productId": "wm3", "name": "Cellar meter"}
	if code := n.API(t, "POST", "/v1/admin/devices", body, &d); code != http.StatusCreated {
		t.Fatalf("provision: HTTP %d", code)
	}
	status, h, png := adminSend(t, n, "GET", "/v1/admin/devices/"+d.IMEI+"/label.png", "", nil)
	if status != http.StatusOK || h.Get("Content-Type") != "image/png" || !strings.Contains(h.Get("Content-Disposition"), d.ID) {
		t.Fatalf("label.png: HTTP %d %v: %.200s", status, h, png)
	}
	if text, err := qr.Decode(bytes.NewReader(png)); err != nil || text != d.QR {
		t.Errorf("the label's code reads %q, %v; want %q", text, err, d.QR)
	}
	zbar, err := exec.LookPath("zbarimg")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("zbarimg is not installed; on Debian/Ubuntu: apt-get install zbar-tools")
		}
		t.Log("zbarimg is not installed (apt-get install zbar-tools): the label is read by nbpair's decoder only")
	} else {
		file := filepath.Join(t.TempDir(), "label.png")
		os.WriteFile(file, png, 0o600)
		out, err := exec.CommandContext(t.Context(), zbar, "--raw", "-q", file).Output()
		if err != nil || strings.TrimSpace(string(out)) != d.QR {
			t.Errorf("zbarimg read %q, %v; want %q", out, err, d.QR)
		}
	}

	u := signUp(t, n, "alice")
	var scan struct {
		ActionData struct{ ID, ProductName, Name string }
	}
	typed := strings.ToLower(pairing.ShortCode(d.NbID))
	if code := n.Call(t, u.token, "POST", "/v1/qrcode:parse", map[string]string{"code": typed}, &scan); code != http.StatusOK ||
		scan.ActionData.ID != d.NbID || scan.ActionData.ProductName != "Water meter WM-3" {
		t.Errorf("parse of the typed short code %q: HTTP %d, %+v", typed, code, scan.ActionData)
	}
	var e apiErr
	n.Call(t, u.token, "POST", "/v1/qrcode:parse", map[string]string{"code": d.IMEI}, &e)
	if e.Code != 4104 || !strings.Contains(e.Message, "type the code under the QR, not the IMEI") {
		t.Errorf("parse of the IMEI: %+v", e)
	}
}
