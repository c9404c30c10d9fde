package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nbpair/nbpair/internal/pairing"
)

// The webhook part of the contract (pairing.WebhookStore): webhooks, the
// outbox written with the change that caused each event, its claims and
// leases, the delivery log and the retentions.
var webhookTests = []test{
	{"CreateListGetDelete", webhookCRUD},
	{"TooMany", tooManyWebhooks},
	{"FanOutBySubscription", webhookFanOut},
	{"EventsCommitWithTheChange", eventsCommitWithTheChange},
	{"FailedWriteAddsNoEvents", failedWriteAddsNoEvents},
	{"ClaimItem", claimItem},
	{"OrderPerDevice", outboxOrderPerDevice},
	{"ClaimOldestFirstUpToLimit", claimOldestFirst},
	{"Lease", outboxLease},
	{"ConcurrentClaims", concurrentClaims},
	{"RetryNotDueBeforeItsTime", retryNotDueEarly},
	{"DeliveryLog", deliveryLog},
	{"DeleteWebhookDropsItsItems", deleteWebhookDropsItems},
	{"PruneExpires", pruneExpires},
	{"PruneSparesLeased", pruneSparesLeased},
	{"PruneTrimsTheLog", pruneTrimsLog},
}

// newWebhook returns webhook number n, made n minutes after epoch.
func newWebhook(n int, events ...string) pairing.Webhook {
	return pairing.Webhook{
		ID: fmt.Sprintf("wh_%03d", n), URL: fmt.Sprintf("https://hooks.example.com/nbpair/%d", n), Events: events,
		Sealed: []byte(fmt.Sprintf("sealed secret %d \x00\xff", n)), CreatedAt: at(time.Duration(n) * time.Minute),
	}
}

func createWebhook(t *testing.T, s pairing.Store, n int, events ...string) pairing.Webhook {
	t.Helper()
	w := newWebhook(n, events...)
	if err := s.CreateWebhook(t.Context(), w); err != nil {
		t.Fatalf("CreateWebhook(%s): %v", w.ID, err)
	}
	return w
}

// newEvent returns an event of d with a JSON body that names it.
func newEvent(id, typ string, d pairing.Device, occurredAt time.Time) pairing.OutboxEvent {
	return pairing.OutboxEvent{ID: id, Type: typ, DeviceID: d.ID, OccurredAt: occurredAt,
		Body: []byte(fmt.Sprintf(`{"id":%q,"type":%q,"data":{"deviceId":%q}}`, id, typ, d.ID))}
}

// itemOf is what a claim of ev for w returns, but its Seq.
func itemOf(w pairing.Webhook, ev pairing.OutboxEvent, attempts int) pairing.OutboxItem {
	return pairing.OutboxItem{WebhookID: w.ID, EventID: ev.ID, Type: ev.Type, DeviceID: ev.DeviceID,
		OccurredAt: ev.OccurredAt.UTC(), Body: ev.Body, Attempts: attempts}
}

// enqueue writes evs (all of d) to the outbox with a change of d: a
// Register of a device with no live registration, noting them as the
// device coming online; the registration is then removed, so that the
// next enqueue is a device coming online again.
func enqueue(t *testing.T, s pairing.Store, d pairing.Device, evs ...pairing.OutboxEvent) {
	t.Helper()
	id := fmt.Sprintf("reg-%s-%s", d.ID, evs[0].ID)
	r := newRegistration(d, id, evs[0].OccurredAt)
	if _, err := s.RegisterNoting(t.Context(), r, pairing.Notes{Online: evs}); err != nil {
		t.Fatalf("RegisterNoting(%s): %v", id, err)
	}
	if _, err := s.DeleteRegistration(t.Context(), id); err != nil {
		t.Fatalf("DeleteRegistration(%s): %v", id, err)
	}
}

// claim claims at most limit items at now for a minute and fails t on an
// error.
func claim(t *testing.T, s pairing.Store, owner string, now time.Time, limit int) []pairing.OutboxItem {
	t.Helper()
	items, err := s.ClaimOutbox(t.Context(), owner, now, now.Add(time.Minute), limit)
	if err != nil {
		t.Fatalf("ClaimOutbox(%s at %v): %v", owner, now, err)
	}
	return items
}

// eventIDs returns the event IDs of items in order.
func eventIDs(items []pairing.OutboxItem) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.EventID
	}
	return out
}

// finish records an attempt at it made at attemptAt with that outcome,
// removing it (retryAt zero) or releasing it until retryAt, and returns the
// delivery logged.
func finish(t *testing.T, s pairing.Store, it pairing.OutboxItem, attemptAt time.Time, status int, retryAt time.Time) pairing.Delivery {
	t.Helper()
	d := pairing.Delivery{WebhookID: it.WebhookID, EventID: it.EventID, Type: it.Type, DeviceID: it.DeviceID,
		Attempt: it.Attempts + 1, At: attemptAt, StatusCode: status, Outcome: pairing.DeliveryDelivered,
		Duration: 1234567 * time.Nanosecond}
	if !retryAt.IsZero() {
		d.Outcome, d.Error = pairing.DeliveryRetry, fmt.Sprintf("HTTP %d: try again", status)
	}
	if err := s.FinishOutbox(t.Context(), it, d, retryAt); err != nil {
		t.Fatalf("FinishOutbox(%s): %v", it.EventID, err)
	}
	d.At = d.At.UTC()
	return d
}

func outboxLen(t *testing.T, s pairing.Store) int {
	t.Helper()
	n, err := s.OutboxLen(t.Context())
	if err != nil {
		t.Fatalf("OutboxLen: %v", err)
	}
	return n
}

func wantOutboxLen(t *testing.T, s pairing.Store, what string, want int) {
	t.Helper()
	if n := outboxLen(t, s); n != want {
		t.Fatalf("%s: OutboxLen %d, want %d", what, n, want)
	}
}

func wantDue(t *testing.T, s pairing.Store, now time.Time, want bool) {
	t.Helper()
	due, err := s.OutboxDue(t.Context(), now)
	if err != nil {
		t.Fatalf("OutboxDue(%v): %v", now, err)
	}
	if due != want {
		t.Fatalf("OutboxDue(%v) = %v, want %v", now, due, want)
	}
}

// deliveries returns the whole delivery log of the webhook, newest first.
func deliveries(t *testing.T, s pairing.Store, webhookID string) []pairing.Delivery {
	t.Helper()
	ds, err := s.Deliveries(t.Context(), webhookID, 0, 1000)
	if err != nil {
		t.Fatalf("Deliveries(%s): %v", webhookID, err)
	}
	return ds
}

// withoutSeq returns ds with their Seq zeroed, to compare with what was
// logged.
func withoutSeq(ds []pairing.Delivery) []pairing.Delivery {
	out := slices.Clone(ds)
	for i := range out {
		out[i].Seq = 0
	}
	return out
}

// CreateListGetDelete: a webhook comes back as it was stored, its sealed
// secret and events included; the list is in order of creation; a deleted
// webhook is gone.
func webhookCRUD(t *testing.T, s pairing.Store) {
	ctx := t.Context()
	if ws, err := s.Webhooks(ctx); err != nil || len(ws) != 0 {
		t.Fatalf("Webhooks of an empty store: %v, %v", ws, err)
	}
	w2 := createWebhook(t, s, 2, pairing.EventTypeOnline, pairing.EventTypeBound)
	w1 := createWebhook(t, s, 1, pairing.EventTypes...)
	w1.CreatedAt, w2.CreatedAt = w1.CreatedAt.UTC(), w2.CreatedAt.UTC()
	got, err := s.Webhook(ctx, w2.ID)
	if err != nil {
		t.Fatalf("Webhook(%s): %v", w2.ID, err)
	}
	wantEqual(t, "Webhook", got, w2)
	ws, err := s.Webhooks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "Webhooks (oldest first)", ws, []pairing.Webhook{w1, w2})
	_, err = s.Webhook(ctx, "wh_none")
	wantErr(t, "Webhook of an unknown ID", err, pairing.ErrNotFound)

	if err := s.DeleteWebhook(ctx, w1.ID); err != nil {
		t.Fatalf("DeleteWebhook: %v", err)
	}
	_, err = s.Webhook(ctx, w1.ID)
	wantErr(t, "Webhook after DeleteWebhook", err, pairing.ErrNotFound)
	wantErr(t, "DeleteWebhook again", s.DeleteWebhook(ctx, w1.ID), pairing.ErrNotFound)
	ws, err = s.Webhooks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "Webhooks after DeleteWebhook", ws, []pairing.Webhook{w2})
}

// TooMany: CreateWebhook refuses the webhook past MaxWebhooks.
func tooManyWebhooks(t *testing.T, s pairing.Store) {
	for i := range pairing.MaxWebhooks {
		createWebhook(t, s, i+1, pairing.EventTypeOnline)
	}
	err := s.CreateWebhook(t.Context(), newWebhook(pairing.MaxWebhooks+1, pairing.EventTypeOnline))
	wantErr(t, "CreateWebhook past MaxWebhooks", err, pairing.ErrTooManyWebhooks)
	if err := s.DeleteWebhook(t.Context(), newWebhook(1).ID); err != nil {
		t.Fatal(err)
	}
	createWebhook(t, s, pairing.MaxWebhooks+1, pairing.EventTypeOnline)
}

// FanOutBySubscription: an event goes to each webhook subscribed to its
// type when it is written, and to no other.
func webhookFanOut(t *testing.T, s pairing.Store) {
	d := createDevices(t, s, 1)[0]
	online := createWebhook(t, s, 1, pairing.EventTypeOnline, pairing.EventTypeOffline)
	bound := createWebhook(t, s, 2, pairing.EventTypeBound)
	both := createWebhook(t, s, 3, pairing.EventTypeBound, pairing.EventTypeOnline)
	evOnline := newEvent("evt_online", pairing.EventTypeOnline, d, at(time.Second))
	evBound := newEvent("evt_bound", pairing.EventTypeBound, d, at(2*time.Second))
	enqueue(t, s, d, evOnline, evBound)
	late := createWebhook(t, s, 4, pairing.EventTypeOnline) // after the events: gets none
	wantOutboxLen(t, s, "two events for three webhooks", 4)

	items := claim(t, s, "node-a", at(time.Hour), 100)
	var got []pairing.OutboxItem
	for _, it := range items {
		if it.Seq <= 0 {
			t.Errorf("item %+v has no Seq", it)
		}
		it.Seq = 0
		got = append(got, it)
	}
	slices.SortFunc(got, func(a, b pairing.OutboxItem) int { return strings.Compare(a.WebhookID, b.WebhookID) })
	// wh_003's bound event waits behind its online event (one device).
	wantEqual(t, "the heads claimed", got, []pairing.OutboxItem{itemOf(online, evOnline, 0), itemOf(bound, evBound, 0), itemOf(both, evOnline, 0)})
	for _, it := range items {
		if it.WebhookID == late.ID {
			t.Errorf("webhook %s, created after the event, got %s", late.ID, it.EventID)
		}
	}
}

// EventsCommitWithTheChange: every *Noting write adds its events with its
// change: Register (first and online), DeleteRegistration, DeleteExpired
// (each), Bind, Unbind, FinishActivation (ended) and FactoryReset.
func eventsCommitWithTheChange(t *testing.T, s pairing.Store) {
	ctx := t.Context()
	w := createWebhook(t, s, 1, pairing.EventTypes...)
	u, h, d := bindFixture(t, s, 1)
	ev := func(typ string, sec int) pairing.OutboxEvent {
		return newEvent(fmt.Sprintf("evt_%02d_%s", sec, typ), typ, d, at(time.Duration(sec)*time.Second))
	}
	var want []string
	note := func(evs ...pairing.OutboxEvent) pairing.Notes {
		for _, e := range evs {
			want = append(want, e.ID)
		}
		return pairing.Notes{Events: evs}
	}

	r := newRegistration(d, "reg1", at(time.Second))
	first, err := s.RegisterNoting(ctx, r, pairing.Notes{First: []pairing.OutboxEvent{ev(pairing.EventTypeRegistered, 1)},
		Online: []pairing.OutboxEvent{ev(pairing.EventTypeOnline, 1)}})
	if err != nil || !first {
		t.Fatalf("RegisterNoting of a new device: first %v, %v", first, err)
	}
	want = append(want, ev(pairing.EventTypeRegistered, 1).ID, ev(pairing.EventTypeOnline, 1).ID)
	// A Register of a device that is online and registered before adds
	// neither.
	r2 := newRegistration(d, "reg2", at(2*time.Second))
	if first, err := s.RegisterNoting(ctx, r2, pairing.Notes{First: []pairing.OutboxEvent{ev(pairing.EventTypeRegistered, 2)},
		Online: []pairing.OutboxEvent{ev(pairing.EventTypeOnline, 2)}}); err != nil || first {
		t.Fatalf("RegisterNoting of a live device: first %v, %v", first, err)
	}
	if _, err := s.DeleteRegistrationNoting(ctx, r2.ID, note(ev(pairing.EventTypeOffline, 3))); err != nil {
		t.Fatalf("DeleteRegistrationNoting: %v", err)
	}
	if _, err := s.RegisterNoting(ctx, newRegistration(d, "reg3", at(4*time.Second)),
		pairing.Notes{Online: []pairing.OutboxEvent{ev(pairing.EventTypeOnline, 4)}}); err != nil {
		t.Fatal(err)
	}
	want = append(want, ev(pairing.EventTypeOnline, 4).ID)
	gone, err := s.DeleteExpiredNoting(ctx, at(200*24*time.Hour), 10, pairing.Notes{Each: func(r pairing.Registration) []pairing.OutboxEvent {
		return []pairing.OutboxEvent{newEvent("evt_05_offline_"+r.ID, pairing.EventTypeOffline, d, at(5*time.Second))}
	}})
	if err != nil || len(gone) != 1 {
		t.Fatalf("DeleteExpiredNoting: %v, %v", gone, err)
	}
	want = append(want, "evt_05_offline_reg3")

	a := newActivation("act1", u, h, d, at(6*time.Second))
	createActivation(t, s, a)
	if _, _, err := s.BindNoting(ctx, a.ID, at(7*time.Second), note(ev(pairing.EventTypeBound, 7))); err != nil {
		t.Fatalf("BindNoting: %v", err)
	}
	if _, err := s.UnbindNoting(ctx, d.ID, h.ID, note(ev(pairing.EventTypeUnbound, 8))); err != nil {
		t.Fatalf("UnbindNoting: %v", err)
	}
	a2 := newActivation("act2", u, h, d, at(9*time.Second))
	createActivation(t, s, a2)
	end := pairing.ActivationEnd{ID: a2.ID, Status: pairing.ActivationFailed, Reason: pairing.FailTimeout, Detail: "no answer", At: at(10 * time.Second)}
	if _, err := s.FinishActivationNoting(ctx, end, pairing.Notes{Ended: func(a pairing.Activation) []pairing.OutboxEvent {
		return []pairing.OutboxEvent{newEvent("evt_10_failed_"+a.ID, pairing.EventTypeActivationFailed, d, at(10*time.Second))}
	}}); err != nil {
		t.Fatalf("FinishActivationNoting: %v", err)
	}
	want = append(want, "evt_10_failed_act2")
	a3 := newActivation("act3", u, h, d, at(11*time.Second))
	createActivation(t, s, a3)
	n := note(ev(pairing.EventTypeReset, 12))
	n.Ended = func(a pairing.Activation) []pairing.OutboxEvent {
		return []pairing.OutboxEvent{newEvent("evt_12_failed_"+a.ID, pairing.EventTypeActivationFailed, d, at(12*time.Second))}
	}
	if _, ended, err := s.FactoryResetNoting(ctx, d.ID, "Reset", at(12*time.Second), n); err != nil || len(ended) != 1 {
		t.Fatalf("FactoryResetNoting: %v, %v", ended, err)
	}
	want = append(want, "evt_12_failed_act3")

	// One device: the events come out one at a time, in the order written
	// (the reset's own event and its ended activation's in either order).
	var got []string
	for i := 0; i < 20; i++ {
		items := claim(t, s, "node-a", at(time.Hour), 10)
		if len(items) == 0 {
			break
		}
		if len(items) != 1 || items[0].WebhookID != w.ID {
			t.Fatalf("claim %d of one device's events: %+v, want one item", i, items)
		}
		got = append(got, items[0].EventID)
		finish(t, s, items[0], at(time.Hour), 204, time.Time{})
	}
	if len(got) == len(want) && got[len(got)-1] != want[len(want)-1] {
		got[len(got)-2], got[len(got)-1] = got[len(got)-1], got[len(got)-2]
	}
	wantEqual(t, "events in the order of their changes", got, want)
	wantOutboxLen(t, s, "after every event was delivered", 0)
}

// FailedWriteAddsNoEvents: a *Noting write that fails leaves the outbox as
// it was, even when it failed after writing its events.
func failedWriteAddsNoEvents(t *testing.T, s pairing.Store) {
	ctx := t.Context()
	createWebhook(t, s, 1, pairing.EventTypes...)
	u, h, d := bindFixture(t, s, 1)
	ghost := newDevice(99)
	evs := []pairing.OutboxEvent{newEvent("evt_ghost", pairing.EventTypeOnline, ghost, at(time.Second))}
	_, err := s.RegisterNoting(ctx, newRegistration(ghost, "reg-ghost", at(time.Second)), pairing.Notes{First: evs, Online: evs})
	wantErr(t, "RegisterNoting of an unknown device", err, pairing.ErrNotFound)
	_, err = s.DeleteRegistrationNoting(ctx, "reg-none", pairing.Notes{Events: evs})
	wantErr(t, "DeleteRegistrationNoting of an unknown registration", err, pairing.ErrNotFound)
	_, err = s.UnbindNoting(ctx, d.ID, "h_other", pairing.Notes{Events: []pairing.OutboxEvent{newEvent("evt_unbound", pairing.EventTypeUnbound, d, at(2*time.Second))}})
	wantErr(t, "UnbindNoting of a device not in the home", err, pairing.ErrNotFound)
	a := newActivation("act1", u, h, d, at(3*time.Second))
	createActivation(t, s, a)
	if _, err := s.FinishActivation(ctx, a.ID, pairing.ActivationStopped, "", at(4*time.Second)); err != nil {
		t.Fatal(err)
	}
	_, _, err = s.BindNoting(ctx, a.ID, at(5*time.Second), pairing.Notes{Events: []pairing.OutboxEvent{newEvent("evt_bound", pairing.EventTypeBound, d, at(5*time.Second))}})
	wantErr(t, "BindNoting of a finished activation", err, pairing.ErrActivationFinished)
	wantOutboxLen(t, s, "after failed writes", 0)
	wantDue(t, s, at(time.Hour), false)
}

// ClaimItem: a claim returns the item as written, leased; the lease keeps
// it from a second claim, and delivering it removes it.
func claimItem(t *testing.T, s pairing.Store) {
	d := createDevices(t, s, 1)[0]
	w := createWebhook(t, s, 1, pairing.EventTypeOnline)
	ev := newEvent("evt_1", pairing.EventTypeOnline, d, at(time.Second))
	enqueue(t, s, d, ev)
	wantDue(t, s, at(0), false) // not before it occurred
	wantDue(t, s, at(time.Second), true)
	if items := claim(t, s, "node-a", at(0), 10); len(items) != 0 {
		t.Fatalf("claim before the event occurred: %+v", items)
	}
	items := claim(t, s, "node-a", at(time.Second), 10)
	if len(items) != 1 || items[0].Seq <= 0 {
		t.Fatalf("claim: %+v, want one item", items)
	}
	it := items[0]
	it.Seq = 0
	wantEqual(t, "the item claimed", it, itemOf(w, ev, 0))
	wantDue(t, s, at(2*time.Second), false)
	if again := claim(t, s, "node-b", at(2*time.Second), 10); len(again) != 0 {
		t.Fatalf("a second claim during the lease got %+v", again)
	}
	finish(t, s, items[0], at(3*time.Second), 200, time.Time{})
	wantOutboxLen(t, s, "after delivery", 0)
	if again := claim(t, s, "node-b", at(time.Hour), 10); len(again) != 0 {
		t.Fatalf("a claim after delivery got %+v", again)
	}
}

// OrderPerDevice: only the oldest item of each webhook and device can be
// claimed; the next follows when it is delivered, also while it waits for
// a retry; other devices and other webhooks do not wait.
func outboxOrderPerDevice(t *testing.T, s pairing.Store) {
	devs := createDevices(t, s, 1, 2)
	w1 := createWebhook(t, s, 1, pairing.EventTypeOnline)
	w2 := createWebhook(t, s, 2, pairing.EventTypeOnline)
	var evs []pairing.OutboxEvent
	for i := range 3 {
		evs = append(evs, newEvent(fmt.Sprintf("evt_d1_%d", i), pairing.EventTypeOnline, devs[0], at(time.Duration(i)*time.Second)))
	}
	enqueue(t, s, devs[0], evs[0])
	enqueue(t, s, devs[0], evs[1])
	other := newEvent("evt_d2_0", pairing.EventTypeOnline, devs[1], at(5*time.Second))
	enqueue(t, s, devs[1], other)
	enqueue(t, s, devs[0], evs[2])
	wantOutboxLen(t, s, "four events for two webhooks", 8)

	now := at(time.Minute)
	items := claim(t, s, "node-a", now, 100)
	wantEqual(t, "the heads", eventIDs(items), []string{"evt_d1_0", "evt_d1_0", "evt_d2_0", "evt_d2_0"})
	// w1's head fails and waits for a retry: w1's next item of device 1
	// waits behind it, w2's does not.
	var w1Head pairing.OutboxItem
	for _, it := range items {
		switch {
		case it.WebhookID == w1.ID && it.DeviceID == devs[0].ID:
			w1Head = it
			finish(t, s, it, now, 500, now.Add(time.Hour))
		default:
			finish(t, s, it, now, 204, time.Time{})
		}
	}
	items = claim(t, s, "node-a", now.Add(time.Second), 100)
	if len(items) != 1 || items[0].WebhookID != w2.ID || items[0].EventID != "evt_d1_1" {
		t.Fatalf("claim while w1's head waits for its retry: %+v, want w2's evt_d1_1 only", items)
	}
	finish(t, s, items[0], now.Add(time.Second), 204, time.Time{})
	got := claim(t, s, "node-a", now.Add(time.Hour), 100)
	wantEqual(t, "after the retry time", eventIDs(got), []string{"evt_d1_0", "evt_d1_2"})
	if got[0].WebhookID != w1.ID || got[0].Attempts != 1 || got[0].Seq != w1Head.Seq || got[1].WebhookID != w2.ID {
		t.Fatalf("after the retry time: %+v", got)
	}
	finish(t, s, got[0], now.Add(time.Hour), 204, time.Time{})
	finish(t, s, got[1], now.Add(time.Hour), 204, time.Time{})
	var rest []string
	for {
		items := claim(t, s, "node-a", now.Add(time.Hour), 100)
		if len(items) == 0 {
			break
		}
		for _, it := range items {
			rest = append(rest, it.EventID)
			finish(t, s, it, now.Add(time.Hour), 204, time.Time{})
		}
	}
	wantEqual(t, "w1's rest, in order", rest, []string{"evt_d1_1", "evt_d1_2"})
	wantOutboxLen(t, s, "at the end", 0)
}

// ClaimOldestFirstUpToLimit: a claim takes at most limit heads, oldest
// first; the next claim takes the following ones.
func claimOldestFirst(t *testing.T, s pairing.Store) {
	const n = 7
	ns := make([]int, n)
	for i := range ns {
		ns[i] = n - i // created in reverse, enqueued in order
	}
	devs := createDevices(t, s, ns...)
	createWebhook(t, s, 1, pairing.EventTypeOnline)
	var want []string
	for i, d := range devs {
		ev := newEvent(fmt.Sprintf("evt_%d", i), pairing.EventTypeOnline, d, at(time.Duration(n-i)*time.Second))
		enqueue(t, s, d, ev)
		want = append(want, ev.ID)
	}
	now := at(time.Hour)
	a := claim(t, s, "node-a", now, 3)
	b := claim(t, s, "node-b", now, 3)
	c := claim(t, s, "node-c", now, 3)
	wantEqual(t, "claims of 3", [][]string{eventIDs(a), eventIDs(b), eventIDs(c)}, [][]string{want[:3], want[3:6], want[6:]})
	for _, items := range [][]pairing.OutboxItem{a, b, c} {
		for i := 1; i < len(items); i++ {
			if items[i].Seq <= items[i-1].Seq {
				t.Fatalf("claim not oldest first: %+v", items)
			}
		}
	}
}

// Lease: a leased item is not claimed again while its lease runs; when it
// has run out (its node died) another owner claims it; ReleaseOutbox ends
// every lease at once.
func outboxLease(t *testing.T, s pairing.Store) {
	devs := createDevices(t, s, 1, 2)
	createWebhook(t, s, 1, pairing.EventTypeOnline)
	enqueue(t, s, devs[0], newEvent("evt_1", pairing.EventTypeOnline, devs[0], at(0)))
	enqueue(t, s, devs[1], newEvent("evt_2", pairing.EventTypeOnline, devs[1], at(0)))
	now := at(time.Minute)
	items, err := s.ClaimOutbox(t.Context(), "node-a", now, now.Add(30*time.Second), 1)
	if err != nil || len(items) != 1 || items[0].EventID != "evt_1" {
		t.Fatalf("claim: %+v, %v", items, err)
	}
	if got := claim(t, s, "node-b", now.Add(29*time.Second), 10); !slices.Equal(eventIDs(got), []string{"evt_2"}) {
		t.Fatalf("claim while evt_1's lease runs: %v, want evt_2 only", eventIDs(got))
	}
	if got := claim(t, s, "node-b", now.Add(30*time.Second), 10); !slices.Equal(eventIDs(got), []string{"evt_1"}) {
		t.Fatalf("claim when evt_1's lease ran out: %v, want evt_1", eventIDs(got))
	}
	// Both leased until now+90s; a release frees them.
	if got := claim(t, s, "node-c", now.Add(31*time.Second), 10); len(got) != 0 {
		t.Fatalf("claim during the leases: %v", eventIDs(got))
	}
	if err := s.ReleaseOutbox(t.Context()); err != nil {
		t.Fatalf("ReleaseOutbox: %v", err)
	}
	wantDue(t, s, now.Add(31*time.Second), true)
	if got := claim(t, s, "node-c", now.Add(31*time.Second), 10); !slices.Equal(eventIDs(got), []string{"evt_1", "evt_2"}) {
		t.Fatalf("claim after ReleaseOutbox: %v, want both", eventIDs(got))
	}
}

// ConcurrentClaims: claims running at once (on PostgreSQL on connections
// of their own) never return the same item, and together take them all.
func concurrentClaims(t *testing.T, s pairing.Store) {
	const devices, perDevice = 40, 3
	ns := make([]int, devices)
	for i := range ns {
		ns[i] = i + 1
	}
	devs := createDevices(t, s, ns...)
	createWebhook(t, s, 1, pairing.EventTypeOnline)
	for _, d := range devs {
		var evs []pairing.OutboxEvent
		for j := range perDevice {
			evs = append(evs, newEvent(fmt.Sprintf("evt_%s_%d", d.ID, j), pairing.EventTypeOnline, d, at(time.Duration(j))))
		}
		enqueue(t, s, d, evs...)
	}
	claimed := make([][]pairing.OutboxItem, concurrent)
	errs := make([]error, concurrent)
	now := at(time.Hour)
	all(concurrent, func(i int) {
		for range devices {
			items, err := s.ClaimOutbox(t.Context(), fmt.Sprintf("node-%02d", i), now, now.Add(time.Minute), 3)
			if err != nil {
				errs[i] = err
				return
			}
			claimed[i] = append(claimed[i], items...)
		}
	})
	seen := map[int64]string{}
	for i, items := range claimed {
		if errs[i] != nil {
			t.Fatalf("claimer %d: %v", i, errs[i])
		}
		for _, it := range items {
			if other, dup := seen[it.Seq]; dup {
				t.Fatalf("item %d (%s) claimed by node-%02d and %s", it.Seq, it.EventID, i, other)
			}
			seen[it.Seq] = fmt.Sprintf("node-%02d", i)
			if it.EventID != fmt.Sprintf("evt_%s_0", it.DeviceID) {
				t.Fatalf("node-%02d claimed %s, not the head of its device", i, it.EventID)
			}
		}
	}
	if len(seen) != devices {
		t.Fatalf("%d claimers took %d heads, want all %d", concurrent, len(seen), devices)
	}
}

// RetryNotDueBeforeItsTime: a failed attempt releases the item until its
// retry time, counts the attempt, and logs it.
func retryNotDueEarly(t *testing.T, s pairing.Store) {
	d := createDevices(t, s, 1)[0]
	w := createWebhook(t, s, 1, pairing.EventTypeOnline)
	enqueue(t, s, d, newEvent("evt_1", pairing.EventTypeOnline, d, at(0)))
	now := at(time.Minute)
	it := claim(t, s, "node-a", now, 1)[0]
	retryAt := now.Add(10 * time.Second)
	logged := finish(t, s, it, now, 503, retryAt)
	wantDue(t, s, retryAt.Add(-time.Nanosecond), false)
	if got := claim(t, s, "node-a", retryAt.Add(-time.Nanosecond), 10); len(got) != 0 {
		t.Fatalf("claim before the retry time: %+v", got)
	}
	wantDue(t, s, retryAt, true)
	again := claim(t, s, "node-b", retryAt, 10)
	if len(again) != 1 || again[0].Seq != it.Seq || again[0].Attempts != 1 {
		t.Fatalf("claim at the retry time: %+v, want item %d with 1 attempt", again, it.Seq)
	}
	logged2 := finish(t, s, again[0], retryAt, 503, retryAt.Add(20*time.Second))
	if got := claim(t, s, "node-a", retryAt.Add(20*time.Second), 10); len(got) != 1 || got[0].Attempts != 2 {
		t.Fatalf("claim at the second retry time: %+v, want 2 attempts", got)
	}
	wantEqual(t, "the delivery log", withoutSeq(deliveries(t, s, w.ID)), []pairing.Delivery{logged2, logged})
}

// DeliveryLog: every attempt is logged with what happened, newest first,
// and pages with before and limit; an attempt at an item whose webhook was
// deleted meanwhile is not logged and is no error.
func deliveryLog(t *testing.T, s pairing.Store) {
	devs := createDevices(t, s, 1, 2)
	w1 := createWebhook(t, s, 1, pairing.EventTypeOnline)
	w2 := createWebhook(t, s, 2, pairing.EventTypeOnline)
	var want []pairing.Delivery // oldest first
	for i := range 5 {
		enqueue(t, s, devs[0], newEvent(fmt.Sprintf("evt_%d", i), pairing.EventTypeOnline, devs[0], at(time.Duration(i)*time.Second)))
	}
	for i := 0; ; i++ {
		items := claim(t, s, "node-a", at(time.Hour), 10)
		if len(items) == 0 {
			break
		}
		for _, it := range items {
			if it.WebhookID == w1.ID {
				want = append(want, finish(t, s, it, at(time.Hour+time.Duration(i)*time.Second), 200, time.Time{}))
			} else {
				finish(t, s, it, at(time.Hour), 200, time.Time{})
			}
		}
	}
	got := deliveries(t, s, w1.ID)
	slices.Reverse(want)
	wantEqual(t, "the whole log, newest first", withoutSeq(got), want)
	for i := 1; i < len(got); i++ {
		if got[i].Seq >= got[i-1].Seq {
			t.Fatalf("log not newest first by Seq: %+v", got)
		}
	}
	page, err := s.Deliveries(t.Context(), w1.ID, got[1].Seq, 2)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "the page before the second newest", page, got[2:4])
	if len(deliveries(t, s, w2.ID)) != 5 {
		t.Fatalf("w2's log: %+v, want its 5 attempts", deliveries(t, s, w2.ID))
	}

	enqueue(t, s, devs[1], newEvent("evt_late", pairing.EventTypeOnline, devs[1], at(2*time.Hour)))
	items := claim(t, s, "node-a", at(3*time.Hour), 10)
	if len(items) != 2 {
		t.Fatalf("claim: %+v, want evt_late for both webhooks", items)
	}
	if err := s.DeleteWebhook(t.Context(), w1.ID); err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		finish(t, s, it, at(3*time.Hour), 200, time.Time{})
	}
	if ds := deliveries(t, s, w1.ID); len(ds) != 0 {
		t.Fatalf("the log of a deleted webhook: %+v", ds)
	}
	if ds := deliveries(t, s, w2.ID); len(ds) != 6 || ds[0].EventID != "evt_late" {
		t.Fatalf("w2's log after its last attempt: %+v", ds)
	}
	wantOutboxLen(t, s, "at the end", 0)
}

// DeleteWebhookDropsItsItems: deleting a webhook removes its pending items
// and log, and no other webhook's.
func deleteWebhookDropsItems(t *testing.T, s pairing.Store) {
	d := createDevices(t, s, 1)[0]
	w1 := createWebhook(t, s, 1, pairing.EventTypeOnline)
	w2 := createWebhook(t, s, 2, pairing.EventTypeOnline)
	enqueue(t, s, d, newEvent("evt_1", pairing.EventTypeOnline, d, at(0)), newEvent("evt_2", pairing.EventTypeOnline, d, at(time.Second)))
	for _, it := range claim(t, s, "node-a", at(time.Minute), 10) {
		finish(t, s, it, at(time.Minute), 500, at(2*time.Minute))
	}
	wantOutboxLen(t, s, "two events for two webhooks", 4)
	if err := s.DeleteWebhook(t.Context(), w1.ID); err != nil {
		t.Fatal(err)
	}
	wantOutboxLen(t, s, "after deleting one webhook", 2)
	items := claim(t, s, "node-a", at(time.Hour), 10)
	if len(items) != 1 || items[0].WebhookID != w2.ID || items[0].EventID != "evt_1" || items[0].Attempts != 1 {
		t.Fatalf("claim after deleting w1: %+v, want w2's evt_1 only", items)
	}
	if len(deliveries(t, s, w2.ID)) != 1 {
		t.Fatalf("w2's log: %+v", deliveries(t, s, w2.ID))
	}
}

// PruneExpires: PruneWebhooks drops the items that occurred before
// expireBefore, logs each as expired, and returns how many it dropped; the
// younger ones stay due.
func pruneExpires(t *testing.T, s pairing.Store) {
	devs := createDevices(t, s, 1, 2)
	w1 := createWebhook(t, s, 1, pairing.EventTypeOnline)
	w2 := createWebhook(t, s, 2, pairing.EventTypeOnline)
	old := newEvent("evt_old", pairing.EventTypeOnline, devs[0], at(0))
	enqueue(t, s, devs[0], old, newEvent("evt_young", pairing.EventTypeOnline, devs[0], at(time.Hour)))
	enqueue(t, s, devs[1], newEvent("evt_old2", pairing.EventTypeOnline, devs[1], at(time.Minute)))
	// w1's old event was tried twice.
	for range 2 {
		for _, it := range claim(t, s, "node-a", at(2*time.Hour), 10) {
			if it.WebhookID == w1.ID && it.EventID == old.ID {
				finish(t, s, it, at(2*time.Hour), 500, at(2*time.Hour))
			} else {
				if err := s.ReleaseOutbox(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	wantOutboxLen(t, s, "before pruning", 6)
	n, err := s.PruneWebhooks(t.Context(), at(30*time.Minute), at(0), 1000)
	if err != nil {
		t.Fatalf("PruneWebhooks: %v", err)
	}
	if n != 4 {
		t.Fatalf("PruneWebhooks dropped %d items, want 4 (two events older than expireBefore, two webhooks)", n)
	}
	wantOutboxLen(t, s, "after pruning", 2)
	items := claim(t, s, "node-b", at(3*time.Hour), 10)
	if got := eventIDs(items); !slices.Equal(got, []string{"evt_young", "evt_young"}) {
		t.Fatalf("claim after pruning: %v, want evt_young for both webhooks", got)
	}
	log1 := deliveries(t, s, w1.ID)
	if len(log1) != 4 {
		t.Fatalf("w1's log: %+v, want 2 retries and 2 expiries", log1)
	}
	var expired []string
	for _, d := range log1[:2] {
		if d.Outcome != pairing.DeliveryExpired || d.WebhookID != w1.ID || d.Type != pairing.EventTypeOnline || d.Error == "" {
			t.Errorf("expiry logged as %+v", d)
		}
		if d.EventID == old.ID && (d.Attempt != 3 || d.DeviceID != devs[0].ID) {
			t.Errorf("expiry of an event tried twice logged as %+v, want attempt 3", d)
		}
		if d.EventID == "evt_old2" && d.Attempt != 1 {
			t.Errorf("expiry of an event never tried logged as %+v, want attempt 1", d)
		}
		expired = append(expired, d.EventID)
	}
	slices.Sort(expired)
	wantEqual(t, "w1's expired events", expired, []string{"evt_old", "evt_old2"})
	if log2 := deliveries(t, s, w2.ID); len(log2) != 2 || log2[0].Outcome != pairing.DeliveryExpired || log2[1].Outcome != pairing.DeliveryExpired {
		t.Fatalf("w2's log: %+v, want 2 expiries", log2)
	}
	if n, err := s.PruneWebhooks(t.Context(), at(30*time.Minute), at(0), 1000); err != nil || n != 0 {
		t.Fatalf("PruneWebhooks again: %d, %v; want 0", n, err)
	}
}

// PruneSparesLeased: an item under a lease (being delivered) is left to
// its claimer, who records how the attempt went; the next prune after the
// lease takes it.
func pruneSparesLeased(t *testing.T, s pairing.Store) {
	d := createDevices(t, s, 1)[0]
	w := createWebhook(t, s, 1, pairing.EventTypeOnline)
	enqueue(t, s, d, newEvent("evt_1", pairing.EventTypeOnline, d, at(0)))
	// Leases are compared with the wall clock: this one runs for an hour.
	now := time.Now()
	items, err := s.ClaimOutbox(t.Context(), "node-a", at(time.Minute), now.Add(time.Hour), 1)
	if err != nil || len(items) != 1 {
		t.Fatalf("claim: %+v, %v", items, err)
	}
	if n, err := s.PruneWebhooks(t.Context(), at(time.Hour), at(0), 1000); err != nil || n != 0 {
		t.Fatalf("PruneWebhooks during the lease: %d, %v; want 0 dropped", n, err)
	}
	wantOutboxLen(t, s, "after pruning during the lease", 1)
	finish(t, s, items[0], at(time.Minute), 500, at(2*time.Minute))
	if n, err := s.PruneWebhooks(t.Context(), at(time.Hour), at(0), 1000); err != nil || n != 1 {
		t.Fatalf("PruneWebhooks after the lease: %d, %v; want 1 dropped", n, err)
	}
	wantOutboxLen(t, s, "after pruning", 0)
	if log := deliveries(t, s, w.ID); len(log) != 2 || log[0].Outcome != pairing.DeliveryExpired || log[1].Outcome != pairing.DeliveryRetry {
		t.Fatalf("the log: %+v, want the retry and then the expiry", log)
	}
}

// PruneTrimsTheLog: PruneWebhooks drops log entries older than logBefore
// and all but the newest logKeep of each webhook, and no outbox item
// younger than expireBefore.
func pruneTrimsLog(t *testing.T, s pairing.Store) {
	d := createDevices(t, s, 1)[0]
	w1 := createWebhook(t, s, 1, pairing.EventTypeOnline)
	w2 := createWebhook(t, s, 2, pairing.EventTypeOnline)
	enqueue(t, s, d, newEvent("evt_1", pairing.EventTypeOnline, d, at(0)))
	// Six attempts each, a minute apart; w2's all young.
	var log1 []pairing.Delivery
	for i := range 6 {
		for _, it := range claim(t, s, "node-a", at(time.Duration(i)*time.Minute), 10) {
			when := at(time.Duration(i) * time.Minute)
			if it.WebhookID == w2.ID {
				when = at(time.Hour + time.Duration(i)*time.Minute)
			}
			dl := finish(t, s, it, when, 500, at(time.Duration(i+1)*time.Minute))
			if it.WebhookID == w1.ID {
				log1 = append(log1, dl)
			}
		}
	}
	if len(log1) != 6 || len(deliveries(t, s, w2.ID)) != 6 {
		t.Fatalf("logs before pruning: %d and %d entries, want 6 each", len(log1), len(deliveries(t, s, w2.ID)))
	}
	// By age: w1's entries before minute 2 go. By count: 3 each stay.
	n, err := s.PruneWebhooks(t.Context(), at(-time.Hour), at(2*time.Minute), 3)
	if err != nil || n != 0 {
		t.Fatalf("PruneWebhooks: %d, %v; want 0 items dropped", n, err)
	}
	slices.Reverse(log1)
	wantEqual(t, "w1's log after pruning", withoutSeq(deliveries(t, s, w1.ID)), log1[:3])
	got2 := deliveries(t, s, w2.ID)
	if len(got2) != 3 || got2[0].Attempt != 6 || got2[2].Attempt != 4 {
		t.Fatalf("w2's log after pruning: %+v, want its attempts 6, 5, 4", got2)
	}
	// By age only: w1 keeps the entries from minute 4 on.
	if _, err := s.PruneWebhooks(t.Context(), at(-time.Hour), at(4*time.Minute), 1000); err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "w1's log after pruning by age", withoutSeq(deliveries(t, s, w1.ID)), log1[:2])
	if len(deliveries(t, s, w2.ID)) != 3 {
		t.Fatalf("w2's young log was pruned by age: %+v", deliveries(t, s, w2.ID))
	}
	wantOutboxLen(t, s, "the item after pruning the log", 2)
}
