package pairing

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// argon2id parameters: OWASP's recommended minimum (19 MiB, 2 passes).
const (
	argonMemory  = 19 * 1024
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
)

// SignUp creates an account.
func (s *Service) SignUp(ctx context.Context, username, password string) (User, error) {
	if err := validUsername(username); err != nil {
		return User{}, err
	}
	if err := validPassword(password); err != nil {
		return User{}, err
	}
	release, err := s.hashSlot(ctx)
	if err != nil {
		return User{}, err
	}
	hash := hashPassword(password)
	release()
	u := User{ID: newUserID(), Username: username, PasswordHash: hash, CreatedAt: s.now().UTC()}
	if err := s.store.CreateUser(ctx, u); err != nil {
		return User{}, err
	}
	s.log.Info("user signed up", "uid", u.ID)
	return u, nil
}

// LogIn checks the password and starts a session. The token it returns is
// shown once; only its hash is stored.
func (s *Service) LogIn(ctx context.Context, username, password string) (token string, se Session, err error) {
	if username == "" || password == "" {
		return "", Session{}, fmt.Errorf("%w: username and password are required", ErrMissing)
	}
	u, err := s.store.UserByName(ctx, username)
	if err != nil && !isNotFound(err) {
		return "", Session{}, err
	}
	release, err2 := s.hashSlot(ctx)
	if err2 != nil {
		return "", Session{}, err2
	}
	ok := checkPassword(u.PasswordHash, password)
	if u.ID == "" {
		hashPassword(password) // spend the same time as for a real user
	}
	release()
	if !ok || u.ID == "" {
		return "", Session{}, ErrBadCredentials
	}
	return s.newSession(ctx, u.ID)
}

// UserIDByName returns the ID of the account named username, if there is
// one (for the audit of a failed login; it tells nothing to the client).
func (s *Service) UserIDByName(ctx context.Context, username string) (string, bool) {
	u, err := s.store.UserByName(ctx, username)
	return u.ID, err == nil && u.ID != ""
}

// SignUpAndLogIn creates an account and its first session at once, so
// that a client never holds an account it could not log in to.
func (s *Service) SignUpAndLogIn(ctx context.Context, username, password string) (User, string, Session, error) {
	u, err := s.SignUp(ctx, username, password)
	if err != nil {
		return User{}, "", Session{}, err
	}
	token, se, err := s.newSession(ctx, u.ID)
	return u, token, se, err
}

// newSession starts a session of the user; only the token's hash is kept.
func (s *Service) newSession(ctx context.Context, userID string) (string, Session, error) {
	token := "nbs_" + base64.RawURLEncoding.EncodeToString(randomBytes(32))
	now := s.now().UTC()
	ua, addr := newSessionClient(ctx)
	se := Session{TokenHash: hashToken(token), UserID: userID, CreatedAt: now, ExpiresAt: now.Add(s.opts.SessionTTL),
		LastUsedAt: now, UserAgent: ua, Addr: addr}
	if err := s.store.CreateSession(ctx, se); err != nil {
		return "", Session{}, err
	}
	return token, se, nil
}

// Authenticate returns the user ID of a session token.
func (s *Service) Authenticate(ctx context.Context, token string) (string, error) {
	if token == "" {
		return "", ErrUnauthenticated
	}
	se, err := s.store.Session(ctx, hashToken(token))
	if isNotFound(err) {
		return "", ErrUnauthenticated
	} else if err != nil {
		return "", err
	}
	if !s.now().Before(se.ExpiresAt) {
		return "", ErrSessionExpired
	}
	s.touch(ctx, se)
	return se.UserID, nil
}

// LogOut ends the session of the token.
func (s *Service) LogOut(ctx context.Context, token string) error {
	return s.store.DeleteSession(ctx, hashToken(token))
}

// hashSlot waits for one of the few argon2 slots: each hash takes 19 MiB
// and a core for tens of milliseconds, so a burst of logins queues here
// instead of exhausting memory.
func (s *Service) hashSlot(ctx context.Context) (func(), error) {
	select {
	case s.hashSlots <- struct{}{}:
		return func() { <-s.hashSlots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func hashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// hashPassword returns the PHC string of an argon2id hash with a new salt.
func hashPassword(password string) string {
	salt := randomBytes(16)
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// checkPassword verifies a password against a PHC string, honouring the
// parameters stored in it so that they can be raised later.
func checkPassword(phc, password string) bool {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var mem, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &t, &p); err != nil {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err := errors.Join(err1, err2); err != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, mem, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// ValidUsername says why u cannot be a username (3 to 64 letters, digits
// and . _ - @ +), or nil when it can. An edge checks it before keeping
// anything for a name a client sent.
func ValidUsername(u string) error { return validUsername(u) }

func validUsername(u string) error {
	switch n := utf8.RuneCountInString(u); {
	case u == "":
		return fmt.Errorf("%w: username is required", ErrMissing)
	case n < 3 || n > 64:
		return fmt.Errorf("%w: username must be 3 to 64 characters", ErrInvalid)
	}
	for _, c := range u {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._-@+", c)) {
			return fmt.Errorf("%w: username may hold letters, digits and . _ - @ + only", ErrInvalid)
		}
	}
	return nil
}

func validPassword(p string) error {
	switch n := utf8.RuneCountInString(p); {
	case p == "":
		return fmt.Errorf("%w: password is required", ErrMissing)
	case n < 8:
		return fmt.Errorf("%w: password must be at least 8 characters", ErrInvalid)
	case len(p) > 1024:
		return fmt.Errorf("%w: password must be at most 1024 bytes", ErrInvalid)
	}
	return nil
}

// CreateHome creates a home owned by the user.
func (s *Service) CreateHome(ctx context.Context, userID, name string) (Home, error) {
	if name == "" {
		return Home{}, fmt.Errorf("%w: name is required", ErrMissing)
	}
	if err := validName("name", name, 1); err != nil {
		return Home{}, err
	}
	h := Home{ID: newHomeID(), Name: name, OwnerID: userID, Role: RoleOwner, CreatedAt: s.now().UTC()}
	return h, s.store.CreateHome(ctx, h)
}

// Homes lists the user's homes.
func (s *Service) Homes(ctx context.Context, userID string) ([]Home, error) {
	return s.store.Homes(ctx, userID)
}

// sessionTTL is the default lifetime of a session.
const sessionTTL = 30 * 24 * time.Hour
