package pairing

import (
	"fmt"
	"strings"
	"testing"
)

// TestHotIndexSharedBounded: the strings the index shares among devices
// stay bounded however many distinct values devices send.
func TestHotIndexSharedBounded(t *testing.T) {
	x := newHotIndex()
	x.mu.Lock()
	defer x.mu.Unlock()
	for i := range 2 * maxShared {
		d := Device{ID: fmt.Sprintf("d%d", i), ProductID: DefaultProductID, IMEI: fmt.Sprintf("35%013d", i)}
		h := x.add(d, true)
		// A binding of U, S, N and T letters, distinct for each device.
		b := strings.NewReplacer("0", "U", "1", "S", "2", "N", "3", "T").Replace(fmt.Sprintf("%08s", toBase4(i)))
		x.setReg(h, &Registration{ID: newRegistrationID(), DeviceID: d.ID, Version: "1.1", Binding: b,
			Objects: []string{fmt.Sprintf("/%d/0", i)}})
		if h.reg.Binding != b {
			t.Fatalf("binding %q kept as %q", b, h.reg.Binding)
		}
	}
	if len(x.shared) > maxShared || len(x.lists) > maxShared {
		t.Errorf("%d shared strings and %d shared lists, want at most %d each", len(x.shared), len(x.lists), maxShared)
	}
}

func toBase4(n int) string {
	var b []byte
	for ; n > 0; n /= 4 {
		b = append([]byte{byte('0' + n%4)}, b...)
	}
	return string(b)
}
