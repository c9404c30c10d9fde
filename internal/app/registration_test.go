package app_test

import (
	"bytes"
	"context"
	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/testkit"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/message/pool"
	"github.com/plgd-dev/go-coap/v3/udp"
	"github.com/plgd-dev/go-coap/v3/udp/client"
)

// rawDevice is a device played by a plain go-coap client, to drive the
// registration interface request by request.
func rawDevice(t *testing.T, addr string) *client.Conn {
	t.Helper()
	cc, err := udp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

func post(t *testing.T, cc *client.Conn, path, payload string, queries ...string) *pool.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var opts []message.Option
	for _, q := range queries {
		opts = append(opts, message.Option{ID: message.URIQuery, Value: []byte(q)})
	}
	var body io.ReadSeeker // a nil *bytes.Reader inside it would not be a nil body
	if payload != "" {
		body = bytes.NewReader([]byte(payload))
	}
	resp, err := cc.Post(ctx, path, message.AppLinkFormat, body, opts...)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	return resp
}

func location(t *testing.T, resp *pool.Message) string {
	t.Helper()
	loc, err := resp.Options().LocationPath()
	if err != nil {
		t.Fatalf("no Location-Path in %v", resp)
	}
	return strings.TrimPrefix(loc, "/")
}

func TestRegisterUpdateDeregister(t *testing.T) {
	n := apptest.Start(t, "")
	d := n.Provision(t, apptest.IMEI(1))
	cc := rawDevice(t, n.CoAPAddr())

	resp := post(t, cc, "/rd", "</1/0>,</3/0>", "ep=urn:imei:"+d.IMEI, "lt=60", "lwm2m=1.1", "b=U", "Q")
	if resp.Code() != codes.Created {
		t.Fatalf("Register: got %v, want 2.01", resp.Code())
	}
	loc := location(t, resp)
	if !strings.HasPrefix(loc, "rd/") {
		t.Fatalf("Location-Path %q, want rd/<id>", loc)
	}
	got := n.Device(t, d.ID)
	if !got.Online || got.Reg == nil || got.Reg.Endpoint != "urn:imei:"+d.IMEI || got.Reg.Lifetime != 60 || !got.Reg.QueueMode {
		t.Fatalf("after Register the admin API shows %+v", got)
	}
	if want := cc.LocalAddr().String(); got.Reg.Addr != want {
		t.Errorf("source address %q, want %q", got.Reg.Addr, want)
	}

	if resp := post(t, cc, "/"+loc, "", "lt=120"); resp.Code() != codes.Changed {
		t.Fatalf("Update: got %v, want 2.04", resp.Code())
	}
	if got := n.Device(t, d.ID); got.Reg.Lifetime != 120 {
		t.Errorf("Update did not change the lifetime: %d", got.Reg.Lifetime)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	del, err := cc.Delete(ctx, "/"+loc)
	if err != nil || del.Code() != codes.Deleted {
		t.Fatalf("De-register: %v %v, want 2.02", del, err)
	}
	if got := n.Device(t, d.ID); got.Online || got.Reg != nil {
		t.Errorf("after De-register the device is still online: %+v", got)
	}
	if resp := post(t, cc, "/"+loc, ""); resp.Code() != codes.NotFound {
		t.Errorf("Update after De-register: got %v, want 4.04", resp.Code())
	}
}

func TestRegistrationBadInput(t *testing.T) {
	n := apptest.Start(t, "")
	good := n.Provision(t, apptest.IMEI(10))
	other := n.Provision(t, apptest.IMEI(11))
	sock := dialRaw(t, n.CoAPAddr())
	reg := sock.exchange(t, rawRequest{typ: message.Confirmable, code: codes.POST, mid: 1, path: []string{"rd"},
		queries: []string{"ep=urn:imei:" + good.IMEI, "lt=300"}, payload: "</1/0>,</3/0>"})
	if reg.Code != codes.Created {
		t.Fatalf("good Register: %v", reg.Code)
	}
	before := n.Device(t, good.ID)

	ep := "ep=urn:imei:" + other.IMEI
	tests := []struct {
		name string
		req  rawRequest
		want codes.Code
	}{
		{"missing ep", rawRequest{queries: []string{"lt=60"}, payload: "</1/0>"}, codes.BadRequest},
		{"non-numeric lt", rawRequest{queries: []string{ep, "lt=soon"}, payload: "</1/0>"}, codes.BadRequest},
		{"zero lt", rawRequest{queries: []string{ep, "lt=0"}, payload: "</1/0>"}, codes.BadRequest},
		{"absurd lt", rawRequest{queries: []string{ep, "lt=99999999999"}, payload: "</1/0>"}, codes.BadRequest},
		{"unknown lwm2m version", rawRequest{queries: []string{ep, "lwm2m=9.9"}, payload: "</1/0>"}, codes.BadRequest},
		{"no payload", rawRequest{queries: []string{ep}}, codes.BadRequest},
		{"malformed link format", rawRequest{queries: []string{ep}, payload: "</1/0,</3/0>"}, codes.BadRequest},
		{"link to a non-object", rawRequest{queries: []string{ep}, payload: "</one/0>"}, codes.BadRequest},
		{"oversized link format", rawRequest{queries: []string{ep}, payload: strings.Repeat("</3/0>,", 800) + "</3/0>"}, codes.BadRequest},
		{"unknown endpoint", rawRequest{queries: []string{"ep=urn:imei:999999999999999"}, payload: "</1/0>"}, codes.Forbidden},
		{"endpoint that is not an IMEI", rawRequest{queries: []string{"ep=my-sensor"}, payload: "</1/0>"}, codes.Forbidden},
		{"auto-registration to a product that does not allow it", rawRequest{queries: []string{"ep=urn:imei:999999999999998", "pid=default"}, payload: "</1/0>"}, codes.Forbidden},
		{"non-confirmable Register", rawRequest{typ: message.NonConfirmable, queries: []string{ep}, payload: "</1/0>"}, codes.BadRequest},
		{"Update of an unknown registration", rawRequest{path: []string{"rd", "nosuchregistration"}}, codes.NotFound},
		{"De-register of an unknown registration", rawRequest{code: codes.DELETE, path: []string{"rd", "nosuchregistration"}}, codes.NotFound},
		{"GET on the registration interface", rawRequest{code: codes.GET}, codes.MethodNotAllowed},
		{"unknown resource", rawRequest{path: []string{"bs"}}, codes.NotFound},
	}
	forbidden := map[string]bool{} // the diagnostics of the 4.03 answers
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.req
			if r.code == 0 {
				r.code = codes.POST
			}
			if r.path == nil {
				r.path = []string{"rd"}
			}
			r.mid = uint16(100 + i)
			resp := sock.exchange(t, r)
			if resp.Code != tt.want {
				t.Errorf("got %v (%q), want %v", resp.Code, resp.Payload, tt.want)
			}
			if resp.Code >= codes.BadRequest && len(resp.Payload) == 0 {
				t.Errorf("error answer without a diagnostic payload")
			}
			if resp.Code == codes.Forbidden {
				forbidden[string(resp.Payload)] = true
			}
		})
	}
	// A plain CoAP sender learns nothing from why it was refused: not
	// whether the IMEI is provisioned, nor for which product.
	if len(forbidden) != 1 {
		t.Errorf("4.03 diagnostics differ by reason: %v", forbidden)
	}
	for msg := range forbidden {
		if strings.Contains(msg, "999999999999") || strings.Contains(msg, `"default"`) {
			t.Errorf("4.03 diagnostic %q names the IMEI or the product", msg)
		}
	}

	t.Run("malformed datagrams", func(t *testing.T) {
		for _, junk := range [][]byte{{0xff}, {0x40, 0x02}, []byte("GET / HTTP/1.1\r\n\r\n"), {0x48, 0x02, 0, 1, 1, 2}} {
			sock.send(t, junk)
		}
		// The server keeps serving: the next request is answered.
		resp := sock.exchange(t, rawRequest{typ: message.Confirmable, code: codes.POST, mid: 999, path: []string{"rd", "nosuch"}})
		if resp.Code != codes.NotFound {
			t.Errorf("after junk: %v", resp.Code)
		}
	})

	after := n.Device(t, good.ID)
	if !after.Online || after.Reg == nil || after.Reg.ID != before.Reg.ID {
		t.Errorf("bad input disturbed a stored registration: before %+v, after %+v", before.Reg, after.Reg)
	}
	if d := n.Device(t, other.ID); d.Online {
		t.Errorf("a refused Register left %s online", other.ID)
	}
}

func TestRetransmittedRegisterProcessedOnce(t *testing.T) {
	n := apptest.Start(t, "")
	d := n.Provision(t, apptest.IMEI(20))
	sock := dialRaw(t, n.CoAPAddr())
	req := rawRequest{typ: message.Confirmable, code: codes.POST, mid: 7, path: []string{"rd"},
		queries: []string{"ep=urn:imei:" + d.IMEI}, payload: "</1/0>,</3/0>"}
	first := sock.exchange(t, req)
	second := sock.exchange(t, req) // same message ID, same source: a retransmission
	if first.Code != codes.Created || second.Code != codes.Created {
		t.Fatalf("answers %v and %v, want 2.01 twice", first.Code, second.Code)
	}
	if locationOf(first) != locationOf(second) {
		t.Fatalf("the retransmission was processed again: locations %q and %q", locationOf(first), locationOf(second))
	}
	if got := n.Device(t, d.ID); got.Reg == nil || "rd/"+got.Reg.ID != locationOf(first) {
		t.Fatalf("stored registration %+v, answered %q", got.Reg, locationOf(first))
	}
	// A new message ID is a new Register and gets a new registration.
	req.mid = 8
	if third := sock.exchange(t, req); locationOf(third) == locationOf(first) {
		t.Errorf("a new Register (new message ID) reused location %q", locationOf(third))
	}
}

func TestLifetimeExpiry(t *testing.T) {
	n := apptest.Start(t, "")
	d := n.Provision(t, apptest.IMEI(30))
	cc := rawDevice(t, n.CoAPAddr())
	resp := post(t, cc, "/rd", "</1/0>,</3/0>", "ep=urn:imei:"+d.IMEI, "lt=2")
	if resp.Code() != codes.Created {
		t.Fatalf("Register: %v", resp.Code())
	}
	if !n.Device(t, d.ID).Online {
		t.Fatal("not online right after Register")
	}
	testkit.Eventually(t, "the registration to expire", func() bool {
		got := n.Device(t, d.ID)
		return !got.Online && got.Reg == nil
	})
	if resp := post(t, cc, "/"+location(t, resp), ""); resp.Code() != codes.NotFound {
		t.Errorf("Update after expiry: got %v, want 4.04 (the device must Register again)", resp.Code())
	}
}

func TestAutoRegistration(t *testing.T) {
	n := apptest.Start(t, "")
	if code := n.API(t, "POST", "/v1/admin/products", map[string]any{"id": "meter", "name": "Water meter", "autoRegister": true}, nil); code != 201 {
		t.Fatalf("create product: HTTP %d", code)
	}
	cc := rawDevice(t, n.CoAPAddr())
	ep := "urn:imei:" + apptest.IMEI(40)
	if resp := post(t, cc, "/rd", "</1/0>", "ep="+ep, "pid=meter"); resp.Code() != codes.Created {
		t.Fatalf("auto-registration: %v", resp.Code())
	}
	got := n.Device(t, apptest.IMEI(40)) // the admin API finds devices by IMEI too
	if got.ID == "" || !got.Online || got.NbID == "" {
		t.Fatalf("auto-registered device: %+v", got)
	}
}

func TestRestartKeepsIdentities(t *testing.T) {
	dir := t.TempDir()
	n := apptest.Start(t, dir)
	d := n.Provision(t, apptest.IMEI(50))
	cc := rawDevice(t, n.CoAPAddr())
	if resp := post(t, cc, "/rd", "</1/0>", "ep=urn:imei:"+d.IMEI, "lt=3600"); resp.Code() != codes.Created {
		t.Fatalf("Register: %v", resp.Code())
	}
	n.Stop(t)

	n2 := apptest.Start(t, dir)
	got := n2.Device(t, d.ID)
	if got.ID != d.ID || got.NbID != d.NbID || got.IMEI != d.IMEI {
		t.Fatalf("after restart: %+v, before: %+v", got, d)
	}
	if !got.Online {
		t.Errorf("a registration with time left did not survive the restart")
	}
	if n2.Token != n.Token {
		t.Errorf("the admin token changed across a restart")
	}
}
