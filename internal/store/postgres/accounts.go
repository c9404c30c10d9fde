package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/nbpair/nbpair/internal/pairing"
)

// CreateUser implements pairing.Store. The unique index on lower(username)
// refuses a name that differs from a taken one only in case.
func (s *Store) CreateUser(ctx context.Context, u pairing.User) error {
	_, err := s.pool.Exec(ctx, "INSERT INTO users (id, username, password_hash, created_at) VALUES ($1, $2, $3, $4)",
		u.ID, u.Username, u.PasswordHash, nanos(u.CreatedAt))
	if isUnique(err) {
		return fmt.Errorf("username %q: %w", u.Username, pairing.ErrUsernameTaken)
	}
	return err
}

func (s *Store) user(ctx context.Context, where string, arg any) (pairing.User, error) {
	var u pairing.User
	var created int64
	err := s.pool.QueryRow(ctx, "SELECT id, username, password_hash, created_at FROM users WHERE "+where, arg).
		Scan(&u.ID, &u.Username, &u.PasswordHash, &created)
	u.CreatedAt = fromNanos(created)
	return u, notFound(err, "user")
}

// User implements pairing.Store.
func (s *Store) User(ctx context.Context, id string) (pairing.User, error) {
	return s.user(ctx, "id = $1", id)
}

// UserByName implements pairing.Store. It finds the name in any case, as
// the unique index on lower(username) does.
func (s *Store) UserByName(ctx context.Context, username string) (pairing.User, error) {
	return s.user(ctx, "lower(username) = lower($1)", username)
}

// CreateSession implements pairing.Store.
func (s *Store) CreateSession(ctx context.Context, se pairing.Session) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO sessions (token_hash, user_id, created_at, expires_at, last_used_at, user_agent, addr)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, se.TokenHash, se.UserID, nanos(se.CreatedAt), nanos(se.ExpiresAt), nanos(se.LastUsedAt), se.UserAgent, se.Addr)
	return err
}

// Session implements pairing.Store.
func (s *Store) Session(ctx context.Context, tokenHash []byte) (pairing.Session, error) {
	se := pairing.Session{TokenHash: tokenHash}
	var created, expires, used int64
	err := s.pool.QueryRow(ctx, "SELECT user_id, created_at, expires_at, last_used_at, user_agent, addr FROM sessions WHERE token_hash = $1", tokenHash).
		Scan(&se.UserID, &created, &expires, &used, &se.UserAgent, &se.Addr)
	se.CreatedAt, se.ExpiresAt, se.LastUsedAt = fromNanos(created), fromNanos(expires), fromNanos(used)
	return se, notFound(err, "session")
}

// DeleteSession implements pairing.Store.
func (s *Store) DeleteSession(ctx context.Context, tokenHash []byte) error {
	_, err := s.pool.Exec(ctx, "DELETE FROM sessions WHERE token_hash = $1", tokenHash)
	return err
}

// DeleteUserSessions implements pairing.Store.
func (s *Store) DeleteUserSessions(ctx context.Context, userID string) error {
	_, err := s.pool.Exec(ctx, "DELETE FROM sessions WHERE user_id = $1", userID)
	return err
}

// CreateHome implements pairing.Store.
func (s *Store) CreateHome(ctx context.Context, h pairing.Home) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO homes (id, name, owner_id, created_at) VALUES ($1, $2, $3, $4)",
			h.ID, h.Name, h.OwnerID, nanos(h.CreatedAt)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "INSERT INTO home_members (home_id, user_id, role) VALUES ($1, $2, $3)",
			h.ID, h.OwnerID, string(pairing.RoleOwner))
		return err
	})
}

const homeQuery = `SELECT h.id, h.name, h.owner_id, m.role, h.created_at
	FROM homes h JOIN home_members m ON m.home_id = h.id WHERE m.user_id = $1`

func scanHome(row scanner) (pairing.Home, error) {
	var h pairing.Home
	var created int64
	err := row.Scan(&h.ID, &h.Name, &h.OwnerID, &h.Role, &created)
	h.CreatedAt = fromNanos(created)
	return h, err
}

// Homes implements pairing.Store.
func (s *Store) Homes(ctx context.Context, userID string) ([]pairing.Home, error) {
	rows, err := s.pool.Query(ctx, homeQuery+" ORDER BY h.created_at, h.id", userID)
	return scanAll(rows, err, scanHome)
}

// Home implements pairing.Store.
func (s *Store) Home(ctx context.Context, homeID, userID string) (pairing.Home, error) {
	h, err := scanHome(s.pool.QueryRow(ctx, homeQuery+" AND h.id = $2", userID, homeID))
	return h, notFound(err, "home "+homeID)
}

// RenameHome implements pairing.Store.
func (s *Store) RenameHome(ctx context.Context, homeID, name string) error {
	tag, err := s.pool.Exec(ctx, "UPDATE homes SET name = $1 WHERE id = $2", name, homeID)
	return affectedOne(tag, err, "home "+homeID)
}

// AddMember implements pairing.Store.
func (s *Store) AddMember(ctx context.Context, homeID, userID string, role pairing.Role) error {
	_, err := s.pool.Exec(ctx, "INSERT INTO home_members (home_id, user_id, role) VALUES ($1, $2, $3)",
		homeID, userID, string(role))
	switch {
	case isUnique(err):
		return fmt.Errorf("user %s: %w", userID, pairing.ErrAlreadyMember)
	case isForeignKey(err):
		return notFound(pgx.ErrNoRows, "home or user")
	}
	return err
}

// Members implements pairing.Store.
func (s *Store) Members(ctx context.Context, homeID string) ([]pairing.Member, error) {
	rows, err := s.pool.Query(ctx, `SELECT m.user_id, u.username, m.role FROM home_members m
		JOIN users u ON u.id = m.user_id WHERE m.home_id = $1 ORDER BY m.role = 'owner' DESC, lower(u.username)`, homeID)
	return scanAll(rows, err, func(row scanner) (pairing.Member, error) {
		var m pairing.Member
		err := row.Scan(&m.UserID, &m.Username, &m.Role)
		return m, err
	})
}

// RemoveMember implements pairing.Store.
func (s *Store) RemoveMember(ctx context.Context, homeID, userID string) error {
	tag, err := s.pool.Exec(ctx, "DELETE FROM home_members WHERE home_id = $1 AND user_id = $2", homeID, userID)
	return affectedOne(tag, err, "member "+userID)
}
