package pairing

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
)

// The short code is the nbId in a form a person can read off a label and
// type: its 128 bits and a 12-bit check in 28 symbols of Crockford's base32
// (digits and capitals without I, L, O and U), in groups of four:
//
//	0J2P-6KYF-4XDV-... (7 groups)
//
// Reading is forgiving as Crockford's alphabet intends: lower case is upper
// case, O is 0, I and L are 1, and dashes and spaces are ignored. The check
// catches a mistyped or swapped character (all but one in 4,096 of them)
// before anything is looked up.
const (
	shortCodeSymbols = 28 // (128 + 12) / 5
	shortCodeGroup   = 4
	shortCodeCheck   = 12 // bits
	// ShortCodeLen is the length of a short code with its dashes.
	ShortCodeLen = shortCodeSymbols + shortCodeSymbols/shortCodeGroup - 1
)

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// errShortCodeCheck is a short code whose check does not match its data.
var errShortCodeCheck = errors.New("short code check failed")

// ShortCode returns the short code of an nbId (32 hex digits); "" for
// anything else.
func ShortCode(nbID string) string {
	raw, err := hex.DecodeString(nbID)
	if err != nil || len(raw) != 16 {
		return ""
	}
	bits := append(raw, shortCodeCheckBits(raw)...) // 128 + 16 bits; the last 4 unused
	var b strings.Builder
	for i := range shortCodeSymbols {
		if i > 0 && i%shortCodeGroup == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(crockford[symbolAt(bits, i*5)])
	}
	return b.String()
}

// shortCodeCheckBits is the check of raw: the first 12 bits of its
// SHA-256, in two bytes (the low 4 bits zero).
func shortCodeCheckBits(raw []byte) []byte {
	sum := sha256.Sum256(raw)
	return []byte{sum[0], sum[1] & 0xf0}
}

// symbolAt reads 5 bits of b from bit offset off (most significant first).
func symbolAt(b []byte, off int) byte {
	var v byte
	for i := range 5 {
		bit := off + i
		v = v<<1 | (b[bit/8]>>(7-bit%8))&1
	}
	return v
}

// normalizeShortCode maps what a person typed to the code's symbols:
// dashes and white space dropped, letters upper-cased, O read as 0 and I,
// L as 1. It reports false if a character is not of the alphabet or the
// count is not that of a short code.
func normalizeShortCode(s string) (string, bool) {
	if len(s) > 2*ShortCodeLen {
		return "", false
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '-' || r == ' ' || r == '\t':
			continue
		case r >= 'a' && r <= 'z':
			r -= 'a' - 'A'
		}
		switch r {
		case 'O':
			r = '0'
		case 'I', 'L':
			r = '1'
		}
		if r > 'Z' || strings.IndexRune(crockford, r) < 0 {
			return "", false
		}
		b.WriteRune(r)
	}
	return b.String(), b.Len() == shortCodeSymbols
}

// nbIDFromShortCode decodes a short code to its nbId. It reports false if
// s is not shaped like one, and errShortCodeCheck if it is but its check
// fails (a mistyped character).
func nbIDFromShortCode(s string) (string, bool, error) {
	sym, ok := normalizeShortCode(s)
	if !ok {
		return "", false, nil
	}
	bits := make([]byte, 18) // 140 bits rounded up
	for i := range shortCodeSymbols {
		v := byte(strings.IndexByte(crockford, sym[i]))
		for j := range 5 {
			if v&(1<<(4-j)) != 0 {
				bit := i*5 + j
				bits[bit/8] |= 1 << (7 - bit%8)
			}
		}
	}
	raw, check := bits[:16], shortCodeCheckBits(bits[:16])
	if bits[16] != check[0] || bits[17] != check[1] {
		return "", true, errShortCodeCheck
	}
	return hex.EncodeToString(raw), true, nil
}
