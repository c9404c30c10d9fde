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

// The codes of the API. 1512 and 37xx are the seed's
// ThingSmartActivatorDiscoveryError codes; 40xx to 44xx and 50xx are nbpair's own.
const (
	// CodeTimeout: the device did not register, or the bind did not
	// finish, within the activation's timeout.
	CodeTimeout = 1512
	// CodeDeviceActiveRepeated: the user has an activation for this
	// device running already.
	CodeDeviceActiveRepeated = 3710
	// CodeDeviceAlreadyBound: the device is bound to another account; its
	// owner must remove it or the device must be reset.
	CodeDeviceAlreadyBound = 3711
	// CodeDeviceHasResetFactory: the device was factory-reset while the
	// activation ran.
	CodeDeviceHasResetFactory = 3716
	// CodeProductNotExists: the request names a product the server does
	// not know.
	CodeProductNotExists = 3717
	// CodeTokenExpired: the session has expired; log in again.
	CodeTokenExpired = 3718
	// CodePermissionDenied: the user may not do this, for example add
	// devices to a home that is not theirs.
	CodePermissionDenied = 3719
	// CodeUserSessionLoss: not logged in (no token, or an unknown one).
	CodeUserSessionLoss = 3720
	// CodeRemoteAPIParamLoss: a required parameter is missing.
	CodeRemoteAPIParamLoss = 3721
	// CodeRemoteAPIParamBlank: a parameter is blank.
	CodeRemoteAPIParamBlank = 3722
	// CodeRemoteAPIParamIllegal: a parameter is malformed.
	CodeRemoteAPIParamIllegal = 3723
	// CodeInvalidParameters: the request body is not JSON of the right
	// shape.
	CodeInvalidParameters = 3724
	// CodeDeviceNotExist: no device has that pairing ID (nbId).
	CodeDeviceNotExist = 3733
	// CodeNotFound: no such device, home, activation or API route.
	CodeNotFound = 4004
	// CodeAlreadyExists: the username is taken (or the thing exists).
	CodeAlreadyExists = 4009
	// CodeInvalidCredentials: wrong username or password.
	CodeInvalidCredentials = 4010
	// CodeBodyTooLarge: the request body was larger than the server
	// accepts.
	CodeBodyTooLarge = 4013
	// CodeUnsupportedMediaType: the request body was not JSON.
	CodeUnsupportedMediaType = 4015
	// CodeActivationStopped: the activation was stopped (StopActive, or a
	// DELETE from another client of the same user).
	CodeActivationStopped = 4020
	// CodeQRCodeNotRecognised: the scanned text is not a device label of
	// this cloud.
	CodeQRCodeNotRecognised = 4100
	// CodeQRCodeTooLong: the scanned text is too long to be a label.
	CodeQRCodeTooLong = 4101
	// CodeNotAnImage: an uploaded label photo is not a PNG, JPEG or GIF
	// image, or is corrupt.
	CodeNotAnImage = 4102
	// CodeNoQRCodeFound: no QR code could be read in an uploaded label
	// photo; take it closer, in focus, with the whole label in view.
	CodeNoQRCodeFound = 4103
	// CodeQRCodeIsIMEI: the code is the device's IMEI, not its label; type
	// the code printed under the QR instead.
	CodeQRCodeIsIMEI = 4104
	// CodeCSVInvalid: a batch CSV (admin API) cannot be read as a whole.
	CodeCSVInvalid = 4200
	// CodeCSVRowInvalid: rows of a batch CSV (admin API) are bad; nothing
	// was imported.
	CodeCSVRowInvalid = 4201
	// CodeRateLimited: too many requests from this user or address (QR
	// parses, scans, activation starts) or too many failed logins; the
	// Retry-After header says when to try again.
	CodeRateLimited = 4290
	// CodeBindRefused: the device maker's pre-bind check refused the
	// bind; the message ends with its reason. Nothing was bound.
	CodeBindRefused = 4300
	// CodeBindCheckFailed: the device maker's pre-bind check did not
	// answer, and its product denies the bind then. Trying again later
	// may work.
	CodeBindCheckFailed = 4301
	// CodeWrongPassword: the current password given to change the
	// password or delete the account is wrong; nothing was changed.
	CodeWrongPassword = 4400
	// CodeTargetIsSelf: a device shared with, or offered to, its owner.
	CodeTargetIsSelf = 4401
	// CodeNotDeviceOwner: only the device's owner may share or transfer it.
	CodeNotDeviceOwner = 4402
	// CodeReadOnlyShare: the device is shared with the user read-only.
	CodeReadOnlyShare = 4403
	// CodeTransferPending: a transfer of the device is waiting already.
	CodeTransferPending = 4404
	// CodeTransferExpired: the transfer was not accepted in time.
	CodeTransferExpired = 4405
	// CodeTransferFinished: the transfer was accepted, declined or
	// cancelled already.
	CodeTransferFinished = 4406
	// CodeTransferVoid: the device changed hands since it was offered.
	CodeTransferVoid = 4407
	// CodeDeviceBlocked: the device maker has blocked the device; nobody
	// may add it until an admin unblocks it.
	CodeDeviceBlocked = 4500
	// CodeDeviceNotBound: an admin's force-unbind of a device that has no
	// owner; nothing was changed.
	CodeDeviceNotBound = 4501
	// CodeInternalError: a fault in the server; the request can be
	// retried.
	CodeInternalError = 5000
	// CodeNotReady: the server's readiness check (GET /readyz) failed:
	// its store or its NATS connection did not answer.
	CodeNotReady = 5030
	// CodeStoreFull: the server's disk is full, so it saved nothing; try
	// again after the HTTP answer's Retry-After (a minute).
	CodeStoreFull = 5031
	// CodeBusy: the server is doing as much of this as it allows at once
	// (reading label photos, holding long-polls); try again shortly.
	CodeBusy = 5032
	// CodeNetwork is not a server code: the SDK could not reach the server
	// or read its answer. It appears only in an ErrorModel (Discovery's
	// delegate has no other way to say so); errors.Unwrap gives the cause.
	// Client methods return network failures as plain wrapped errors.
	CodeNetwork = -1
)

// Sentinels for errors.Is: each matches any *Error with its Code, whatever
// the Name, Message and HTTPStatus.
var (
	ErrTimeout               = &Error{Code: CodeTimeout, Name: "Timeout"}
	ErrDeviceActiveRepeated  = &Error{Code: CodeDeviceActiveRepeated, Name: "DeviceActiveRepeated"}
	ErrDeviceAlreadyBound    = &Error{Code: CodeDeviceAlreadyBound, Name: "DeviceAlreadyBound"}
	ErrDeviceHasResetFactory = &Error{Code: CodeDeviceHasResetFactory, Name: "DeviceHasResetFactory"}
	ErrProductNotExists      = &Error{Code: CodeProductNotExists, Name: "ProductNotExists"}
	ErrTokenExpired          = &Error{Code: CodeTokenExpired, Name: "TokenExpired"}
	ErrPermissionDenied      = &Error{Code: CodePermissionDenied, Name: "PermissionDenied"}
	ErrUserSessionLoss       = &Error{Code: CodeUserSessionLoss, Name: "UserSessionLoss"}
	ErrRemoteAPIParamLoss    = &Error{Code: CodeRemoteAPIParamLoss, Name: "RemoteApiParamLoss"}
	ErrRemoteAPIParamBlank   = &Error{Code: CodeRemoteAPIParamBlank, Name: "RemoteApiParamBlank"}
	ErrRemoteAPIParamIllegal = &Error{Code: CodeRemoteAPIParamIllegal, Name: "RemoteApiParamIllegal"}
	ErrInvalidParameters     = &Error{Code: CodeInvalidParameters, Name: "InvalidParameters"}
	ErrDeviceNotExist        = &Error{Code: CodeDeviceNotExist, Name: "DeviceNotExist"}
	ErrNotFound              = &Error{Code: CodeNotFound, Name: "NotFound"}
	ErrAlreadyExists         = &Error{Code: CodeAlreadyExists, Name: "AlreadyExists"}
	ErrInvalidCredentials    = &Error{Code: CodeInvalidCredentials, Name: "InvalidCredentials"}
	ErrBodyTooLarge          = &Error{Code: CodeBodyTooLarge, Name: "BodyTooLarge"}
	ErrUnsupportedMediaType  = &Error{Code: CodeUnsupportedMediaType, Name: "UnsupportedMediaType"}
	ErrActivationStopped     = &Error{Code: CodeActivationStopped, Name: "ActivationStopped"}
	ErrQRCodeNotRecognised   = &Error{Code: CodeQRCodeNotRecognised, Name: "QRCodeNotRecognised"}
	ErrQRCodeTooLong         = &Error{Code: CodeQRCodeTooLong, Name: "QRCodeTooLong"}
	ErrNotAnImage            = &Error{Code: CodeNotAnImage, Name: "NotAnImage"}
	ErrNoQRCodeFound         = &Error{Code: CodeNoQRCodeFound, Name: "NoQRCodeFound"}
	ErrQRCodeIsIMEI          = &Error{Code: CodeQRCodeIsIMEI, Name: "QRCodeIsIMEI"}
	ErrCSVInvalid            = &Error{Code: CodeCSVInvalid, Name: "CSVInvalid"}
	ErrCSVRowInvalid         = &Error{Code: CodeCSVRowInvalid, Name: "CSVRowInvalid"}
	ErrRateLimited           = &Error{Code: CodeRateLimited, Name: "RateLimited"}
	ErrBindRefused           = &Error{Code: CodeBindRefused, Name: "BindRefused"}
	ErrBindCheckFailed       = &Error{Code: CodeBindCheckFailed, Name: "BindCheckFailed"}
	ErrWrongPassword         = &Error{Code: CodeWrongPassword, Name: "WrongPassword"}
	ErrTargetIsSelf          = &Error{Code: CodeTargetIsSelf, Name: "TargetIsSelf"}
	ErrNotDeviceOwner        = &Error{Code: CodeNotDeviceOwner, Name: "NotDeviceOwner"}
	ErrReadOnlyShare         = &Error{Code: CodeReadOnlyShare, Name: "ReadOnlyShare"}
	ErrTransferPending       = &Error{Code: CodeTransferPending, Name: "TransferPending"}
	ErrTransferExpired       = &Error{Code: CodeTransferExpired, Name: "TransferExpired"}
	ErrTransferFinished      = &Error{Code: CodeTransferFinished, Name: "TransferFinished"}
	ErrTransferVoid          = &Error{Code: CodeTransferVoid, Name: "TransferVoid"}
	ErrDeviceBlocked         = &Error{Code: CodeDeviceBlocked, Name: "DeviceBlocked"}
	ErrDeviceNotBound        = &Error{Code: CodeDeviceNotBound, Name: "DeviceNotBound"}
	ErrInternalError         = &Error{Code: CodeInternalError, Name: "InternalError"}
	ErrNotReady              = &Error{Code: CodeNotReady, Name: "NotReady"}
	ErrStoreFull             = &Error{Code: CodeStoreFull, Name: "StoreFull"}
	ErrBusy                  = &Error{Code: CodeBusy, Name: "Busy"}
	ErrNetwork               = &Error{Code: CodeNetwork, Name: "NetworkError"}
)

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
