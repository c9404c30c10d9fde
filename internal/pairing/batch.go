package pairing

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Batch is one import of a factory CSV: the devices of one product that a
// factory flashes together. Its ID is derived from its product and rows, so
// importing the same file again finds the same batch.
type Batch struct {
	ID        string    `json:"id"`
	ProductID string    `json:"productId"`
	CreatedAt time.Time `json:"createdAt"`
	// Devices is the number of rows; Created of them were provisioned by
	// this batch, Existing had been provisioned before (for this product).
	Devices  int `json:"devices"`
	Created  int `json:"created"`
	Existing int `json:"existing"`
}

// BatchDevice is a device with its serial number, as a batch lists it.
type BatchDevice struct {
	Device
	Serial string `json:"serial,omitempty"` // "" when it has none
}

// BatchEntry is one row of a batch as CreateBatch stores it.
type BatchEntry struct {
	BatchDevice
	// New is set for a device CreateBatch creates; otherwise the device
	// exists, and CreateBatch gives it the serial only if it has none.
	New bool
}

// ErrBatchExists is returned by CreateBatch for a batch ID that is taken.
var ErrBatchExists = errors.New("a batch with that ID exists")

// BatchStore holds batches and the serial numbers of devices.
type BatchStore interface {
	// CreateBatch stores b and its entries in one transaction: it creates
	// every new device (with its serial, if any), sets the serial of an
	// existing device that has none, and lists every entry's device, in
	// order, as the batch's devices. On any error it stores nothing: it
	// returns ErrBatchExists if b.ID is taken, ErrProductNotExists for an
	// unknown product, ErrDeviceExists if a new device's IMEI is taken, and
	// ErrNotFound if an existing entry's device does not exist.
	CreateBatch(ctx context.Context, b Batch, entries []BatchEntry) error
	Batch(ctx context.Context, id string) (Batch, error)
	// Batches lists every batch, newest first.
	Batches(ctx context.Context) ([]Batch, error)
	// BatchDevices returns the devices of the batch in the order of its
	// rows, with their serials; ErrNotFound if there is no such batch.
	BatchDevices(ctx context.Context, batchID string) ([]BatchDevice, error)
	// DevicesWithIMEIs returns the devices that have one of the IMEIs, with
	// their serials, in any order; unknown IMEIs are left out.
	DevicesWithIMEIs(ctx context.Context, imeis []string) ([]BatchDevice, error)
}

// batchID derives a batch's ID from its product and rows, taken in IMEI
// order so that the order of the file does not matter.
func batchID(productID string, rows []BatchRow) string {
	sorted := slices.SortedFunc(slices.Values(rows), func(a, b BatchRow) int { return strings.Compare(a.IMEI, b.IMEI) })
	h := sha256.New()
	fmt.Fprintf(h, "nbpair batch v1\n%s\n", productID)
	for _, r := range sorted {
		fmt.Fprintf(h, "%s,%s\n", r.IMEI, r.Serial) // a serial has no newline
	}
	return "bat_" + idEncoding.EncodeToString(h.Sum(nil)[:10])
}

// importContext is one batch import as it goes through its steps.
type importContext struct {
	productID string
	data      []byte
	rows      []BatchRow
	batch     Batch
	found     bool                   // the batch had been imported before
	existing  map[string]BatchDevice // the rows' devices that exist, by IMEI
	entries   []BatchEntry
}

// ImportBatch provisions the devices of a batch CSV (see ParseBatchCSV) for
// the product (DefaultProductID when empty), all or nothing: any bad row
// fails the import with a *RowsError, which lists the first few. A row
// whose IMEI is provisioned for the product already is taken as it is (its
// device keeps its IDs and PSK, and gets the row's serial if it had none);
// one provisioned for another product, or with another serial, is a bad
// row. Every new device gets its IDs and PSK as Provision gives them. The
// same file imported again (the same product and rows, in any order)
// returns the batch it made the first time and creates nothing; created
// reports whether this call made the batch.
func (s *Service) ImportBatch(ctx context.Context, productID string, data []byte) (b Batch, created bool, err error) {
	if productID == "" {
		productID = DefaultProductID
	}
	ic := &importContext{productID: productID, data: data}
	if err := s.runSteps(ctx, ic, s.parseBatch, s.checkBatchProduct); err != nil {
		return Batch{}, false, err
	}
	// A concurrent import or provisioning can take an IMEI, or the batch,
	// between the checks and the transaction; the retry then sees it.
	for attempt := 1; ; attempt++ {
		err = s.runSteps(ctx, ic, s.findBatch, s.classifyRows, s.newBatchDevices, s.storeBatch)
		if attempt == 5 || !errors.Is(err, ErrDeviceExists) && !errors.Is(err, ErrBatchExists) {
			break
		}
	}
	if err != nil {
		return Batch{}, false, err
	}
	if !ic.found {
		b := ic.batch
		s.log.Info("batch imported", "batch_id", b.ID, "product_id", productID,
			"devices", b.Devices, "created", b.Created, "existing", b.Existing)
		// One entry for the batch: one per device would cost a durable
		// write each, 10000 for a full batch.
		s.audit(ctx, AuditEntry{Action: AuditProvision, Outcome: OutcomeOK, Actor: "admin",
			Detail: fmt.Sprintf("batch %s, product %s: %d devices, %d created, %d existing", b.ID, productID, b.Devices, b.Created, b.Existing)})
	}
	return ic.batch, !ic.found, nil
}

// runSteps runs the steps of an import in order until one fails or the
// batch turns out to exist.
func (s *Service) runSteps(ctx context.Context, ic *importContext, steps ...func(context.Context, *importContext) error) error {
	for _, step := range steps {
		if ic.found {
			return nil
		}
		if err := step(ctx, ic); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) parseBatch(_ context.Context, ic *importContext) (err error) {
	ic.rows, err = ParseBatchCSV(ic.data)
	return err
}

func (s *Service) checkBatchProduct(ctx context.Context, ic *importContext) error {
	if err := validProductID(ic.productID); err != nil {
		return err
	}
	if _, err := s.store.Product(ctx, ic.productID); err != nil {
		return fmt.Errorf("product %q: %w", ic.productID, err)
	}
	return nil
}

// findBatch looks for the batch of the same product and rows.
func (s *Service) findBatch(ctx context.Context, ic *importContext) error {
	b, err := s.store.Batch(ctx, batchID(ic.productID, ic.rows))
	switch {
	case err == nil:
		ic.batch, ic.found = b, true
		return nil
	case isNotFound(err):
		return nil
	}
	return err
}

// classifyRows looks up the rows' IMEIs: a device of the product is taken
// as it is, one of another product (or with another serial, or without a
// usable PSK) makes its row bad.
func (s *Service) classifyRows(ctx context.Context, ic *importContext) error {
	imeis := make([]string, len(ic.rows))
	for i, r := range ic.rows {
		imeis[i] = r.IMEI
	}
	devs, err := s.store.DevicesWithIMEIs(ctx, imeis)
	if err != nil {
		return err
	}
	ic.existing = make(map[string]BatchDevice, len(devs))
	for _, d := range devs {
		ic.existing[d.IMEI] = d
	}
	bad := &RowsError{}
	for _, r := range ic.rows {
		d, ok := ic.existing[r.IMEI]
		switch {
		case !ok:
		case d.ProductID != ic.productID:
			bad.add(r.Line, "imei %s is provisioned for product %q, not %q", r.IMEI, d.ProductID, ic.productID)
		case r.Serial != "" && d.Serial != "" && r.Serial != d.Serial:
			bad.add(r.Line, "imei %s is provisioned with serial %s, not %s", r.IMEI, quote(d.Serial), quote(r.Serial))
		default:
			if _, err := s.sealer.open(d.ID, d.SealedPSK); err != nil {
				bad.add(r.Line, "imei %s is provisioned, but its device %s has no usable PSK", r.IMEI, d.ID)
			}
		}
	}
	if bad.Total > 0 {
		return bad
	}
	return nil
}

// newBatchDevices builds the batch's entries in the order of the rows: the
// existing devices, and new ones made and keyed as Provision makes them.
func (s *Service) newBatchDevices(ctx context.Context, ic *importContext) error {
	ic.entries = make([]BatchEntry, len(ic.rows))
	created := 0
	for i, r := range ic.rows {
		if d, ok := ic.existing[r.IMEI]; ok {
			ic.entries[i] = BatchEntry{BatchDevice: BatchDevice{Device: d.Device, Serial: r.Serial}}
			continue
		}
		d, err := s.newDevice(ctx, ProvisionRequest{IMEI: r.IMEI, ProductID: ic.productID})
		if err != nil {
			return fmt.Errorf("line %d: %w", r.Line, err)
		}
		d.SealedPSK = s.sealer.seal(d.ID, randomBytes(PSKLen))
		ic.entries[i] = BatchEntry{BatchDevice: BatchDevice{Device: d, Serial: r.Serial}, New: true}
		created++
	}
	ic.batch = Batch{
		ID: batchID(ic.productID, ic.rows), ProductID: ic.productID, CreatedAt: s.now().UTC(),
		Devices: len(ic.rows), Created: created, Existing: len(ic.rows) - created,
	}
	return nil
}

func (s *Service) storeBatch(ctx context.Context, ic *importContext) error {
	return s.store.CreateBatch(ctx, ic.batch, ic.entries)
}

// Batch returns a batch.
func (s *Service) Batch(ctx context.Context, id string) (Batch, error) { return s.store.Batch(ctx, id) }

// Batches lists every batch, newest first.
func (s *Service) Batches(ctx context.Context) ([]Batch, error) { return s.store.Batches(ctx) }

// BatchDevices returns the devices of a batch in the order of its rows.
func (s *Service) BatchDevices(ctx context.Context, id string) ([]BatchDevice, error) {
	return s.store.BatchDevices(ctx, id)
}

// FactoryRow is one device of a batch as the factory's flashing station
// needs it: its identity, its DTLS credentials and its label text.
type FactoryRow struct {
	IMEI, Serial string
	PSKIdentity  string
	PSK          []byte
	DeviceID     string
	NbID         string
	QR           string
}

// FactoryRows returns the rows of the batch's factory CSV, with every
// device's PSK opened from its sealed form: what only an admin may see.
func (s *Service) FactoryRows(ctx context.Context, id string) ([]FactoryRow, error) {
	devs, err := s.store.BatchDevices(ctx, id)
	if err != nil {
		return nil, err
	}
	rows := make([]FactoryRow, len(devs))
	for i, d := range devs {
		psk, err := s.sealer.open(d.ID, d.SealedPSK)
		if err != nil {
			return nil, fmt.Errorf("batch %s, device %s: %w", id, d.ID, err)
		}
		rows[i] = FactoryRow{
			IMEI: d.IMEI, Serial: d.Serial, PSKIdentity: d.Endpoint(), PSK: psk,
			DeviceID: d.ID, NbID: d.NbID, QR: s.QRText(d.Device),
		}
	}
	s.audit(ctx, AuditEntry{Action: AuditExportKeys, Outcome: OutcomeOK, Actor: "admin",
		Detail: fmt.Sprintf("factory CSV of batch %s: %d device keys", id, len(rows))})
	return rows, nil
}
