package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/nbpair/nbpair/internal/pairing"
	"github.com/nbpair/nbpair/internal/qr"
)

// Error is the one JSON error shape of the API. Codes 1512 and 37xx are the
// seed SDK's ThingSmartActivatorDiscoveryError codes; 40xx to 45xx and 50xx are
// nbpair's own (docs/errors.md).
type Error struct {
	Status  int    `json:"-"`
	Code    int    `json:"code"`
	Name    string `json:"name"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Name + ": " + e.Message }

// apiError builds an Error from one row of the code table.
func apiError(c errorCode, msg string) *Error {
	return &Error{Status: c.status, Code: c.code, Name: c.name, Message: msg}
}

type errorCode struct {
	status int
	code   int
	name   string
}

// The errorCode values, such as codeTimeout, are generated from the table
// of internal/apierrors into codes_gen.go.

// sentinelCodes maps the domain's sentinels to API codes: the one place
// where they are translated.
var sentinelCodes = []struct {
	err  error
	code errorCode
}{
	{pairing.ErrMissing, codeParamLoss},
	{pairing.ErrBlank, codeParamBlank},
	{pairing.ErrInvalid, codeParamIllegal},
	{pairing.ErrTimeout, codeTimeout},
	{pairing.ErrActiveRepeated, codeActiveRepeated},
	{pairing.ErrAlreadyBound, codeAlreadyBound},
	{pairing.ErrFactoryReset, codeFactoryReset},
	{pairing.ErrSessionExpired, codeTokenExpired},
	{pairing.ErrPermissionDenied, codePermissionDenied},
	{pairing.ErrUnauthenticated, codeUserSessionLoss},
	{pairing.ErrDeviceNotExist, codeDeviceNotExist},
	{pairing.ErrBadCredentials, codeBadCredentials},
	{pairing.ErrUsernameTaken, codeAlreadyExists},
	{pairing.ErrAlreadyMember, codeAlreadyExists},
	{pairing.ErrActivationStopped, codeStopped},
	{pairing.ErrQRNotRecognised, codeQRNotRecognised},
	{pairing.ErrQRTooLong, codeQRTooLong},
	{pairing.ErrQRIsIMEI, codeQRIsIMEI},
	{qr.ErrNotImage, codeNotAnImage},
	{qr.ErrTooLarge, codeBodyTooLarge},
	{qr.ErrNoCode, codeNoQRCode},
	{pairing.ErrBatchCSV, codeCSVInvalid},
	{pairing.ErrBatchRows, codeCSVRowInvalid},
	{pairing.ErrBatchTooLarge, codeBodyTooLarge},
	{pairing.ErrProductNotExists, codeProductNotExists},
	{pairing.ErrBindRefused, codeBindRefused},
	{pairing.ErrBindHookFailed, codeBindCheckFailed},
	{pairing.ErrTooManyWebhooks, codeParamIllegal},
	{pairing.ErrWrongPassword, codeWrongPassword},
	{pairing.ErrTargetIsSelf, codeTargetIsSelf},
	{pairing.ErrNotDeviceOwner, codeNotDeviceOwner},
	{pairing.ErrShareReadOnly, codeReadOnlyShare},
	{pairing.ErrTransferPending, codeTransferPending},
	{pairing.ErrTransferExpired, codeTransferExpired},
	{pairing.ErrTransferFinished, codeTransferFinished},
	{pairing.ErrTransferVoid, codeTransferVoid},
	{pairing.ErrDeviceBlocked, codeDeviceBlocked},
	{pairing.ErrNotBound, codeDeviceNotBound},
	{pairing.ErrNotFound, codeNotFound},
	{pairing.ErrDeviceExists, codeAlreadyExists},
	{pairing.ErrProductExists, codeAlreadyExists},
}

// toAPIError turns any error into the Error the client sees. Errors the
// table does not know are internal; their text is logged, not shown.
func toAPIError(err error) *Error {
	var ae *Error
	if errors.As(err, &ae) {
		return ae
	}
	if errors.Is(err, pairing.ErrStoreFull) { // the driver's words are for the log
		return apiError(codeStoreFull, fmt.Sprintf(
			"the server cannot save anything now: its disk is full; nothing was changed; try again in %d s",
			int(pairing.StoreFullRetry.Seconds())))
	}
	for _, row := range sentinelCodes {
		if errors.Is(err, row.err) {
			return apiError(row.code, err.Error())
		}
	}
	return apiError(codeInternal, "internal error; the request can be retried")
}

// retryAfter is the Retry-After of a 503 answer, in seconds.
var retryAfter = strconv.Itoa(int(pairing.StoreFullRetry.Seconds()))

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v) // the client hung up if this fails; nothing to do
}
