package pairing

import (
	"context"
	"errors"
	"time"
)

// Errors of the account lifecycle, sharing and transfers.
var (
	// ErrWrongPassword: the current password given to confirm a change of
	// password or the deletion of an account is not the account's.
	ErrWrongPassword = errors.New("the current password is wrong")
	// ErrTargetIsSelf: a device shared with, or offered to, its owner.
	ErrTargetIsSelf = errors.New("you cannot share or transfer a device to yourself")
	// ErrNotDeviceOwner: only the device's owner (the user who bound it)
	// may share it or transfer it.
	ErrNotDeviceOwner = errors.New("only the device's owner may do this")
	// ErrShareReadOnly: a read-only share lets the user see the device's
	// state, not change it.
	ErrShareReadOnly = errors.New("the device is shared with you read-only")
	// ErrTransferPending: a transfer of the device is waiting for its
	// recipient already.
	ErrTransferPending = errors.New("a transfer of this device is waiting for an answer already")
	// ErrTransferExpired: the transfer was not accepted before its deadline.
	ErrTransferExpired = errors.New("the transfer has expired")
	// ErrTransferFinished: the transfer was accepted, declined or
	// cancelled already.
	ErrTransferFinished = errors.New("the transfer has ended already")
	// ErrTransferVoid: the device changed hands after the transfer was
	// offered (it was removed, reset or transferred), so the offer ended.
	ErrTransferVoid = errors.New("the device changed hands since the transfer was offered")
)

// LifecycleStore holds what the account lifecycle, device sharing and
// device transfers need: sessions as their user sees them, the deletion
// of accounts and homes, shares and transfers. The Store embeds it.
type LifecycleStore interface {
	// UserSessions lists every session of the user, expired or not.
	UserSessions(ctx context.Context, userID string) ([]Session, error)
	// TouchSession records that the session was used at at.
	TouchSession(ctx context.Context, tokenHash []byte, at time.Time) error
	// SetPassword stores the user's new password hash and ends every
	// session of the user but the one with the hash keep, in one
	// transaction; ErrNotFound if there is no such user.
	SetPassword(ctx context.Context, userID, passwordHash string, keep []byte) error

	// DeleteUser removes the account in one transaction: it unbinds the
	// devices the user owns and those of the homes the user owns (calling
	// unbound with each device as it was, for the events written with
	// it), deletes those homes, takes the user out of the homes of
	// others, deletes the user's sessions, shares, transfers and
	// activations and those into the deleted homes, and replaces the
	// user's ID in the audit log with pseudonym (clearing the addresses
	// there). ErrNotFound if there is no such user.
	DeleteUser(ctx context.Context, userID, pseudonym string, unbound func(Device) []OutboxEvent) (Deletion, error)
	// DeleteHome deletes the home in one transaction: its devices are
	// unbound (unbound gives each one's events, as for DeleteUser), its
	// members removed, the activations into it deleted. ErrNotFound if
	// there is no such home.
	DeleteHome(ctx context.Context, homeID string, unbound func(Device) []OutboxEvent) (Deletion, error)

	// PutShare shares the device, or changes the access of a share to the
	// same user; it reports whether the share is new. A share lives as long
	// as the device is bound to the share's owner by the bind of BoundAt.
	PutShare(ctx context.Context, sh Share) (created bool, err error)
	// Share returns the live share of the device with the user;
	// ErrNotFound if none.
	Share(ctx context.Context, deviceID, userID string) (Share, error)
	// DeviceShares lists the device's live shares, by username.
	DeviceShares(ctx context.Context, deviceID string) ([]Share, error)
	// SharedWith lists the live shares with the user, newest first.
	SharedWith(ctx context.Context, userID string) ([]Share, error)
	// DeleteShare ends the share; ErrNotFound if there is none.
	DeleteShare(ctx context.Context, deviceID, userID string) error

	// CreateTransfer stores a pending transfer; ErrTransferPending if the
	// device has one pending already.
	CreateTransfer(ctx context.Context, tr Transfer) error
	Transfer(ctx context.Context, id string) (Transfer, error)
	// TransfersOfUser lists the pending transfers from or to the user,
	// oldest first.
	TransfersOfUser(ctx context.Context, userID string) ([]Transfer, error)
	// FinishTransfer ends a pending transfer with a status; it returns
	// ErrTransferFinished if it was not pending.
	FinishTransfer(ctx context.Context, id string, st TransferStatus, at time.Time) (Transfer, error)
	// AcceptTransfer moves the device to the transfer's recipient, in the
	// home, and marks the transfer accepted, in one transaction with the
	// events of n. It returns ErrTransferFinished if the transfer is not
	// pending, ErrTransferExpired if its deadline is at or before at,
	// ErrTransferVoid if the device is no longer bound to the sender by
	// the bind the transfer was offered for, and ErrPermissionDenied if
	// the recipient may not add devices to the home.
	AcceptTransfer(ctx context.Context, id, homeID string, at time.Time, n Notes) (Device, Transfer, error)
	// ExpireTransfers marks pending transfers whose deadline is at or
	// before now expired and returns them, at most limit of them.
	ExpireTransfers(ctx context.Context, now time.Time, limit int) ([]Transfer, error)
}

// Deletion is what deleting an account or a home changed.
type Deletion struct {
	// Unbound are the devices unbound, as they were before.
	Unbound []Device
	// Ended are the pending activations deleted with it.
	Ended []Activation
	// HomesDeleted counts the homes deleted; HomesLeft the homes of
	// others the user was taken out of.
	HomesDeleted, HomesLeft int
}

// Access is what a share lets its user do.
type Access string

// The accesses of a share.
const (
	// AccessRead: see the device and its state.
	AccessRead Access = "read"
	// AccessControl: also rename it.
	AccessControl Access = "control"
)

// Share is a device its owner shares with another user.
type Share struct {
	DeviceID string
	UserID   string
	Username string // of UserID, as the store read it
	Access   Access
	// OwnerID and BoundAt are the device's owner and bind when it was
	// shared: the share ends when the device leaves that bind.
	OwnerID       string
	OwnerUsername string // as the store read it
	BoundAt       time.Time
	CreatedAt     time.Time
}

// TransferStatus is where a transfer stands.
type TransferStatus string

// The statuses of a transfer; all but pending are final.
const (
	TransferPending   TransferStatus = "pending"
	TransferAccepted  TransferStatus = "accepted"
	TransferDeclined  TransferStatus = "declined"
	TransferCancelled TransferStatus = "cancelled"
	TransferExpired   TransferStatus = "expired"
)

// Transfer is an owner's offer of a device to another user.
type Transfer struct {
	ID           string
	DeviceID     string
	DeviceName   string // as the store read it
	FromUserID   string
	FromUsername string // as the store read it
	ToUserID     string
	ToUsername   string // as the store read it
	// BoundAt is the bind of the device to FromUserID the offer is for.
	BoundAt    time.Time
	Status     TransferStatus
	HomeID     string // the recipient's home, once accepted
	CreatedAt  time.Time
	Deadline   time.Time
	FinishedAt time.Time
}
