package httpapi_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/config"
	"github.com/nbpair/nbpair/internal/testkit"
)

// openConns opens k connections to addr that each do something slow or
// nothing, and counts those the server has not closed yet. Each one's
// reader notices the server's close; each writer stops once it fails or
// the test ends.
type openConns struct {
	open atomic.Int64
	wg   sync.WaitGroup
	stop chan struct{}
}

func newOpenConns(t *testing.T) *openConns {
	c := &openConns{stop: make(chan struct{})}
	t.Cleanup(func() { close(c.stop); c.wg.Wait() })
	return c
}

// dial opens a connection, runs behave on it in the background, and counts
// it open until a read from it fails (the server closed it).
func (c *openConns) dial(t *testing.T, addr string, behave func(net.Conn, <-chan struct{})) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.open.Add(1)
	c.wg.Add(2)
	go func() {
		defer c.wg.Done()
		behave(conn, c.stop)
	}()
	go func() {
		defer c.wg.Done()
		io.Copy(io.Discard, conn) // until the server closes it
		c.open.Add(-1)
	}()
	go func() { <-c.stop; conn.Close() }()
}

// trickle sends a request whose body comes at a byte every 200 ms.
func trickle(conn net.Conn, stop <-chan struct{}) {
	fmt.Fprintf(conn, "POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for range 600 { // at most two minutes
		select {
		case <-stop:
			return
		case <-tick.C:
			if _, err := conn.Write([]byte(" ")); err != nil {
				return
			}
		}
	}
}

// slowHeaders sends a request's header a line every 200 ms.
func slowHeaders(conn net.Conn, stop <-chan struct{}) {
	conn.Write([]byte("GET /healthz HTTP/1.1\r\n"))
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for i := range 600 {
		select {
		case <-stop:
			return
		case <-tick.C:
			if _, err := fmt.Fprintf(conn, "X-Slow-%d: x\r\n", i); err != nil {
				return
			}
		}
	}
}

// idleAfterOne makes one request, reads its answer, and keeps the
// connection idle.
func idleAfterOne(conn net.Conn, stop <-chan struct{}) {
	conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"))
	<-stop
}

// The finding: only ReadHeaderTimeout was set, so 300 connections trickling
// a body and 300 idle keep-alive connections were all still open after
// 60 s. With read, idle and header timeouts set (small ones here), the
// server closes every slow and idle connection by itself.
func TestSlowAndIdleConnectionsClosed(t *testing.T) {
	n := apptest.Start(t, "", apptest.QuietLogs, func(c *config.Config) {
		c.HTTPReadHeaderTimeout = config.Duration(time.Second)
		c.HTTPReadTimeout = config.Duration(2 * time.Second)
		c.HTTPIdleTimeout = config.Duration(time.Second)
		c.LoginFailures = 0
	})
	conns := newOpenConns(t)
	const each = 100
	for range each {
		conns.dial(t, n.HTTPAddr(), trickle)
		conns.dial(t, n.HTTPAddr(), slowHeaders)
		conns.dial(t, n.HTTPAddr(), func(c net.Conn, stop <-chan struct{}) { idleAfterOne(c, stop) })
	}
	t.Logf("%d connections open: trickling bodies, slow headers, idle after a request", conns.open.Load())
	testkit.Eventually(t, "the server to close the slow and idle connections", func() bool {
		return conns.open.Load() == 0
	})
	// The server still answers.
	if code := n.Call(t, "", "GET", "/healthz", nil, nil); code != http.StatusOK {
		t.Errorf("GET /healthz after: HTTP %d", code)
	}
}

// A header larger than the cap is refused (431) rather than read.
func TestLargeHeaderRefused(t *testing.T) {
	n := apptest.Start(t, "", apptest.QuietLogs, func(c *config.Config) { c.HTTPMaxHeaderBytes = 8 << 10 })
	conn, err := net.Dial("tcp", n.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: %0*d\r\n\r\n", 64<<10, 0)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("a 64 KiB header: HTTP %d, want 431", resp.StatusCode)
	}
}

// pendingActivation signs name up with a home and starts an activation of
// a provisioned device that is switched off, so it stays pending.
func pendingActivation(t *testing.T, n *apptest.Node, name string, imei int) (token, id string) {
	t.Helper()
	token = signUpToken(t, n, name)
	var home struct{ ID string }
	if code := n.Call(t, token, "POST", "/v1/homes", map[string]string{"name": "Flat"}, &home); code != http.StatusCreated {
		t.Fatalf("create home: HTTP %d", code)
	}
	d := n.Provision(t, apptest.IMEI(imei))
	var a struct{ ID string }
	if code := n.Call(t, token, "POST", "/v1/activations", map[string]any{"type": "NB", "nbId": d.NbID, "spaceId": home.ID, "timeout": 600}, &a); code != http.StatusAccepted {
		t.Fatalf("start activation: HTTP %d", code)
	}
	return token, a.ID
}

// openStream opens an activation's event stream; an admitted one has read
// its first event.
func openStream(t *testing.T, n *apptest.Node, token, id string) (resp *http.Response, code int) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+n.HTTPAddr()+"/v1/activations/"+id+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Code int }
		decodeBody(resp.Body, &e)
		resp.Body.Close()
		return resp, e.Code
	}
	t.Cleanup(func() { resp.Body.Close() })
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "event: activation\n" {
		t.Fatalf("the stream's first line: %q, %v", line, err)
	}
	return resp, 0
}

// Event streams and long-polls are capped per user (429) and in all (503),
// both with Retry-After; a closed stream frees its place.
func TestStreamsCapped(t *testing.T) {
	n := apptest.Start(t, "", apptest.QuietLogs, func(c *config.Config) { c.MaxStreamsPerUser, c.MaxStreams = 2, 3 })
	aliceTok, aliceAct := pendingActivation(t, n, "alice", 1)
	bobTok, bobAct := pendingActivation(t, n, "bob", 2)
	first, _ := openStream(t, n, aliceTok, aliceAct)
	openStream(t, n, aliceTok, aliceAct)
	resp, code := openStream(t, n, aliceTok, aliceAct)
	if resp.StatusCode != http.StatusTooManyRequests || code != 4290 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("alice's third stream: HTTP %d (%d), want 429 (4290) with Retry-After", resp.StatusCode, code)
	}
	var e struct{ Code int }
	if status := n.Call(t, aliceTok, "GET", "/v1/activations/"+aliceAct+"?wait=1s", nil, &e); status != http.StatusTooManyRequests {
		t.Errorf("alice's long-poll beside two streams: HTTP %d, want 429", status)
	}
	openStream(t, n, bobTok, bobAct)
	resp, code = openStream(t, n, bobTok, bobAct)
	if resp.StatusCode != http.StatusServiceUnavailable || code != 5032 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("a fourth stream on the node: HTTP %d (%d), want 503 (5032) with Retry-After", resp.StatusCode, code)
	}
	first.Body.Close()
	testkit.Eventually(t, "bob's second stream to be admitted once alice closed one", func() bool {
		resp, _ := openStream(t, n, bobTok, bobAct)
		return resp.StatusCode == http.StatusOK
	})
}

// Long-polls and event streams outlast the read and write timeouts, which
// would otherwise cut them, yet a stream ends by itself at its maximum.
func TestStreamsOutlastTimeoutsUpToTheirMaximum(t *testing.T) {
	testkit.Long(t, "waits out a stream's maximum")
	n := apptest.Start(t, "", apptest.QuietLogs, func(c *config.Config) {
		c.HTTPReadHeaderTimeout = config.Duration(500 * time.Millisecond)
		c.HTTPReadTimeout = config.Duration(500 * time.Millisecond)
		c.HTTPWriteTimeout = config.Duration(500 * time.Millisecond)
		c.HTTPStreamMax = config.Duration(3 * time.Second)
	})
	tok, id := pendingActivation(t, n, "alice", 1)
	var a struct{ Status string }
	if status := n.Call(t, tok, "GET", "/v1/activations/"+id+"?wait=2s", nil, &a); status != http.StatusOK || a.Status != "pending" {
		t.Errorf("a 2 s long-poll with 0.5 s timeouts: HTTP %d %q, want 200 pending", status, a.Status)
	}
	resp, _ := openStream(t, n, tok, id)
	events := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if sc.Text() == "event: activation" {
			events++
		}
	}
	if events != 0 || sc.Err() != nil {
		t.Errorf("the stream after its first event: %d more events, %v; want a clean end at its maximum", events, sc.Err())
	}
}

// Connections are capped: with three held open, a fourth is not served
// until one of them closes.
func TestConnectionsCapped(t *testing.T) {
	n := apptest.Start(t, "", apptest.QuietLogs, func(c *config.Config) { c.HTTPMaxConns = 3 })
	var held []net.Conn
	for range 3 {
		conn, err := net.Dial("tcp", n.HTTPAddr())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprint(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		held = append(held, conn) // served, and kept alive
	}
	fourth, err := net.Dial("tcp", n.HTTPAddr()) // the kernel accepts it; the server does not yet
	if err != nil {
		t.Fatal(err)
	}
	defer fourth.Close()
	fmt.Fprint(fourth, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	fourth.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := fourth.Read(make([]byte, 1)); err == nil {
		t.Fatal("a fourth connection was served while three were open")
	}
	held[0].Close()
	fourth.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(fourth), nil)
	if err != nil {
		t.Fatalf("the fourth connection once one closed: %v", err)
	}
	resp.Body.Close()
}
