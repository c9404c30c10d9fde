package app_test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message/codes"

	"github.com/nbpair/nbpair/internal/apptest"
	"github.com/nbpair/nbpair/internal/config"
	"github.com/nbpair/nbpair/internal/pairing"
	"github.com/nbpair/nbpair/internal/testkit"
)

// auditPage is GET /v1/admin/audit's answer.
type auditPage struct {
	Entries []pairing.AuditEntry
	Total   int
}

// A device with the wrong PSK gets the server's fatal alert during its
// handshake, and the refusal is in the audit log with its identity and
// device, once per identity however often it tries.
func TestDTLSWrongKeyAlertAndAudit(t *testing.T) {
	n := apptest.Start(t, "")
	d := n.Provision(t, apptest.IMEI(610))
	wrong := pskOf(t, d)
	wrong[0] ^= 0xff
	for i := range 3 {
		start := time.Now()
		conn, err := pskHandshake(d.PSKIdentity, wrong, n.CoAPSAddr(), pskSuites...)
		took := time.Since(start)
		if conn != nil {
			conn.Close()
			t.Fatal("a wrong key completed the handshake")
		}
		if err == nil || !strings.Contains(err.Error(), "Alert Fatal: BadRecordMac") {
			t.Fatalf("handshake %d with a wrong key: %v, want the server's bad_record_mac alert", i, err)
		}
		t.Logf("wrong key, attempt %d: refused after %v: %v", i+1, took, err)
	}
	var page auditPage
	testkit.Eventually(t, "the refusal in the audit log", func() bool {
		code := n.API(t, "GET", "/v1/admin/audit?outcome=refused&action="+pairing.AuditDTLS, nil, &page)
		return code == http.StatusOK && len(page.Entries) > 0
	})
	e := page.Entries[0]
	if len(page.Entries) != 1 || e.DeviceID != d.ID || e.Actor != "device" || !strings.Contains(e.Detail, d.PSKIdentity) ||
		!strings.Contains(e.Detail, "wrong key") || e.RemoteAddr == "" {
		t.Errorf("audit entries after three wrong keys: %+v, want one naming %s and %s", page.Entries, d.PSKIdentity, d.ID)
	}
	if conn, err := pskHandshake(d.PSKIdentity, pskOf(t, d), n.CoAPSAddr(), pskSuites...); err != nil {
		t.Errorf("the right key after wrong ones: %v", err)
	} else {
		conn.Close()
	}
}

// strangerFlood sends a cookie-less ClientHello from each of n sources,
// each its own socket on 127.0.0.1, at most par at a time; a source whose
// answer does not come tries again, three times at most. It returns how
// many got a HelloVerifyRequest.
func strangerFlood(t testing.TB, addr string, n, par int) int64 {
	raddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	var answered atomic.Int64
	var wg sync.WaitGroup
	slots := make(chan struct{}, par)
	for range n {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			sock, err := net.DialUDP("udp", nil, raddr)
			if err != nil {
				t.Error(err)
				return
			}
			defer sock.Close()
			hello, buf := clientHello(t, 0), make([]byte, 512)
			for range 3 {
				sock.Write(hello)
				sock.SetReadDeadline(time.Now().Add(2 * time.Second))
				if n, err := sock.Read(buf); err == nil && n > 13 && buf[0] == 22 && buf[13] == 3 {
					answered.Add(1)
					return
				}
			}
		})
	}
	wg.Wait()
	return answered.Load()
}

func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// metricValue reads one sample of GET /metrics.
func metricValue(t *testing.T, n *apptest.Node, sample string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sample) + ` (\S+)$`).FindStringSubmatch(scrape(t, n))
	if m == nil {
		t.Fatalf("no %s in /metrics", sample)
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// 20,000 cookie-less ClientHellos, each from its own source, are all
// answered with a HelloVerifyRequest, start no handshake and leave the
// heap at most 1 KiB per source bigger, while a device does a handshake
// and registers during the flood and after it.
func TestDTLSStrangerHellosCostNothing(t *testing.T) {
	testkit.Long(t, "20,000 sources")
	const sources = 20000
	n := apptest.Start(t, "", func(c *config.Config) { c.LogLevel = "info" })
	during, after := n.Provision(t, apptest.IMEI(620)), n.Provision(t, apptest.IMEI(621))
	register := func(d apptest.Provisioned) error {
		cc, err := dialSecure(n.CoAPSAddr(), d.PSKIdentity, pskOf(t, d))
		if err != nil {
			return fmt.Errorf("handshake: %w", err)
		}
		defer cc.Close()
		if resp := post(t, cc, "/rd", "</1/0>,</3/0>", "ep=urn:imei:"+d.IMEI, "lt=300"); resp.Code() != codes.Created {
			return fmt.Errorf("Register: %v", resp.Code())
		}
		return nil
	}
	scrape(t, n) // the first scrape allocates what later ones reuse
	before := liveHeap()
	flooded := make(chan int64, 1)
	go func() { flooded <- strangerFlood(t, n.CoAPSAddr(), sources, 64) }()
	testkit.Eventually(t, "the flood to be under way", func() bool {
		return metricValue(t, n, "nbpair_dtls_hello_verify_requests_total") > sources/10
	})
	if err := register(during); err != nil {
		t.Errorf("the device during the flood: %v", err)
	}
	answered := <-flooded
	grown := int64(liveHeap()) - int64(before)
	if err := register(after); err != nil {
		t.Errorf("the device after the flood: %v", err)
	}
	started := metricValue(t, n, `nbpair_dtls_handshakes_total{event="started"}`)
	hvr := metricValue(t, n, "nbpair_dtls_hello_verify_requests_total")
	t.Logf("%d sources, %d answered (%v HelloVerifyRequests); handshakes started: %v; heap %+d bytes (%.1f per source)",
		sources, answered, hvr, started, grown, float64(grown)/sources)
	if answered != sources || started != 2 {
		t.Errorf("%d of %d sources answered; %v handshakes started, want the devices' 2", answered, sources, started)
	}
	if grown > sources*1024 {
		t.Errorf("the heap grew by %d bytes, more than 1 KiB per source", grown)
	}
	for _, d := range []apptest.Provisioned{during, after} {
		if v := secureStatus(t, n, d.ID); !v.Online || !v.Registration.Secure {
			t.Errorf("device %s: %+v", d.IMEI, v)
		}
	}
}

// residentBytes is this process's resident memory (VmRSS).
func residentBytes(b *testing.B) int64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skip("no /proc/self/status:", err)
	}
	m := regexp.MustCompile(`(?m)^VmRSS:\s+(\d+) kB$`).FindSubmatch(raw)
	if m == nil {
		b.Fatal("no VmRSS in /proc/self/status")
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb << 10
}

// BenchmarkDTLSStrangerHellos measures what cookie-less ClientHellos, each
// from its own source, cost the server in this process: live heap and
// resident memory per source, right after each flood of 20,000 (run it
// with -benchtime 1x; the flood's client sockets are closed by then).
func BenchmarkDTLSStrangerHellos(b *testing.B) {
	const sources = 20000
	n := apptest.Start(b, "", func(c *config.Config) { c.LogLevel = "warn" })
	heap0, rss0 := liveHeap(), residentBytes(b)
	var answered int64
	for b.Loop() {
		answered += strangerFlood(b, n.CoAPSAddr(), sources, 64)
	}
	heap1, rss1 := liveHeap(), residentBytes(b)
	all := float64(sources * b.N)
	b.ReportMetric(float64(int64(heap1)-int64(heap0))/all, "heap-B/source")
	b.ReportMetric(float64(rss1-rss0)/all, "rss-B/source")
	b.ReportMetric(float64(answered)/all, "answered/source")
}
