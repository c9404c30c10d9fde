package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/nbpair/nbpair/internal/pairing"
)

// CreateUser implements pairing.Store.
func (s *Store) CreateUser(ctx context.Context, u pairing.User) error {
	_, err := s.exec(ctx, laneNormal, "INSERT INTO users (id, username, password_hash, created_at) VALUES (?, ?, ?, ?)",
		u.ID, u.Username, u.PasswordHash, nanos(u.CreatedAt))
	if isUnique(err) {
		return fmt.Errorf("username %q: %w", u.Username, pairing.ErrUsernameTaken)
	}
	return err
}

func (s *Store) user(ctx context.Context, where string, arg any) (pairing.User, error) {
	var u pairing.User
	var created int64
	err := s.rq.QueryRowContext(ctx, "SELECT id, username, password_hash, created_at FROM users WHERE "+where, arg).
		Scan(&u.ID, &u.Username, &u.PasswordHash, &created)
	u.CreatedAt = fromNanos(created)
	return u, notFound(err, "user")
}

// User implements pairing.Store.
func (s *Store) User(ctx context.Context, id string) (pairing.User, error) {
	return s.user(ctx, "id = ?", id)
}

// UserByName implements pairing.Store.
func (s *Store) UserByName(ctx context.Context, username string) (pairing.User, error) {
	return s.user(ctx, "username = ?", username)
}

// CreateSession implements pairing.Store.
func (s *Store) CreateSession(ctx context.Context, se pairing.Session) error {
	_, err := s.exec(ctx, laneNormal, `INSERT INTO sessions (token_hash, user_id, created_at, expires_at, last_used_at, user_agent, addr)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, se.TokenHash, se.UserID, nanos(se.CreatedAt), nanos(se.ExpiresAt), nanos(se.LastUsedAt), se.UserAgent, se.Addr)
	return err
}

// Session implements pairing.Store.
func (s *Store) Session(ctx context.Context, tokenHash []byte) (pairing.Session, error) {
	se := pairing.Session{TokenHash: tokenHash}
	var created, expires, used int64
	err := s.rq.QueryRowContext(ctx, "SELECT user_id, created_at, expires_at, last_used_at, user_agent, addr FROM sessions WHERE token_hash = ?", tokenHash).
		Scan(&se.UserID, &created, &expires, &used, &se.UserAgent, &se.Addr)
	se.CreatedAt, se.ExpiresAt, se.LastUsedAt = fromNanos(created), fromNanos(expires), fromNanos(used)
	return se, notFound(err, "session")
}

// DeleteSession implements pairing.Store.
func (s *Store) DeleteSession(ctx context.Context, tokenHash []byte) error {
	_, err := s.exec(ctx, laneNormal, "DELETE FROM sessions WHERE token_hash = ?", tokenHash)
	return err
}

// CreateHome implements pairing.Store.
func (s *Store) CreateHome(ctx context.Context, h pairing.Home) error {
	return s.inTx(ctx, func(tx wtx) error {
		if _, err := tx.ExecContext(ctx, "INSERT INTO homes (id, name, owner_id, created_at) VALUES (?, ?, ?, ?)",
			h.ID, h.Name, h.OwnerID, nanos(h.CreatedAt)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO home_members (home_id, user_id, role) VALUES (?, ?, ?)",
			h.ID, h.OwnerID, string(pairing.RoleOwner))
		return err
	})
}

const homeQuery = `SELECT h.id, h.name, h.owner_id, m.role, h.created_at
	FROM homes h JOIN home_members m ON m.home_id = h.id WHERE m.user_id = ?`

func scanHome(row interface{ Scan(...any) error }) (pairing.Home, error) {
	var h pairing.Home
	var created int64
	err := row.Scan(&h.ID, &h.Name, &h.OwnerID, &h.Role, &created)
	h.CreatedAt = fromNanos(created)
	return h, err
}

// Homes implements pairing.Store.
func (s *Store) Homes(ctx context.Context, userID string) ([]pairing.Home, error) {
	rows, err := s.rq.QueryContext(ctx, homeQuery+" ORDER BY h.created_at, h.id", userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []pairing.Home
	for rows.Next() {
		h, err := scanHome(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// Home implements pairing.Store.
func (s *Store) Home(ctx context.Context, homeID, userID string) (pairing.Home, error) {
	h, err := scanHome(s.rq.QueryRowContext(ctx, homeQuery+" AND h.id = ?", userID, homeID))
	return h, notFound(err, "home "+homeID)
}

// DeleteUserSessions implements pairing.Store.
func (s *Store) DeleteUserSessions(ctx context.Context, userID string) error {
	_, err := s.exec(ctx, laneNormal, "DELETE FROM sessions WHERE user_id = ?", userID)
	return err
}

// RenameHome implements pairing.Store.
func (s *Store) RenameHome(ctx context.Context, homeID, name string) error {
	res, err := s.exec(ctx, laneNormal, "UPDATE homes SET name = ? WHERE id = ?", name, homeID)
	return affectedOne(res, err, "home "+homeID)
}

// AddMember implements pairing.Store.
func (s *Store) AddMember(ctx context.Context, homeID, userID string, role pairing.Role) error {
	_, err := s.exec(ctx, laneNormal, "INSERT INTO home_members (home_id, user_id, role) VALUES (?, ?, ?)", homeID, userID, string(role))
	switch {
	case isUnique(err):
		return fmt.Errorf("user %s: %w", userID, pairing.ErrAlreadyMember)
	case isForeignKey(err):
		return notFound(sql.ErrNoRows, "home or user")
	}
	return err
}

// Members implements pairing.Store.
func (s *Store) Members(ctx context.Context, homeID string) ([]pairing.Member, error) {
	rows, err := s.rq.QueryContext(ctx, `SELECT m.user_id, u.username, m.role FROM home_members m
		JOIN users u ON u.id = m.user_id WHERE m.home_id = ? ORDER BY m.role = 'owner' DESC, u.username`, homeID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []pairing.Member
	for rows.Next() {
		var m pairing.Member
		if err := rows.Scan(&m.UserID, &m.Username, &m.Role); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// RemoveMember implements pairing.Store.
func (s *Store) RemoveMember(ctx context.Context, homeID, userID string) error {
	res, err := s.exec(ctx, laneNormal, "DELETE FROM home_members WHERE home_id = ? AND user_id = ?", homeID, userID)
	return affectedOne(res, err, "member "+userID)
}
