package activator

import "time"

// The device maker's view of its fleet, as the admin API answers it. The
// field order and JSON names are the server's, so that a value encoded
// again (indented by two spaces) reads as the answer did.

// AdminDevice is a provisioned device as the device maker sees it: its
// identity, its owner while it is bound, its LwM2M registration while it
// has one, and what the maker did to it.
type AdminDevice struct {
	// ID is the cloud's device ID (DeviceModel.DevID).
	ID string `json:"id"`
	// ProductID is the device's product.
	ProductID string `json:"productId"`
	// IMEI is the device's 15-digit IMEI.
	IMEI string `json:"imei"`
	// NbID is the pairing ID printed in the device's QR label.
	NbID string `json:"nbId"`
	// Name is the device's display name, printed on its label.
	Name string `json:"name"`
	// CreatedAt is when the device was provisioned.
	CreatedAt time.Time `json:"createdAt"`
	// FirstRegisteredAt is when the device first registered; zero until
	// it has.
	FirstRegisteredAt time.Time `json:"firstRegisteredAt,omitzero"`
	// OwnerUID, HomeID, TimeZone and BoundAt are set while the device is
	// bound to a user's home.
	OwnerUID string    `json:"ownerUid,omitempty"`
	HomeID   string    `json:"homeId,omitempty"`
	TimeZone string    `json:"timeZone,omitempty"`
	BoundAt  time.Time `json:"boundAt,omitzero"`
	// QR is the text of the device's QR label.
	QR string `json:"qr"`
	// ShortCode is the code printed under the QR, which users may type.
	ShortCode string `json:"shortCode"`
	// Online reports whether the device has a live registration.
	Online bool `json:"online"`
	// Registration is the device's LwM2M registration, nil when it has
	// none.
	Registration *Registration `json:"registration,omitempty"`
	// Blocked is the device maker's block of the device, nil when it is
	// not blocked.
	Blocked *DeviceBlock `json:"blocked,omitempty"`
	// PSKRotation is the rotation of the device's key under way, if any;
	// only a single device's answer carries it, not a list.
	PSKRotation *PSKRotation `json:"pskRotation,omitempty"`
}

// Registration is a device's current LwM2M registration.
type Registration struct {
	// ID is the registration's ID, its location rd/ID.
	ID string `json:"id"`
	// DeviceID is the device's ID.
	DeviceID string `json:"deviceId"`
	// Endpoint is the LwM2M endpoint name the device registered with.
	Endpoint string `json:"endpoint"`
	// Lifetime is the registration's lifetime in seconds.
	Lifetime int `json:"lifetime"`
	// Version is the LwM2M version the device speaks, such as "1.1".
	Version string `json:"lwm2mVersion"`
	// Binding is the LwM2M binding, such as "U" or "UQ".
	Binding string `json:"binding"`
	// QueueMode reports whether the device sleeps between uplinks.
	QueueMode bool `json:"queueMode"`
	// Objects are the object links the device announced, such as "/3/0".
	Objects []string `json:"objects"`
	// Addr is the source address of the device's last uplink.
	Addr string `json:"remoteAddr"`
	// Secure reports whether the device registered over DTLS.
	Secure bool `json:"secure"`
	// ContentFormat is the content formats the device prefers, decimal
	// numbers separated by spaces; "" when it announced none.
	ContentFormat string `json:"contentFormat,omitempty"`
	// RegisteredAt is when the device registered.
	RegisteredAt time.Time `json:"registeredAt"`
	// LastSeen is when the device last sent something.
	LastSeen time.Time `json:"lastSeen"`
	// ExpiresAt is when the registration ends unless the device updates it.
	ExpiresAt time.Time `json:"expiresAt"`
}

// DeviceBlock is the device maker's block of a device: nobody may add the
// device until it is lifted.
type DeviceBlock struct {
	// DeviceID is the blocked device.
	DeviceID string `json:"devId"`
	// At is when the device was blocked.
	At time.Time `json:"at"`
	// Reason is why, if the admin said.
	Reason string `json:"reason,omitempty"`
}

// PSKRotation is a rotation of a device's DTLS key under way: the old key
// stays valid until the device uses the new one, or the Deadline.
type PSKRotation struct {
	// StartedAt is when the rotation began.
	StartedAt time.Time `json:"startedAt"`
	// Deadline is when the old key stops being valid at the latest.
	Deadline time.Time `json:"deadline"`
}

// ProvisionRequest is a device to provision.
type ProvisionRequest struct {
	// IMEI is the device's 15-digit IMEI; required.
	IMEI string `json:"imei"`
	// ProductID is the device's product; the server's default product
	// when empty.
	ProductID string `json:"productId"`
	// Name is the device's display name, printed on its label; optional.
	Name string `json:"name"`
}

// ProvisionedDevice is a device just provisioned, with its DTLS
// credentials, which the server shows this once.
type ProvisionedDevice struct {
	AdminDevice
	// PSKIdentity is the device's DTLS PSK identity.
	PSKIdentity string `json:"pskIdentity"`
	// PSK is the device's DTLS pre-shared key, in hex. Keep it secret.
	PSK string `json:"psk"`
}

// DeviceQuery selects a page of Admin.Devices. The zero value lists the
// first page by device ID with the server's default page size.
type DeviceQuery struct {
	// ProductID keeps the devices of one product.
	ProductID string
	// Search keeps the devices whose IMEI or ID starts with it or whose
	// name holds it, in any case.
	Search string
	// Limit is the page size, 1 to 1000; 0 for the server's default.
	Limit int
	// Sort is "id" (the default) or "lastSeen", the most recently seen
	// first.
	Sort string
	// After is the DevicePage.Next of the previous page, to get the next.
	After string
}

// DevicePage is a page of devices.
type DevicePage struct {
	// Devices are the page's devices.
	Devices []AdminDevice `json:"devices"`
	// Next is the DeviceQuery.After of the next page; "" when the page is
	// empty. A page shorter than the query's limit is the last.
	Next string `json:"next,omitempty"`
}

// Downlink is a message queued for a device until it is next awake.
type Downlink struct {
	// Kind is what the downlink carries: "pairing-state".
	Kind string `json:"kind"`
	// CreatedAt is when the downlink was queued.
	CreatedAt time.Time `json:"createdAt"`
	// State is the bind state it writes: "unbound", "bound" or
	// "reset-requested".
	State string `json:"state"`
	// OwnerUID, HomeID and BoundAt are the binding it writes, if bound.
	OwnerUID string    `json:"ownerUid,omitempty"`
	HomeID   string    `json:"homeId,omitempty"`
	BoundAt  time.Time `json:"boundAt,omitzero"`
}

// RotatedPSK is a device's new DTLS key, which the server shows this once.
type RotatedPSK struct {
	// ID is the device's ID.
	ID string `json:"id"`
	// PSKIdentity is the device's DTLS PSK identity, which stays.
	PSKIdentity string `json:"pskIdentity"`
	// PSK is the new key, in hex. Keep it secret.
	PSK string `json:"psk"`
	// Deadline is when the old key stops being valid at the latest.
	Deadline time.Time `json:"deadline"`
}

// DeprovisionedDevice is what is left of a deprovisioned device: which one
// went. Its IMEI may be provisioned again.
type DeprovisionedDevice struct {
	ID        string `json:"id"`
	IMEI      string `json:"imei"`
	ProductID string `json:"productId"`
}

// Batch is a factory batch: the devices of one imported CSV.
type Batch struct {
	// ID is the batch's ID.
	ID string `json:"id"`
	// ProductID is the product of the batch's devices.
	ProductID string `json:"productId"`
	// CreatedAt is when the batch was imported.
	CreatedAt time.Time `json:"createdAt"`
	// Devices is the number of rows; Created of them were provisioned by
	// this batch, Existing had been provisioned before.
	Devices  int `json:"devices"`
	Created  int `json:"created"`
	Existing int `json:"existing"`
}

// LabelSheet is one printable page of a batch's labels.
type LabelSheet struct {
	// PNG is the page as a PNG image.
	PNG []byte
	// Page is the page's number, from 1, and Pages how many the batch's
	// labels fill.
	Page, Pages int
}

// AuditQuery selects entries of the audit log, newest first. The zero
// value asks for the server's default number of entries of every kind.
type AuditQuery struct {
	// DeviceID and UID keep the entries of one device or one user.
	DeviceID, UID string
	// Action keeps one action, such as "provision" or "bind"; Outcome one
	// outcome: "ok", "refused" or "dropped".
	Action, Outcome string
	// Limit is how many entries, 1 to 1000; 0 for the server's default.
	Limit int
	// Before is the AuditPage.Next of the previous page, to get older
	// entries.
	Before int64
}

// AuditPage is a page of the audit log.
type AuditPage struct {
	// Entries are the page's entries, newest first.
	Entries []AuditEntry `json:"entries"`
	// Next is the AuditQuery.Before of the next (older) page; 0 when the
	// page is empty.
	Next int64 `json:"next,omitempty"`
	// Total is how many entries match the query, on every page.
	Total int `json:"total"`
}

// AuditEntry is one action the audit log recorded.
type AuditEntry struct {
	// ID is the entry's number; later entries have greater ones.
	ID int64 `json:"id"`
	// At is when it happened.
	At time.Time `json:"at"`
	// Action is what happened, such as "provision", "bind" or "block".
	Action string `json:"action"`
	// Outcome is "ok", "refused" or "dropped".
	Outcome string `json:"outcome"`
	// Actor is who acted: "admin", "user", "device" or "system".
	Actor string `json:"actor"`
	// UID and DeviceID are the user and the device concerned, if any.
	UID      string `json:"uid,omitempty"`
	DeviceID string `json:"devId,omitempty"`
	// RemoteAddr is the address the request came from, if any.
	RemoteAddr string `json:"remoteAddr,omitempty"`
	// Detail says more, for people.
	Detail string `json:"detail,omitempty"`
}

// Webhook is an address the server POSTs the fleet's events to.
type Webhook struct {
	// ID is the webhook's ID.
	ID string `json:"id"`
	// URL is where events are POSTed.
	URL string `json:"url"`
	// Events are the event types sent, such as "device.bound".
	Events []string `json:"events"`
	// CreatedAt is when the webhook was created.
	CreatedAt time.Time `json:"createdAt"`
	// Secret signs the deliveries (X-Nbpair-Signature: sha256=HMAC-SHA256
	// of the body); only the answer of CreateWebhook carries it.
	Secret string `json:"secret,omitempty"`
}

// DeliveryQuery selects attempts of a webhook's delivery log, newest first.
type DeliveryQuery struct {
	// Limit is how many attempts, 1 to 1000; 0 for the server's default
	// (100).
	Limit int
	// Before is the Seq of the oldest attempt of the previous page, to get
	// older ones.
	Before int64
}

// Delivery is one attempt to deliver an event to a webhook.
type Delivery struct {
	// Seq is the attempt's number in the log.
	Seq int64 `json:"seq"`
	// EventID, Type and DeviceID name the event.
	EventID  string `json:"eventId"`
	Type     string `json:"type"`
	DeviceID string `json:"deviceId"`
	// Attempt counts the attempts of this event, from 1.
	Attempt int `json:"attempt"`
	// At is when the attempt was made.
	At time.Time `json:"at"`
	// StatusCode is the receiver's HTTP status; 0 when it did not answer.
	StatusCode int `json:"statusCode,omitempty"`
	// Error says why the attempt failed, if it did.
	Error string `json:"error,omitempty"`
	// Outcome is "delivered" (a 2xx answer), "retry" (it will be tried
	// again) or "expired" (given up).
	Outcome string `json:"outcome"`
	// DurationMs is how long the attempt took, in milliseconds.
	DurationMs float64 `json:"durationMs"`
}

// Dashboard is the fleet's activity over the last day, minute by minute.
type Dashboard struct {
	// Series describe the values of each minute, in their order.
	Series []DashboardSeries `json:"series"`
	// SampleSeconds is how often the minute in progress is sampled.
	SampleSeconds int `json:"sampleSeconds"`
	// Minutes are the closed minutes, oldest first, at most a day.
	Minutes []DashboardMinute `json:"minutes"`
	// Now is the minute in progress.
	Now DashboardMinute `json:"now"`
}

// DashboardSeries describes one series of the dashboard.
type DashboardSeries struct {
	// Key is the series' stable name, such as "online" or "paired".
	Key string `json:"key"`
	// Kind is "gauge" (a count at the minute's end) or "count" (how many
	// in the minute).
	Kind string `json:"kind"`
	// Code and Name are the error an app sees for a failure series.
	Code int    `json:"code,omitempty"`
	Name string `json:"name,omitempty"`
	// Label is the series' title for people.
	Label string `json:"label"`
}

// DashboardMinute is one minute of the dashboard.
type DashboardMinute struct {
	// Start is the minute's start in Unix seconds.
	Start int64 `json:"t"`
	// Values are the minute's values, one per series.
	Values []uint32 `json:"v"`
}
