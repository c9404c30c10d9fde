package app_test

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message/codes"

	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/testkit"
	"github.com/nbpair/nbpair/internal/wire"
)

// waitStackState waits until the emulated device's Pairing object holds want.
func waitStackState(t *testing.T, d *stackDevice, what string, want wire.PairingState) {
	t.Helper()
	testkit.Eventually(t, what, func() bool {
		st, _, _, _ := d.snapshot()
		return st.DeviceID == want.DeviceID && st.State == want.State && st.OwnerUID == want.OwnerUID && st.HomeID == want.HomeID
	})
}

// bindOverHTTP binds the provisioned device to u's home through the HTTP API.
func bindOverHTTP(t *testing.T, n *apptest.Node, u user, p apptest.Provisioned) {
	t.Helper()
	a, code := activate(t, n, u, p.NbID, 60)
	if code != http.StatusAccepted {
		t.Fatalf("start activation: HTTP %d", code)
	}
	if a = waitActivation(t, n, u, a.ID); a.Status != "paired" {
		t.Fatalf("activation ended %+v", a)
	}
}

// formatsOf lists the formats of the writes after the first skip ones.
func formatsOf(ws []stackWrite, skip int) string {
	var s string
	for _, w := range ws[skip:] {
		s += fmt.Sprintf("%s %s %v; ", w.path, wire.FormatName(w.format), w.code)
	}
	return s
}

// Stacks that read different formats all learn their device ID after their
// Register and their owner after the bind: the server writes first what the
// device said it reads, falls back on 4.06, and writes the bind at once in
// the format that worked.
func TestDownlinkFormatPerStack(t *testing.T) {
	n := apptest.Start(t, "")
	alice := signUp(t, n, "alice")
	for i, tt := range []struct {
		name    string
		dev     *stackDevice
		firstCF int // the format of the first write, which the device reads
		refused int // writes refused before the device learned its ID
	}{
		// Wakaama 1.1: ct=110 on </>, reads SenML JSON and text, 4.06 to TLV.
		{"wakaama 1.1", &stackDevice{version: "1.1", ct: "110", reads: []int{wire.FormatSenMLJSON, wire.FormatText}}, wire.FormatSenMLJSON, 0},
		// Wakaama 1.0: no ct, reads TLV and text, not SenML JSON.
		{"wakaama 1.0", &stackDevice{version: "1.0", reads: []int{wire.FormatTLV, wire.FormatText}}, wire.FormatTLV, 0},
		// A 1.1 stack that reads TLV and text and says nothing: learned by 4.06.
		{"tlv only 1.1", &stackDevice{version: "1.1", reads: []int{wire.FormatTLV, wire.FormatText}}, wire.FormatSenMLJSON, 2},
		// Text alone, resource by resource, after three refusals.
		{"text only", &stackDevice{version: "1.1", reads: []int{wire.FormatText}}, wire.FormatSenMLJSON, 3},
		// A stack that answers 4.15 to what it does not read (nbpair's device library does).
		{"4.15 for tlv", &stackDevice{version: "1.1", reads: []int{wire.FormatTLV}, refuseWith: codes.UnsupportedMediaType}, wire.FormatSenMLJSON, 2},
		// Zephyr or Anjay: all of them, SenML CBOR announced.
		{"zephyr", &stackDevice{version: "1.1", ct: "112", reads: []int{wire.FormatTLV, wire.FormatSenMLJSON, wire.FormatSenMLCBOR}}, wire.FormatSenMLCBOR, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := n.Provision(t, apptest.IMEI(900+i))
			dev := tt.dev
			dev.server, dev.imei = n.CoAPAddr(), p.IMEI
			dev.run(t)
			waitStackState(t, dev, "the device ID", wire.PairingState{DeviceID: p.ID, State: wire.BindUnbound})
			_, ws, _, _ := dev.snapshot()
			if ws[0].format != tt.firstCF {
				t.Errorf("first write as %s, want %s: %s", wire.FormatName(ws[0].format), wire.FormatName(tt.firstCF), formatsOf(ws, 0))
			}
			refused := 0
			for _, w := range ws {
				if w.code == codes.NotAcceptable || w.code == codes.UnsupportedMediaType {
					refused++
				}
			}
			if refused != tt.refused {
				t.Errorf("%d writes refused, want %d: %s", refused, tt.refused, formatsOf(ws, 0))
			}
			before := len(ws)
			bindOverHTTP(t, n, alice, p)
			waitStackState(t, dev, "the owner", wire.PairingState{DeviceID: p.ID, State: wire.BindBound, OwnerUID: alice.uid, HomeID: alice.home})
			_, ws, _, _ = dev.snapshot()
			for _, w := range ws[before:] {
				if w.code != codes.Changed {
					t.Errorf("the bind was not written at once in the format that worked: %s", formatsOf(ws, before))
					break
				}
			}
		})
	}
}

// downlinkMetric reads one series of the node's /metrics, 0 when absent.
func downlinkMetric(t *testing.T, n *apptest.Node, series string) float64 {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`)
	m := re.FindStringSubmatch(scrape(t, n))
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// auditDrops lists the device's audit entries of dropped downlinks.
func auditDrops(t *testing.T, n *apptest.Node, deviceID string) []struct{ Detail, RemoteAddr string } {
	t.Helper()
	var out struct {
		Entries []struct{ Detail, RemoteAddr string }
	}
	if code := n.API(t, "GET", "/v1/admin/audit?action=downlink&outcome=dropped&deviceId="+deviceID, nil, &out); code != http.StatusOK {
		t.Fatalf("audit log: HTTP %d", code)
	}
	return out.Entries
}

// A device that answers 4.04 to the write (it lacks the object it
// announced) gets it once: dropped after one try, with an audit entry and
// the metric, never sent again; the bind's write is the next one it sees.
func TestDownlinkNotFoundDropped(t *testing.T) {
	n := apptest.Start(t, "")
	p := n.Provision(t, apptest.IMEI(950))
	const dropped = `nbpair_downlinks_total{event="dropped"}`
	dev := &stackDevice{server: n.CoAPAddr(), imei: p.IMEI, version: "1.1", notFound: true,
		queue: true, awake: time.Second, sleep: 500 * time.Millisecond}
	dev.run(t)
	testkit.Eventually(t, "the drop of the first write", func() bool {
		return downlinkMetric(t, n, dropped) == 1 && len(auditDrops(t, n, p.ID)) == 1
	})
	if e := auditDrops(t, n, p.ID)[0]; !regexp.MustCompile(`4\.04|Not ?Found`).MatchString(e.Detail) || e.RemoteAddr == "" {
		t.Errorf("audit entry %+v: want the 4.04 and the device's address", e)
	}
	_, _, wakes, _ := dev.snapshot()
	testkit.Eventually(t, "two more wake-ups", func() bool {
		_, _, w, _ := dev.snapshot()
		return w >= wakes+2
	})
	bindOverHTTP(t, n, signUp(t, n, "bob"), p)
	testkit.Eventually(t, "the drop of the bind's write", func() bool {
		return downlinkMetric(t, n, dropped) == 2 && len(auditDrops(t, n, p.ID)) == 2
	})
	if _, ws, _, _ := dev.snapshot(); len(ws) != 2 {
		t.Errorf("the device got %d writes, want 2 (one per downlink, none again): %s", len(ws), formatsOf(ws, 0))
	}
}

// A sleepy device (queue mode: awake 1 s after each uplink, then asleep
// 3 s with its socket closed, waking on a new source port) learns of every
// bind and removal at its first wake-up after it, with the server's
// defaults (a 93 s awake window, which this device does not keep): the
// write that went to the address it left is superseded by its next uplink
// and sent to the new address at once.
func TestSleepyDeviceLearnsInFirstWake(t *testing.T) {
	testkit.Long(t, "a queue-mode device through five sleep cycles")
	n := apptest.Start(t, "")
	p := n.Provision(t, apptest.IMEI(960))
	dev := &stackDevice{server: n.CoAPAddr(), imei: p.IMEI, version: "1.1", queue: true, awake: time.Second, sleep: 3 * time.Second,
		reads: []int{wire.FormatSenMLJSON, wire.FormatTLV, wire.FormatText}}
	dev.run(t)
	unbound := wire.PairingState{DeviceID: p.ID, State: wire.BindUnbound}
	waitStackState(t, dev, "the device ID", unbound)
	alice := signUp(t, n, "alice")
	bound := wire.PairingState{DeviceID: p.ID, State: wire.BindBound, OwnerUID: alice.uid, HomeID: alice.home}
	remove := func() {
		if code := n.Call(t, alice.token, "DELETE", "/v1/devices/"+p.ID, nil, nil); code != http.StatusNoContent {
			t.Fatalf("remove the device: HTTP %d", code)
		}
	}
	for i, c := range []struct {
		name string
		do   func()
		want wire.PairingState
	}{
		{"bind", func() { bindOverHTTP(t, n, alice, p) }, bound},
		{"removal", remove, unbound},
		{"second bind", func() { bindOverHTTP(t, n, alice, p) }, bound},
		{"second removal", remove, unbound},
		{"third bind", func() { bindOverHTTP(t, n, alice, p) }, bound},
	} {
		testkit.Eventually(t, "the device asleep", func() bool {
			_, _, _, asleep := dev.snapshot()
			return asleep
		})
		c.do()
		_, before, wake, _ := dev.snapshot()
		waitStackState(t, dev, "the "+c.name, c.want)
		_, ws, _, _ := dev.snapshot()
		if got := ws[len(ws)-1].wake; got > wake+1 {
			t.Errorf("change %d (%s) made during wake-up %d arrived at wake-up %d, want %d: %s",
				i, c.name, wake, got, wake+1, formatsOf(ws, len(before)))
		}
	}
}
