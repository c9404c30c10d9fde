package app_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/mux"
	"github.com/plgd-dev/go-coap/v3/options"
	"github.com/plgd-dev/go-coap/v3/udp"
	"github.com/plgd-dev/go-coap/v3/udp/client"

	"github.com/nbpair/nbpair/activator"
	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/config"
	"github.com/nbpair/nbpair/internal/pairing"
)

// BenchmarkRegisterScaleOut measures LwM2M Registers a second with the same
// load (16 clients, each Register durable) on one node on SQLite, one node
// on PostgreSQL, and two nodes on PostgreSQL and NATS JetStream, the
// clients split between the two nodes, next to one node on PostgreSQL and
// NATS; all on this one machine:
//
//	go test -run '^$' -bench BenchmarkRegisterScaleOut -benchtime 3000x ./internal/app/
func BenchmarkRegisterScaleOut(b *testing.B) {
	b.Run("sqlite-1-node", func(b *testing.B) {
		n := apptest.Start(b, "", apptest.QuietLogs)
		benchScaleOut(b, []*apptest.Node{n})
	})
	b.Run("postgres-1-node", func(b *testing.B) {
		dsn := benchSchema(b)
		n := apptest.Start(b, "", apptest.QuietLogs, func(c *config.Config) { c.Store = dsn })
		benchScaleOut(b, []*apptest.Node{n})
	})
	b.Run("postgres-nats-1-node", func(b *testing.B) {
		dsn := benchSchema(b)
		natsURL, prefix := benchNATS(b)
		benchScaleOut(b, []*apptest.Node{apptest.Start(b, "", apptest.QuietLogs,
			func(c *config.Config) { c.Store, c.NATS, c.NATSPrefix = dsn, natsURL, prefix })})
	})
	b.Run("postgres-nats-2-nodes", func(b *testing.B) {
		benchScaleOut(b, benchCluster(b))
	})
}

// benchScaleOut provisions b.N devices, then registers them from 16
// clients spread over the nodes' CoAP ports; the clients answer the
// Writes of the Pairing object that follow.
func benchScaleOut(b *testing.B, nodes []*apptest.Node) {
	const clients = 16
	imeis := make([]string, b.N)
	for i := range imeis {
		imeis[i] = fmt.Sprintf("37%013d", i)
		if _, err := nodes[0].Service().Provision(context.Background(), pairing.ProvisionRequest{IMEI: imeis[i]}); err != nil {
			b.Fatal(err)
		}
	}
	conns := make([]*client.Conn, clients)
	for i := range conns {
		cc, err := udp.Dial(nodes[i%len(nodes)].CoAPAddr(), options.WithMux(mux.HandlerFunc(answerWrite)))
		if err != nil {
			b.Fatal(err)
		}
		defer cc.Close()
		conns[i] = cc
	}
	var next, failed, conn atomic.Int64
	b.ResetTimer()
	b.SetParallelism(8) // 8 × GOMAXPROCS goroutines share the clients
	b.RunParallel(func(pb *testing.PB) {
		cc := conns[int(conn.Add(1)-1)%clients]
		for pb.Next() {
			if !registerOnce(cc, imeis[next.Add(1)-1]) {
				failed.Add(1)
			}
		}
	})
	b.StopTimer()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d of %d Registers failed", f, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "registers/s")
}

// answerWrite answers the server's Write of the Pairing object as a
// device does, so that the node's deliveries end.
func answerWrite(w mux.ResponseWriter, r *mux.Message) {
	code := codes.NotFound
	if path, _ := r.Path(); r.Code() == codes.PUT && strings.Trim(path, "/") == "33050/0" {
		code = codes.Changed
	}
	w.SetResponse(code, message.TextPlain, nil)
}

// benchSchema returns a DSN on a fresh schema of the test database,
// dropped at the end; without PostgreSQL the benchmark is skipped.
func benchSchema(b *testing.B) string {
	b.Helper()
	base := os.Getenv("NBPAIR_TEST_POSTGRES_URL")
	if base == "" {
		base = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		b.Skipf("no PostgreSQL (NBPAIR_TEST_POSTGRES_URL): %v", err)
	}
	raw := make([]byte, 8)
	rand.Read(raw)
	name := "bench_" + hex.EncodeToString(raw)
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin.Exec(ctx, "DROP SCHEMA "+name+" CASCADE")
		admin.Close(ctx)
	})
	u, err := url.Parse(base)
	if err != nil {
		b.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// benchNATS returns the NATS URL and a prefix of the benchmark's own.
func benchNATS(b *testing.B) (string, string) {
	b.Helper()
	u := os.Getenv("NBPAIR_TEST_NATS_URL")
	if u == "" {
		u = "nats://127.0.0.1:4222"
	}
	raw := make([]byte, 6)
	rand.Read(raw)
	prefix := "nbpairbench" + hex.EncodeToString(raw)
	b.Cleanup(func() { deleteStream(b, u, strings.ToUpper(prefix)+"_EVENTS") })
	return u, prefix
}

// BenchmarkActivationCallbackScaleOut measures, as BenchmarkActivationCallback
// does, the time from the device's answered Register (the last condition of
// the bind) to the SDK's delegate call, pushed by server-sent events: on one
// node on SQLite, on one node on PostgreSQL, and on two nodes on PostgreSQL
// and NATS with the app on one node and the device on the other (the bind
// runs on whichever node takes the device's event):
//
//	go test -run '^$' -bench BenchmarkActivationCallbackScaleOut -benchtime 50x ./internal/app/
func BenchmarkActivationCallbackScaleOut(b *testing.B) {
	noLimits := func(c *config.Config) { c.RateLimitPerUser, c.RateLimitPerAddr = 0, 0 }
	b.Run("sqlite-1-node", func(b *testing.B) {
		n := apptest.Start(b, "", apptest.QuietLogs, noLimits)
		benchCallback(b, n, n)
	})
	b.Run("postgres-1-node", func(b *testing.B) {
		dsn := benchSchema(b)
		n := apptest.Start(b, "", apptest.QuietLogs, noLimits, func(c *config.Config) { c.Store = dsn })
		benchCallback(b, n, n)
	})
	b.Run("postgres-nats-2-nodes", func(b *testing.B) {
		nodes := benchCluster(b, noLimits)
		benchCallback(b, nodes[1], nodes[0])
	})
}

// benchCluster starts two nodes on a fresh schema and NATS prefix; the
// second gets the first one's secret key and admin token.
func benchCluster(b *testing.B, mutate ...func(*config.Config)) []*apptest.Node {
	dsn := benchSchema(b)
	natsURL, prefix := benchNATS(b)
	mutate = append([]func(*config.Config){apptest.QuietLogs,
		func(c *config.Config) { c.Store, c.NATS, c.NATSPrefix = dsn, natsURL, prefix }}, mutate...)
	first := apptest.Start(b, "", mutate...)
	dir := b.TempDir()
	for _, f := range []string{"admin.token", "secret.key"} {
		data, err := os.ReadFile(first.Dir + "/" + f)
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(dir+"/"+f, data, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	return []*apptest.Node{first, apptest.Start(b, dir, mutate...)}
}

// benchCallback runs b.N activations with the SDK on app and the device's
// Register on dev.
func benchCallback(b *testing.B, app, dev *apptest.Node) {
	c := activator.NewClient("http://" + app.HTTPAddr())
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
	var lat []time.Duration
	for i := range b.N {
		d := dev.Provision(b, fmt.Sprintf("38%013d", i))
		called := make(chan time.Time, 1)
		disc := activator.NewDiscovery(c, activator.DelegateFunc(func(_ *activator.Discovery, _ activator.TypeModel, devs []activator.DeviceModel, em *activator.ErrorModel) {
			if em != nil || len(devs) != 1 {
				b.Errorf("activation failed: %v", em)
			}
			called <- time.Now()
		}))
		t := activator.TypeModel{Type: activator.TypeNB, Timeout: time.Minute, SpaceID: home.ID, NbID: d.NbID}
		disc.Register(t)
		if err := disc.StartActive(t, nil); err != nil {
			b.Fatal(err)
		}
		waitPending(b, dev, d.ID)
		registered := register(b, dev, d.IMEI)
		select {
		case at := <-called:
			lat = append(lat, at.Sub(registered))
		case <-time.After(30 * time.Second):
			b.Fatal("no callback within 30 s")
		}
	}
	reportPercentiles(b, lat)
}
