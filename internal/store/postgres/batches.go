package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/nbpair/nbpair/internal/pairing"
)

// CreateBatch implements pairing.BatchStore: the batch, its new devices,
// the serials of its existing ones and its list of devices, in one
// transaction. Each step is one statement over arrays of the entries'
// fields, so a batch of any size takes four round trips.
func (s *Store) CreateBatch(ctx context.Context, b pairing.Batch, entries []pairing.BatchEntry) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO batches (id, product_id, created_at, devices, created, existing)
			VALUES ($1, $2, $3, $4, $5, $6)`, b.ID, b.ProductID, nanos(b.CreatedAt), b.Devices, b.Created, b.Existing)
		switch {
		case isUnique(err):
			return fmt.Errorf("batch %s: %w", b.ID, pairing.ErrBatchExists)
		case isForeignKey(err):
			return fmt.Errorf("product %q: %w", b.ProductID, pairing.ErrProductNotExists)
		case err != nil:
			return err
		}
		if err := insertBatchDevices(ctx, tx, entries); err != nil {
			return fmt.Errorf("batch %s: %w", b.ID, err)
		}
		if err := setBatchSerials(ctx, tx, entries); err != nil {
			return err
		}
		return listBatchDevices(ctx, tx, b.ID, entries)
	})
}

// insertBatchDevices creates the new devices of the entries, with their
// serials (NULL for none).
func insertBatchDevices(ctx context.Context, tx pgx.Tx, entries []pairing.BatchEntry) error {
	var ids, products, imeis, nbIDs, names, serials []string
	var created []int64
	var psks [][]byte
	for _, e := range entries {
		if !e.New {
			continue
		}
		d := e.Device
		ids, products, imeis, nbIDs = append(ids, d.ID), append(products, d.ProductID), append(imeis, d.IMEI), append(nbIDs, d.NbID)
		names, serials = append(names, d.Name), append(serials, e.Serial)
		created, psks = append(created, nanos(d.CreatedAt)), append(psks, d.SealedPSK)
	}
	if len(ids) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO devices (id, product_id, imei, nb_id, name, created_at, psk_sealed, serial)
		SELECT id, product_id, imei, nb_id, name, created_at, psk_sealed, NULLIF(serial, '')
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bytea[], $8::text[])
			AS e (id, product_id, imei, nb_id, name, created_at, psk_sealed, serial)`,
		ids, products, imeis, nbIDs, names, created, psks, serials)
	switch {
	case isUnique(err):
		return fmt.Errorf("%s: %w", detail(err), pairing.ErrDeviceExists)
	case isForeignKey(err):
		return fmt.Errorf("%s: %w", detail(err), pairing.ErrProductNotExists)
	}
	return err
}

// setBatchSerials gives each existing device of the entries that has no
// serial the first serial an entry names for it.
func setBatchSerials(ctx context.Context, tx pgx.Tx, entries []pairing.BatchEntry) error {
	var ids, serials []string
	for _, e := range entries {
		if !e.New && e.Serial != "" {
			ids, serials = append(ids, e.ID), append(serials, e.Serial)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `UPDATE devices SET serial = e.serial
		FROM (SELECT DISTINCT ON (id) id, serial FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS e (id, serial, position)
			ORDER BY id, position) AS e
		WHERE devices.id = e.id AND devices.serial IS NULL`, ids, serials)
	return err
}

// listBatchDevices lists every entry's device, in order, as the batch's.
func listBatchDevices(ctx context.Context, tx pgx.Tx, batchID string, entries []pairing.BatchEntry) error {
	ids := make([]string, len(entries))
	for i, e := range entries {
		ids[i] = e.ID
	}
	_, err := tx.Exec(ctx, `INSERT INTO batch_devices (batch_id, position, device_id)
		SELECT $1, position - 1, device_id FROM unnest($2::text[]) WITH ORDINALITY AS e (device_id, position)`,
		batchID, ids)
	if isForeignKey(err) {
		return fmt.Errorf("batch %s: %s: %w", batchID, detail(err), pairing.ErrNotFound)
	}
	return err
}

// detail is PostgreSQL's detail of a constraint violation, such as
// "Key (imei)=(…) already exists.".
func detail(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Detail != "" {
		return pe.Detail
	}
	return err.Error()
}

const batchColumns = "id, product_id, created_at, devices, created, existing"

func scanBatch(row scanner) (pairing.Batch, error) {
	var b pairing.Batch
	var created int64
	err := row.Scan(&b.ID, &b.ProductID, &created, &b.Devices, &b.Created, &b.Existing)
	b.CreatedAt = fromNanos(created)
	return b, err
}

// Batch implements pairing.BatchStore.
func (s *Store) Batch(ctx context.Context, id string) (pairing.Batch, error) {
	b, err := scanBatch(s.pool.QueryRow(ctx, "SELECT "+batchColumns+" FROM batches WHERE id = $1", id))
	return b, notFound(err, "batch "+id)
}

// Batches implements pairing.BatchStore.
func (s *Store) Batches(ctx context.Context) ([]pairing.Batch, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+batchColumns+" FROM batches ORDER BY created_at DESC, id")
	return scanAll(rows, err, scanBatch)
}

// BatchDevices implements pairing.BatchStore.
func (s *Store) BatchDevices(ctx context.Context, batchID string) ([]pairing.BatchDevice, error) {
	if _, err := s.Batch(ctx, batchID); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, "SELECT "+deviceColumns+`, COALESCE(serial, '')
		FROM batch_devices JOIN devices ON devices.id = batch_devices.device_id
		WHERE batch_id = $1 ORDER BY position`, batchID)
	return scanAll(rows, err, scanBatchDevice)
}

// DevicesWithIMEIs implements pairing.BatchStore. The IMEIs go in as one
// array, so that any number of them takes one query.
func (s *Store) DevicesWithIMEIs(ctx context.Context, imeis []string) ([]pairing.BatchDevice, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+deviceColumns+`, COALESCE(serial, '')
		FROM devices WHERE imei = ANY($1::text[])`, imeis)
	return scanAll(rows, err, scanBatchDevice)
}

// withSerial scans a device row followed by its serial through scanDevice.
type withSerial struct {
	row    scanner
	serial *string
}

func (w withSerial) Scan(dest ...any) error { return w.row.Scan(append(dest, w.serial)...) }

func scanBatchDevice(row scanner) (pairing.BatchDevice, error) {
	var bd pairing.BatchDevice
	var err error
	bd.Device, err = scanDevice(withSerial{row, &bd.Serial})
	return bd, err
}
