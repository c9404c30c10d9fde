package main

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/udp"

	"github.com/nbpair/nbpair/internal/testkit"
)

// registerCode sends one Register of imei to a node's CoAP port from a
// fresh socket and returns the answer's code.
func registerCode(t *testing.T, addr, imei string) codes.Code {
	t.Helper()
	cc, err := udp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opts := []message.Option{}
	for _, q := range []string{"ep=urn:imei:" + imei, "lt=300", "lwm2m=1.1", "b=U"} {
		opts = append(opts, message.Option{ID: message.URIQuery, Value: []byte(q)})
	}
	resp, err := cc.Post(ctx, "/rd", message.AppLinkFormat, bytes.NewReader([]byte("</1/0>,</3/0>")), opts...)
	if err != nil {
		t.Fatalf("Register of %s at %s: %v", imei, addr, err)
	}
	return resp.Code()
}

// A block made on one node refuses the device on the other, which had
// met the device before; an unblock made there lets it register on the
// first again.
func TestBlockAcrossNodes(t *testing.T) {
	c := newCluster(t)
	a := c.addNode(t, "A")
	b := c.addNode(t, "B")
	d := c.provision(t, a, clusterIMEI(40))
	if code := registerCode(t, b.coap, d.IMEI); code != codes.Created {
		t.Fatalf("Register on B before the block: %v", code)
	}
	if code := c.adminCall(t, a, "PUT", "/v1/admin/devices/"+d.ID+"/block", map[string]string{"reason": "test"}, nil); code != http.StatusOK {
		t.Fatalf("block on A: HTTP %d", code)
	}
	var last codes.Code
	testkit.Eventually(t, "B to refuse the device blocked on A", func() bool {
		last = registerCode(t, b.coap, d.IMEI)
		return last == codes.Forbidden
	})
	var v struct{ Blocked *struct{ Reason string } }
	if c.adminCall(t, b, "GET", "/v1/admin/devices/"+d.ID, nil, &v); v.Blocked == nil || v.Blocked.Reason != "test" {
		t.Errorf("B shows the device as %+v, want blocked", v)
	}

	if code := c.adminCall(t, b, "DELETE", "/v1/admin/devices/"+d.ID+"/block", nil, nil); code != http.StatusOK {
		t.Fatalf("unblock on B: HTTP %d", code)
	}
	testkit.Eventually(t, "A to let the device unblocked on B register", func() bool {
		return registerCode(t, a.coap, d.IMEI) == codes.Created
	})
	if n := c.dbInt(t, "SELECT count(*) FROM audit_log WHERE device_id = $1 AND action IN ('block', 'unblock')", d.ID); n != 2 {
		t.Errorf("%d block and unblock entries in the audit log, want 2", n)
	}
}
