package app_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nbpair/nbpair/device"
	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/config"
)

// natsURL is the NATS server of the tests; without one the test is skipped,
// or fails under CI.
func natsURL(t *testing.T) string {
	u := os.Getenv("NBPAIR_TEST_NATS_URL")
	if u == "" {
		u = "nats://127.0.0.1:4222"
	}
	parsed, err := url.Parse(u)
	if err == nil {
		var c net.Conn
		if c, err = net.DialTimeout("tcp", parsed.Host, 2*time.Second); err == nil {
			c.Close()
			return u
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("no NATS at %s (NBPAIR_TEST_NATS_URL): %v", u, err)
	}
	t.Skipf("no NATS at %s (set NBPAIR_TEST_NATS_URL): %v", u, err)
	return ""
}

// A node whose events go through NATS JetStream pairs a device as one on
// the in-process bus does.
func TestPairingOverNATSBus(t *testing.T) {
	url := natsURL(t)
	b := make([]byte, 6)
	rand.Read(b)
	prefix := "nbpairtest" + hex.EncodeToString(b)
	t.Cleanup(func() { deleteStream(t, url, strings.ToUpper(prefix)+"_EVENTS") })
	n := apptest.Start(t, "", func(c *config.Config) { c.NATS, c.NATSPrefix = url, prefix })
	d := n.Provision(t, apptest.IMEI(400))
	alice := signUp(t, n, "alice")
	a, _ := activate(t, n, alice, d.NbID, 60)
	dev := apptest.RunDevice(t, n, device.Config{IMEI: d.IMEI})
	if got := waitActivation(t, n, alice, a.ID); got.Status != "paired" {
		t.Fatalf("activation over the NATS bus: %+v", got)
	}
	apptest.WaitDevice(t, dev, "the owner, through events on NATS", func(s device.Status) bool { return s.Pairing.OwnerUID == alice.uid })
}

func deleteStream(t testing.TB, url, stream string) {
	nc, err := nats.Connect(url)
	if err != nil {
		t.Errorf("deleting the test stream: %v", err)
		return
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = js.DeleteStream(ctx, stream)
	}
	if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("deleting the test stream %s: %v", stream, err)
	}
}
