package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nbpair/nbpair/internal/pairing"
)

// listingTests check the admin's device search and the listing by last
// seen, and a user's pending activations.
var listingTests = []test{
	{"DeviceSearch", deviceSearch},
	{"DevicesByLastSeen", devicesByLastSeen},
	{"PendingActivationsOfUser", pendingOfUser},
}

func deviceSearch(t *testing.T, s pairing.Store) {
	devs := createDevices(t, s, 1, 2, 3, 12)
	if err := s.RenameDevice(t.Context(), devs[1].ID, "Kitchen 100%_meter"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, search string
		want         []int
	}{
		{"Nothing", "", []int{1, 2, 3, 12}},
		{"WholeIMEI", newDevice(3).IMEI, []int{3}},
		{"IMEIPrefix", "35693803590001", []int{12}},
		{"IMEIMiddleIsNoMatch", "0359000", nil},
		{"WholeID", newDevice(12).ID, []int{12}},
		{"IDPrefixAnyCase", "DEV_0000", []int{1, 2, 3}},
		{"NamePart", "device 1", []int{1, 12}},
		{"NameAnyCase", "KITCHEN", []int{2}},
		{"PercentIsLiteral", "100%", []int{2}},
		{"UnderscoreIsLiteral", "%_m", []int{2}},
		{"PercentAloneIsLiteral", "%", []int{2}},
		{"BackslashIsLiteral", `\`, nil},
		{"NoMatch", "zzz", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, byLastSeen := range []bool{false, true} {
				got, err := s.Devices(t.Context(), pairing.DeviceQuery{Search: tc.search, ByLastSeen: byLastSeen, Limit: 100})
				if err != nil {
					t.Fatal(err)
				}
				var want []string
				for _, n := range tc.want {
					want = append(want, newDevice(n).ID)
				}
				if !slices.Equal(ids(got), want) {
					t.Errorf("Devices(Search %q, ByLastSeen %v) = %q, want %q", tc.search, byLastSeen, ids(got), want)
				}
			}
		})
	}
}

// devicesByLastSeen: the most recently seen first, then the devices
// without a registration by ID, paged through with AfterSeen.
func devicesByLastSeen(t *testing.T, s pairing.Store) {
	devs := createDevices(t, s, 1, 2, 3, 4, 5, 6)
	seen := map[int]time.Duration{2: 10, 4: 30, 5: 20, 6: 30} // 1 and 3 never registered
	for n, d := range seen {
		register(t, s, newRegistration(devs[n-1], fmt.Sprintf("r%d", n), at(d*time.Second)))
	}
	// Device 5 is seen again, latest of all.
	r := newRegistration(devs[4], "r5", at(20*time.Second))
	r.LastSeen = at(40 * time.Second)
	if err := s.UpdateRegistration(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	want := []string{newDevice(5).ID, newDevice(4).ID, newDevice(6).ID, newDevice(2).ID, newDevice(1).ID, newDevice(3).ID}
	all, err := s.Devices(t.Context(), pairing.DeviceQuery{ByLastSeen: true, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "devices by last seen", ids(all), want)

	lastSeen := func(id string) time.Time {
		r, err := s.RegistrationOfDevice(t.Context(), id)
		if err != nil {
			return time.Time{}
		}
		return r.LastSeen
	}
	for _, limit := range []int{1, 2, 4} {
		var got []string
		q := pairing.DeviceQuery{ByLastSeen: true, Limit: limit}
		for pages := 0; ; pages++ {
			if pages > len(want) {
				t.Fatalf("paging with Limit %d does not end; so far %q", limit, got)
			}
			page, err := s.Devices(t.Context(), q)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			got = append(got, ids(page)...)
			q.After = page[len(page)-1].ID
			q.AfterSeen = lastSeen(q.After)
		}
		wantEqual(t, fmt.Sprintf("devices by last seen in pages of %d", limit), got, want)
	}
}

func pendingOfUser(t *testing.T, s pairing.Store) {
	u, h, d := bindFixture(t, s, 1)
	other := createUser(t, s, 2)
	devs := createDevices(t, s, 3, 4, 5)
	createActivation(t, s, newActivation("act-b", u, h, d, at(2)))
	createActivation(t, s, newActivation("act-a", u, h, devs[0], at(1)))
	createActivation(t, s, newActivation("act-done", u, h, devs[1], at(3)))
	createActivation(t, s, newActivation("act-other-user", other, h, devs[2], at(1)))
	if _, err := s.FinishActivation(t.Context(), "act-done", pairing.ActivationPaired, "", at(4)); err != nil {
		t.Fatal(err)
	}
	pendingIDs := func(limit int) []string {
		got, err := s.PendingActivationsOfUser(t.Context(), u.ID, limit)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, a := range got {
			out = append(out, a.ID)
		}
		return out
	}
	wantEqual(t, "the user's pending activations", pendingIDs(10), []string{"act-a", "act-b"})
	wantEqual(t, "limited to 1", pendingIDs(1), []string{"act-a"})
	none, err := s.PendingActivationsOfUser(t.Context(), "u_unknown", 10)
	if err != nil || len(none) != 0 {
		t.Fatalf("pending activations of an unknown user: %v, %v", none, err)
	}
}
