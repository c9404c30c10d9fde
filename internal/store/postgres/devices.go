package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"

	"github.com/nbpair/nbpair/internal/pairing"
)

// CreateProduct implements pairing.Store.
func (s *Store) CreateProduct(ctx context.Context, p pairing.Product) error {
	_, err := s.pool.Exec(ctx, "INSERT INTO products (id, name, auto_register, plain_coap, created_at) VALUES ($1, $2, $3, $4, $5)",
		p.ID, p.Name, p.AutoRegister, p.PlainCoAP, nanos(p.CreatedAt))
	if isUnique(err) {
		return fmt.Errorf("product %q: %w", p.ID, pairing.ErrProductExists)
	}
	return err
}

func scanProduct(row scanner) (pairing.Product, error) {
	var p pairing.Product
	var created int64
	err := row.Scan(&p.ID, &p.Name, &p.AutoRegister, &p.PlainCoAP, &created)
	p.CreatedAt = fromNanos(created)
	return p, err
}

// Product implements pairing.Store.
func (s *Store) Product(ctx context.Context, id string) (pairing.Product, error) {
	p, err := scanProduct(s.pool.QueryRow(ctx, "SELECT id, name, auto_register, plain_coap, created_at FROM products WHERE id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return p, pairing.ErrProductNotExists
	}
	return p, err
}

// Products implements pairing.Store.
func (s *Store) Products(ctx context.Context) ([]pairing.Product, error) {
	rows, err := s.pool.Query(ctx, "SELECT id, name, auto_register, plain_coap, created_at FROM products ORDER BY id")
	return scanAll(rows, err, scanProduct)
}

// CreateDevice implements pairing.Store.
func (s *Store) CreateDevice(ctx context.Context, d pairing.Device) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO devices (id, product_id, imei, nb_id, name, created_at, psk_sealed)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, d.ID, d.ProductID, d.IMEI, d.NbID, d.Name, nanos(d.CreatedAt), d.SealedPSK)
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

func scanDevice(row scanner) (pairing.Device, error) {
	var d pairing.Device
	var created, first, bound int64
	err := row.Scan(&d.ID, &d.ProductID, &d.IMEI, &d.NbID, &d.Name, &created, &first,
		&d.OwnerID, &d.HomeID, &d.TimeZone, &bound, &d.SealedPSK)
	d.CreatedAt, d.FirstRegisteredAt, d.BoundAt = fromNanos(created), fromNanos(first), fromNanos(bound)
	return d, err
}

// Device implements pairing.Store.
func (s *Store) Device(ctx context.Context, id string) (pairing.Device, error) {
	d, err := scanDevice(s.pool.QueryRow(ctx, "SELECT "+deviceColumns+" FROM devices WHERE id = $1", id))
	return d, notFound(err, "device "+id)
}

// DeviceByIMEI implements pairing.Store.
func (s *Store) DeviceByIMEI(ctx context.Context, imei string) (pairing.Device, error) {
	d, err := scanDevice(s.pool.QueryRow(ctx, "SELECT "+deviceColumns+" FROM devices WHERE imei = $1", imei))
	return d, notFound(err, "device with imei "+imei)
}

// DeviceByNbID implements pairing.Store.
func (s *Store) DeviceByNbID(ctx context.Context, nbID string) (pairing.Device, error) {
	d, err := scanDevice(s.pool.QueryRow(ctx, "SELECT "+deviceColumns+" FROM devices WHERE nb_id = $1", nbID))
	return d, notFound(err, "device with that nbId")
}

// Devices implements pairing.Store.
// A listing by last seen reads each device's registration by its unique
// device_id; there is no index on last_seen, which every Update would have
// to write.
func (s *Store) Devices(ctx context.Context, q pairing.DeviceQuery) ([]pairing.Device, error) {
	prefix, contains := pairing.DeviceSearchPatterns(q.Search)
	if !q.ByLastSeen {
		rows, err := s.pool.Query(ctx, "SELECT "+deviceColumns+` FROM devices
			WHERE ($1 = '' OR product_id = $1) AND id > $2
			AND ($3 = '' OR imei LIKE $4 ESCAPE '\' OR lower(id) LIKE $4 ESCAPE '\' OR lower(name) LIKE $5 ESCAPE '\')
			ORDER BY id LIMIT $6`,
			q.ProductID, q.After, q.Search, prefix, contains, q.Limit)
		return scanAll(rows, err, scanDevice)
	}
	seen := int64(math.MaxInt64)
	if q.After != "" {
		seen = nanos(q.AfterSeen)
	}
	rows, err := s.pool.Query(ctx, "SELECT "+deviceColumns+` FROM (
			SELECT devices.*, COALESCE((SELECT last_seen FROM registrations WHERE device_id = devices.id), 0) AS seen FROM devices
			WHERE ($1 = '' OR product_id = $1)
			AND ($2 = '' OR imei LIKE $3 ESCAPE '\' OR lower(id) LIKE $3 ESCAPE '\' OR lower(name) LIKE $4 ESCAPE '\')) AS d
		WHERE seen < $5 OR (seen = $5 AND id > $6)
		ORDER BY seen DESC, id LIMIT $7`,
		q.ProductID, q.Search, prefix, contains, seen, q.After, q.Limit)
	return scanAll(rows, err, scanDevice)
}

// PendingActivationsOfUser implements pairing.Store.
func (s *Store) PendingActivationsOfUser(ctx context.Context, userID string, limit int) ([]pairing.Activation, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+activationColumns+
		" FROM activations WHERE user_id = $1 AND status = 'pending' ORDER BY created_at, id LIMIT $2", userID, limit)
	return scanAll(rows, err, scanActivation)
}

// HomeDevices implements pairing.Store.
func (s *Store) HomeDevices(ctx context.Context, homeID string) ([]pairing.Device, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+deviceColumns+" FROM devices WHERE home_id = $1 ORDER BY bound_at, id", homeID)
	return scanAll(rows, err, scanDevice)
}

// RenameDevice implements pairing.Store.
func (s *Store) RenameDevice(ctx context.Context, deviceID, name string) error {
	tag, err := s.pool.Exec(ctx, "UPDATE devices SET name = $1 WHERE id = $2", name, deviceID)
	return affectedOne(tag, err, "device "+deviceID)
}
