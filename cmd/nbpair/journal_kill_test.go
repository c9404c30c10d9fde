package main

import (
	"database/sql"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"sort"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/udp/coder"
	_ "modernc.org/sqlite"
)

// TestSQLiteKilledAfterRegisters: a server on SQLite is killed (SIGKILL)
// right after answering Registers, while they are still in its
// registration journal and not yet in its tables; started again on the
// same data directory, it has every one of them.
func TestSQLiteKilledAfterRegisters(t *testing.T) {
	dir := t.TempDir()
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp"))
	coapAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t, "udp"))
	args := []string{"serve", "--data-dir", dir, "--http-addr", httpAddr, "--coap-addr", coapAddr,
		"--coaps-addr", "127.0.0.1:0"}
	server := start(t, args...)
	waitHealthy(t, "http://"+httpAddr)
	admin := []string{"--server", "http://" + httpAddr, "--token-file", filepath.Join(dir, "admin.token")}
	const devices = 10
	imei := func(i int) string { return fmt.Sprintf("86800100000%04d", i) }
	for i := range devices {
		runCLI(t, append([]string{"provision", "--imei", imei(i)}, admin...)...)
	}

	conn, err := net.Dial("udp", coapAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i := range devices {
		registerRaw(t, conn, uint16(i+1), imei(i))
	}
	server.cmd.Process.Kill() // no shutdown: what is on disk is all there is
	server.cmd.Wait()

	if n := countRegistrations(t, dir); n == devices {
		t.Logf("all %d registrations were in the tables before the kill: this run did not catch them in the journal only", n)
	} else {
		t.Logf("%d of %d registrations were in the tables at the kill; the rest only in the journal", n, devices)
	}

	server = start(t, args...)
	waitHealthy(t, "http://"+httpAddr)
	for i := range devices {
		show := runCLI(t, append(append([]string{"devices"}, admin...), imei(i))...)
		if !regexp.MustCompile(`online\s+true`).MatchString(show) {
			t.Fatalf("device %s after the kill and a restart:\n%s", imei(i), show)
		}
	}
	server.stop(t)
	if n := countRegistrations(t, dir); n != devices {
		t.Fatalf("%d registrations in the tables after a clean stop, want %d", n, devices)
	}
}

// registerRaw sends one LwM2M Register and waits for its 2.01.
func registerRaw(t *testing.T, conn net.Conn, mid uint16, imei string) {
	t.Helper()
	m := message.Message{Type: message.Confirmable, Code: codes.POST, MessageID: int32(mid), Token: []byte{byte(mid), byte(mid >> 8)},
		Payload: []byte("</1/0>,</3/0>")}
	m.Options = append(m.Options,
		message.Option{ID: message.URIPath, Value: []byte("rd")},
		message.Option{ID: message.ContentFormat, Value: []byte{byte(message.AppLinkFormat)}})
	for _, q := range []string{"ep=urn:imei:" + imei, "lt=86400", "lwm2m=1.1", "b=U"} {
		m.Options = append(m.Options, message.Option{ID: message.URIQuery, Value: []byte(q)})
	}
	sort.SliceStable(m.Options, func(i, j int) bool { return m.Options[i].ID < m.Options[j].ID })
	buf := make([]byte, 2048)
	n, err := coder.DefaultCoder.Encode(m, buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(buf[:n]); err != nil {
		t.Fatal(err)
	}
	for {
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("Register of %s: no answer: %v", imei, err)
		}
		a := message.Message{Options: make(message.Options, 0, 16)}
		if _, err := coder.DefaultCoder.Decode(buf[:n], &a); err != nil {
			t.Fatal(err)
		}
		if a.MessageID != int32(mid) || a.Type != message.Acknowledgement {
			continue // not the answer to this Register
		}
		if a.Code != codes.Created {
			t.Fatalf("Register of %s answered %v", imei, a.Code)
		}
		return
	}
}

// countRegistrations counts the rows of the registrations table in the
// data directory, as the files hold them.
func countRegistrations(t *testing.T, dir string) int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "nbpair.db")+"?_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM registrations").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
