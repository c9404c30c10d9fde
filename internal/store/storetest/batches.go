package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nbpair/nbpair/internal/pairing"
)

// newBatch returns batch number n of the default product, made at
// epoch + n hours, with counts taken from entries.
func newBatch(n int, entries []pairing.BatchEntry) pairing.Batch {
	b := pairing.Batch{ID: fmt.Sprintf("bat_%05d", n), ProductID: pairing.DefaultProductID,
		CreatedAt: at(time.Duration(n) * time.Hour), Devices: len(entries)}
	for _, e := range entries {
		if e.New {
			b.Created++
		}
	}
	b.Existing = b.Devices - b.Created
	return b
}

// newEntry returns device n as a batch entry with a sealed PSK of its own
// and the serial, new or existing.
func newEntry(n int, serial string, isNew bool) pairing.BatchEntry {
	d := newDevice(n)
	d.SealedPSK = []byte(fmt.Sprintf("sealed psk of device %d", n))
	return pairing.BatchEntry{BatchDevice: pairing.BatchDevice{Device: d, Serial: serial}, New: isNew}
}

// batchDevices is what BatchDevices should return for entries.
func batchDevices(entries []pairing.BatchEntry) []pairing.BatchDevice {
	out := make([]pairing.BatchDevice, len(entries))
	for i, e := range entries {
		out[i] = e.BatchDevice
	}
	return out
}

func createBatch(t *testing.T, s pairing.Store, b pairing.Batch, entries []pairing.BatchEntry) {
	t.Helper()
	if err := s.CreateBatch(t.Context(), b, entries); err != nil {
		t.Fatalf("CreateBatch(%s): %v", b.ID, err)
	}
}

func wantBatchDevices(t *testing.T, s pairing.Store, id string, want []pairing.BatchDevice) {
	t.Helper()
	got, err := s.BatchDevices(t.Context(), id)
	if err != nil {
		t.Fatalf("BatchDevices(%s): %v", id, err)
	}
	wantEqual(t, "BatchDevices("+id+")", got, want)
}

// wantNoBatch checks that a failed CreateBatch left nothing: no batch, and
// none of its new devices.
func wantNoBatch(t *testing.T, s pairing.Store, b pairing.Batch, entries []pairing.BatchEntry) {
	t.Helper()
	_, err := s.Batch(t.Context(), b.ID)
	wantErr(t, "Batch after a failed CreateBatch", err, pairing.ErrNotFound)
	for _, e := range entries {
		if _, err := s.Device(t.Context(), e.ID); e.New && err == nil {
			t.Fatalf("device %s of a failed CreateBatch exists", e.ID)
		}
	}
}

var batchTests = []test{
	{"CreateAndGet", func(t *testing.T, s pairing.Store) {
		entries := []pairing.BatchEntry{newEntry(3, "SN-3", true), newEntry(1, "", true), newEntry(2, "Zähler №2", true)}
		b := newBatch(1, entries)
		b.CreatedAt = b.CreatedAt.In(time.FixedZone("UTC-5", -5*3600))
		createBatch(t, s, b, entries)
		b.CreatedAt = b.CreatedAt.UTC()
		got, err := s.Batch(t.Context(), b.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "Batch", got, b)
		wantBatchDevices(t, s, b.ID, batchDevices(entries))
		d, err := s.DeviceByIMEI(t.Context(), entries[0].IMEI)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "DeviceByIMEI of a batch's new device", d, entries[0].Device)
	}},
	{"ExistingDevices", func(t *testing.T, s pairing.Store) {
		createDevices(t, s, 1, 2)
		first := []pairing.BatchEntry{newEntry(3, "SN-3", true), newEntry(2, "SN-2", true)}
		first[1].New = false
		first[1].SealedPSK = nil // as createDevices stored it
		createBatch(t, s, newBatch(1, first), first)
		// Device 2 has its serial now; device 1 gets none from an empty one.
		second := []pairing.BatchEntry{newEntry(1, "", false), newEntry(2, "SN-other", false), newEntry(3, "SN-3", false), newEntry(4, "", true)}
		for i := range 2 {
			second[i].SealedPSK = nil
		}
		createBatch(t, s, newBatch(2, second), second)
		want := batchDevices(second)
		want[1].Serial = "SN-2" // kept: only a device without a serial gets one
		wantBatchDevices(t, s, newBatch(2, nil).ID, want)
		wantBatchDevices(t, s, newBatch(1, nil).ID, []pairing.BatchDevice{want[2], want[1]})
	}},
	{"DuplicateID", func(t *testing.T, s pairing.Store) {
		entries := []pairing.BatchEntry{newEntry(1, "", true)}
		b := newBatch(1, entries)
		createBatch(t, s, b, entries)
		again := []pairing.BatchEntry{newEntry(2, "", true)}
		dup := newBatch(1, again)
		dup.CreatedAt = at(99 * time.Hour)
		wantErr(t, "CreateBatch of a taken ID", s.CreateBatch(t.Context(), dup, again), pairing.ErrBatchExists)
		if _, err := s.Device(t.Context(), again[0].ID); err == nil {
			t.Fatal("the refused batch created its device")
		}
		got, err := s.Batch(t.Context(), b.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "Batch after a refused duplicate", got, b)
		wantBatchDevices(t, s, b.ID, batchDevices(entries))
	}},
	{"AllOrNothing", func(t *testing.T, s pairing.Store) {
		taken := createDevices(t, s, 9)[0]
		entries := []pairing.BatchEntry{newEntry(1, "A", true), newEntry(2, "B", true), newEntry(3, "C", true)}
		entries[2].IMEI = taken.IMEI
		b := newBatch(1, entries)
		wantErr(t, "CreateBatch with a taken IMEI", s.CreateBatch(t.Context(), b, entries), pairing.ErrDeviceExists)
		wantNoBatch(t, s, b, entries)
	}},
	{"UnknownProduct", func(t *testing.T, s pairing.Store) {
		entries := []pairing.BatchEntry{newEntry(1, "", true)}
		b := newBatch(1, entries)
		b.ProductID = "no-such-product"
		wantErr(t, "CreateBatch of an unknown product", s.CreateBatch(t.Context(), b, entries), pairing.ErrProductNotExists)
		wantNoBatch(t, s, b, entries)
		entries[0].ProductID = "no-such-product"
		b = newBatch(1, entries)
		wantErr(t, "CreateBatch of a device of an unknown product", s.CreateBatch(t.Context(), b, entries), pairing.ErrProductNotExists)
		wantNoBatch(t, s, b, entries)
	}},
	{"ExistingDeviceUnknown", func(t *testing.T, s pairing.Store) {
		entries := []pairing.BatchEntry{newEntry(1, "", true), newEntry(2, "", false)}
		b := newBatch(1, entries)
		wantErr(t, "CreateBatch naming a device that does not exist", s.CreateBatch(t.Context(), b, entries), pairing.ErrNotFound)
		wantNoBatch(t, s, b, entries)
	}},
	{"GetUnknown", func(t *testing.T, s pairing.Store) {
		_, err := s.Batch(t.Context(), "bat_unknown")
		wantErr(t, "Batch of an unknown ID", err, pairing.ErrNotFound)
		_, err = s.BatchDevices(t.Context(), "bat_unknown")
		wantErr(t, "BatchDevices of an unknown ID", err, pairing.ErrNotFound)
	}},
	{"ListNewestFirst", func(t *testing.T, s pairing.Store) {
		list, err := s.Batches(t.Context())
		if err != nil || len(list) != 0 {
			t.Fatalf("Batches of a new store: %v, %v", list, err)
		}
		var want []pairing.Batch
		for _, n := range []int{2, 3, 1} {
			entries := []pairing.BatchEntry{newEntry(n, "", true)}
			b := newBatch(n, entries)
			createBatch(t, s, b, entries)
			want = append(want, b)
		}
		slices.SortFunc(want, func(a, b pairing.Batch) int { return b.CreatedAt.Compare(a.CreatedAt) })
		list, err = s.Batches(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "Batches", list, want)
	}},
	{"DevicesWithIMEIs", devicesWithIMEIs},
	{"LargeBatch", func(t *testing.T, s pairing.Store) {
		entries := make([]pairing.BatchEntry, 2000)
		for i := range entries {
			entries[i] = newEntry(len(entries)-i, fmt.Sprintf("SN-%d", i), true)
		}
		b := newBatch(1, entries)
		createBatch(t, s, b, entries)
		wantBatchDevices(t, s, b.ID, batchDevices(entries))
	}},
	{"CancelledContext", func(t *testing.T, s pairing.Store) {
		entries := []pairing.BatchEntry{newEntry(1, "", true)}
		b := newBatch(1, entries)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := s.CreateBatch(ctx, b, entries); err == nil {
			t.Fatal("CreateBatch with a cancelled context returned no error")
		}
		wantNoBatch(t, s, b, entries)
		createBatch(t, s, b, entries)
		reads := map[string]func() error{
			"Batch":            func() error { _, err := s.Batch(ctx, b.ID); return err },
			"Batches":          func() error { _, err := s.Batches(ctx); return err },
			"BatchDevices":     func() error { _, err := s.BatchDevices(ctx, b.ID); return err },
			"DevicesWithIMEIs": func() error { _, err := s.DevicesWithIMEIs(ctx, []string{entries[0].IMEI}); return err },
		}
		for name, read := range reads {
			if read() == nil {
				t.Errorf("%s with a cancelled context returned no error", name)
			}
		}
	}},
}

// devicesWithIMEIs looks up known and unknown IMEIs, with and without
// serials, in one call.
func devicesWithIMEIs(t *testing.T, s pairing.Store) {
	plain := createDevices(t, s, 1)[0]
	entries := []pairing.BatchEntry{newEntry(2, "SN-2", true), newEntry(3, "", true)}
	createBatch(t, s, newBatch(1, entries), entries)
	want := []pairing.BatchDevice{{Device: plain}, entries[0].BatchDevice, entries[1].BatchDevice}
	got, err := s.DevicesWithIMEIs(t.Context(), []string{entries[1].IMEI, "490154203237518", plain.IMEI, entries[0].IMEI})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(got, func(a, b pairing.BatchDevice) int { return strings.Compare(a.ID, b.ID) })
	wantEqual(t, "DevicesWithIMEIs", got, want)
	for _, imeis := range [][]string{nil, {}, {"490154203237518"}} {
		got, err := s.DevicesWithIMEIs(t.Context(), imeis)
		if err != nil || len(got) != 0 {
			t.Fatalf("DevicesWithIMEIs(%q) = %v, %v; want none", imeis, got, err)
		}
	}
}
