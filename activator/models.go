package activator

import (
	"math"
	"time"
)

// ActivatorType is a pairing type (the seed's ThingSmartActivatorType).
type ActivatorType string

// TypeNB is NB-IoT pairing (ThingSmartActivatorTypeNB), the only type
// nbpair serves.
const TypeNB ActivatorType = "NB"

// DefaultTimeout is the activation timeout used when TypeModel.Timeout is
// zero, as in the seed (120 s).
const DefaultTimeout = 120 * time.Second

// ActionNameNB is the ScanCodeModel.ActionName of an NB-IoT device's label.
const ActionNameNB = "device_net_conn_bind_nb"

// TypeModel describes one pairing (the seed's
// ThingSmartActivatorTypeNBModel): the type, the home to add the device to
// and the device's pairing ID from its label.
type TypeModel struct {
	// Type is the pairing type; TypeNB.
	Type ActivatorType
	// TypeName is a display name of the type, such as "NB"; the server
	// does not see it.
	TypeName string
	// Timeout bounds the activation; zero means the server's default,
	// which is DefaultTimeout. The server counts whole seconds (a
	// fraction is rounded up) and accepts at most one hour.
	Timeout time.Duration
	// SpaceID is the home (spaceId) the device is added to.
	SpaceID string
	// NbID is the device's pairing ID, ScanCodeModel.ActionData.ID.
	NbID string
	// TimeZone is the device's IANA time zone, such as "Europe/Berlin";
	// optional.
	TimeZone string
}

// timeoutSeconds is Timeout as the API's whole seconds.
func (t TypeModel) timeoutSeconds() int {
	switch {
	case t.Timeout == 0:
		return 0 // the server's default
	case t.Timeout < 0:
		return -1 // the server names the bad value
	}
	return int(math.Ceil(t.Timeout.Seconds()))
}

// DeviceModel is a device bound to a user's home, as the home's members see
// it (the seed's ThingSmartActivatorDeviceModel).
type DeviceModel struct {
	// UniqueID is the device's IMEI.
	UniqueID string `json:"uniqueId"`
	// DevID is the cloud's device ID.
	DevID string `json:"devId"`
	// Name is the device's display name.
	Name string `json:"name"`
	// ProductID is the device's product.
	ProductID string `json:"productId"`
	// SpaceID is the home the device is in; empty in an ErrorModel when
	// unknown.
	SpaceID string `json:"spaceId"`
	// OwnerUID is the user the device is bound to.
	OwnerUID string `json:"ownerUid"`
	// ActivatorType is how the device was paired: TypeNB.
	ActivatorType ActivatorType `json:"activatorType"`
	// Online reports whether the device has a live LwM2M registration.
	Online bool `json:"online"`
	// LastSeen is when the device last sent something; zero if never.
	LastSeen time.Time `json:"lastSeen,omitzero"`
	// BoundAt is when the device was bound to its owner.
	BoundAt time.Time `json:"boundAt,omitzero"`
	// TimeZone is the device's IANA time zone, if one was given.
	TimeZone string `json:"timeZone,omitempty"`
}

// ErrorModel is why an activation did not pair (the seed's
// ThingSmartActivatorErrorModel): the device as far as it is known, and
// the error.
type ErrorModel struct {
	// Device holds what is known of the device: DevID, SpaceID and
	// ActivatorType once the server accepted the activation, less when it
	// refused it.
	Device DeviceModel
	// Err is the error; never nil in a model the delegate receives.
	Err *Error
}

// Error returns the text of Err.
func (m *ErrorModel) Error() string {
	if m.Err == nil {
		return "activator: unknown error"
	}
	return m.Err.Error()
}

// Unwrap returns Err, so errors.Is(errModel, ErrTimeout) works.
func (m *ErrorModel) Unwrap() error {
	if m.Err == nil {
		return nil
	}
	return m.Err
}

// ScanCodeModel is what a scanned code means (the seed's
// ThingSmartAScanCodeModel).
type ScanCodeModel struct {
	// ActionName is ActionNameNB for an NB-IoT device's label.
	ActionName string `json:"actionName"`
	// ActionData describes the device.
	ActionData ScanDevice `json:"actionData"`
}

// ScanDevice is what a label tells about its device (the seed's
// actionData dictionary).
type ScanDevice struct {
	// ID is the device's pairing ID, the TypeModel.NbID to activate it
	// with.
	ID string `json:"id"`
	// ProductID and ProductName name the device's product.
	ProductID   string `json:"productId"`
	ProductName string `json:"productName"`
	// Name is the device's name, if the maker gave one.
	Name string `json:"name"`
}

// User is an account.
type User struct {
	// UID is the user's ID, the OwnerUID of the devices bound to them.
	UID string `json:"uid"`
	// Username is the name the user logs in with.
	Username string `json:"username"`
	// CreatedAt is when the account was created.
	CreatedAt time.Time `json:"createdAt"`
}

// Session is a logged-in session.
type Session struct {
	// Token is the bearer token; keep it secret. LogIn stores it in the
	// Client.
	Token string `json:"token"`
	// UID is the logged-in user.
	UID string `json:"uid"`
	// ExpiresAt is when the session ends; log in again after it.
	ExpiresAt time.Time `json:"expiresAt"`
}

// Role is what a member may do in a home.
type Role string

// The roles of home members. Owners and admins may add and remove devices.
const (
	RoleOwner  Role = "owner"
	RoleAdmin  Role = "admin"
	RoleMember Role = "member"
)

// Home is a user's home, the seed's space (spaceId).
type Home struct {
	// ID is the home's ID, the TypeModel.SpaceID to add devices to.
	ID string `json:"id"`
	// Name is the home's display name.
	Name string `json:"name"`
	// OwnerUID is the user who owns the home.
	OwnerUID string `json:"ownerUid"`
	// Role is the role of the logged-in user in the home.
	Role Role `json:"role"`
	// CreatedAt is when the home was created.
	CreatedAt time.Time `json:"createdAt"`
}
