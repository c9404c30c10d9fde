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
	"github.com/plgd-dev/go-coap/v3/udp"
	"github.com/plgd-dev/go-coap/v3/udp/client"

	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/config"
	"github.com/nbpair/nbpair/internal/pairing"
)

// BenchmarkRegisterScaleOut measures LwM2M Registers a second with the same
// load (16 clients, each Register durable) on one node on SQLite, one node
// on PostgreSQL, and two nodes on PostgreSQL and NATS JetStream, the
// clients split between the two nodes; all on this one machine:
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
	b.Run("postgres-nats-2-nodes", func(b *testing.B) {
		dsn := benchSchema(b)
		natsURL, prefix := benchNATS(b)
		cluster := func(c *config.Config) { c.Store, c.NATS, c.NATSPrefix = dsn, natsURL, prefix }
		first := apptest.Start(b, "", apptest.QuietLogs, cluster)
		dir := b.TempDir() // the second node gets the first one's secret key
		for _, f := range []string{"admin.token", "secret.key"} {
			data, err := os.ReadFile(first.Dir + "/" + f)
			if err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(dir+"/"+f, data, 0o600); err != nil {
				b.Fatal(err)
			}
		}
		second := apptest.Start(b, dir, apptest.QuietLogs, cluster)
		benchScaleOut(b, []*apptest.Node{first, second})
	})
}

// benchScaleOut provisions b.N devices, then registers them from 16
// clients spread over the nodes' CoAP ports.
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
		cc, err := udp.Dial(nodes[i%len(nodes)].CoAPAddr())
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
