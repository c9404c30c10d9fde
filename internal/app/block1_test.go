package app_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/testkit"
)

// TestInteropLibcoapBlock1Register registers through libcoap's client
// sending the link-format list in Block1 blocks of 32 bytes (-b 32), as
// Wakaama and Zephyr do when the list exceeds their block size: the
// plain front reassembles it and the device registers with every object.
func TestInteropLibcoapBlock1Register(t *testing.T) {
	bin := requireTool(t, libcoapClient)
	n := apptest.Start(t, "")
	d := n.Provision(t, apptest.IMEI(11))
	want := []string{"/1/0", "/3/0", "/33050/0"}
	for i := range 30 {
		want = append(want, fmt.Sprintf("/%d/0", 3300+i))
	}
	links := make([]string, len(want))
	for i, w := range want {
		links[i] = "<" + w + ">"
	}
	payload := strings.Join(links, ",")
	if len(payload) <= 4*32 {
		t.Fatalf("payload of %d bytes is too short to need several blocks", len(payload))
	}

	reg := libcoapRequest(t, bin, "-m", "post", "-b", "32", "-t", "40", "-e", payload,
		"coap://"+n.CoAPAddr()+"/rd?ep=urn:imei:"+d.IMEI+"&lt=60&lwm2m=1.1&b=U")
	if reg.Code != "2.01" {
		t.Fatalf("Register in blocks: got %s %q, want 2.01", reg.Code, reg.Payload)
	}
	if len(reg.LocationPath) != 2 || reg.LocationPath[0] != "rd" {
		t.Fatalf("Register in blocks: Location-Path %q, want rd/<id>", reg.LocationPath)
	}
	var got apptest.Provisioned
	testkit.Eventually(t, "the admin API to show every object", func() bool {
		got = n.Device(t, d.ID)
		return got.Online && got.Reg != nil && strings.Join(got.Reg.Objects, ",") == strings.Join(want, ",")
	})
	text := scrape(t, n)
	for _, line := range []string{`nbpair_coap_block1_ended_total{result="completed"} 1`, "nbpair_coap_block1_in_progress 0"} {
		if !strings.Contains(text, line) {
			t.Errorf("GET /metrics lacks %q", line)
		}
	}
}
