// Package wire holds the LwM2M encodings that the server and the device
// library share: the registration query string, CoRE link format (RFC 6690),
// the OMA TLV content format, SenML JSON and CBOR (RFC 8428, the payload of
// LwM2M Send) and the layout of nbpair's Pairing object.
//
// Every function here sees bytes from the network, so each one bounds its
// input and returns an error that says what is wrong rather than panicking.
package wire
