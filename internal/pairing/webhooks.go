package pairing

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Webhooks tell the device maker's own systems what happened to its
// devices. Every event is written to a durable outbox in the transaction of
// the change that caused it (see Notes), one row per subscribed webhook;
// a dispatcher (package webhooks) delivers the rows in order per device,
// retrying until a 2xx answer or the outbox's maximum age.

// The webhook event types.
const (
	EventTypeRegistered       = "device.registered" // the device's first registration ever
	EventTypeOnline           = "device.online"     // a Register of a device that had no live registration
	EventTypeOffline          = "device.offline"    // a De-register, or the lifetime ran out
	EventTypeBound            = "device.bound"
	EventTypeUnbound          = "device.unbound"
	EventTypeReset            = "device.reset" // the device asked for a reset (normal or factory)
	EventTypeActivationFailed = "activation.failed"
	// EventTypeTransferred: the device moved to a new owner by a transfer;
	// device.unbound and device.bound are written with it.
	EventTypeTransferred = "device.transferred"
)

// EventTypes lists every webhook event type.
var EventTypes = []string{EventTypeRegistered, EventTypeOnline, EventTypeOffline, EventTypeBound,
	EventTypeUnbound, EventTypeReset, EventTypeActivationFailed, EventTypeTransferred}

// Limits of webhooks.
const (
	MaxWebhooks   = 100
	MaxWebhookURL = 2048
)

// ErrTooManyWebhooks is returned when MaxWebhooks exist already.
var ErrTooManyWebhooks = errors.New("too many webhooks")

// Webhook is an HTTP endpoint of the device maker that gets the events it
// subscribed to.
type Webhook struct {
	ID        string
	URL       string
	Events    []string
	Sealed    []byte // the signing secret, sealed at rest
	CreatedAt time.Time
}

// OutboxEvent is one event to deliver to every webhook subscribed to its
// type. Body is the exact JSON the receivers get.
type OutboxEvent struct {
	ID         string
	Type       string
	DeviceID   string
	OccurredAt time.Time
	Body       []byte
}

// OutboxItem is one event on its way to one webhook, as the dispatcher
// claimed it.
type OutboxItem struct {
	Seq        int64
	WebhookID  string
	EventID    string
	Type       string
	DeviceID   string
	OccurredAt time.Time
	Body       []byte
	Attempts   int // attempts made before this one
}

// Delivery outcomes of the delivery log.
const (
	DeliveryDelivered = "delivered" // a 2xx answer; the event left the outbox
	DeliveryRetry     = "retry"     // it failed and will be tried again
	DeliveryExpired   = "expired"   // it failed past the outbox's maximum age and was dropped
)

// Delivery is one attempt to deliver an event to a webhook.
type Delivery struct {
	Seq        int64
	WebhookID  string
	EventID    string
	Type       string
	DeviceID   string
	Attempt    int
	At         time.Time
	StatusCode int // 0 when no HTTP answer came
	Error      string
	Outcome    string
	Duration   time.Duration
}

// Notes are the webhook events a store write adds to the outbox in its own
// transaction; the zero Notes add none. The store fans each event out to the
// webhooks subscribed to its type at that moment.
type Notes struct {
	// Events are written with the change.
	Events []OutboxEvent
	// First (Register only) are written when it is the device's first
	// registration ever.
	First []OutboxEvent
	// Online (Register only) are written when the device had no live
	// registration before.
	Online []OutboxEvent
	// Each (DeleteExpired only) gives the events of each registration
	// removed.
	Each func(Registration) []OutboxEvent
	// Ended (FinishActivation, FactoryReset) gives the events of each
	// activation the write ended.
	Ended func(Activation) []OutboxEvent
}

// Empty reports whether n adds nothing.
func (n Notes) Empty() bool {
	return len(n.Events) == 0 && len(n.First) == 0 && len(n.Online) == 0 && n.Each == nil && n.Ended == nil
}

// ActivationEnd is how a pending activation ends (FinishActivationNoting).
type ActivationEnd struct {
	ID     string
	Status ActivationStatus
	Reason FailReason
	// Detail says more for people, such as the reason a pre-bind hook
	// gave; it is plain text, at most MaxHookReason bytes.
	Detail string
	At     time.Time
}

// WebhookStore holds webhooks, their outbox and delivery log, and the
// per-product pre-bind hooks; its *Noting writes are the Store's writes
// with webhook events added in the same transaction.
type WebhookStore interface {
	// CreateWebhook returns ErrTooManyWebhooks past MaxWebhooks.
	CreateWebhook(ctx context.Context, w Webhook) error
	Webhooks(ctx context.Context) ([]Webhook, error)
	Webhook(ctx context.Context, id string) (Webhook, error)
	// DeleteWebhook removes the webhook with its outbox rows and log.
	DeleteWebhook(ctx context.Context, id string) error

	// ClaimOutbox leases to owner, until until, at most limit items that
	// are due at now and not leased, each the oldest of its webhook and
	// device, oldest first. On a store several nodes share, two claims
	// never return the same item while its lease runs.
	ClaimOutbox(ctx context.Context, owner string, now, until time.Time, limit int) ([]OutboxItem, error)
	// FinishOutbox records an attempt at the item in the delivery log and,
	// in the same transaction, removes the item (retryAt zero: delivered or
	// given up) or releases it to be tried again at retryAt.
	FinishOutbox(ctx context.Context, it OutboxItem, d Delivery, retryAt time.Time) error
	// ReleaseOutbox ends every lease: for a store only one node uses, when
	// it starts after a crash.
	ReleaseOutbox(ctx context.Context) error
	// Deliveries lists the webhook's delivery log, newest first, before
	// the entry with seq before (0: from the newest).
	Deliveries(ctx context.Context, webhookID string, before int64, limit int) ([]Delivery, error)
	// PruneWebhooks applies the retentions: it drops outbox items that
	// occurred before expireBefore (logging each as expired), but not those
	// under a lease at the time of the call (their claimer records how the
	// attempt went), log entries older than logBefore, and all but the
	// newest logKeep entries of each webhook. It returns the outbox items
	// dropped.
	PruneWebhooks(ctx context.Context, expireBefore, logBefore time.Time, logKeep int) (int, error)
	// OutboxDue reports whether an item is due and not leased at now: a
	// cheap read before a claim, which writes.
	OutboxDue(ctx context.Context, now time.Time) (bool, error)
	// OutboxLen counts the outbox's items.
	OutboxLen(ctx context.Context) (int, error)

	// SetBindHook creates or replaces the product's pre-bind hook;
	// ErrProductNotExists if there is no such product.
	SetBindHook(ctx context.Context, h BindHook) error
	// BindHook returns the product's pre-bind hook; ErrNotFound if none.
	BindHook(ctx context.Context, productID string) (BindHook, error)
	// BindHookOfDevice returns the pre-bind hook of the device's product;
	// ErrNotFound if none.
	BindHookOfDevice(ctx context.Context, deviceID string) (BindHook, error)
	DeleteBindHook(ctx context.Context, productID string) error

	RegisterNoting(ctx context.Context, r Registration, n Notes) (first bool, err error)
	DeleteRegistrationNoting(ctx context.Context, id string, n Notes) (Registration, error)
	DeleteExpiredNoting(ctx context.Context, now time.Time, limit int, n Notes) ([]Registration, error)
	BindNoting(ctx context.Context, activationID string, at time.Time, n Notes) (Device, Activation, error)
	UnbindNoting(ctx context.Context, deviceID, homeID string, n Notes) (Device, error)
	FactoryResetNoting(ctx context.Context, deviceID, name string, at time.Time, n Notes) (Device, []Activation, error)
	// FinishActivationNoting is FinishActivation with a detail and notes.
	FinishActivationNoting(ctx context.Context, e ActivationEnd, n Notes) (Activation, error)
}

// NewWebhook is what the admin asks for.
type NewWebhook struct {
	URL    string
	Events []string
}

// CreatedWebhook is a new webhook with its signing secret, shown this once.
type CreatedWebhook struct {
	Webhook
	Secret string
}

// CreateWebhook checks and stores a new webhook with a fresh secret.
func (s *Service) CreateWebhook(ctx context.Context, req NewWebhook) (CreatedWebhook, error) {
	if err := ValidHookURL(req.URL); err != nil {
		return CreatedWebhook{}, err
	}
	events, err := validEvents(req.Events)
	if err != nil {
		return CreatedWebhook{}, err
	}
	w := Webhook{ID: "wh_" + idEncoding.EncodeToString(randomBytes(10)), URL: req.URL, Events: events, CreatedAt: s.now().UTC()}
	secret := hex.EncodeToString(randomBytes(32))
	w.Sealed = s.sealer.seal("webhook:"+w.ID, []byte(secret))
	if err := s.store.CreateWebhook(ctx, w); err != nil {
		return CreatedWebhook{}, err
	}
	s.subs.reset()
	s.log.Info("webhook created", "webhook", w.ID, "url", w.URL, "events", w.Events)
	return CreatedWebhook{Webhook: w, Secret: secret}, nil
}

// ValidHookURL accepts an absolute http or https URL without credentials.
// The device maker's own network is trusted: any host is accepted (the
// dispatcher's allow list, if set, limits the addresses it connects to).
func ValidHookURL(raw string) error {
	switch {
	case raw == "":
		return fmt.Errorf("%w: url is required", ErrMissing)
	case len(raw) > MaxWebhookURL:
		return fmt.Errorf("%w: url is longer than %d bytes", ErrInvalid, MaxWebhookURL)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Errorf("%w: url is not a URL", ErrInvalid)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%w: url must be http:// or https://, not %q", ErrInvalid, u.Scheme)
	case u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("%w: url has no host", ErrInvalid)
	case u.User != nil:
		return fmt.Errorf("%w: url may not carry credentials; the signature authenticates nbpair", ErrInvalid)
	case u.Fragment != "":
		return fmt.Errorf("%w: url may not have a fragment", ErrInvalid)
	}
	return nil
}

func validEvents(in []string) ([]string, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("%w: events is required: one or more of %s", ErrMissing, strings.Join(EventTypes, ", "))
	}
	var out []string
	for _, e := range in {
		if !slices.Contains(EventTypes, e) {
			return nil, fmt.Errorf("%w: event %.64q is not one of %s", ErrInvalid, e, strings.Join(EventTypes, ", "))
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out, nil
}

// Webhooks lists the webhooks.
func (s *Service) Webhooks(ctx context.Context) ([]Webhook, error) { return s.store.Webhooks(ctx) }

// Webhook returns one webhook.
func (s *Service) Webhook(ctx context.Context, id string) (Webhook, error) {
	return s.store.Webhook(ctx, id)
}

// DeleteWebhook removes a webhook and whatever it had still to deliver.
func (s *Service) DeleteWebhook(ctx context.Context, id string) error {
	if err := s.store.DeleteWebhook(ctx, id); err != nil {
		return err
	}
	s.subs.reset()
	s.log.Info("webhook deleted", "webhook", id)
	return nil
}

// WebhookDeliveries lists a webhook's delivery log, newest first.
func (s *Service) WebhookDeliveries(ctx context.Context, id string, before int64, limit int) ([]Delivery, error) {
	if _, err := s.store.Webhook(ctx, id); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	return s.store.Deliveries(ctx, id, before, limit)
}

// WebhookSecret opens the webhook's signing secret.
func (s *Service) WebhookSecret(w Webhook) ([]byte, error) {
	return s.sealer.open("webhook:"+w.ID, w.Sealed)
}

// Outbox is the store's outbox, for the dispatcher.
func (s *Service) Outbox() WebhookStore { return s.store }

// NewEventID returns a webhook event ID.
func NewEventID() string { return "evt_" + idEncoding.EncodeToString(randomBytes(10)) }
