package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/nbpair/nbpair/internal/metrics"
	"github.com/nbpair/nbpair/internal/pairing"
	"github.com/nbpair/nbpair/internal/wire"
)

// The admin dashboard and what the web app needs besides: a user's running
// activations (to show one again after a reload) and a device's queued
// downlinks.

// historySource is what the dashboard reads: the metrics package's history
// of its registry. A Metrics that is not one has no dashboard.
type historySource interface {
	History() *metrics.History
}

// maxDashboardStreams bounds the dashboards open at once on a node: each
// holds a connection and a watcher.
const maxDashboardStreams = 16

func (s *Server) dashboardRoutes() {
	s.handle("GET /v1/activations", s.user(s.runningActivations))
	s.handle("GET /v1/admin/dashboard", s.admin(s.dashboard))
	s.handle("GET /v1/admin/dashboard/events", s.admin(s.dashboardEvents))
	s.handle("GET /v1/admin/devices/{id}/downlinks", s.admin(s.deviceDownlinks))
}

// runningActivations lists the user's activations still waiting for their
// device, oldest first.
func (s *Server) runningActivations(w http.ResponseWriter, r *http.Request) error {
	acts, err := s.svc.RunningActivations(r.Context(), userID(r.Context()))
	if err != nil {
		return err
	}
	out := make([]activationView, 0, len(acts))
	for _, a := range acts {
		v, err := s.view(r.Context(), a)
		if err != nil {
			return err
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, map[string]any{"activations": out})
	return nil
}

// downlinkView is a queued downlink as the admin API shows it.
type downlinkView struct {
	Kind      pairing.DownlinkKind `json:"kind"`
	CreatedAt time.Time            `json:"createdAt"`
	State     string               `json:"state"`
	OwnerUID  string               `json:"ownerUid,omitempty"`
	HomeID    string               `json:"homeId,omitempty"`
	BoundAt   time.Time            `json:"boundAt,omitzero"`
}

// bindStates name the bind states a downlink writes.
var bindStates = map[wire.BindState]string{
	wire.BindUnbound: "unbound", wire.BindBound: "bound", wire.BindResetRequested: "reset-requested",
}

func (s *Server) deviceDownlinks(w http.ResponseWriter, r *http.Request) error {
	dls, err := s.svc.QueuedDownlinks(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	out := make([]downlinkView, 0, len(dls))
	for _, d := range dls {
		out = append(out, downlinkView{Kind: d.Kind, CreatedAt: d.CreatedAt, State: bindStates[d.Pairing.State],
			OwnerUID: d.Pairing.OwnerUID, HomeID: d.Pairing.HomeID, BoundAt: d.Pairing.BoundAt})
	}
	writeJSON(w, http.StatusOK, map[string]any{"downlinks": out})
	return nil
}

// seriesView describes one series of the dashboard; failures carry the
// code and name an app sees for them.
type seriesView struct {
	Key   string `json:"key"`
	Kind  string `json:"kind"` // "gauge": a count at the minute's end; "count": how many in the minute
	Code  int    `json:"code,omitempty"`
	Name  string `json:"name,omitempty"`
	Label string `json:"label"`
}

type minuteView struct {
	Start  int64    `json:"t"` // Unix seconds
	Values []uint32 `json:"v"` // by series
}

type dashboardView struct {
	Series        []seriesView `json:"series"`
	SampleSeconds int          `json:"sampleSeconds"`
	Minutes       []minuteView `json:"minutes"` // closed, oldest first, at most a day
	Now           minuteView   `json:"now"`     // the minute in progress
}

var seriesLabels = [metrics.NumSeries]string{
	"Devices online", "Registers", "Updates", "Pairings started", "Paired", "Cancelled",
	"Failed: timeout", "Failed: already bound", "Failed: factory reset", "Failed: permission", "Failed: other",
	"Downlinks queued", "Downlinks delivered",
}

// failedReasons are the failure series and the activation outcome each
// counts, so that they show the code an app sees.
var failedReasons = map[int]pairing.FailReason{
	metrics.SeriesTimeout: pairing.FailTimeout, metrics.SeriesAlreadyBound: pairing.FailAlreadyBound,
	metrics.SeriesFactoryReset: pairing.FailFactoryReset, metrics.SeriesPermission: pairing.FailPermission,
	metrics.SeriesOtherFailure: pairing.FailInternal,
}

func dashboardSeries() []seriesView {
	out := make([]seriesView, metrics.NumSeries)
	for i := range out {
		out[i] = seriesView{Key: metrics.SeriesNames[i], Kind: "count", Label: seriesLabels[i]}
		if reason, ok := failedReasons[i]; ok {
			e := toAPIError(pairing.Activation{Status: pairing.ActivationFailed, Reason: reason}.Err())
			out[i].Code, out[i].Name = e.Code, e.Name
		}
	}
	out[metrics.SeriesOnline].Kind = "gauge"
	out[metrics.SeriesStopped].Code, out[metrics.SeriesStopped].Name = codeStopped.code, codeStopped.name
	return out
}

func toMinuteView(m metrics.Minute) minuteView {
	return minuteView{Start: m.Start, Values: append([]uint32(nil), m.Values[:]...)}
}

func (s *Server) history() (*metrics.History, error) {
	if src, ok := s.metrics.(historySource); ok && src.History() != nil {
		return src.History(), nil
	}
	return nil, apiError(codeNotFound, "metrics are not recorded on this server, so there is no dashboard")
}

func (s *Server) dashboardSnapshot(h *metrics.History) dashboardView {
	closed, cur := h.Snapshot()
	v := dashboardView{Series: dashboardSeries(), SampleSeconds: int(metrics.DashboardEvery / time.Second),
		Minutes: make([]minuteView, len(closed)), Now: toMinuteView(cur)}
	for i, m := range closed {
		v.Minutes[i] = toMinuteView(m)
	}
	return v
}

// dashboard answers the day's minutes and the one in progress.
func (s *Server) dashboard(w http.ResponseWriter, r *http.Request) error {
	h, err := s.history()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.dashboardSnapshot(h))
	return nil
}

// dashboardEvents streams the dashboard as server-sent events: a
// "dashboard" event like GET /v1/admin/dashboard, then after every sample a
// "minute" event with the last closed minute and the one in progress.
func (s *Server) dashboardEvents(w http.ResponseWriter, r *http.Request) error {
	h, err := s.history()
	if err != nil {
		return err
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		return fmt.Errorf("streaming unsupported")
	}
	ch, stop, ok := h.Watch(maxDashboardStreams)
	if !ok {
		return apiError(codeRateLimited, fmt.Sprintf("%d dashboards are open on this server already; close one and try again", maxDashboardStreams))
	}
	defer stop()
	// A long-lived answer: exempt from the write timeout, and ended after
	// the longest a stream stays open (the page reconnects).
	release, err := s.stream(w, r, s.streams.limits.Duration)
	if err != nil {
		return err
	}
	defer release()
	end := time.NewTimer(s.streams.limits.Duration)
	defer end.Stop()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if err := sendEvent(w, "dashboard", s.dashboardSnapshot(h)); err != nil {
		return nil
	}
	flusher.Flush()
	for {
		select {
		case <-ch:
			last, cur := h.Latest()
			if err := sendEvent(w, "minute", map[string]minuteView{"last": toMinuteView(last), "now": toMinuteView(cur)}); err != nil {
				return nil
			}
			flusher.Flush()
		case <-end.C:
			return nil
		case <-r.Context().Done():
			return nil
		}
	}
}

func sendEvent(w http.ResponseWriter, event string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b)
	return err
}
