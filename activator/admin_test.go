package activator_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nbpair/nbpair/activator"
	"github.com/nbpair/nbpair/device"
	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/testkit"
)

// pngMagic starts every PNG file.
var pngMagic = []byte("\x89PNG\r\n\x1a\n")

// newAdmin is an Admin of n with its admin token.
func newAdmin(n *apptest.Node) *activator.Admin {
	return activator.NewAdminClient("http://"+n.HTTPAddr(), n.Token)
}

// sameAsAnswer checks that what get returns, encoded again as the server
// encodes, is the server's answer to GET path byte for byte: the SDK's
// types carry every field the API answers, in its order. A running device
// may change its state between the two requests, so a difference is asked
// again a few times.
func sameAsAnswer[T any](t *testing.T, n *apptest.Node, path string, get func() (T, error)) {
	t.Helper()
	var raw json.RawMessage
	var b []byte
	for range 3 {
		v, err := get()
		if err != nil {
			t.Fatal(err)
		}
		if code := n.API(t, http.MethodGet, path, nil, &raw); code != http.StatusOK {
			t.Fatalf("GET %s: HTTP %d", path, code)
		}
		if b, err = json.MarshalIndent(v, "", "  "); err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(b, bytes.TrimSpace(raw)) {
			return
		}
	}
	t.Errorf("GET %s answered\n%s\nbut the SDK's value encodes as\n%s", path, raw, b)
}

func TestAdminProductsAndBindHook(t *testing.T) {
	t.Parallel()
	n := apptest.Start(t, "", apptest.QuietLogs)
	a := newAdmin(n)
	ctx := testCtx(t)

	plain := false
	p, err := a.CreateProduct(ctx, activator.NewProduct{ID: "wm3", Name: "Water meter", PlainCoAP: &plain,
		BindHook: &activator.BindHookConfig{URL: "http://127.0.0.1:9/check", Timeout: 2 * time.Second, OnHookFailure: "allow"}})
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != "wm3" || p.Name != "Water meter" || p.PlainCoAP || p.BindHook == nil || p.BindHook.Secret == "" ||
		p.BindHook.Timeout != 2*time.Second || p.BindHook.OnHookFailure != "allow" {
		t.Errorf("CreateProduct = %+v (hook %+v)", p, p.BindHook)
	}
	if _, err := a.CreateProduct(ctx, activator.NewProduct{ID: "wm3", Name: "again"}); !errors.Is(err, activator.ErrAlreadyExists) {
		t.Errorf("CreateProduct of an existing ID: %v; want 4009", err)
	}
	ps, err := a.Products(ctx)
	if err != nil || !slices.ContainsFunc(ps, func(q activator.Product) bool { return q.ID == "wm3" && q.BindHook == nil }) {
		t.Errorf("Products = %+v, %v", ps, err)
	}

	h, err := a.SetBindHook(ctx, "wm3", activator.BindHookConfig{URL: "https://maker.example/bind"})
	if err != nil || h.URL != "https://maker.example/bind" || h.Secret == "" || h.Secret == p.BindHook.Secret ||
		h.Timeout != 5*time.Second || h.OnHookFailure != "deny" {
		t.Errorf("SetBindHook = %+v, %v; want a new secret and the defaults 5s, deny", h, err)
	}
	got, err := a.BindHook(ctx, "wm3")
	if err != nil || got.URL != h.URL || got.Secret != "" || got.ProductID != "wm3" || !got.CreatedAt.Equal(h.CreatedAt) {
		t.Errorf("BindHook = %+v, %v; want the hook without its secret", got, err)
	}
	if _, err := a.SetBindHook(ctx, "wm3", activator.BindHookConfig{URL: "ftp://maker.example"}); !errors.Is(err, activator.ErrRemoteAPIParamIllegal) {
		t.Errorf("SetBindHook with an ftp URL: %v; want 3723", err)
	}
	if err := a.DeleteBindHook(ctx, "wm3"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.BindHook(ctx, "wm3"); !errors.Is(err, activator.ErrNotFound) {
		t.Errorf("BindHook after DeleteBindHook: %v; want 4004", err)
	}

	// A wrong admin token is refused with the code of a lost session.
	wrong := activator.NewAdminClient("http://"+n.HTTPAddr(), "not-the-token")
	var e *activator.Error
	if _, err := wrong.Products(ctx); !errors.Is(err, activator.ErrUserSessionLoss) || !errors.As(err, &e) || e.HTTPStatus != http.StatusUnauthorized {
		t.Errorf("Products with a wrong token: %v; want 3720 with HTTP 401", err)
	}
	// And a user's session token is no admin token.
	alice := newUser(t, n, "alice")
	if _, err := activator.NewAdminClient("http://"+n.HTTPAddr(), alice.c.Token()).Products(ctx); !errors.Is(err, activator.ErrUserSessionLoss) {
		t.Errorf("Products with a user's token: %v; want 3720", err)
	}
}

// A device's life as its maker sees it: provisioned, listed, blocked and
// unblocked, bound by a user, unbound by force, its key rotated, gone;
// with a webhook told of the bind and the audit log recording it all.
func TestAdminDeviceLifecycle(t *testing.T) {
	t.Parallel()
	n := apptest.Start(t, "", apptest.QuietLogs)
	a := newAdmin(n)
	ctx := testCtx(t)
	if _, err := a.CreateProduct(ctx, activator.NewProduct{ID: "lamp", Name: "Lamp"}); err != nil {
		t.Fatal(err)
	}
	var received atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.Header.Get("X-Nbpair-Signature"), "sha256=") {
			received.Add(1)
		}
	}))
	t.Cleanup(hook.Close)
	wh, err := a.CreateWebhook(ctx, hook.URL, []string{"device.bound", "device.unbound"})
	if err != nil || wh.Secret == "" || wh.URL != hook.URL || len(wh.Events) != 2 {
		t.Fatalf("CreateWebhook = %+v, %v", wh, err)
	}

	imei := apptest.IMEI(70)
	d, err := a.Provision(ctx, activator.ProvisionRequest{IMEI: imei, ProductID: "lamp", Name: "Hall lamp"})
	if err != nil {
		t.Fatal(err)
	}
	if d.IMEI != imei || d.ProductID != "lamp" || d.Name != "Hall lamp" || len(d.PSK) != 32 || d.PSKIdentity == "" || d.QR == "" || d.ShortCode == "" {
		t.Errorf("Provision = %+v", d)
	}
	if _, err := a.Provision(ctx, activator.ProvisionRequest{IMEI: imei}); !errors.Is(err, activator.ErrAlreadyExists) {
		t.Errorf("Provision of the IMEI again: %v; want 4009", err)
	}
	if _, err := a.Provision(ctx, activator.ProvisionRequest{IMEI: apptest.IMEI(71), ProductID: "nope"}); !errors.Is(err, activator.ErrProductNotExists) {
		t.Errorf("Provision for an unknown product: %v; want 3717", err)
	}
	byIMEI, err := a.Device(ctx, imei)
	if err != nil || byIMEI.ID != d.ID || byIMEI.NbID != d.NbID || byIMEI.Online {
		t.Errorf("Device(IMEI) = %+v, %v", byIMEI, err)
	}
	page, err := a.Devices(ctx, activator.DeviceQuery{ProductID: "lamp", Search: "hall", Limit: 10, Sort: "lastSeen"})
	if err != nil || len(page.Devices) != 1 || page.Devices[0].ID != d.ID || page.Next == "" {
		t.Errorf("Devices(lamp, hall) = %+v, %v", page, err)
	}
	if page, err := a.Devices(ctx, activator.DeviceQuery{ProductID: "lamp", After: d.ID}); err != nil || len(page.Devices) != 0 || page.Next != "" {
		t.Errorf("Devices after the last = %+v, %v; want an empty page", page, err)
	}
	if _, err := a.Devices(ctx, activator.DeviceQuery{Sort: "name"}); !errors.Is(err, activator.ErrRemoteAPIParamIllegal) {
		t.Errorf("Devices sorted by name: %v; want 3723", err)
	}
	label, err := a.DeviceLabel(ctx, d.ID, 400)
	if err != nil || !bytes.HasPrefix(label, pngMagic) {
		t.Errorf("DeviceLabel: %d bytes starting %q, %v; want a PNG", len(label), label[:min(len(label), 8)], err)
	}
	if _, err := a.DeviceLabel(ctx, d.ID, 10); !errors.Is(err, activator.ErrRemoteAPIParamIllegal) {
		t.Errorf("DeviceLabel 10 pixels wide: %v; want 3723", err)
	}

	// Blocked, nobody may add it.
	alice := newUser(t, n, "alice")
	blocked, err := a.BlockDevice(ctx, d.ID, "reported stolen")
	if err != nil || blocked.Blocked == nil || blocked.Blocked.Reason != "reported stolen" || blocked.Blocked.DeviceID != d.ID {
		t.Fatalf("BlockDevice = %+v, %v", blocked, err)
	}
	if _, err := alice.c.Activate(ctx, alice.nbType(d.NbID, 0)); !errors.Is(err, activator.ErrDeviceBlocked) {
		t.Fatalf("Activate of a blocked device: %v; want 4500", err)
	}
	if st, err := a.UnblockDevice(ctx, imei); err != nil || st.Blocked != nil {
		t.Fatalf("UnblockDevice = %+v, %v", st, err)
	}
	if _, err := a.UnblockDevice(ctx, imei); !errors.Is(err, activator.ErrNotFound) {
		t.Errorf("UnblockDevice of an unblocked device: %v; want 4004", err)
	}

	// Unblocked, alice pairs it; the admin takes it back.
	dev := registered(t, n, apptest.Provisioned{ID: d.ID, IMEI: imei})
	if _, err := alice.c.Activate(ctx, alice.nbType(d.NbID, 0)); err != nil {
		t.Fatal(err)
	}
	waitPairing(t, dev, "the owner", func(p device.PairingState) bool { return p.OwnerUID == alice.uid })
	bound, err := a.Device(ctx, d.ID)
	if err != nil || bound.OwnerUID != alice.uid || bound.HomeID != alice.home || !bound.Online || bound.Registration == nil ||
		bound.Registration.Endpoint == "" || bound.FirstRegisteredAt.IsZero() {
		t.Errorf("Device of the bound device = %+v (registration %+v), %v", bound, bound.Registration, err)
	}
	sameAsAnswer(t, n, "/v1/admin/devices/"+d.ID, func() (activator.AdminDevice, error) { return a.Device(ctx, d.ID) })
	sameAsAnswer(t, n, "/v1/admin/devices", func() (activator.DevicePage, error) { return a.Devices(ctx, activator.DeviceQuery{}) })

	unbound, err := a.ForceUnbind(ctx, d.ID)
	if err != nil || unbound.OwnerUID != "" {
		t.Fatalf("ForceUnbind = %+v, %v", unbound, err)
	}
	waitPairing(t, dev, "the unbind", func(p device.PairingState) bool { return p.State == device.BindUnbound })
	if _, err := a.ForceUnbind(ctx, d.ID); !errors.Is(err, activator.ErrDeviceNotBound) {
		t.Errorf("ForceUnbind of an unbound device: %v; want 4501", err)
	}
	if dls, err := a.Downlinks(ctx, d.ID); err != nil || dls == nil {
		t.Errorf("Downlinks = %+v, %v; want a list, empty once the device has its state", dls, err)
	}

	// A new key, shown once: the device shows only that a rotation runs.
	rot, err := a.RotatePSK(ctx, d.ID, time.Hour)
	if err != nil || rot.ID != d.ID || len(rot.PSK) != 32 || rot.PSK == d.PSK || rot.PSKIdentity != d.PSKIdentity {
		t.Errorf("RotatePSK = %+v, %v", rot, err)
	}
	rotating, err := a.Device(ctx, d.ID)
	if err != nil || rotating.PSKRotation == nil || rotating.PSKRotation.Deadline.After(time.Now().Add(time.Hour+time.Minute)) {
		t.Errorf("Device during the rotation = %+v, %v; want a rotation ending within the hour", rotating.PSKRotation, err)
	}
	if _, err := a.RotatePSK(ctx, d.ID, -time.Hour); !errors.Is(err, activator.ErrRemoteAPIParamIllegal) {
		t.Errorf("RotatePSK with a negative deadline: %v; want 3723", err)
	}

	// The webhook heard of the bind and the unbind.
	testkit.Eventually(t, "two webhook deliveries", func() bool { return received.Load() >= 2 })
	var dels []activator.Delivery
	testkit.Eventually(t, "the delivery log", func() bool {
		dels, err = a.WebhookDeliveries(ctx, wh.ID, activator.DeliveryQuery{Limit: 10})
		return err == nil && len(dels) >= 2
	})
	if dels[0].Outcome != "delivered" || dels[0].StatusCode != http.StatusOK || dels[0].DeviceID != d.ID || dels[0].Attempt != 1 {
		t.Errorf("the newest delivery: %+v", dels[0])
	}
	if older, err := a.WebhookDeliveries(ctx, wh.ID, activator.DeliveryQuery{Before: dels[0].Seq}); err != nil || len(older) != len(dels)-1 {
		t.Errorf("WebhookDeliveries before the newest = %d, %v; want %d", len(older), err, len(dels)-1)
	}
	if hooks, err := a.Webhooks(ctx); err != nil || len(hooks) != 1 || hooks[0].ID != wh.ID || hooks[0].Secret != "" {
		t.Errorf("Webhooks = %+v, %v", hooks, err)
	}
	if got, err := a.Webhook(ctx, wh.ID); err != nil || got.URL != hook.URL || got.Secret != "" {
		t.Errorf("Webhook = %+v, %v", got, err)
	}
	if err := a.DeleteWebhook(ctx, wh.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Webhook(ctx, wh.ID); !errors.Is(err, activator.ErrNotFound) {
		t.Errorf("Webhook after DeleteWebhook: %v; want 4004", err)
	}

	// The audit log has it all, newest first.
	log, err := a.Audit(ctx, activator.AuditQuery{DeviceID: d.ID, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range log.Entries {
		actions = append(actions, e.Action+"/"+e.Outcome)
	}
	for _, want := range []string{"provision/ok", "block/ok", "bind/refused", "unblock/ok", "bind/ok", "unbind/ok", "psk-rotate/ok"} {
		if !slices.Contains(actions, want) {
			t.Errorf("the audit log of the device has %v; want %s among them", actions, want)
		}
	}
	if log.Total != len(log.Entries) || log.Next != log.Entries[len(log.Entries)-1].ID {
		t.Errorf("Audit: total %d, next %d of %d entries", log.Total, log.Next, len(log.Entries))
	}
	refused, err := a.Audit(ctx, activator.AuditQuery{DeviceID: d.ID, Action: "bind", Outcome: "refused"})
	if err != nil || len(refused.Entries) != 1 || refused.Entries[0].UID != alice.uid {
		t.Errorf("Audit of refused binds = %+v, %v", refused, err)
	}
	if older, err := a.Audit(ctx, activator.AuditQuery{DeviceID: d.ID, Before: log.Entries[0].ID}); err != nil || len(older.Entries) != len(log.Entries)-1 {
		t.Errorf("Audit before the newest: %d entries, %v; want %d", len(older.Entries), err, len(log.Entries)-1)
	}
	sameAsAnswer(t, n, "/v1/admin/audit?deviceId="+d.ID+"&limit=1000", func() (activator.AuditPage, error) {
		return a.Audit(ctx, activator.AuditQuery{DeviceID: d.ID, Limit: 1000})
	})

	gone, err := a.Deprovision(ctx, imei)
	if err != nil || gone.ID != d.ID || gone.IMEI != imei || gone.ProductID != "lamp" {
		t.Errorf("Deprovision = %+v, %v", gone, err)
	}
	if _, err := a.Device(ctx, d.ID); !errors.Is(err, activator.ErrNotFound) {
		t.Errorf("Device after Deprovision: %v; want 4004", err)
	}
}

// The factory's day: a CSV imported (twice), its keys and labels
// downloaded; and the dashboard of the fleet.
func TestAdminBatchesAndDashboard(t *testing.T) {
	t.Parallel()
	n := apptest.Start(t, "", apptest.QuietLogs)
	a := newAdmin(n)
	ctx := testCtx(t)
	if _, err := a.CreateProduct(ctx, activator.NewProduct{ID: "wm3", Name: "Water meter"}); err != nil {
		t.Fatal(err)
	}
	data := "imei,serial\r\n" + apptest.IMEI(81) + ",SN-81\r\n" + apptest.IMEI(82) + ",SN-82\r\n"
	b, created, err := a.ImportBatch(ctx, "wm3", strings.NewReader(data))
	if err != nil || !created || b.ProductID != "wm3" || b.Devices != 2 || b.Created != 2 || b.Existing != 0 {
		t.Fatalf("ImportBatch = %+v, created %v, %v", b, created, err)
	}
	again, created, err := a.ImportBatch(ctx, "wm3", strings.NewReader(data))
	if err != nil || created || again.ID != b.ID {
		t.Errorf("ImportBatch of the same CSV = %+v, created %v, %v; want the first batch, not created", again, created, err)
	}
	if _, _, err := a.ImportBatch(ctx, "", strings.NewReader("imei\r\n12345\r\n")); !errors.Is(err, activator.ErrCSVRowInvalid) {
		t.Errorf("ImportBatch of a bad IMEI: %v; want 4201", err)
	}
	if bs, err := a.Batches(ctx); err != nil || len(bs) != 1 || bs[0] != b {
		t.Errorf("Batches = %+v, %v; want [%+v]", bs, err, b)
	}
	got, err := a.Batch(ctx, b.ID)
	if err != nil || got != b {
		t.Errorf("Batch = %+v, %v; want %+v", got, err, b)
	}
	sameAsAnswer(t, n, "/v1/admin/batches/"+b.ID, func() (activator.Batch, error) { return a.Batch(ctx, b.ID) })
	if _, err := a.Batch(ctx, "bat_nope"); !errors.Is(err, activator.ErrNotFound) {
		t.Errorf("Batch of an unknown ID: %v; want 4004", err)
	}

	rc, err := a.FactoryCSV(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(rc).ReadAll()
	rc.Close()
	if err != nil || len(recs) != 3 || recs[1][0] != apptest.IMEI(81) || recs[2][1] != "SN-82" || len(recs[1][3]) != 32 {
		t.Errorf("FactoryCSV = %q, %v", recs, err)
	}
	if _, err := a.FactoryCSV(ctx, "bat_nope"); !errors.Is(err, activator.ErrNotFound) {
		t.Errorf("FactoryCSV of an unknown batch: %v; want 4004", err)
	}
	sheet, err := a.BatchLabels(ctx, b.ID, 0)
	if err != nil || sheet.Page != 1 || sheet.Pages != 1 || !bytes.HasPrefix(sheet.PNG, pngMagic) {
		t.Errorf("BatchLabels: page %d of %d, %d bytes, %v; want page 1 of 1, a PNG", sheet.Page, sheet.Pages, len(sheet.PNG), err)
	}
	if _, err := a.BatchLabels(ctx, b.ID, 2); !errors.Is(err, activator.ErrRemoteAPIParamIllegal) {
		t.Errorf("BatchLabels page 2 of 1: %v; want 3723", err)
	}

	dash, err := a.Dashboard(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(dash.Series) == 0 || dash.SampleSeconds <= 0 || len(dash.Now.Values) != len(dash.Series) || dash.Now.Start == 0 {
		t.Errorf("Dashboard: %d series, sampled every %d s, now %+v", len(dash.Series), dash.SampleSeconds, dash.Now)
	}
	i := slices.IndexFunc(dash.Series, func(s activator.DashboardSeries) bool { return s.Code == activator.CodeDeviceAlreadyBound })
	if i < 0 || dash.Series[i].Name != "DeviceAlreadyBound" || dash.Series[i].Label == "" {
		t.Errorf("Dashboard series %+v; want one of the failures 3711", dash.Series)
	}
}

// A binary answer the SDK reads whole is bounded: a server that sends
// more than a label could be is refused, not read into memory.
func TestAdminLabelSizeCap(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(pngMagic)
		io.Copy(w, io.LimitReader(zeros{}, 40<<20))
	}))
	t.Cleanup(srv.Close)
	_, err := activator.NewAdminClient(srv.URL, "t").DeviceLabel(testCtx(t), "dev_1", 0)
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("DeviceLabel of 40 MiB: %v; want it refused as too large", err)
	}
}

// A JSON answer past the cap is refused as too large, not reported as
// broken JSON.
func TestAnswerSizeCap(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `[{"id": "`)
		io.WriteString(w, strings.Repeat("a", 2<<20))
		io.WriteString(w, `"}]`)
	}))
	t.Cleanup(srv.Close)
	_, err := activator.NewClient(srv.URL, activator.WithToken("t")).Homes(testCtx(t))
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("Homes answered with 2 MiB: %v; want it refused as too large", err)
	}
}

// zeros reads as endless zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
