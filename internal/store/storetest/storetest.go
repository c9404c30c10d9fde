// Package storetest is the conformance suite every pairing.Store backend must
// pass. A backend's test calls Run with a function that opens a new, empty
// store; Run checks the contract written in the doc comments of
// pairing.Store, one named subtest per behaviour, each on its own store.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) pairing.Store {
//			s, err := mystore.Open(...)
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/nbpair/nbpair/internal/pairing"
	"github.com/nbpair/nbpair/internal/wire"
)

// test is one behaviour of the contract, checked on a fresh store.
type test struct {
	name string
	run  func(t *testing.T, s pairing.Store)
}

// Run runs the conformance suite. open is called once per subtest; it must
// return a new store that holds nothing but the default product, and close it
// when t ends (t.Cleanup). Subtests run one after another, so open may reuse
// one database that it empties each time.
func Run(t *testing.T, open func(t *testing.T) pairing.Store) {
	t.Helper()
	groups := []struct {
		name  string
		tests []test
	}{
		{"Products", productTests},
		{"Devices", deviceTests},
		{"Registrations", registrationTests},
		{"Downlinks", downlinkTests},
		{"Accounts", accountTests},
		{"Activations", activationTests},
		{"Binding", bindingTests},
		{"CancelledContext", []test{{"EveryMethod", cancelledContext}}},
		{"Concurrency", concurrencyTests},
		{"Batches", batchTests},
		{"Listings", listingTests},
		{"Lifecycle", lifecycleTests},
		{"DeviceAdmin", deviceAdminTests},
		{"Webhooks", webhookTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, open(t)) })
			}
		})
	}
}

// epoch is the time the fixtures start from. It has nanoseconds, so a store
// that rounds to micro- or milliseconds fails.
var epoch = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)

// at returns epoch plus d.
func at(d time.Duration) time.Time { return epoch.Add(d) }

// newDevice returns device number n (1 to 99999) of the default product.
// Devices sort by ID in the order of their numbers.
func newDevice(n int) pairing.Device {
	return pairing.Device{
		ID:        fmt.Sprintf("dev_%05d", n),
		ProductID: pairing.DefaultProductID,
		IMEI:      fmt.Sprintf("3569380359%05d", n),
		NbID:      fmt.Sprintf("%032x", n),
		Name:      fmt.Sprintf("NB-IoT device %d", n),
		CreatedAt: at(time.Duration(n) * time.Second),
	}
}

// createDevices creates the devices numbered ns and returns them in that
// order.
func createDevices(t *testing.T, s pairing.Store, ns ...int) []pairing.Device {
	t.Helper()
	out := make([]pairing.Device, len(ns))
	for i, n := range ns {
		out[i] = newDevice(n)
		if err := s.CreateDevice(t.Context(), out[i]); err != nil {
			t.Fatalf("CreateDevice(%s): %v", out[i].ID, err)
		}
	}
	return out
}

// newRegistration returns a registration of d with the given ID, made at
// registeredAt by a queue-mode LwM2M 1.1 device with a day's lifetime.
func newRegistration(d pairing.Device, id string, registeredAt time.Time) pairing.Registration {
	return pairing.Registration{
		ID: id, DeviceID: d.ID, Endpoint: d.Endpoint(),
		Lifetime: 86400, Version: "1.1", Binding: "U", QueueMode: true,
		Objects:      []string{"/1/0", "/3/0", "/33050/0"},
		Addr:         "198.51.100.7:56830",
		RegisteredAt: registeredAt, LastSeen: registeredAt,
		ExpiresAt: registeredAt.Add(86400 * time.Second),
	}
}

// register stores r and returns whether it was the device's first.
func register(t *testing.T, s pairing.Store, r pairing.Registration) bool {
	t.Helper()
	first, err := s.Register(t.Context(), r)
	if err != nil {
		t.Fatalf("Register(%s of %s): %v", r.ID, r.DeviceID, err)
	}
	return first
}

// newDownlink returns a pairing-state downlink for d made at createdAt.
func newDownlink(d pairing.Device, state wire.BindState, createdAt time.Time) pairing.Downlink {
	st := wire.PairingState{DeviceID: d.ID, State: state}
	if state == wire.BindBound {
		st.OwnerUID, st.HomeID, st.BoundAt = "u_owner", "h_home", createdAt
	}
	return pairing.Downlink{DeviceID: d.ID, Kind: pairing.DownlinkPairingState, Pairing: st, CreatedAt: createdAt}
}

// wantErr fails t unless errors.Is(err, target).
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error %v, want %v", what, err, target)
	}
}

// wantEqual fails t unless got and want are deeply equal. Times must be equal
// to the nanosecond and in UTC: want holds them in UTC (see inUTC).
func wantEqual[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// wantRegistration compares registrations, taking a nil and an empty Objects
// list as the same, and expecting every time in UTC.
func wantRegistration(t *testing.T, what string, got, want pairing.Registration) {
	t.Helper()
	want = inUTC(want)
	if len(got.Objects) == 0 && len(want.Objects) == 0 {
		got.Objects, want.Objects = nil, nil
	}
	wantEqual(t, what, got, want)
}

// inUTC returns r with its times in UTC, as a store returns them.
func inUTC(r pairing.Registration) pairing.Registration {
	r.RegisteredAt, r.LastSeen, r.ExpiresAt = r.RegisteredAt.UTC(), r.LastSeen.UTC(), r.ExpiresAt.UTC()
	return r
}

// ids returns the IDs of ds in order.
func ids(ds []pairing.Device) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}
