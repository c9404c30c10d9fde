package pairing

import (
	"context"
	"fmt"
	"net/url"
	"strings"
)

// ActionBindNB is the actionName of an NB-IoT device's label, as in the seed.
const ActionBindNB = "device_net_conn_bind_nb"

// MaxQRText bounds the text of a scanned code.
const MaxQRText = 2048

// ScanResult is the answer of thing.m.qrcode.parse.
type ScanResult struct {
	ActionName string     `json:"actionName"`
	ActionData ScanDevice `json:"actionData"`
}

// ScanDevice is what a label tells about its device.
type ScanDevice struct {
	ID          string `json:"id"` // the nbId
	ProductID   string `json:"productId"`
	ProductName string `json:"productName"`
	Name        string `json:"name"`
}

// ParseQRCode reads the text of a scanned label. Only labels of this cloud
// are recognised: PUBLIC_URL/nb/<nbId>.
func (s *Service) ParseQRCode(ctx context.Context, code string) (ScanResult, error) {
	nbID, err := s.nbIDFromLabel(code)
	if err != nil {
		return ScanResult{}, err
	}
	d, err := s.store.DeviceByNbID(ctx, nbID)
	if isNotFound(err) {
		s.audit(ctx, AuditEntry{Action: AuditParse, Outcome: OutcomeRefused, Actor: "user", UserID: ActingUser(ctx),
			Detail: "unknown nbId " + nbID})
		return ScanResult{}, ErrDeviceNotExist
	} else if err != nil {
		return ScanResult{}, err
	}
	p, err := s.store.Product(ctx, d.ProductID)
	if err != nil {
		return ScanResult{}, err
	}
	name := d.Name
	if d.HomeID != "" { // the name its owner gave it is theirs to see
		if _, err := s.store.Home(ctx, d.HomeID, ActingUser(ctx)); err != nil {
			name = p.Name
		}
	}
	return ScanResult{ActionName: ActionBindNB, ActionData: ScanDevice{
		ID: nbID, ProductID: p.ID, ProductName: p.Name, Name: name,
	}}, nil
}

func (s *Service) nbIDFromLabel(code string) (string, error) {
	code = strings.TrimSpace(code)
	switch {
	case code == "":
		return "", fmt.Errorf("%w: code is empty; scan the QR label on the device", ErrBlank)
	case len(code) > MaxQRText:
		return "", fmt.Errorf("%w: %d bytes, at most %d; this is not a device label", ErrQRTooLong, len(code), MaxQRText)
	}
	u, err := url.Parse(code)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("%w: the code is not a URL; scan the QR label on the device", ErrQRNotRecognised)
	}
	base, _ := url.Parse(s.opts.PublicURL)
	if !strings.EqualFold(u.Host, base.Host) || !strings.EqualFold(u.Scheme, base.Scheme) {
		return "", fmt.Errorf("%w: the label belongs to %s, not to this cloud (%s)", ErrQRNotRecognised, u.Host, base.Host)
	}
	rest, ok := strings.CutPrefix(u.Path, strings.TrimSuffix(base.Path, "/")+"/nb/")
	rest = strings.ToLower(strings.TrimSuffix(rest, "/"))
	if !ok || !ValidNbID(rest) {
		return "", fmt.Errorf("%w: the URL is of this cloud but not a device label", ErrQRNotRecognised)
	}
	return rest, nil
}
