package pairing

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors of the domain. Stores map their driver errors to these;
// the HTTP and CoAP edges map these to status codes.
var (
	ErrNotFound         = errors.New("not found")
	ErrDeviceExists     = errors.New("a device with that IMEI is already provisioned")
	ErrProductExists    = errors.New("a product with that ID already exists")
	ErrProductNotExists = errors.New("no such product")
	ErrUnknownEndpoint  = errors.New("unknown endpoint")
	ErrInvalid          = errors.New("invalid parameter")
	ErrMissing          = errors.New("missing parameter")
)

// Store is the durable state the domain needs. Every method that returns
// without error has made its change durable.
type Store interface {
	CreateProduct(ctx context.Context, p Product) error
	Product(ctx context.Context, id string) (Product, error)
	Products(ctx context.Context) ([]Product, error)

	CreateDevice(ctx context.Context, d Device) error
	Device(ctx context.Context, id string) (Device, error)
	DeviceByIMEI(ctx context.Context, imei string) (Device, error)
	Devices(ctx context.Context, q DeviceQuery) ([]Device, error)

	// Register stores r as the device's only registration, replacing any
	// earlier one, and sets the device's FirstRegisteredAt if it was zero.
	// It reports whether this was the device's first registration ever.
	Register(ctx context.Context, r Registration) (first bool, err error)
	Registration(ctx context.Context, id string) (Registration, error)
	RegistrationOfDevice(ctx context.Context, deviceID string) (Registration, error)
	// UpdateRegistration stores an updated registration (same ID).
	UpdateRegistration(ctx context.Context, r Registration) error
	DeleteRegistration(ctx context.Context, id string) (Registration, error)
	// DeleteExpired removes registrations that expired at or before now and
	// returns them, at most limit of them.
	DeleteExpired(ctx context.Context, now time.Time, limit int) ([]Registration, error)

	// PutDownlink queues d, replacing a queued downlink of the same device
	// and kind.
	PutDownlink(ctx context.Context, d Downlink) error
	Downlinks(ctx context.Context, deviceID string) ([]Downlink, error)
	// DeleteDownlink removes the device's downlink of that kind if it was
	// created at or before createdAt, so that a newer one survives.
	DeleteDownlink(ctx context.Context, deviceID string, kind DownlinkKind, createdAt time.Time) error

	Close() error
}

// DeviceQuery selects devices to list.
type DeviceQuery struct {
	ProductID string
	// After is the ID of the last device of the previous page.
	After string
	Limit int
}
