package activator

import (
	"errors"
	"strconv"
)

// Error is an error the nbpair server answered with, in the API's one JSON
// shape, or the outcome of an activation that did not pair (the seed's
// ThingSmartActivatorDiscoveryError). Branch on Code, or use errors.Is with
// the Err* sentinels, which match any *Error with the same Code.
type Error struct {
	// Code is the stable numeric code, one of the Code* constants. It is 0
	// when the server's answer was not the API's JSON error (a proxy's
	// page, say), and CodeNetwork when the SDK could not reach the server.
	Code int `json:"code"`
	// Name is the code's stable name, such as "DeviceAlreadyBound".
	Name string `json:"name"`
	// Message says, for people, what was wrong; it may change between
	// server versions.
	Message string `json:"message"`
	// HTTPStatus is the status of the HTTP answer that carried the error,
	// or 0 when the error is the outcome of an activation (the server
	// answered 200 with a failed or stopped activation) or CodeNetwork.
	HTTPStatus int `json:"-"`

	cause error // the failure behind an error the SDK made itself
}

// The Code* constants of the API and their Err* sentinels are generated
// from the table of internal/apierrors into codes_gen.go.

// CodeNetwork is not a server code: the SDK could not reach the server
// or read its answer. It appears only in an ErrorModel (Discovery's
// delegate has no other way to say so); errors.Unwrap gives the cause.
// Client methods return network failures as plain wrapped errors.
const CodeNetwork = -1

// ErrNetwork matches every CodeNetwork error.
var ErrNetwork = &Error{Code: CodeNetwork, Name: "NetworkError"}

// Error formats the error as "activator: 3711 DeviceAlreadyBound: message".
func (e *Error) Error() string {
	s := "activator: " + strconv.Itoa(e.Code)
	if e.Name != "" {
		s += " " + e.Name
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Is reports whether target is an *Error with the same Code, so that
// errors.Is(err, ErrDeviceAlreadyBound) holds for every 3711.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t != nil && e != nil && t.Code == e.Code
}

// Unwrap returns the failure behind an error the SDK made itself: the
// network error of a CodeNetwork error, or what failed meanwhile when a
// Discovery gave up waiting for the server (CodeTimeout). It returns nil
// for the errors the server answered with.
func (e *Error) Unwrap() error { return e.cause }

// asError turns any error into an *Error for an ErrorModel: an *Error in
// err's chain as it is, anything else as a CodeNetwork error wrapping it.
func asError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: CodeNetwork, Name: ErrNetwork.Name, Message: err.Error(), cause: err}
}
