package pairing

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors of the domain. Stores map their driver errors to these;
// the HTTP and CoAP edges map these to status codes.
var (
	ErrNotFound         = errors.New("not found")
	ErrDeviceExists     = errors.New("a device with that IMEI is already provisioned")
	ErrProductExists    = errors.New("a product with that ID already exists")
	ErrProductNotExists = errors.New("no such product")
	ErrUnknownEndpoint  = errors.New("unknown endpoint")
	ErrPlainRefused     = errors.New("plain CoAP refused")
	ErrInvalid          = errors.New("invalid parameter")
	ErrMissing          = errors.New("missing parameter")
	ErrBlank            = errors.New("blank parameter")
	// ErrStoreFull: the store cannot write because its disk is full (or
	// the database reached its size limit). Nothing was written; the same
	// request succeeds once space is freed.
	ErrStoreFull = errors.New("the store's disk is full")

	// Errors of accounts and sessions.
	ErrUsernameTaken      = errors.New("that username is taken")
	ErrAlreadyMember      = errors.New("already a member of the home")
	ErrBadCredentials     = errors.New("wrong username or password")
	ErrUnauthenticated    = errors.New("not logged in")
	ErrSessionExpired     = errors.New("the session has expired")
	ErrPermissionDenied   = errors.New("permission denied")
	ErrQRNotRecognised    = errors.New("not a device label of this cloud")
	ErrQRTooLong          = errors.New("QR text too long")
	ErrQRIsIMEI           = errors.New("the code is an IMEI")
	ErrActivationFinished = errors.New("the activation has already finished")

	// Errors that end an activation; each has its code in the seed SDK.
	ErrTimeout           = errors.New("the device did not register within the activation timeout")
	ErrActiveRepeated    = errors.New("an activation for this device is already running")
	ErrAlreadyBound      = errors.New("the device is bound to another account")
	ErrFactoryReset      = errors.New("the device was factory-reset during the activation")
	ErrDeviceNotExist    = errors.New("no device has that pairing ID")
	ErrActivationStopped = errors.New("the activation was stopped")
)

// StoreFullRetry is how long the edges tell a client to wait before it
// tries a write again that failed with ErrStoreFull (CoAP Max-Age, HTTP
// Retry-After).
const StoreFullRetry = time.Minute

// Store is the durable state the domain needs. Every method that returns
// without error has made its change durable.
type Store interface {
	CreateProduct(ctx context.Context, p Product) error
	Product(ctx context.Context, id string) (Product, error)
	Products(ctx context.Context) ([]Product, error)

	CreateDevice(ctx context.Context, d Device) error
	Device(ctx context.Context, id string) (Device, error)
	DeviceByIMEI(ctx context.Context, imei string) (Device, error)
	Devices(ctx context.Context, q DeviceQuery) ([]Device, error)

	// Register stores r as the device's only registration, replacing any
	// earlier one, and sets the device's FirstRegisteredAt if it was zero.
	// It reports whether this was the device's first registration ever, and
	// returns ErrNotFound if the device does not exist.
	Register(ctx context.Context, r Registration) (first bool, err error)
	Registration(ctx context.Context, id string) (Registration, error)
	RegistrationOfDevice(ctx context.Context, deviceID string) (Registration, error)
	// RegistrationByAddr returns the registration whose last uplink came
	// from addr.
	RegistrationByAddr(ctx context.Context, addr string) (Registration, error)
	// UpdateRegistration stores what an Update can change (Lifetime,
	// Binding, QueueMode, Objects, Addr, LastSeen, ExpiresAt) of the
	// registration with r's ID.
	UpdateRegistration(ctx context.Context, r Registration) error
	DeleteRegistration(ctx context.Context, id string) (Registration, error)
	// DeleteExpired removes registrations that expired at or before now and
	// returns them, at most limit (> 0) of them.
	DeleteExpired(ctx context.Context, now time.Time, limit int) ([]Registration, error)

	// PutDownlink queues d, replacing a queued downlink of the same device
	// and kind; ErrNotFound if the device does not exist.
	PutDownlink(ctx context.Context, d Downlink) error
	// RequeueDownlink queues d like PutDownlink unless a downlink of the
	// same device and kind created after d is queued already: for a
	// downlink that was made earlier and failed to go out.
	RequeueDownlink(ctx context.Context, d Downlink) error
	Downlinks(ctx context.Context, deviceID string) ([]Downlink, error)
	// DeleteDownlink removes the device's downlink of that kind if it was
	// created at or before createdAt, so that a newer one survives.
	DeleteDownlink(ctx context.Context, deviceID string, kind DownlinkKind, createdAt time.Time) error

	AccountStore
	ActivationStore
	BatchStore
	WebhookStore
	LifecycleStore
	DeviceAdminStore

	// AppendAudit adds an entry to the audit log.
	AppendAudit(ctx context.Context, e AuditEntry) error
	// Audit lists matching entries, newest first, and counts all matches.
	Audit(ctx context.Context, q AuditQuery) ([]AuditEntry, int, error)

	Close() error
}

// AccountStore holds users, their sessions and their homes.
type AccountStore interface {
	// CreateUser returns ErrUsernameTaken if the name is in use, in any case.
	CreateUser(ctx context.Context, u User) error
	User(ctx context.Context, id string) (User, error)
	UserByName(ctx context.Context, username string) (User, error)

	CreateSession(ctx context.Context, s Session) error
	// Session returns the session with that token hash, expired or not.
	Session(ctx context.Context, tokenHash []byte) (Session, error)
	DeleteSession(ctx context.Context, tokenHash []byte) error
	// DeleteUserSessions ends every session of the user.
	DeleteUserSessions(ctx context.Context, userID string) error

	// CreateHome creates the home with its owner as its first member.
	CreateHome(ctx context.Context, h Home) error
	// Homes lists the homes the user is a member of, with the user's role.
	Homes(ctx context.Context, userID string) ([]Home, error)
	// Home returns the home as the user sees it; ErrNotFound if the user
	// is not a member.
	Home(ctx context.Context, homeID, userID string) (Home, error)
	HomeDevices(ctx context.Context, homeID string) ([]Device, error)
	RenameHome(ctx context.Context, homeID, name string) error
	// AddMember returns ErrAlreadyMember if the user is a member already.
	AddMember(ctx context.Context, homeID, userID string, role Role) error
	Members(ctx context.Context, homeID string) ([]Member, error)
	RemoveMember(ctx context.Context, homeID, userID string) error
}

// ActivationStore holds activations and the binding of devices to users.
type ActivationStore interface {
	DeviceByNbID(ctx context.Context, nbID string) (Device, error)
	RenameDevice(ctx context.Context, deviceID, name string) error

	// CreateActivation returns ErrActiveRepeated if the user has a pending
	// activation of the device already.
	CreateActivation(ctx context.Context, a Activation) error
	Activation(ctx context.Context, id string) (Activation, error)
	// PendingActivations lists the device's pending activations, oldest first.
	PendingActivations(ctx context.Context, deviceID string) ([]Activation, error)
	// PendingActivationsOfUser lists the user's pending activations,
	// oldest first, at most limit (> 0) of them.
	PendingActivationsOfUser(ctx context.Context, userID string, limit int) ([]Activation, error)
	// FinishActivation ends a pending activation with a status and, for a
	// failure, a reason; it returns ErrActivationFinished if it was not
	// pending any more.
	FinishActivation(ctx context.Context, id string, st ActivationStatus, reason FailReason, at time.Time) (Activation, error)
	// ExpiredActivations lists pending activations whose deadline is at or
	// before now.
	ExpiredActivations(ctx context.Context, now time.Time, limit int) ([]Activation, error)

	// Bind binds the activation's device to its user and home and marks the
	// activation paired, in one transaction. It returns ErrAlreadyBound if
	// another user owns the device, ErrPermissionDenied if the user is no
	// longer an owner or admin of the home, and ErrActivationFinished if the
	// activation is no longer pending.
	Bind(ctx context.Context, activationID string, at time.Time) (Device, Activation, error)
	// Unbind removes the device's owner and home; with a homeID, only if
	// the device is in that home (ErrNotFound otherwise).
	Unbind(ctx context.Context, deviceID, homeID string) (Device, error)
	// FactoryReset unbinds the device, gives it back its default name,
	// clears its time zone, drops its queued downlinks and fails the
	// activations waiting for it (FailFactoryReset, finished at at), in one
	// transaction; it returns the device and the activations it ended.
	FactoryReset(ctx context.Context, deviceID, name string, at time.Time) (Device, []Activation, error)
}

// DeviceQuery selects devices to list: by ID, or the most recently seen
// first.
type DeviceQuery struct {
	ProductID string
	// Search, when not empty, keeps the devices whose IMEI or ID starts
	// with it or whose name holds it, in any case of ASCII letters.
	Search string
	// ByLastSeen lists the devices whose registration was seen last
	// first, then the devices without a registration; ties by ID.
	ByLastSeen bool
	// After is the ID of the last device of the previous page; with
	// ByLastSeen, AfterSeen is that device's LastSeen (zero when it had no
	// registration).
	After     string
	AfterSeen time.Time
	Limit     int
}
