package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nbpair/nbpair/device"
	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/testkit"
)

// A cluster of nbpair processes on one PostgreSQL schema and one NATS
// stream of their own, found through NBPAIR_TEST_POSTGRES_URL and
// NBPAIR_TEST_NATS_URL. Without them the test is skipped, or fails when
// CI=true.

// unavailable skips the test, or fails it under CI.
func unavailable(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// freshSchema creates a schema of a random name on the test database,
// dropped with its rows when the test ends, and returns the DSN that puts
// a store into it and a connection to query it.
func freshSchema(t *testing.T) (string, *pgx.Conn) {
	t.Helper()
	base := envOr("NBPAIR_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u, err := url.Parse(base)
	if err != nil || u.Scheme == "" {
		t.Fatalf("NBPAIR_TEST_POSTGRES_URL must be a postgres:// URL for the cluster tests: %q", base)
	}
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		unavailable(t, "PostgreSQL cannot be reached (set NBPAIR_TEST_POSTGRES_URL): "+err.Error())
	}
	b := make([]byte, 8)
	rand.Read(b)
	name := "t_" + hex.EncodeToString(b)
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+ident); err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn.Close(ctx)
		if _, err := admin.Exec(ctx, "DROP SCHEMA "+ident+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
		admin.Close(ctx)
	})
	return u.String(), conn
}

// freshPrefix returns a NATS prefix of its own for the test, whose stream
// is deleted when the test ends.
func freshPrefix(t *testing.T) (natsURL, prefix string) {
	t.Helper()
	natsURL = envOr("NBPAIR_TEST_NATS_URL", "nats://127.0.0.1:4222")
	nc, err := nats.Connect(natsURL, nats.Timeout(2*time.Second))
	if err != nil {
		unavailable(t, "NATS cannot be reached (set NBPAIR_TEST_NATS_URL): "+err.Error())
	}
	b := make([]byte, 6)
	rand.Read(b)
	prefix = "nbpairtest" + hex.EncodeToString(b)
	t.Cleanup(func() {
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err = js.DeleteStream(ctx, strings.ToUpper(prefix)+"_EVENTS")
		}
		if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Errorf("deleting the test stream: %v", err)
		}
	})
	return natsURL, prefix
}

// testCluster is the shared services of the nodes of one test.
type testCluster struct {
	dsn, natsURL, prefix string
	db                   *pgx.Conn
	token                string
	nodes                []*clusterNode
}

// newCluster makes the shared services of a test of several nodes; such
// a test is long, so that -short skips it.
func newCluster(t *testing.T) *testCluster {
	t.Helper()
	testkit.Long(t, "a cluster of nbpair processes on PostgreSQL and NATS")
	dsn, db := freshSchema(t)
	natsURL, prefix := freshPrefix(t)
	return &testCluster{dsn: dsn, natsURL: natsURL, prefix: prefix, db: db}
}

// clusterNode is one `nbpair serve` of the cluster, which the test can
// stop, kill and start again on the same ports.
type clusterNode struct {
	name       string
	args       []string
	http, coap string

	mu   sync.Mutex
	cmd  *exec.Cmd     // guarded by mu
	logs *syncBuffer   // guarded by mu; this run's stderr
	done chan struct{} // guarded by mu; closed when this run exited
}

// addNode starts a node. The first one creates the admin token and the
// secret key; the others get copies before their first start, as an
// operator does.
func (c *testCluster) addNode(t *testing.T, name string, extra ...string) *clusterNode {
	t.Helper()
	dir := t.TempDir()
	if len(c.nodes) > 0 {
		first := c.nodes[0].dir()
		for _, f := range []string{"admin.token", "secret.key"} {
			b, err := os.ReadFile(filepath.Join(first, f))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	n := &clusterNode{name: name,
		http: fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp")), coap: fmt.Sprintf("127.0.0.1:%d", freePort(t, "udp"))}
	n.args = append([]string{"serve", "--data-dir", dir, "--http-addr", n.http, "--coap-addr", n.coap,
		"--coaps-addr", "", "--store", c.dsn, "--nats", c.natsURL, "--nats-prefix", c.prefix,
		"--log-format", "json", "--coap-ack-timeout", "500ms", "--rate-limit-per-user", "0", "--rate-limit-per-addr", "0",
		"--public-url", "https://pair.example.com"}, extra...)
	n.start(t)
	t.Cleanup(func() { n.kill(t) })
	if c.token == "" {
		b, err := os.ReadFile(filepath.Join(dir, "admin.token"))
		if err != nil {
			t.Fatal(err)
		}
		c.token = strings.TrimSpace(string(b))
	}
	c.nodes = append(c.nodes, n)
	return n
}

func (n *clusterNode) dir() string { return n.args[2] }

// start runs the node and waits until it is ready.
func (n *clusterNode) start(t *testing.T) {
	t.Helper()
	cmd := exec.Command(binary, n.args...)
	logs := &syncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	n.mu.Lock()
	n.cmd, n.logs, n.done = cmd, logs, done
	n.mu.Unlock()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + n.http + "/readyz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-done:
			t.Fatalf("node %s exited while starting:\n%s", n.name, logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s not ready within 60 s:\n%s", n.name, logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (n *clusterNode) stop(t *testing.T) {
	t.Helper()
	n.mu.Lock()
	cmd, done, logs := n.cmd, n.done, n.logs
	n.mu.Unlock()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		if !cmd.ProcessState.Success() {
			t.Fatalf("node %s exited with %v:\n%s", n.name, cmd.ProcessState, logs)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("node %s did not stop within 60 s of SIGTERM", n.name)
	}
}

// kill sends SIGKILL: the node stops on the spot, mid-request.
func (n *clusterNode) kill(t *testing.T) {
	t.Helper()
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.mu.Unlock()
	cmd.Process.Kill()
	<-done
}

// logged returns this run's (and only this run's) JSON log records with
// the message msg.
func (n *clusterNode) logged(msg string) []map[string]any {
	n.mu.Lock()
	logs := n.logs
	n.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(logs.Bytes()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// syncBuffer is a bytes.Buffer that a process writes while a test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

func (s *syncBuffer) String() string { return string(s.Bytes()) }

// adminCall calls a node's admin API and decodes the answer into out.
func (c *testCluster) adminCall(t *testing.T, n *clusterNode, method, path string, body, out any) int {
	t.Helper()
	return apptest.Call(t, n.http, c.token, method, path, body, out)
}

// provisioned is a device as the admin API answers its provisioning.
type provisioned struct {
	ID   string `json:"id"`
	IMEI string `json:"imei"`
	NbID string `json:"nbId"`
}

func (c *testCluster) provision(t *testing.T, n *clusterNode, imei string) provisioned {
	t.Helper()
	var d provisioned
	if code := c.adminCall(t, n, "POST", "/v1/admin/devices", map[string]string{"imei": imei}, &d); code != http.StatusCreated {
		t.Fatalf("provision %s on %s: HTTP %d", imei, n.name, code)
	}
	return d
}

func clusterIMEI(i int) string { return fmt.Sprintf("86810000%07d", i) }

// runClusterDevice runs a simulated device against server until the test
// ends; events, when not nil, gets its events.
func runClusterDevice(t *testing.T, cfg device.Config) *device.Client {
	t.Helper()
	if cfg.AckTimeout == 0 {
		cfg.AckTimeout = 500 * time.Millisecond
	}
	c, err := device.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return c
}

// dbInt runs a query of one integer on the cluster's schema.
func (c *testCluster) dbInt(t *testing.T, query string, args ...any) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var n int
	if err := c.db.QueryRow(ctx, query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// relay is a loopback UDP relay in front of the nodes' CoAP ports, as a
// load balancer would be: each device address gets its own upstream
// socket to the node the relay points at, and when the relay is pointed
// at another node, a device's next datagram goes there from a new socket
// (to the node it looks like NAT rebinding). It counts confirmable
// requests and their retransmissions (same source, same message ID).
type relay struct {
	front *net.UDPConn

	mu       sync.Mutex
	target   *net.UDPAddr          // guarded by mu
	peers    map[string]*relayPeer // device address → upstream; guarded by mu
	seen     map[string]struct{}   // device address + message ID; guarded by mu
	uplinks  map[string]int        // target → datagrams; guarded by mu
	lastUp   map[string]time.Time  // target → last datagram; guarded by mu
	requests int                   // guarded by mu
	retrans  int                   // guarded by mu
	closed   bool                  // guarded by mu
}

type relayPeer struct {
	back   *net.UDPConn
	target string
	used   time.Time
}

func startRelay(t *testing.T, target string) *relay {
	t.Helper()
	front, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{front: front, peers: map[string]*relayPeer{}, seen: map[string]struct{}{},
		uplinks: map[string]int{}, lastUp: map[string]time.Time{}}
	r.point(t, target)
	go r.up()
	stopJanitor := make(chan struct{})
	go r.janitor(stopJanitor)
	t.Cleanup(func() {
		close(stopJanitor)
		front.Close()
		r.mu.Lock()
		r.closed = true
		for _, p := range r.peers {
			p.back.Close()
		}
		r.mu.Unlock()
	})
	return r
}

func (r *relay) addr() string { return r.front.LocalAddr().String() }

// point sends every device's next datagram to target.
func (r *relay) point(t *testing.T, target string) {
	t.Helper()
	a, err := net.ResolveUDPAddr("udp", target)
	if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	r.target = a
	r.mu.Unlock()
}

func (r *relay) up() {
	buf := make([]byte, 64<<10)
	for {
		n, from, err := r.front.ReadFromUDP(buf)
		if err != nil {
			return
		}
		back, to := r.upstream(from, buf[:n])
		if back != nil {
			back.WriteToUDP(buf[:n], to)
		}
	}
}

// upstream counts the datagram and returns the socket and address it goes
// out on.
func (r *relay) upstream(from *net.UDPAddr, msg []byte) (*net.UDPConn, *net.UDPAddr) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, nil
	}
	target := r.target
	key := from.String()
	if len(msg) >= 4 && msg[0]>>4&3 == 0 && msg[1] != 0 && msg[1]>>5 == 0 { // a CON request
		id := key + "/" + string(msg[2:4])
		if _, dup := r.seen[id]; dup {
			r.retrans++
		} else {
			r.seen[id] = struct{}{}
			r.requests++
		}
	}
	r.uplinks[target.String()]++
	r.lastUp[target.String()] = time.Now()
	p := r.peers[key]
	if p == nil || p.target != target.String() {
		back, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return nil, nil
		}
		// the old socket stays open until the janitor closes it, for
		// answers still on their way
		p = &relayPeer{back: back, target: target.String()}
		if old := r.peers[key]; old != nil {
			r.peers[key+"#"+old.back.LocalAddr().String()] = old
		}
		r.peers[key] = p
		go r.down(back, from)
	}
	p.used = time.Now()
	return p.back, target
}

// down forwards what a node sends on back to the device at client.
func (r *relay) down(back *net.UDPConn, client *net.UDPAddr) {
	buf := make([]byte, 64<<10)
	for {
		n, _, err := back.ReadFromUDP(buf)
		if err != nil {
			return
		}
		r.front.WriteToUDP(buf[:n], client)
	}
}

// janitor closes the upstream sockets of devices gone quiet, such as the
// old sockets of queue-mode devices that woke from a new port.
func (r *relay) janitor(stop <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			r.mu.Lock()
			for k, p := range r.peers {
				if now.Sub(p.used) > 10*time.Second {
					p.back.Close()
					delete(r.peers, k)
				}
			}
			r.mu.Unlock()
		}
	}
}

// counts returns the confirmable requests and retransmissions seen.
func (r *relay) counts() (requests, retransmissions int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests, r.retrans
}

// sentTo returns how many datagrams went to target, and when the last did.
func (r *relay) sentTo(target string) (int, time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.uplinks[target], r.lastUp[target]
}
