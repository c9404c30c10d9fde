package app

import (
	"time"

	"github.com/nbpair/nbpair/internal/webhooks"
)

// startHooks sets up the calls to the device maker's endpoints: the
// pre-bind hooks, and the dispatcher of the webhook outbox (run by Run).
func (a *App) startHooks() error {
	cfg := a.cfg.WebhookConfig
	allow, err := cfg.AllowNets()
	if err != nil {
		return err
	}
	a.svc.SetBindHooks(webhooks.NewCaller(allow))
	a.hooks = webhooks.New(a.svc, a.log.With("component", "webhooks"), webhooks.Config{
		Poll: time.Duration(cfg.WebhookPoll), Timeout: time.Duration(cfg.WebhookTimeout),
		MaxAge: time.Duration(cfg.WebhookMaxAge), LogAge: time.Duration(cfg.WebhookLogAge), LogKeep: cfg.WebhookLogKeep,
		PruneEvery: time.Duration(cfg.WebhookPruneEvery),
		MinBackoff: time.Duration(cfg.WebhookRetryMin), MaxBackoff: time.Duration(cfg.WebhookRetryMax),
		Allow: allow, Single: a.cfg.Store == "", Count: a.metrics.WebhookDeliveries,
	})
	return nil
}
