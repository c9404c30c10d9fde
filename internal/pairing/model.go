// Package pairing is nbpair's domain: products, provisioned devices, their
// LwM2M registrations, the events device messages become, and the tasks those
// events trigger. It knows nothing of CoAP or HTTP; it declares the Store,
// Bus and Downlinker it needs and the sentinel errors the edges translate.
package pairing

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nbpair/nbpair/internal/wire"
)

// Product is a kind of device a maker builds.
type Product struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// AutoRegister lets devices of this product that were never provisioned
	// create themselves when they first register (they send pid=<ID>).
	AutoRegister bool `json:"autoRegister"`
	// PlainCoAP lets devices of this product register without DTLS. It is
	// for development; the production profile refuses plain CoAP whatever
	// the product says.
	PlainCoAP bool      `json:"plainCoap"`
	CreatedAt time.Time `json:"createdAt"`
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

	// SealedPSK is the device's DTLS pre-shared key, encrypted at rest.
	SealedPSK []byte `json:"-"`

	// OwnerID, HomeID, TimeZone and BoundAt are set while the device is
	// bound to a user's home.
	OwnerID  string    `json:"ownerUid,omitempty"`
	HomeID   string    `json:"homeId,omitempty"`
	TimeZone string    `json:"timeZone,omitempty"`
	BoundAt  time.Time `json:"boundAt,omitzero"`
}

// PairingState is what the device's Pairing object should hold.
func (d Device) PairingState() wire.PairingState {
	st := wire.PairingState{DeviceID: d.ID, State: wire.BindUnbound}
	if d.OwnerID != "" {
		st.State, st.OwnerUID, st.HomeID, st.BoundAt = wire.BindBound, d.OwnerID, d.HomeID, d.BoundAt
	}
	return st
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
	Addr string `json:"remoteAddr"`
	// Secure is set when the device registered over DTLS.
	Secure bool `json:"secure"`
	// ContentFormat is what the device announced as its preferred content
	// formats with ct on the root link of its Register (wire's
	// RootContentFormat: decimal numbers separated by spaces), "" when it
	// announced none.
	ContentFormat string    `json:"contentFormat,omitempty"`
	RegisteredAt  time.Time `json:"registeredAt"`
	LastSeen      time.Time `json:"lastSeen"`
	ExpiresAt     time.Time `json:"expiresAt"`
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

// User is an account of the app.
type User struct {
	ID           string    `json:"uid"`
	Username     string    `json:"username"`
	PasswordHash string    `json:"-"`
	CreatedAt    time.Time `json:"createdAt"`
}

// Session is a logged-in session; only the hash of its bearer token is kept.
type Session struct {
	TokenHash []byte
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
	// LastUsedAt is when the session was last used (to the minute; zero
	// until then); UserAgent and Addr are the client's, as it logged in.
	LastUsedAt time.Time
	UserAgent  string
	Addr       string
}

// Role is what a member may do in a home.
type Role string

// The roles of home members.
const (
	RoleOwner  Role = "owner"
	RoleAdmin  Role = "admin"
	RoleMember Role = "member"
)

// CanManageDevices reports whether the role may add and remove devices.
func (r Role) CanManageDevices() bool { return r == RoleOwner || r == RoleAdmin }

// Home is a user's home, the seed's spaceId. Role is the role of the user
// who asked.
type Home struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	OwnerID   string    `json:"ownerUid"`
	Role      Role      `json:"role"`
	CreatedAt time.Time `json:"createdAt"`
}

// Member is a user's membership of a home.
type Member struct {
	UserID   string `json:"uid"`
	Username string `json:"username"`
	Role     Role   `json:"role"`
}

// ActivationStatus is where an activation stands.
type ActivationStatus string

// The statuses of an activation; all but pending are final.
const (
	ActivationPending ActivationStatus = "pending"
	ActivationPaired  ActivationStatus = "paired"
	ActivationFailed  ActivationStatus = "failed"
	ActivationStopped ActivationStatus = "stopped"
)

// FailReason says why an activation failed; it names one of the sentinel
// errors (see Activation.Err).
type FailReason string

// The reasons an activation fails.
const (
	FailTimeout      FailReason = "timeout"
	FailAlreadyBound FailReason = "already-bound"
	FailFactoryReset FailReason = "factory-reset"
	// FailPermission: the user lost the right to add devices to the home.
	FailPermission FailReason = "permission"
	// FailInternal ends an activation the server could not carry on with.
	FailInternal FailReason = "internal"
)

// Activation is one attempt of a user to bind a device to a home
// (thing.m.nb.device.user.bind in the seed's cloud).
type Activation struct {
	ID       string           `json:"id"`
	UserID   string           `json:"uid"`
	NbID     string           `json:"nbId"`
	DeviceID string           `json:"devId"`
	HomeID   string           `json:"spaceId"`
	TimeZone string           `json:"timeZone,omitempty"`
	Timeout  int              `json:"timeout"`
	Status   ActivationStatus `json:"status"`
	Reason   FailReason       `json:"-"`
	// Detail says more of a failure for people: the reason a pre-bind
	// hook gave.
	Detail     string    `json:"-"`
	CreatedAt  time.Time `json:"createdAt"`
	Deadline   time.Time `json:"deadline"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
}

// Err is the error a failed or stopped activation ended with, nil otherwise.
func (a Activation) Err() error {
	switch {
	case a.Status == ActivationStopped:
		return ErrActivationStopped
	case a.Status != ActivationFailed:
		return nil
	case a.Reason == FailTimeout:
		return ErrTimeout
	case a.Reason == FailAlreadyBound:
		return ErrAlreadyBound
	case a.Reason == FailFactoryReset:
		return ErrFactoryReset
	case a.Reason == FailHookRefused && a.Detail != "":
		return fmt.Errorf("%w: %s", ErrBindRefused, a.Detail)
	case a.Reason == FailHookRefused:
		return fmt.Errorf("%w; ask the device's maker", ErrBindRefused)
	case a.Reason == FailHookFailed:
		return fmt.Errorf("%w; try again later", ErrBindHookFailed)
	case a.Reason == FailPermission:
		return ErrPermissionDenied
	}
	return errors.New("activation failed: " + string(a.Reason))
}

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
