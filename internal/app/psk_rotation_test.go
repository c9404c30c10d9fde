package app_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"

	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/testkit"
)

// tryRegister makes a new DTLS session with key and sends a Register on
// it; an error is a handshake (or exchange) that failed.
func tryRegister(n *apptest.Node, imei string, key []byte) (codes.Code, error) {
	cc, err := dialSecure(n.CoAPSAddr(), "urn:imei:"+imei, key)
	if err != nil {
		return 0, err
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
		return 0, err
	}
	return resp.Code(), nil
}

// registerWith registers with key, trying up to attempts handshakes (a
// device retries a refused one), and returns how many it took.
func registerWith(t *testing.T, n *apptest.Node, imei string, key []byte, attempts int) int {
	t.Helper()
	var last error
	for i := 1; i <= attempts; i++ {
		code, err := tryRegister(n, imei, key)
		if err == nil && code == codes.Created {
			return i
		}
		last = fmt.Errorf("%v %v", code, err)
	}
	t.Fatalf("no Register with the key in %d handshakes: %v", attempts, last)
	return 0
}

type rotated struct {
	ID, PSKIdentity, PSK string
	Deadline             time.Time
}

func rotate(t *testing.T, n *apptest.Node, id, deadline string) []byte {
	t.Helper()
	var r rotated
	if code := n.API(t, "POST", "/v1/admin/devices/"+id+"/psk", map[string]string{"deadline": deadline}, &r); code != http.StatusOK {
		t.Fatalf("rotate: HTTP %d", code)
	}
	key, err := hex.DecodeString(r.PSK)
	if err != nil || len(key) != 16 {
		t.Fatalf("the new key %q", r.PSK)
	}
	return key
}

// During a rotation both keys work: the old one until the device has
// completed a handshake with the new one; then only the new one.
func TestPSKRotation(t *testing.T) {
	n := apptest.Start(t, "")
	d := n.Provision(t, apptest.IMEI(530))
	old := pskOf(t, d)
	registerWith(t, n, d.IMEI, old, 1)

	fresh := rotate(t, n, d.ID, "1h")
	if bytes.Equal(fresh, old) {
		t.Fatal("the new key is the old one")
	}
	var v struct{ PSKRotation *struct{ Deadline time.Time } }
	if n.API(t, "GET", "/v1/admin/devices/"+d.ID, nil, &v); v.PSKRotation == nil {
		t.Errorf("the device shows no rotation under way")
	}
	for i := range 3 {
		if code, err := tryRegister(n, d.IMEI, old); err != nil || code != codes.Created {
			t.Fatalf("Register %d with the old key during the rotation: %v %v", i+1, code, err)
		}
	}
	// The node offers the key that last worked: the device's first
	// handshake with the new key is refused, its retry completes.
	took := registerWith(t, n, d.IMEI, fresh, 3)
	t.Logf("the first Register with the new key took %d handshakes", took)
	if code, err := tryRegister(n, d.IMEI, old); err == nil {
		t.Errorf("the old key still works after a handshake with the new one: %v", code)
	}
	registerWith(t, n, d.IMEI, fresh, 1)
	v.PSKRotation = nil
	if n.API(t, "GET", "/v1/admin/devices/"+d.ID, nil, &v); v.PSKRotation != nil {
		t.Errorf("the device still shows a rotation: %+v", v.PSKRotation)
	}
	for _, action := range []string{"psk-rotate", "psk-rotated"} {
		if got := auditCount(t, n, d.ID, action, "ok"); got != 1 {
			t.Errorf("%d %s entries in the audit log, want 1", got, action)
		}
	}
}

// A device that never uses its new key loses the old one at the deadline.
func TestPSKRotationDeadline(t *testing.T) {
	n := apptest.Start(t, "")
	d := n.Provision(t, apptest.IMEI(531))
	old := pskOf(t, d)
	registerWith(t, n, d.IMEI, old, 1)
	fresh := rotate(t, n, d.ID, "1s")
	testkit.Eventually(t, "the old key refused after the deadline", func() bool {
		_, err := tryRegister(n, d.IMEI, old)
		return err != nil
	})
	if took := registerWith(t, n, d.IMEI, fresh, 1); took != 1 {
		t.Errorf("the new key took %d handshakes after the deadline", took)
	}
	var log struct {
		Entries []struct{ Detail string }
	}
	n.API(t, "GET", "/v1/admin/audit?deviceId="+d.ID+"&action=psk-rotated", nil, &log)
	if len(log.Entries) != 1 || log.Entries[0].Detail != "the deadline passed" {
		t.Errorf("the audit of the rotation's end: %+v", log.Entries)
	}
}
