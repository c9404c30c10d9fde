package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nbpair/nbpair/internal/pairing"
)

var accountTests = []test{
	{"CreateUserAndGet", func(t *testing.T, s pairing.Store) {
		u := newUser(1)
		u.CreatedAt = u.CreatedAt.In(time.FixedZone("UTC+8", 8*3600))
		if err := s.CreateUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
		u.CreatedAt = u.CreatedAt.UTC()
		byID, err := s.User(t.Context(), u.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "User", byID, u)
		byName, err := s.UserByName(t.Context(), u.Username)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "UserByName", byName, u)
	}},
	{"UsernameTaken", func(t *testing.T, s pairing.Store) {
		u := createUser(t, s, 1)
		for _, name := range []string{u.Username, strings.ToUpper(u.Username)} {
			dup := newUser(2)
			dup.Username = name
			wantErr(t, "CreateUser named "+name, s.CreateUser(t.Context(), dup), pairing.ErrUsernameTaken)
			_, err := s.User(t.Context(), dup.ID)
			wantErr(t, "User of the rejected duplicate", err, pairing.ErrNotFound)
		}
	}},
	{"UserUnknown", func(t *testing.T, s pairing.Store) {
		createUser(t, s, 1)
		_, err := s.User(t.Context(), "u_unknown")
		wantErr(t, "User of an unknown ID", err, pairing.ErrNotFound)
		_, err = s.UserByName(t.Context(), "nobody")
		wantErr(t, "UserByName of an unknown name", err, pairing.ErrNotFound)
	}},
	{"Session", func(t *testing.T, s pairing.Store) {
		u := createUser(t, s, 1)
		live := newSession(u, 1, at(time.Hour))
		expired := newSession(u, 2, at(-time.Hour))
		for _, se := range []pairing.Session{live, expired} {
			if err := s.CreateSession(t.Context(), se); err != nil {
				t.Fatal(err)
			}
			got, err := s.Session(t.Context(), slices.Clone(se.TokenHash))
			if err != nil {
				t.Fatalf("Session of a session expiring %v: %v", se.ExpiresAt, err)
			}
			wantEqual(t, "Session", got, se)
		}
	}},
	{"DeleteSession", func(t *testing.T, s pairing.Store) {
		u := createUser(t, s, 1)
		gone, kept := newSession(u, 1, at(time.Hour)), newSession(u, 2, at(time.Hour))
		for _, se := range []pairing.Session{gone, kept} {
			if err := s.CreateSession(t.Context(), se); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.DeleteSession(t.Context(), gone.TokenHash); err != nil {
			t.Fatal(err)
		}
		_, err := s.Session(t.Context(), gone.TokenHash)
		wantErr(t, "Session after DeleteSession", err, pairing.ErrNotFound)
		got, err := s.Session(t.Context(), kept.TokenHash)
		if err != nil {
			t.Fatalf("other session of the user: %v", err)
		}
		wantEqual(t, "other session of the user", got, kept)
	}},
	{"SessionUnknown", func(t *testing.T, s pairing.Store) {
		_, err := s.Session(t.Context(), []byte("no such token hash"))
		wantErr(t, "Session of an unknown hash", err, pairing.ErrNotFound)
	}},
	{"CreateHomeAndGet", func(t *testing.T, s pairing.Store) {
		owner, other := createUser(t, s, 1), createUser(t, s, 2)
		h := newHome(1, owner)
		h.CreatedAt = h.CreatedAt.In(time.FixedZone("UTC-5", -5*3600))
		if err := s.CreateHome(t.Context(), h); err != nil {
			t.Fatal(err)
		}
		h.CreatedAt = h.CreatedAt.UTC()
		got, err := s.Home(t.Context(), h.ID, owner.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "Home as its owner sees it", got, h)
		_, err = s.Home(t.Context(), h.ID, other.ID)
		wantErr(t, "Home as a non-member sees it", err, pairing.ErrNotFound)
		_, err = s.Home(t.Context(), "h_unknown", owner.ID)
		wantErr(t, "Home of an unknown ID", err, pairing.ErrNotFound)
	}},
	{"Homes", func(t *testing.T, s pairing.Store) {
		owner, other := createUser(t, s, 1), createUser(t, s, 2)
		var want []pairing.Home
		for _, n := range []int{3, 1, 2} {
			want = append(want, createHome(t, s, n, owner))
		}
		createHome(t, s, 4, other)
		got, err := s.Homes(t.Context(), owner.ID)
		if err != nil {
			t.Fatal(err)
		}
		byID := func(a, b pairing.Home) int { return strings.Compare(a.ID, b.ID) }
		slices.SortFunc(got, byID)
		slices.SortFunc(want, byID)
		wantEqual(t, "Homes of the owner (sorted by ID)", got, want)
		none, err := s.Homes(t.Context(), createUser(t, s, 3).ID)
		if err != nil || len(none) != 0 {
			t.Fatalf("Homes of a user in no home = %+v, %v; want none", none, err)
		}
	}},
}

// newUser returns user number n.
func newUser(n int) pairing.User {
	return pairing.User{
		ID: fmt.Sprintf("u_%05d", n), Username: fmt.Sprintf("user%d", n),
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo",
		CreatedAt:    at(time.Duration(n) * time.Second),
	}
}

func createUser(t *testing.T, s pairing.Store, n int) pairing.User {
	t.Helper()
	u := newUser(n)
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser(%s): %v", u.ID, err)
	}
	return u
}

// newSession returns session number n of u; its token hash is 32 bytes.
func newSession(u pairing.User, n int, expiresAt time.Time) pairing.Session {
	hash := []byte(fmt.Sprintf("%-32s", fmt.Sprintf("hash-%s-%d", u.ID, n)))
	return pairing.Session{TokenHash: hash, UserID: u.ID, CreatedAt: expiresAt.Add(-30 * 24 * time.Hour), ExpiresAt: expiresAt}
}

// newHome returns home number n of owner, as its owner sees it.
func newHome(n int, owner pairing.User) pairing.Home {
	return pairing.Home{ID: fmt.Sprintf("h_%05d", n), Name: fmt.Sprintf("Home %d", n), OwnerID: owner.ID,
		Role: pairing.RoleOwner, CreatedAt: at(time.Duration(n) * time.Minute)}
}

func createHome(t *testing.T, s pairing.Store, n int, owner pairing.User) pairing.Home {
	t.Helper()
	h := newHome(n, owner)
	if err := s.CreateHome(t.Context(), h); err != nil {
		t.Fatalf("CreateHome(%s): %v", h.ID, err)
	}
	return h
}
