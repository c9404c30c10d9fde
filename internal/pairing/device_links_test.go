package pairing

import (
	"reflect"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/nbpair/nbpair/internal/wire"
)

func TestFormatOrder(t *testing.T) {
	const (
		json, cbor, tlv, text = wire.FormatSenMLJSON, wire.FormatSenMLCBOR, wire.FormatTLV, wire.FormatText
	)
	for name, tt := range map[string]struct {
		version, ct string
		accepted    int // plus one, as deviceLink keeps it
		want        []int
	}{
		"1.1 without a hint":       {"1.1", "", 0, []int{json, cbor, tlv, text}},
		"1.0 without a hint":       {"1.0", "", 0, []int{tlv, json, cbor, text}},
		"wakaama 1.1":              {"1.1", "110", 0, []int{json, cbor, tlv, text}},
		"cbor announced":           {"1.1", "112", 0, []int{cbor, json, tlv, text}},
		"tlv announced":            {"1.1", "11542", 0, []int{tlv, json, cbor, text}},
		"a hint nbpair cannot use": {"1.1", "11543", 0, []int{json, cbor, tlv, text}},
		"1.0 with a hint":          {"1.0", "110", 0, []int{json, tlv, cbor, text}},
		"several hints":            {"1.1", "11543 112 0", 0, []int{cbor, text, json, tlv}},
		"learned text":             {"1.1", "110", text + 1, []int{text, json, cbor, tlv}},
		"learned tlv on 1.1":       {"1.1", "", tlv + 1, []int{tlv, json, cbor, text}},
	} {
		got := formatOrder(Registration{Version: tt.version, ContentFormat: tt.ct}, deviceLink{accepted: int32(tt.accepted)})
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: %v, want %v", name, got, tt.want)
		}
	}
}

// Only a device that taught something has an entry: one that took the
// first format it was offered costs nothing.
func TestLearnFormat(t *testing.T) {
	s := &Service{}
	r := Registration{DeviceID: "d1", Version: "1.1", ContentFormat: "110"}
	s.learnFormat(r, WriteResult{Format: wire.FormatSenMLJSON}, nil)
	if s.links.len() != 0 {
		t.Fatalf("an entry for a device that took the first format: %+v", s.links.get("d1"))
	}
	s.learnFormat(r, WriteResult{Format: wire.FormatText, Refused: []int{110, 112, 11542}}, nil)
	if got := formatOrder(r, s.links.get("d1"))[0]; got != wire.FormatText {
		t.Fatalf("after text worked, the first format is %d", got)
	}
	// A firmware update: the device takes SenML JSON again after refusing text.
	s.learnFormat(r, WriteResult{Format: wire.FormatSenMLJSON, Refused: []int{wire.FormatText}}, nil)
	if s.links.len() != 0 {
		t.Errorf("the entry stays though the device takes the first format again: %+v", s.links.get("d1"))
	}
}

func TestLearnAwake(t *testing.T) {
	s := &Service{opts: Options{AwakeWindow: 93 * time.Second}}
	r := Registration{DeviceID: "d1", QueueMode: true}
	if got := s.awakeFor(r); got != 93*time.Second {
		t.Fatalf("nothing learned: %v", got)
	}
	s.learnAwake(r, 200*time.Millisecond, 700*time.Millisecond, true)
	s.learnAwake(r, 6*time.Second, 0, false) // asleep 6 s after its uplink
	if got := s.awakeFor(r); got != 6*time.Second {
		t.Fatalf("after no answer 6 s after an uplink: %v", got)
	}
	s.learnAwake(r, 100*time.Millisecond, 0, false) // one lost datagram
	if got := s.awakeFor(r); got != minLearnedAwake {
		t.Fatalf("after no answer at once: %v, want the floor %v", got, minLearnedAwake)
	}
	s.learnAwake(r, 4*time.Second, 4500*time.Millisecond, true) // awake longer than that after all
	if got := s.awakeFor(r); got != 93*time.Second {
		t.Errorf("an answer later than the learned awake time leaves %v", got)
	}
	s.learnAwake(Registration{DeviceID: "d2"}, 6*time.Second, 0, false)
	if s.links.get("d2") != (deviceLink{}) {
		t.Error("learned an awake time of a device not in queue mode")
	}
}

// What the service remembers of devices stays under MaxDeviceLinks however
// many devices teach it something.
func TestDeviceLinksBounded(t *testing.T) {
	var l deviceLinks
	for i := range MaxDeviceLinks + 1000 {
		l.update("dev_"+strconv.Itoa(i), func(e *deviceLink) { e.attempts = 1 })
	}
	if n := l.len(); n != MaxDeviceLinks {
		t.Fatalf("%d entries, want the bound %d", n, MaxDeviceLinks)
	}
	var some string
	for id := range l.m {
		some = id
		break
	}
	l.update(some, func(e *deviceLink) { *e = deviceLink{} })
	if n := l.len(); n != MaxDeviceLinks-1 {
		t.Errorf("%d entries after an entry learned nothing any more, want %d", n, MaxDeviceLinks-1)
	}
}

// BenchmarkDeviceLinksMemory reports the heap a full map of what the
// service learned of devices takes, per device.
func BenchmarkDeviceLinksMemory(b *testing.B) {
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		var l deviceLinks
		for i := range MaxDeviceLinks {
			l.update("dev_"+strconv.Itoa(100000000+i)+"abcdefgh", func(e *deviceLink) { e.awakeMin, e.accepted = 700, 1 })
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/MaxDeviceLinks, "bytes/device")
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "MiB-full")
		runtime.KeepAlive(&l)
	}
}
