package pairing

import (
	"bytes"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/nbpair/nbpair/internal/wire"
)

func imei(i int) string { return fmt.Sprintf("86800000%07d", i) }

// manyRows returns a CSV with a header and n rows of IMEIs and serials.
func manyRows(n int) string {
	var b strings.Builder
	b.WriteString("imei,serial\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "%s,SN-%06d\n", imei(i), i)
	}
	return b.String()
}

func TestParseBatchCSV(t *testing.T) {
	rows := func(rs ...BatchRow) []BatchRow { return rs }
	row := func(line, i int, serial string) BatchRow { return BatchRow{Line: line, IMEI: imei(i), Serial: serial} }
	tests := map[string]struct {
		csv     string
		want    []BatchRow
		err     error
		message string // a part of the error's text
	}{
		"imei only":           {csv: "imei\n" + imei(1) + "\n" + imei(2) + "\n", want: rows(row(2, 1, ""), row(3, 2, ""))},
		"imei and serial":     {csv: "imei,serial\n" + imei(1) + ",A1\n", want: rows(row(2, 1, "A1"))},
		"columns swapped":     {csv: "serial,imei\nA1," + imei(1) + "\n", want: rows(row(2, 1, "A1"))},
		"header in capitals":  {csv: " IMEI , Serial \n" + imei(1) + ",A1\n", want: rows(row(2, 1, "A1"))},
		"byte order mark":     {csv: "\xef\xbb\xbfimei,serial\r\n" + imei(1) + ",A1\r\n", want: rows(row(2, 1, "A1"))},
		"CRLF":                {csv: "imei,serial\r\n" + imei(1) + ",A1\r\n" + imei(2) + ",A2\r\n", want: rows(row(2, 1, "A1"), row(3, 2, "A2"))},
		"no final newline":    {csv: "imei\n" + imei(1), want: rows(row(2, 1, ""))},
		"quoted fields":       {csv: "\"imei\",\"serial\"\n\"" + imei(1) + "\",\"A, \"\"1\"\"\"\n", want: rows(row(2, 1, `A, "1"`))},
		"quoted newline":      {csv: "serial,imei\n\"two\nlines\"," + imei(1) + "\n" + "B," + imei(2) + "\n", err: ErrBatchRows, message: "line 2: serial \"two\\nlines\" has a control character"},
		"extra columns":       {csv: "model,imei,colour,serial\nX," + imei(1) + ",red,A1\n", want: rows(row(2, 1, "A1"))},
		"short row":           {csv: "imei,serial\n" + imei(1) + "\n", want: rows(row(2, 1, ""))},
		"spaces trimmed":      {csv: "imei,serial\n  " + imei(1) + " , A1 \n", want: rows(row(2, 1, "A1"))},
		"blank lines skipped": {csv: "imei,serial\n\n" + imei(1) + ",A1\n,\n \n" + imei(2) + ",A2\n", want: rows(row(3, 1, "A1"), row(6, 2, "A2"))},
		"unicode serial":      {csv: "imei,serial\n" + imei(1) + ",Zähler-№7\n", want: rows(row(2, 1, "Zähler-№7"))},
		"serial of 64":        {csv: "imei,serial\n" + imei(1) + "," + strings.Repeat("ä", 64) + "\n", want: rows(row(2, 1, strings.Repeat("ä", 64)))},
		"10000 rows":          {csv: manyRows(MaxBatchRows)},

		"empty file":          {csv: "", err: ErrBatchCSV, message: "the CSV is empty"},
		"only a BOM":          {csv: "\xef\xbb\xbf", err: ErrBatchCSV, message: "the CSV is empty"},
		"header only":         {csv: "imei,serial\n", err: ErrBatchCSV, message: "header but no rows"},
		"header, blank rows":  {csv: "imei,serial\n,\n\n", err: ErrBatchCSV, message: "header but no rows"},
		"missing imei column": {csv: "serial,model\nA1,X\n", err: ErrBatchCSV, message: "no imei column"},
		"no header":           {csv: imei(1) + ",A1\n" + imei(2) + ",A2\n", err: ErrBatchCSV, message: "it looks like a row"},
		"imei column twice":   {csv: "imei,IMEI\n" + imei(1) + "," + imei(2) + "\n", err: ErrBatchCSV, message: "names the column IMEI twice"},
		"too many rows":       {csv: manyRows(MaxBatchRows + 1), err: ErrBatchCSV, message: "more than 10000 rows (line 10002"},
		"too large":           {csv: "imei\n" + strings.Repeat(imei(1)+"\n", MaxBatchBytes/16), err: ErrBatchTooLarge, message: "1 MiB"},
		"not UTF-8":           {csv: "imei,serial\n" + imei(1) + ",Z\xe4hler\n", err: ErrBatchCSV, message: "line 2 is not valid UTF-8"},
		"Latin-1 header":      {csv: "imei,s\xe9rie\n" + imei(1) + ",A\n", err: ErrBatchCSV, message: "line 1 is not valid UTF-8"},
		"bad quote in header": {csv: "im\"ei\n" + imei(1) + "\n", err: ErrBatchCSV, message: "the header (line 1)"},

		"short imei":      {csv: "imei\n" + imei(1) + "\n12345\n", err: ErrBatchRows, message: `line 3: imei "12345" is not 15 digits (1 bad row; nothing was imported)`},
		"imei letters":    {csv: "imei\n86800000000000x\n", err: ErrBatchRows, message: `line 2: imei "86800000000000x" is not 15 digits`},
		"imei missing":    {csv: "imei,serial\n,A1\n", err: ErrBatchRows, message: "line 2: imei is missing"},
		"duplicate imei":  {csv: "imei\n" + imei(1) + "\n" + imei(2) + "\n" + imei(1) + "\n", err: ErrBatchRows, message: "line 4: imei " + imei(1) + " is also on line 2"},
		"serial too long": {csv: "imei,serial\n" + imei(1) + "," + strings.Repeat("x", 65) + "\n", err: ErrBatchRows, message: "line 2: serial is 65 characters, at most 64"},
		"control char":    {csv: "imei,serial\n" + imei(1) + ",A\x001\n", err: ErrBatchRows, message: `line 2: serial "A\x001" has a control character`},
		"bare quote":      {csv: "imei,serial\n" + imei(1) + ",A\"1\n", err: ErrBatchRows, message: "line 2: bare \""},
		"unclosed quote":  {csv: "imei,serial\n" + imei(1) + ",A1\n\"" + imei(2) + ",A2\n", err: ErrBatchRows, message: "line 3: extraneous or missing \" in quoted-field"},
		"several bad rows": {csv: "imei\n1\n" + imei(1) + "\n2\n" + imei(1) + "\n", err: ErrBatchRows,
			message: `line 2: imei "1" is not 15 digits; line 4: imei "2" is not 15 digits; line 5: imei ` + imei(1) + ` is also on line 3 (3 bad rows; nothing was imported)`},
		"long value cut": {csv: "imei\n" + strings.Repeat("9", 100) + "\n", err: ErrBatchRows, message: `imei "` + strings.Repeat("9", 40) + `…" is not`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseBatchCSV([]byte(tt.csv))
			if tt.err != nil {
				if !errors.Is(err, tt.err) || !strings.Contains(err.Error(), tt.message) {
					t.Fatalf("error %v, want %v containing %q", err, tt.err, tt.message)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == nil { // a large file: its rows are checked by count
				if len(got) != strings.Count(tt.csv, "\n")-1 {
					t.Fatalf("%d rows", len(got))
				}
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("rows\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseBatchCSVReportsTheFirstRows(t *testing.T) {
	var b strings.Builder
	b.WriteString("imei\n")
	for i := range 25 {
		fmt.Fprintf(&b, "%d\n", i)
	}
	_, err := ParseBatchCSV([]byte(b.String()))
	var re *RowsError
	if !errors.As(err, &re) || re.Total != 25 || len(re.Rows) != maxReportedRows || re.Rows[0].Line != 2 {
		t.Fatalf("error %v", err)
	}
	if !strings.HasSuffix(err.Error(), "(25 bad rows, the first 10 shown; nothing was imported)") {
		t.Errorf("message %q", err)
	}
}

func TestBatchIDIgnoresRowOrder(t *testing.T) {
	a := []BatchRow{{IMEI: imei(1), Serial: "A"}, {IMEI: imei(2)}}
	b := []BatchRow{{IMEI: imei(2)}, {IMEI: imei(1), Serial: "A"}}
	if batchID("p", a) != batchID("p", b) {
		t.Error("the order of the rows changes the batch ID")
	}
	for name, other := range map[string]string{
		"another product": batchID("q", a),
		"another serial":  batchID("p", []BatchRow{{IMEI: imei(1), Serial: "B"}, {IMEI: imei(2)}}),
		"a row less":      batchID("p", a[:1]),
	} {
		if other == batchID("p", a) {
			t.Errorf("%s gives the same batch ID", name)
		}
	}
	if id := batchID("p", a); !strings.HasPrefix(id, "bat_") || len(id) != 20 {
		t.Errorf("batch ID %q", id)
	}
}

func TestWriteFactoryCSV(t *testing.T) {
	rows := []FactoryRow{{IMEI: imei(1), Serial: `S,"1"`, PSKIdentity: wire.EndpointForIMEI(imei(1)),
		PSK: bytes.Repeat([]byte{0xab}, PSKLen), DeviceID: "dev_x", NbID: strings.Repeat("0", 32), QR: "https://p/nb/" + strings.Repeat("0", 32)}}
	var b bytes.Buffer
	if err := WriteFactoryCSV(&b, rows); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{FactoryCSVHeader, {imei(1), `S,"1"`, "urn:imei:" + imei(1), hex.EncodeToString(rows[0].PSK), "dev_x", rows[0].NbID, rows[0].QR}}
	if !reflect.DeepEqual(recs, want) {
		t.Fatalf("factory CSV\n got %q\nwant %q", recs, want)
	}
}

// FuzzParseBatchCSV: never a panic; an accepted file has at most
// MaxBatchRows rows, every IMEI valid and on one row only, every serial
// short and without control characters, lines in increasing order; a
// refused one says why with one of the batch errors.
func FuzzParseBatchCSV(f *testing.F) {
	for _, seed := range []string{
		"imei,serial\n" + imei(1) + ",A1\n" + imei(2) + ",A2\n", "\xef\xbb\xbfserial,IMEI\r\nx," + imei(1) + "\r\n",
		"imei\n" + imei(1) + "\n" + imei(1) + "\n", "imei\n\"" + imei(1) + "\"\n", "imei,serial\n" + imei(1) + ",\"a\nb\"\n",
		"", "imei\n", "a,b\n1,2\n", "imei\n12345\n", "imei,imei\n", "imei\n\"unclosed\n", "imei,serial\n" + imei(1) + ",\xff\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := ParseBatchCSV(data)
		if err != nil {
			if rows != nil || !errors.Is(err, ErrBatchCSV) && !errors.Is(err, ErrBatchRows) && !errors.Is(err, ErrBatchTooLarge) {
				t.Fatalf("rows %v with error %v", rows, err)
			}
			return
		}
		if len(rows) == 0 || len(rows) > MaxBatchRows {
			t.Fatalf("accepted %d rows", len(rows))
		}
		seen := map[string]bool{}
		for i, r := range rows {
			if !wire.ValidIMEI(r.IMEI) || seen[r.IMEI] || checkRow(r, nil) != "" {
				t.Fatalf("accepted row %+v (IMEI seen before: %v)", r, seen[r.IMEI])
			}
			if i > 0 && r.Line <= rows[i-1].Line || r.Line < 2 {
				t.Fatalf("row %d on line %d after line %d", i, r.Line, rows[max(i-1, 0)].Line)
			}
			seen[r.IMEI] = true
		}
	})
}
