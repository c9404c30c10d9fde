package app

import "testing"

// coapMaxRetransmit 0 means no retransmission, which lwm2m.Config spells
// as a negative number (its zero is the default).
func TestMaxRetransmitZeroIsNone(t *testing.T) {
	for give, want := range map[int]int{0: -1, 1: 1, 4: 4} {
		if got := maxRetransmit(give); got != want {
			t.Errorf("maxRetransmit(%d) = %d, want %d", give, got, want)
		}
	}
}
