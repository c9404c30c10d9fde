// Package pairing is nbpair's domain: products, provisioned devices, their
// LwM2M registrations, the events device messages become, and the tasks those
// events trigger. It knows nothing of CoAP or HTTP; it declares the Store,
// Bus and Downlinker it needs and the sentinel errors the edges translate.
package pairing

import (
	"strconv"
	"strings"
	"time"

	"github.com/nbpair/nbpair/internal/lwm2m/wire"
)

// Product is a kind of device a maker builds.
type Product struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// AutoRegister lets devices of this product that were never provisioned
	// create themselves when they first register (they send pid=<ID>).
	AutoRegister bool      `json:"autoRegister"`
	CreatedAt    time.Time `json:"createdAt"`
}

// DefaultProductID is the product created with a new store, so that a device
// can be provisioned before any product is set up.
const DefaultProductID = "default"

// Device is a provisioned device: its identity and how the cloud knows it.
type Device struct {
	ID        string `json:"id"`
	ProductID string `json:"productId"`
	IMEI      string `json:"imei"`
	// NbID is the pairing ID printed in the QR label: 128 random bits in hex.
	NbID      string    `json:"nbId"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
	// FirstRegisteredAt is zero until the device first registers.
	FirstRegisteredAt time.Time `json:"firstRegisteredAt,omitzero"`
}

// Endpoint is the LwM2M endpoint name the device registers with.
func (d Device) Endpoint() string { return wire.EndpointForIMEI(d.IMEI) }

// Registration is a device's current LwM2M registration. A device has at most
// one; it is gone once the device de-registers or its lifetime runs out.
type Registration struct {
	ID        string   `json:"id"`
	DeviceID  string   `json:"deviceId"`
	Endpoint  string   `json:"endpoint"`
	Lifetime  int      `json:"lifetime"`
	Version   string   `json:"lwm2mVersion"`
	Binding   string   `json:"binding"`
	QueueMode bool     `json:"queueMode"`
	Objects   []string `json:"objects"`
	// Addr is the source address of the last uplink; NB-IoT NATs rebind
	// often, so every uplink refreshes it.
	Addr         string    `json:"remoteAddr"`
	RegisteredAt time.Time `json:"registeredAt"`
	LastSeen     time.Time `json:"lastSeen"`
	ExpiresAt    time.Time `json:"expiresAt"`
}

// HasObject reports whether the registration announced the LwM2M object.
func (r Registration) HasObject(id uint16) bool {
	prefix := "/" + strconv.Itoa(int(id))
	for _, o := range r.Objects {
		if rest, ok := strings.CutPrefix(o, prefix); ok && (rest == "" || rest[0] == '/') {
			return true
		}
	}
	return false
}

// Online reports whether the registration is still alive at now.
func (r Registration) Online(now time.Time) bool { return now.Before(r.ExpiresAt) }

// DownlinkKind says what a queued downlink carries.
type DownlinkKind string

// DownlinkPairingState writes the device's Pairing object.
const DownlinkPairingState DownlinkKind = "pairing-state"

// Downlink is a message waiting for its device to be awake. Downlinks of one
// kind coalesce: only the newest pairing state is worth sending.
type Downlink struct {
	DeviceID  string
	Kind      DownlinkKind
	Pairing   wire.PairingState
	CreatedAt time.Time
}
