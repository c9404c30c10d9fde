package pairing

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/nbpair/nbpair/internal/wire"
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

// ParseQRCode reads the text of a scanned or typed label. Only labels of
// this cloud are recognised: PUBLIC_URL/nb/<nbId>, the short code printed
// under the QR (see ShortCode), or the bare nbId. An IMEI is refused with
// ErrQRIsIMEI, since it is printed on labels too but pairs nothing.
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
	if wire.ValidIMEI(strings.NewReplacer(" ", "", "-", "").Replace(code)) {
		return "", fmt.Errorf("%w: type the code under the QR, not the IMEI; the code is 7 groups of 4 letters and digits (XXXX-XXXX-…), or scan the QR", ErrQRIsIMEI)
	}
	if id, ok, err := nbIDFromShortCode(code); ok {
		if err != nil {
			return "", fmt.Errorf("%w: the code under the QR does not check out; a character is mistyped, compare it with the label", ErrQRNotRecognised)
		}
		return id, nil
	}
	if ValidNbID(strings.ToLower(code)) { // the nbId itself, as the admin tools print it
		return strings.ToLower(code), nil
	}
	u, err := url.Parse(code)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("%w: the code is neither the label's URL nor the code printed under the QR (7 groups of 4 letters and digits); scan the QR label on the device", ErrQRNotRecognised)
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
