package pairing

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nbpair/nbpair/internal/wire"
)

// ProvisionRequest asks for a device to be provisioned.
type ProvisionRequest struct {
	IMEI      string
	ProductID string // DefaultProductID when empty
	Name      string
	// AutoRegistered is set when the device created itself by registering.
	AutoRegistered bool
}

// Provisioned is a newly provisioned device with its PSK in the clear:
// shown once, to the admin who provisions, for the factory.
type Provisioned struct {
	Device
	PSK []byte
}

// PSKIdentity is the DTLS PSK identity of the device: its endpoint name.
func (p Provisioned) PSKIdentity() string { return p.Endpoint() }

// Provision creates a device with a new device ID, pairing ID and PSK.
func (s *Service) Provision(ctx context.Context, req ProvisionRequest) (Provisioned, error) {
	d, err := s.newDevice(ctx, req)
	if err != nil {
		return Provisioned{}, err
	}
	psk := randomBytes(PSKLen)
	d.SealedPSK = s.sealer.seal(d.ID, psk)
	if err := s.store.CreateDevice(ctx, d); err != nil {
		return Provisioned{}, err
	}
	s.log.Info("device provisioned", "device_id", d.ID, "imei", d.IMEI, "product_id", d.ProductID)
	actor := "admin"
	if req.AutoRegistered {
		actor = "device"
	}
	s.audit(ctx, AuditEntry{Action: AuditProvision, Outcome: OutcomeOK, Actor: actor, DeviceID: d.ID,
		Detail: "imei " + d.IMEI + ", product " + d.ProductID})
	return Provisioned{Device: d, PSK: psk}, nil
}

// newDevice validates a provisioning request and builds its device.
func (s *Service) newDevice(ctx context.Context, req ProvisionRequest) (Device, error) {
	if req.IMEI == "" {
		return Device{}, fmt.Errorf("%w: imei is required", ErrMissing)
	}
	if !wire.ValidIMEI(req.IMEI) {
		return Device{}, fmt.Errorf("%w: imei must be 15 digits", ErrInvalid)
	}
	if req.ProductID == "" {
		req.ProductID = DefaultProductID
	}
	if err := validName("name", req.Name, 0); err != nil {
		return Device{}, err
	}
	if _, err := s.store.Product(ctx, req.ProductID); err != nil {
		return Device{}, fmt.Errorf("product %q: %w", req.ProductID, err)
	}
	d := Device{
		ID: newDeviceID(), ProductID: req.ProductID, IMEI: req.IMEI,
		NbID: newNbID(), Name: req.Name, CreatedAt: s.now().UTC(),
	}
	if d.Name == "" {
		d.Name = defaultDeviceName(req.IMEI)
	}
	return d, nil
}

// CreateProduct creates a product.
func (s *Service) CreateProduct(ctx context.Context, p Product) (Product, error) {
	if p.ID == "" || p.Name == "" {
		return Product{}, fmt.Errorf("%w: id and name are required", ErrMissing)
	}
	if err := validProductID(p.ID); err != nil {
		return Product{}, err
	}
	if err := validName("name", p.Name, 1); err != nil {
		return Product{}, err
	}
	p.CreatedAt = s.now().UTC()
	if err := s.store.CreateProduct(ctx, p); err != nil {
		return Product{}, err
	}
	return p, nil
}

// Products lists every product.
func (s *Service) Products(ctx context.Context) ([]Product, error) { return s.store.Products(ctx) }

// DeviceStatus is a device with its registration, if it has one.
type DeviceStatus struct {
	Device
	QR           string        `json:"qr"`
	ShortCode    string        `json:"shortCode"` // ShortCode of the nbId, printed under the QR
	Online       bool          `json:"online"`
	Registration *Registration `json:"registration,omitempty"`
	// Blocked is the device's block, if the device maker blocked it.
	Blocked *DeviceBlock `json:"blocked,omitempty"`
	// PSKRotation is the rotation of its key under way, if any (only
	// when one device is asked for, not in lists).
	PSKRotation *PendingPSK `json:"pskRotation,omitempty"`
}

// PendingPSK is a rotation of a device's key as the admin sees it.
type PendingPSK struct {
	StartedAt time.Time `json:"startedAt"`
	Deadline  time.Time `json:"deadline"`
}

// DeviceStatus returns the device with the given ID (or IMEI) and its
// registration.
func (s *Service) DeviceStatus(ctx context.Context, idOrIMEI string) (DeviceStatus, error) {
	var d Device
	var err error
	if wire.ValidIMEI(idOrIMEI) {
		d, err = s.store.DeviceByIMEI(ctx, idOrIMEI)
	} else {
		d, err = s.store.Device(ctx, idOrIMEI)
	}
	if err != nil {
		return DeviceStatus{}, err
	}
	st, err := s.statusOf(ctx, d)
	if err != nil {
		return DeviceStatus{}, err
	}
	switch r, err := s.store.PSKRotation(ctx, d.ID); {
	case err == nil:
		st.PSKRotation = &PendingPSK{StartedAt: r.StartedAt, Deadline: r.Deadline}
	case !isNotFound(err):
		return DeviceStatus{}, err
	}
	return st, nil
}

func (s *Service) statusOf(ctx context.Context, d Device) (DeviceStatus, error) {
	st := DeviceStatus{Device: d, QR: s.QRText(d), ShortCode: ShortCode(d.NbID)}
	if bl, ok := s.blocks.get(d.ID); ok {
		st.Blocked = &bl
	}
	r, err := s.store.RegistrationOfDevice(ctx, d.ID)
	switch {
	case err == nil:
		st.Registration = &r
		st.Online = r.Online(s.now())
	case !isNotFound(err):
		return DeviceStatus{}, err
	}
	return st, nil
}

// Devices lists devices with their registrations.
func (s *Service) Devices(ctx context.Context, q DeviceQuery) ([]DeviceStatus, error) {
	if q.Limit <= 0 || q.Limit > 1000 {
		q.Limit = 100
	}
	q.Search = strings.TrimSpace(q.Search)
	if err := checkDeviceSearch(q.Search); err != nil {
		return nil, err
	}
	devs, err := s.store.Devices(ctx, q)
	if err != nil {
		return nil, err
	}
	out := make([]DeviceStatus, 0, len(devs))
	for _, d := range devs {
		st, err := s.statusOf(ctx, d)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

func validName(field, v string, min int) error {
	n := utf8.RuneCountInString(v)
	switch {
	case !utf8.ValidString(v):
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalid, field)
	case n < min:
		return fmt.Errorf("%w: %s must not be blank", ErrInvalid, field)
	case n > 64:
		return fmt.Errorf("%w: %s is %d characters, at most 64", ErrInvalid, field, n)
	case strings.TrimSpace(v) != v:
		return fmt.Errorf("%w: %s must not start or end with spaces", ErrInvalid, field)
	}
	return nil
}

func validProductID(id string) error {
	if id == "" || len(id) > 32 {
		return fmt.Errorf("%w: product id must be 1 to 32 characters", ErrInvalid)
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("%w: product id may hold only a-z, 0-9, '-' and '_'", ErrInvalid)
		}
	}
	return nil
}
