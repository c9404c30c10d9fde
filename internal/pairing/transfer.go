package pairing

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Transfers: a device's owner offers it to another user, who accepts it
// into one of their homes, or declines, before a deadline. On accept the
// device is bound to its new owner in one transaction (the sender's
// shares end with the old bind) and told its new owner like after a bind.
// The offer is void if the device leaves the sender's bind meanwhile.

// Limits of a transfer's deadline.
const (
	DefaultTransferTTL = 72 * time.Hour
	MinTransferTTL     = time.Second
	MaxTransferTTL     = 7 * 24 * time.Hour
)

// TransferVoid ends a transfer whose device changed hands before it was
// accepted.
const TransferVoid TransferStatus = "void"

// The audit log's action of transfers (the detail says which step).
const AuditTransfer = "transfer"

// transferData is the data of device.transferred, and of the
// device.unbound and device.bound of a transfer.
type transferData struct {
	DeviceID   string `json:"deviceId"`
	TransferID string `json:"transferId"`
	UserID     string `json:"uid,omitempty"`
	HomeID     string `json:"homeId,omitempty"`
	FromUserID string `json:"fromUid,omitempty"`
	ToUserID   string `json:"toUid,omitempty"`
	By         string `json:"by,omitempty"`
}

func newTransferID() string { return "tr_" + idEncoding.EncodeToString(randomBytes(10)) }

// OfferTransfer offers the owner's device to the user named username, who
// has ttl (DefaultTransferTTL when 0) to accept it.
func (s *Service) OfferTransfer(ctx context.Context, ownerID, deviceID, username string, ttl time.Duration) (Transfer, error) {
	if ttl == 0 {
		ttl = DefaultTransferTTL
	}
	if ttl < MinTransferTTL || ttl > MaxTransferTTL {
		return Transfer{}, fmt.Errorf("%w: expiresIn must be %d to %d seconds", ErrInvalid, int(MinTransferTTL.Seconds()), int(MaxTransferTTL.Seconds()))
	}
	d, err := s.ownDevice(ctx, ownerID, deviceID)
	if err != nil {
		return Transfer{}, err
	}
	u, err := s.otherUser(ctx, ownerID, username)
	if err != nil {
		return Transfer{}, err
	}
	now := s.now().UTC()
	tr := Transfer{ID: newTransferID(), DeviceID: d.ID, FromUserID: ownerID, ToUserID: u.ID, BoundAt: d.BoundAt,
		Status: TransferPending, CreatedAt: now, Deadline: now.Add(ttl)}
	if err := s.store.CreateTransfer(ctx, tr); err != nil {
		return Transfer{}, err
	}
	s.auditTransfer(ctx, ownerID, tr, OutcomeOK, "offered to "+u.ID)
	return s.store.Transfer(ctx, tr.ID)
}

func (s *Service) auditTransfer(ctx context.Context, uid string, tr Transfer, outcome, detail string) {
	s.audit(ctx, AuditEntry{Action: AuditTransfer, Outcome: outcome, Actor: "user", UserID: uid, DeviceID: tr.DeviceID,
		Detail: tr.ID + ": " + detail})
}

// Transfers lists the pending transfers from and to the user.
func (s *Service) Transfers(ctx context.Context, userID string) ([]Transfer, error) {
	all, err := s.store.TransfersOfUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, tr := range all {
		if s.now().Before(tr.Deadline) { // the sweeper marks it expired soon
			out = append(out, tr)
		}
	}
	return out, nil
}

// TransferOf returns a transfer from or to the user.
func (s *Service) TransferOf(ctx context.Context, userID, id string) (Transfer, error) {
	tr, err := s.store.Transfer(ctx, id)
	if err == nil && tr.FromUserID != userID && tr.ToUserID != userID {
		return Transfer{}, fmt.Errorf("transfer %.40q: %w", id, ErrNotFound)
	}
	return tr, err
}

// pendingFor returns a pending transfer to (or, with from, from) the user.
func (s *Service) pendingFor(ctx context.Context, userID, id string, from bool) (Transfer, error) {
	tr, err := s.TransferOf(ctx, userID, id)
	switch {
	case err != nil:
		return Transfer{}, err
	case from && tr.FromUserID != userID:
		return Transfer{}, fmt.Errorf("%w: only its sender may cancel a transfer", ErrPermissionDenied)
	case !from && tr.ToUserID != userID:
		return Transfer{}, fmt.Errorf("%w: only its recipient may accept or decline a transfer", ErrPermissionDenied)
	case tr.Status == TransferExpired, tr.Status == TransferPending && !s.now().Before(tr.Deadline):
		return Transfer{}, fmt.Errorf("%w: it had to be accepted by %s; ask its owner to offer it again", ErrTransferExpired, tr.Deadline.Format(time.RFC3339))
	case tr.Status == TransferVoid:
		return Transfer{}, ErrTransferVoid
	case tr.Status != TransferPending:
		return Transfer{}, fmt.Errorf("%w: it was %s", ErrTransferFinished, tr.Status)
	}
	return tr, nil
}

// AcceptTransfer moves the device of a transfer to the user, its
// recipient, in one of the user's homes (owner or admin).
func (s *Service) AcceptTransfer(ctx context.Context, userID, id, homeID string) (Transfer, error) {
	if homeID == "" {
		return Transfer{}, fmt.Errorf("%w: spaceId (the home to put the device in) is required", ErrMissing)
	}
	tr, err := s.pendingFor(ctx, userID, id, false)
	if err != nil {
		return Transfer{}, err
	}
	if h, err := s.store.Home(ctx, homeID, userID); isNotFound(err) || (err == nil && !h.Role.CanManageDevices()) {
		return Transfer{}, fmt.Errorf("%w: you may not add devices to home %s", ErrPermissionDenied, homeID)
	} else if err != nil {
		return Transfer{}, err
	}
	d, tr, err := s.store.AcceptTransfer(ctx, id, homeID, s.now().UTC(), s.transferNotes(ctx, tr, userID, homeID))
	switch {
	case errors.Is(err, ErrTransferVoid):
		s.endTransfer(ctx, userID, id, TransferVoid, "void: the device changed hands")
		return Transfer{}, fmt.Errorf("%w; the offer has ended", ErrTransferVoid)
	case errors.Is(err, ErrTransferExpired):
		s.endTransfer(ctx, userID, id, TransferExpired, "expired")
		return Transfer{}, err
	case err != nil:
		return Transfer{}, err
	}
	s.log.Info("device transferred", "device_id", d.ID, "from", tr.FromUserID, "uid", userID, "home_id", homeID)
	s.auditTransfer(ctx, userID, tr, OutcomeOK, "accepted from "+tr.FromUserID+" into home "+homeID)
	s.publish(ctx, Event{Kind: EventBound, DeviceID: d.ID, At: s.now().UTC()})
	return s.store.Transfer(ctx, id)
}

// transferNotes are the events of a transfer's accept.
func (s *Service) transferNotes(ctx context.Context, tr Transfer, to, homeID string) Notes {
	d, err := s.store.Device(ctx, tr.DeviceID)
	if err != nil {
		d = Device{ID: tr.DeviceID, OwnerID: tr.FromUserID}
	}
	now := s.now()
	var evs []OutboxEvent
	evs = append(evs, s.event(ctx, EventTypeUnbound, d.ID, now, transferData{DeviceID: d.ID, TransferID: tr.ID,
		UserID: tr.FromUserID, HomeID: d.HomeID, By: "transfer"})...)
	evs = append(evs, s.event(ctx, EventTypeBound, d.ID, now, transferData{DeviceID: d.ID, TransferID: tr.ID,
		UserID: to, HomeID: homeID, By: "transfer"})...)
	evs = append(evs, s.event(ctx, EventTypeTransferred, d.ID, now, transferData{DeviceID: d.ID, TransferID: tr.ID,
		HomeID: homeID, FromUserID: tr.FromUserID, ToUserID: to})...)
	return Notes{Events: evs}
}

// DeclineTransfer declines a transfer to the user.
func (s *Service) DeclineTransfer(ctx context.Context, userID, id string) (Transfer, error) {
	if _, err := s.pendingFor(ctx, userID, id, false); err != nil {
		return Transfer{}, err
	}
	return s.endTransfer(ctx, userID, id, TransferDeclined, "declined")
}

// CancelTransfer withdraws a transfer the user offered.
func (s *Service) CancelTransfer(ctx context.Context, userID, id string) (Transfer, error) {
	if _, err := s.pendingFor(ctx, userID, id, true); err != nil {
		return Transfer{}, err
	}
	return s.endTransfer(ctx, userID, id, TransferCancelled, "cancelled")
}

func (s *Service) endTransfer(ctx context.Context, userID, id string, st TransferStatus, detail string) (Transfer, error) {
	tr, err := s.store.FinishTransfer(ctx, id, st, s.now().UTC())
	if err != nil {
		return Transfer{}, err
	}
	s.auditTransfer(ctx, userID, tr, OutcomeOK, detail)
	return tr, nil
}

// ExpireTransfers marks the pending transfers past their deadline expired.
func (s *Service) ExpireTransfers(ctx context.Context) error {
	expired, err := s.store.ExpireTransfers(ctx, s.now(), 500)
	for _, tr := range expired {
		s.audit(ctx, AuditEntry{Action: AuditTransfer, Outcome: OutcomeOK, Actor: "system", DeviceID: tr.DeviceID,
			Detail: tr.ID + ": expired, not accepted by " + tr.ToUserID})
	}
	return err
}
