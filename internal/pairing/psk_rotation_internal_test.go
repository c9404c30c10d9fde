package pairing

import (
	"testing"
	"time"
)

// The key a node offers during a rotation, handshake by handshake: the
// old one until it fails, then the new one; a completed handshake with
// the new key ends the rotation's entry.
func TestRotatingKeysOffer(t *testing.T) {
	const id = "urn:imei:868000000000001"
	oldKey, newKey := []byte("old-key-16-bytes"), []byte("new-key-16-bytes")
	r := PSKRotation{DeviceID: "dev_1", StartedAt: time.Unix(1, 0), Deadline: time.Unix(100, 0)}
	steps := []struct {
		name      string
		offerNew  bool   // what the node offers before the handshake
		key       []byte // the key it offered
		ok        bool   // whether the handshake completed
		wantNew   bool   // used reports the new key
		wantKnown bool
	}{
		{"the old key works", false, oldKey, true, false, true},
		{"still the old key", false, oldKey, true, false, true},
		{"the device switched: the old key is wrong", false, oldKey, false, false, true},
		{"the new key is offered and works", true, newKey, true, true, true},
		{"the rotation is over here", false, newKey, true, false, false},
	}
	var k rotatingKeys
	k.pending(id, r, newKey)
	for _, s := range steps {
		if got := k.offerNew(id); got != s.offerNew {
			t.Fatalf("%s: offers the new key %v, want %v", s.name, got, s.offerNew)
		}
		_, isNew, known := k.used(id, s.key, s.ok)
		if isNew != s.wantNew || known != s.wantKnown {
			t.Fatalf("%s: used = new %v known %v, want %v %v", s.name, isNew, known, s.wantNew, s.wantKnown)
		}
	}

	// A wrong new key (the device still has the old one) flips back.
	k.pending(id, r, newKey)
	k.used(id, oldKey, false)
	if !k.offerNew(id) {
		t.Fatal("after the old key failed the node does not offer the new one")
	}
	k.used(id, newKey, false)
	if k.offerNew(id) {
		t.Fatal("after the new key failed the node does not offer the old one again")
	}
	// A newer rotation replaces the entry; one already known is kept.
	k.used(id, oldKey, false)
	k.pending(id, r, newKey)
	if !k.offerNew(id) {
		t.Fatal("the same rotation reset what the node offers")
	}
	r2 := r
	r2.StartedAt = time.Unix(2, 0)
	k.pending(id, r2, []byte("newer-key-16byte"))
	if k.offerNew(id) {
		t.Fatal("a newer rotation kept the older one's choice")
	}
}
