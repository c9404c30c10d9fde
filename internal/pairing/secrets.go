package pairing

import (
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
)

// PSKLen is the length of a device's pre-shared key: 128 bits, what
// TLS_PSK_WITH_AES_128_* needs.
const PSKLen = 16

// SecretKeyLen is the length of the key that seals device PSKs at rest.
const SecretKeyLen = 32

// ErrNoPSK is returned for a device that has no usable PSK.
var ErrNoPSK = errors.New("device has no PSK")

// sealer encrypts device PSKs with AES-256-GCM before they are stored, so
// that a dump of the database alone does not reveal them. The key lives
// outside the database (a file in the data directory, mode 0600).
type sealer struct {
	aead cipher.AEAD
}

func newSealer(key []byte) (*sealer, error) {
	if len(key) != SecretKeyLen {
		return nil, fmt.Errorf("secret key is %d bytes, want %d", len(key), SecretKeyLen)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

// seal encrypts psk, bound to the device ID so that a sealed key copied to
// another device's row does not open.
func (s *sealer) seal(deviceID string, psk []byte) []byte {
	nonce := randomBytes(s.aead.NonceSize())
	return s.aead.Seal(nonce, nonce, psk, []byte(deviceID))
}

func (s *sealer) open(deviceID string, sealed []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, ErrNoPSK
	}
	psk, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(deviceID))
	if err != nil {
		return nil, fmt.Errorf("%w: sealed with another secret key, or altered", ErrNoPSK)
	}
	return psk, nil
}
