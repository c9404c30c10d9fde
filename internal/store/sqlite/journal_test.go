package sqlite

import (
	"context"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/nbpair/nbpair/internal/pairing"
)

// hold keeps the writer from applying journaled registrations, as if the
// process were killed before it could.
func (s *Store) hold(held bool) {
	s.j.mu.Lock()
	s.j.held = held
	s.j.mu.Unlock()
	signal(s.j.kick)
}

// crashImage copies the files of the store in dir as a kill -9 would leave
// them (what the process wrote is in the files; nothing is closed or
// checkpointed) into a new directory.
func crashImage(t *testing.T, dir string) string {
	t.Helper()
	out := t.TempDir()
	for _, name := range []string{FileName, FileName + "-wal"} {
		copyFile(t, filepath.Join(dir, name), filepath.Join(out, name))
	}
	segs, err := listSegments(filepath.Join(dir, journalDir))
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(out, journalDir), 0o700)
	for _, sg := range segs {
		copyFile(t, sg.path, filepath.Join(out, journalDir, filepath.Base(sg.path)))
	}
	return out
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	o, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if _, err := io.Copy(o, in); err != nil {
		t.Fatal(err)
	}
}

func journalDevice(n int) pairing.Device {
	return pairing.Device{ID: "dev_journal" + string(rune('a'+n)), ProductID: pairing.DefaultProductID,
		IMEI: "35693803000000" + string(rune('0'+n)), NbID: "0123456789abcdef0123456789abcde" + string(rune('0'+n)),
		Name: "Journaled", CreatedAt: time.Unix(1700000000, 0).UTC()}
}

func journalReg(d pairing.Device, id string, at time.Time) pairing.Registration {
	return pairing.Registration{ID: id, DeviceID: d.ID, Endpoint: d.Endpoint(), Lifetime: 86400, Version: "1.1",
		Binding: "U", QueueMode: true, Objects: []string{"/3/0", "/33050/0"}, Addr: "198.51.100.7:56830",
		RegisteredAt: at, LastSeen: at, ExpiresAt: at.Add(25 * time.Hour)}
}

// TestKillBetweenJournalAndApply: a Register that was answered, killed
// before the writer applied it to the tables, is in the tables after the
// next Open, and so is the device's first registration time.
func TestKillBetweenJournalAndApply(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openAt(t, dir)
	d0, d1 := journalDevice(0), journalDevice(1)
	for _, d := range []pairing.Device{d0, d1} {
		if err := s.CreateDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Unix(1700000100, 0).UTC()
	s.hold(true)
	r0, r1 := journalReg(d0, "reg0", at), journalReg(d1, "reg1", at)
	r1b := journalReg(d1, "reg1b", at.Add(time.Second))
	for _, r := range []pairing.Registration{r0, r1, r1b} {
		if _, err := s.Register(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if n := countRows(t, s, "registrations"); n != 0 {
		t.Fatalf("%d registrations in the tables while held; want 0 (the test needs them in the journal only)", n)
	}
	image := crashImage(t, dir)
	// A torn record at the end, as a kill in the middle of a write leaves.
	segs, _ := listSegments(filepath.Join(image, journalDir))
	last := segs[len(segs)-1].path
	f, err := os.OpenFile(last, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte{200, 0, 0, 0, 1, 2, 3, 4, 5}, recordsEnd(t, last))
	f.Close()

	c := openAt(t, image)
	for _, want := range []pairing.Registration{r0, r1b} {
		got, err := c.RegistrationOfDevice(ctx, want.DeviceID)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("registration after the crash = %+v, %v; want %+v", got, err, want)
		}
	}
	if n := countRows(t, c, "registrations"); n != 2 {
		t.Fatalf("%d registrations in the tables after replay; want 2", n)
	}
	for _, d := range []pairing.Device{d0, d1} {
		got, err := c.Device(ctx, d.ID)
		if err != nil || !got.FirstRegisteredAt.Equal(at) {
			t.Fatalf("device %s after the crash: first registered %v, %v; want %v", d.ID, got.FirstRegisteredAt, err, at)
		}
	}
	if _, err := c.Registration(ctx, "reg1"); err == nil {
		t.Fatal("the replaced registration reg1 is back after the crash")
	}
}

// TestReplaySkipsApplied: a journaled Register that was applied, then
// deleted, does not come back from the journal file after a kill.
func TestReplaySkipsApplied(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openAt(t, dir)
	d := journalDevice(2)
	if err := s.CreateDevice(ctx, d); err != nil {
		t.Fatal(err)
	}
	r := journalReg(d, "reg2", time.Unix(1700000200, 0).UTC())
	if _, err := s.Register(ctx, r); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteRegistration(ctx, r.ID); err != nil { // applies the journal first
		t.Fatal(err)
	}
	image := crashImage(t, dir)
	recs, err := readJournal(image)
	if err != nil || len(recs) != 1 {
		t.Fatalf("journal in the image = %d records, %v; want the one Register (the test needs it there)", len(recs), err)
	}
	c := openAt(t, image)
	if _, err := c.RegistrationOfDevice(ctx, d.ID); err == nil {
		t.Fatal("a deleted registration came back from the journal")
	}
}

// TestJournalBacklogBounded: Registers wait while the backlog is full, and
// go on once it is applied.
func TestJournalBacklogBounded(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, t.TempDir())
	d := journalDevice(3)
	if err := s.CreateDevice(ctx, d); err != nil {
		t.Fatal(err)
	}
	s.hold(true)
	at := time.Unix(1700000300, 0).UTC()
	s.j.mu.Lock()
	for i := range journalMaxBacklog { // fill the backlog without writing
		s.j.backlog = append(s.j.backlog, journaled{seq: uint64(i + 1), reg: journalReg(d, "filler", at)})
	}
	s.j.mu.Unlock()
	done := make(chan error, 1)
	go func() {
		_, err := s.Register(ctx, journalReg(d, "reg3", at))
		done <- err
	}()
	waitFor(t, "the Register to wait for room", func() bool {
		s.j.mu.Lock()
		defer s.j.mu.Unlock()
		return s.j.waiters > 0
	})
	select {
	case err := <-done:
		t.Fatalf("Register with a full backlog returned (%v) instead of waiting", err)
	default:
	}
	s.j.mu.Lock()
	s.j.backlog = nil
	s.j.cond.Broadcast()
	s.j.mu.Unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	s.hold(false)
}

// recordsEnd returns the offset after the last whole record of a journal
// file (the file goes on with zeros).
func recordsEnd(t *testing.T, path string) int64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var off int64
	for {
		n := int64(binary.LittleEndian.Uint32(data[off:]))
		if n == 0 {
			return off
		}
		off += 8 + n
	}
}

func openAt(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// countRows counts the rows of table as the tables hold them.
func countRows(t *testing.T, s *Store, table string) int {
	t.Helper()
	var n int
	if err := s.r.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// FuzzJournalRecord: a record decodes to what was encoded, and any bytes
// in a journal file are read without panicking, up to the first bad one.
func FuzzJournalRecord(f *testing.F) {
	f.Add("reg", "dev", "urn:imei:356938035643809", "/3/0", "198.51.100.7:1", int64(1700000000000000000), 86400, true, []byte{})
	f.Add("", "", "", "", "", int64(0), 0, false, []byte{8, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, id, dev, ep, obj, addr string, at int64, lifetime int, queue bool, raw []byte) {
		r := pairing.Registration{ID: id, DeviceID: dev, Endpoint: ep, Lifetime: lifetime, QueueMode: queue,
			Objects: []string{obj}, Addr: addr, RegisteredAt: fromNanos(at), LastSeen: fromNanos(at)}
		got, err := decodeRecord(appendRecord(nil, journaled{seq: 7, reg: r}))
		if err != nil || got.seq != 7 || !reflect.DeepEqual(got.reg, r) {
			t.Fatalf("round trip of %+v = %+v, %v", r, got, err)
		}
		path := filepath.Join(t.TempDir(), "1.log")
		if err := os.WriteFile(path, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := readSegment(path); err != nil {
			t.Fatal(err)
		}
	})
}
