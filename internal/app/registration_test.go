package app

import (
	"bytes"
	"context"
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
	var body *bytes.Reader
	if payload != "" {
		body = bytes.NewReader([]byte(payload))
	}
	var resp *pool.Message
	var err error
	if body == nil {
		resp, err = cc.Post(ctx, path, message.AppLinkFormat, nil, opts...)
	} else {
		resp, err = cc.Post(ctx, path, message.AppLinkFormat, body, opts...)
	}
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
	n := startNode(t, "")
	d := n.provision(t, imei(1))
	cc := rawDevice(t, n.CoAPAddr())

	resp := post(t, cc, "/rd", "</1/0>,</3/0>", "ep=urn:imei:"+d.IMEI, "lt=60", "lwm2m=1.1", "b=U", "Q")
	if resp.Code() != codes.Created {
		t.Fatalf("Register: got %v, want 2.01", resp.Code())
	}
	loc := location(t, resp)
	if !strings.HasPrefix(loc, "rd/") {
		t.Fatalf("Location-Path %q, want rd/<id>", loc)
	}
	got := n.device(t, d.ID)
	if !got.Online || got.Reg == nil || got.Reg.Endpoint != "urn:imei:"+d.IMEI || got.Reg.Lifetime != 60 || !got.Reg.QueueMode {
		t.Fatalf("after Register the admin API shows %+v", got)
	}
	if want := cc.LocalAddr().String(); got.Reg.Addr != want {
		t.Errorf("source address %q, want %q", got.Reg.Addr, want)
	}

	if resp := post(t, cc, "/"+loc, "", "lt=120"); resp.Code() != codes.Changed {
		t.Fatalf("Update: got %v, want 2.04", resp.Code())
	}
	if got := n.device(t, d.ID); got.Reg.Lifetime != 120 {
		t.Errorf("Update did not change the lifetime: %d", got.Reg.Lifetime)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	del, err := cc.Delete(ctx, "/"+loc)
	if err != nil || del.Code() != codes.Deleted {
		t.Fatalf("De-register: %v %v, want 2.02", del, err)
	}
	if got := n.device(t, d.ID); got.Online || got.Reg != nil {
		t.Errorf("after De-register the device is still online: %+v", got)
	}
	if resp := post(t, cc, "/"+loc, ""); resp.Code() != codes.NotFound {
		t.Errorf("Update after De-register: got %v, want 4.04", resp.Code())
	}
}
