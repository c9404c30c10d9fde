package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nbpair/nbpair/internal/pairing"
	"github.com/nbpair/nbpair/internal/store/sqlite"
	"github.com/nbpair/nbpair/internal/store/storetest"
	"github.com/nbpair/nbpair/internal/wire"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) pairing.Store { return open(t, t.TempDir()) })
}

// open opens the store in dir and closes it when the test ends.
func open(t *testing.T, dir string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// rawDB opens the database file in dir with database/sql, beside the store,
// through the "sqlite" driver that the store package registers.
func rawDB(t *testing.T, dir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestReopenKeepsData(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	at := time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)
	d := pairing.Device{ID: "dev_reopen", ProductID: pairing.DefaultProductID, IMEI: "356938035643809",
		NbID: "0123456789abcdef0123456789abcdef", Name: "Reopened", CreatedAt: at}
	r := pairing.Registration{ID: "reg1", DeviceID: d.ID, Endpoint: d.Endpoint(), Lifetime: 86400,
		Version: "1.1", Binding: "U", QueueMode: true, Objects: []string{"/3/0", "/33050/0"},
		Addr: "198.51.100.7:56830", RegisteredAt: at.Add(time.Minute), LastSeen: at.Add(time.Hour),
		ExpiresAt: at.Add(25 * time.Hour)}
	dl := pairing.Downlink{DeviceID: d.ID, Kind: pairing.DownlinkPairingState, CreatedAt: at.Add(2 * time.Minute),
		Pairing: wire.PairingState{DeviceID: d.ID, State: wire.BindBound, OwnerUID: "u1", HomeID: "h1", BoundAt: at}}

	s, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateDevice(ctx, d); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Register(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := s.PutDownlink(ctx, dl); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, dir)
	d.FirstRegisteredAt = r.RegisteredAt
	gotD, err := s.DeviceByIMEI(ctx, d.IMEI)
	if err != nil || !reflect.DeepEqual(gotD, d) {
		t.Fatalf("device after re-open = %+v, %v; want %+v", gotD, err, d)
	}
	gotR, err := s.RegistrationOfDevice(ctx, d.ID)
	if err != nil || !reflect.DeepEqual(gotR, r) {
		t.Fatalf("registration after re-open = %+v, %v; want %+v", gotR, err, r)
	}
	gotDl, err := s.Downlinks(ctx, d.ID)
	if err != nil || !reflect.DeepEqual(gotDl, []pairing.Downlink{dl}) {
		t.Fatalf("downlinks after re-open = %+v, %v; want %+v", gotDl, err, dl)
	}
}

// migration is one row of schema_migrations.
type migration struct {
	Version   int
	Name      string
	AppliedAt int64
}

func appliedMigrations(t *testing.T, db *sql.DB) []migration {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), "SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []migration
	for rows.Next() {
		var m migration
		if err := rows.Scan(&m.Version, &m.Name, &m.AppliedAt); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestMigrations(t *testing.T) {
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migration files: %q, %v", files, err)
	}
	dir := t.TempDir()
	s, err := sqlite.Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.SchemaVersion(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// Numbers may skip one that another line of work holds.
	number := func(file string) int {
		n, _ := strconv.Atoi(strings.SplitN(filepath.Base(file), "_", 2)[0])
		return n
	}
	if want := number(files[len(files)-1]); v != want {
		t.Fatalf("SchemaVersion after Open = %d, want %d (the number of the newest migration file)", v, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db := rawDB(t, dir)
	applied := appliedMigrations(t, db)
	for i, m := range applied {
		if m.Version != number(files[i]) || m.Name != filepath.Base(files[i]) {
			t.Fatalf("migration %d applied as %+v, want version %d from %s", i, m, number(files[i]), filepath.Base(files[i]))
		}
	}

	s = open(t, dir) // re-Open must find every migration applied
	if v, err := s.SchemaVersion(t.Context()); err != nil || v != number(files[len(files)-1]) {
		t.Fatalf("SchemaVersion after re-Open = %d, %v; want %d", v, err, number(files[len(files)-1]))
	}
	if again := appliedMigrations(t, db); !slices.Equal(again, applied) {
		t.Fatalf("schema_migrations after re-Open = %+v, want unchanged %+v", again, applied)
	}
	products, err := s.Products(t.Context())
	if err != nil || len(products) != 1 || products[0].ID != pairing.DefaultProductID {
		t.Fatalf("products after re-Open = %+v, %v; want only the default", products, err)
	}
}

func TestWALMode(t *testing.T) {
	dir := t.TempDir()
	open(t, dir)
	var mode string
	if err := rawDB(t, dir).QueryRowContext(t.Context(), "PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Fatalf("journal_mode = %q, want wal", mode)
	}
}
