package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nbpair/nbpair/internal/pairing"
)

var deviceTests = []test{
	{"CreateAndGet", func(t *testing.T, s pairing.Store) {
		d := newDevice(1)
		d.CreatedAt = d.CreatedAt.In(time.FixedZone("UTC-5", -5*3600))
		if err := s.CreateDevice(t.Context(), d); err != nil {
			t.Fatal(err)
		}
		d.CreatedAt = d.CreatedAt.UTC()
		byID, err := s.Device(t.Context(), d.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "Device", byID, d)
		byIMEI, err := s.DeviceByIMEI(t.Context(), d.IMEI)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "DeviceByIMEI", byIMEI, d)
		if !byID.FirstRegisteredAt.IsZero() {
			t.Fatalf("FirstRegisteredAt of a device never registered = %v, want zero", byID.FirstRegisteredAt)
		}
	}},
	{"CreateOfOtherProduct", func(t *testing.T, s pairing.Store) {
		if err := s.CreateProduct(t.Context(), pairing.Product{ID: "meters", Name: "Meter", CreatedAt: epoch}); err != nil {
			t.Fatal(err)
		}
		d := newDevice(1)
		d.ProductID = "meters"
		if err := s.CreateDevice(t.Context(), d); err != nil {
			t.Fatal(err)
		}
		got, err := s.Device(t.Context(), d.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "Device", got, d)
	}},
	{"DuplicateIMEI", func(t *testing.T, s pairing.Store) {
		first := createDevices(t, s, 1)[0]
		dup := newDevice(2)
		dup.IMEI = first.IMEI
		wantErr(t, "CreateDevice with a provisioned IMEI", s.CreateDevice(t.Context(), dup), pairing.ErrDeviceExists)
		_, err := s.Device(t.Context(), dup.ID)
		wantErr(t, "Device of the rejected duplicate", err, pairing.ErrNotFound)
		got, err := s.DeviceByIMEI(t.Context(), first.IMEI)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "DeviceByIMEI after a rejected duplicate", got, first)
	}},
	{"GetUnknown", func(t *testing.T, s pairing.Store) {
		createDevices(t, s, 1)
		_, err := s.Device(t.Context(), "dev_unknown")
		wantErr(t, "Device of an unknown ID", err, pairing.ErrNotFound)
		_, err = s.DeviceByIMEI(t.Context(), "490154203237518")
		wantErr(t, "DeviceByIMEI of an unknown IMEI", err, pairing.ErrNotFound)
	}},
	{"List", listDevices},
	{"ListPages", func(t *testing.T, s pairing.Store) {
		all := createDevices(t, s, 7, 3, 5, 1, 6, 2, 4)
		slices.SortFunc(all, func(a, b pairing.Device) int { return strings.Compare(a.ID, b.ID) })
		var got []pairing.Device
		q := pairing.DeviceQuery{Limit: 3}
		for pages := 0; ; pages++ {
			if pages > len(all) {
				t.Fatalf("paging with Limit %d does not end; so far %q", q.Limit, ids(got))
			}
			page, err := s.Devices(t.Context(), q)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > q.Limit {
				t.Fatalf("page of %d devices, Limit %d", len(page), q.Limit)
			}
			if len(page) == 0 {
				break
			}
			got = append(got, page...)
			q.After = page[len(page)-1].ID
		}
		wantEqual(t, "devices paged through", got, all)
	}},
}

// listDevices checks Devices' filter and keyset paging on devices created
// out of order: odd numbers of product "meters", even of the default.
func listDevices(t *testing.T, s pairing.Store) {
	if err := s.CreateProduct(t.Context(), pairing.Product{ID: "meters", Name: "Meter", CreatedAt: epoch}); err != nil {
		t.Fatal(err)
	}
	byID := map[string]pairing.Device{}
	for _, n := range []int{4, 1, 6, 3, 5, 2} {
		d := newDevice(n)
		if n%2 == 1 {
			d.ProductID = "meters"
		}
		if err := s.CreateDevice(t.Context(), d); err != nil {
			t.Fatal(err)
		}
		byID[d.ID] = d
	}
	id := func(n int) string { return newDevice(n).ID }
	cases := []struct {
		name string
		q    pairing.DeviceQuery
		want []int
	}{
		{"All", pairing.DeviceQuery{Limit: 100}, []int{1, 2, 3, 4, 5, 6}},
		{"Product", pairing.DeviceQuery{ProductID: "meters", Limit: 100}, []int{1, 3, 5}},
		{"DefaultProduct", pairing.DeviceQuery{ProductID: pairing.DefaultProductID, Limit: 100}, []int{2, 4, 6}},
		{"UnknownProduct", pairing.DeviceQuery{ProductID: "nope", Limit: 100}, nil},
		{"Limit", pairing.DeviceQuery{Limit: 2}, []int{1, 2}},
		{"After", pairing.DeviceQuery{After: id(2), Limit: 100}, []int{3, 4, 5, 6}},
		{"AfterAndLimit", pairing.DeviceQuery{After: id(2), Limit: 2}, []int{3, 4}},
		{"ProductAfterAndLimit", pairing.DeviceQuery{ProductID: "meters", After: id(1), Limit: 1}, []int{3}},
		{"AfterDeviceOfOtherProduct", pairing.DeviceQuery{ProductID: "meters", After: id(4), Limit: 100}, []int{5}},
		{"AfterLast", pairing.DeviceQuery{After: id(6), Limit: 100}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Devices(t.Context(), tc.q)
			if err != nil {
				t.Fatal(err)
			}
			var want []pairing.Device
			for _, n := range tc.want {
				want = append(want, byID[id(n)])
			}
			if !slices.Equal(ids(got), ids(want)) {
				t.Fatalf("Devices(%+v) = %q, want %q", tc.q, ids(got), ids(want))
			}
			if len(want) > 0 {
				wantEqual(t, "listed devices", got, want)
			}
		})
	}
}
