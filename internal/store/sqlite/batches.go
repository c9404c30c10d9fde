package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/nbpair/nbpair/internal/pairing"
)

// CreateBatch implements pairing.BatchStore: the batch, its new devices,
// the serials of its existing ones and its list of devices, in one
// transaction.
func (s *Store) CreateBatch(ctx context.Context, b pairing.Batch, entries []pairing.BatchEntry) error {
	return s.inTx(ctx, func(tx wtx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO batches (id, product_id, created_at, devices, created, existing)
			VALUES (?, ?, ?, ?, ?, ?)`, b.ID, b.ProductID, nanos(b.CreatedAt), b.Devices, b.Created, b.Existing)
		switch {
		case isUnique(err):
			return fmt.Errorf("batch %s: %w", b.ID, pairing.ErrBatchExists)
		case isForeignKey(err):
			return fmt.Errorf("product %q: %w", b.ProductID, pairing.ErrProductNotExists)
		case err != nil:
			return err
		}
		// Uninterruptible, like wtx's statements; a cancelled batch stops
		// between entries instead, and its savepoint undoes it.
		run := context.WithoutCancel(ctx)
		st, err := prepareBatchStatements(run, tx.Tx)
		if err != nil {
			return err
		}
		defer st.close()
		for i, e := range entries {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := st.add(run, b.ID, i, e); err != nil {
				return err
			}
		}
		return nil
	})
}

// batchStatements are the statements CreateBatch runs for each entry.
type batchStatements struct {
	insertDevice, setSerial, addToBatch *sql.Stmt
}

func prepareBatchStatements(ctx context.Context, tx *sql.Tx) (*batchStatements, error) {
	var st batchStatements
	var err error
	prep := func(query string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var stmt *sql.Stmt
		stmt, err = tx.PrepareContext(ctx, query)
		return stmt
	}
	st.insertDevice = prep(`INSERT INTO devices (id, product_id, imei, nb_id, name, created_at, psk_sealed, serial)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	st.setSerial = prep("UPDATE devices SET serial = ? WHERE id = ? AND serial IS NULL")
	st.addToBatch = prep("INSERT INTO batch_devices (batch_id, position, device_id) VALUES (?, ?, ?)")
	if err != nil {
		st.close()
		return nil, err
	}
	return &st, nil
}

func (st *batchStatements) close() {
	for _, s := range []*sql.Stmt{st.insertDevice, st.setSerial, st.addToBatch} {
		if s != nil {
			s.Close()
		}
	}
}

// add stores one entry of the batch at position i.
func (st *batchStatements) add(ctx context.Context, batchID string, i int, e pairing.BatchEntry) error {
	d := e.Device
	var err error
	switch {
	case e.New:
		_, err = st.insertDevice.ExecContext(ctx, d.ID, d.ProductID, d.IMEI, d.NbID, d.Name, nanos(d.CreatedAt),
			d.SealedPSK, nullString(e.Serial))
	case e.Serial != "":
		_, err = st.setSerial.ExecContext(ctx, e.Serial, d.ID)
	}
	switch {
	case isUnique(err):
		return fmt.Errorf("imei %s: %w", d.IMEI, pairing.ErrDeviceExists)
	case isForeignKey(err):
		return fmt.Errorf("product %q: %w", d.ProductID, pairing.ErrProductNotExists)
	case err != nil:
		return err
	}
	_, err = st.addToBatch.ExecContext(ctx, batchID, i, d.ID)
	if isForeignKey(err) {
		return fmt.Errorf("device %s of batch %s: %w", d.ID, batchID, pairing.ErrNotFound)
	}
	return err
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

const batchColumns = "id, product_id, created_at, devices, created, existing"

func scanBatch(row interface{ Scan(...any) error }) (pairing.Batch, error) {
	var b pairing.Batch
	var created int64
	err := row.Scan(&b.ID, &b.ProductID, &created, &b.Devices, &b.Created, &b.Existing)
	b.CreatedAt = fromNanos(created)
	return b, err
}

// Batch implements pairing.BatchStore.
func (s *Store) Batch(ctx context.Context, id string) (pairing.Batch, error) {
	b, err := scanBatch(s.rq.QueryRowContext(ctx, "SELECT "+batchColumns+" FROM batches WHERE id = ?", id))
	return b, notFound(err, "batch "+id)
}

// Batches implements pairing.BatchStore.
func (s *Store) Batches(ctx context.Context) ([]pairing.Batch, error) {
	rows, err := s.rq.QueryContext(ctx, "SELECT "+batchColumns+" FROM batches ORDER BY created_at DESC, id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []pairing.Batch
	for rows.Next() {
		b, err := scanBatch(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// BatchDevices implements pairing.BatchStore.
func (s *Store) BatchDevices(ctx context.Context, batchID string) ([]pairing.BatchDevice, error) {
	if _, err := s.Batch(ctx, batchID); err != nil {
		return nil, err
	}
	return s.scanBatchDevices(s.rq.QueryContext(ctx, "SELECT "+deviceColumns+`, COALESCE(serial, '')
		FROM batch_devices JOIN devices ON devices.id = batch_devices.device_id
		WHERE batch_id = ? ORDER BY position`, batchID))
}

// DevicesWithIMEIs implements pairing.BatchStore. The IMEIs go in as one
// JSON array, so that any number of them takes one query.
func (s *Store) DevicesWithIMEIs(ctx context.Context, imeis []string) ([]pairing.BatchDevice, error) {
	list, err := json.Marshal(imeis)
	if err != nil {
		return nil, err
	}
	return s.scanBatchDevices(s.rq.QueryContext(ctx, "SELECT "+deviceColumns+`, COALESCE(serial, '')
		FROM devices WHERE imei IN (SELECT value FROM json_each(?))`, string(list)))
}

// withSerial scans a device row followed by its serial through scanDevice.
type withSerial struct {
	row    interface{ Scan(...any) error }
	serial *string
}

func (w withSerial) Scan(dest ...any) error { return w.row.Scan(append(dest, w.serial)...) }

func (s *Store) scanBatchDevices(rows *sql.Rows, err error) ([]pairing.BatchDevice, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []pairing.BatchDevice
	for rows.Next() {
		var bd pairing.BatchDevice
		bd.Device, err = scanDevice(withSerial{rows, &bd.Serial})
		if err != nil {
			return nil, err
		}
		bd.Device = s.withFirst(bd.Device)
		out = append(out, bd)
	}
	return out, rows.Err()
}
