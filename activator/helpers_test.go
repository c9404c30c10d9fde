package activator_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nbpair/nbpair/activator"
	"github.com/nbpair/nbpair/device"
	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/testkit"
)

// waitLong bounds every wait of these tests for something the server or a
// device does.
const waitLong = 30 * time.Second

// testCtx is a context that ends with the test, at the latest after a
// minute.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// user is a signed-up, logged-in app user with one home.
type user struct {
	c    *activator.Client
	uid  string
	home string
}

// newUser signs up name on n (which logs in) and creates a home, with a Client
// built with opts.
func newUser(t *testing.T, n *apptest.Node, name string, opts ...activator.Option) user {
	t.Helper()
	ctx := testCtx(t)
	c := activator.NewClient("http://"+n.HTTPAddr(), opts...)
	u, err := c.SignUp(ctx, name, "correct horse battery") // and logs in
	if err != nil {
		t.Fatalf("sign up %s: %v", name, err)
	}
	h, err := c.CreateHome(ctx, name+"'s home")
	if err != nil {
		t.Fatalf("create home: %v", err)
	}
	return user{c: c, uid: u.UID, home: h.ID}
}

// nbType is the TypeModel of pairing the device nbID into u's home.
func (u user) nbType(nbID string, timeout time.Duration) activator.TypeModel {
	return activator.TypeModel{Type: activator.TypeNB, TypeName: "NB", Timeout: timeout, SpaceID: u.home, NbID: nbID, TimeZone: "Europe/Berlin"}
}

// registered powers a device on and waits until the server has told it its
// device ID.
func registered(t *testing.T, n *apptest.Node, d apptest.Provisioned) *device.Client {
	t.Helper()
	c := apptest.RunDevice(t, n, device.Config{IMEI: d.IMEI})
	waitPairing(t, c, "the device ID", func(p device.PairingState) bool { return p.DeviceID == d.ID })
	return c
}

// waitPairing waits until the device's Pairing object satisfies cond.
func waitPairing(t *testing.T, c *device.Client, what string, cond func(device.PairingState) bool) device.PairingState {
	t.Helper()
	return apptest.WaitDevice(t, c, what, func(s device.Status) bool { return cond(s.Pairing) }).Pairing
}

// unknownNbID is a well-formed pairing ID no device has.
func unknownNbID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// outcome is one call of the delegate.
type outcome struct {
	t        activator.TypeModel
	devices  []activator.DeviceModel
	errModel *activator.ErrorModel
}

// recorder is a Delegate that hands its calls to the test, and checks that
// they never overlap.
type recorder struct {
	ch     chan outcome
	inCall atomic.Bool
	t      *testing.T
}

func newRecorder(t *testing.T) *recorder {
	return &recorder{ch: make(chan outcome, 100), t: t}
}

// ActivatorService implements activator.Delegate.
func (r *recorder) ActivatorService(_ *activator.Discovery, t activator.TypeModel, devices []activator.DeviceModel, errModel *activator.ErrorModel) {
	if r.inCall.Swap(true) {
		r.t.Errorf("the delegate was called while another call was running")
	}
	defer r.inCall.Store(false)
	if (devices == nil) == (errModel == nil) {
		r.t.Errorf("delegate called with devices %v and error model %v: want exactly one", devices, errModel)
	}
	r.ch <- outcome{t: t, devices: devices, errModel: errModel}
}

// next returns the next call of the delegate.
func (r *recorder) next(t *testing.T) outcome {
	t.Helper()
	select {
	case o := <-r.ch:
		return o
	case <-time.After(waitLong):
		t.Fatalf("the delegate was not called within %v", waitLong)
		return outcome{}
	}
}

// paired returns the device of the next call, which must be a success.
func (r *recorder) paired(t *testing.T) activator.DeviceModel {
	t.Helper()
	o := r.next(t)
	if o.errModel != nil || len(o.devices) != 1 {
		t.Fatalf("delegate: devices %+v, error %v; want one device", o.devices, o.errModel)
	}
	return o.devices[0]
}

// failed returns the error model of the next call, which must be a failure
// with the given code.
func (r *recorder) failed(t *testing.T, want *activator.Error) *activator.ErrorModel {
	t.Helper()
	o := r.next(t)
	if o.errModel == nil {
		t.Fatalf("delegate: devices %+v; want error %d %s", o.devices, want.Code, want.Name)
	}
	if !errors.Is(o.errModel, want) || o.errModel.Err.Name != want.Name {
		t.Fatalf("delegate: error %v; want %d %s", o.errModel, want.Code, want.Name)
	}
	return o.errModel
}

// none checks that the delegate has not been called.
func (r *recorder) none(t *testing.T) {
	t.Helper()
	select {
	case o := <-r.ch:
		t.Fatalf("unexpected delegate call: devices %+v, error %v", o.devices, o.errModel)
	default:
	}
}

// observer is an http.RoundTripper between the SDK and the server: it
// tells the test when the server accepted an activation, counts how the
// SDK follows activations, and can break event streams.
type observer struct {
	started chan string // IDs of the activations the server accepted

	// breakEvents, when set, cuts every event stream after its first event,
	// as a dropped connection would.
	breakEvents atomic.Bool

	mu        sync.Mutex
	eventReqs int // guarded by mu
	longPolls int // guarded by mu
}

func newObserver() *observer { return &observer{started: make(chan string, 100)} }

// option is the Client option that sends requests through o.
func (o *observer) option() activator.Option {
	return activator.WithHTTPClient(&http.Client{Transport: o})
}

// RoundTrip implements http.RoundTripper.
func (o *observer) RoundTrip(req *http.Request) (*http.Response, error) {
	path := req.URL.Path
	events := strings.HasSuffix(path, "/events")
	o.mu.Lock()
	switch { // count requests as they are sent: a long-poll answers late
	case events:
		o.eventReqs++
	case req.Method == http.MethodGet && req.URL.Query().Get("wait") != "":
		o.longPolls++
	}
	o.mu.Unlock()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	switch {
	case req.Method == http.MethodPost && path == "/v1/activations" && resp.StatusCode == http.StatusAccepted:
		o.started <- strings.TrimPrefix(resp.Header.Get("Location"), "/v1/activations/")
	case events && o.breakEvents.Load():
		resp.Body = &breakingBody{ReadCloser: resp.Body}
	}
	return resp, nil
}

// nextStart waits until the server accepted an activation and returns its
// ID.
func (o *observer) nextStart(t *testing.T) string {
	t.Helper()
	select {
	case id := <-o.started:
		return id
	case <-time.After(waitLong):
		t.Fatalf("no activation was accepted within %v", waitLong)
		return ""
	}
}

// waitFollowing waits until the SDK follows an activation: it has asked
// for its events or long-polled it.
func (o *observer) waitFollowing(t *testing.T) {
	t.Helper()
	testkit.Eventually(t, "the SDK to follow the activation", func() bool {
		events, polls := o.counts()
		return events+polls > 0
	})
}

func (o *observer) counts() (eventReqs, longPolls int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.eventReqs, o.longPolls
}

// breakingBody passes on a stream up to the end of its first event, then
// fails as a reset connection does.
type breakingBody struct {
	io.ReadCloser
	seen []byte
}

func (b *breakingBody) Read(p []byte) (int, error) {
	if i := strings.Index(string(b.seen), "\n\n"); i >= 0 {
		return 0, errors.New("connection reset (simulated)")
	}
	n, err := b.ReadCloser.Read(p)
	b.seen = append(b.seen, p[:n]...)
	if i := strings.Index(string(b.seen), "\n\n"); i >= 0 {
		// deliver only up to the end of the first event
		extra := len(b.seen) - (i + 2)
		n -= extra
		if n < 0 {
			n = 0
		}
		b.seen = b.seen[:i+2]
	}
	return n, err
}

// activationStatus reads an activation as its user sees it, straight from
// the HTTP API.
func activationStatus(t *testing.T, n *apptest.Node, u user, id string) string {
	t.Helper()
	var a struct{ Status string }
	if code := n.Call(t, u.c.Token(), "GET", "/v1/activations/"+id, nil, &a); code != http.StatusOK {
		t.Fatalf("GET activation %s: HTTP %d", id, code)
	}
	return a.Status
}
