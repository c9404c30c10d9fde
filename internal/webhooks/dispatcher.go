package webhooks

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/nbpair/nbpair/internal/pairing"
)

// Config tunes the dispatcher. Zero values take the defaults noted.
type Config struct {
	// Poll is how often the outbox is looked at (default 500 ms).
	Poll time.Duration
	// Timeout bounds one delivery (default 10 s).
	Timeout time.Duration
	// MaxAge is the outbox's retention: an event not delivered this long
	// after it occurred is dropped and logged as expired (default 72 h).
	MaxAge time.Duration
	// LogAge and LogKeep are the delivery log's retention: entries older
	// than LogAge go, and all but the newest LogKeep of each webhook
	// (defaults 7 days, 1,000).
	LogAge  time.Duration
	LogKeep int
	// PruneEvery is how often the retentions are applied (default 1 min).
	PruneEvery time.Duration
	// Count, if set, is told what happened to events: n of them with
	// outcome pairing.DeliveryDelivered, DeliveryRetry or DeliveryExpired
	// (a metric).
	Count func(outcome string, n int)
	// MinBackoff and MaxBackoff bound the wait before a retry, which
	// doubles from MinBackoff with each failed attempt (defaults 1 s, 10 min).
	MinBackoff, MaxBackoff time.Duration
	// Page is how many items one claim takes (default 64); Parallel how
	// many of them are sent at once (default 8).
	Page, Parallel int
	// Allow, when not empty, is the only networks deliveries connect to.
	Allow []*net.IPNet
	// Single is set when this node is the store's only user (SQLite): the
	// leases of a node that died are released at start.
	Single bool
}

func (c *Config) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.Poll, 500*time.Millisecond)
	def(&c.Timeout, 10*time.Second)
	def(&c.MaxAge, 72*time.Hour)
	def(&c.LogAge, 7*24*time.Hour)
	def(&c.MinBackoff, time.Second)
	def(&c.MaxBackoff, 10*time.Minute)
	def(&c.PruneEvery, time.Minute)
	if c.LogKeep <= 0 {
		c.LogKeep = 1000
	}
	if c.Page <= 0 {
		c.Page = 64
	}
	if c.Parallel <= 0 {
		c.Parallel = 8
	}
}

// Service is what the dispatcher needs of the pairing service.
type Service interface {
	Outbox() pairing.WebhookStore
	WebhookSecret(w pairing.Webhook) ([]byte, error)
}

// Dispatcher delivers the webhook outbox: it claims pages of due items
// (each the oldest of its webhook and device, so each device's events go
// out in order), posts them signed, and records every attempt. Memory stays
// bounded whatever the outbox holds: one page at a time.
type Dispatcher struct {
	svc    Service
	store  pairing.WebhookStore
	log    *slog.Logger
	cfg    Config
	client *http.Client
	owner  string // this node's lease name
	now    func() time.Time
}

// New returns a dispatcher of svc's outbox.
func New(svc Service, log *slog.Logger, cfg Config) *Dispatcher {
	cfg.defaults()
	b := make([]byte, 8)
	crand.Read(b)
	return &Dispatcher{svc: svc, store: svc.Outbox(), log: log, cfg: cfg, client: newClient(cfg.Allow),
		owner: "node-" + hex.EncodeToString(b), now: time.Now}
}

// Run delivers until ctx is done.
func (d *Dispatcher) Run(ctx context.Context) error {
	if d.cfg.Single {
		if err := d.store.ReleaseOutbox(ctx); err != nil && ctx.Err() == nil {
			d.log.Error("releasing the webhook outbox's leases", "err", err)
		}
	}
	t := time.NewTicker(d.cfg.Poll)
	defer t.Stop()
	var pruned time.Time
	for {
		if time.Since(pruned) >= d.cfg.PruneEvery {
			d.prune(ctx)
			pruned = time.Now()
		}
		for ctx.Err() == nil && d.round(ctx) {
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (d *Dispatcher) prune(ctx context.Context) {
	now := d.now()
	n, err := d.store.PruneWebhooks(ctx, now.Add(-d.cfg.MaxAge), now.Add(-d.cfg.LogAge), d.cfg.LogKeep)
	if err != nil && ctx.Err() == nil {
		d.log.Error("pruning the webhook outbox and log", "err", err)
	} else if n > 0 {
		d.log.Warn("webhook events dropped undelivered past the outbox's maximum age", "events", n, "max_age", d.cfg.MaxAge)
		d.count(pairing.DeliveryExpired, n)
	}
}

// round delivers one page; it reports whether there may be more now.
func (d *Dispatcher) round(ctx context.Context) bool {
	now := d.now()
	due, err := d.store.OutboxDue(ctx, now)
	if err != nil || !due {
		if err != nil && ctx.Err() == nil {
			d.log.Error("reading the webhook outbox", "err", err)
		}
		return false
	}
	items, err := d.store.ClaimOutbox(ctx, d.owner, now, now.Add(d.cfg.Timeout+30*time.Second), d.cfg.Page)
	if err != nil || len(items) == 0 {
		if err != nil && ctx.Err() == nil {
			d.log.Error("claiming from the webhook outbox", "err", err)
		}
		return false
	}
	hooks, err := d.webhooks(ctx)
	if err != nil {
		d.log.Error("reading webhooks", "err", err)
		return false
	}
	sem := make(chan struct{}, d.cfg.Parallel)
	var wg sync.WaitGroup
	for _, it := range items {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			d.deliver(context.WithoutCancel(ctx), hooks[it.WebhookID], it)
		}()
	}
	wg.Wait()
	return true
}

// hook is a webhook with its opened secret.
type hook struct {
	url    string
	secret []byte
}

func (d *Dispatcher) webhooks(ctx context.Context) (map[string]hook, error) {
	ws, err := d.store.Webhooks(ctx)
	if err != nil {
		return nil, err
	}
	m := make(map[string]hook, len(ws))
	for _, w := range ws {
		secret, err := d.svc.WebhookSecret(w)
		if err != nil {
			d.log.Error("opening a webhook's secret", "webhook", w.ID, "err", err)
			continue
		}
		m[w.ID] = hook{url: w.URL, secret: secret}
	}
	return m, nil
}

// deliver sends one item and records how it went.
func (d *Dispatcher) deliver(ctx context.Context, h hook, it pairing.OutboxItem) {
	rec := pairing.Delivery{WebhookID: it.WebhookID, EventID: it.EventID, Type: it.Type, DeviceID: it.DeviceID,
		Attempt: it.Attempts + 1, At: d.now().UTC()}
	if h.url == "" {
		rec.Error = "the webhook's secret cannot be opened (another secret.key?)"
	} else {
		cctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
		a, err := post(cctx, d.client, h.url, h.secret, it.Body, map[string]string{
			HeaderEventID: it.EventID, HeaderEventType: it.Type, "X-Nbpair-Delivery-Attempt": strconv.Itoa(rec.Attempt)})
		cancel()
		rec.StatusCode = a.status
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			rec.Error = fmt.Sprintf("no answer within %v", d.cfg.Timeout)
		case err != nil:
			rec.Error = short(err.Error())
		case !ok(a.status):
			rec.Error = short(fmt.Sprintf("HTTP %d: %s", a.status, a.body))
		}
	}
	rec.Duration = d.now().Sub(rec.At)
	var retryAt time.Time
	switch {
	case rec.Error == "":
		rec.Outcome = pairing.DeliveryDelivered
	case d.now().Sub(it.OccurredAt) >= d.cfg.MaxAge:
		rec.Outcome = pairing.DeliveryExpired
		d.log.Warn("webhook event dropped undelivered past the outbox's maximum age", "webhook", it.WebhookID,
			"event", it.EventID, "type", it.Type, "device_id", it.DeviceID, "attempts", rec.Attempt, "err", rec.Error)
	default:
		rec.Outcome = pairing.DeliveryRetry
		retryAt = d.now().Add(d.backoff(it.Attempts))
	}
	if err := d.store.FinishOutbox(ctx, it, rec, retryAt); err != nil {
		// The lease runs out and the item is tried again: at least once.
		d.log.Error("recording a webhook delivery", "webhook", it.WebhookID, "event", it.EventID, "err", err)
		return
	}
	d.count(rec.Outcome, 1)
}

// count tells Config.Count, if set, of n events with outcome.
func (d *Dispatcher) count(outcome string, n int) {
	if d.cfg.Count != nil {
		d.cfg.Count(outcome, n)
	}
}

// backoff is the wait after the attempts+1-th failure: MinBackoff doubled
// per earlier failure, at most MaxBackoff, less up to a fifth at random.
func (d *Dispatcher) backoff(attempts int) time.Duration {
	b := d.cfg.MinBackoff
	for i := 0; i < attempts && b < d.cfg.MaxBackoff; i++ {
		b *= 2
	}
	b = min(b, d.cfg.MaxBackoff)
	return b - time.Duration(rand.Int64N(int64(b)/5+1))
}
