package httpapi

import (
	"encoding/hex"
	"net/http"
	"time"
)

// The device maker's actions on one device: block and unblock,
// force-unbind, deprovision. The device is named by its ID or its IMEI.
func (s *Server) deviceAdminRoutes() {
	s.handle("PUT /v1/admin/devices/{id}/block", s.admin(s.blockDevice))
	s.handle("DELETE /v1/admin/devices/{id}/block", s.admin(s.unblockDevice))
	s.handle("POST /v1/admin/devices/{id}/unbind", s.admin(s.forceUnbind))
	s.handle("DELETE /v1/admin/devices/{id}", s.admin(s.deprovision))
	s.handle("POST /v1/admin/devices/{id}/psk", s.admin(s.rotatePSK))
}

type rotatePSKRequest struct {
	// Deadline is how long the old key stays valid at most, as a Go
	// duration ("168h"); seven days when empty.
	Deadline string `json:"deadline"`
}

// rotatedView is a new key, shown this once.
type rotatedView struct {
	ID          string    `json:"id"`
	PSKIdentity string    `json:"pskIdentity"`
	PSK         string    `json:"psk"` // hex
	Deadline    time.Time `json:"deadline"`
}

func (s *Server) rotatePSK(w http.ResponseWriter, r *http.Request) error {
	var req rotatePSKRequest
	if r.ContentLength != 0 { // the body is optional
		if err := decode(r, &req); err != nil {
			return err
		}
	}
	var deadline time.Duration
	if req.Deadline != "" {
		d, err := time.ParseDuration(req.Deadline)
		if err != nil || d <= 0 {
			return apiError(codeParamIllegal, "deadline must be a duration such as 168h or 30m")
		}
		deadline = d
	}
	rot, err := s.svc.RotatePSK(r.Context(), r.PathValue("id"), deadline)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rotatedView{ID: rot.DeviceID, PSKIdentity: rot.PSKIdentity, PSK: hex.EncodeToString(rot.PSK), Deadline: rot.Deadline})
	return nil
}

type blockRequest struct {
	// Reason is why the device is blocked, for the audit log and the
	// device's state (at most 200 characters).
	Reason string `json:"reason"`
}

func (s *Server) blockDevice(w http.ResponseWriter, r *http.Request) error {
	var req blockRequest
	if r.ContentLength != 0 { // the body is optional
		if err := decode(r, &req); err != nil {
			return err
		}
	}
	if _, err := s.svc.BlockDevice(r.Context(), r.PathValue("id"), req.Reason); err != nil {
		return err
	}
	return s.writeDeviceStatus(w, r, r.PathValue("id"))
}

func (s *Server) unblockDevice(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.UnblockDevice(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	return s.writeDeviceStatus(w, r, r.PathValue("id"))
}

func (s *Server) forceUnbind(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.svc.ForceUnbind(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	return s.writeDeviceStatus(w, r, r.PathValue("id"))
}

// deprovisionedView is what is left of a deprovisioned device: enough to
// say which one went.
type deprovisionedView struct {
	ID        string `json:"id"`
	IMEI      string `json:"imei"`
	ProductID string `json:"productId"`
}

func (s *Server) deprovision(w http.ResponseWriter, r *http.Request) error {
	d, err := s.svc.Deprovision(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, deprovisionedView{ID: d.ID, IMEI: d.IMEI, ProductID: d.ProductID})
	return nil
}

// writeDeviceStatus answers with the device's state after an action.
func (s *Server) writeDeviceStatus(w http.ResponseWriter, r *http.Request, idOrIMEI string) error {
	st, err := s.svc.DeviceStatus(r.Context(), idOrIMEI)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}
