package natsbus

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/nbpair/nbpair/internal/events/bustest"
	"github.com/nbpair/nbpair/internal/pairing"
)

// natsURL returns the test server's URL, skipping the test when it cannot
// be reached (failing it in CI, where NATS must be there).
func natsURL(t *testing.T) string {
	t.Helper()
	url := os.Getenv("NBPAIR_TEST_NATS_URL")
	if url == "" {
		url = nats.DefaultURL
	}
	nc, err := nats.Connect(url, nats.Timeout(2*time.Second))
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("NATS at %s (NBPAIR_TEST_NATS_URL) cannot be reached: %v", url, err)
		}
		t.Skipf("NATS at %s cannot be reached (set NBPAIR_TEST_NATS_URL to run these tests): %v", url, err)
	}
	nc.Close()
	return url
}

// testOptions returns options on a stream of the test's own, deleted when
// the test ends.
func testOptions(t *testing.T, url string) Options {
	t.Helper()
	opts := Options{
		Prefix:     "nbpairtest_" + strings.ToLower(nuid.Next()),
		Shards:     4,
		RetryDelay: 10 * time.Millisecond,
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if testing.Verbose() {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	stream := strings.ToUpper(opts.Prefix) + "_EVENTS"
	t.Cleanup(func() {
		nc, err := nats.Connect(url)
		if err != nil {
			t.Errorf("deleting stream %s: %v", stream, err)
			return
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := js.DeleteStream(ctx, stream); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Errorf("deleting stream %s: %v", stream, err)
		}
	})
	return opts
}

// newNode starts a bus closed when the test ends (a second Close is a no-op).
func newNode(t *testing.T, url string, opts Options) *Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := New(ctx, url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	return b
}

func TestConformanceTwoNodes(t *testing.T) {
	url := natsURL(t)
	bustest.Run(t, func(t *testing.T) []bustest.Node {
		opts := testOptions(t, url)
		return []bustest.Node{newNode(t, url, opts), newNode(t, url, opts)}
	})
}

func TestConformanceOneNode(t *testing.T) {
	url := natsURL(t)
	bustest.Run(t, func(t *testing.T) []bustest.Node {
		return []bustest.Node{newNode(t, url, testOptions(t, url))}
	})
}

// An event published survives its node closing and is handled by the next.
func TestDurableAcrossRestart(t *testing.T) {
	url := natsURL(t)
	opts := testOptions(t, url)
	first := newNode(t, url, opts)
	want := bustest.FullEvent("dev-durable", 1)
	if err := first.Publish(context.Background(), want); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := first.Publish(context.Background(), want); !errors.Is(err, ErrClosed) {
		t.Errorf("Publish after Close: %v, want ErrClosed", err)
	}

	second := newNode(t, url, opts)
	got := make(chan pairing.Event, 2)
	second.Subscribe(func(_ context.Context, ev pairing.Event) { got <- ev })
	select {
	case ev := <-got:
		if ev.DeviceID != want.DeviceID || ev.Registration.ID != want.Registration.ID {
			t.Errorf("got %+v, want %+v", ev, want)
		}
	case <-time.After(bustest.Timeout):
		t.Fatal("the event published before the restart was not handled")
	}
}

// A handler that panics does not stop the node; its event is tried again
// before the device's next one.
func TestPanicRetriedInOrder(t *testing.T) {
	url := natsURL(t)
	b := newNode(t, url, testOptions(t, url))
	var (
		mu       sync.Mutex
		seqs     []int // guarded by mu
		panicked atomic.Bool
	)
	b.Subscribe(func(_ context.Context, ev pairing.Event) {
		if ev.Registration.Lifetime == 0 && panicked.CompareAndSwap(false, true) {
			panic("handler bug")
		}
		mu.Lock()
		seqs = append(seqs, ev.Registration.Lifetime)
		mu.Unlock()
	})
	for seq := range 3 {
		if err := b.Publish(context.Background(), bustest.FullEvent("dev-panic", seq)); err != nil {
			t.Fatal(err)
		}
	}
	bustest.WaitFor(t, "three events", func() bool { mu.Lock(); defer mu.Unlock(); return len(seqs) >= 3 })
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !panicked.Load() || len(seqs) != 3 || seqs[0] != 0 || seqs[1] != 1 || seqs[2] != 2 {
		t.Errorf("handled %v (panicked %v), want [0 1 2] after one panic", seqs, panicked.Load())
	}
}

// A publish retried with the same message ID is stored once.
func TestPublishDeduplicated(t *testing.T) {
	url := natsURL(t)
	b := newNode(t, url, testOptions(t, url))
	ctx := context.Background()
	ev := bustest.FullEvent("dev-dup", 1)
	for range 2 {
		if err := b.publish(ctx, ev, "event-1"); err != nil {
			t.Fatal(err)
		}
	}
	s, err := b.js.Stream(ctx, b.stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Errorf("stream holds %d messages, want 1", info.State.Msgs)
	}
}

func TestOptionsRejected(t *testing.T) {
	tests := map[string]Options{
		"prefix with a dot":  {Prefix: "nb.pair"},
		"prefix with a star": {Prefix: "nb*"},
		"negative shards":    {Shards: -1},
		"short ack wait":     {AckWait: time.Millisecond},
	}
	for name, opts := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := New(context.Background(), "nats://127.0.0.1:1", opts); err == nil || !strings.HasPrefix(err.Error(), "natsbus: ") {
				t.Errorf("New: %v, want an options error", err)
			}
		})
	}
}

func TestShardStable(t *testing.T) {
	b := &Bus{opts: Options{Shards: 16}}
	// FNV-1a of the ID, so that every node agrees; pinned, since changing
	// the hash reorders the events queued when nodes of both versions run.
	if got := b.shard("dev-00"); got != 11 {
		t.Fatalf("shard(dev-00) = %d, want 11", got)
	}
	seen := map[int]bool{}
	for _, id := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"} {
		seen[b.shard(id)] = true
	}
	if len(seen) < 3 {
		t.Errorf("10 devices fell into %d shards", len(seen))
	}
}
