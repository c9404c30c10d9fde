package storetest

import (
	"testing"
	"time"

	"github.com/nbpair/nbpair/internal/pairing"
	"github.com/nbpair/nbpair/internal/wire"
)

// otherKind is a downlink kind besides the pairing state; the store must
// keep kinds apart without knowing them.
const otherKind pairing.DownlinkKind = "storetest-other"

var downlinkTests = []test{
	{"PutAndList", func(t *testing.T, s pairing.Store) {
		d := createDevices(t, s, 1)[0]
		dl := newDownlink(d, wire.BindBound, at(time.Minute))
		dl.CreatedAt = dl.CreatedAt.In(time.FixedZone("UTC+8", 8*3600))
		putDownlink(t, s, dl)
		dl.CreatedAt = dl.CreatedAt.UTC()
		wantDownlinks(t, s, d, dl)
	}},
	{"NoneQueued", func(t *testing.T, s pairing.Store) {
		devs := createDevices(t, s, 1, 2)
		putDownlink(t, s, newDownlink(devs[1], wire.BindUnbound, epoch))
		wantDownlinks(t, s, devs[0])
	}},
	{"RequeueKeepsNewer", func(t *testing.T, s pairing.Store) {
		d := createDevices(t, s, 1)[0]
		requeue := func(dl pairing.Downlink) {
			t.Helper()
			if err := s.RequeueDownlink(t.Context(), dl); err != nil {
				t.Fatalf("RequeueDownlink: %v", err)
			}
		}
		first := newDownlink(d, wire.BindUnbound, at(2))
		requeue(first) // none queued: queued
		wantDownlinks(t, s, d, first)
		newer := newDownlink(d, wire.BindBound, at(3))
		requeue(newer) // replaces an older one
		wantDownlinks(t, s, d, newer)
		requeue(newDownlink(d, wire.BindUnbound, at(1))) // older than the queued one: nothing changes
		wantDownlinks(t, s, d, newer)
		err := s.RequeueDownlink(t.Context(), newDownlink(pairing.Device{ID: "dev_unknown"}, wire.BindUnbound, at(1)))
		wantErr(t, "RequeueDownlink for an unknown device", err, pairing.ErrNotFound)
	}},
	{"CoalescePerDeviceAndKind", func(t *testing.T, s pairing.Store) {
		devs := createDevices(t, s, 1, 2)
		putDownlink(t, s, newDownlink(devs[0], wire.BindUnbound, at(1)))
		other := newDownlink(devs[1], wire.BindUnbound, at(2))
		putDownlink(t, s, other)
		otherKindDl := newDownlink(devs[0], wire.BindUnbound, at(3))
		otherKindDl.Kind = otherKind
		putDownlink(t, s, otherKindDl)
		newest := newDownlink(devs[0], wire.BindBound, at(4))
		putDownlink(t, s, newest)
		wantDownlinks(t, s, devs[0], otherKindDl, newest)
		wantDownlinks(t, s, devs[1], other)
	}},
	{"CreatedOrder", func(t *testing.T, s pairing.Store) {
		d := createDevices(t, s, 1)[0]
		var dls []pairing.Downlink
		for _, c := range []struct {
			kind pairing.DownlinkKind
			at   time.Duration
		}{{"c-third", 3}, {"a-first", 1}, {"b-second", 2}} {
			dl := newDownlink(d, wire.BindUnbound, at(c.at))
			dl.Kind = c.kind
			putDownlink(t, s, dl)
			dls = append(dls, dl)
		}
		wantDownlinks(t, s, d, dls[1], dls[2], dls[0])
	}},
	{"Delete", deleteDownlink},
	{"DeleteRaceGuard", func(t *testing.T, s pairing.Store) {
		d := createDevices(t, s, 1)[0]
		putDownlink(t, s, newDownlink(d, wire.BindUnbound, at(time.Second)))
		sending := listDownlinks(t, s, d)[0] // a delivery reads the queue ...
		newer := newDownlink(d, wire.BindBound, at(2*time.Second))
		putDownlink(t, s, newer) // ... the user binds meanwhile ...
		if err := s.DeleteDownlink(t.Context(), d.ID, sending.Kind, sending.CreatedAt); err != nil {
			t.Fatal(err) // ... and the delivery, done, removes what it sent
		}
		wantDownlinks(t, s, d, newer)
	}},
	{"DeleteLeavesOthers", func(t *testing.T, s pairing.Store) {
		devs := createDevices(t, s, 1, 2)
		dl := newDownlink(devs[0], wire.BindUnbound, at(1))
		other := newDownlink(devs[1], wire.BindUnbound, at(1))
		otherKindDl := newDownlink(devs[0], wire.BindUnbound, at(1))
		otherKindDl.Kind = otherKind
		for _, x := range []pairing.Downlink{dl, other, otherKindDl} {
			putDownlink(t, s, x)
		}
		if err := s.DeleteDownlink(t.Context(), dl.DeviceID, dl.Kind, dl.CreatedAt); err != nil {
			t.Fatal(err)
		}
		wantDownlinks(t, s, devs[0], otherKindDl)
		wantDownlinks(t, s, devs[1], other)
	}},
	{"DeleteNothingQueued", func(t *testing.T, s pairing.Store) {
		d := createDevices(t, s, 1)[0]
		if err := s.DeleteDownlink(t.Context(), d.ID, pairing.DownlinkPairingState, epoch); err != nil {
			t.Fatalf("DeleteDownlink with nothing queued: %v, want no error (delivery may race a coalescing put)", err)
		}
	}},
}

// deleteDownlink checks that DeleteDownlink removes the queued downlink only
// when it was created at or before the given time.
func deleteDownlink(t *testing.T, s pairing.Store) {
	cases := []struct {
		name    string
		offset  time.Duration // of the createdAt passed, from the queued one's
		deleted bool
	}{
		{"Older", -time.Nanosecond, false},
		{"MuchOlder", -time.Hour, false},
		{"Same", 0, true},
		{"Newer", time.Nanosecond, true},
		{"MuchNewer", time.Hour, true},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := createDevices(t, s, i+1)[0]
			dl := newDownlink(d, wire.BindBound, at(time.Minute))
			putDownlink(t, s, dl)
			if err := s.DeleteDownlink(t.Context(), d.ID, dl.Kind, dl.CreatedAt.Add(tc.offset)); err != nil {
				t.Fatal(err)
			}
			if tc.deleted {
				wantDownlinks(t, s, d)
			} else {
				wantDownlinks(t, s, d, dl)
			}
		})
	}
}

func putDownlink(t *testing.T, s pairing.Store, d pairing.Downlink) {
	t.Helper()
	if err := s.PutDownlink(t.Context(), d); err != nil {
		t.Fatalf("PutDownlink(%s %s): %v", d.DeviceID, d.Kind, err)
	}
}

func listDownlinks(t *testing.T, s pairing.Store, d pairing.Device) []pairing.Downlink {
	t.Helper()
	got, err := s.Downlinks(t.Context(), d.ID)
	if err != nil {
		t.Fatalf("Downlinks(%s): %v", d.ID, err)
	}
	return got
}

// wantDownlinks fails t unless d's queue is exactly want, in that order.
func wantDownlinks(t *testing.T, s pairing.Store, d pairing.Device, want ...pairing.Downlink) {
	t.Helper()
	got := listDownlinks(t, s, d)
	if len(got) == 0 && len(want) == 0 {
		return
	}
	wantEqual(t, "Downlinks("+d.ID+")", got, want)
}
