package storetest

import (
	"testing"
	"time"

	"github.com/nbpair/nbpair/internal/pairing"
)

var registrationTests = []test{
	{"RegisterFirst", func(t *testing.T, s pairing.Store) {
		d := createDevices(t, s, 1)[0]
		r := newRegistration(d, "reg1", at(time.Minute))
		if !register(t, s, r) {
			t.Fatal("Register of a device never registered returned first=false")
		}
		got, err := s.Registration(t.Context(), r.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantRegistration(t, "Registration", got, r)
		got, err = s.RegistrationOfDevice(t.Context(), d.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantRegistration(t, "RegistrationOfDevice", got, r)
		wantFirstRegisteredAt(t, s, d, r.RegisteredAt)
	}},
	{"RegisterReplaces", func(t *testing.T, s pairing.Store) {
		devs := createDevices(t, s, 1, 2)
		old := newRegistration(devs[0], "reg-old", at(time.Minute))
		other := newRegistration(devs[1], "reg-other", at(time.Minute))
		register(t, s, old)
		register(t, s, other)
		renewed := newRegistration(devs[0], "reg-new", at(time.Hour))
		renewed.Addr, renewed.Objects = "203.0.113.9:1024", []string{"/3/0"}
		if register(t, s, renewed) {
			t.Fatal("second Register of a device returned first=true")
		}
		_, err := s.Registration(t.Context(), old.ID)
		wantErr(t, "Registration of the replaced ID", err, pairing.ErrNotFound)
		got, err := s.RegistrationOfDevice(t.Context(), devs[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		wantRegistration(t, "RegistrationOfDevice after a second Register", got, renewed)
		got, err = s.Registration(t.Context(), other.ID)
		if err != nil {
			t.Fatalf("registration of another device: %v", err)
		}
		wantRegistration(t, "registration of another device", got, other)
		wantFirstRegisteredAt(t, s, devs[0], old.RegisteredAt)
	}},
	{"FirstOnlyOnceEver", func(t *testing.T, s pairing.Store) {
		d := createDevices(t, s, 1)[0]
		r := newRegistration(d, "reg1", at(time.Minute))
		register(t, s, r)
		if _, err := s.DeleteRegistration(t.Context(), r.ID); err != nil {
			t.Fatal(err)
		}
		if register(t, s, newRegistration(d, "reg2", at(time.Hour))) {
			t.Fatal("Register after a de-registration returned first=true")
		}
		wantFirstRegisteredAt(t, s, d, r.RegisteredAt)
	}},
	{"RoundTrip", registrationRoundTrip},
	{"UpdateKeepsContentFormat", func(t *testing.T, s pairing.Store) {
		d := createDevices(t, s, 1)[0]
		r := newRegistration(d, "reg1", at(time.Minute))
		r.ContentFormat = "110"
		register(t, s, r)
		u := r
		u.ContentFormat, u.LastSeen, u.Addr = "", r.LastSeen.Add(time.Second), "198.51.100.8:1"
		if err := s.UpdateRegistration(t.Context(), u); err != nil {
			t.Fatal(err)
		}
		got, err := s.Registration(t.Context(), r.ID)
		if err != nil {
			t.Fatal(err)
		}
		u.ContentFormat = "110" // what the Register announced stays
		wantRegistration(t, "Registration after an Update", got, u)
	}},
	{"GetUnknown", func(t *testing.T, s pairing.Store) {
		d := createDevices(t, s, 1)[0]
		_, err := s.Registration(t.Context(), "unknown")
		wantErr(t, "Registration of an unknown ID", err, pairing.ErrNotFound)
		_, err = s.RegistrationOfDevice(t.Context(), d.ID)
		wantErr(t, "RegistrationOfDevice of a device never registered", err, pairing.ErrNotFound)
		_, err = s.RegistrationOfDevice(t.Context(), "dev_unknown")
		wantErr(t, "RegistrationOfDevice of an unknown device", err, pairing.ErrNotFound)
	}},
	{"Update", func(t *testing.T, s pairing.Store) {
		d := createDevices(t, s, 1)[0]
		r := newRegistration(d, "reg1", at(time.Minute))
		register(t, s, r)
		r.Lifetime, r.Binding, r.QueueMode = 300, "UQ", false
		r.Objects = []string{"/3/0", "/33050/0", "/5"}
		r.Addr = "[2001:db8::7]:40001"
		r.LastSeen = at(time.Hour + 1)
		r.ExpiresAt = r.LastSeen.Add(300 * time.Second)
		if err := s.UpdateRegistration(t.Context(), r); err != nil {
			t.Fatal(err)
		}
		got, err := s.Registration(t.Context(), r.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantRegistration(t, "Registration after UpdateRegistration", got, r)
		got, err = s.RegistrationOfDevice(t.Context(), d.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantRegistration(t, "RegistrationOfDevice after UpdateRegistration", got, r)
	}},
	{"UpdateUnknown", func(t *testing.T, s pairing.Store) {
		d := createDevices(t, s, 1)[0]
		err := s.UpdateRegistration(t.Context(), newRegistration(d, "unknown", epoch))
		wantErr(t, "UpdateRegistration of an unknown ID", err, pairing.ErrNotFound)
	}},
	{"UpdateReplaced", func(t *testing.T, s pairing.Store) {
		d := createDevices(t, s, 1)[0]
		old := newRegistration(d, "reg-old", at(time.Minute))
		register(t, s, old)
		renewed := newRegistration(d, "reg-new", at(time.Hour))
		register(t, s, renewed)
		old.Addr, old.LastSeen = "192.0.2.1:1", at(2*time.Hour)
		wantErr(t, "UpdateRegistration of a replaced ID", s.UpdateRegistration(t.Context(), old), pairing.ErrNotFound)
		got, err := s.RegistrationOfDevice(t.Context(), d.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantRegistration(t, "RegistrationOfDevice after updating a replaced ID", got, renewed)
	}},
	{"Delete", func(t *testing.T, s pairing.Store) {
		d := createDevices(t, s, 1)[0]
		r := newRegistration(d, "reg1", at(time.Minute))
		register(t, s, r)
		got, err := s.DeleteRegistration(t.Context(), r.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantRegistration(t, "DeleteRegistration", got, r)
		_, err = s.Registration(t.Context(), r.ID)
		wantErr(t, "Registration after DeleteRegistration", err, pairing.ErrNotFound)
		_, err = s.RegistrationOfDevice(t.Context(), d.ID)
		wantErr(t, "RegistrationOfDevice after DeleteRegistration", err, pairing.ErrNotFound)
		_, err = s.DeleteRegistration(t.Context(), r.ID)
		wantErr(t, "second DeleteRegistration", err, pairing.ErrNotFound)
		wantFirstRegisteredAt(t, s, d, r.RegisteredAt)
	}},
	{"DeleteExpired", deleteExpired},
	{"DeleteExpiredLimit", deleteExpiredLimit},
}

// wantFirstRegisteredAt fails t unless d's FirstRegisteredAt is want, as
// read by ID, by IMEI and in a list.
func wantFirstRegisteredAt(t *testing.T, s pairing.Store, d pairing.Device, want time.Time) {
	t.Helper()
	want = want.UTC()
	byID, err := s.Device(t.Context(), d.ID)
	if err != nil {
		t.Fatal(err)
	}
	byIMEI, err := s.DeviceByIMEI(t.Context(), d.IMEI)
	if err != nil {
		t.Fatal(err)
	}
	listed, err := s.Devices(t.Context(), pairing.DeviceQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	d.FirstRegisteredAt = want
	wantEqual(t, "Device", byID, d)
	wantEqual(t, "DeviceByIMEI", byIMEI, d)
	for _, l := range listed {
		if l.ID == d.ID {
			wantEqual(t, "listed device", l, d)
			return
		}
	}
	t.Fatalf("device %s not listed", d.ID)
}

// registrationRoundTrip stores registrations that differ in every field and
// reads each back unchanged.
func registrationRoundTrip(t *testing.T, s pairing.Store) {
	plus8 := time.FixedZone("UTC+8", 8*3600)
	cases := []struct {
		name   string
		mutate func(r *pairing.Registration)
	}{
		{"QueueMode", func(r *pairing.Registration) {}},
		{"NoQueueMode", func(r *pairing.Registration) {
			r.QueueMode, r.Binding, r.Version, r.Lifetime = false, "U", "1.0", 300
		}},
		{"NoObjects", func(r *pairing.Registration) { r.Objects = nil }},
		{"ManyObjects", func(r *pairing.Registration) {
			r.Objects = []string{"/0/0", "/1/0", "/3/0", "/4/0", "/5/0", "/3303/0", "/3303/1", "/33050/0", "/10"}
		}},
		{"IPv6Addr", func(r *pairing.Registration) { r.Addr = "[2001:db8:85a3::8a2e:370:7334]:5683" }},
		{"ContentFormat", func(r *pairing.Registration) { r.ContentFormat = "110" }},
		{"ContentFormats", func(r *pairing.Registration) { r.ContentFormat = "112 110 11542" }},
		{"TimesNotUTC", func(r *pairing.Registration) {
			r.RegisteredAt = r.RegisteredAt.In(plus8)
			r.LastSeen = r.RegisteredAt.Add(1).In(plus8)
			r.ExpiresAt = r.RegisteredAt.Add(time.Hour + 999).In(plus8)
		}},
		{"DistinctTimes", func(r *pairing.Registration) {
			r.LastSeen = r.RegisteredAt.Add(123456789 * time.Nanosecond)
			r.ExpiresAt = r.RegisteredAt.Add(31 * 24 * time.Hour)
			r.Lifetime = 31 * 24 * 3600
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := createDevices(t, s, i+1)[0]
			r := newRegistration(d, "reg-"+tc.name, at(time.Duration(i)*time.Minute+time.Duration(i)))
			tc.mutate(&r)
			register(t, s, r)
			got, err := s.Registration(t.Context(), r.ID)
			if err != nil {
				t.Fatal(err)
			}
			wantRegistration(t, "Registration", got, r)
			got, err = s.RegistrationOfDevice(t.Context(), d.ID)
			if err != nil {
				t.Fatal(err)
			}
			wantRegistration(t, "RegistrationOfDevice", got, r)
		})
	}
}

// registerExpiring registers one device per expiry time and returns the
// registrations by ID.
func registerExpiring(t *testing.T, s pairing.Store, expiries ...time.Time) map[string]pairing.Registration {
	t.Helper()
	out := map[string]pairing.Registration{}
	for i, exp := range expiries {
		d := createDevices(t, s, i+1)[0]
		r := newRegistration(d, d.ID+"-reg", exp.Add(-time.Hour))
		r.ExpiresAt = exp
		register(t, s, r)
		out[r.ID] = r
	}
	return out
}

func deleteExpired(t *testing.T, s pairing.Store) {
	now := at(24 * time.Hour)
	regs := registerExpiring(t, s, now.Add(-time.Hour), now.Add(-1), now, now.Add(1), now.Add(time.Hour))
	deleted, err := s.DeleteExpired(t.Context(), now, 100)
	if err != nil {
		t.Fatal(err)
	}
	gone := map[string]bool{}
	for _, r := range deleted {
		want, ok := regs[r.ID]
		if !ok || gone[r.ID] {
			t.Fatalf("DeleteExpired returned unknown or repeated registration %+v", r)
		}
		wantRegistration(t, "registration returned by DeleteExpired", r, want)
		gone[r.ID] = true
	}
	for id, r := range regs {
		expired := !r.ExpiresAt.After(now)
		if gone[id] != expired {
			t.Fatalf("registration expiring %v after now: deleted=%v, want %v", r.ExpiresAt.Sub(now), gone[id], expired)
		}
		_, err := s.Registration(t.Context(), id)
		if expired {
			wantErr(t, "Registration of an expired ID", err, pairing.ErrNotFound)
		} else if err != nil {
			t.Fatalf("registration expiring %v after now: %v", r.ExpiresAt.Sub(now), err)
		}
	}
	again, err := s.DeleteExpired(t.Context(), now, 100)
	if err != nil || len(again) != 0 {
		t.Fatalf("second DeleteExpired = %d registrations, %v; want none", len(again), err)
	}
}

func deleteExpiredLimit(t *testing.T, s pairing.Store) {
	now := at(24 * time.Hour)
	regs := registerExpiring(t, s, now.Add(-5), now.Add(-4), now.Add(-3), now.Add(-2), now.Add(-1), now.Add(time.Hour))
	seen := map[string]bool{}
	for _, want := range []int{2, 2, 1, 0} {
		got, err := s.DeleteExpired(t.Context(), now, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != want {
			t.Fatalf("DeleteExpired with limit 2 and %d expired left = %d registrations, want %d",
				5-len(seen), len(got), want)
		}
		for _, r := range got {
			if want, ok := regs[r.ID]; !ok || seen[r.ID] || want.ExpiresAt.After(now) {
				t.Fatalf("DeleteExpired returned %s again or unexpired", r.ID)
			}
			seen[r.ID] = true
		}
	}
	live := newDevice(6).ID + "-reg"
	if _, err := s.Registration(t.Context(), live); err != nil {
		t.Fatalf("unexpired registration: %v", err)
	}
}
