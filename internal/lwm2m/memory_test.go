package lwm2m

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/udp/coder"

	"github.com/nbpair/nbpair/internal/coapfront"
	"github.com/nbpair/nbpair/internal/testkit"
)

// What a stranger costs: refused Registers, each from its own source
// socket, keep the duplicate cache under its cap and its accounted size,
// start no goroutine that stays, and grow the heap by at most 1 KiB per
// source (go-coap's per-address connections cost ~9 KiB each).
func TestRefusedRegistersFromManySourcesStayBounded(t *testing.T) {
	testkit.Long(t, "20,000 refused sources")
	const sources, perSourceMax = 20000, 1024
	s, _, _ := startServer(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	refuseFromSources(ctx, t, s, 0, 500) // warm up pools, maps and the store's caches
	before, goroutines := heapAfterGC(), runtime.NumGoroutine()
	refuseFromSources(ctx, t, s, 500, 500+sources)
	after := heapAfterGC()
	st := s.FrontStats()
	growth := int64(after) - int64(before)
	t.Logf("%d sources: heap %+d bytes (%d per source); cache %d entries, %d bytes (%d per entry), %d evictions",
		sources, growth, growth/sources, st.DedupEntries, st.DedupBytes, st.DedupBytes/int64(max(st.DedupEntries, 1)), st.DedupEvictions)
	if growth > sources*perSourceMax {
		t.Errorf("the heap grew by %d bytes, %d per source; at most %d", growth, growth/sources, perSourceMax)
	}
	if st.DedupBytes > coapfront.DefaultDedupBytes {
		t.Errorf("duplicate cache at %d bytes, over its cap %d", st.DedupBytes, coapfront.DefaultDedupBytes)
	}
	if st.DedupEntries != sources+500 {
		t.Errorf("duplicate cache holds %d entries, want one per request (%d)", st.DedupEntries, sources+500)
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > goroutines+4 {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines, %d before the sources", runtime.NumGoroutine(), goroutines)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func heapAfterGC() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// refuseFromSources sends the Registers of unknown IMEIs from..to, each
// from a socket of its own, 32 at a time, and checks each is refused.
func refuseFromSources(ctx context.Context, t *testing.T, s *Server, from, to int) {
	t.Helper()
	var next atomic.Int64
	next.Store(int64(from))
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < to && ctx.Err() == nil; i = int(next.Add(1) - 1) {
				if err := refuseOne(s, i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatal("the sources did not finish in time")
	}
}

// refuseOne sends one Register from a new socket, retransmitting up to
// three times, and expects 4.03.
func refuseOne(s *Server, i int) error {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return err
	}
	defer c.Close()
	req := registerDatagramOf(uint16(i), fmt.Sprintf("99%013d", i))
	buf := make([]byte, 512)
	for range 4 {
		if _, err := c.WriteToUDP(req, s.Addr().(*net.UDPAddr)); err != nil {
			return err
		}
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := c.Read(buf)
		if err != nil {
			continue // lost under load: retransmit
		}
		var m message.Message
		m.Options = make(message.Options, 0, 8)
		if _, err := coder.DefaultCoder.Decode(buf[:n], &m); err != nil || m.Code != codes.Forbidden {
			return fmt.Errorf("source %d: answer %v (%v), want 4.03", i, m.Code, err)
		}
		return nil
	}
	return fmt.Errorf("source %d: no answer", i)
}

func registerDatagramOf(mid uint16, imei string) []byte {
	m := message.Message{Type: message.Confirmable, Code: codes.POST, MessageID: int32(mid), Token: []byte{1, 2, 3, 4},
		Options: message.Options{
			{ID: message.URIPath, Value: []byte("rd")},
			{ID: message.ContentFormat, Value: []byte{byte(message.AppLinkFormat)}},
			{ID: message.URIQuery, Value: []byte("ep=urn:imei:" + imei)},
			{ID: message.URIQuery, Value: []byte("lt=300")},
		}, Payload: []byte("</1/0>,</3/0>")}
	b := make([]byte, 256)
	n, err := coder.DefaultCoder.Encode(m, b)
	if err != nil {
		panic(err)
	}
	return b[:n]
}
