package activator

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// The device maker's calls on devices. A device is named by its ID or its
// IMEI; an unknown one is a CodeNotFound error.

// Provision provisions a device: the answer carries its label's QR text
// and short code, and its DTLS credentials, which the server shows this
// once. An IMEI provisioned already is a CodeAlreadyExists error.
func (a *Admin) Provision(ctx context.Context, r ProvisionRequest) (ProvisionedDevice, error) {
	var d ProvisionedDevice
	err := a.do(ctx, http.MethodPost, "/v1/admin/devices", r, &d)
	return d, err
}

// Devices lists a page of the provisioned devices.
func (a *Admin) Devices(ctx context.Context, q DeviceQuery) (DevicePage, error) {
	v := url.Values{}
	setNonEmpty(v, "productId", q.ProductID)
	setNonEmpty(v, "q", q.Search)
	setNonEmpty(v, "sort", q.Sort)
	setNonEmpty(v, "after", q.After)
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var p DevicePage
	err := a.do(ctx, http.MethodGet, withQuery("/v1/admin/devices", v), nil, &p)
	return p, err
}

// Device returns a device with its registration, block and key rotation.
func (a *Admin) Device(ctx context.Context, idOrIMEI string) (AdminDevice, error) {
	var d AdminDevice
	err := a.do(ctx, http.MethodGet, devicePath(idOrIMEI), nil, &d)
	return d, err
}

// Downlinks lists what is queued for a device until it is next awake.
func (a *Admin) Downlinks(ctx context.Context, idOrIMEI string) ([]Downlink, error) {
	var out struct {
		Downlinks []Downlink `json:"downlinks"`
	}
	err := a.do(ctx, http.MethodGet, devicePath(idOrIMEI)+"/downlinks", nil, &out)
	return out.Downlinks, err
}

// DeviceLabel returns the device's label card as a PNG image: its QR code
// and under it the product, the device's name, its short code and URL.
// width is the card's width in pixels, 300 to 4096, or 0 for the server's
// default; the height follows.
func (a *Admin) DeviceLabel(ctx context.Context, idOrIMEI string, width int) ([]byte, error) {
	v := url.Values{}
	if width != 0 {
		v.Set("size", strconv.Itoa(width))
	}
	resp, err := a.c.send(ctx, http.MethodGet, withQuery(devicePath(idOrIMEI)+"/label.png", v), nil, "image/png")
	if err != nil {
		return nil, err
	}
	return readCapped(resp, maxImage, "label card")
}

// BlockDevice blocks a device: nobody may add it (a bind of it is a
// CodeDeviceBlocked error) until UnblockDevice. reason, at most 200
// characters, goes to the audit log and the device's state. The device's
// owner, if it has one, keeps it.
func (a *Admin) BlockDevice(ctx context.Context, idOrIMEI, reason string) (AdminDevice, error) {
	var d AdminDevice
	err := a.do(ctx, http.MethodPut, devicePath(idOrIMEI)+"/block", map[string]string{"reason": reason}, &d)
	return d, err
}

// UnblockDevice lifts the block of a device.
func (a *Admin) UnblockDevice(ctx context.Context, idOrIMEI string) (AdminDevice, error) {
	var d AdminDevice
	err := a.do(ctx, http.MethodDelete, devicePath(idOrIMEI)+"/block", nil, &d)
	return d, err
}

// ForceUnbind unbinds a device from its owner's home, as its owner's
// RemoveDevice would; a device without an owner is a CodeDeviceNotBound
// error.
func (a *Admin) ForceUnbind(ctx context.Context, idOrIMEI string) (AdminDevice, error) {
	var d AdminDevice
	err := a.do(ctx, http.MethodPost, devicePath(idOrIMEI)+"/unbind", nil, &d)
	return d, err
}

// Deprovision removes a device for good; its IMEI may be provisioned again.
func (a *Admin) Deprovision(ctx context.Context, idOrIMEI string) (DeprovisionedDevice, error) {
	var d DeprovisionedDevice
	err := a.do(ctx, http.MethodDelete, devicePath(idOrIMEI), nil, &d)
	return d, err
}

// RotatePSK gives a device a new DTLS key, shown this once: the server
// hands it to the device, and the old key stays valid until the device
// uses the new one, or for deadline at most (0 for the server's default of
// seven days).
func (a *Admin) RotatePSK(ctx context.Context, idOrIMEI string, deadline time.Duration) (RotatedPSK, error) {
	body := map[string]string{}
	if deadline != 0 {
		body["deadline"] = deadline.String()
	}
	var r RotatedPSK
	err := a.do(ctx, http.MethodPost, devicePath(idOrIMEI)+"/psk", body, &r)
	return r, err
}

func devicePath(idOrIMEI string) string { return "/v1/admin/devices/" + url.PathEscape(idOrIMEI) }

// setNonEmpty sets the parameter k of v to s unless s is empty.
func setNonEmpty(v url.Values, k, s string) {
	if s != "" {
		v.Set(k, s)
	}
}

// withQuery is path with the query v, if any.
func withQuery(path string, v url.Values) string {
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}
