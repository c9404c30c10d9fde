package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/nbpair/nbpair/internal/pairing"
)

// CreateProduct implements pairing.Store.
func (s *Store) CreateProduct(ctx context.Context, p pairing.Product) error {
	_, err := s.exec(ctx, laneNormal, "INSERT INTO products (id, name, auto_register, plain_coap, created_at) VALUES (?, ?, ?, ?, ?)",
		p.ID, p.Name, p.AutoRegister, p.PlainCoAP, nanos(p.CreatedAt))
	if isUnique(err) {
		return fmt.Errorf("product %q: %w", p.ID, pairing.ErrProductExists)
	}
	return err
}

// Product implements pairing.Store.
func (s *Store) Product(ctx context.Context, id string) (pairing.Product, error) {
	var p pairing.Product
	var created int64
	err := s.rq.QueryRowContext(ctx, "SELECT id, name, auto_register, plain_coap, created_at FROM products WHERE id = ?", id).
		Scan(&p.ID, &p.Name, &p.AutoRegister, &p.PlainCoAP, &created)
	if err == sql.ErrNoRows {
		return p, pairing.ErrProductNotExists
	}
	p.CreatedAt = fromNanos(created)
	return p, err
}

// Products implements pairing.Store.
func (s *Store) Products(ctx context.Context) ([]pairing.Product, error) {
	rows, err := s.rq.QueryContext(ctx, "SELECT id, name, auto_register, plain_coap, created_at FROM products ORDER BY id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []pairing.Product
	for rows.Next() {
		var p pairing.Product
		var created int64
		if err := rows.Scan(&p.ID, &p.Name, &p.AutoRegister, &p.PlainCoAP, &created); err != nil {
			return nil, err
		}
		p.CreatedAt = fromNanos(created)
		out = append(out, p)
	}
	return out, rows.Err()
}

// CreateDevice implements pairing.Store.
func (s *Store) CreateDevice(ctx context.Context, d pairing.Device) error {
	_, err := s.exec(ctx, laneNormal, `INSERT INTO devices (id, product_id, imei, nb_id, name, created_at, psk_sealed)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, d.ID, d.ProductID, d.IMEI, d.NbID, d.Name, nanos(d.CreatedAt), d.SealedPSK)
	if isUnique(err) {
		return fmt.Errorf("imei %s: %w", d.IMEI, pairing.ErrDeviceExists)
	}
	if isForeignKey(err) {
		return fmt.Errorf("product %q: %w", d.ProductID, pairing.ErrProductNotExists)
	}
	return err
}

const deviceColumns = `id, product_id, imei, nb_id, name, created_at, COALESCE(first_registered_at, 0),
	COALESCE(owner_id, ''), COALESCE(home_id, ''), time_zone, COALESCE(bound_at, 0), psk_sealed`

func scanDevice(row interface{ Scan(...any) error }) (pairing.Device, error) {
	var d pairing.Device
	var created, first, bound int64
	err := row.Scan(&d.ID, &d.ProductID, &d.IMEI, &d.NbID, &d.Name, &created, &first,
		&d.OwnerID, &d.HomeID, &d.TimeZone, &bound, &d.SealedPSK)
	d.CreatedAt, d.FirstRegisteredAt, d.BoundAt = fromNanos(created), fromNanos(first), fromNanos(bound)
	return d, err
}

func scanDevices(rows *sql.Rows, err error) ([]pairing.Device, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []pairing.Device
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// DeviceByNbID implements pairing.Store.
func (s *Store) DeviceByNbID(ctx context.Context, nbID string) (pairing.Device, error) {
	d, err := scanDevice(s.rq.QueryRowContext(ctx, "SELECT "+deviceColumns+" FROM devices WHERE nb_id = ?", nbID))
	return s.withFirst(d), notFound(err, "device with that nbId")
}

// HomeDevices implements pairing.Store.
func (s *Store) HomeDevices(ctx context.Context, homeID string) ([]pairing.Device, error) {
	return s.withFirsts(scanDevices(s.rq.QueryContext(ctx, "SELECT "+deviceColumns+" FROM devices WHERE home_id = ? ORDER BY bound_at, id", homeID)))
}

// RenameDevice implements pairing.Store.
func (s *Store) RenameDevice(ctx context.Context, deviceID, name string) error {
	res, err := s.exec(ctx, laneNormal, "UPDATE devices SET name = ? WHERE id = ?", name, deviceID)
	return affectedOne(res, err, "device "+deviceID)
}

// affectedOne turns "no row changed" into ErrNotFound.
func affectedOne(res sql.Result, err error, what string) error {
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return notFound(sql.ErrNoRows, what)
	}
	return nil
}

// Device implements pairing.Store.
func (s *Store) Device(ctx context.Context, id string) (pairing.Device, error) {
	d, err := scanDevice(s.rq.QueryRowContext(ctx, "SELECT "+deviceColumns+" FROM devices WHERE id = ?", id))
	return s.withFirst(d), notFound(err, "device "+id)
}

// DeviceByIMEI implements pairing.Store.
func (s *Store) DeviceByIMEI(ctx context.Context, imei string) (pairing.Device, error) {
	d, err := scanDevice(s.rq.QueryRowContext(ctx, "SELECT "+deviceColumns+" FROM devices WHERE imei = ?", imei))
	return s.withFirst(d), notFound(err, "device with imei "+imei)
}

// Devices implements pairing.Store.
func (s *Store) Devices(ctx context.Context, q pairing.DeviceQuery) ([]pairing.Device, error) {
	return s.withFirsts(scanDevices(s.rq.QueryContext(ctx, "SELECT "+deviceColumns+` FROM devices
		WHERE (? = '' OR product_id = ?) AND id > ? ORDER BY id LIMIT ?`,
		q.ProductID, q.ProductID, q.After, q.Limit)))
}
