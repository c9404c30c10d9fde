package httpapi

import (
	"net/http"
	"time"
)

// The account lifecycle: the account, its password, its deletion, its
// sessions, and the deletion of a home.

func (s *Server) lifecycleRoutes() {
	s.handle("GET /v1/account", s.user(s.getAccount))
	s.handle("PUT /v1/account/password", s.user(s.changePassword))
	s.handle("POST /v1/account:delete", s.user(s.deleteAccount))
	s.handle("GET /v1/sessions", s.user(s.listSessions))
	s.handle("DELETE /v1/sessions/{id}", s.user(s.revokeSession))
	s.handle("DELETE /v1/homes/{id}", s.user(s.deleteHome))
}

func (s *Server) getAccount(w http.ResponseWriter, r *http.Request) error {
	u, err := s.svc.Account(r.Context(), userID(r.Context()))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

type passwordRequest struct {
	CurrentPassword string `json:"currentPassword"`
	NewPassword     string `json:"newPassword"`
}

func (s *Server) changePassword(w http.ResponseWriter, r *http.Request) error {
	var req passwordRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := s.svc.ChangePassword(r.Context(), userID(r.Context()), bearer(r), req.CurrentPassword, req.NewPassword); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type deleteAccountRequest struct {
	Password string `json:"password"`
}

func (s *Server) deleteAccount(w http.ResponseWriter, r *http.Request) error {
	var req deleteAccountRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := s.svc.DeleteAccount(r.Context(), userID(r.Context()), req.Password); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// sessionView is a session as the API shows it.
type sessionView struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"createdAt"`
	LastUsedAt time.Time `json:"lastUsedAt"`
	ExpiresAt  time.Time `json:"expiresAt"`
	UserAgent  string    `json:"userAgent,omitempty"`
	Addr       string    `json:"remoteAddr,omitempty"`
	Current    bool      `json:"current"`
}

func (s *Server) listSessions(w http.ResponseWriter, r *http.Request) error {
	list, err := s.svc.Sessions(r.Context(), userID(r.Context()), bearer(r))
	if err != nil {
		return err
	}
	out := make([]sessionView, len(list))
	for i, se := range list {
		out[i] = sessionView(se)
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": out})
	return nil
}

func (s *Server) revokeSession(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.RevokeSession(r.Context(), userID(r.Context()), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) deleteHome(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.DeleteHome(r.Context(), userID(r.Context()), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
