package config

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// WebhookConfig tunes webhook deliveries and their retention.
type WebhookConfig struct {
	// WebhookPoll is how often the outbox is looked at for due events.
	WebhookPoll Duration `json:"webhookPoll"`
	// WebhookTimeout bounds one delivery.
	WebhookTimeout Duration `json:"webhookTimeout"`
	// WebhookMaxAge is the outbox's retention: an event not delivered
	// this long after it happened is dropped (and logged as expired).
	WebhookMaxAge Duration `json:"webhookMaxAge"`
	// WebhookRetryMin and WebhookRetryMax bound the wait before a retry,
	// which doubles with each failed attempt.
	WebhookRetryMin Duration `json:"webhookRetryMin"`
	WebhookRetryMax Duration `json:"webhookRetryMax"`
	// WebhookLogAge and WebhookLogKeep are the delivery log's retention:
	// older entries go, and all but the newest WebhookLogKeep per webhook.
	WebhookLogAge  Duration `json:"webhookLogAge"`
	WebhookLogKeep int      `json:"webhookLogKeep"`
	// WebhookPruneEvery is how often those retentions are applied.
	WebhookPruneEvery Duration `json:"webhookPruneEvery"`
	// WebhookAllow, when not empty, is a comma-separated list of CIDR
	// networks: webhooks and pre-bind hooks connect only to addresses in
	// them. Empty: any address (the maker's own network is trusted).
	WebhookAllow string `json:"webhookAllow"`
}

func defaultWebhooks() WebhookConfig {
	return WebhookConfig{
		WebhookPoll:       Duration(500 * time.Millisecond),
		WebhookTimeout:    Duration(10 * time.Second),
		WebhookMaxAge:     Duration(72 * time.Hour),
		WebhookRetryMin:   Duration(time.Second),
		WebhookRetryMax:   Duration(10 * time.Minute),
		WebhookLogAge:     Duration(7 * 24 * time.Hour),
		WebhookLogKeep:    1000,
		WebhookPruneEvery: Duration(time.Minute),
	}
}

func (c *WebhookConfig) fields() []field {
	return []field{
		{"webhook-poll", "how often the webhook outbox is looked at for due events", &c.WebhookPoll},
		{"webhook-timeout", "how long one webhook delivery may take", &c.WebhookTimeout},
		{"webhook-max-age", "retention of the webhook outbox: an event undelivered this long after it happened is dropped", &c.WebhookMaxAge},
		{"webhook-retry-min", "wait before the first retry of a failed webhook delivery (it doubles with each failure)", &c.WebhookRetryMin},
		{"webhook-retry-max", "longest wait between retries of a webhook delivery", &c.WebhookRetryMax},
		{"webhook-log-age", "retention of the webhook delivery log by age", &c.WebhookLogAge},
		{"webhook-log-keep", "entries of the delivery log kept per webhook, at most", (*intValue)(&c.WebhookLogKeep)},
		{"webhook-prune-every", "how often the retentions of the webhook outbox and delivery log are applied", &c.WebhookPruneEvery},
		{"webhook-allow", "comma-separated CIDR networks webhooks and pre-bind hooks may connect to (empty: any)", (*stringValue)(&c.WebhookAllow)},
	}
}

func (c *WebhookConfig) validate() error {
	var errs []error
	if c.WebhookPoll < Duration(10*time.Millisecond) || c.WebhookTimeout < Duration(100*time.Millisecond) {
		errs = append(errs, errors.New("webhookPoll/webhookTimeout: need at least 10ms and 100ms"))
	}
	if c.WebhookMaxAge < Duration(time.Second) || c.WebhookLogAge < Duration(time.Second) || c.WebhookLogKeep < 1 {
		errs = append(errs, errors.New("webhookMaxAge/webhookLogAge/webhookLogKeep: need at least 1s, 1s and 1 entry"))
	}
	if c.WebhookPruneEvery < Duration(10*time.Millisecond) {
		errs = append(errs, errors.New("webhookPruneEvery: need at least 10ms"))
	}
	if c.WebhookRetryMin < Duration(10*time.Millisecond) || c.WebhookRetryMax < c.WebhookRetryMin {
		errs = append(errs, errors.New("webhookRetryMin/webhookRetryMax: need at least 10ms, and a maximum not below the minimum"))
	}
	if _, err := c.AllowNets(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// AllowNets parses WebhookAllow.
func (c *WebhookConfig) AllowNets() ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, s := range strings.Split(c.WebhookAllow, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		_, n, err := net.ParseCIDR(s)
		if err != nil {
			return nil, fmt.Errorf("webhookAllow: %q is not a CIDR network such as 10.0.0.0/8", s)
		}
		out = append(out, n)
	}
	return out, nil
}
