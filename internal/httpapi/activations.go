package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/nbpair/nbpair/internal/pairing"
)

// maxWait bounds a long-poll.
const maxWait = 60 * time.Second

type activationRequest struct {
	Type     string `json:"type"`
	NbID     string `json:"nbId"`
	SpaceID  string `json:"spaceId"`
	Timeout  int    `json:"timeout"`
	TimeZone string `json:"timeZone"`
}

// activationView is an activation as the API shows it: its device once
// paired, its error once failed or stopped.
type activationView struct {
	pairing.Activation
	Remaining float64             `json:"remaining"` // seconds until the deadline, 0 once finished
	Device    *pairing.UserDevice `json:"device,omitempty"`
	Error     *Error              `json:"error,omitempty"`
}

func (s *Server) view(ctx context.Context, a pairing.Activation) (activationView, error) {
	v := activationView{Activation: a}
	switch a.Status {
	case pairing.ActivationPending:
		v.Remaining = max(0, time.Until(a.Deadline).Seconds())
	case pairing.ActivationPaired:
		d, err := s.svc.ActivatedDevice(ctx, a)
		if err != nil {
			return v, err
		}
		v.Device = &d
	default:
		v.Error = toAPIError(a.Err())
	}
	return v, nil
}

func (s *Server) startActivation(w http.ResponseWriter, r *http.Request) error {
	var req activationRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	a, err := s.svc.StartActivation(r.Context(), userID(r.Context()), pairing.StartActivation{
		Type: req.Type, NbID: req.NbID, HomeID: req.SpaceID, Timeout: req.Timeout, TimeZone: req.TimeZone,
	})
	if err != nil {
		return err
	}
	v, err := s.view(r.Context(), a)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/activations/"+a.ID)
	writeJSON(w, http.StatusAccepted, v)
	return nil
}

// getActivation answers at once, or with ?wait=DURATION (at most 60 s) once
// the activation has finished or the wait is over, whichever is first.
func (s *Server) getActivation(w http.ResponseWriter, r *http.Request) error {
	uid, id := userID(r.Context()), r.PathValue("id")
	var a pairing.Activation
	var err error
	if ws := r.URL.Query().Get("wait"); ws != "" {
		wait, perr := time.ParseDuration(ws)
		if perr != nil || wait < 0 {
			return apiError(codeParamIllegal, "wait must be a duration such as 30s")
		}
		wait = min(wait, maxWait)
		release, err := s.stream(w, r, wait)
		if err != nil {
			return err
		}
		defer release()
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		defer cancel()
		a, err = s.svc.WaitActivation(ctx, uid, id)
	} else {
		a, err = s.svc.Activation(r.Context(), uid, id)
	}
	if err != nil {
		return err
	}
	v, err := s.view(r.Context(), a)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) stopActivation(w http.ResponseWriter, r *http.Request) error {
	a, err := s.svc.StopActivation(r.Context(), userID(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	v, err := s.view(r.Context(), a)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// activationEvents streams the activation as server-sent events: an
// "activation" event with its state now, then one when it ends, then the
// stream closes. Comments keep idle proxies from closing it meanwhile. A
// stream lasts at most StreamLimits.Duration; then it closes and the client
// follows up with a long-poll or a new stream.
func (s *Server) activationEvents(w http.ResponseWriter, r *http.Request) error {
	uid, id := userID(r.Context()), r.PathValue("id")
	a, err := s.svc.Activation(r.Context(), uid, id)
	if err != nil {
		return err
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		return fmt.Errorf("streaming unsupported")
	}
	release, err := s.stream(w, r, s.streams.limits.Duration)
	if err != nil {
		return err
	}
	defer release()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if err := s.sendActivation(w, r.Context(), 1, a); err != nil || a.Status != pairing.ActivationPending {
		flusher.Flush()
		return nil
	}
	flusher.Flush()
	type result struct {
		a   pairing.Activation
		err error
	}
	done := make(chan result, 1)
	go func() {
		a, err := s.svc.WaitActivation(r.Context(), uid, id)
		done <- result{a, err}
	}()
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	end := time.NewTimer(s.streams.limits.Duration)
	defer end.Stop()
	for {
		select {
		case res := <-done:
			if res.err != nil { // end the stream; the client falls back to GET
				s.log.Warn("activation events", "activation", id, "err", res.err)
				return nil
			}
			s.sendActivation(w, r.Context(), 2, res.a)
			flusher.Flush()
			return nil
		case <-keepalive.C:
			fmt.Fprint(w, ": keepalive\n\n")
			flusher.Flush()
		case <-end.C: // the longest a stream stays open; the client long-polls or reconnects
			return nil
		case <-r.Context().Done():
			return nil
		}
	}
}

// sendActivation writes one "activation" event; seq is its event ID.
func (s *Server) sendActivation(w http.ResponseWriter, ctx context.Context, seq int, a pairing.Activation) error {
	v, err := s.view(ctx, a)
	if err != nil {
		return err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "event: activation\nid: %d\ndata: %s\n\n", seq, b)
	return err
}
