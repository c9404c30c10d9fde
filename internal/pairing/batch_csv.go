package pairing

import (
	"bytes"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nbpair/nbpair/internal/wire"
)

// Limits of a batch CSV.
const (
	// MaxBatchBytes is the largest batch CSV accepted: 1 MiB.
	MaxBatchBytes = 1 << 20
	// MaxBatchRows is the most device rows a batch CSV may have.
	MaxBatchRows = 10000
	// MaxSerialLen is the most characters a serial number may have.
	MaxSerialLen = 64
	// maxReportedRows is the most bad rows an error lists.
	maxReportedRows = 10
)

// Errors of batch CSVs. ErrBatchRows comes as a *RowsError.
var (
	// ErrBatchCSV means the file as a whole is not a usable batch CSV: empty,
	// no header, no imei column, no rows, too many rows, not UTF-8.
	ErrBatchCSV = errors.New("not a usable batch CSV")
	// ErrBatchRows means some rows are bad; nothing was imported.
	ErrBatchRows = errors.New("bad rows in the batch CSV")
	// ErrBatchTooLarge means the CSV is larger than MaxBatchBytes.
	ErrBatchTooLarge = errors.New("batch CSV too large")
)

// BatchRow is one device row of a batch CSV.
type BatchRow struct {
	// Line is the row's line number in the file, counting from 1 (the
	// header is line 1).
	Line   int
	IMEI   string
	Serial string // "" when the file gives none
}

// RowError is what is wrong with one line of a batch CSV.
type RowError struct {
	Line    int
	Problem string
}

func (e RowError) String() string { return fmt.Sprintf("line %d: %s", e.Line, e.Problem) }

// RowsError lists the bad rows of a batch CSV: the first few of them, and
// how many there are in all. It wraps ErrBatchRows.
type RowsError struct {
	Rows  []RowError // the first maxReportedRows bad rows, in file order
	Total int        // every bad row
}

func (e *RowsError) add(line int, format string, args ...any) {
	e.Total++
	if len(e.Rows) < maxReportedRows {
		e.Rows = append(e.Rows, RowError{Line: line, Problem: fmt.Sprintf(format, args...)})
	}
}

// Error lists the reported rows, e.g. `line 7: imei "12345" is not 15
// digits (1 bad row; nothing was imported)`.
func (e *RowsError) Error() string {
	parts := make([]string, len(e.Rows))
	for i, r := range e.Rows {
		parts[i] = r.String()
	}
	count := plural(e.Total, "bad row")
	if e.Total > len(e.Rows) {
		count += fmt.Sprintf(", the first %d shown", len(e.Rows))
	}
	return strings.Join(parts, "; ") + " (" + count + "; nothing was imported)"
}

// Unwrap makes errors.Is(err, ErrBatchRows) hold.
func (e *RowsError) Unwrap() error { return ErrBatchRows }

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// ParseBatchCSV reads a batch CSV: a header row naming the columns, of
// which imei is required and serial optional (in any order and case; other
// columns are ignored), then one row per device. The file is UTF-8, with or
// without a byte order mark, with CRLF or LF line ends, at most
// MaxBatchBytes and MaxBatchRows rows. Fields are trimmed of spaces; rows
// whose fields are all blank are skipped. Every row is checked (a 15-digit
// IMEI, not also on another row, a serial of at most MaxSerialLen
// characters without control characters) and every bad row counted: any
// bad row makes the whole file fail with a *RowsError.
func ParseBatchCSV(data []byte) ([]BatchRow, error) {
	if len(data) > MaxBatchBytes {
		return nil, fmt.Errorf("%w: the CSV is %d bytes, at most %d (1 MiB); split it", ErrBatchTooLarge, len(data), MaxBatchBytes)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if line, ok := invalidUTF8Line(data); ok {
		return nil, fmt.Errorf("%w: line %d is not valid UTF-8; save the file as UTF-8", ErrBatchCSV, line)
	}
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	cols, err := readHeader(r)
	if err != nil {
		return nil, err
	}
	return readRows(r, cols)
}

// invalidUTF8Line returns the line of the first byte that is not UTF-8.
func invalidUTF8Line(data []byte) (int, bool) {
	if utf8.Valid(data) {
		return 0, false
	}
	for i := 0; i < len(data); {
		c, size := utf8.DecodeRune(data[i:])
		if c == utf8.RuneError && size == 1 {
			return bytes.Count(data[:i], []byte("\n")) + 1, true
		}
		i += size
	}
	return 0, false
}

// columns are the positions of the columns a batch CSV uses; serial is -1
// when the file has none.
type columns struct{ imei, serial int }

func readHeader(r *csv.Reader) (columns, error) {
	header, err := r.Read()
	var pe *csv.ParseError
	switch {
	case errors.Is(err, io.EOF):
		return columns{}, fmt.Errorf("%w: the CSV is empty; its first line must be a header naming the columns, e.g. imei,serial", ErrBatchCSV)
	case errors.As(err, &pe):
		return columns{}, fmt.Errorf("%w: the header (line %d): %v", ErrBatchCSV, pe.StartLine, pe.Err)
	case err != nil:
		return columns{}, fmt.Errorf("%w: %v", ErrBatchCSV, err)
	}
	cols := columns{imei: -1, serial: -1}
	line, _ := r.FieldPos(0)
	for i, name := range header {
		var col *int
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "imei":
			col = &cols.imei
		case "serial":
			col = &cols.serial
		default:
			continue
		}
		if *col >= 0 {
			return columns{}, fmt.Errorf("%w: the header (line %d) names the column %s twice", ErrBatchCSV, line, strings.TrimSpace(name))
		}
		*col = i
	}
	if cols.imei < 0 {
		hint := ""
		if len(header) > 0 && wire.ValidIMEI(strings.TrimSpace(header[0])) {
			hint = "; it looks like a row: put a header line imei,serial above it"
		}
		return columns{}, fmt.Errorf("%w: the header (line %d) has no imei column%s", ErrBatchCSV, line, hint)
	}
	return cols, nil
}

// readRows reads and checks every row after the header.
func readRows(r *csv.Reader, cols columns) ([]BatchRow, error) {
	var rows []BatchRow
	bad := &RowsError{}
	seen := map[string]int{} // IMEI → line
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) { // the reader cannot resync after a quoting error
			bad.add(pe.StartLine, "%v", pe.Err)
			break
		} else if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBatchCSV, err)
		}
		line, _ := r.FieldPos(0)
		row, ok := rowOf(rec, cols, line)
		if !ok {
			continue // a blank row
		}
		if len(rows)+bad.Total >= MaxBatchRows {
			return nil, fmt.Errorf("%w: more than %d rows (line %d is one too many); split the file", ErrBatchCSV, MaxBatchRows, line)
		}
		if problem := checkRow(row, seen); problem != "" {
			bad.add(line, "%s", problem)
			continue
		}
		seen[row.IMEI] = line
		rows = append(rows, row)
	}
	switch {
	case bad.Total > 0:
		return nil, bad
	case len(rows) == 0:
		return nil, fmt.Errorf("%w: the CSV has a header but no rows", ErrBatchCSV)
	}
	return rows, nil
}

// rowOf picks the row's fields; ok is false for a row that is all blank.
func rowOf(rec []string, cols columns, line int) (row BatchRow, ok bool) {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			ok = true
		}
	}
	field := func(i int) string {
		if i < 0 || i >= len(rec) {
			return ""
		}
		return strings.TrimSpace(rec[i])
	}
	return BatchRow{Line: line, IMEI: field(cols.imei), Serial: field(cols.serial)}, ok
}

// checkRow says what is wrong with row, or "" when nothing is.
func checkRow(row BatchRow, seen map[string]int) string {
	n := utf8.RuneCountInString(row.Serial)
	switch {
	case row.IMEI == "":
		return "imei is missing"
	case !wire.ValidIMEI(row.IMEI):
		return fmt.Sprintf("imei %s is not 15 digits", quote(row.IMEI))
	case seen[row.IMEI] > 0:
		return fmt.Sprintf("imei %s is also on line %d", row.IMEI, seen[row.IMEI])
	case n > MaxSerialLen:
		return fmt.Sprintf("serial is %d characters, at most %d", n, MaxSerialLen)
	case strings.ContainsFunc(row.Serial, unicode.IsControl):
		return fmt.Sprintf("serial %s has a control character", quote(row.Serial))
	}
	return ""
}

// quote quotes a value for an error message, cut to a readable length.
func quote(s string) string {
	const max = 40
	if utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max]) + "…"
	}
	return strconv.Quote(s)
}

// FactoryCSVHeader is the header of the factory CSV, in column order.
var FactoryCSVHeader = []string{"imei", "serial", "pskIdentity", "psk", "id", "nbId", "qr"}

// WriteFactoryCSV writes the factory CSV of a batch: FactoryCSVHeader, then
// one row per device with its PSK in hex. It holds the devices' keys.
func WriteFactoryCSV(w io.Writer, rows []FactoryRow) error {
	cw := csv.NewWriter(w)
	cw.Write(FactoryCSVHeader)
	for _, r := range rows {
		cw.Write([]string{r.IMEI, r.Serial, r.PSKIdentity, hex.EncodeToString(r.PSK), r.DeviceID, r.NbID, r.QR})
	}
	cw.Flush()
	return cw.Error()
}
