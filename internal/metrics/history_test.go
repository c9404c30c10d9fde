package metrics

import (
	"context"
	"testing"
	"time"
	"unsafe"
)

// The ring of closed minutes has the size HistoryBytes says, and it is
// all the memory the history keeps, however long the node runs.
func TestHistoryBytes(t *testing.T) {
	if got := unsafe.Sizeof(Minute{}); got != minuteBytes {
		t.Fatalf("a Minute is %d bytes, minuteBytes says %d", got, minuteBytes)
	}
	var h History
	if got := unsafe.Sizeof(h.ring); got != HistoryBytes {
		t.Fatalf("the ring is %d bytes, HistoryBytes says %d", got, HistoryBytes)
	}
	if HistoryBytes != 92160 {
		t.Errorf("HistoryBytes is %d; docs/web.md says 92,160", HistoryBytes)
	}
	m := New()
	clock := time.Unix(1_700_000_000, 0)
	hist := m.NewHistory(time.Second)
	hist.now = func() time.Time { return clock }
	for range HistoryMinutes + 30 {
		m.Registered()
		hist.Sample()
		clock = clock.Add(time.Minute)
	}
	closed, _ := hist.Snapshot()
	if len(closed) != HistoryMinutes {
		t.Fatalf("%d minutes kept after a day and half an hour, want %d", len(closed), HistoryMinutes)
	}
	for i := 1; i < len(closed); i++ {
		if closed[i].Start != closed[i-1].Start+60 {
			t.Fatalf("minute %d starts at %d, the one before at %d", i, closed[i].Start, closed[i-1].Start)
		}
	}
}

// Each series is what its counter grew by in the minute, read from the
// registry; the minute in progress is up to date after each sample.
func TestHistorySeries(t *testing.T) {
	m := New()
	m.CountOnline(func(context.Context) (int, error) { return 7, nil })
	clock := time.Unix(1_700_000_000, 0).Truncate(time.Minute)
	h := m.NewHistory(time.Second)
	h.now = func() time.Time { return clock }
	m.Registered() // before the first sample: not counted
	h.Sample()

	for range 3 {
		m.Registered()
	}
	m.Updated()
	m.HTTPRequest("POST /v1/activations", 202)
	m.HTTPRequest("POST /v1/activations", 202)
	m.HTTPRequest("POST /v1/activations", 409) // refused: not started
	m.ActivationEnded("paired", time.Second)
	m.ActivationEnded("timeout", 2*time.Minute)
	m.ActivationEnded("something-new", time.Second)
	m.Downlink("queued")
	m.Downlink("sent")
	m.Downlink("failed")
	clock = clock.Add(30 * time.Second)
	h.Sample()
	_, cur := h.Latest()
	want := map[int]uint32{SeriesOnline: 7, SeriesRegisters: 3, SeriesUpdates: 1, SeriesStarted: 2, SeriesPaired: 1,
		SeriesTimeout: 1, SeriesOtherFailure: 1, SeriesQueued: 1, SeriesDelivered: 1}
	for i := range NumSeries {
		if cur.Values[i] != want[i] {
			t.Errorf("%s: %d in the minute in progress, want %d", SeriesNames[i], cur.Values[i], want[i])
		}
	}

	// The next minute: the first closes with what it counted; the new one
	// counts only its own.
	clock = clock.Add(45 * time.Second)
	m.Registered()
	h.Sample()
	last, cur := h.Latest()
	if last.Values[SeriesRegisters] != 3 || last.Start != clock.Truncate(time.Minute).Unix()-60 {
		t.Errorf("closed minute: %d Registers from %d, want 3 from %d", last.Values[SeriesRegisters], last.Start, clock.Truncate(time.Minute).Unix()-60)
	}
	if cur.Values[SeriesRegisters] != 1 || cur.Values[SeriesOnline] != 7 {
		t.Errorf("minute in progress: %d Registers, %d online; want 1 and 7", cur.Values[SeriesRegisters], cur.Values[SeriesOnline])
	}
}

// A watcher hears of each sample; one that does not read is not waited
// for, a watch ended is forgotten, and there are at most so many.
func TestHistoryWatch(t *testing.T) {
	h := New().NewHistory(time.Second)
	ch, stop, ok := h.Watch(2)
	if !ok {
		t.Fatal("the first watch was refused")
	}
	_, stop2, ok := h.Watch(2)
	if !ok {
		t.Fatal("the second of two watches was refused")
	}
	if _, _, ok := h.Watch(2); ok {
		t.Fatal("a third of two watches was allowed")
	}
	stop2()
	h.Sample()
	h.Sample() // not read: does not block
	select {
	case <-ch:
	default:
		t.Fatal("no notice after a sample")
	}
	stop()
	if len(h.watchers) != 0 {
		t.Fatalf("%d watchers after the watch ended", len(h.watchers))
	}
}
