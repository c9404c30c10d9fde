package app_test

import (
	"bytes"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"io"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/qr"
	"github.com/nbpair/nbpair/internal/testkit"
)

// batchView is a batch as the admin API answers it.
type batchView struct {
	ID                         string
	ProductID                  string
	CreatedAt                  time.Time
	Devices, Created, Existing int
}

// csvOf returns a batch CSV of the IMEIs numbered ns (apptest.IMEI), each
// with the serial SN-<n>.
func csvOf(ns ...int) string {
	var b strings.Builder
	b.WriteString("imei,serial\n")
	for _, n := range ns {
		fmt.Fprintf(&b, "%s,SN-%d\n", apptest.IMEI(n), n)
	}
	return b.String()
}

func seq(from, to int) []int {
	var out []int
	for n := from; n <= to; n++ {
		out = append(out, n)
	}
	return out
}

// adminSend calls the admin API with a raw body and returns the status, the
// headers and the body of the answer.
func adminSend(t *testing.T, n *apptest.Node, method, path, contentType string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+n.HTTPAddr()+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+n.Token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// importBatch posts a batch CSV and requires the status want; it decodes
// the answer into a batch or, for an error, an apiErr.
func importBatch(t *testing.T, n *apptest.Node, product, body string, want int) (batchView, apiErr) {
	t.Helper()
	path := "/v1/admin/batches"
	if product != "" {
		path += "?productId=" + product
	}
	status, _, b := adminSend(t, n, "POST", path, "text/csv", []byte(body))
	if status != want {
		t.Fatalf("import: HTTP %d, want %d: %s", status, want, b)
	}
	var bv batchView
	var e apiErr
	if status < 300 {
		decodeInto(t, b, &bv)
	} else {
		decodeInto(t, b, &e)
	}
	return bv, e
}

func decodeInto(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
}

// factoryRow is one row of a factory CSV, by column name.
type factoryRow map[string]string

// factoryCSV gets the batch's factory CSV and parses it with encoding/csv.
func factoryCSV(t *testing.T, n *apptest.Node, id string) []factoryRow {
	t.Helper()
	status, h, b := adminSend(t, n, "GET", "/v1/admin/batches/"+id+"/factory.csv", "", nil)
	if status != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") || h.Get("Cache-Control") != "no-store" {
		t.Fatalf("factory.csv: HTTP %d, headers %v: %s", status, h, b)
	}
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatalf("the factory CSV does not parse: %v\n%s", err, b)
	}
	want := []string{"imei", "serial", "pskIdentity", "psk", "id", "nbId", "qr"}
	if len(recs) == 0 || !slices.Equal(recs[0], want) {
		t.Fatalf("factory CSV header %q, want %q", recs[0], want)
	}
	rows := make([]factoryRow, len(recs)-1)
	for i, rec := range recs[1:] {
		rows[i] = factoryRow{}
		for j, col := range want {
			rows[i][col] = rec[j]
		}
	}
	return rows
}

func deviceCount(t *testing.T, n *apptest.Node) int {
	t.Helper()
	var list struct{ Devices []apptest.Provisioned }
	if code := n.API(t, "GET", "/v1/admin/devices?limit=1000", nil, &list); code != http.StatusOK {
		t.Fatalf("list devices: HTTP %d", code)
	}
	return len(list.Devices)
}

func TestBatchBadRowsImportNothing(t *testing.T) {
	n := apptest.Start(t, "")
	body := "imei,serial\n" + apptest.IMEI(1) + ",A\n" + apptest.IMEI(2) + ",B\n12345,C\n" + apptest.IMEI(3) + ",D\n" + apptest.IMEI(4) + ",E\n"
	_, e := importBatch(t, n, "", body, http.StatusBadRequest)
	if e.Code != 4201 || e.Name != "CSVRowInvalid" || !strings.HasPrefix(e.Message, `line 4: imei "12345" is not 15 digits`) {
		t.Errorf("error %+v, want 4201 naming line 4", e)
	}
	body = "imei\n1\n" + apptest.IMEI(1) + "\n" + apptest.IMEI(1) + "\n" + strings.Repeat("9", 16) + "\n"
	_, e = importBatch(t, n, "", body, http.StatusBadRequest)
	for _, want := range []string{`line 2: imei "1" is not 15 digits`, "line 4: imei " + apptest.IMEI(1) + " is also on line 3", "line 5:", "3 bad rows"} {
		if !strings.Contains(e.Message, want) {
			t.Errorf("message %q lacks %q", e.Message, want)
		}
	}
	if c := deviceCount(t, n); c != 0 {
		t.Errorf("%d devices after refused imports", c)
	}
	var list struct{ Batches []batchView }
	n.API(t, "GET", "/v1/admin/batches", nil, &list)
	if len(list.Batches) != 0 {
		t.Errorf("batches after refused imports: %+v", list.Batches)
	}
}

func TestBatchImportTwice(t *testing.T) {
	n := apptest.Start(t, "")
	body := csvOf(seq(1, 20)...)
	first, _ := importBatch(t, n, "", body, http.StatusCreated)
	if first.Devices != 20 || first.Created != 20 || first.Existing != 0 || first.ProductID != "default" ||
		!regexp.MustCompile(`^bat_[a-z2-7]{16}$`).MatchString(first.ID) {
		t.Fatalf("first import: %+v", first)
	}
	exported := factoryCSV(t, n, first.ID)
	// The same rows again, in another order, with CRLF and a BOM.
	rows := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
	slices.Reverse(rows[1:])
	again, _ := importBatch(t, n, "", "\xef\xbb\xbf"+strings.Join(rows, "\r\n"), http.StatusOK)
	if again != first {
		t.Errorf("second import answered %+v, want the first batch %+v", again, first)
	}
	if got := factoryCSV(t, n, again.ID); !slices.EqualFunc(got, exported, maps.Equal) {
		t.Errorf("the export changed after the second import")
	}
	if c := deviceCount(t, n); c != 20 {
		t.Errorf("%d devices after importing 20 twice", c)
	}
	var got batchView
	if code := n.API(t, "GET", "/v1/admin/batches/"+first.ID, nil, &got); code != http.StatusOK || got != first {
		t.Errorf("GET the batch: HTTP %d %+v", code, got)
	}
	var audit struct {
		Entries []struct{ Actor, Detail string }
	}
	n.API(t, "GET", "/v1/admin/audit?action=provision", nil, &audit)
	if len(audit.Entries) != 1 || !strings.HasPrefix(audit.Entries[0].Detail, "batch "+first.ID+", product default: 20 devices, 20 created") {
		t.Errorf("the audit log of two imports of one batch: %+v", audit.Entries)
	}
}

func TestBatchSuperset(t *testing.T) {
	n := apptest.Start(t, "")
	if code := n.API(t, "POST", "/v1/admin/products", map[string]string{"id": "meter", "name": "Meter"}, nil); code != http.StatusCreated {
		t.Fatalf("create product: HTTP %d", code)
	}
	single := n.Provision(t, apptest.IMEI(9)) // the default product
	small, _ := importBatch(t, n, "meter", csvOf(1, 2, 3), http.StatusCreated)
	big, _ := importBatch(t, n, "meter", csvOf(seq(1, 5)...), http.StatusCreated)
	if big.ID == small.ID || big.Devices != 5 || big.Created != 2 || big.Existing != 3 {
		t.Fatalf("superset import: %+v after %+v", big, small)
	}
	before := factoryCSV(t, n, small.ID)
	after := factoryCSV(t, n, big.ID)
	for i := range before {
		if !maps.Equal(after[i], before[i]) {
			t.Errorf("row %d of the superset %v, before %v", i, after[i], before[i])
		}
	}
	if c := deviceCount(t, n); c != 6 {
		t.Errorf("%d devices, want 6", c)
	}

	// Rows that contradict what is provisioned are bad rows.
	body := "imei,serial\n" + apptest.IMEI(6) + ",SN-6\n" + apptest.IMEI(9) + ",X\n" + apptest.IMEI(1) + ",SN-other\n"
	_, e := importBatch(t, n, "meter", body, http.StatusBadRequest)
	for _, want := range []string{
		"line 3: imei " + apptest.IMEI(9) + ` is provisioned for product "default", not "meter"`,
		"line 4: imei " + apptest.IMEI(1) + ` is provisioned with serial "SN-1", not "SN-other"`,
	} {
		if e.Code != 4201 || !strings.Contains(e.Message, want) {
			t.Errorf("error %+v lacks %q", e, want)
		}
	}
	// A device provisioned alone is taken into a batch of its product, and
	// gets the serial.
	b, _ := importBatch(t, n, "", "imei,serial\n"+single.IMEI+",SN-9\n", http.StatusCreated)
	rows := factoryCSV(t, n, b.ID)
	if b.Existing != 1 || rows[0]["id"] != single.ID || rows[0]["nbId"] != single.NbID || rows[0]["serial"] != "SN-9" {
		t.Errorf("batch of a provisioned device: %+v, %v", b, rows)
	}
}

func TestBatchFactoryCSV(t *testing.T) {
	n := apptest.Start(t, "")
	b, _ := importBatch(t, n, "", "serial,imei,model\n,"+apptest.IMEI(1)+",X\n\"Zähler \"\"7\"\"\","+apptest.IMEI(2)+",Y\n", http.StatusCreated)
	rows := factoryCSV(t, n, b.ID)
	if len(rows) != 2 || rows[0]["serial"] != "" || rows[1]["serial"] != `Zähler "7"` {
		t.Fatalf("rows %v", rows)
	}
	for i, r := range rows {
		imei := apptest.IMEI(i + 1)
		psk, err := hex.DecodeString(r["psk"])
		switch {
		case r["imei"] != imei:
			t.Errorf("row %d: imei %q, want %q", i, r["imei"], imei)
		case len(r["psk"]) != 32 || err != nil:
			t.Errorf("row %d: psk %q is not 32 hex digits", i, r["psk"])
		case r["pskIdentity"] != "urn:imei:"+imei:
			t.Errorf("row %d: pskIdentity %q", i, r["pskIdentity"])
		case !strings.HasSuffix(r["qr"], "/nb/"+r["nbId"]) || len(r["nbId"]) != 32:
			t.Errorf("row %d: qr %q, nbId %q", i, r["qr"], r["nbId"])
		}
		// The key in the file is the one the server checks the DTLS handshake with.
		if key, err := n.Service().DevicePSK(t.Context(), r["pskIdentity"]); err != nil || !bytes.Equal(key, psk) {
			t.Errorf("row %d: the server's PSK %x (%v) is not the exported %x", i, key, err, psk)
		}
		if d := n.Device(t, r["id"]); d.IMEI != imei || d.NbID != r["nbId"] || d.QR != r["qr"] {
			t.Errorf("row %d: the device is %+v", i, d)
		}
	}
}

// batchLabels gets a page of the batch's labels and decodes the PNG.
func batchLabels(t *testing.T, n *apptest.Node, id, query string) (image.Image, http.Header) {
	t.Helper()
	status, h, b := adminSend(t, n, "GET", "/v1/admin/batches/"+id+"/labels.png"+query, "", nil)
	if status != http.StatusOK || h.Get("Content-Type") != "image/png" {
		t.Fatalf("labels.png%s: HTTP %d: %.200s", query, status, b)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("labels.png%s does not decode: %v", query, err)
	}
	return img, h
}

// readLabel crops r out of img and reads its QR code.
func readLabel(t *testing.T, img image.Image, r image.Rectangle) string {
	t.Helper()
	cell := image.NewGray(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(cell, cell.Rect, img, r.Min, draw.Src)
	var b bytes.Buffer
	if err := png.Encode(&b, cell); err != nil {
		t.Fatal(err)
	}
	text, err := qr.Decode(&b)
	if err != nil {
		t.Fatalf("the label in %v: %v", r, err)
	}
	return text
}

func TestBatchLabels(t *testing.T) {
	n := apptest.Start(t, "")
	per := qr.A4.PerPage()
	b, _ := importBatch(t, n, "", csvOf(seq(1, per+1)...), http.StatusCreated)
	rows := factoryCSV(t, n, b.ID)
	img, h := batchLabels(t, n, b.ID, "")
	if h.Get("X-Page") != "1" || h.Get("X-Total-Pages") != "2" {
		t.Errorf("page headers %q of %q, want 1 of 2", h.Get("X-Page"), h.Get("X-Total-Pages"))
	}
	for _, i := range []int{0, per - 1} {
		if got := readLabel(t, img, qr.A4.Cell(i)); got != rows[i]["qr"] {
			t.Errorf("label %d reads %q, want %q", i, got, rows[i]["qr"])
		}
	}
	// The second page has one label: it reads from the whole page.
	img, _ = batchLabels(t, n, b.ID, "?page=2")
	if got := readLabel(t, img, img.Bounds()); got != rows[per]["qr"] {
		t.Errorf("page 2 reads %q, want %q", got, rows[per]["qr"])
	}
}

func TestBatchTenThousand(t *testing.T) {
	testkit.Long(t, "imports 10,000 devices")
	n := apptest.Start(t, "", apptest.QuietLogs)
	start := time.Now()
	b, _ := importBatch(t, n, "", csvOf(seq(1, 10000)...), http.StatusCreated)
	took := time.Since(start)
	if b.Devices != 10000 || b.Created != 10000 {
		t.Fatalf("batch %+v", b)
	}
	rows := factoryCSV(t, n, b.ID)
	if len(rows) != 10000 || rows[9999]["imei"] != apptest.IMEI(10000) {
		t.Fatalf("%d rows in the factory CSV", len(rows))
	}
	again, _ := importBatch(t, n, "", csvOf(seq(1, 10000)...), http.StatusOK)
	if again.ID != b.ID {
		t.Errorf("re-import: %+v", again)
	}
	t.Logf("imported 10000 devices in %v", took.Round(time.Millisecond))
}

// TestBatchConcurrentImports races imports of the same file and of
// overlapping files: each IMEI is provisioned once, the same file makes
// one batch, and every import succeeds.
func TestBatchConcurrentImports(t *testing.T) {
	n := apptest.Start(t, "")
	files := []string{csvOf(seq(1, 50)...), csvOf(seq(1, 50)...), csvOf(seq(26, 75)...), csvOf(seq(26, 75)...)}
	got := make([]batchView, len(files))
	var wg sync.WaitGroup
	for i, f := range files {
		wg.Go(func() {
			req, _ := http.NewRequest("POST", "http://"+n.HTTPAddr()+"/v1/admin/batches", strings.NewReader(f))
			req.Header.Set("Authorization", "Bearer "+n.Token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Errorf("import %d: %v", i, err)
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
				t.Errorf("import %d: HTTP %d: %s", i, resp.StatusCode, b)
				return
			}
			json.Unmarshal(b, &got[i])
		})
	}
	wg.Wait()
	if got[0].ID != got[1].ID || got[2].ID != got[3].ID || got[0].ID == got[2].ID {
		t.Errorf("batch IDs %s %s %s %s", got[0].ID, got[1].ID, got[2].ID, got[3].ID)
	}
	if c := deviceCount(t, n); c != 75 {
		t.Errorf("%d devices, want 75", c)
	}
	if created := got[0].Created + got[2].Created; created != 75 {
		t.Errorf("the two batches created %d devices, want 75: %+v", created, got)
	}
}

func TestBatchAPIErrors(t *testing.T) {
	n := apptest.Start(t, "")
	tests := map[string]struct {
		contentType, query, body string
		status, code             int
	}{
		"charset utf-8":      {contentType: "text/csv; charset=UTF-8", body: csvOf(1), status: 201},
		"no content type":    {body: csvOf(2), status: 201},
		"empty body":         {contentType: "text/csv", body: "", status: 400, code: 4200},
		"header only":        {contentType: "text/csv", body: "imei,serial\r\n", status: 400, code: 4200},
		"no imei column":     {contentType: "text/csv", body: "serial\nA\n", status: 400, code: 4200},
		"not UTF-8":          {contentType: "text/csv", body: "imei,serial\n" + apptest.IMEI(3) + ",\xff\n", status: 400, code: 4200},
		"too many rows":      {contentType: "text/csv", body: csvOf(seq(1, 10001)...), status: 400, code: 4200},
		"JSON":               {contentType: "application/json", body: `{"imei":"x"}`, status: 415, code: 4015},
		"Latin-1":            {contentType: "text/csv; charset=latin1", body: csvOf(3), status: 415, code: 4015},
		"unknown product":    {contentType: "text/csv", query: "?productId=toaster", body: csvOf(3), status: 400, code: 3717},
		"malformed product":  {contentType: "text/csv", query: "?productId=Toaster!", body: csvOf(3), status: 400, code: 3723},
		"over 1 MiB":         {contentType: "text/csv", body: "imei\n" + strings.Repeat(apptest.IMEI(3)+"\n", 70000), status: 413, code: 4013},
		"exactly 1 MiB + 1":  {contentType: "text/csv", body: "imei\n" + strings.Repeat("\n", 1<<20-4), status: 413, code: 4013},
		"exactly 1 MiB":      {contentType: "text/csv", body: "imei\n" + apptest.IMEI(4) + strings.Repeat("\n", 1<<20-20), status: 201},
		"unknown batch path": {contentType: "text/csv", query: "/x", body: csvOf(3), status: 404, code: 4004},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			status, _, b := adminSend(t, n, "POST", "/v1/admin/batches"+tt.query, tt.contentType, []byte(tt.body))
			var e apiErr
			json.Unmarshal(b, &e)
			if status != tt.status || e.Code != tt.code {
				t.Errorf("HTTP %d %s, want %d with code %d", status, b, tt.status, tt.code)
			}
		})
	}
	for _, path := range []string{"/bat_nope", "/bat_nope/factory.csv", "/bat_nope/labels.png"} {
		if status, _, b := adminSend(t, n, "GET", "/v1/admin/batches"+path, "", nil); status != http.StatusNotFound {
			t.Errorf("GET %s: HTTP %d %s", path, status, b)
		}
	}
	req, _ := http.NewRequest("GET", "http://"+n.HTTPAddr()+"/v1/admin/batches", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("list without the admin token: %v %v", resp.Status, err)
	}
}
