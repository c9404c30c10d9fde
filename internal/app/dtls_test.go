package app_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/protocol"
	"github.com/pion/dtls/v3/pkg/protocol/handshake"
	"github.com/pion/dtls/v3/pkg/protocol/recordlayer"
	coapdtls "github.com/plgd-dev/go-coap/v3/dtls"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/udp/client"

	"github.com/nbpair/nbpair/device"
	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/config"
	"github.com/nbpair/nbpair/internal/testkit"
)

// libcoapDTLSClient is Debian's libcoap command-line client (package
// libcoap3-bin) built with OpenSSL, for coaps.
const libcoapDTLSClient = "coap-client-openssl"

// pskSuites are the two suites nbpair accepts.
var pskSuites = []dtls.CipherSuiteID{dtls.TLS_PSK_WITH_AES_128_CCM_8, dtls.TLS_PSK_WITH_AES_128_CBC_SHA256}

// secureView is a device as the admin API shows it, with the fields
// apptest.Provisioned leaves out.
type secureView struct {
	Online       bool
	Registration *struct {
		ID         string
		Secure     bool
		RemoteAddr string
		LastSeen   time.Time
		Lifetime   int
	}
}

func secureStatus(t *testing.T, n *apptest.Node, id string) secureView {
	t.Helper()
	var v secureView
	if code := n.API(t, "GET", "/v1/admin/devices/"+id, nil, &v); code != http.StatusOK {
		t.Fatalf("get device %s: HTTP %d", id, code)
	}
	return v
}

// pskOf decodes a provisioned device's hex PSK.
func pskOf(t *testing.T, d apptest.Provisioned) []byte {
	t.Helper()
	psk, err := hex.DecodeString(d.PSK)
	if err != nil || len(psk) == 0 || d.PSKIdentity != "urn:imei:"+d.IMEI {
		t.Fatalf("provisioning answered PSK %q identity %q", d.PSK, d.PSKIdentity)
	}
	return psk
}

// secureDevice is a device played by a go-coap DTLS client that sends
// what the test says.
func secureDevice(t *testing.T, n *apptest.Node, identity string, psk []byte) *client.Conn {
	t.Helper()
	cc, err := dialSecure(n.CoAPSAddr(), identity, psk)
	if err != nil {
		t.Fatalf("DTLS as %s: %v", identity, err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

func dialSecure(addr, identity string, psk []byte) (*client.Conn, error) {
	return coapdtls.Dial(addr, coapdtls.NewDTLSClientOptions(
		dtls.WithPSK(func([]byte) ([]byte, error) { return psk, nil }),
		dtls.WithPSKIdentityHint([]byte(identity)),
		dtls.WithCipherSuites(pskSuites...),
		dtls.WithConnectionIDGenerator(dtls.OnlySendCIDGenerator()),
	))
}

// runSecureDevice starts a simulated device over coaps and stops it when
// the test ends.
func runSecureDevice(t *testing.T, server string, d apptest.Provisioned, cfg device.Config) *device.Client {
	t.Helper()
	cfg.Server, cfg.IMEI, cfg.PSK = server, d.IMEI, pskOf(t, d)
	return apptest.StartDevice(t, cfg)
}

// provisionPrintable provisions devices until one's PSK has no zero byte:
// coap-client 4.3.1 takes -k as a C string, so a key with a NUL cannot be
// passed (it has no hex option). The key stays random; about 94% of 16
// random bytes qualify.
func provisionPrintable(t *testing.T, n *apptest.Node, first int) apptest.Provisioned {
	t.Helper()
	for i := first; i < first+40; i++ {
		d := n.Provision(t, apptest.IMEI(i))
		if !bytes.Contains(pskOf(t, d), []byte{0}) {
			return d
		}
	}
	t.Fatal("40 PSKs in a row held a zero byte")
	return apptest.Provisioned{}
}

// runLibcoap runs coap-client once and returns what it printed.
func runLibcoap(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.WaitDelay = 5 * time.Second
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Logf("%s: %v", bin, err) // it exits 0 even when nothing answered
	}
	return out.String()
}

// TestInteropLibcoapDTLS registers with libcoap's OpenSSL client over
// coaps with the device's PSK, then fails the handshake with a wrong one.
func TestInteropLibcoapDTLS(t *testing.T) {
	bin := requireTool(t, libcoapDTLSClient)
	n := apptest.Start(t, "")
	d := provisionPrintable(t, n, 200)
	base := "coaps://" + n.CoAPSAddr()
	ep := "urn:imei:" + d.IMEI
	key := string(pskOf(t, d))

	reg := libcoapRequest(t, bin, "-u", d.PSKIdentity, "-k", key, "-m", "post", "-t", "40", "-e", "</1/0>,</3/0>",
		base+"/rd?ep="+ep+"&lt=60&lwm2m=1.1&b=U")
	if reg.Code != "2.01" || len(reg.LocationPath) != 2 || reg.LocationPath[0] != "rd" {
		t.Fatalf("Register over DTLS: got %s %q %q, want 2.01 with rd/<id>", reg.Code, reg.LocationPath, reg.Payload)
	}
	v := secureStatus(t, n, d.ID)
	if !v.Online || v.Registration == nil || !v.Registration.Secure || v.Registration.ID != reg.LocationPath[1] {
		t.Fatalf("after Register over DTLS the admin API shows %+v", v)
	}
	if got := n.Device(t, d.ID); got.Reg.Endpoint != ep {
		t.Errorf("endpoint %q, want %q", got.Reg.Endpoint, ep)
	}

	other := provisionPrintable(t, n, 300)
	wrong := bytes.Clone(pskOf(t, other))
	wrong[0] ^= 0x55
	if wrong[0] == 0 {
		wrong[0] = 1
	}
	out := runLibcoap(t, bin, "-v", "6", "-B", "3", "-U", "-u", other.PSKIdentity, "-k", string(wrong),
		"-m", "post", "-t", "40", "-e", "</1/0>,</3/0>", base+"/rd?ep=urn:imei:"+other.IMEI+"&lt=60&lwm2m=1.1&b=U")
	if res, err := parseLibcoapOutput(out); err == nil {
		t.Errorf("Register with a wrong key got an answer: %+v\n%s", res, out)
	}
	if v := secureStatus(t, n, other.ID); v.Online || v.Registration != nil {
		t.Errorf("a wrong key registered: %+v", v)
	}
	if !strings.Contains(out, "alert read:fatal:bad record mac") {
		t.Errorf("coap-client with a wrong key did not get the server's bad_record_mac alert")
	}
	t.Logf("coap-client with a wrong key printed:\n%s", out)
}

// The production profile refuses plain CoAP and takes the same device
// over DTLS; a product without plain CoAP refuses it in development too.
func TestPlainCoAPRefused(t *testing.T) {
	t.Run("production profile", func(t *testing.T) {
		n := apptest.Start(t, "", func(c *config.Config) { c.Profile = config.ProfileProduction })
		d := n.Provision(t, apptest.IMEI(210))
		payload, queries := "</1/0>,</3/0>", []string{"ep=urn:imei:" + d.IMEI, "lt=60", "lwm2m=1.1", "b=U"}
		if resp := post(t, rawDevice(t, n.CoAPAddr()), "/rd", payload, queries...); resp.Code() != codes.Forbidden {
			t.Fatalf("plain Register in production: %v, want 4.03", resp.Code())
		}
		if v := secureStatus(t, n, d.ID); v.Registration != nil {
			t.Fatalf("a refused Register left %+v", v)
		}
		resp := post(t, secureDevice(t, n, d.PSKIdentity, pskOf(t, d)), "/rd", payload, queries...)
		if resp.Code() != codes.Created {
			t.Fatalf("Register over DTLS in production: %v, want 2.01", resp.Code())
		}
		if v := secureStatus(t, n, d.ID); !v.Online || !v.Registration.Secure {
			t.Errorf("after Register over DTLS: %+v", v)
		}
	})
	t.Run("product without plain CoAP", func(t *testing.T) {
		n := apptest.Start(t, "")
		if code := n.API(t, "POST", "/v1/admin/products", map[string]any{"id": "sealed", "name": "Sealed meter", "plainCoap": false}, nil); code != http.StatusCreated {
			t.Fatalf("create product: HTTP %d", code)
		}
		var d apptest.Provisioned
		if code := n.API(t, "POST", "/v1/admin/devices", map[string]string{"imei": apptest.IMEI(211), "productId": "sealed"}, &d); code != http.StatusCreated {
			t.Fatalf("provision: HTTP %d", code)
		}
		resp := post(t, rawDevice(t, n.CoAPAddr()), "/rd", "</1/0>,</3/0>", "ep=urn:imei:"+d.IMEI, "lt=60")
		if resp.Code() != codes.Forbidden {
			t.Fatalf("plain Register of a DTLS-only product: %v, want 4.03", resp.Code())
		}
		resp = post(t, secureDevice(t, n, d.PSKIdentity, pskOf(t, d)), "/rd", "</1/0>,</3/0>", "ep=urn:imei:"+d.IMEI, "lt=60")
		if resp.Code() != codes.Created {
			t.Fatalf("Register over DTLS: %v, want 2.01", resp.Code())
		}
	})
}

// A registration made over DTLS is changed over DTLS only, and only by
// its own identity.
func TestSecureRegistrationGuarded(t *testing.T) {
	n := apptest.Start(t, "")
	a, b := n.Provision(t, apptest.IMEI(220)), n.Provision(t, apptest.IMEI(221))
	ccA := secureDevice(t, n, a.PSKIdentity, pskOf(t, a))
	ccB := secureDevice(t, n, b.PSKIdentity, pskOf(t, b))
	if resp := post(t, ccA, "/rd", "</1/0>,</3/0>", "ep=urn:imei:"+a.IMEI, "lt=60"); resp.Code() != codes.Created {
		t.Fatalf("A's Register: %v", resp.Code())
	}
	resp := post(t, ccB, "/rd", "</1/0>,</3/0>", "ep=urn:imei:"+b.IMEI, "lt=60")
	if resp.Code() != codes.Created {
		t.Fatalf("B's Register: %v", resp.Code())
	}
	locB := location(t, resp)
	before := secureStatus(t, n, b.ID)

	plain := rawDevice(t, n.CoAPAddr())
	if resp := post(t, plain, "/"+locB, "", "lt=120"); resp.Code() != codes.Forbidden {
		t.Errorf("plain Update of a DTLS registration: %v, want 4.03", resp.Code())
	}
	if resp := post(t, plain, "/rd", "</1/0>", "ep=urn:imei:"+b.IMEI, "lt=60"); resp.Code() != codes.Forbidden {
		t.Errorf("plain Register over a DTLS registration: %v, want 4.03", resp.Code())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if del, err := plain.Delete(ctx, "/"+locB); err != nil || del.Code() != codes.Forbidden {
		t.Errorf("plain De-register of a DTLS registration: %v %v, want 4.03", del, err)
	}
	if resp := post(t, ccA, "/"+locB, "", "lt=120"); resp.Code() != codes.Forbidden {
		t.Errorf("A's Update of B's registration: %v, want 4.03", resp.Code())
	}
	if del, err := ccA.Delete(ctx, "/"+locB); err != nil || del.Code() != codes.Forbidden {
		t.Errorf("A's De-register of B's registration: %v %v, want 4.03", del, err)
	}
	after := secureStatus(t, n, b.ID)
	if !after.Online || *after.Registration != *before.Registration {
		t.Errorf("B's registration changed: before %+v, after %+v", *before.Registration, *after.Registration)
	}
	if resp := post(t, ccB, "/"+locB, "", "lt=120"); resp.Code() != codes.Changed {
		t.Errorf("B's own Update over DTLS: %v, want 2.04", resp.Code())
	}
	// An identity that is not the endpoint may not register it either.
	if resp := post(t, ccA, "/rd", "</1/0>", "ep=urn:imei:"+b.IMEI, "lt=60"); resp.Code() != codes.Forbidden {
		t.Errorf("A registering as B: %v, want 4.03", resp.Code())
	}
}

// The whole pairing over DTLS: the device learns its ID, a user binds it,
// and the device learns its owner through the DTLS session.
func TestPairOverDTLS(t *testing.T) {
	n := apptest.Start(t, "", func(c *config.Config) { c.Profile = config.ProfileProduction })
	d := n.Provision(t, apptest.IMEI(230))
	dev := runSecureDevice(t, "coaps://"+n.CoAPSAddr(), d, device.Config{})
	st := apptest.WaitDevice(t, dev, "the device ID", func(s device.Status) bool { return s.Pairing.DeviceID != "" })
	if st.Pairing.DeviceID != d.ID || st.Pairing.State != device.BindUnbound {
		t.Fatalf("device holds %+v", st.Pairing)
	}
	alice := signUp(t, n, "alice")
	a, code := activate(t, n, alice, d.NbID, 60)
	if code != http.StatusAccepted {
		t.Fatalf("activate: HTTP %d", code)
	}
	if got := waitActivation(t, n, alice, a.ID); got.Status != "paired" || got.Device == nil || got.Device.OwnerUID != alice.uid {
		t.Fatalf("activation ended %+v", got)
	}
	st = apptest.WaitDevice(t, dev, "the owner", func(s device.Status) bool { return s.Pairing.OwnerUID != "" })
	if st.Pairing.OwnerUID != alice.uid || st.Pairing.HomeID != alice.home || st.Pairing.State != device.BindBound {
		t.Errorf("device holds %+v", st.Pairing)
	}
	if v := secureStatus(t, n, d.ID); !v.Registration.Secure {
		t.Errorf("registration %+v is not secure", v.Registration)
	}
}

// Each of the two PSK suites works on its own (some modules offer only
// CBC); a suite nbpair does not accept fails the handshake.
func TestDTLSCipherSuites(t *testing.T) {
	n := apptest.Start(t, "")
	tests := []struct {
		suite dtls.CipherSuiteID
		ok    bool
	}{
		{dtls.TLS_PSK_WITH_AES_128_CCM_8, true},
		{dtls.TLS_PSK_WITH_AES_128_CBC_SHA256, true},
		{dtls.TLS_PSK_WITH_AES_128_GCM_SHA256, false},
	}
	for i, tc := range tests {
		t.Run(tc.suite.String(), func(t *testing.T) {
			d := n.Provision(t, apptest.IMEI(240+i))
			conn, err := pskHandshake(d.PSKIdentity, pskOf(t, d), n.CoAPSAddr(), tc.suite)
			if conn != nil {
				defer conn.Close()
			}
			if tc.ok != (err == nil) {
				t.Fatalf("handshake with only %v: %v", tc.suite, err)
			}
			if !tc.ok {
				return
			}
			st, _ := conn.ConnectionState()
			if st.CipherSuiteID != tc.suite {
				t.Errorf("negotiated %v", st.CipherSuiteID)
			}
			cc := coapdtls.Client(conn)
			defer cc.Close()
			if resp := post(t, cc, "/rd", "</1/0>", "ep=urn:imei:"+d.IMEI, "lt=60"); resp.Code() != codes.Created {
				t.Errorf("Register: %v", resp.Code())
			}
		})
	}
}

// pskHandshake does a bounded DTLS handshake with the given suites from a new
// socket.
func pskHandshake(identity string, psk []byte, addr string, suites ...dtls.CipherSuiteID) (*dtls.Conn, error) {
	raddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	conn, err := dtls.DialWithOptions("udp", raddr,
		dtls.WithPSK(func([]byte) ([]byte, error) { return psk, nil }),
		dtls.WithPSKIdentityHint([]byte(identity)),
		dtls.WithCipherSuites(suites...),
	)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := conn.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// udpRelay forwards datagrams between one client and the server. Its
// upstream socket can be swapped for a new one mid-session, as a carrier
// NAT rebinds a device's address: the server then hears the same DTLS
// session from a new source port.
type udpRelay struct {
	front  *net.UDPConn
	server *net.UDPAddr

	mu     sync.Mutex
	back   *net.UDPConn // guarded by mu
	client *net.UDPAddr // guarded by mu
}

func startRelay(t *testing.T, server string) *udpRelay {
	t.Helper()
	saddr, err := net.ResolveUDPAddr("udp", server)
	if err != nil {
		t.Fatal(err)
	}
	front, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	r := &udpRelay{front: front, server: saddr}
	r.rebind(t)
	go r.up()
	t.Cleanup(func() {
		front.Close()
		r.mu.Lock()
		r.back.Close()
		r.mu.Unlock()
	})
	return r
}

func (r *udpRelay) addr() string { return r.front.LocalAddr().String() }

// rebind moves the upstream to a new socket and returns its address.
func (r *udpRelay) rebind(t *testing.T) string {
	t.Helper()
	back, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	old := r.back
	r.back = back
	r.mu.Unlock()
	if old != nil {
		old.Close()
	}
	go r.down(back)
	return back.LocalAddr().String()
}

// up forwards the client's datagrams to the server.
func (r *udpRelay) up() {
	buf := make([]byte, 64<<10)
	for {
		n, from, err := r.front.ReadFromUDP(buf)
		if err != nil {
			return
		}
		r.mu.Lock()
		r.client = from
		back := r.back
		r.mu.Unlock()
		back.WriteToUDP(buf[:n], r.server)
	}
}

// down forwards the server's datagrams on back to the client.
func (r *udpRelay) down(back *net.UDPConn) {
	buf := make([]byte, 64<<10)
	for {
		n, _, err := back.ReadFromUDP(buf)
		if err != nil {
			return
		}
		r.mu.Lock()
		client := r.client
		r.mu.Unlock()
		if client != nil {
			r.front.WriteToUDP(buf[:n], client)
		}
	}
}

// A device whose address changes mid-session keeps its DTLS session
// through the Connection ID: its next Update is accepted from the new
// address without a new handshake, the registration follows the address,
// and downlinks reach the device there.
func TestDTLSAddressChangeKeepsSession(t *testing.T) {
	n := apptest.Start(t, "")
	d := n.Provision(t, apptest.IMEI(250))
	relay := startRelay(t, n.CoAPSAddr())
	var mu sync.Mutex
	var events []device.Event
	dev := runSecureDevice(t, "coaps://"+relay.addr(), d, device.Config{Lifetime: time.Hour, OnEvent: func(e device.Event) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}})
	apptest.WaitDevice(t, dev, "the device ID", func(s device.Status) bool { return s.Pairing.DeviceID == d.ID })
	before := secureStatus(t, n, d.ID).Registration

	newAddr := relay.rebind(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := dev.Update(ctx); err != nil {
		t.Fatalf("Update from the new address: %v", err)
	}
	after := secureStatus(t, n, d.ID).Registration
	if after.RemoteAddr != newAddr || after.RemoteAddr == before.RemoteAddr || !after.Secure {
		t.Fatalf("registration address %s before, %s after; want the relay's new %s", before.RemoteAddr, after.RemoteAddr, newAddr)
	}
	alice := signUp(t, n, "alice")
	a, _ := activate(t, n, alice, d.NbID, 60)
	if got := waitActivation(t, n, alice, a.ID); got.Status != "paired" {
		t.Fatalf("activation ended %+v", got)
	}
	st := apptest.WaitDevice(t, dev, "the owner, written to the new address", func(s device.Status) bool { return s.Pairing.OwnerUID != "" })
	if st.Pairing.OwnerUID != alice.uid {
		t.Errorf("device holds %+v", st.Pairing)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, e := range events {
		if e.Kind == device.EventError || e.Kind == device.EventWaking {
			t.Errorf("the session did not survive the address change: %v", e)
		}
	}
	t.Logf("registration moved from %s to %s on the same DTLS session", before.RemoteAddr, after.RemoteAddr)
}

// clientHello is a DTLS 1.2 ClientHello offering nbpair's suites, as the
// first flight of a handshake that is never finished.
func clientHello(t testing.TB, seq uint64) []byte {
	t.Helper()
	var random handshake.Random
	random.GMTUnixTime = time.Now()
	rand.Read(random.RandomBytes[:])
	rl := &recordlayer.RecordLayer{
		Header: recordlayer.Header{Version: protocol.Version1_2, SequenceNumber: seq},
		Content: &handshake.Handshake{Message: &handshake.MessageClientHello{
			Version: protocol.Version1_2, Random: random,
			CipherSuiteIDs:     []uint16{uint16(dtls.TLS_PSK_WITH_AES_128_CCM_8), uint16(dtls.TLS_PSK_WITH_AES_128_CBC_SHA256)},
			CompressionMethods: []*protocol.CompressionMethod{{}},
		}},
	}
	b, err := rl.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// floodCounts are what a handshake flood did and what it got.
type floodCounts struct {
	hellos, answers                  atomic.Int64 // ClientHellos sent, datagrams back
	bogus, bogusFailed, bogusSuccess atomic.Int64 // full handshakes with unknown identities
	updates, updateFails             atomic.Int64 // the real device's Updates
}

// A flood of ClientHellos from many ports, and of full handshakes with
// identities nobody provisioned, neither stops the server nor the Updates
// of a device with a session, and registers nothing.
func TestDTLSHandshakeFlood(t *testing.T) {
	testkit.Long(t, "a flood of DTLS handshakes")
	n := apptest.Start(t, "", func(c *config.Config) {
		c.LogLevel = "info"
		c.CoAPSHandshakeTimeout = config.Duration(2 * time.Second)
	})
	d := n.Provision(t, apptest.IMEI(260))
	dev := runSecureDevice(t, "coaps://"+n.CoAPSAddr(), d, device.Config{Lifetime: time.Hour})
	apptest.WaitDevice(t, dev, "the device ID", func(s device.Status) bool { return s.Pairing.DeviceID == d.ID })

	const ports, hellosPerPort, floodFor = 200, 10, 5 * time.Second
	var c floodCounts
	ctx, cancel := context.WithTimeout(context.Background(), floodFor)
	defer cancel()
	var wg sync.WaitGroup
	for p := range ports {
		wg.Go(func() { helloFlood(t, n.CoAPSAddr(), p, hellosPerPort, floodFor, &c) })
	}
	for w := range 4 {
		wg.Go(func() { bogusHandshakes(ctx, n.CoAPSAddr(), w, &c) })
	}
	upd := make(chan struct{})
	go func() {
		defer close(upd)
		for ctx.Err() == nil {
			uctx, ucancel := context.WithTimeout(context.Background(), 30*time.Second)
			if err := dev.Update(uctx); err != nil {
				c.updateFails.Add(1)
				t.Errorf("Update during the flood: %v", err)
			} else {
				c.updates.Add(1)
			}
			ucancel()
		}
	}()
	wg.Wait()
	<-upd
	t.Logf("flood: %d ClientHellos from %d ports (%d datagrams back), %d bogus full handshakes (%d failed, %d succeeded); device: %d Updates, %d failed",
		c.hellos.Load(), ports, c.answers.Load(), c.bogus.Load(), c.bogusFailed.Load(), c.bogusSuccess.Load(), c.updates.Load(), c.updateFails.Load())

	if c.updates.Load() == 0 || c.updateFails.Load() != 0 || c.bogusSuccess.Load() != 0 {
		t.Errorf("the device's Updates: %d ok, %d failed; bogus handshakes that succeeded: %d", c.updates.Load(), c.updateFails.Load(), c.bogusSuccess.Load())
	}
	var list struct{ Devices []secureView }
	if code := n.API(t, "GET", "/v1/admin/devices", nil, &list); code != http.StatusOK || len(list.Devices) != 1 {
		t.Fatalf("after the flood the admin API lists %d devices (HTTP %d), want 1", len(list.Devices), code)
	}
	if v := list.Devices[0]; !v.Online || !v.Registration.Secure {
		t.Errorf("the device after the flood: %+v", v)
	}
	uctx, ucancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer ucancel()
	if err := dev.Update(uctx); err != nil {
		t.Errorf("Update after the flood: %v", err)
	}
}

// helloFlood sends ClientHellos from one port, spread over the flood,
// and counts the answers.
func helloFlood(t *testing.T, addr string, port, count int, span time.Duration, c *floodCounts) {
	raddr, _ := net.ResolveUDPAddr("udp", addr)
	sock, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		t.Error(err)
		return
	}
	defer sock.Close()
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, err := sock.Read(buf); err != nil && !errors.Is(err, syscall.ECONNREFUSED) {
				return
			}
			c.answers.Add(1)
		}
	}()
	every := span / time.Duration(count)
	tick := time.NewTicker(every)
	defer tick.Stop()
	time.Sleep(time.Duration(port) * every / 200) // spread the ports' first hellos
	for i := range count {
		if _, err := sock.Write(clientHello(t, uint64(i))); err == nil {
			c.hellos.Add(1)
		}
		<-tick.C
	}
}

// bogusHandshakes runs full handshakes with unknown IMEI identities, one
// after another from new ports, until ctx is done.
func bogusHandshakes(ctx context.Context, addr string, worker int, c *floodCounts) {
	psk := make([]byte, 16)
	for i := 0; ctx.Err() == nil; i++ {
		rand.Read(psk)
		c.bogus.Add(1)
		conn, err := pskHandshake(fmt.Sprintf("urn:imei:99%02d%011d", worker, i), psk, addr, pskSuites...)
		if err != nil {
			c.bogusFailed.Add(1)
			continue
		}
		c.bogusSuccess.Add(1)
		conn.Close()
	}
}

// Shutdown closes the DTLS socket for good, even with sessions open.
func TestDTLSSocketClosedOnShutdown(t *testing.T) {
	n := apptest.Start(t, "")
	d := n.Provision(t, apptest.IMEI(270))
	addr := n.CoAPSAddr()
	cc := secureDevice(t, n, d.PSKIdentity, pskOf(t, d))
	if resp := post(t, cc, "/rd", "</1/0>", "ep=urn:imei:"+d.IMEI, "lt=60"); resp.Code() != codes.Created {
		t.Fatalf("Register: %v", resp.Code())
	}
	n.Stop(t)
	ua, _ := net.ResolveUDPAddr("udp", addr)
	l, err := net.ListenUDP("udp", ua)
	if err != nil {
		t.Fatalf("the DTLS socket %s is still bound after shutdown: %v", addr, err)
	}
	l.Close()
}

// A queue-mode device over DTLS sleeps with its socket closed and wakes on
// a new port into the same session; the server follows its address, and
// a downlink queued while it slept reaches it when it wakes.
func TestDTLSQueueModeWakeUps(t *testing.T) {
	n := apptest.Start(t, "", func(c *config.Config) { c.AwakeWindow = config.Duration(time.Second) })
	d := n.Provision(t, apptest.IMEI(280))
	var mu sync.Mutex
	var wakes []string
	dev := runSecureDevice(t, "coaps://"+n.CoAPSAddr(), d, device.Config{QueueMode: true, AwakeTime: time.Second,
		SleepTime: 300 * time.Millisecond, OnEvent: func(e device.Event) {
			if e.Kind == device.EventWaking {
				mu.Lock()
				wakes = append(wakes, e.LocalAddr)
				mu.Unlock()
			}
		}})
	apptest.WaitDevice(t, dev, "the device ID", func(s device.Status) bool { return s.Pairing.DeviceID == d.ID })
	testkit.Eventually(t, "two wake-ups", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(wakes) >= 2
	})
	testkit.Eventually(t, "the server to see the device's latest address", func() bool {
		st := dev.Status()
		v := secureStatus(t, n, d.ID)
		return st.Awake && v.Registration != nil && v.Registration.RemoteAddr == st.LocalAddr && v.Registration.Secure
	})
	alice := signUp(t, n, "alice")
	a, _ := activate(t, n, alice, d.NbID, 60)
	if got := waitActivation(t, n, alice, a.ID); got.Status != "paired" {
		t.Fatalf("activation ended %+v", got)
	}
	st := apptest.WaitDevice(t, dev, "the owner", func(s device.Status) bool { return s.Pairing.OwnerUID != "" })
	if st.Pairing.OwnerUID != alice.uid {
		t.Errorf("device holds %+v", st.Pairing)
	}
	mu.Lock()
	defer mu.Unlock()
	if wakes[0] == wakes[1] {
		t.Errorf("the device woke twice from %s", wakes[0])
	}
}
