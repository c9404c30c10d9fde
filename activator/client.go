package activator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// maxAnswer bounds the answers the client reads.
const maxAnswer = 1 << 20

// Client calls the nbpair HTTP API (the seed's
// ThingSmartActivatorDiscoveryRequest, plus the account calls an app needs
// around it). It is safe for concurrent use.
type Client struct {
	base string // the server's base URL without a trailing slash
	hc   *http.Client

	mu    sync.RWMutex
	token string // guarded by mu
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the Client send its requests through hc instead of
// http.DefaultClient. Leave hc.Timeout zero: activations are followed over
// long-lived requests (server-sent events and 30 s long-polls); every
// method takes a context to bound it instead.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.hc = hc
		}
	}
}

// WithToken makes the Client send the session token of an earlier LogIn.
func WithToken(token string) Option {
	return func(c *Client) { c.token = token }
}

// NewClient returns a Client of the nbpair server at baseURL, such as
// "https://pair.example.com" (a path prefix is kept). A malformed baseURL
// is reported by the first request.
func NewClient(baseURL string, opts ...Option) *Client {
	c := &Client{base: strings.TrimRight(baseURL, "/"), hc: http.DefaultClient}
	for _, o := range opts {
		o(c)
	}
	return c
}

// SetToken sets the session token the Client sends; "" sends none.
func (c *Client) SetToken(token string) {
	c.mu.Lock()
	c.token = token
	c.mu.Unlock()
}

// Token returns the session token the Client sends, to keep for a later
// WithToken.
func (c *Client) Token() string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.token
}

// SignUp creates an account and logs in to it: the Client keeps the
// token of the session the server starts with the account, as LogIn does.
func (c *Client) SignUp(ctx context.Context, username, password string) (User, error) {
	u, _, err := c.SignUpSession(ctx, username, password)
	return u, err
}

// SignUpSession is SignUp that also returns the account's first session.
func (c *Client) SignUpSession(ctx context.Context, username, password string) (User, Session, error) {
	var u struct {
		User
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expiresAt"`
	}
	if err := c.do(ctx, http.MethodPost, "/v1/users", credentials{username, password}, &u); err != nil {
		return User{}, Session{}, err
	}
	if u.Token != "" { // the server starts the first session with the account
		c.SetToken(u.Token)
	}
	return u.User, Session{Token: u.Token, UID: u.UID, ExpiresAt: u.ExpiresAt}, nil
}

type credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// LogIn starts a session, stores its token in the Client for the calls
// that follow, and returns it.
func (c *Client) LogIn(ctx context.Context, username, password string) (Session, error) {
	var s Session
	if err := c.do(ctx, http.MethodPost, "/v1/sessions", credentials{username, password}, &s); err != nil {
		return Session{}, err
	}
	c.SetToken(s.Token)
	return s, nil
}

// LogOut ends the session on the server and forgets its token. The token
// is forgotten also when the server answers that it was not valid anyway
// (CodeUserSessionLoss, CodeTokenExpired); then LogOut returns nil.
func (c *Client) LogOut(ctx context.Context) error {
	err := c.do(ctx, http.MethodDelete, "/v1/sessions/current", nil, nil)
	if err == nil || isSessionError(err) {
		c.SetToken("")
		return nil
	}
	return err
}

func isSessionError(err error) bool {
	return errors.Is(err, ErrUserSessionLoss) || errors.Is(err, ErrTokenExpired)
}

// CreateHome creates a home owned by the logged-in user.
func (c *Client) CreateHome(ctx context.Context, name string) (Home, error) {
	var h Home
	err := c.do(ctx, http.MethodPost, "/v1/homes", map[string]string{"name": name}, &h)
	return h, err
}

// Homes lists the homes the logged-in user is a member of.
func (c *Client) Homes(ctx context.Context) ([]Home, error) {
	var out struct {
		Homes []Home `json:"homes"`
	}
	err := c.do(ctx, http.MethodGet, "/v1/homes", nil, &out)
	return out.Homes, err
}

// HomeDevices lists the devices of a home the logged-in user is a member
// of.
func (c *Client) HomeDevices(ctx context.Context, homeID string) ([]DeviceModel, error) {
	var out struct {
		Devices []DeviceModel `json:"devices"`
	}
	err := c.do(ctx, http.MethodGet, "/v1/homes/"+url.PathEscape(homeID)+"/devices", nil, &out)
	return out.Devices, err
}

// Device returns a device of one of the logged-in user's homes.
func (c *Client) Device(ctx context.Context, devID string) (DeviceModel, error) {
	var d DeviceModel
	err := c.do(ctx, http.MethodGet, "/v1/devices/"+url.PathEscape(devID), nil, &d)
	return d, err
}

// RenameDevice renames a device; owners and admins of its home may.
func (c *Client) RenameDevice(ctx context.Context, devID, name string) (DeviceModel, error) {
	var d DeviceModel
	err := c.do(ctx, http.MethodPatch, "/v1/devices/"+url.PathEscape(devID), map[string]string{"name": name}, &d)
	return d, err
}

// RemoveDevice unbinds a device from its home; the device learns it the
// next time it is awake, and anyone holding its label can then pair it.
func (c *Client) RemoveDevice(ctx context.Context, devID string) error {
	return c.do(ctx, http.MethodDelete, "/v1/devices/"+url.PathEscape(devID), nil, nil)
}

// ParseQRCode asks the server what a scanned code means (the seed's
// requestParseQRCodeWithParam). code is the text of the label's QR code, or
// the short code printed under it as the user typed it (case, dashes and
// spaces do not matter). For an NB-IoT device's label ActionName is
// ActionNameNB and ActionData.ID is the pairing ID to activate with; text
// that is no label of this cloud (or a mistyped short code) is a
// CodeQRCodeNotRecognised error, and the device's IMEI, which users type
// by mistake, a CodeQRCodeIsIMEI error.
func (c *Client) ParseQRCode(ctx context.Context, code string) (ScanCodeModel, error) {
	var m ScanCodeModel
	err := c.do(ctx, http.MethodPost, "/v1/qrcode:parse", map[string]string{"code": code}, &m)
	return m, err
}

// do sends one request with a JSON body (none when in is nil) and decodes
// a 2xx answer into out (ignored when nil). An error answer becomes an
// *Error; a failure to reach the server is wrapped.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	resp, err := c.send(ctx, method, path, in, "application/json")
	if err != nil {
		return err
	}
	return decodeAnswer(resp, maxAnswer, out, method, path)
}

// decodeAnswer decodes the JSON of a 2xx answer, at most limit bytes, into
// out (nothing when out is nil) and closes the answer; method and path
// name the request in an error.
func decodeAnswer(resp *http.Response, limit int64, out any, method, path string) error {
	defer resp.Body.Close()
	if out == nil {
		io.Copy(io.Discard, io.LimitReader(resp.Body, limit))
		return nil
	}
	body := &io.LimitedReader{R: resp.Body, N: limit}
	if err := json.NewDecoder(body).Decode(out); err != nil {
		if body.N == 0 {
			return fmt.Errorf("activator: %s %s: the answer is larger than %d bytes", method, path, limit)
		}
		return fmt.Errorf("activator: %s %s: reading the answer: %w", method, path, err)
	}
	return nil
}

// send sends a request with a JSON body (none when in is nil) and returns
// a 2xx answer for the caller to read and close; any other answer is read,
// closed and returned as an *Error.
func (c *Client) send(ctx context.Context, method, path string, in any, accept string) (*http.Response, error) {
	if in == nil {
		return c.sendBody(ctx, method, path, nil, "", accept)
	}
	b, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("activator: %s %s: %w", method, path, err)
	}
	return c.sendBody(ctx, method, path, bytes.NewReader(b), "application/json", accept)
}

// sendBody is send with a body of any contentType (none when body is nil).
func (c *Client) sendBody(ctx context.Context, method, path string, body io.Reader, contentType, accept string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, fmt.Errorf("activator: %s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", accept)
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if tok := c.Token(); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("activator: %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, readError(resp)
	}
	return resp, nil
}

// readError reads the API's JSON error from an answer that is not 2xx.
func readError(resp *http.Response) *Error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &Error{HTTPStatus: resp.StatusCode}
	if json.Unmarshal(b, e) != nil || e.Code == 0 {
		e.Code, e.Name = 0, http.StatusText(resp.StatusCode)
		e.Message = strings.TrimSpace(string(b))
		if len(e.Message) > 200 {
			e.Message = e.Message[:200] + "…"
		}
	}
	return e
}
