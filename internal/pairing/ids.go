package pairing

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/hex"
)

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand documents it)
	return b
}

// newDeviceID returns a stable, unguessable device ID such as
// "dev_mfrggzdfmztwq2lk".
func newDeviceID() string { return "dev_" + idEncoding.EncodeToString(randomBytes(10)) }

// newNbID returns a pairing ID: 128 random bits as 32 hex digits.
func newNbID() string { return hex.EncodeToString(randomBytes(16)) }

// newRegistrationID returns the short ID of an LwM2M registration, the
// rd/<id> a device sends its Updates to. It is short because every NB-IoT
// byte costs, and random so that it cannot be guessed.
func newRegistrationID() string { return idEncoding.EncodeToString(randomBytes(8)) }

// newUserID returns a user ID (the seed's uid).
func newUserID() string { return "u_" + idEncoding.EncodeToString(randomBytes(10)) }

// newHomeID returns a home ID (the seed's spaceId).
func newHomeID() string { return "h_" + idEncoding.EncodeToString(randomBytes(10)) }

// newActivationID returns an activation ID.
func newActivationID() string { return "act_" + idEncoding.EncodeToString(randomBytes(10)) }

// ValidNbID reports whether s has the form of a pairing ID.
func ValidNbID(s string) bool {
	if len(s) != 32 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}
