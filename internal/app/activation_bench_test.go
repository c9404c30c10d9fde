package app_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/udp"

	"github.com/nbpair/nbpair/activator"
	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/config"
	"github.com/nbpair/nbpair/internal/testkit"
)

// BenchmarkActivationCallback measures how long after the last condition
// of a bind is met (the device's Register is answered while the user's
// activation waits) the app learns the result: through the SDK, pushed by
// server-sent events, next to a client that polls every 2 seconds, in the
// same run:
//
//	go test -run '^$' -bench BenchmarkActivationCallback -benchtime 20x ./internal/app/
func BenchmarkActivationCallback(b *testing.B) {
	n := apptest.Start(b, "", apptest.QuietLogs, func(c *config.Config) {
		c.RateLimitPerUser, c.RateLimitPerAddr = 0, 0 // one user starts many activations here
	})
	base := "http://" + n.HTTPAddr()
	c := activator.NewClient(base)
	if _, err := c.SignUp(context.Background(), "bench", "bench password"); err != nil {
		b.Fatal(err)
	}
	if _, err := c.LogIn(context.Background(), "bench", "bench password"); err != nil {
		b.Fatal(err)
	}
	home, err := c.CreateHome(context.Background(), "Bench")
	if err != nil {
		b.Fatal(err)
	}
	next := 0
	newDevice := func() apptest.Provisioned {
		next++
		return n.Provision(b, fmt.Sprintf("35%013d", next))
	}
	b.Run("sdk-push", func(b *testing.B) {
		var lat []time.Duration
		for range b.N {
			lat = append(lat, pushOnce(b, n, c, home.ID, newDevice()))
		}
		reportPercentiles(b, lat)
	})
	b.Run("poll-2s", func(b *testing.B) {
		var lat []time.Duration
		for range b.N {
			lat = append(lat, pollOnce(b, n, c.Token(), home.ID, newDevice()))
		}
		reportPercentiles(b, lat)
	})
}

// pushOnce starts an activation with the SDK, then registers the device;
// it returns the time from the Register's answer to the delegate's call.
func pushOnce(b *testing.B, n *apptest.Node, c *activator.Client, home string, d apptest.Provisioned) time.Duration {
	called := make(chan time.Time, 1)
	disc := activator.NewDiscovery(c, activator.DelegateFunc(func(_ *activator.Discovery, _ activator.TypeModel, devs []activator.DeviceModel, em *activator.ErrorModel) {
		if em != nil || len(devs) != 1 {
			b.Errorf("activation failed: %v", em)
		}
		called <- time.Now()
	}))
	t := activator.TypeModel{Type: activator.TypeNB, Timeout: time.Minute, SpaceID: home, NbID: d.NbID}
	disc.Register(t)
	if err := disc.StartActive(t, nil); err != nil {
		b.Fatal(err)
	}
	waitPending(b, n, d.ID)
	registered := register(b, n, d.IMEI)
	select {
	case at := <-called:
		return at.Sub(registered)
	case <-time.After(30 * time.Second):
		b.Fatal("no callback within 30 s")
	}
	return 0
}

// pollOnce is the same with a client that asks every 2 seconds; the device
// registers at a random moment of the polling cycle, as it would.
func pollOnce(b *testing.B, n *apptest.Node, token, home string, d apptest.Provisioned) time.Duration {
	var a struct{ ID, Status string }
	if code := n.Call(b, token, "POST", "/v1/activations", map[string]any{"type": "NB", "nbId": d.NbID, "spaceId": home, "timeout": 60}, &a); code != http.StatusAccepted {
		b.Fatalf("start: HTTP %d", code)
	}
	registered := make(chan time.Time, 1)
	go func() {
		time.Sleep(rand.N(2 * time.Second))
		registered <- register(b, n, d.IMEI)
	}()
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for range tick.C {
		n.Call(b, token, "GET", "/v1/activations/"+a.ID, nil, &a)
		if a.Status == "paired" {
			return time.Since(<-registered)
		}
	}
	return 0
}

// waitPending waits until the SDK's activation is recorded (StartActive
// posts it in the background), so that the Register is indeed the last
// condition.
func waitPending(b *testing.B, n *apptest.Node, deviceID string) {
	testkit.Eventually(b, "the activation to be recorded", func() bool {
		pending, err := n.Service().PendingActivations(context.Background(), deviceID)
		return err == nil && len(pending) == 1
	})
}

func register(b *testing.B, n *apptest.Node, imei string) time.Time {
	cc, err := udp.Dial(n.CoAPAddr())
	if err != nil {
		b.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := cc.Post(ctx, "/rd", message.AppLinkFormat, strings.NewReader("</1/0>,</3/0>"),
		message.Option{ID: message.URIQuery, Value: []byte("ep=urn:imei:" + imei)})
	if err != nil || resp.Code() != codes.Created {
		b.Fatalf("Register: %v %v", resp, err)
	}
	return time.Now()
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
}
