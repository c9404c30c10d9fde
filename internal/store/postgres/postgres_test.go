package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nbpair/nbpair/internal/pairing"
	"github.com/nbpair/nbpair/internal/store/postgres"
	"github.com/nbpair/nbpair/internal/store/storetest"
	"github.com/nbpair/nbpair/internal/testkit"
)

// defaultURL is the database the tests use when NBPAIR_TEST_POSTGRES_URL is
// not set: the local server of a development machine or CI.
const defaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

func testURL() string {
	if u := os.Getenv("NBPAIR_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return defaultURL
}

// redacted is dsn without its password, for messages.
func redacted(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		return u.Redacted()
	}
	return "(NBPAIR_TEST_POSTGRES_URL)"
}

var admin struct {
	once sync.Once
	pool *pgxpool.Pool
	err  error
}

// adminPool returns a pool on the test database for creating and dropping
// schemas. If the server cannot be reached the test is skipped, or fails
// when CI=true: CI must run the suite.
func adminPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	admin.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if admin.pool, admin.err = pgxpool.New(ctx, testURL()); admin.err == nil {
			admin.err = admin.pool.Ping(ctx)
		}
	})
	if admin.err != nil {
		msg := "PostgreSQL at " + redacted(testURL()) + " cannot be reached (set NBPAIR_TEST_POSTGRES_URL): " + admin.err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return admin.pool
}

func TestMain(m *testing.M) {
	code := m.Run()
	if admin.pool != nil {
		admin.pool.Close()
	}
	os.Exit(code)
}

// freshSchema creates an empty schema of a random name, dropped with
// everything in it when t ends, and returns the test database's DSN with
// that schema as its search_path: a store opened on it sees no other test's
// rows. The DSN also turns off synchronous_commit, which makes each of the
// many small migrating Opens about three times as fast; a test cannot see
// the difference, since nothing here crashes the server.
func freshSchema(t *testing.T) string {
	t.Helper()
	pool := adminPool(t)
	b := make([]byte, 8)
	rand.Read(b)
	name := "t_" + hex.EncodeToString(b)
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := pool.Exec(t.Context(), "CREATE SCHEMA "+ident); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := pool.Exec(ctx, "DROP SCHEMA "+ident+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	dsn := testURL()
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		q := u.Query()
		q.Set("search_path", name)
		q.Set("synchronous_commit", "off")
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + name + " synchronous_commit=off" // a key=value DSN
}

// open opens a store on a fresh schema and closes it when t ends, before
// the schema is dropped.
func open(t *testing.T) *postgres.Store {
	t.Helper()
	return openDSN(t, freshSchema(t))
}

func openDSN(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	testkit.Long(t, "every case on a freshly migrated schema; the SQLite store runs the suite in -short")
	adminPool(t) // skip once, not in every subtest
	storetest.Run(t, func(t *testing.T) pairing.Store { return open(t) })
}

func migrationFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migration files: %q, %v", files, err)
	}
	for i, f := range files {
		files[i] = filepath.Base(f)
	}
	return files
}

// fileVersion is the number a migration file's name starts with.
func fileVersion(t *testing.T, name string) int {
	t.Helper()
	v, err := strconv.Atoi(strings.SplitN(name, "_", 2)[0])
	if err != nil {
		t.Fatalf("migration file %s: no number", name)
	}
	return v
}

func TestMigrations(t *testing.T) {
	files := migrationFiles(t)
	dsn := freshSchema(t)
	ctx := t.Context()
	s, err := postgres.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	wantMigrations(t, s, files, 0)

	applied, err := s.Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != len(files) {
		t.Fatalf("first Migrate applied %+v, want all of %q", applied, files)
	}
	wantMigrations(t, s, files, len(files))
	if again, err := s.Migrate(ctx); err != nil || len(again) != 0 {
		t.Fatalf("second Migrate applied %+v, %v; want none", again, err)
	}

	reopened := openDSN(t, dsn)
	if v, err := reopened.SchemaVersion(ctx); err != nil || v != migrationNumber(files[len(files)-1]) {
		t.Fatalf("SchemaVersion after re-Open = %d, %v; want %d", v, err, migrationNumber(files[len(files)-1]))
	}
	products, err := reopened.Products(ctx)
	if err != nil || len(products) != 1 || products[0].ID != pairing.DefaultProductID {
		t.Fatalf("products after re-Open = %+v, %v; want only the default", products, err)
	}
}

// wantMigrations checks that s lists the migration files in order, the
// first applied of them applied and the rest pending.
func wantMigrations(t *testing.T, s *postgres.Store, files []string, applied int) {
	t.Helper()
	list, err := s.Migrations(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != len(files) {
		t.Fatalf("Migrations = %+v, want %d of them", list, len(files))
	}
	for i, m := range list {
		if m.Version != migrationNumber(files[i]) || m.Name != files[i] || m.AppliedAt.IsZero() != (i >= applied) {
			t.Fatalf("migration %d = %+v; want version %d from %s, applied: %v", i, m, migrationNumber(files[i]), files[i], i < applied)
		}
	}
}

// migrationNumber is the number a migration file's name starts with.
// Numbers may skip one that another line of work holds.
func migrationNumber(file string) int {
	n, _ := strconv.Atoi(strings.SplitN(file, "_", 2)[0])
	return n
}

// TestConcurrentMigrate starts several nodes on one new schema at once: the
// advisory lock must let each migration be applied exactly once, and no
// node fail.
func TestConcurrentMigrate(t *testing.T) {
	const nodes = 4
	files := migrationFiles(t)
	for _, how := range []string{"Migrate", "Open"} {
		t.Run(how, func(t *testing.T) {
			dsn := freshSchema(t)
			applied := make([][]postgres.Migration, nodes)
			errs := make([]error, nodes)
			stores := make([]*postgres.Store, nodes)
			all(nodes, func(i int) {
				if how == "Open" {
					stores[i], errs[i] = postgres.Open(t.Context(), dsn)
					return
				}
				if stores[i], errs[i] = postgres.Connect(t.Context(), dsn); errs[i] == nil {
					applied[i], errs[i] = stores[i].Migrate(t.Context())
				}
			})
			for i, s := range stores {
				if s != nil {
					defer s.Close()
				}
				if errs[i] != nil {
					t.Fatalf("node %d: %v", i, errs[i])
				}
			}
			if how == "Migrate" {
				times := map[string]int{}
				for _, list := range applied {
					for _, m := range list {
						times[m.Name]++
					}
				}
				for _, f := range files {
					if times[f] != 1 {
						t.Errorf("%s applied %d times by %d nodes starting at once, want once", f, times[f], nodes)
					}
				}
			}
			wantMigrations(t, stores[0], files, len(files))
			products, err := stores[nodes-1].Products(t.Context())
			if err != nil || len(products) != 1 {
				t.Fatalf("products = %+v, %v; want only the default", products, err)
			}
		})
	}
}

// all runs f(0) to f(n-1) in n goroutines released at once, and waits.
func all(n int, f func(i int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			f(i)
		})
	}
	close(start)
	wg.Wait()
}

func TestUserByNameAnyCase(t *testing.T) {
	s := open(t)
	u := pairing.User{ID: "u_1", Username: "Alice", PasswordHash: "x", CreatedAt: time.Unix(1, 2).UTC()}
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"Alice", "alice", "ALICE"} {
		got, err := s.UserByName(t.Context(), name)
		if err != nil || got != u {
			t.Fatalf("UserByName(%q) = %+v, %v; want %+v", name, got, err, u)
		}
	}
}

func TestAudit(t *testing.T) {
	s := open(t)
	ctx := t.Context()
	base := time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)
	entries := []pairing.AuditEntry{
		{Action: pairing.AuditProvision, Outcome: "ok", Actor: "admin", DeviceID: "dev_1"},
		{Action: pairing.AuditBind, Outcome: "ok", Actor: "user", UserID: "u_1", DeviceID: "dev_1", RemoteAddr: "192.0.2.1:1"},
		{Action: pairing.AuditBind, Outcome: "refused", Actor: "user", UserID: "u_2", DeviceID: "dev_1", Detail: "already bound"},
		{Action: pairing.AuditLogin, Outcome: "ok", Actor: "user", UserID: "u_1"},
	}
	for i := range entries {
		entries[i].At = base.Add(time.Duration(i))
		if err := s.AppendAudit(ctx, entries[i]); err != nil {
			t.Fatal(err)
		}
	}
	got, total, err := s.Audit(ctx, pairing.AuditQuery{Limit: 100})
	if err != nil || total != len(entries) || len(got) != len(entries) {
		t.Fatalf("Audit() = %d entries of %d, %v; want all %d", len(got), total, err, len(entries))
	}
	for i, e := range got {
		want := entries[len(entries)-1-i]
		want.ID = e.ID
		if e != want || (i > 0 && e.ID >= got[i-1].ID) {
			t.Fatalf("entry %d, newest first = %+v, want %+v", i, e, want)
		}
	}
	cases := []struct {
		name  string
		q     pairing.AuditQuery
		want  []int // indexes into entries, newest first
		total int
	}{
		{"Device", pairing.AuditQuery{DeviceID: "dev_1", Limit: 100}, []int{2, 1, 0}, 3},
		{"User", pairing.AuditQuery{UserID: "u_1", Limit: 100}, []int{3, 1}, 2},
		{"ActionOutcome", pairing.AuditQuery{Action: pairing.AuditBind, Outcome: "refused", Limit: 100}, []int{2}, 1},
		{"Limit", pairing.AuditQuery{DeviceID: "dev_1", Limit: 1}, []int{2}, 3},
		{"Before", pairing.AuditQuery{DeviceID: "dev_1", Before: got[1].ID, Limit: 100}, []int{1, 0}, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			page, total, err := s.Audit(ctx, tc.q)
			if err != nil || total != tc.total || len(page) != len(tc.want) {
				t.Fatalf("Audit(%+v) = %+v, total %d, %v; want entries %v of %d", tc.q, page, total, err, tc.want, tc.total)
			}
			for i, e := range page {
				if e.At != entries[tc.want[i]].At {
					t.Fatalf("Audit(%+v)[%d] = %+v, want entry %d", tc.q, i, e, tc.want[i])
				}
			}
		})
	}
}

func TestConnectRefusesBadDSN(t *testing.T) {
	_, err := postgres.Connect(t.Context(), "postgres://nbpair:s3cret@127.0.0.1:1/x?connect_timeout=5")
	if err == nil {
		t.Fatal("Connect to a closed port succeeded")
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("error %q shows the password", err)
	}
}
