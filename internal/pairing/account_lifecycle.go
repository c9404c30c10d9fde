package pairing

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"
	"unicode/utf8"
)

// The account lifecycle: a user's sessions, changing the password, deleting
// the account, deleting a home. Each is audited; an account's deletion is
// audited under a pseudonym (see Pseudonym), never with its username.

// The audit log's actions of the account lifecycle.
const (
	AuditPasswordChange = "password-change"
	AuditAccountDelete  = "account-delete"
	AuditHomeDelete     = "home-delete"
	AuditSessionRevoke  = "session-revoke"
)

// touchEvery is how often a session's last use is written: at most once a
// minute per session, so that requests do not each cost a write.
const touchEvery = time.Minute

// maxUserAgent bounds the user agent kept with a session.
const maxUserAgent = 256

// SessionInfo is a session as its user sees it.
type SessionInfo struct {
	ID         string
	CreatedAt  time.Time
	LastUsedAt time.Time
	ExpiresAt  time.Time
	UserAgent  string
	Addr       string
	// Current is set on the session of the request that lists them.
	Current bool
}

// SessionID is the public ID of the session with that token hash: it names
// the session to its user without revealing its token.
func SessionID(tokenHash []byte) string {
	return "ses_" + hex.EncodeToString(tokenHash[:min(10, len(tokenHash))])
}

// Pseudonym is the stable pseudonymous ID under which a deleted account
// stays in the audit log: the same for every entry of that account, and
// nothing of its username or its ID can be read from it.
func Pseudonym(userID string) string {
	sum := sha256.Sum256([]byte("nbpair deleted account " + userID))
	return "anon_" + hex.EncodeToString(sum[:10])
}

type userAgentKey struct{}

// WithUserAgent records the client's User-Agent, kept with a session it
// starts.
func WithUserAgent(ctx context.Context, ua string) context.Context {
	return context.WithValue(ctx, userAgentKey{}, ua)
}

// newSessionClient returns the user agent and address to keep with a new
// session: the address without its port, the user agent cut to
// maxUserAgent bytes of valid UTF-8.
func newSessionClient(ctx context.Context) (ua, addr string) {
	ua, _ = ctx.Value(userAgentKey{}).(string)
	if len(ua) > maxUserAgent {
		ua = ua[:maxUserAgent]
		for !utf8.ValidString(ua) {
			ua = ua[:len(ua)-1]
		}
	}
	addr = remoteAddr(ctx)
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	return ua, addr
}

// touch records the session's use, at most once every touchEvery; a
// failure is logged, not returned.
func (s *Service) touch(ctx context.Context, se Session) {
	now := s.now().UTC()
	if now.Sub(cmp.Or(se.LastUsedAt, se.CreatedAt)) < touchEvery {
		return
	}
	if err := s.store.TouchSession(context.WithoutCancel(ctx), se.TokenHash, now); err != nil {
		s.log.Warn("recording a session's use", "uid", se.UserID, "err", err)
	}
}

// Sessions lists the user's live sessions, the most recently used first;
// the one of token is marked current.
func (s *Service) Sessions(ctx context.Context, userID, token string) ([]SessionInfo, error) {
	all, err := s.store.UserSessions(ctx, userID)
	if err != nil {
		return nil, err
	}
	now, cur := s.now(), hashToken(token)
	out := make([]SessionInfo, 0, len(all))
	for _, se := range all {
		if !now.Before(se.ExpiresAt) {
			continue
		}
		out = append(out, SessionInfo{ID: SessionID(se.TokenHash), CreatedAt: se.CreatedAt, LastUsedAt: cmp.Or(se.LastUsedAt, se.CreatedAt),
			ExpiresAt: se.ExpiresAt, UserAgent: se.UserAgent, Addr: se.Addr, Current: subtle.ConstantTimeCompare(se.TokenHash, cur) == 1})
	}
	slices.SortFunc(out, func(a, b SessionInfo) int {
		return cmp.Or(b.LastUsedAt.Compare(a.LastUsedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// RevokeSession ends one session of the user, named by its ID; it may be
// the current one.
func (s *Service) RevokeSession(ctx context.Context, userID, sessionID string) error {
	all, err := s.store.UserSessions(ctx, userID)
	if err != nil {
		return err
	}
	for _, se := range all {
		if SessionID(se.TokenHash) == sessionID {
			if err := s.store.DeleteSession(ctx, se.TokenHash); err != nil {
				return err
			}
			s.audit(ctx, AuditEntry{Action: AuditSessionRevoke, Outcome: OutcomeOK, Actor: "user", UserID: userID, Detail: "session " + sessionID})
			return nil
		}
	}
	return fmt.Errorf("session %.40q: %w", sessionID, ErrNotFound)
}

// confirmPassword checks the user's password, spending the time of a hash
// in one of the hash slots; then, if next is not empty, it returns next's
// hash as well.
func (s *Service) confirmPassword(ctx context.Context, userID, password, next string) (string, error) {
	u, err := s.store.User(ctx, userID)
	if err != nil {
		return "", err
	}
	release, err := s.hashSlot(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	if !checkPassword(u.PasswordHash, password) {
		return "", ErrWrongPassword
	}
	if next == "" {
		return "", nil
	}
	return hashPassword(next), nil
}

// ChangePassword sets a new password after checking the current one, and
// ends every other session of the user; the session of token stays.
func (s *Service) ChangePassword(ctx context.Context, userID, token, current, next string) error {
	if current == "" {
		return fmt.Errorf("%w: currentPassword is required", ErrMissing)
	}
	if next == "" {
		return fmt.Errorf("%w: newPassword is required", ErrMissing)
	}
	if err := validPassword(next); err != nil {
		return fmt.Errorf("newPassword: %w", err)
	}
	hash, err := s.confirmPassword(ctx, userID, current, next)
	if errors.Is(err, ErrWrongPassword) {
		s.audit(ctx, AuditEntry{Action: AuditPasswordChange, Outcome: OutcomeRefused, Actor: "user", UserID: userID,
			Detail: "wrong current password"})
		return fmt.Errorf("%w; nothing was changed", ErrWrongPassword)
	} else if err != nil {
		return err
	}
	if err := s.store.SetPassword(ctx, userID, hash, hashToken(token)); err != nil {
		return err
	}
	s.log.Info("password changed", "uid", userID)
	s.audit(ctx, AuditEntry{Action: AuditPasswordChange, Outcome: OutcomeOK, Actor: "user", UserID: userID,
		Detail: "the other sessions were ended"})
	return nil
}

// DeleteAccount deletes the user's account after checking its password:
// the devices it owns, and those of the homes it owns, are unbound and
// told so; those homes are deleted; it leaves the homes of others; its
// sessions, shares, transfers and activations go. The audit log keeps
// what it did under its pseudonym, without its username or addresses.
func (s *Service) DeleteAccount(ctx context.Context, userID, password string) error {
	if password == "" {
		return fmt.Errorf("%w: password is required to delete the account", ErrMissing)
	}
	if _, err := s.confirmPassword(ctx, userID, password, ""); errors.Is(err, ErrWrongPassword) {
		s.audit(ctx, AuditEntry{Action: AuditAccountDelete, Outcome: OutcomeRefused, Actor: "user", UserID: userID,
			Detail: "wrong password"})
		return fmt.Errorf("%w; the account was not deleted", ErrWrongPassword)
	} else if err != nil {
		return err
	}
	pseudonym := Pseudonym(userID)
	del, err := s.store.DeleteUser(ctx, userID, pseudonym, s.unboundEach(ctx, "account-deleted"))
	if err != nil {
		return err
	}
	ctx = WithRemoteAddr(ctx, "") // nothing that points at the person
	s.afterDeletion(ctx, del, pseudonym, "account deleted")
	s.log.Info("account deleted", "pseudonym", pseudonym, "unbound", len(del.Unbound), "homes_deleted", del.HomesDeleted)
	s.audit(ctx, AuditEntry{Action: AuditAccountDelete, Outcome: OutcomeOK, Actor: "user", UserID: pseudonym,
		Detail: fmt.Sprintf("%d devices unbound, %d homes deleted, %d homes left", len(del.Unbound), del.HomesDeleted, del.HomesLeft)})
	return nil
}

// DeleteHome deletes a home; only its owner may. Its devices are unbound
// and told so, its members lose it.
func (s *Service) DeleteHome(ctx context.Context, userID, homeID string) error {
	h, err := s.store.Home(ctx, homeID, userID)
	if err != nil {
		return err
	}
	if h.Role != RoleOwner {
		s.audit(ctx, AuditEntry{Action: AuditHomeDelete, Outcome: OutcomeRefused, Actor: "user", UserID: userID,
			Detail: "home " + homeID + ": not its owner"})
		return fmt.Errorf("%w: only the home's owner may delete it", ErrPermissionDenied)
	}
	del, err := s.store.DeleteHome(ctx, homeID, s.unboundEach(ctx, "home-deleted"))
	if err != nil {
		return err
	}
	s.afterDeletion(ctx, del, userID, "home "+homeID+" deleted")
	s.log.Info("home deleted", "uid", userID, "home_id", homeID, "unbound", len(del.Unbound))
	s.audit(ctx, AuditEntry{Action: AuditHomeDelete, Outcome: OutcomeOK, Actor: "user", UserID: userID,
		Detail: fmt.Sprintf("home %s: %d devices unbound", homeID, len(del.Unbound))})
	return nil
}

// unboundEach gives the device.unbound event of each device a deletion
// unbinds.
func (s *Service) unboundEach(ctx context.Context, by string) func(Device) []OutboxEvent {
	ctx = context.WithoutCancel(ctx)
	return func(d Device) []OutboxEvent { return s.unboundNotes(ctx, d, by, "").Events }
}

// afterDeletion tells each device a deletion unbound (its Pairing object
// is written "unbound" when it is next awake), audits it, and ends the
// waits on the activations it deleted.
func (s *Service) afterDeletion(ctx context.Context, del Deletion, uid, why string) {
	for _, d := range del.Unbound {
		s.audit(ctx, AuditEntry{Action: AuditUnbind, Outcome: OutcomeOK, Actor: "user", UserID: uid, DeviceID: d.ID, Detail: why})
		s.publish(ctx, Event{Kind: EventUnbound, DeviceID: d.ID, At: s.now().UTC()})
	}
	for _, a := range del.Ended {
		a.Status, a.Reason, a.FinishedAt = ActivationFailed, FailPermission, s.now().UTC()
		s.endActivation(ctx, endedAs(a))
	}
}

// Account returns the user's account.
func (s *Service) Account(ctx context.Context, userID string) (User, error) {
	return s.store.User(ctx, userID)
}
