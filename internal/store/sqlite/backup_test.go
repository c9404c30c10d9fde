package sqlite_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/nbpair/nbpair/internal/pairing"
	"github.com/nbpair/nbpair/internal/store/sqlite"
)

// restore copies the backup file into a new data directory and opens it
// there, as an operator restoring it would.
func restore(t *testing.T, backup string) *sqlite.Store {
	t.Helper()
	b, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, sqlite.FileName), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return open(t, dir)
}

func backupDevice(n int) pairing.Device {
	return pairing.Device{ID: fmt.Sprintf("dev_backup%d", n), ProductID: pairing.DefaultProductID,
		IMEI: fmt.Sprintf("35693803%07d", n), NbID: fmt.Sprintf("%032x", n+1), Name: "Backed up",
		CreatedAt: time.Unix(1700000000, 0).UTC()}
}

func TestBackupKeepsData(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s := open(t, dir)
	d := backupDevice(0)
	r := pairing.Registration{ID: "regb", DeviceID: d.ID, Endpoint: d.Endpoint(), Lifetime: 86400,
		Version: "1.1", Binding: "U", Objects: []string{"/3/0"}, Addr: "198.51.100.7:56830",
		RegisteredAt: d.CreatedAt.Add(time.Minute), LastSeen: d.CreatedAt.Add(time.Minute),
		ExpiresAt: d.CreatedAt.Add(25 * time.Hour)}
	if err := s.CreateDevice(ctx, d); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Register(ctx, r); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "copy.db")
	if err := sqlite.Backup(ctx, dir, dst); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dst); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup file: %v, %v; want mode 0600", fi, err)
	}

	c := restore(t, dst)
	d.FirstRegisteredAt = r.RegisteredAt
	got, err := c.DeviceByIMEI(ctx, d.IMEI)
	if err != nil || !reflect.DeepEqual(got, d) {
		t.Fatalf("device in the backup = %+v, %v; want %+v", got, err, d)
	}
	gotR, err := c.RegistrationOfDevice(ctx, d.ID)
	if err != nil || !reflect.DeepEqual(gotR, r) {
		t.Fatalf("registration in the backup = %+v, %v; want %+v", gotR, err, r)
	}
}

func TestBackupWhileWriting(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s := open(t, dir)
	if err := s.CreateDevice(ctx, backupDevice(0)); err != nil {
		t.Fatal(err)
	}
	const writes = 300
	done := make(chan error, 1)
	go func() {
		for i := 1; i <= writes; i++ {
			if err := s.CreateDevice(ctx, backupDevice(i)); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	dst := filepath.Join(t.TempDir(), "copy.db")
	err := sqlite.Backup(ctx, dir, dst)
	if werr := <-done; werr != nil {
		t.Fatalf("writer: %v", werr)
	}
	if err != nil {
		t.Fatalf("Backup while writing: %v", err)
	}
	c := restore(t, dst)
	if _, err := c.DeviceByIMEI(ctx, backupDevice(0).IMEI); err != nil {
		t.Fatalf("the device written before the backup: %v", err)
	}
}

func TestBackupRefusesExistingFile(t *testing.T) {
	dir := t.TempDir()
	open(t, dir)
	dst := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(dst, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := sqlite.Backup(t.Context(), dir, dst); err == nil {
		t.Fatal("Backup over an existing file: no error")
	}
	if b, _ := os.ReadFile(dst); string(b) != "keep me" {
		t.Errorf("the existing file was changed: %q", b)
	}
}

func TestBackupWithoutDatabase(t *testing.T) {
	dir := t.TempDir()
	dst := filepath.Join(t.TempDir(), "copy.db")
	err := sqlite.Backup(t.Context(), dir, dst)
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Backup of an empty directory: %v; want not exist", err)
	}
	if _, err := os.Stat(filepath.Join(dir, sqlite.FileName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Backup created a database in the data directory")
	}
	if _, err := os.Stat(dst); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Backup left %s behind", dst)
	}
}
