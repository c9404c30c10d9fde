package webhooks

import "testing"

// TestSign: the signature is HMAC-SHA256 of the raw body keyed with the
// secret's text, as RFC 4231's test case 2 gives it.
func TestSign(t *testing.T) {
	got := Sign([]byte("Jefe"), []byte("what do ya want for nothing?"))
	want := "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
	if got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
	if !Verify([]byte("Jefe"), []byte("what do ya want for nothing?"), want) || Verify([]byte("jefe"), []byte("what do ya want for nothing?"), want) {
		t.Fatal("Verify does not tell the right key from a wrong one")
	}
}
