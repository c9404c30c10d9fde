package dtlsgate

import (
	"encoding/binary"
	"errors"
)

// DTLS record content types (RFC 6347, RFC 9146).
const (
	typeChangeCipherSpec = 20
	typeAlert            = 21
	typeHandshake        = 22
	typeTLS12CID         = 25
)

// Handshake message types the gate looks at.
const (
	hsClientHello        = 1
	hsHelloVerifyRequest = 3
)

// Alert descriptions the gate sends (RFC 5246, 7.2).
const (
	alertLevelFatal   = 2
	alertBadRecordMAC = 20
)

// Sizes of the fixed parts of records and handshake messages.
const (
	recordHeaderLen    = 13
	handshakeHeaderLen = 12
	randomLen          = 32
	maxCookieLen       = 255
)

// dtlsVersion12 is DTLS 1.2 on the wire (RFC 6347, 4.1).
var dtlsVersion12 = [2]byte{0xfe, 0xfd}

var errShort = errors.New("dtls: record too short")

// record is the header of the first record of a datagram. Body aliases
// the datagram.
type record struct {
	contentType byte
	version     [2]byte
	epoch       uint16
	seq         uint64 // 48 bits
	cid         []byte // tls12_cid records only
	body        []byte
}

// parseRecord reads the first record of a datagram; cidLen is the length of
// the Connection IDs the server hands out, so that a tls12_cid record's
// header can be read.
func parseRecord(b []byte, cidLen int) (record, error) {
	var r record
	if len(b) < recordHeaderLen {
		return r, errShort
	}
	r.contentType = b[0]
	r.version = [2]byte{b[1], b[2]}
	r.epoch = binary.BigEndian.Uint16(b[3:5])
	r.seq = uint64(b[5])<<40 | uint64(binary.BigEndian.Uint32(b[6:10]))<<8 | uint64(b[10])
	rest := b[11:]
	if r.contentType == typeTLS12CID {
		if len(rest) < cidLen+2 {
			return r, errShort
		}
		r.cid, rest = rest[:cidLen], rest[cidLen:]
	}
	n := int(binary.BigEndian.Uint16(rest[:2]))
	if len(rest)-2 < n {
		return r, errShort
	}
	r.body = rest[2 : 2+n]
	return r, nil
}

// clientHello is a ClientHello (RFC 6347, 4.2.1) in one unfragmented
// record. Its slices alias the datagram.
type clientHello struct {
	recordSeq  uint64
	messageSeq uint16
	version    [2]byte
	random     []byte
	sessionID  []byte
	cookie     []byte
	suites     []byte // the cipher_suites vector without its length
	comp       []byte // the compression_methods vector without its length
	body       []byte // the whole message body
	cookieAt   int    // offset in body of the cookie's length byte
}

var errNotHello = errors.New("dtls: not a ClientHello")

// parseClientHello reads a plaintext ClientHello that a record carries
// whole. Fragmented hellos are refused: a ClientHello fits one datagram.
func parseClientHello(r record) (clientHello, error) {
	var h clientHello
	b := r.body
	if r.contentType != typeHandshake || r.epoch != 0 || len(b) < handshakeHeaderLen || b[0] != hsClientHello {
		return h, errNotHello
	}
	length := uint24(b[1:4])
	fragOff, fragLen := uint24(b[6:9]), uint24(b[9:12])
	body := b[handshakeHeaderLen:]
	if fragOff != 0 || fragLen != length || len(body) < length {
		return h, errNotHello
	}
	h.recordSeq, h.messageSeq, h.body = r.seq, binary.BigEndian.Uint16(b[4:6]), body[:length]
	return h, h.parseBody()
}

// parseBody splits the hello's body into the fields the cookie covers.
func (h *clientHello) parseBody() error {
	b := h.body
	if len(b) < 2+randomLen+1 {
		return errShort
	}
	h.version = [2]byte{b[0], b[1]}
	h.random, b = b[2:2+randomLen], b[2+randomLen:]
	var err error
	if h.sessionID, b, err = vector8(b, 32); err != nil {
		return err
	}
	h.cookieAt = len(h.body) - len(b)
	if h.cookie, b, err = vector8(b, maxCookieLen); err != nil {
		return err
	}
	if len(b) < 2 {
		return errShort
	}
	n := int(binary.BigEndian.Uint16(b))
	if n < 2 || n%2 != 0 || len(b)-2 < n {
		return errNotHello
	}
	h.suites, b = b[2:2+n], b[2+n:]
	if h.comp, _, err = vector8(b, 255); err != nil || len(h.comp) == 0 {
		return errNotHello
	}
	return nil
}

// vector8 splits off a vector with a one-byte length of at most max bytes.
func vector8(b []byte, max int) (v, rest []byte, err error) {
	if len(b) < 1 {
		return nil, nil, errShort
	}
	n := int(b[0])
	if n > max || len(b)-1 < n {
		return nil, nil, errNotHello
	}
	return b[1 : 1+n], b[1+n:], nil
}

func uint24(b []byte) int { return int(b[0])<<16 | int(b[1])<<8 | int(b[2]) }

func putUint24(b []byte, v int) { b[0], b[1], b[2] = byte(v>>16), byte(v>>8), byte(v) }

// appendRecordHeader appends a plaintext record header of epoch 0.
func appendRecordHeader(dst []byte, contentType byte, seq uint64, length int) []byte {
	return append(dst, contentType, dtlsVersion12[0], dtlsVersion12[1], 0, 0,
		byte(seq>>40), byte(seq>>32), byte(seq>>24), byte(seq>>16), byte(seq>>8), byte(seq),
		byte(length>>8), byte(length))
}

// appendHandshake appends a handshake message in one record of epoch 0.
func appendHandshake(dst []byte, recordSeq uint64, msgType byte, messageSeq uint16, body []byte) []byte {
	dst = appendRecordHeader(dst, typeHandshake, recordSeq, handshakeHeaderLen+len(body))
	var hdr [handshakeHeaderLen]byte
	hdr[0] = msgType
	putUint24(hdr[1:4], len(body))
	binary.BigEndian.PutUint16(hdr[4:6], messageSeq)
	putUint24(hdr[9:12], len(body)) // offset 0, one fragment
	dst = append(dst, hdr[:]...)
	return append(dst, body...)
}

// appendHelloVerifyRequest appends the answer to a hello without a valid
// cookie: a HelloVerifyRequest (message_seq 0) in a record that repeats
// the hello's record sequence number (RFC 6347, 4.2.1).
func appendHelloVerifyRequest(dst []byte, recordSeq uint64, cookie []byte) []byte {
	var body [3 + maxCookieLen]byte
	body[0], body[1], body[2] = dtlsVersion12[0], dtlsVersion12[1], byte(len(cookie))
	n := 3 + copy(body[3:], cookie)
	return appendHandshake(dst, recordSeq, hsHelloVerifyRequest, 0, body[:n])
}

// firstHello rebuilds, from a hello that carries a cookie, the hello the
// client sent before it had one: the same body without the cookie, with
// message_seq 0, in a record numbered recordSeq.
func (h *clientHello) firstHello(recordSeq uint64) []byte {
	body := make([]byte, 0, len(h.body)-len(h.cookie))
	body = append(body, h.body[:h.cookieAt]...)
	body = append(body, 0)
	body = append(body, h.body[h.cookieAt+1+len(h.cookie):]...)
	return appendHandshake(nil, recordSeq, hsClientHello, 0, body)
}

// appendAlert appends a fatal alert in a plaintext record of epoch 0.
func appendAlert(dst []byte, recordSeq uint64, description byte) []byte {
	dst = appendRecordHeader(dst, typeAlert, recordSeq, 2)
	return append(dst, alertLevelFatal, description)
}
