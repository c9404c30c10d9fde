package natsbus

import (
	"context"
	"testing"
	"time"

	"github.com/nbpair/nbpair/internal/pairing"
)

// A notice reaches every other node of the cluster, and not the one that
// sent it; a node of another cluster (another prefix) does not hear it.
func TestNoticesReachTheOtherNodes(t *testing.T) {
	url := natsURL(t)
	opts := testOptions(t, url)
	nodes := []*Bus{newNode(t, url, opts), newNode(t, url, opts), newNode(t, url, opts)}
	other := newNode(t, url, testOptions(t, url))
	heard := make([]chan pairing.Notice, len(nodes)+1)
	for i, b := range append(nodes, other) {
		ch := make(chan pairing.Notice, 10)
		heard[i] = ch
		b.Listen(func(_ context.Context, n pairing.Notice) { ch <- n })
	}
	sent := pairing.Notice{Kind: pairing.NoticeActivationEnded, ID: "act_1"}
	if err := nodes[0].Announce(context.Background(), sent); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(nodes); i++ {
		select {
		case got := <-heard[i]:
			if got != sent {
				t.Errorf("node %d heard %+v, want %+v", i, got, sent)
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
