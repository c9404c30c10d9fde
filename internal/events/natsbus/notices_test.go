package natsbus

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nbpair/nbpair/internal/pairing"
)

// A notice reaches every other node of the cluster, and not the one that
// sent it; a node of another cluster (another prefix) does not hear it.
func TestNoticesReachTheOtherNodes(t *testing.T) {
	url := natsURL(t)
	opts := testOptions(t, url)
	nodes := []*Bus{newNode(t, url, opts), newNode(t, url, opts), newNode(t, url, opts)}
	// Another cluster: a prefix of its own (not a second testOptions, whose
	// lower-cased random prefixes may, rarely, coincide).
	otherOpts := opts
	otherOpts.Prefix = opts.Prefix + "-other"
	t.Cleanup(func() {
		nc, err := nats.Connect(url)
		if err != nil {
			return
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		js.DeleteStream(context.Background(), strings.ToUpper(otherOpts.Prefix)+"_EVENTS")
	})
	other := newNode(t, url, otherOpts)
	heard := make([]chan pairing.Notice, len(nodes)+1)
	for i, b := range append(nodes, other) {
		ch := make(chan pairing.Notice, 10)
		heard[i] = ch
		b.Listen(func(_ context.Context, n pairing.Notice) { ch <- n })
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	ended := pairing.Activation{ID: "act_1", UserID: "u_1", NbID: "0123", DeviceID: "dev_1", HomeID: "h_1", Timeout: 60,
		Status: pairing.ActivationFailed, Reason: pairing.FailTimeout, CreatedAt: at, Deadline: at.Add(time.Minute), FinishedAt: at.Add(time.Minute)}
	sent := pairing.Notice{Kind: pairing.NoticeActivationEnded, ID: "act_1",
		Activation: &pairing.EndedActivation{Activation: ended, Reason: ended.Reason}}
	sent.Activation.Activation.Reason = "" // JSON carries the reason beside, not in, the activation
	if err := nodes[0].Announce(context.Background(), sent); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(nodes); i++ {
		select {
		case got := <-heard[i]:
			if !reflect.DeepEqual(got, sent) {
				t.Errorf("node %d heard %+v (%+v), want %+v", i, got, got.Activation, sent.Activation)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("node %d did not hear the notice", i)
		}
	}
	// A second notice, heard by the others, is one the sender and the
	// other cluster would have heard by now too.
	if err := nodes[1].Announce(context.Background(), pairing.Notice{Kind: pairing.NoticeDownlinkQueued, ID: "dev_1"}); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 2} {
		select {
		case got := <-heard[i]:
			if got.ID != "dev_1" {
				t.Errorf("node %d heard %+v, want the second notice", i, got)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("node %d did not hear the second notice", i)
		}
	}
	// Node 0 sent the first and heard the second; node 1 heard the first
	// and sent the second; the other cluster heard neither.
	for _, i := range []int{0, 1, 3} {
		select {
		case got := <-heard[i]:
			t.Errorf("node %d heard %+v: its own notice, or another cluster's", i, got)
		default:
		}
	}
}

// Ready holds while the bus is connected and fails once it is closed.
func TestReady(t *testing.T) {
	url := natsURL(t)
	b := newNode(t, url, testOptions(t, url))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.Ready(ctx); err != nil {
		t.Fatalf("a connected bus: %v", err)
	}
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Ready(ctx); err == nil {
		t.Fatal("a closed bus is ready")
	}
	if err := b.Announce(ctx, pairing.Notice{Kind: pairing.NoticeDownlinkQueued, ID: "dev_1"}); err == nil {
		t.Error("a closed bus announced")
	}
}
