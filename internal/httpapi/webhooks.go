package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/nbpair/nbpair/internal/pairing"
)

// The device maker's webhooks and pre-bind hooks.

type createWebhookRequest struct {
	URL    string   `json:"url"`
	Events []string `json:"events"`
}

// webhookView is a webhook as the API shows it; Secret only in the answer
// that created it.
type webhookView struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Events    []string  `json:"events"`
	CreatedAt time.Time `json:"createdAt"`
	Secret    string    `json:"secret,omitempty"`
}

func viewWebhook(w pairing.Webhook) webhookView {
	return webhookView{ID: w.ID, URL: w.URL, Events: nonNil(w.Events), CreatedAt: w.CreatedAt}
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) error {
	var req createWebhookRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	c, err := s.svc.CreateWebhook(r.Context(), pairing.NewWebhook{URL: req.URL, Events: req.Events})
	if err != nil {
		return err
	}
	v := viewWebhook(c.Webhook)
	v.Secret = c.Secret
	w.Header().Set("Location", "/v1/admin/webhooks/"+c.ID)
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request) error {
	hooks, err := s.svc.Webhooks(r.Context())
	if err != nil {
		return err
	}
	out := make([]webhookView, len(hooks))
	for i, h := range hooks {
		out[i] = viewWebhook(h)
	}
	writeJSON(w, http.StatusOK, map[string]any{"webhooks": out})
	return nil
}

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request) error {
	h, err := s.svc.Webhook(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewWebhook(h))
	return nil
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.DeleteWebhook(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// deliveryView is one attempt of the delivery log.
type deliveryView struct {
	Seq        int64     `json:"seq"`
	EventID    string    `json:"eventId"`
	Type       string    `json:"type"`
	DeviceID   string    `json:"deviceId"`
	Attempt    int       `json:"attempt"`
	At         time.Time `json:"at"`
	StatusCode int       `json:"statusCode,omitempty"`
	Error      string    `json:"error,omitempty"`
	Outcome    string    `json:"outcome"`
	DurationMs float64   `json:"durationMs"`
}

func (s *Server) webhookDeliveries(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var before int64
	if b := q.Get("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 1 {
			return apiError(codeParamIllegal, "before must be the seq of a delivery, a positive number")
		}
		before = n
	}
	limit := 100
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			return apiError(codeParamIllegal, "limit must be a number from 1 to 1000")
		}
		limit = n
	}
	ds, err := s.svc.WebhookDeliveries(r.Context(), r.PathValue("id"), before, limit)
	if err != nil {
		return err
	}
	out := make([]deliveryView, len(ds))
	for i, d := range ds {
		out[i] = deliveryView{Seq: d.Seq, EventID: d.EventID, Type: d.Type, DeviceID: d.DeviceID, Attempt: d.Attempt, At: d.At,
			StatusCode: d.StatusCode, Error: d.Error, Outcome: d.Outcome, DurationMs: float64(d.Duration.Microseconds()) / 1000}
	}
	writeJSON(w, http.StatusOK, map[string]any{"deliveries": out})
	return nil
}

// bindHookRequest is a product's pre-bind hook as the admin sets it.
type bindHookRequest struct {
	URL           string `json:"url"`
	Timeout       string `json:"timeout"` // a duration such as "5s"; 5s when empty
	OnHookFailure string `json:"onHookFailure"`
}

// bindHookView is a product's pre-bind hook; Secret only when it is set.
type bindHookView struct {
	ProductID     string    `json:"productId"`
	URL           string    `json:"url"`
	Timeout       string    `json:"timeout"`
	OnHookFailure string    `json:"onHookFailure"`
	CreatedAt     time.Time `json:"createdAt"`
	Secret        string    `json:"secret,omitempty"`
}

func viewBindHook(h pairing.BindHook) bindHookView {
	return bindHookView{ProductID: h.ProductID, URL: h.URL, Timeout: h.Timeout.String(), OnHookFailure: h.OnFailure, CreatedAt: h.CreatedAt}
}

func (s *Server) setBindHook(w http.ResponseWriter, r *http.Request) error {
	var req bindHookRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	v, err := s.applyBindHook(r, r.PathValue("id"), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// applyBindHook sets the product's hook and returns it with its secret.
func (s *Server) applyBindHook(r *http.Request, productID string, req bindHookRequest) (bindHookView, error) {
	var timeout time.Duration
	if req.Timeout != "" {
		d, err := time.ParseDuration(req.Timeout)
		if err != nil {
			return bindHookView{}, apiError(codeParamIllegal, "timeout must be a duration such as \"5s\"")
		}
		timeout = d
	}
	c, err := s.svc.SetBindHook(r.Context(), pairing.NewBindHook{ProductID: productID, URL: req.URL, Timeout: timeout, OnFailure: req.OnHookFailure})
	if err != nil {
		return bindHookView{}, err
	}
	v := viewBindHook(c.BindHook)
	v.Secret = c.Secret
	return v, nil
}

func (s *Server) getBindHook(w http.ResponseWriter, r *http.Request) error {
	h, err := s.svc.BindHook(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewBindHook(h))
	return nil
}

func (s *Server) deleteBindHook(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.DeleteBindHook(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
