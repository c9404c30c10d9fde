package main

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nbpair/nbpair/internal/qr"
	"github.com/nbpair/nbpair/internal/testkit"
)

// The factory's day on the command line: import a CSV, import it again,
// export the keys, print the labels.
func TestBatchCommands(t *testing.T) {
	testkit.Long(t, "the CLI against a served binary, many commands")
	dir := t.TempDir()
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp"))
	coapAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t, "udp"))
	coapsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t, "udp"))
	start(t, "serve", "--data-dir", dir, "--http-addr", httpAddr, "--coap-addr", coapAddr, "--coaps-addr", coapsAddr)
	waitHealthy(t, "http://"+httpAddr)
	admin := []string{"--server", "http://" + httpAddr, "--token-file", filepath.Join(dir, "admin.token")}
	work := t.TempDir()
	file := filepath.Join(work, "batch.csv")
	writeFile(t, file, []byte("imei,serial\r\n868000000000101,SN-101\r\n868000000000102,SN-102\r\n"))

	out := runCLI(t, append(append([]string{"batch", "import"}, admin...), file)...)
	id := regexp.MustCompile(`batch\s+(bat_\w+) \(new\)`).FindStringSubmatch(out)
	if id == nil || !regexp.MustCompile(`devices\s+2 \(2 created, 0 existing\)`).MatchString(out) {
		t.Fatalf("batch import printed:\n%s", out)
	}
	out = runCLI(t, append(append([]string{"batch", "import"}, admin...), file)...)
	if !strings.Contains(out, id[1]+" (imported before") {
		t.Fatalf("the second import printed:\n%s", out)
	}
	if out := runCLI(t, append([]string{"batch", "list"}, admin...)...); !strings.Contains(out, id[1]) {
		t.Errorf("batch list printed:\n%s", out)
	}

	factory := filepath.Join(work, "factory.csv")
	runCLI(t, append([]string{"batch", "export", id[1], "-o", factory}, admin...)...)
	info, err := os.Stat(factory)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("factory CSV: %v, mode %v", err, info.Mode())
	}
	data, _ := os.ReadFile(factory)
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil || len(recs) != 3 || recs[1][0] != "868000000000101" || recs[2][1] != "SN-102" || len(recs[1][3]) != 32 {
		t.Fatalf("factory CSV %q: %v", recs, err)
	}

	sheet := filepath.Join(work, "sheet.png")
	runCLI(t, append([]string{"batch", "labels", id[1], "-o", sheet}, admin...)...)
	f, err := os.Open(sheet)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	r := qr.A4.Cell(1)
	cell := image.NewGray(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(cell, cell.Rect, img, r.Min, draw.Src)
	var b bytes.Buffer
	png.Encode(&b, cell)
	if text, err := qr.Decode(&b); err != nil || text != recs[2][6] {
		t.Errorf("the second label reads %q, %v; want %q", text, err, recs[2][6])
	}

	writeFile(t, file, []byte("imei\n868000000000103\n12345\n"))
	bad, err := exec.Command(binary, append(append([]string{"batch", "import"}, admin...), file)...).CombinedOutput()
	if err == nil || !strings.Contains(string(bad), `CSVRowInvalid (4201): line 3: imei "12345" is not 15 digits`) {
		t.Errorf("importing a bad CSV: %v\n%s", err, bad)
	}
}
