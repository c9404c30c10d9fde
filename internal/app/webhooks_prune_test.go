package app_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/config"
	"github.com/nbpair/nbpair/internal/testkit"
)

// TestWebhookRetention: with short retentions set in the server's config,
// events a receiver never accepts are dropped once they are older than
// webhookMaxAge, each logged as expired, and the delivery log, as the
// admin API shows it, is trimmed to webhookLogKeep entries; /metrics
// counts the events given up.
func TestWebhookRetention(t *testing.T) {
	testkit.Long(t, "waits out the outbox's maximum age")
	const (
		devices = 3
		keep    = 4
	)
	n := apptest.Start(t, "", func(c *config.Config) {
		c.WebhookPoll = config.Duration(20 * time.Millisecond)
		// Long enough that the events are all written, on a loaded
		// machine too, before the first of them expires.
		c.WebhookMaxAge = config.Duration(8 * time.Second)
		// One attempt per device's oldest event, then a retry far after
		// the maximum age: the retention, not a retry, drops the events.
		c.WebhookRetryMin, c.WebhookRetryMax = config.Duration(time.Hour), config.Duration(time.Hour)
		c.WebhookLogKeep = keep
		c.WebhookPruneEvery = config.Duration(100 * time.Millisecond)
	})
	rc := newReceiver(t, 1<<30) // answers 500 to everything
	h := addWebhook(t, n, rc.URL, "device.registered", "device.online", "device.offline")
	rc.setSecret(h.Secret)
	cc := rawDevice(t, n.CoAPAddr())
	for i := range devices {
		d := n.Provision(t, apptest.IMEI(7000+i))
		if err := registerDeregister(cc, d.IMEI); err != nil { // registered, online, offline
			t.Fatal(err)
		}
	}
	outbox := func() int {
		l, err := n.Service().Outbox().OutboxLen(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	if l := outbox(); l != 3*devices {
		t.Fatalf("the outbox holds %d events, want %d", l, 3*devices)
	}

	type entry struct {
		EventID, Type, Outcome, Error string
		StatusCode, Attempt           int
	}
	var log struct{ Deliveries []entry }
	testkit.Eventually(t, "the events dropped and the log trimmed", func() bool {
		log.Deliveries = nil // absent fields (omitempty) must not keep an earlier answer's values
		if code := n.API(t, "GET", "/v1/admin/webhooks/"+h.ID+"/deliveries?limit=1000", nil, &log); code != http.StatusOK {
			t.Fatalf("deliveries: HTTP %d", code)
		}
		return outbox() == 0 && len(log.Deliveries) <= keep
	})
	// Each device's oldest event was tried once, refused; the others
	// waited behind it. All nine expired, most dropped by the retention
	// unsent; one that became its device's oldest when those before it
	// were dropped, already past the maximum age, is tried once and given
	// up. The log keeps the newest four, all expiries.
	if len(log.Deliveries) != keep {
		t.Fatalf("the delivery log has %d entries, want %d: %+v", len(log.Deliveries), keep, log.Deliveries)
	}
	for _, e := range log.Deliveries {
		unsent := e.StatusCode == 0 && e.Error == "older than the outbox's maximum age"
		refused := e.StatusCode == http.StatusInternalServerError
		if e.Outcome != "expired" || e.EventID == "" || !unsent && !refused {
			t.Errorf("log entry %+v, want an expiry", e)
		}
	}
	// The metric counts every event given up, whether by a last attempt
	// or unsent by the retention, and each refused attempt before.
	if got := metricValue(t, n, `nbpair_webhook_deliveries_total{outcome="expired"}`); got != 3*devices {
		t.Errorf("nbpair_webhook_deliveries_total{outcome=\"expired\"} = %v, want %d", got, 3*devices)
	}
	if got := metricValue(t, n, `nbpair_webhook_deliveries_total{outcome="retry"}`); got < devices {
		t.Errorf("nbpair_webhook_deliveries_total{outcome=\"retry\"} = %v, want at least %d (each device's oldest refused once)", got, devices)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.attempts) < devices || len(rc.ok) != 0 {
		t.Errorf("%d events tried and %d accepted, want at least %d tried (one per device) and none accepted", len(rc.attempts), len(rc.ok), devices)
	}
	for id, tries := range rc.attempts {
		if tries != 1 {
			t.Errorf("event %s tried %d times, want once (no retry within the maximum age)", id, tries)
		}
	}
	if len(rc.bad) > 0 {
		t.Errorf("bad deliveries: %q", rc.bad)
	}
}
