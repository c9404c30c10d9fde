package activator

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// The account lifecycle, sharing and transfers of devices.

// SessionInfo is one of the logged-in user's live sessions.
type SessionInfo struct {
	// ID names the session to RevokeSession; it is not its token.
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"createdAt"`
	LastUsedAt time.Time `json:"lastUsedAt"`
	ExpiresAt  time.Time `json:"expiresAt"`
	// UserAgent and RemoteAddr are the client's as it logged in.
	UserAgent  string `json:"userAgent,omitempty"`
	RemoteAddr string `json:"remoteAddr,omitempty"`
	// Current is set on the Client's own session.
	Current bool `json:"current"`
}

// Access is what a share lets its user do.
type Access string

// The accesses of a share: AccessRead shows the device and its state;
// AccessControl also lets its user rename it.
const (
	AccessRead    Access = "read"
	AccessControl Access = "control"
)

// Share is a share of a device, as its owner sees it.
type Share struct {
	UID       string    `json:"uid"`
	Username  string    `json:"username"`
	Access    Access    `json:"access"`
	CreatedAt time.Time `json:"createdAt"`
}

// SharedDevice is a device another user shares with the logged-in user.
type SharedDevice struct {
	DeviceModel
	Access Access `json:"access"`
	// SharedBy is the username of the device's owner.
	SharedBy string    `json:"sharedBy"`
	SharedAt time.Time `json:"sharedAt"`
}

// Transfer is an owner's offer of a device to another user.
type Transfer struct {
	ID           string `json:"id"`
	DevID        string `json:"devId"`
	DeviceName   string `json:"deviceName"`
	FromUID      string `json:"fromUid"`
	FromUsername string `json:"fromUsername"`
	ToUID        string `json:"toUid"`
	ToUsername   string `json:"toUsername"`
	// Status is pending, accepted, declined, cancelled, expired or void
	// (the device changed hands before it was accepted).
	Status string `json:"status"`
	// SpaceID is the home the device went to, once accepted.
	SpaceID    string    `json:"spaceId,omitempty"`
	CreatedAt  time.Time `json:"createdAt"`
	Deadline   time.Time `json:"deadline"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
}

// Account returns the logged-in user's account.
func (c *Client) Account(ctx context.Context) (User, error) {
	var u User
	err := c.do(ctx, http.MethodGet, "/v1/account", nil, &u)
	return u, err
}

// ChangePassword sets a new password; current must be the present one
// (CodeWrongPassword otherwise). Every other session of the user ends;
// the Client's stays.
func (c *Client) ChangePassword(ctx context.Context, current, next string) error {
	return c.do(ctx, http.MethodPut, "/v1/account/password",
		map[string]string{"currentPassword": current, "newPassword": next}, nil)
}

// DeleteAccount deletes the logged-in user's account after checking its
// password: its devices and those of its homes are unbound, its homes
// deleted, the homes of others left. The Client forgets its token.
func (c *Client) DeleteAccount(ctx context.Context, password string) error {
	err := c.do(ctx, http.MethodPost, "/v1/account:delete", map[string]string{"password": password}, nil)
	if err == nil {
		c.SetToken("")
	}
	return err
}

// Sessions lists the logged-in user's live sessions, the most recently
// used first.
func (c *Client) Sessions(ctx context.Context) ([]SessionInfo, error) {
	var out struct {
		Sessions []SessionInfo `json:"sessions"`
	}
	err := c.do(ctx, http.MethodGet, "/v1/sessions", nil, &out)
	return out.Sessions, err
}

// RevokeSession ends one of the user's sessions by its ID.
func (c *Client) RevokeSession(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/v1/sessions/"+url.PathEscape(id), nil, nil)
}

// DeleteHome deletes a home the logged-in user owns; its devices are
// unbound and told so.
func (c *Client) DeleteHome(ctx context.Context, homeID string) error {
	return c.do(ctx, http.MethodDelete, "/v1/homes/"+url.PathEscape(homeID), nil, nil)
}

// ShareDevice shares a device the logged-in user owns with the user named
// username, or changes the access of their share.
func (c *Client) ShareDevice(ctx context.Context, devID, username string, access Access) (Share, error) {
	var sh Share
	err := c.do(ctx, http.MethodPost, "/v1/devices/"+url.PathEscape(devID)+"/shares",
		map[string]string{"username": username, "access": string(access)}, &sh)
	return sh, err
}

// DeviceShares lists the shares of a device the logged-in user owns.
func (c *Client) DeviceShares(ctx context.Context, devID string) ([]Share, error) {
	var out struct {
		Shares []Share `json:"shares"`
	}
	err := c.do(ctx, http.MethodGet, "/v1/devices/"+url.PathEscape(devID)+"/shares", nil, &out)
	return out.Shares, err
}

// Unshare ends the share of a device with the user uid: the device's owner
// revokes it, or that user leaves it.
func (c *Client) Unshare(ctx context.Context, devID, uid string) error {
	return c.do(ctx, http.MethodDelete, "/v1/devices/"+url.PathEscape(devID)+"/shares/"+url.PathEscape(uid), nil, nil)
}

// SharedDevices lists the devices shared with the logged-in user.
func (c *Client) SharedDevices(ctx context.Context) ([]SharedDevice, error) {
	var out struct {
		Devices []SharedDevice `json:"devices"`
	}
	err := c.do(ctx, http.MethodGet, "/v1/shared-devices", nil, &out)
	return out.Devices, err
}

// OfferTransfer offers a device the logged-in user owns to the user named
// username, who has expiresIn (whole seconds; 0: 72 hours) to accept it.
func (c *Client) OfferTransfer(ctx context.Context, devID, username string, expiresIn time.Duration) (Transfer, error) {
	var tr Transfer
	err := c.do(ctx, http.MethodPost, "/v1/devices/"+url.PathEscape(devID)+"/transfers",
		map[string]any{"username": username, "expiresIn": int(expiresIn / time.Second)}, &tr)
	return tr, err
}

// Transfers lists the pending transfers to and from the logged-in user.
func (c *Client) Transfers(ctx context.Context) (incoming, outgoing []Transfer, err error) {
	var out struct {
		Incoming []Transfer `json:"incoming"`
		Outgoing []Transfer `json:"outgoing"`
	}
	err = c.do(ctx, http.MethodGet, "/v1/transfers", nil, &out)
	return out.Incoming, out.Outgoing, err
}

// AcceptTransfer accepts a transfer to the logged-in user into one of
// their homes; the device is told its new owner when it is next awake.
func (c *Client) AcceptTransfer(ctx context.Context, id, homeID string) (Transfer, error) {
	return c.transferStep(ctx, http.MethodPost, id, "/accept", map[string]string{"spaceId": homeID})
}

// DeclineTransfer declines a transfer to the logged-in user.
func (c *Client) DeclineTransfer(ctx context.Context, id string) (Transfer, error) {
	return c.transferStep(ctx, http.MethodPost, id, "/decline", nil)
}

// CancelTransfer withdraws a transfer the logged-in user offered.
func (c *Client) CancelTransfer(ctx context.Context, id string) (Transfer, error) {
	return c.transferStep(ctx, http.MethodDelete, id, "", nil)
}

func (c *Client) transferStep(ctx context.Context, method, id, step string, in any) (Transfer, error) {
	var tr Transfer
	err := c.do(ctx, method, "/v1/transfers/"+url.PathEscape(id)+step, in, &tr)
	return tr, err
}
