package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/nbpair/nbpair/internal/pairing"
)

type credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// signUp creates an account and answers with its first session as well,
// so that the client is logged in by the same request.
func (s *Server) signUp(w http.ResponseWriter, r *http.Request) error {
	var req credentials
	if err := decode(r, &req); err != nil {
		return err
	}
	u, tok, se, err := s.svc.SignUpAndLogIn(r.Context(), req.Username, req.Password)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, signUpResponse{User: u, Token: tok, ExpiresAt: se.ExpiresAt})
	return nil
}

// signUpResponse is the new user and their first session.
type signUpResponse struct {
	pairing.User
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expiresAt"`
}

type sessionResponse struct {
	Token     string    `json:"token"`
	UID       string    `json:"uid"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// maxAuditedName bounds a client-chosen username quoted in the audit log.
const maxAuditedName = 64

// clipName bounds a client-chosen name for the audit log and logs.
func clipName(name string) string {
	if len(name) > maxAuditedName {
		name = strings.ToValidUTF8(name[:maxAuditedName], "") + "…"
	}
	return name
}

// logIn checks a username and password. A username that cannot exist is
// refused before anything is kept for it; the throttle (loginThrottle)
// counts failures per username and source, and per source.
func (s *Server) logIn(w http.ResponseWriter, r *http.Request) error {
	var req credentials
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Username == "" || req.Password == "" {
		return apiError(codeParamLoss, "username and password are required")
	}
	source := clientIP(r)
	if pairing.ValidUsername(req.Username) != nil {
		if wait := s.login.refuseUnknown(source); wait > 0 {
			return s.loginThrottled(w, r, req.Username, wait)
		}
		s.loginFailed(r, req.Username)
		return pairing.ErrBadCredentials
	}
	attempt, wait, err := s.login.begin(r.Context(), req.Username, source)
	if err != nil {
		return err
	}
	if wait > 0 {
		return s.loginThrottled(w, r, req.Username, wait)
	}
	tok, se, err := s.svc.LogIn(r.Context(), req.Username, req.Password)
	switch {
	case errors.Is(err, pairing.ErrBadCredentials):
		attempt.failed()
		s.loginFailed(r, req.Username)
		return err
	case err != nil:
		attempt.ended()
		return err
	}
	attempt.succeeded()
	writeJSON(w, http.StatusCreated, sessionResponse{Token: tok, UID: se.UserID, ExpiresAt: se.ExpiresAt})
	return nil
}

// loginFailed audits a failed login.
func (s *Server) loginFailed(r *http.Request, username string) {
	s.auditLogin(r, username, "wrong password", "no account named %q")
}

func (s *Server) loginThrottled(w http.ResponseWriter, r *http.Request, username string, wait time.Duration) error {
	s.auditLogin(r, username, "login throttled after failed attempts", "login for %q throttled after failed attempts")
	return s.tooMany(w, rateLimited{wait}, "failed logins")
}

// auditLogin audits a refused login: for an account, under its ID with
// detail (so that the entry is pseudonymised with the account when it is
// deleted); for a name no account has, with unknown quoting the name tried.
func (s *Server) auditLogin(r *http.Request, username, detail, unknown string) {
	e := pairing.AuditEntry{Action: pairing.AuditLogin, Outcome: pairing.OutcomeRefused, Actor: "user"}
	if uid, ok := s.accountID(r, username); ok {
		e.UserID, e.Detail = uid, detail
	} else {
		e.Detail = fmt.Sprintf(unknown, clipName(username))
	}
	s.svc.Audit(r.Context(), e)
}

// accountID is the ID of the account named username, if the name can be
// one and an account has it.
func (s *Server) accountID(r *http.Request, username string) (string, bool) {
	if pairing.ValidUsername(username) != nil {
		return "", false
	}
	return s.svc.UserIDByName(r.Context(), username)
}

func (s *Server) logOutEverywhere(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.LogOutEverywhere(r.Context(), userID(r.Context())); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) logOut(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.LogOut(r.Context(), bearer(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// userID is the ID of the logged-in user of a request that went through
// the user middleware.
func userID(ctx context.Context) string { return pairing.ActingUser(ctx) }

func bearer(r *http.Request) string {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return strings.TrimSpace(tok)
}

// user requires a valid session token.
func (s *Server) user(h apiHandler) apiHandler {
	return func(w http.ResponseWriter, r *http.Request) error {
		uid, err := s.svc.Authenticate(r.Context(), bearer(r))
		if err != nil {
			if errors.Is(err, pairing.ErrUnauthenticated) {
				return apiError(codeUserSessionLoss, "log in first and send the session token as 'Authorization: Bearer <token>'")
			}
			if errors.Is(err, pairing.ErrSessionExpired) {
				return apiError(codeTokenExpired, "the session has expired; log in again")
			}
			return err
		}
		return h(w, r.WithContext(pairing.WithUser(r.Context(), uid)))
	}
}

type homeRequest struct {
	Name string `json:"name"`
}

func (s *Server) createHome(w http.ResponseWriter, r *http.Request) error {
	var req homeRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	h, err := s.svc.CreateHome(r.Context(), userID(r.Context()), req.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, h)
	return nil
}

func (s *Server) listHomes(w http.ResponseWriter, r *http.Request) error {
	hs, err := s.svc.Homes(r.Context(), userID(r.Context()))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"homes": nonNil(hs)})
	return nil
}

func (s *Server) homeDevices(w http.ResponseWriter, r *http.Request) error {
	ds, err := s.svc.HomeDevices(r.Context(), userID(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"devices": nonNil(ds)})
	return nil
}

func (s *Server) getDeviceOfUser(w http.ResponseWriter, r *http.Request) error {
	d, err := s.svc.UserDevice(r.Context(), userID(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

type renameRequest struct {
	Name string `json:"name"`
}

func (s *Server) renameDevice(w http.ResponseWriter, r *http.Request) error {
	var req renameRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	d, err := s.svc.RenameDevice(r.Context(), userID(r.Context()), r.PathValue("id"), req.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (s *Server) removeDevice(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.RemoveDevice(r.Context(), userID(r.Context()), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type parseRequest struct {
	Code string `json:"code"`
}

func (s *Server) parseQRCode(w http.ResponseWriter, r *http.Request) error {
	var req parseRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	res, err := s.svc.ParseQRCode(r.Context(), req.Code)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (s *Server) renameHome(w http.ResponseWriter, r *http.Request) error {
	var req homeRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	h, err := s.svc.RenameHome(r.Context(), userID(r.Context()), r.PathValue("id"), req.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

func (s *Server) listMembers(w http.ResponseWriter, r *http.Request) error {
	ms, err := s.svc.Members(r.Context(), userID(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"members": nonNil(ms)})
	return nil
}

type memberRequest struct {
	Username string `json:"username"`
	Role     string `json:"role"`
}

func (s *Server) addMember(w http.ResponseWriter, r *http.Request) error {
	var req memberRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	m, err := s.svc.AddMember(r.Context(), userID(r.Context()), r.PathValue("id"), req.Username, pairing.Role(req.Role))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, m)
	return nil
}

func (s *Server) removeMember(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.RemoveMember(r.Context(), userID(r.Context()), r.PathValue("id"), r.PathValue("uid")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
