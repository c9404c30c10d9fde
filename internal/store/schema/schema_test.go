package schema_test

import (
	"context"
	"errors"
	"testing"
	"testing/fstest"
	"time"

	"github.com/nbpair/nbpair/internal/store/schema"
)

func files(names ...string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for _, n := range names {
		fsys["m/"+n] = &fstest.MapFile{Data: []byte("-- " + n)}
	}
	return fsys
}

func TestKnownChecksNames(t *testing.T) {
	for _, tc := range []struct {
		names []string
		ok    bool
	}{
		{[]string{"0002_b.sql", "0001_a.sql", "0010_c.sql"}, true},
		{[]string{"0001_a.sql", "0001_b.sql"}, false}, // a number twice
		{[]string{"init.sql"}, false},                 // no number
		{[]string{"0000_zero.sql"}, false},
	} {
		got, err := schema.Known(files(tc.names...), "m")
		if (err == nil) != tc.ok {
			t.Errorf("Known(%q) = %v, %v; want ok %v", tc.names, got, err, tc.ok)
		}
		if tc.ok && (got[0].Name != "0001_a.sql" || got[1].Version != 2 || got[2].Version != 10) {
			t.Errorf("Known(%q) = %+v; want in order of version", tc.names, got)
		}
	}
}

// applier records what it applies and says "applied before" for the
// versions in had.
type applier struct {
	had       map[int]bool
	bodies    []string
	failAt    int
	appliedAt time.Time
}

func (a *applier) Apply(_ context.Context, m schema.Migration, body string) (time.Time, error) {
	if m.Version == a.failAt {
		return time.Time{}, errors.New("syntax error")
	}
	if a.had[m.Version] {
		return time.Time{}, nil
	}
	a.bodies = append(a.bodies, body)
	return a.appliedAt, nil
}

func TestUpAppliesPendingInOrderAndStopsAtAFailure(t *testing.T) {
	fsys := files("0001_a.sql", "0002_b.sql", "0003_c.sql", "0004_d.sql")
	at := time.Unix(1700000000, 0)
	a := &applier{had: map[int]bool{1: true}, failAt: 4, appliedAt: at}
	applied, err := schema.Up(t.Context(), fsys, "m", a)
	if err == nil || err.Error() != "migration 0004_d.sql: syntax error" {
		t.Errorf("Up error = %v; want the failing migration named", err)
	}
	if len(applied) != 2 || applied[0].Name != "0002_b.sql" || applied[1].Name != "0003_c.sql" || !applied[0].AppliedAt.Equal(at) {
		t.Errorf("Up applied %+v; want 0002 and 0003 with their time", applied)
	}
	if len(a.bodies) != 2 || a.bodies[0] != "-- 0002_b.sql" {
		t.Errorf("bodies given to Apply: %q", a.bodies)
	}
}

func TestStatusMergesAppliedAndNewer(t *testing.T) {
	known, err := schema.Known(files("0001_a.sql", "0002_b.sql"), "m")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1700000000, 0)
	got := schema.Status(known, []schema.Migration{{Version: 1, Name: "0001_a.sql", AppliedAt: at}, {Version: 7, Name: "0007_newer.sql", AppliedAt: at}})
	if len(got) != 3 || got[0].AppliedAt.IsZero() || !got[1].AppliedAt.IsZero() || got[2].Name != "0007_newer.sql" {
		t.Errorf("Status = %+v; want 0001 applied, 0002 pending, 0007 from a newer build", got)
	}
	if !known[0].AppliedAt.IsZero() {
		t.Error("Status changed its argument")
	}
}
