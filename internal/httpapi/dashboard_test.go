package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/nbpair/nbpair/device"
	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/testkit"
)

// The steps of TestOpenAPIShapes for the routes of dashboard.go and the
// admin's device search.

// stepRunningActivations: the user's pending activation is listed, and no
// one else's.
func stepRunningActivations(a *apiClient, w *world) {
	var list struct {
		Activations []struct {
			ID        string
			Remaining float64
		}
	}
	a.do(get(w.alice.token, "/v1/activations"), http.StatusOK, &list)
	if len(list.Activations) != 1 || list.Activations[0].ID != w.activation || list.Activations[0].Remaining <= 0 {
		a.t.Errorf("alice's running activations: %+v, want %s with time left", list.Activations, w.activation)
	}
	a.do(get(w.bob.token, "/v1/activations"), http.StatusOK, &list)
	if len(list.Activations) != 0 {
		a.t.Errorf("bob's running activations: %+v, want none", list.Activations)
	}
}

type dashboardMinute struct {
	T int64
	V []uint32
}

type dashboard struct {
	Series []struct {
		Key  string
		Code int
	}
	Minutes []dashboardMinute
	Now     dashboardMinute
}

// total adds up a series over the day and the minute in progress.
func (d dashboard) total(key string) uint32 {
	var n uint32
	for i, s := range d.Series {
		if s.Key == key {
			for _, m := range append(d.Minutes, d.Now) {
				n += m.V[i]
			}
		}
	}
	return n
}

// stepDashboard runs after the pairing: the dashboard has counted the
// spare's Register and the activations started and paired.
func stepDashboard(a *apiClient, w *world) {
	var d dashboard
	testkit.Eventually(a.t, "the dashboard to count the Register and the pairing", func() bool {
		a.do(get(w.admin, "/v1/admin/dashboard"), http.StatusOK, &d)
		return d.total("registers") >= 1 && d.total("paired") >= 1 && d.total("started") >= 3
	})
	codes := map[string]int{}
	for _, s := range d.Series {
		codes[s.Key] = s.Code
	}
	if codes["timeout"] != 1512 || codes["already-bound"] != 3711 || codes["stopped"] != 4020 || len(d.Series) != 13 {
		a.t.Errorf("series: %+v", d.Series)
	}
	if d.total("timeout") != 1 || d.total("stopped") != 1 {
		a.t.Errorf("the dashboard counts %d timeouts and %d stopped, want 1 and 1", d.total("timeout"), d.total("stopped"))
	}

	// The stream: the dashboard, then a minute event after the next sample.
	c := get(w.admin, "/v1/admin/dashboard/events")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, err := http.DefaultClient.Do(a.request(c).WithContext(ctx))
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || a.documented(c, a.request(c), resp) == nil {
		a.t.Fatalf("%s: HTTP %d", c, resp.StatusCode)
	}
	br := bufio.NewReader(resp.Body)
	for _, want := range []struct{ event, schema string }{{"dashboard", "Dashboard"}, {"minute", "DashboardTick"}} {
		ev, err := readEvent(br)
		if err != nil {
			a.t.Fatalf("%s: reading the %s event: %v", c, want.event, err)
		}
		if ev.event != want.event {
			a.t.Fatalf("%s: event %q, want %q", c, ev.event, want.event)
		}
		a.checkJSON(c, map[string]any{"$ref": "#/components/schemas/" + want.schema}, []byte(ev.data))
	}

	// Sixteen at once, and no more.
	for range 15 {
		resp, err := http.DefaultClient.Do(a.request(c).WithContext(ctx))
		if err != nil {
			a.t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			a.t.Fatalf("dashboard stream: HTTP %d", resp.StatusCode)
		}
	}
	a.fail(c, http.StatusTooManyRequests, 4290)
}

func stepDownlinks(a *apiClient, w *world) {
	var list struct{ Downlinks []json.RawMessage }
	a.do(get(w.admin, "/v1/admin/devices/"+w.meter.ID+"/downlinks"), http.StatusOK, &list)
	if len(list.Downlinks) != 0 {
		a.t.Errorf("the meter, never registered, has downlinks: %s", list.Downlinks)
	}
	a.fail(get(w.admin, "/v1/admin/devices/dev_nope/downlinks"), http.StatusNotFound, 4004)
}

// stepDeviceSearch: the meter, powered on, is the most recently seen
// device; the search finds a device by IMEI, ID or name.
func stepDeviceSearch(a *apiClient, w *world) {
	type page struct {
		Devices []struct{ ID string }
		Next    string
	}
	list := func(q url.Values) page {
		var p page
		a.do(get(w.admin, "/v1/admin/devices?"+q.Encode()), http.StatusOK, &p)
		return p
	}
	apptest.RunDevice(a.t, w.n, device.Config{IMEI: w.meter.IMEI}) // until the step ends
	testkit.Eventually(a.t, "the meter's registration", func() bool { return w.n.Device(a.t, w.meter.ID).Online })
	if p := list(url.Values{"sort": {"lastSeen"}, "limit": {"1"}}); len(p.Devices) != 1 || p.Devices[0].ID != w.meter.ID {
		a.t.Errorf("the most recently seen device: %+v, want %s", p, w.meter.ID)
	} else if next := list(url.Values{"sort": {"lastSeen"}, "after": {p.Next}}); len(next.Devices) == 0 || next.Devices[0].ID == w.meter.ID {
		a.t.Errorf("the page after %q: %+v", p.Next, next)
	}
	for _, q := range []string{w.spare.IMEI, strings.ToUpper(w.spare.ID)} {
		if p := list(url.Values{"q": {q}}); len(p.Devices) != 1 || p.Devices[0].ID != w.spare.ID {
			a.t.Errorf("search %q: %+v, want %s", q, p, w.spare.ID)
		}
	}
	if p := list(url.Values{"q": {"kitchen"}, "sort": {"lastSeen"}}); len(p.Devices) != 1 || p.Devices[0].ID != w.meter.ID {
		a.t.Errorf("search by name: %+v, want the Kitchen meter %s", p, w.meter.ID)
	}
	if p := list(url.Values{"q": {"no such device"}}); len(p.Devices) != 0 || p.Next != "" {
		a.t.Errorf("search for nothing: %+v", p)
	}
	for _, q := range []string{"sort=name", "sort=lastSeen&after=x", "sort=lastSeen&after=-1.dev_x", "q=" + strings.Repeat("x", 65), "q=%07"} {
		a.fail(get(w.admin, "/v1/admin/devices?"+q), http.StatusBadRequest, 3723)
	}
}
