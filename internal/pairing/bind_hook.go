package pairing

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// The pre-bind hook: a product may name an HTTP endpoint of its maker that
// is asked, before a bind commits, whether this user may bind this device.
// The bind happens only on a 2xx answer {"allow": true}; {"allow": false,
// "reason": "…"} refuses it, and the user is shown the reason. A hook that
// does not answer in time (or answers anything else) is handled as the
// product says: deny (the default) or allow.

// What a product does when its pre-bind hook fails to answer.
const (
	HookFailureDeny  = "deny"
	HookFailureAllow = "allow"
)

// Limits of a pre-bind hook.
const (
	DefaultHookTimeout = 5 * time.Second
	MaxHookTimeout     = 30 * time.Second
	// MaxHookReason bounds the reason shown to the user, in bytes.
	MaxHookReason = 200
)

// The errors of a bind the pre-bind hook stopped.
var (
	ErrBindRefused    = errors.New("the device maker refused this bind")
	ErrBindHookFailed = errors.New("the device maker's check of this bind did not answer")
)

// The reasons an activation fails because of the pre-bind hook.
const (
	FailHookRefused FailReason = "hook-refused"
	FailHookFailed  FailReason = "hook-failed"
)

// BindHook is a product's pre-bind hook.
type BindHook struct {
	ProductID string
	URL       string
	Timeout   time.Duration
	OnFailure string // HookFailureDeny or HookFailureAllow
	Sealed    []byte // the signing secret, sealed at rest
	CreatedAt time.Time
}

// HookAnswer is what a pre-bind hook answered.
type HookAnswer struct {
	Allow  bool
	Reason string
}

// BindHookCaller calls pre-bind hooks; package webhooks implements it. It
// returns an error for anything but a 2xx answer with a JSON body
// {"allow": bool, "reason"?: string} within the timeout.
type BindHookCaller interface {
	CallBindHook(ctx context.Context, url string, secret []byte, timeout time.Duration, body []byte) (HookAnswer, error)
}

// SetBindHooks sets what calls pre-bind hooks. Until it is set, a product's
// hook counts as one that fails to answer.
func (s *Service) SetBindHooks(c BindHookCaller) {
	s.downMu.Lock()
	s.hookCaller = c
	s.downMu.Unlock()
}

func (s *Service) bindHooks() BindHookCaller {
	s.downMu.RLock()
	defer s.downMu.RUnlock()
	return s.hookCaller
}

// NewBindHook is what the admin asks for.
type NewBindHook struct {
	ProductID string
	URL       string
	Timeout   time.Duration // DefaultHookTimeout when 0
	OnFailure string        // HookFailureDeny when empty
}

// CreatedBindHook is a product's new pre-bind hook with its signing secret,
// shown this once.
type CreatedBindHook struct {
	BindHook
	Secret string
}

// SetBindHook gives the product a pre-bind hook (replacing any, with a new
// secret).
func (s *Service) SetBindHook(ctx context.Context, req NewBindHook) (CreatedBindHook, error) {
	if err := ValidHookURL(req.URL); err != nil {
		return CreatedBindHook{}, err
	}
	if req.Timeout == 0 {
		req.Timeout = DefaultHookTimeout
	}
	if req.Timeout < 100*time.Millisecond || req.Timeout > MaxHookTimeout {
		return CreatedBindHook{}, fmt.Errorf("%w: timeout must be from 100ms to %v", ErrInvalid, MaxHookTimeout)
	}
	switch req.OnFailure {
	case "":
		req.OnFailure = HookFailureDeny
	case HookFailureDeny, HookFailureAllow:
	default:
		return CreatedBindHook{}, fmt.Errorf("%w: onHookFailure must be deny or allow", ErrInvalid)
	}
	h := BindHook{ProductID: req.ProductID, URL: req.URL, Timeout: req.Timeout, OnFailure: req.OnFailure, CreatedAt: s.now().UTC()}
	secret := hex.EncodeToString(randomBytes(32))
	h.Sealed = s.sealer.seal("bindhook:"+h.ProductID, []byte(secret))
	if err := s.store.SetBindHook(ctx, h); err != nil {
		return CreatedBindHook{}, err
	}
	s.log.Info("pre-bind hook set", "product_id", h.ProductID, "url", h.URL, "timeout", h.Timeout, "on_failure", h.OnFailure)
	return CreatedBindHook{BindHook: h, Secret: secret}, nil
}

// BindHook returns the product's pre-bind hook.
func (s *Service) BindHook(ctx context.Context, productID string) (BindHook, error) {
	return s.store.BindHook(ctx, productID)
}

// DeleteBindHook removes the product's pre-bind hook.
func (s *Service) DeleteBindHook(ctx context.Context, productID string) error {
	return s.store.DeleteBindHook(ctx, productID)
}

// The data of a pre-bind hook's request.
type (
	hookDevice struct {
		ID        string `json:"id"`
		IMEI      string `json:"imei"`
		ProductID string `json:"productId"`
		Name      string `json:"name"`
	}
	hookProduct struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	hookUser struct {
		UID      string `json:"uid"`
		Username string `json:"username"`
	}
	hookHome struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	bindCheckData struct {
		ActivationID string      `json:"activationId"`
		Device       hookDevice  `json:"device"`
		Product      hookProduct `json:"product"`
		User         hookUser    `json:"user"`
		Home         hookHome    `json:"home"`
	}
)

// EventTypeBindCheck is the type of a pre-bind hook's request.
const EventTypeBindCheck = "bind.check"

// checkBindHook asks the pre-bind hook of the device's product, if it has
// one, whether the activation may bind. It returns how the activation
// ends when it may not, nil when it may.
func (s *Service) checkBindHook(ctx context.Context, a Activation) (*ActivationEnd, error) {
	h, err := s.store.BindHookOfDevice(ctx, a.DeviceID)
	if isNotFound(err) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	body, err := s.bindCheckBody(ctx, a)
	if err != nil {
		return nil, err
	}
	ans, err := s.callBindHook(ctx, h, body)
	switch {
	case err != nil && h.OnFailure == HookFailureAllow:
		s.log.Warn("pre-bind hook failed; the product allows the bind", "activation", a.ID, "device_id", a.DeviceID, "err", err)
		s.audit(ctx, AuditEntry{Action: AuditBind, Outcome: OutcomeOK, Actor: "system", UserID: a.UserID, DeviceID: a.DeviceID,
			Detail: "activation " + a.ID + ": pre-bind hook failed (" + clipReason(err.Error()) + "); allowed by onHookFailure=allow"})
		return nil, nil
	case err != nil:
		s.log.Warn("pre-bind hook failed; the bind is denied", "activation", a.ID, "device_id", a.DeviceID, "err", err)
		return &ActivationEnd{ID: a.ID, Status: ActivationFailed, Reason: FailHookFailed, Detail: clipReason(err.Error())}, nil
	case !ans.Allow:
		return &ActivationEnd{ID: a.ID, Status: ActivationFailed, Reason: FailHookRefused, Detail: clipReason(ans.Reason)}, nil
	}
	return nil, nil
}

func (s *Service) callBindHook(ctx context.Context, h BindHook, body []byte) (HookAnswer, error) {
	c := s.bindHooks()
	if c == nil {
		return HookAnswer{}, errors.New("no pre-bind hook caller is configured")
	}
	secret, err := s.sealer.open("bindhook:"+h.ProductID, h.Sealed)
	if err != nil {
		return HookAnswer{}, fmt.Errorf("opening the hook's secret: %w", err)
	}
	return c.CallBindHook(ctx, h.URL, secret, h.Timeout, body)
}

// bindCheckBody is the signed request of a pre-bind hook: the device, its
// product, the user and the home.
func (s *Service) bindCheckBody(ctx context.Context, a Activation) ([]byte, error) {
	d, err := s.store.Device(ctx, a.DeviceID)
	if err != nil {
		return nil, err
	}
	p, err := s.product(ctx, d.ProductID)
	if err != nil {
		return nil, err
	}
	u, err := s.store.User(ctx, a.UserID)
	if err != nil {
		return nil, err
	}
	home, err := s.store.Home(ctx, a.HomeID, a.UserID)
	if err != nil && !isNotFound(err) { // not a member any more: the bind refuses it
		return nil, err
	}
	data := bindCheckData{ActivationID: a.ID,
		Device:  hookDevice{ID: d.ID, IMEI: d.IMEI, ProductID: d.ProductID, Name: d.Name},
		Product: hookProduct{ID: p.ID, Name: p.Name},
		User:    hookUser{UID: u.ID, Username: u.Username},
		Home:    hookHome{ID: a.HomeID, Name: home.Name}}
	return jsonEnvelope(NewEventID(), EventTypeBindCheck, s.now().UTC(), data)
}

// clipReason makes a hook's reason plain text of at most MaxHookReason
// bytes: control characters become spaces, runs of space one.
func clipReason(r string) string {
	r = strings.ToValidUTF8(r, "")
	r = strings.Map(func(c rune) rune {
		if unicode.IsControl(c) || unicode.Is(unicode.Cf, c) {
			return ' '
		}
		return c
	}, r)
	r = strings.Join(strings.Fields(r), " ")
	if len(r) <= MaxHookReason {
		return r
	}
	cut := MaxHookReason - len("…")
	for cut > 0 && !utf8.RuneStart(r[cut]) {
		cut--
	}
	return r[:cut] + "…"
}
