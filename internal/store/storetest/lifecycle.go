package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/nbpair/nbpair/internal/pairing"
)

var lifecycleTests = []test{
	{"UserSessionsAndTouch", userSessions},
	{"SetPassword", setPassword},
	{"DeleteUser", deleteUser},
	{"DeleteUserUnknown", func(t *testing.T, s pairing.Store) {
		_, err := s.DeleteUser(t.Context(), "u_unknown", "anon_x", nil)
		wantErr(t, "DeleteUser of an unknown user", err, pairing.ErrNotFound)
	}},
	{"DeleteHome", deleteHome},
	{"Shares", shares},
	{"SharesEndWithTheBind", sharesEndWithTheBind},
	{"Transfers", transfers},
	{"AcceptTransfer", acceptTransfer},
	{"TransferVoidAndExpired", transferVoidAndExpired},
}

// bindTo binds d to u in h at bindAt through an activation named id.
func bindTo(t *testing.T, s pairing.Store, id string, u pairing.User, h pairing.Home, d pairing.Device, bindAt time.Time) pairing.Device {
	t.Helper()
	a := newActivation(id, u, h, d, bindAt.Add(-time.Second))
	createActivation(t, s, a)
	return wantBind(t, s, a, bindAt)
}

func addMember(t *testing.T, s pairing.Store, h pairing.Home, u pairing.User, role pairing.Role) {
	t.Helper()
	if err := s.AddMember(t.Context(), h.ID, u.ID, role); err != nil {
		t.Fatal(err)
	}
}

func userSessions(t *testing.T, s pairing.Store) {
	u, other := createUser(t, s, 1), createUser(t, s, 2)
	a, b := newSession(u, 1, at(time.Hour)), newSession(u, 2, at(2*time.Hour))
	a.UserAgent, a.Addr, a.LastUsedAt = "nbpair-test/1 (phone)", "2001:db8::1", a.CreatedAt
	for _, se := range []pairing.Session{a, b, newSession(other, 1, at(time.Hour))} {
		if err := s.CreateSession(t.Context(), se); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.TouchSession(t.Context(), b.TokenHash, at(time.Minute)); err != nil {
		t.Fatal(err)
	}
	b.LastUsedAt = at(time.Minute)
	got, err := s.UserSessions(t.Context(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(got, func(x, y pairing.Session) int { return x.ExpiresAt.Compare(y.ExpiresAt) })
	wantEqual(t, "UserSessions", got, []pairing.Session{a, b})
	one, err := s.Session(t.Context(), a.TokenHash)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "Session with its client", one, a)
}

func setPassword(t *testing.T, s pairing.Store) {
	u, other := createUser(t, s, 1), createUser(t, s, 2)
	keep, gone, others := newSession(u, 1, at(time.Hour)), newSession(u, 2, at(time.Hour)), newSession(other, 1, at(time.Hour))
	for _, se := range []pairing.Session{keep, gone, others} {
		if err := s.CreateSession(t.Context(), se); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetPassword(t.Context(), u.ID, "$argon2id$new", keep.TokenHash); err != nil {
		t.Fatal(err)
	}
	got, err := s.User(t.Context(), u.ID)
	if err != nil || got.PasswordHash != "$argon2id$new" {
		t.Fatalf("User after SetPassword = %+v, %v", got, err)
	}
	for _, c := range []struct {
		se   pairing.Session
		kept bool
	}{{keep, true}, {gone, false}, {others, true}} {
		_, err := s.Session(t.Context(), c.se.TokenHash)
		if kept := err == nil; kept != c.kept {
			t.Errorf("session %s of %s: kept %v, want %v (%v)", c.se.TokenHash[:8], c.se.UserID, kept, c.kept, err)
		}
	}
	wantErr(t, "SetPassword of an unknown user", s.SetPassword(t.Context(), "u_unknown", "x", nil), pairing.ErrNotFound)
}

// deleteUser: user 1 owns home 1 (devices 1, bound by user 1, and 2, by
// user 2 as its admin) and is an admin of user 2's home 2, where it bound
// device 3; user 2 bound device 4 there and shares and offers it to user 1.
func deleteUser(t *testing.T, s pairing.Store) {
	u1, h1, _ := bindFixture(t, s, 1)
	u2, h2, _ := bindFixture(t, s, 2)
	createDevices(t, s, 3, 4)
	devs := make([]pairing.Device, 5)
	for i := 1; i <= 4; i++ {
		devs[i] = newDevice(i)
	}
	addMember(t, s, h1, u2, pairing.RoleAdmin)
	addMember(t, s, h2, u1, pairing.RoleAdmin)
	devs[1] = bindTo(t, s, "act1", u1, h1, devs[1], at(time.Second))
	devs[2] = bindTo(t, s, "act2", u2, h1, devs[2], at(2*time.Second))
	devs[3] = bindTo(t, s, "act3", u1, h2, devs[3], at(3*time.Second))
	devs[4] = bindTo(t, s, "act4", u2, h2, devs[4], at(4*time.Second))
	createActivation(t, s, newActivation("pend-u2-h1", u2, h1, devs[4], at(5*time.Second)))
	createActivation(t, s, newActivation("pend-u1-h2", u1, h2, devs[2], at(5*time.Second)))
	createActivation(t, s, newActivation("pend-u2-h2", u2, h2, devs[1], at(5*time.Second)))
	if err := s.CreateSession(t.Context(), newSession(u1, 1, at(time.Hour))); err != nil {
		t.Fatal(err)
	}
	putShare(t, s, devs[4], u1, pairing.AccessRead, at(6*time.Second))
	createTransfer(t, s, "tr1", devs[4], u2, u1, at(6*time.Second))
	for _, e := range []pairing.AuditEntry{
		{At: epoch, Action: "login", Outcome: "ok", Actor: "user", UserID: u1.ID, RemoteAddr: "192.0.2.1:4000"},
		{At: epoch, Action: "login", Outcome: "ok", Actor: "user", UserID: u2.ID, RemoteAddr: "192.0.2.2:4000"},
	} {
		if err := s.AppendAudit(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
	var told []string
	del, err := s.DeleteUser(t.Context(), u1.ID, "anon_1", func(d pairing.Device) []pairing.OutboxEvent {
		told = append(told, d.ID+" of "+d.OwnerID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "devices told", told, []string{devs[1].ID + " of " + u1.ID, devs[2].ID + " of " + u2.ID, devs[3].ID + " of " + u1.ID})
	wantEqual(t, "devices unbound", ids(del.Unbound), []string{devs[1].ID, devs[2].ID, devs[3].ID})
	wantEqual(t, "unbound device as it was", del.Unbound[1], devs[2])
	var ended []string
	for _, a := range del.Ended {
		ended = append(ended, a.ID)
	}
	slices.Sort(ended)
	wantEqual(t, "pending activations ended", ended, []string{"pend-u1-h2", "pend-u2-h1"})
	if del.HomesDeleted != 1 || del.HomesLeft != 1 {
		t.Errorf("homes deleted %d, left %d; want 1 and 1", del.HomesDeleted, del.HomesLeft)
	}
	for _, d := range devs[1:4] {
		d.OwnerID, d.HomeID, d.TimeZone, d.BoundAt = "", "", "", time.Time{}
		wantDevice(t, s, "device after its owner's deletion", d)
	}
	wantDevice(t, s, "the other user's device", devs[4])
	_, err = s.User(t.Context(), u1.ID)
	wantErr(t, "User after DeleteUser", err, pairing.ErrNotFound)
	_, err = s.Home(t.Context(), h1.ID, u2.ID)
	wantErr(t, "the deleted user's home, as its admin sees it", err, pairing.ErrNotFound)
	members, err := s.Members(t.Context(), h2.ID)
	if err != nil || len(members) != 1 || members[0].UserID != u2.ID {
		t.Errorf("members of the other home: %+v, %v", members, err)
	}
	if _, err := s.Activation(t.Context(), "pend-u2-h2"); err != nil {
		t.Errorf("an activation of another user into another home: %v", err)
	}
	if sessions, err := s.UserSessions(t.Context(), u1.ID); err != nil || len(sessions) != 0 {
		t.Errorf("sessions after DeleteUser: %+v, %v", sessions, err)
	}
	if tr, err := s.TransfersOfUser(t.Context(), u2.ID); err != nil || len(tr) != 0 {
		t.Errorf("transfers after DeleteUser: %+v, %v", tr, err)
	}
	if sh, err := s.DeviceShares(t.Context(), devs[4].ID); err != nil || len(sh) != 0 {
		t.Errorf("shares after DeleteUser: %+v, %v", sh, err)
	}
	entries, _, err := s.Audit(t.Context(), pairing.AuditQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.UserID == u1.ID || (e.UserID == "anon_1" && e.RemoteAddr != "") || (e.UserID == u2.ID && e.RemoteAddr == "") {
			t.Errorf("audit entry after DeleteUser: %+v", e)
		}
	}
}

func deleteHome(t *testing.T, s pairing.Store) {
	u1, h1, d1 := bindFixture(t, s, 1)
	u2, h2, d2 := bindFixture(t, s, 2)
	addMember(t, s, h1, u2, pairing.RoleMember)
	d1 = bindTo(t, s, "act1", u1, h1, d1, at(time.Second))
	d2 = bindTo(t, s, "act2", u2, h2, d2, at(time.Second))
	createActivation(t, s, newActivation("pend", u1, h1, d2, at(2*time.Second)))
	del, err := s.DeleteHome(t.Context(), h1.ID, func(d pairing.Device) []pairing.OutboxEvent { return nil })
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "devices unbound", ids(del.Unbound), []string{d1.ID})
	if len(del.Ended) != 1 || del.Ended[0].ID != "pend" || del.HomesDeleted != 1 {
		t.Errorf("deletion: %+v", del)
	}
	d1.OwnerID, d1.HomeID, d1.TimeZone, d1.BoundAt = "", "", "", time.Time{}
	wantDevice(t, s, "device of the deleted home", d1)
	wantDevice(t, s, "device of another home", d2)
	for _, u := range []pairing.User{u1, u2} {
		_, err := s.Home(t.Context(), h1.ID, u.ID)
		wantErr(t, "the deleted home as "+u.ID+" sees it", err, pairing.ErrNotFound)
	}
	_, err = s.DeleteHome(t.Context(), h1.ID, nil)
	wantErr(t, "DeleteHome again", err, pairing.ErrNotFound)
}

func putShare(t *testing.T, s pairing.Store, d pairing.Device, with pairing.User, access pairing.Access, createdAt time.Time) pairing.Share {
	t.Helper()
	sh := pairing.Share{DeviceID: d.ID, UserID: with.ID, Access: access, OwnerID: d.OwnerID, BoundAt: d.BoundAt, CreatedAt: createdAt}
	if _, err := s.PutShare(t.Context(), sh); err != nil {
		t.Fatalf("PutShare(%s with %s): %v", d.ID, with.ID, err)
	}
	return sh
}

func shares(t *testing.T, s pairing.Store) {
	u1, h1, d1 := bindFixture(t, s, 1)
	u2, u3 := createUser(t, s, 2), createUser(t, s, 3)
	d1 = bindTo(t, s, "act1", u1, h1, d1, at(time.Second))
	sh := pairing.Share{DeviceID: d1.ID, UserID: u2.ID, Access: pairing.AccessRead, OwnerID: u1.ID, BoundAt: d1.BoundAt, CreatedAt: at(time.Minute)}
	if created, err := s.PutShare(t.Context(), sh); err != nil || !created {
		t.Fatalf("PutShare = %v, %v; want created", created, err)
	}
	changed := sh
	changed.Access, changed.CreatedAt = pairing.AccessControl, at(2*time.Minute)
	if created, err := s.PutShare(t.Context(), changed); err != nil || created {
		t.Fatalf("PutShare of a new access = %v, %v; want changed", created, err)
	}
	putShare(t, s, d1, u3, pairing.AccessRead, at(3*time.Minute))
	got, err := s.Share(t.Context(), d1.ID, u2.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := sh
	want.Access, want.Username, want.OwnerUsername = pairing.AccessControl, u2.Username, u1.Username
	wantEqual(t, "Share (its access changed, its creation kept)", got, want)
	list, err := s.DeviceShares(t.Context(), d1.ID)
	if err != nil || len(list) != 2 || list[0].UserID != u2.ID || list[1].UserID != u3.ID {
		t.Fatalf("DeviceShares = %+v, %v", list, err)
	}
	with, err := s.SharedWith(t.Context(), u3.ID)
	if err != nil || len(with) != 1 || with[0].DeviceID != d1.ID || with[0].Access != pairing.AccessRead {
		t.Fatalf("SharedWith = %+v, %v", with, err)
	}
	if err := s.DeleteShare(t.Context(), d1.ID, u2.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.Share(t.Context(), d1.ID, u2.ID)
	wantErr(t, "Share after DeleteShare", err, pairing.ErrNotFound)
	wantErr(t, "DeleteShare again", s.DeleteShare(t.Context(), d1.ID, u2.ID), pairing.ErrNotFound)
}

// sharesEndWithTheBind: a share lives as long as the bind it was made for;
// binding the device again does not bring it back.
func sharesEndWithTheBind(t *testing.T, s pairing.Store) {
	u1, h1, d1 := bindFixture(t, s, 1)
	u2 := createUser(t, s, 2)
	d1 = bindTo(t, s, "act1", u1, h1, d1, at(time.Second))
	putShare(t, s, d1, u2, pairing.AccessRead, at(time.Minute))
	if _, err := s.Unbind(t.Context(), d1.ID, ""); err != nil {
		t.Fatal(err)
	}
	_, err := s.Share(t.Context(), d1.ID, u2.ID)
	wantErr(t, "Share after the device was unbound", err, pairing.ErrNotFound)
	bindTo(t, s, "act2", u1, h1, d1, at(time.Hour))
	_, err = s.Share(t.Context(), d1.ID, u2.ID)
	wantErr(t, "Share after the device was bound again", err, pairing.ErrNotFound)
	if with, err := s.SharedWith(t.Context(), u2.ID); err != nil || len(with) != 0 {
		t.Errorf("SharedWith after the bind ended = %+v, %v", with, err)
	}
	wantErr(t, "DeleteShare of a dead share", s.DeleteShare(t.Context(), d1.ID, u2.ID), pairing.ErrNotFound)
}

func createTransfer(t *testing.T, s pairing.Store, id string, d pairing.Device, from, to pairing.User, createdAt time.Time) pairing.Transfer {
	t.Helper()
	tr := pairing.Transfer{ID: id, DeviceID: d.ID, FromUserID: from.ID, ToUserID: to.ID, BoundAt: d.BoundAt,
		Status: pairing.TransferPending, CreatedAt: createdAt, Deadline: createdAt.Add(time.Hour)}
	if err := s.CreateTransfer(t.Context(), tr); err != nil {
		t.Fatalf("CreateTransfer(%s): %v", id, err)
	}
	return tr
}

func transfers(t *testing.T, s pairing.Store) {
	u1, h1, d1 := bindFixture(t, s, 1)
	u2 := createUser(t, s, 2)
	d1 = bindTo(t, s, "act1", u1, h1, d1, at(time.Second))
	tr := createTransfer(t, s, "tr1", d1, u1, u2, at(time.Minute))
	dup := tr
	dup.ID = "tr2"
	wantErr(t, "a second pending transfer", s.CreateTransfer(t.Context(), dup), pairing.ErrTransferPending)
	got, err := s.Transfer(t.Context(), "tr1")
	if err != nil {
		t.Fatal(err)
	}
	want := tr
	want.DeviceName, want.FromUsername, want.ToUsername = d1.Name, u1.Username, u2.Username
	wantEqual(t, "Transfer", got, want)
	for _, u := range []pairing.User{u1, u2} {
		if list, err := s.TransfersOfUser(t.Context(), u.ID); err != nil || len(list) != 1 || list[0].ID != "tr1" {
			t.Errorf("TransfersOfUser(%s) = %+v, %v", u.ID, list, err)
		}
	}
	declined, err := s.FinishTransfer(t.Context(), "tr1", pairing.TransferDeclined, at(2*time.Minute))
	if err != nil || declined.Status != pairing.TransferDeclined || !declined.FinishedAt.Equal(at(2*time.Minute)) {
		t.Fatalf("FinishTransfer = %+v, %v", declined, err)
	}
	_, err = s.FinishTransfer(t.Context(), "tr1", pairing.TransferCancelled, at(3*time.Minute))
	wantErr(t, "FinishTransfer of a finished transfer", err, pairing.ErrTransferFinished)
	_, err = s.FinishTransfer(t.Context(), "tr_unknown", pairing.TransferCancelled, at(3*time.Minute))
	wantErr(t, "FinishTransfer of an unknown transfer", err, pairing.ErrNotFound)
	if list, err := s.TransfersOfUser(t.Context(), u2.ID); err != nil || len(list) != 0 {
		t.Errorf("TransfersOfUser after the decline = %+v, %v", list, err)
	}
	createTransfer(t, s, "tr2", d1, u1, u2, at(4*time.Minute)) // the device may be offered again
}

func acceptTransfer(t *testing.T, s pairing.Store) {
	u1, h1, d1 := bindFixture(t, s, 1)
	u2, h2, _ := bindFixture(t, s, 2)
	u3 := createUser(t, s, 3)
	addMember(t, s, h2, u3, pairing.RoleMember)
	d1 = bindTo(t, s, "act1", u1, h1, d1, at(time.Second))
	putShare(t, s, d1, u3, pairing.AccessRead, at(time.Minute))
	createTransfer(t, s, "tr1", d1, u1, u2, at(time.Minute))
	_, _, err := s.AcceptTransfer(t.Context(), "tr1", h1.ID, at(2*time.Minute), pairing.Notes{})
	wantErr(t, "AcceptTransfer into a home of another user", err, pairing.ErrPermissionDenied)
	d, tr, err := s.AcceptTransfer(t.Context(), "tr1", h2.ID, at(2*time.Minute), pairing.Notes{})
	if err != nil {
		t.Fatal(err)
	}
	want := d1
	want.OwnerID, want.HomeID, want.BoundAt = u2.ID, h2.ID, at(2*time.Minute)
	wantEqual(t, "device returned by AcceptTransfer", d, want)
	wantDevice(t, s, "device after AcceptTransfer", want)
	if tr.Status != pairing.TransferAccepted || tr.HomeID != h2.ID || !tr.FinishedAt.Equal(at(2*time.Minute)) {
		t.Errorf("transfer after AcceptTransfer: %+v", tr)
	}
	_, err = s.Share(t.Context(), d1.ID, u3.ID)
	wantErr(t, "the old owner's share after the transfer", err, pairing.ErrNotFound)
	_, _, err = s.AcceptTransfer(t.Context(), "tr1", h2.ID, at(3*time.Minute), pairing.Notes{})
	wantErr(t, "AcceptTransfer again", err, pairing.ErrTransferFinished)
	_, _, err = s.AcceptTransfer(t.Context(), "tr_unknown", h2.ID, at(3*time.Minute), pairing.Notes{})
	wantErr(t, "AcceptTransfer of an unknown transfer", err, pairing.ErrNotFound)
}

func transferVoidAndExpired(t *testing.T, s pairing.Store) {
	u1, h1, d1 := bindFixture(t, s, 1)
	u2, h2, d2 := bindFixture(t, s, 2)
	d1 = bindTo(t, s, "act1", u1, h1, d1, at(time.Second))
	d2 = bindTo(t, s, "act2", u2, h2, d2, at(time.Second))
	createTransfer(t, s, "void", d1, u1, u2, at(time.Minute))
	if _, err := s.Unbind(t.Context(), d1.ID, ""); err != nil {
		t.Fatal(err)
	}
	_, _, err := s.AcceptTransfer(t.Context(), "void", h2.ID, at(2*time.Minute), pairing.Notes{})
	wantErr(t, "AcceptTransfer of a device unbound since the offer", err, pairing.ErrTransferVoid)
	wantDevice(t, s, "the device of a void transfer", withoutOwner(d1))

	createTransfer(t, s, "late", d2, u2, u1, at(time.Minute)) // its deadline: an hour later
	_, _, err = s.AcceptTransfer(t.Context(), "late", h1.ID, at(time.Hour+time.Minute), pairing.Notes{})
	wantErr(t, "AcceptTransfer at its deadline", err, pairing.ErrTransferExpired)
	if none, err := s.ExpireTransfers(t.Context(), at(time.Hour), 10); err != nil || len(none) != 0 {
		t.Fatalf("ExpireTransfers before any deadline = %+v, %v", none, err)
	}
	expired, err := s.ExpireTransfers(t.Context(), at(2*time.Hour), 10)
	if err != nil || len(expired) != 2 { // "void" is pending still: only its accept found it void
		t.Fatalf("ExpireTransfers = %+v, %v; want void and late", expired, err)
	}
	for _, tr := range expired {
		if tr.Status != pairing.TransferExpired || !tr.FinishedAt.Equal(at(2*time.Hour)) {
			t.Errorf("expired transfer: %+v", tr)
		}
	}
	wantDevice(t, s, "the device of an expired transfer", d2)
}

func withoutOwner(d pairing.Device) pairing.Device {
	d.OwnerID, d.HomeID, d.TimeZone, d.BoundAt = "", "", "", time.Time{}
	return d
}
