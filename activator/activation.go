package activator

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Timing of following an activation.
const (
	// longPollWait is the wait of one long-poll; the server caps it at 60 s.
	longPollWait = "30s"
	// pollBackoffMin and pollBackoffMax bound the pause between long-polls
	// that failed.
	pollBackoffMin = 100 * time.Millisecond
	pollBackoffMax = 5 * time.Second
	// stopTimeout bounds the DELETE that stops an activation the caller
	// gave up on.
	stopTimeout = 5 * time.Second
)

// The statuses of an activation; all but pending are final.
const (
	statusPending = "pending"
	statusPaired  = "paired"
)

// activationRequest is the body of POST /v1/activations.
type activationRequest struct {
	Type     ActivatorType `json:"type"`
	NbID     string        `json:"nbId"`
	SpaceID  string        `json:"spaceId"`
	Timeout  int           `json:"timeout"`
	TimeZone string        `json:"timeZone,omitempty"`
}

// activation is an activation as the API shows it.
type activation struct {
	ID        string       `json:"id"`
	UID       string       `json:"uid"`
	NbID      string       `json:"nbId"`
	DevID     string       `json:"devId"`
	SpaceID   string       `json:"spaceId"`
	TimeZone  string       `json:"timeZone"`
	Timeout   int          `json:"timeout"`
	Status    string       `json:"status"`
	Remaining float64      `json:"remaining"` // seconds until the deadline
	Device    *DeviceModel `json:"device"`    // once paired
	Error     *Error       `json:"error"`     // once failed or stopped
}

func (a activation) finished() bool { return a.Status != "" && a.Status != statusPending }

// outcome is the device or the error a finished activation ended with.
func (a activation) outcome() (DeviceModel, *Error) {
	switch {
	case a.Status == statusPaired && a.Device != nil:
		return *a.Device, nil
	case a.Error != nil:
		return DeviceModel{}, a.Error
	}
	return DeviceModel{}, &Error{Code: CodeInternalError, Name: ErrInternalError.Name,
		Message: fmt.Sprintf("activation %s ended %q without a device or an error", a.ID, a.Status)}
}

// device is what the activation knows of its device, for an ErrorModel.
func (a activation) device() DeviceModel {
	return DeviceModel{DevID: a.DevID, SpaceID: a.SpaceID, TimeZone: a.TimeZone, ActivatorType: TypeNB}
}

// Activate pairs one device and blocks until the outcome: it starts the
// activation t describes and follows it until the device is bound (it
// returns the device) or the activation fails (it returns the *Error, such
// as CodeTimeout or CodeDeviceAlreadyBound). Errors of the request itself
// are returned as they are: an *Error for the server's refusals, a wrapped
// error for network failures.
//
// When ctx ends first, Activate stops the activation on the server, waiting
// at most a few seconds for that, and returns an error wrapping ctx's
// error. A device bound just before the stop stays bound; HomeDevices
// shows it.
func (c *Client) Activate(ctx context.Context, t TypeModel) (DeviceModel, error) {
	return c.ActivateNotify(ctx, t, nil)
}

// Started is an activation the server has started: its ID, and the
// deadline the server set from TypeModel.Timeout (or its default), as a
// time on this machine's clock.
type Started struct {
	ID       string
	Deadline time.Time
}

// ActivateNotify is Activate that first calls started, if not nil, once
// the server has started the activation: an app can show the time left
// until the server's deadline rather than its own guess.
func (c *Client) ActivateNotify(ctx context.Context, t TypeModel, started func(Started)) (DeviceModel, error) {
	sent := time.Now()
	a, err := c.startActivation(ctx, t)
	if err != nil {
		return DeviceModel{}, err
	}
	if started != nil {
		started(Started{ID: a.ID, Deadline: sent.Add(time.Duration(a.Remaining * float64(time.Second)))})
	}
	if !a.finished() {
		id := a.ID
		if a, err = c.follow(ctx, id); err != nil {
			if ctx.Err() != nil {
				c.stopBounded(ctx, id)
				return DeviceModel{}, fmt.Errorf("activator: activation %s stopped: %w", id, ctx.Err())
			}
			return DeviceModel{}, err
		}
	}
	d, e := a.outcome()
	if e != nil {
		return DeviceModel{}, e
	}
	return d, nil
}

// startActivation is POST /v1/activations.
func (c *Client) startActivation(ctx context.Context, t TypeModel) (activation, error) {
	var a activation
	err := c.do(ctx, http.MethodPost, "/v1/activations", activationRequest{
		Type: t.Type, NbID: t.NbID, SpaceID: t.SpaceID, Timeout: t.timeoutSeconds(), TimeZone: t.TimeZone,
	}, &a)
	return a, err
}

// getActivation is GET /v1/activations/{id}, a long-poll when wait is set.
func (c *Client) getActivation(ctx context.Context, id, wait string) (activation, error) {
	path := "/v1/activations/" + url.PathEscape(id)
	if wait != "" {
		path += "?wait=" + wait
	}
	var a activation
	err := c.do(ctx, http.MethodGet, path, nil, &a)
	return a, err
}

// stopActivation is DELETE /v1/activations/{id}; it returns the activation
// as it ended (a finished one stays as it was).
func (c *Client) stopActivation(ctx context.Context, id string) (activation, error) {
	var a activation
	err := c.do(ctx, http.MethodDelete, "/v1/activations/"+url.PathEscape(id), nil, &a)
	return a, err
}

// stopBounded stops an activation the caller gave up on, even though ctx
// may have ended, waiting at most stopTimeout. A failure is not reported:
// the activation then ends at its deadline.
func (c *Client) stopBounded(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
	defer cancel()
	c.stopActivation(ctx, id)
}

// follow waits until the activation has finished and returns it: by its
// server-sent events, and if that stream breaks, by long-polls. It returns
// an *Error the server answered with (an unknown activation, a lost
// session), or ctx's error.
func (c *Client) follow(ctx context.Context, id string) (activation, error) {
	a, err := c.watchEvents(ctx, id)
	if err == nil || ctx.Err() != nil || !retryable(err) {
		return a, err
	}
	return c.poll(ctx, id)
}

// poll long-polls the activation until it has finished. Network failures
// and the server's internal errors are retried with backoff until ctx
// ends; then the error wraps both ctx's error and the last failure.
func (c *Client) poll(ctx context.Context, id string) (activation, error) {
	backoff := pollBackoffMin
	for {
		a, err := c.getActivation(ctx, id, longPollWait)
		switch {
		case err == nil && a.finished():
			return a, nil
		case err == nil:
			backoff = pollBackoffMin
			continue
		case ctx.Err() != nil:
			return activation{}, fmt.Errorf("activator: following activation %s: %w", id, ctx.Err())
		case !retryable(err):
			return activation{}, err
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return activation{}, fmt.Errorf("activator: following activation %s: %w; last failure: %w", id, ctx.Err(), err)
		case <-t.C:
		}
		backoff = min(2*backoff, pollBackoffMax)
	}
}

// retryable reports whether a request that failed with err may succeed
// when sent again: a network failure, an error of the server (or of a
// proxy in front of it) rather than of the request, or rate limiting.
func retryable(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return true
	}
	return e.HTTPStatus >= 500 || e.HTTPStatus == http.StatusTooManyRequests
}
