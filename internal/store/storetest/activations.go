package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nbpair/nbpair/internal/pairing"
	"github.com/nbpair/nbpair/internal/wire"
)

var activationTests = []test{
	{"CreateAndGet", func(t *testing.T, s pairing.Store) {
		u, h, d := bindFixture(t, s, 1)
		a := newActivation("act1", u, h, d, at(time.Minute))
		a.CreatedAt = a.CreatedAt.In(time.FixedZone("UTC+8", 8*3600))
		a.Deadline = a.Deadline.In(time.FixedZone("UTC-5", -5*3600))
		createActivation(t, s, a)
		got, err := s.Activation(t.Context(), a.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "Activation", got, activationInUTC(a))
		_, err = s.Activation(t.Context(), "act_unknown")
		wantErr(t, "Activation of an unknown ID", err, pairing.ErrNotFound)
	}},
	{"PendingOldestFirst", func(t *testing.T, s pairing.Store) {
		u, h, d := bindFixture(t, s, 1)
		other := createDevices(t, s, 2)[0]
		var acts []pairing.Activation
		for i, created := range []time.Duration{3, 1, 2, 4} {
			a := newActivation(fmt.Sprintf("act%d", i), u, h, d, at(created))
			a.UserID = createUser(t, s, 10+i).ID // one pending activation per user and device
			createActivation(t, s, a)
			acts = append(acts, a)
		}
		createActivation(t, s, newActivation("act-other-device", u, h, other, at(1)))
		if _, err := s.FinishActivation(t.Context(), acts[3].ID, pairing.ActivationStopped, "", at(time.Minute)); err != nil {
			t.Fatal(err)
		}
		got, err := s.PendingActivations(t.Context(), d.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "PendingActivations", got, []pairing.Activation{acts[1], acts[2], acts[0]})
		none, err := s.PendingActivations(t.Context(), createDevices(t, s, 3)[0].ID)
		if err != nil || len(none) != 0 {
			t.Fatalf("PendingActivations of a device without any = %+v, %v; want none", none, err)
		}
	}},
	{"Finish", finishActivation},
	{"FinishUnknown", func(t *testing.T, s pairing.Store) {
		_, err := s.FinishActivation(t.Context(), "act_unknown", pairing.ActivationStopped, "", epoch)
		wantErr(t, "FinishActivation of an unknown ID", err, pairing.ErrNotFound)
	}},
	{"Expired", expiredActivations},
	{"OnePendingPerUser", onePendingPerUser},
	{"FactoryReset", factoryReset},
}

var bindingTests = []test{
	{"DeviceByNbID", func(t *testing.T, s pairing.Store) {
		d := createDevices(t, s, 1, 2)[1]
		got, err := s.DeviceByNbID(t.Context(), d.NbID)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "DeviceByNbID", got, d)
		_, err = s.DeviceByNbID(t.Context(), strings.Repeat("f", 32))
		wantErr(t, "DeviceByNbID of an unknown pairing ID", err, pairing.ErrNotFound)
	}},
	{"RenameDevice", func(t *testing.T, s pairing.Store) {
		devs := createDevices(t, s, 1, 2)
		if err := s.RenameDevice(t.Context(), devs[0].ID, "Kitchen meter"); err != nil {
			t.Fatal(err)
		}
		devs[0].Name = "Kitchen meter"
		for _, d := range devs {
			got, err := s.Device(t.Context(), d.ID)
			if err != nil {
				t.Fatal(err)
			}
			wantEqual(t, "Device after RenameDevice", got, d)
		}
		wantErr(t, "RenameDevice of an unknown ID", s.RenameDevice(t.Context(), "dev_unknown", "x"), pairing.ErrNotFound)
	}},
	{"Bind", func(t *testing.T, s pairing.Store) {
		u, h, d := bindFixture(t, s, 1)
		a := newActivation("act1", u, h, d, at(time.Minute))
		createActivation(t, s, a)
		wantBind(t, s, a, at(time.Minute+time.Second))
		pending, err := s.PendingActivations(t.Context(), d.ID)
		if err != nil || len(pending) != 0 {
			t.Fatalf("PendingActivations after Bind = %+v, %v; want none", pending, err)
		}
	}},
	{"BindAlreadyBound", func(t *testing.T, s pairing.Store) {
		u1, h1, d := bindFixture(t, s, 1)
		u2 := createUser(t, s, 2)
		h2 := createHome(t, s, 2, u2)
		mine, theirs := newActivation("act1", u1, h1, d, at(1)), newActivation("act2", u2, h2, d, at(2))
		createActivation(t, s, mine)
		createActivation(t, s, theirs)
		bound := wantBind(t, s, mine, at(time.Second))
		_, _, err := s.Bind(t.Context(), theirs.ID, at(2*time.Second))
		wantErr(t, "Bind of a device another user owns", err, pairing.ErrAlreadyBound)
		wantDevice(t, s, "device after a refused Bind", bound)
		wantActivation(t, s, "refused activation", theirs)
	}},
	{"BindSameUserOtherHome", func(t *testing.T, s pairing.Store) {
		u, h1, d := bindFixture(t, s, 1)
		h2 := createHome(t, s, 2, u)
		first := newActivation("act1", u, h1, d, at(1))
		createActivation(t, s, first)
		wantBind(t, s, first, at(time.Second))
		second := newActivation("act2", u, h2, d, at(time.Minute))
		createActivation(t, s, second)
		wantBind(t, s, second, at(time.Minute+time.Second))
		wantHomeDevices(t, s, h1)
		wantHomeDevices(t, s, h2, d.ID)
	}},
	{"BindFinished", func(t *testing.T, s pairing.Store) {
		u, h, d := bindFixture(t, s, 1)
		a := newActivation("act1", u, h, d, at(1))
		createActivation(t, s, a)
		stopped, err := s.FinishActivation(t.Context(), a.ID, pairing.ActivationStopped, "", at(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = s.Bind(t.Context(), a.ID, at(2*time.Second))
		wantErr(t, "Bind of a stopped activation", err, pairing.ErrActivationFinished)
		wantDevice(t, s, "device after Bind of a stopped activation", d)
		wantActivation(t, s, "stopped activation after Bind", stopped)

		again := newActivation("act2", u, h, d, at(time.Minute))
		createActivation(t, s, again)
		bound := wantBind(t, s, again, at(time.Minute+time.Second))
		_, _, err = s.Bind(t.Context(), again.ID, at(time.Hour))
		wantErr(t, "second Bind of an activation", err, pairing.ErrActivationFinished)
		wantDevice(t, s, "device after a second Bind", bound)
	}},
	{"BindUnknown", func(t *testing.T, s pairing.Store) {
		_, _, err := s.Bind(t.Context(), "act_unknown", epoch)
		wantErr(t, "Bind of an unknown activation", err, pairing.ErrNotFound)
	}},
	{"Unbind", func(t *testing.T, s pairing.Store) {
		u, h, d := bindFixture(t, s, 1)
		a := newActivation("act1", u, h, d, at(1))
		createActivation(t, s, a)
		wantBind(t, s, a, at(time.Second))
		_, err := s.Unbind(t.Context(), d.ID, "h_some_other_home")
		wantErr(t, "Unbind naming another home", err, pairing.ErrNotFound)
		got, err := s.Unbind(t.Context(), d.ID, h.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "Unbind", got, d)
		wantDevice(t, s, "device after Unbind", d)
		wantHomeDevices(t, s, h)

		u2 := createUser(t, s, 2)
		h2 := createHome(t, s, 2, u2)
		next := newActivation("act2", u2, h2, d, at(time.Minute))
		createActivation(t, s, next)
		wantBind(t, s, next, at(time.Minute+time.Second))
		_, err = s.Unbind(t.Context(), "dev_unknown", "")
		wantErr(t, "Unbind of an unknown device", err, pairing.ErrNotFound)
	}},
	{"BindChecksRoleNow", func(t *testing.T, s pairing.Store) {
		_, h, d := bindFixture(t, s, 1)
		v := createUser(t, s, 2)
		if err := s.AddMember(t.Context(), h.ID, v.ID, pairing.RoleAdmin); err != nil {
			t.Fatal(err)
		}
		a := newActivation("act1", v, h, d, at(1))
		createActivation(t, s, a)
		if err := s.RemoveMember(t.Context(), h.ID, v.ID); err != nil {
			t.Fatal(err)
		}
		_, _, err := s.Bind(t.Context(), a.ID, at(2))
		wantErr(t, "Bind by a user removed from the home", err, pairing.ErrPermissionDenied)
		wantDevice(t, s, "device after the refused Bind", d)
		member := createUser(t, s, 3)
		if err := s.AddMember(t.Context(), h.ID, member.ID, pairing.RoleMember); err != nil {
			t.Fatal(err)
		}
		b := newActivation("act2", member, h, d, at(3))
		createActivation(t, s, b)
		_, _, err = s.Bind(t.Context(), b.ID, at(4))
		wantErr(t, "Bind by a plain member", err, pairing.ErrPermissionDenied)
	}},
	{"HomeDevices", func(t *testing.T, s pairing.Store) {
		u, h1, _ := bindFixture(t, s, 1)
		h2 := createHome(t, s, 2, u)
		devs := createDevices(t, s, 2, 3, 4, 5)
		for i, d := range devs[:3] {
			a := newActivation(fmt.Sprintf("act%d", i), u, h1, d, at(time.Duration(3-i)))
			createActivation(t, s, a)
			wantBind(t, s, a, at(time.Duration(3-i)*time.Second))
		}
		a := newActivation("act-h2", u, h2, devs[3], at(1))
		createActivation(t, s, a)
		wantBind(t, s, a, at(time.Second))
		wantHomeDevices(t, s, h1, devs[0].ID, devs[1].ID, devs[2].ID)
		wantHomeDevices(t, s, h2, devs[3].ID)
		wantHomeDevices(t, s, pairing.Home{ID: "h_unknown"})
	}},
}

// bindFixture creates user n, their home n and device n.
func bindFixture(t *testing.T, s pairing.Store, n int) (pairing.User, pairing.Home, pairing.Device) {
	t.Helper()
	u := createUser(t, s, n)
	return u, createHome(t, s, n, u), createDevices(t, s, n)[0]
}

// OnePendingPerUser: a user may have one pending activation of a device.
func onePendingPerUser(t *testing.T, s pairing.Store) {
	u, h, d := bindFixture(t, s, 1)
	createActivation(t, s, newActivation("act1", u, h, d, at(1)))
	err := s.CreateActivation(t.Context(), newActivation("act2", u, h, d, at(2)))
	wantErr(t, "a second pending activation", err, pairing.ErrActiveRepeated)
	if _, err := s.FinishActivation(t.Context(), "act1", pairing.ActivationStopped, "", at(3)); err != nil {
		t.Fatal(err)
	}
	createActivation(t, s, newActivation("act3", u, h, d, at(4)))
}

// newActivation returns a pending activation by u of d into h, made at
// createdAt, with a timeout of two minutes.
func newActivation(id string, u pairing.User, h pairing.Home, d pairing.Device, createdAt time.Time) pairing.Activation {
	return pairing.Activation{
		ID: id, UserID: u.ID, NbID: d.NbID, DeviceID: d.ID, HomeID: h.ID, TimeZone: "Europe/Berlin",
		Timeout: 120, Status: pairing.ActivationPending, CreatedAt: createdAt, Deadline: createdAt.Add(120 * time.Second),
	}
}

func createActivation(t *testing.T, s pairing.Store, a pairing.Activation) {
	t.Helper()
	if err := s.CreateActivation(t.Context(), a); err != nil {
		t.Fatalf("CreateActivation(%s): %v", a.ID, err)
	}
}

func activationInUTC(a pairing.Activation) pairing.Activation {
	a.CreatedAt, a.Deadline, a.FinishedAt = a.CreatedAt.UTC(), a.Deadline.UTC(), a.FinishedAt.UTC()
	return a
}

// wantBind binds a at bindAt and checks what Bind returns and stores: the
// device bound to a's user and home, and a paired.
func wantBind(t *testing.T, s pairing.Store, a pairing.Activation, bindAt time.Time) pairing.Device {
	t.Helper()
	before, err := s.Device(t.Context(), a.DeviceID)
	if err != nil {
		t.Fatal(err)
	}
	d, got, err := s.Bind(t.Context(), a.ID, bindAt)
	if err != nil {
		t.Fatalf("Bind(%s): %v", a.ID, err)
	}
	want := before
	want.OwnerID, want.HomeID, want.TimeZone, want.BoundAt = a.UserID, a.HomeID, a.TimeZone, bindAt.UTC()
	wantEqual(t, "device returned by Bind", d, want)
	wantDevice(t, s, "device after Bind", want)
	a.Status, a.FinishedAt = pairing.ActivationPaired, bindAt
	wantEqual(t, "activation returned by Bind", got, activationInUTC(a))
	wantActivation(t, s, "activation after Bind", a)
	return want
}

func wantDevice(t *testing.T, s pairing.Store, what string, want pairing.Device) {
	t.Helper()
	got, err := s.Device(t.Context(), want.ID)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	wantEqual(t, what, got, want)
}

func wantActivation(t *testing.T, s pairing.Store, what string, want pairing.Activation) {
	t.Helper()
	got, err := s.Activation(t.Context(), want.ID)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	wantEqual(t, what, got, activationInUTC(want))
}

// wantHomeDevices fails t unless the devices of h are those with the IDs
// want, in any order.
func wantHomeDevices(t *testing.T, s pairing.Store, h pairing.Home, want ...string) {
	t.Helper()
	devs, err := s.HomeDevices(t.Context(), h.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range devs {
		if d.HomeID != h.ID {
			t.Fatalf("HomeDevices(%s) lists %s of home %q", h.ID, d.ID, d.HomeID)
		}
		got = append(got, d.ID)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("HomeDevices(%s) = %q, want %q", h.ID, got, want)
	}
}

// finishActivation ends activations with each final status and checks that
// only the first FinishActivation of each counts.
func finishActivation(t *testing.T, s pairing.Store) {
	u, h, d := bindFixture(t, s, 1)
	cases := []struct {
		name   string
		status pairing.ActivationStatus
		reason pairing.FailReason
	}{
		{"Timeout", pairing.ActivationFailed, pairing.FailTimeout},
		{"AlreadyBound", pairing.ActivationFailed, pairing.FailAlreadyBound},
		{"FactoryReset", pairing.ActivationFailed, pairing.FailFactoryReset},
		{"Stopped", pairing.ActivationStopped, ""},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newActivation("act-"+tc.name, u, h, d, at(time.Duration(i)))
			createActivation(t, s, a)
			finishedAt := at(time.Minute + time.Duration(i)).In(time.FixedZone("UTC+8", 8*3600))
			got, err := s.FinishActivation(t.Context(), a.ID, tc.status, tc.reason, finishedAt)
			if err != nil {
				t.Fatal(err)
			}
			a.Status, a.Reason, a.FinishedAt = tc.status, tc.reason, finishedAt
			wantEqual(t, "FinishActivation", got, activationInUTC(a))
			wantActivation(t, s, "activation after FinishActivation", a)
			_, err = s.FinishActivation(t.Context(), a.ID, pairing.ActivationStopped, "", at(time.Hour))
			wantErr(t, "second FinishActivation", err, pairing.ErrActivationFinished)
			wantActivation(t, s, "activation after a second FinishActivation", a)
		})
	}
}

// expiredActivations checks that ExpiredActivations lists the pending
// activations whose deadline is at or before now, at most limit of them,
// and changes nothing.
func expiredActivations(t *testing.T, s pairing.Store) {
	u, h, d := bindFixture(t, s, 1)
	now := at(time.Hour)
	expired := map[string]pairing.Activation{}
	for i, off := range []time.Duration{-time.Hour, -1, 0, 1, time.Hour} {
		a := newActivation(fmt.Sprintf("act%d", i), u, h, d, now.Add(-time.Hour))
		a.UserID = createUser(t, s, 10+i).ID // one pending activation per user and device
		a.Deadline = now.Add(off)
		createActivation(t, s, a)
		if off <= 0 {
			expired[a.ID] = a
		}
	}
	finished := newActivation("act-finished", u, h, d, now.Add(-2*time.Hour))
	createActivation(t, s, finished)
	if _, err := s.FinishActivation(t.Context(), finished.ID, pairing.ActivationStopped, "", now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int{100, 2} {
		got, err := s.ExpiredActivations(t.Context(), now, limit)
		if err != nil {
			t.Fatal(err)
		}
		if want := min(limit, len(expired)); len(got) != want {
			t.Fatalf("ExpiredActivations(limit %d) = %d activations, want %d", limit, len(got), want)
		}
		seen := map[string]bool{}
		for _, a := range got {
			want, ok := expired[a.ID]
			if !ok || seen[a.ID] {
				t.Fatalf("ExpiredActivations listed %s (deadline %v after now) or listed it twice",
					a.ID, a.Deadline.Sub(now))
			}
			seen[a.ID] = true
			wantEqual(t, "listed activation", a, want)
		}
	}
	for _, a := range expired {
		wantActivation(t, s, "activation after ExpiredActivations", a)
	}
}

// factoryReset: one transaction unbinds the device, renames it, drops its
// queued downlinks and fails the activations waiting for it, and returns
// those; an activation that had already ended stays as it was.
func factoryReset(t *testing.T, s pairing.Store) {
	u, h, d := bindFixture(t, s, 1)
	bind := newActivation("act-bind", u, h, d, at(time.Minute))
	createActivation(t, s, bind)
	d = wantBind(t, s, bind, at(2*time.Minute))
	putDownlink(t, s, newDownlink(d, wire.BindBound, at(2*time.Minute)))
	var waiting []pairing.Activation
	for i := range 2 {
		a := newActivation(fmt.Sprintf("act-wait%d", i), u, h, d, at(3*time.Minute+time.Duration(i)))
		a.UserID = createUser(t, s, 10+i).ID
		createActivation(t, s, a)
		waiting = append(waiting, a)
	}
	stopped := newActivation("act-stopped", u, h, d, at(4*time.Minute))
	createActivation(t, s, stopped)
	if _, err := s.FinishActivation(t.Context(), stopped.ID, pairing.ActivationStopped, "", at(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	stopped.Status, stopped.FinishedAt = pairing.ActivationStopped, at(5*time.Minute)

	resetAt := at(6 * time.Minute)
	got, ended, err := s.FactoryReset(t.Context(), d.ID, "NB-IoT device 0001", resetAt)
	if err != nil {
		t.Fatal(err)
	}
	want := d
	want.Name = "NB-IoT device 0001"
	want.OwnerID, want.HomeID, want.TimeZone, want.BoundAt = "", "", "", time.Time{}
	wantEqual(t, "device returned by FactoryReset", got, want)
	stored, err := s.Device(t.Context(), d.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "device after FactoryReset", stored, want)
	if dls, err := s.Downlinks(t.Context(), d.ID); err != nil || len(dls) != 0 {
		t.Fatalf("downlinks after FactoryReset = %+v, %v; want none", dls, err)
	}
	slices.SortFunc(ended, func(a, b pairing.Activation) int { return strings.Compare(a.ID, b.ID) })
	var wantEnded []pairing.Activation
	for _, a := range waiting {
		a.Status, a.Reason, a.FinishedAt = pairing.ActivationFailed, pairing.FailFactoryReset, resetAt
		wantActivation(t, s, "a waiting activation after FactoryReset", a)
		wantEnded = append(wantEnded, activationInUTC(a))
	}
	wantEqual(t, "activations ended by FactoryReset", ended, wantEnded)
	wantActivation(t, s, "an activation stopped before FactoryReset", stopped)

	_, _, err = s.FactoryReset(t.Context(), "dev_unknown", "x", resetAt)
	wantErr(t, "FactoryReset of an unknown device", err, pairing.ErrNotFound)
}
