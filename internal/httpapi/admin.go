package httpapi

import (
	"encoding/hex"
	"net/http"
	"strconv"

	"github.com/nbpair/nbpair/internal/pairing"
)

type createProductRequest struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	AutoRegister bool   `json:"autoRegister"`
	PlainCoAP    *bool  `json:"plainCoap"` // true when absent
	// BindHook and OnHookFailure set the product's pre-bind hook.
	BindHook      *bindHookRequest `json:"bindHook"`
	OnHookFailure string           `json:"onHookFailure"`
}

// productView is a product as created, with its pre-bind hook and the
// hook's secret (shown this once) if one was set.
type productView struct {
	pairing.Product
	BindHook *bindHookView `json:"bindHook,omitempty"`
}

func (s *Server) createProduct(w http.ResponseWriter, r *http.Request) error {
	var req createProductRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	plain := req.PlainCoAP == nil || *req.PlainCoAP
	if req.BindHook != nil {
		if req.BindHook.OnHookFailure == "" {
			req.BindHook.OnHookFailure = req.OnHookFailure
		}
		if err := pairing.ValidHookURL(req.BindHook.URL); err != nil { // before the product exists
			return err
		}
	} else if req.OnHookFailure != "" {
		return apiError(codeParamIllegal, "onHookFailure needs a bindHook")
	}
	p, err := s.svc.CreateProduct(r.Context(), pairing.Product{ID: req.ID, Name: req.Name, AutoRegister: req.AutoRegister, PlainCoAP: plain})
	if err != nil {
		return err
	}
	v := productView{Product: p}
	if req.BindHook != nil {
		h, err := s.applyBindHook(r, p.ID, *req.BindHook)
		if err != nil {
			return err
		}
		v.BindHook = &h
	}
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (s *Server) listProducts(w http.ResponseWriter, r *http.Request) error {
	ps, err := s.svc.Products(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"products": nonNil(ps)})
	return nil
}

type provisionRequest struct {
	IMEI      string `json:"imei"`
	ProductID string `json:"productId"`
	Name      string `json:"name"`
}

func (s *Server) provision(w http.ResponseWriter, r *http.Request) error {
	var req provisionRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	d, err := s.svc.Provision(r.Context(), pairing.ProvisionRequest{IMEI: req.IMEI, ProductID: req.ProductID, Name: req.Name})
	if err != nil {
		return err
	}
	st, err := s.svc.DeviceStatus(r.Context(), d.ID)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/admin/devices/"+d.ID)
	writeJSON(w, http.StatusCreated, provisionedView{DeviceStatus: st, PSKIdentity: d.PSKIdentity(), PSK: hex.EncodeToString(d.PSK)})
	return nil
}

// provisionedView is the answer to provisioning: the device with its DTLS
// credentials, shown this once.
type provisionedView struct {
	pairing.DeviceStatus
	PSKIdentity string `json:"pskIdentity"`
	PSK         string `json:"psk"` // hex
}

func (s *Server) listDevices(w http.ResponseWriter, r *http.Request) error {
	v := r.URL.Query()
	q := pairing.DeviceQuery{ProductID: v.Get("productId"), Search: v.Get("q")}
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			return apiError(codeParamIllegal, "limit must be a number from 1 to 1000")
		}
		q.Limit = n
	}
	if err := deviceOrder(&q, v.Get("sort"), v.Get("after")); err != nil {
		return err
	}
	devs, err := s.svc.Devices(r.Context(), q)
	if err != nil {
		return err
	}
	resp := map[string]any{"devices": nonNil(devs)}
	if len(devs) > 0 {
		resp["next"] = nextDevices(q, devs[len(devs)-1])
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) getDevice(w http.ResponseWriter, r *http.Request) error {
	st, err := s.svc.DeviceStatus(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// nonNil makes an empty list marshal as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (s *Server) auditLog(w http.ResponseWriter, r *http.Request) error {
	v := r.URL.Query()
	q := pairing.AuditQuery{DeviceID: v.Get("deviceId"), UserID: v.Get("uid"), Action: v.Get("action"), Outcome: v.Get("outcome")}
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			return apiError(codeParamIllegal, "limit must be a number from 1 to 1000")
		}
		q.Limit = n
	}
	if b := v.Get("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 1 {
			return apiError(codeParamIllegal, "before must be the id of an audit entry")
		}
		q.Before = n
	}
	entries, total, err := s.svc.AuditLog(r.Context(), q)
	if err != nil {
		return err
	}
	resp := map[string]any{"entries": nonNil(entries), "total": total}
	if len(entries) > 0 {
		resp["next"] = entries[len(entries)-1].ID
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}
