package pairing

import (
	"context"

	"github.com/nbpair/nbpair/internal/wire"
)

// LabelText is what a device's printed label says: the text of its QR code
// and, for people, its product, its name or serial, and its short code.
type LabelText struct {
	DeviceID  string
	QR        string // PUBLIC_URL/nb/<nbId>, the code's text, printed too
	Product   string // the product's name
	Name      string // the device's name, or "S/N <serial>" if it has none
	ShortCode string // ShortCode of its nbId, to type instead of scanning
}

// DeviceLabel returns the label of one device, by ID or IMEI.
func (s *Service) DeviceLabel(ctx context.Context, idOrIMEI string) (LabelText, error) {
	var d Device
	var err error
	if wire.ValidIMEI(idOrIMEI) {
		d, err = s.store.DeviceByIMEI(ctx, idOrIMEI)
	} else {
		d, err = s.store.Device(ctx, idOrIMEI)
	}
	if err != nil {
		return LabelText{}, err
	}
	withSerial, err := s.store.DevicesWithIMEIs(ctx, []string{d.IMEI})
	if err != nil {
		return LabelText{}, err
	}
	bd := BatchDevice{Device: d}
	if len(withSerial) == 1 {
		bd.Serial = withSerial[0].Serial
	}
	labels, err := s.Labels(ctx, []BatchDevice{bd})
	if err != nil {
		return LabelText{}, err
	}
	return labels[0], nil
}

// Labels returns the labels of devices, in their order.
func (s *Service) Labels(ctx context.Context, devs []BatchDevice) ([]LabelText, error) {
	products := map[string]string{}
	out := make([]LabelText, len(devs))
	for i, d := range devs {
		name, ok := products[d.ProductID]
		if !ok {
			p, err := s.store.Product(ctx, d.ProductID)
			if err != nil {
				return nil, err
			}
			name, products[d.ProductID] = p.Name, p.Name
		}
		out[i] = LabelText{DeviceID: d.ID, QR: s.QRText(d.Device), Product: name, Name: d.Name, ShortCode: ShortCode(d.NbID)}
		if d.Name == "" && d.Serial != "" {
			out[i].Name = "S/N " + d.Serial
		}
	}
	return out, nil
}
