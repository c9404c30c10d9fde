package httpapi

import (
	"net/http"
	"time"

	"github.com/nbpair/nbpair/internal/pairing"
)

// Sharing and transfers of devices.

func (s *Server) sharingRoutes() {
	s.handle("GET /v1/devices/{id}/shares", s.user(s.listShares))
	s.handle("POST /v1/devices/{id}/shares", s.user(s.shareDevice))
	s.handle("DELETE /v1/devices/{id}/shares/{uid}", s.user(s.unshareDevice))
	s.handle("GET /v1/shared-devices", s.user(s.sharedDevices))
	s.handle("POST /v1/devices/{id}/transfers", s.user(s.offerTransfer))
	s.handle("GET /v1/transfers", s.user(s.listTransfers))
	s.handle("GET /v1/transfers/{id}", s.user(s.getTransfer))
	s.handle("POST /v1/transfers/{id}/accept", s.user(s.acceptTransfer))
	s.handle("POST /v1/transfers/{id}/decline", s.user(s.declineTransfer))
	s.handle("DELETE /v1/transfers/{id}", s.user(s.cancelTransfer))
}

// shareView is a share as its device's owner sees it.
type shareView struct {
	UID       string         `json:"uid"`
	Username  string         `json:"username"`
	Access    pairing.Access `json:"access"`
	CreatedAt time.Time      `json:"createdAt"`
}

func viewShare(sh pairing.Share) shareView {
	return shareView{UID: sh.UserID, Username: sh.Username, Access: sh.Access, CreatedAt: sh.CreatedAt}
}

type shareRequest struct {
	Username string `json:"username"`
	Access   string `json:"access"`
}

func (s *Server) shareDevice(w http.ResponseWriter, r *http.Request) error {
	var req shareRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	sh, created, err := s.svc.ShareDevice(r.Context(), userID(r.Context()), r.PathValue("id"), req.Username, pairing.Access(req.Access))
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, viewShare(sh))
	return nil
}

func (s *Server) listShares(w http.ResponseWriter, r *http.Request) error {
	list, err := s.svc.DeviceShares(r.Context(), userID(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	out := make([]shareView, len(list))
	for i, sh := range list {
		out[i] = viewShare(sh)
	}
	writeJSON(w, http.StatusOK, map[string]any{"shares": out})
	return nil
}

func (s *Server) unshareDevice(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.Unshare(r.Context(), userID(r.Context()), r.PathValue("id"), r.PathValue("uid")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// sharedDeviceView is a device shared with the user who asks.
type sharedDeviceView struct {
	pairing.UserDevice
	Access   pairing.Access `json:"access"`
	SharedBy string         `json:"sharedBy"`
	SharedAt time.Time      `json:"sharedAt"`
}

func (s *Server) sharedDevices(w http.ResponseWriter, r *http.Request) error {
	list, err := s.svc.SharedDevices(r.Context(), userID(r.Context()))
	if err != nil {
		return err
	}
	out := make([]sharedDeviceView, len(list))
	for i, sd := range list {
		out[i] = sharedDeviceView{UserDevice: sd.UserDevice, Access: sd.Access, SharedBy: sd.SharedBy, SharedAt: sd.SharedAt}
	}
	writeJSON(w, http.StatusOK, map[string]any{"devices": out})
	return nil
}

// transferView is a transfer as its sender and recipient see it.
type transferView struct {
	ID           string                 `json:"id"`
	DevID        string                 `json:"devId"`
	DeviceName   string                 `json:"deviceName"`
	FromUID      string                 `json:"fromUid"`
	FromUsername string                 `json:"fromUsername"`
	ToUID        string                 `json:"toUid"`
	ToUsername   string                 `json:"toUsername"`
	Status       pairing.TransferStatus `json:"status"`
	HomeID       string                 `json:"spaceId,omitempty"`
	CreatedAt    time.Time              `json:"createdAt"`
	Deadline     time.Time              `json:"deadline"`
	FinishedAt   time.Time              `json:"finishedAt,omitzero"`
}

func viewTransfer(tr pairing.Transfer) transferView {
	return transferView{ID: tr.ID, DevID: tr.DeviceID, DeviceName: tr.DeviceName, FromUID: tr.FromUserID, FromUsername: tr.FromUsername,
		ToUID: tr.ToUserID, ToUsername: tr.ToUsername, Status: tr.Status, HomeID: tr.HomeID, CreatedAt: tr.CreatedAt,
		Deadline: tr.Deadline, FinishedAt: tr.FinishedAt}
}

func (s *Server) writeTransfer(w http.ResponseWriter, status int, tr pairing.Transfer, err error) error {
	if err != nil {
		return err
	}
	writeJSON(w, status, viewTransfer(tr))
	return nil
}

type transferRequest struct {
	Username  string `json:"username"`
	ExpiresIn int    `json:"expiresIn"` // seconds; 0: the default
}

func (s *Server) offerTransfer(w http.ResponseWriter, r *http.Request) error {
	var req transferRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.ExpiresIn < 0 {
		return apiError(codeParamIllegal, "expiresIn must be a positive number of seconds")
	}
	tr, err := s.svc.OfferTransfer(r.Context(), userID(r.Context()), r.PathValue("id"), req.Username, time.Duration(req.ExpiresIn)*time.Second)
	if err == nil {
		w.Header().Set("Location", "/v1/transfers/"+tr.ID)
	}
	return s.writeTransfer(w, http.StatusCreated, tr, err)
}

func (s *Server) listTransfers(w http.ResponseWriter, r *http.Request) error {
	uid := userID(r.Context())
	list, err := s.svc.Transfers(r.Context(), uid)
	if err != nil {
		return err
	}
	incoming, outgoing := []transferView{}, []transferView{}
	for _, tr := range list {
		if tr.ToUserID == uid {
			incoming = append(incoming, viewTransfer(tr))
		} else {
			outgoing = append(outgoing, viewTransfer(tr))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"incoming": incoming, "outgoing": outgoing})
	return nil
}

func (s *Server) getTransfer(w http.ResponseWriter, r *http.Request) error {
	tr, err := s.svc.TransferOf(r.Context(), userID(r.Context()), r.PathValue("id"))
	return s.writeTransfer(w, http.StatusOK, tr, err)
}

type acceptRequest struct {
	SpaceID string `json:"spaceId"`
}

func (s *Server) acceptTransfer(w http.ResponseWriter, r *http.Request) error {
	var req acceptRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	tr, err := s.svc.AcceptTransfer(r.Context(), userID(r.Context()), r.PathValue("id"), req.SpaceID)
	return s.writeTransfer(w, http.StatusOK, tr, err)
}

func (s *Server) declineTransfer(w http.ResponseWriter, r *http.Request) error {
	tr, err := s.svc.DeclineTransfer(r.Context(), userID(r.Context()), r.PathValue("id"))
	return s.writeTransfer(w, http.StatusOK, tr, err)
}

func (s *Server) cancelTransfer(w http.ResponseWriter, r *http.Request) error {
	tr, err := s.svc.CancelTransfer(r.Context(), userID(r.Context()), r.PathValue("id"))
	return s.writeTransfer(w, http.StatusOK, tr, err)
}
