// Package apierrors is the one source of the API's error codes: each code's
// number, name, HTTP status and its words for the docs, the SDK and the web
// app. Everything else is generated from Codes by `go generate ./...`: the
// server's code table (internal/httpapi), the SDK's Code* constants and Err*
// sentinels (activator), the web app's words (internal/web/static/errors.js),
// the table of docs/errors.md and the Error schema of
// internal/httpapi/openapi.json. A test fails while any of them is stale.
//
// To add a code, add its row to Codes and run `go generate ./...` from the
// repository root; then map a domain error to it in internal/httpapi.
package apierrors

//go:generate go run ./gen

// Outcome says whether a code is the outcome of an activation: the `error`
// of a failed or stopped activation rather than an HTTP answer.
type Outcome int

// The kinds of Outcome.
const (
	// OutcomeNever: only HTTP answers carry the code.
	OutcomeNever Outcome = iota
	// OutcomeAlso: HTTP answers and activations' outcomes carry the code.
	OutcomeAlso
	// OutcomeOnly: only activations' outcomes carry the code; no request
	// answers with it.
	OutcomeOnly
)

// Code is one row of the error table.
type Code struct {
	// Number is the stable numeric code.
	Number int
	// Name is the stable name, as the API's JSON and the SDK carry it.
	Name string
	// Status is the HTTP status of an answer with the code.
	Status int
	// Outcome says whether an activation's outcome carries the code.
	Outcome Outcome
	// Server names the code's errorCode in package httpapi.
	Server string
	// SDK is the name of the SDK's constant and sentinel without their
	// Code and Err prefixes.
	SDK string
	// When says when the code is answered, in Markdown, for docs/errors.md
	// and the OpenAPI document; a lower-case clause without a final period.
	When string
	// Doc is the SDK constant's doc comment after "CodeX: ", for Go
	// programmers; it ends with a period.
	Doc string
	// Title says what went wrong in the web app's words, and Advice what
	// to do about it.
	Title, Advice string
}

// Codes is the table, in the order of the numbers.
var Codes = []Code{
	{
		Number: 1512, Name: "Timeout", Status: 408, Outcome: OutcomeOnly,
		Server: "codeTimeout", SDK: "Timeout",
		When:   "the device did not register, or the bind did not finish, within the activation's timeout",
		Doc:    "the device did not register, or the bind did not finish, within the activation's timeout.",
		Title:  "The device did not answer in time.",
		Advice: "Make sure it is powered on and has mobile coverage (move it near a window), then try again. A device that sleeps pairs when it next wakes up.",
	},
	{
		Number: 3710, Name: "DeviceActiveRepeated", Status: 409,
		Server: "codeActiveRepeated", SDK: "DeviceActiveRepeated",
		When:   "the same user already has an activation running for this device: stop it or wait for its result",
		Doc:    "the user has an activation for this device running already.",
		Title:  "This device is already being paired.",
		Advice: "Wait for that pairing to finish, or cancel it, then try again.",
	},
	{
		Number: 3711, Name: "DeviceAlreadyBound", Status: 409, Outcome: OutcomeAlso,
		Server: "codeAlreadyBound", SDK: "DeviceAlreadyBound",
		When:   "the device is bound to another account; its owner must remove it (or the device must be reset)",
		Doc:    "the device is bound to another account; its owner must remove it or the device must be reset.",
		Title:  "This device is already bound to another account.",
		Advice: "Ask its owner to remove it, or reset the device, then try again.",
	},
	{
		Number: 3716, Name: "DeviceHasResetFactory", Status: 409, Outcome: OutcomeOnly,
		Server: "codeFactoryReset", SDK: "DeviceHasResetFactory",
		When:   "the device was factory-reset while the activation ran (the device sent a factory reset over LwM2M Send)",
		Doc:    "the device was factory-reset while the activation ran.",
		Title:  "The device was reset to factory settings while pairing.",
		Advice: "Wait until it has restarted, then try again.",
	},
	{
		Number: 3717, Name: "ProductNotExists", Status: 400,
		Server: "codeProductNotExists", SDK: "ProductNotExists",
		When:   "the request names a product this cloud does not know",
		Doc:    "the request names a product the server does not know.",
		Title:  "This service does not know the device's product.",
		Advice: "Check that the label belongs to a device made for this service.",
	},
	{
		Number: 3718, Name: "TokenExpired", Status: 401,
		Server: "codeTokenExpired", SDK: "TokenExpired",
		When:   "the session has expired; log in again",
		Doc:    "the session has expired; log in again.",
		Title:  "Your session has expired.",
		Advice: "Log in again.",
	},
	{
		Number: 3719, Name: "PermissionDenied", Status: 403, Outcome: OutcomeAlso,
		Server: "codePermissionDenied", SDK: "PermissionDenied",
		When:   "the user may not add (or remove, rename) devices in that home, or the home is not theirs",
		Doc:    "the user may not do this, for example add devices to a home that is not theirs.",
		Title:  "You may not do that in this home.",
		Advice: "Ask the home's owner to make you an admin of it, or use a home of your own.",
	},
	{
		Number: 3720, Name: "UserSessionLoss", Status: 401,
		Server: "codeUserSessionLoss", SDK: "UserSessionLoss",
		When:   "no bearer token, or one that is not valid (sessions and the admin token alike)",
		Doc:    "not logged in (no token, or an unknown one).",
		Title:  "You are not logged in.",
		Advice: "Log in and try again.",
	},
	{
		Number: 3721, Name: "RemoteApiParamLoss", Status: 400,
		Server: "codeParamLoss", SDK: "RemoteAPIParamLoss",
		When:   "a required parameter (or the whole body) is missing",
		Doc:    "a required parameter is missing.",
		Title:  "Something is missing.",
		Advice: "Fill in every field and try again.",
	},
	{
		Number: 3722, Name: "RemoteApiParamBlank", Status: 400,
		Server: "codeParamBlank", SDK: "RemoteAPIParamBlank",
		When:   "a parameter is present but empty or only spaces (e.g. the QR `code`)",
		Doc:    "a parameter is blank.",
		Title:  "A field is empty.",
		Advice: "Fill it in and try again.",
	},
	{
		Number: 3723, Name: "RemoteApiParamIllegal", Status: 400,
		Server: "codeParamIllegal", SDK: "RemoteAPIParamIllegal",
		When:   "a parameter is malformed (IMEI not 15 digits, nbId not 32 hex digits, name too long, limit out of range, unknown time zone, …)",
		Doc:    "a parameter is malformed.",
		Title:  "A field is not right.",
		Advice: "Correct it and try again.",
	},
	{
		Number: 3724, Name: "InvalidParameters", Status: 400,
		Server: "codeInvalidParams", SDK: "InvalidParameters",
		When:   "the body is not JSON of the right shape (unknown field, wrong type, trailing data)",
		Doc:    "the request body is not JSON of the right shape.",
		Title:  "The request was not understood.",
		Advice: "Reload the page and try again.",
	},
	{
		Number: 3733, Name: "DeviceNotExist", Status: 404,
		Server: "codeDeviceNotExist", SDK: "DeviceNotExist",
		When:   "no device has that pairing ID",
		Doc:    "no device has that pairing ID (nbId).",
		Title:  "No device has this label.",
		Advice: "Check that you scanned the right label; typed text must be the whole label, as printed under the QR code.",
	},
	{
		Number: 4004, Name: "NotFound", Status: 404,
		Server: "codeNotFound", SDK: "NotFound",
		When:   "no such device, home, activation or API route, or one the user may not see (a wrong method on a route is also 4004)",
		Doc:    "no such device, home, activation or API route.",
		Title:  "Not found.",
		Advice: "It may have been removed; go back and reload.",
	},
	{
		Number: 4009, Name: "AlreadyExists", Status: 409,
		Server: "codeAlreadyExists", SDK: "AlreadyExists",
		When:   "that IMEI, product ID or username is taken",
		Doc:    "the username is taken (or the thing exists).",
		Title:  "That is taken.",
		Advice: "Choose another one.",
	},
	{
		Number: 4010, Name: "InvalidCredentials", Status: 401,
		Server: "codeBadCredentials", SDK: "InvalidCredentials",
		When:   "wrong username or password",
		Doc:    "wrong username or password.",
		Title:  "Wrong username or password.",
		Advice: "Check both and try again.",
	},
	{
		Number: 4013, Name: "BodyTooLarge", Status: 413,
		Server: "codeBodyTooLarge", SDK: "BodyTooLarge",
		When:   "the body is larger than 64 KiB (10 MiB for a label photo, 1 MiB for a batch CSV); a label photo over 8000 pixels a side, 48 megapixels, or whose pixels would take more than `--qr-scan-decode-bytes` (64 MiB) decoded, which its header tells before anything is decoded",
		Doc:    "the request body was larger than the server accepts.",
		Title:  "The file is too large.",
		Advice: "Send a smaller one.",
	},
	{
		Number: 4015, Name: "UnsupportedMediaType", Status: 415,
		Server: "codeUnsupportedMedia", SDK: "UnsupportedMediaType",
		When:   "a JSON route was sent a body that is not `application/json` (the batch import: not `text/csv` in UTF-8)",
		Doc:    "the request body was not JSON.",
		Title:  "That kind of file cannot be used here.",
		Advice: "Choose a file of the kind asked for.",
	},
	{
		Number: 4020, Name: "ActivationStopped", Status: 409, Outcome: OutcomeOnly,
		Server: "codeStopped", SDK: "ActivationStopped",
		When:   "the activation was stopped (the SDK's StopActive)",
		Doc:    "the activation was stopped (StopActive, or a DELETE from another client of the same user).",
		Title:  "Pairing was cancelled.",
		Advice: "Start again when you are ready.",
	},
	{
		Number: 4100, Name: "QRCodeNotRecognised", Status: 400,
		Server: "codeQRNotRecognised", SDK: "QRCodeNotRecognised",
		When:   "the code is not a device label of this cloud (not a URL nor the short code under the QR, another cloud's host, another path), or the short code does not check out (a mistyped character)",
		Doc:    "the scanned text is not a device label of this cloud.",
		Title:  "This is not a device label of this service.",
		Advice: "Scan the QR code on the device's label, or type the text printed under it.",
	},
	{
		Number: 4101, Name: "QRCodeTooLong", Status: 400,
		Server: "codeQRTooLong", SDK: "QRCodeTooLong",
		When:   "the code is longer than 2048 bytes",
		Doc:    "the scanned text is too long to be a label.",
		Title:  "The label text is too long.",
		Advice: "Paste only the text under the QR code.",
	},
	{
		Number: 4102, Name: "NotAnImage", Status: 415,
		Server: "codeNotAnImage", SDK: "NotAnImage",
		When:   "a label photo that is not a PNG, JPEG or GIF (by its Content-Type or its content), or is corrupt",
		Doc:    "an uploaded label photo is not a PNG, JPEG or GIF image, or is corrupt.",
		Title:  "The file is not a picture that can be read.",
		Advice: "Use a PNG, JPEG or GIF photo of the label.",
	},
	{
		Number: 4103, Name: "NoQRCodeFound", Status: 422,
		Server: "codeNoQRCode", SDK: "NoQRCodeFound",
		When:   "the photo holds no readable QR code",
		Doc:    "no QR code could be read in an uploaded label photo; take it closer, in focus, with the whole label in view.",
		Title:  "No QR code could be read in the picture.",
		Advice: "Take the photo closer, in focus, with the whole label in view.",
	},
	{
		Number: 4104, Name: "QRCodeIsIMEI", Status: 400,
		Server: "codeQRIsIMEI", SDK: "QRCodeIsIMEI",
		When:   "the code is the device's IMEI (15 digits, spaces or dashes aside): \"type the code under the QR, not the IMEI\"",
		Doc:    "the code is the device's IMEI, not its label; type the code printed under the QR instead.",
		Title:  "That is the device's IMEI, not its label code.",
		Advice: "Type the code under the QR, not the IMEI: 7 groups of 4 letters and digits.",
	},
	{
		Number: 4200, Name: "CSVInvalid", Status: 400,
		Server: "codeCSVInvalid", SDK: "CSVInvalid",
		When:   "a batch CSV that cannot be read as a whole: empty, no header or no `imei` column in it, a header but no rows, more than 10,000 rows, not UTF-8 (the message says which, and the line)",
		Doc:    "a batch CSV (admin API) cannot be read as a whole.",
		Title:  "The CSV file cannot be read.",
		Advice: "Check it has a header line with an imei column and at most 10,000 rows.",
	},
	{
		Number: 4201, Name: "CSVRowInvalid", Status: 400,
		Server: "codeCSVRowInvalid", SDK: "CSVRowInvalid",
		When:   "rows of a batch CSV are bad: an IMEI not 15 digits, missing, twice in the file, provisioned for another product or without a usable PSK; a serial over 64 characters, with a control character or contradicting the provisioned device's; a CSV quoting error. The message names the first 10 bad rows by line (`line 7: imei \"12345\" is not 15 digits; …`) and how many there are; nothing was imported",
		Doc:    "rows of a batch CSV (admin API) are bad; nothing was imported.",
		Title:  "Some rows of the CSV file are wrong; nothing was imported.",
		Advice: "Correct the rows named above and upload the file again.",
	},
	{
		Number: 4290, Name: "RateLimited", Status: 429,
		Server: "codeRateLimited", SDK: "RateLimited",
		When:   "too many QR parses, scans or activation starts from one user or address, too many failed logins for a username from one address (or from one address in all), or too many long-polls and event streams open for one user; `Retry-After` says when to try again",
		Doc:    "too many requests from this user or address (QR parses, scans, activation starts) or too many failed logins; the Retry-After header says when to try again.",
		Title:  "Too many attempts.",
		Advice: "Wait a minute and try again.",
	},
	{
		Number: 4300, Name: "BindRefused", Status: 403, Outcome: OutcomeOnly,
		Server: "codeBindRefused", SDK: "BindRefused",
		When:   "HTTP 403 in the activation's `error`: the device maker's pre-bind hook refused the bind (`{\"allow\": false}`); the message ends with the hook's reason (plain text, at most 200 bytes). Nothing was bound",
		Doc:    "the device maker's pre-bind check refused the bind; the message ends with its reason. Nothing was bound.",
		Title:  "The device's maker did not allow this device to be added.",
		Advice: "Read the reason above; ask the seller or the maker if it is unclear.",
	},
	{
		Number: 4301, Name: "BindCheckFailed", Status: 502, Outcome: OutcomeOnly,
		Server: "codeBindCheckFailed", SDK: "BindCheckFailed",
		When:   "HTTP 502 in the activation's `error`: the device maker's pre-bind hook did not answer within its timeout, answered other than 2xx, or not `{\"allow\": true\\|false}`, and the product says `onHookFailure: deny` (the default). Nothing was bound; trying again later may work",
		Doc:    "the device maker's pre-bind check did not answer, and its product denies the bind then. Trying again later may work.",
		Title:  "The device's maker could not be asked whether this device may be added.",
		Advice: "Try again in a few minutes.",
	},
	{
		Number: 4400, Name: "WrongPassword", Status: 403,
		Server: "codeWrongPassword", SDK: "WrongPassword",
		When:   "the current password given to change the password or to delete the account is wrong; nothing was changed",
		Doc:    "the current password given to change the password or delete the account is wrong; nothing was changed.",
		Title:  "The password is wrong.",
		Advice: "Type your current password again; nothing was changed.",
	},
	{
		Number: 4401, Name: "TargetIsSelf", Status: 400,
		Server: "codeTargetIsSelf", SDK: "TargetIsSelf",
		When:   "a device shared with, or offered to, its own owner",
		Doc:    "a device shared with, or offered to, its owner.",
		Title:  "That is your own account.",
		Advice: "Enter the username of someone else.",
	},
	{
		Number: 4402, Name: "NotDeviceOwner", Status: 403,
		Server: "codeNotDeviceOwner", SDK: "NotDeviceOwner",
		When:   "only the device's owner (the user who added it) may share it, transfer it or list its shares; a home's other owners and admins may not",
		Doc:    "only the device's owner may share or transfer it.",
		Title:  "Only the device's owner can do this.",
		Advice: "Ask the person who added the device.",
	},
	{
		Number: 4403, Name: "ReadOnlyShare", Status: 403,
		Server: "codeReadOnlyShare", SDK: "ReadOnlyShare",
		When:   "the device is shared with the user read-only: it may be seen, not renamed (a `control` share may rename it)",
		Doc:    "the device is shared with the user read-only.",
		Title:  "This device is shared with you to look at only.",
		Advice: "Ask its owner for control to rename it.",
	},
	{
		Number: 4404, Name: "TransferPending", Status: 409,
		Server: "codeTransferPending", SDK: "TransferPending",
		When:   "a transfer of this device is waiting for an answer already; cancel it first",
		Doc:    "a transfer of the device is waiting already.",
		Title:  "This device is already offered to someone.",
		Advice: "Cancel that offer first, or wait for its answer.",
	},
	{
		Number: 4405, Name: "TransferExpired", Status: 410,
		Server: "codeTransferExpired", SDK: "TransferExpired",
		When:   "the transfer was not accepted before its deadline; its owner may offer it again",
		Doc:    "the transfer was not accepted in time.",
		Title:  "This offer has expired.",
		Advice: "Ask the owner to offer the device again.",
	},
	{
		Number: 4406, Name: "TransferFinished", Status: 409,
		Server: "codeTransferFinished", SDK: "TransferFinished",
		When:   "the transfer was accepted, declined or cancelled already",
		Doc:    "the transfer was accepted, declined or cancelled already.",
		Title:  "This offer has already been answered or withdrawn.",
		Advice: "Reload the page to see where it stands.",
	},
	{
		Number: 4407, Name: "TransferVoid", Status: 409,
		Server: "codeTransferVoid", SDK: "TransferVoid",
		When:   "the device changed hands (removed, reset, transferred, its home or owner deleted) after the transfer was offered; the offer has ended",
		Doc:    "the device changed hands since it was offered.",
		Title:  "The device changed hands since it was offered.",
		Advice: "The offer has ended; ask its present owner.",
	},
	{
		Number: 4500, Name: "DeviceBlocked", Status: 403,
		Server: "codeDeviceBlocked", SDK: "DeviceBlocked",
		When:   "the device maker has blocked the device (a stolen or misbehaving device): nobody may add it, and its Registers are refused with CoAP 4.03, until an admin unblocks it. The message says since when and why",
		Doc:    "the device maker has blocked the device; nobody may add it until an admin unblocks it.",
		Title:  "The device's maker has blocked this device.",
		Advice: "It cannot be added. Ask the seller or the maker; an admin must unblock it first.",
	},
	{
		Number: 4501, Name: "DeviceNotBound", Status: 409,
		Server: "codeDeviceNotBound", SDK: "DeviceNotBound",
		When:   "an admin's force-unbind of a device that has no owner; nothing was changed",
		Doc:    "an admin's force-unbind of a device that has no owner; nothing was changed.",
		Title:  "The device is not bound to anyone.",
		Advice: "Nothing was changed; there is no owner to unbind it from.",
	},
	{
		Number: 5000, Name: "InternalError", Status: 500,
		Server: "codeInternal", SDK: "InternalError",
		When:   "a fault in the server; the request can be retried; details are in the server log",
		Doc:    "a fault in the server; the request can be retried.",
		Title:  "Something went wrong on the server.",
		Advice: "Try again; if it keeps happening, tell the service's operator.",
	},
	{
		Number: 5030, Name: "NotReady", Status: 503,
		Server: "codeNotReady", SDK: "NotReady",
		When:   "`GET /readyz` only: the store did not answer a cheap query, or cannot write (a small write probe failed, or the SQLite data directory's disk has less than `--min-free-disk` free), or the node is not connected to NATS, within 2 seconds; the message says which and why",
		Doc:    "the server's readiness check (GET /readyz) failed: its store or its NATS connection did not answer.",
		Title:  "The server is not ready.",
		Advice: "Wait a minute and try again; if it keeps happening, tell the service's operator.",
	},
	{
		Number: 5031, Name: "StoreFull", Status: 503,
		Server: "codeStoreFull", SDK: "StoreFull",
		When:   "the server's disk is full, so the request could not be saved; nothing was changed. `Retry-After` (60 s) says when to try again; the node's `/readyz` answers 503 meanwhile",
		Doc:    "the server's disk is full, so it saved nothing; try again after the HTTP answer's Retry-After (a minute).",
		Title:  "The server cannot save anything right now.",
		Advice: "Nothing was changed. Wait a minute and try again; if it keeps happening, tell the service's operator.",
	},
	{
		Number: 5032, Name: "Busy", Status: 503,
		Server: "codeBusy", SDK: "Busy",
		When:   "the server is doing as much of this as it allows at once: reading label photos (`--qr-scan-concurrent` decoding, `--qr-scan-queue` waiting), or holding long-polls and event streams (`--max-streams`); `Retry-After` says when to try again",
		Doc:    "the server is doing as much of this as it allows at once (reading label photos, holding long-polls); try again shortly.",
		Title:  "The server is busy.",
		Advice: "Wait a few seconds and try again.",
	},
}
