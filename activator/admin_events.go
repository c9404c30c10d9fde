package activator

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
)

// The device maker's record of what happened: the audit log, webhooks and
// their deliveries, and the dashboard.

// Audit reads a page of the audit log, newest first.
func (a *Admin) Audit(ctx context.Context, q AuditQuery) (AuditPage, error) {
	v := url.Values{}
	setNonEmpty(v, "deviceId", q.DeviceID)
	setNonEmpty(v, "uid", q.UID)
	setNonEmpty(v, "action", q.Action)
	setNonEmpty(v, "outcome", q.Outcome)
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Before != 0 {
		v.Set("before", strconv.FormatInt(q.Before, 10))
	}
	var p AuditPage
	err := a.do(ctx, http.MethodGet, withQuery("/v1/admin/audit", v), nil, &p)
	return p, err
}

// CreateWebhook makes the server POST the events of the given types
// (such as "device.bound"; see the README for them all) to hookURL. The
// answer's Secret, shown this once, signs every delivery.
func (a *Admin) CreateWebhook(ctx context.Context, hookURL string, events []string) (Webhook, error) {
	var w Webhook
	err := a.do(ctx, http.MethodPost, "/v1/admin/webhooks", map[string]any{"url": hookURL, "events": events}, &w)
	return w, err
}

// Webhooks lists the webhooks, without their secrets.
func (a *Admin) Webhooks(ctx context.Context) ([]Webhook, error) {
	var out struct {
		Webhooks []Webhook `json:"webhooks"`
	}
	err := a.do(ctx, http.MethodGet, "/v1/admin/webhooks", nil, &out)
	return out.Webhooks, err
}

// Webhook returns a webhook, without its secret.
func (a *Admin) Webhook(ctx context.Context, id string) (Webhook, error) {
	var w Webhook
	err := a.do(ctx, http.MethodGet, webhookPath(id), nil, &w)
	return w, err
}

// DeleteWebhook deletes a webhook; its undelivered events are dropped.
func (a *Admin) DeleteWebhook(ctx context.Context, id string) error {
	return a.do(ctx, http.MethodDelete, webhookPath(id), nil, nil)
}

// WebhookDeliveries reads a webhook's delivery log: every attempt, newest
// first.
func (a *Admin) WebhookDeliveries(ctx context.Context, id string, q DeliveryQuery) ([]Delivery, error) {
	v := url.Values{}
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Before != 0 {
		v.Set("before", strconv.FormatInt(q.Before, 10))
	}
	var out struct {
		Deliveries []Delivery `json:"deliveries"`
	}
	err := a.do(ctx, http.MethodGet, withQuery(webhookPath(id)+"/deliveries", v), nil, &out)
	return out.Deliveries, err
}

func webhookPath(id string) string { return "/v1/admin/webhooks/" + url.PathEscape(id) }

// Dashboard returns the fleet's activity of the last day, minute by
// minute, as the admin web app shows it; a server that records no metrics
// answers CodeNotFound.
func (a *Admin) Dashboard(ctx context.Context) (Dashboard, error) {
	var d Dashboard
	err := a.do(ctx, http.MethodGet, "/v1/admin/dashboard", nil, &d)
	return d, err
}
