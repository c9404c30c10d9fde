package wire

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Limits on registration parameters. They are generous for real devices and
// small enough that a hostile one cannot make the server store much.
const (
	MaxEndpointLen = 128
	MinLifetime    = 1
	MaxLifetime    = 365 * 24 * 3600
	// DefaultLifetime is the lifetime a registration gets when the client
	// does not send lt (LwM2M 1.1, 6.2.1).
	DefaultLifetime = 86400
	maxQueryParams  = 32
)

// ErrBadQuery is wrapped by every error the query parsers return.
var ErrBadQuery = errors.New("bad registration query")

// RegisterQuery is the parsed query string of an LwM2M Register request
// (POST /rd?ep=...&lt=...&lwm2m=...&b=...&Q).
type RegisterQuery struct {
	Endpoint  string
	Lifetime  int    // seconds; DefaultLifetime when absent
	Version   string // "1.0" when absent, as the specification says
	Binding   string // e.g. "U"; a trailing Q of LwM2M 1.0 is removed and sets QueueMode
	QueueMode bool
	SMS       string
	// ProductID is nbpair's extension (pid=) that names the product of a
	// device created on the spot by auto-registration.
	ProductID string
}

// UpdateQuery is the parsed query string of an LwM2M Update request. Zero
// values mean the parameter was absent and the stored value stays.
type UpdateQuery struct {
	Lifetime  int
	Binding   string
	QueueMode *bool
	SMS       string
}

// ParseRegisterQuery parses the query parameters of a Register request, given
// as the individual Uri-Query option values ("ep=urn:imei:...", "lt=60", "Q").
func ParseRegisterQuery(params []string) (RegisterQuery, error) {
	q := RegisterQuery{Lifetime: DefaultLifetime, Version: "1.0"}
	if len(params) > maxQueryParams {
		return q, fmt.Errorf("%w: %d parameters, at most %d", ErrBadQuery, len(params), maxQueryParams)
	}
	for _, p := range params {
		key, val, err := splitParam(p)
		if err != nil {
			return q, err
		}
		switch key {
		case "ep":
			q.Endpoint = val
		case "lt":
			if q.Lifetime, err = parseLifetime(val); err != nil {
				return q, err
			}
		case "lwm2m":
			if q.Version, err = parseVersion(val); err != nil {
				return q, err
			}
		case "b":
			if q.Binding, q.QueueMode, err = parseBinding(val, q.QueueMode); err != nil {
				return q, err
			}
		case "Q":
			q.QueueMode = true
		case "sms":
			q.SMS = val
		case "pid":
			q.ProductID = val
		}
	}
	if q.Binding == "" {
		q.Binding = "U"
	}
	return q, validateEndpoint(q.Endpoint)
}

// ParseUpdateQuery parses the query parameters of an Update request.
func ParseUpdateQuery(params []string) (UpdateQuery, error) {
	var q UpdateQuery
	if len(params) > maxQueryParams {
		return q, fmt.Errorf("%w: %d parameters, at most %d", ErrBadQuery, len(params), maxQueryParams)
	}
	var sawQ, sawBinding, bindingQ bool
	for _, p := range params {
		key, val, err := splitParam(p)
		if err != nil {
			return q, err
		}
		switch key {
		case "lt":
			if q.Lifetime, err = parseLifetime(val); err != nil {
				return q, err
			}
		case "b":
			sawBinding = true
			if q.Binding, bindingQ, err = parseBinding(val, false); err != nil {
				return q, err
			}
		case "Q":
			sawQ = true
		case "sms":
			q.SMS = val
		}
	}
	if sawQ || sawBinding { // a new binding without Q leaves queue mode
		queue := sawQ || bindingQ
		q.QueueMode = &queue
	}
	return q, nil
}

// splitParam splits one Uri-Query option. CoAP options carry the values
// already decoded, so nothing is unescaped here.
func splitParam(p string) (key, val string, err error) {
	key, val, _ = strings.Cut(p, "=")
	if key == "" {
		return "", "", fmt.Errorf("%w: empty parameter name in %q", ErrBadQuery, p)
	}
	return key, val, nil
}

func parseLifetime(val string) (int, error) {
	lt, err := strconv.Atoi(val)
	if err != nil {
		return 0, fmt.Errorf("%w: lifetime %q is not a number of seconds", ErrBadQuery, val)
	}
	if lt < MinLifetime || lt > MaxLifetime {
		return 0, fmt.Errorf("%w: lifetime %d s is outside %d..%d", ErrBadQuery, lt, MinLifetime, MaxLifetime)
	}
	return lt, nil
}

func parseVersion(val string) (string, error) {
	switch val {
	case "1.0", "1.1", "1.2":
		return val, nil
	}
	return "", fmt.Errorf("%w: LwM2M version %q is not supported (1.0, 1.1 or 1.2)", ErrBadQuery, val)
}

// parseBinding accepts the binding letters of LwM2M 1.0 and 1.1. A Q in the
// binding (1.0's "UQ") is taken out and reported as queue mode.
func parseBinding(val string, queue bool) (string, bool, error) {
	if val == "" || len(val) > 8 {
		return "", false, fmt.Errorf("%w: binding %q", ErrBadQuery, val)
	}
	var b strings.Builder
	for _, c := range val {
		switch c {
		case 'U', 'S', 'N', 'T':
			b.WriteRune(c)
		case 'Q':
			queue = true
		default:
			return "", false, fmt.Errorf("%w: binding %q has unknown mode %q", ErrBadQuery, val, c)
		}
	}
	if b.Len() == 0 {
		return "", false, fmt.Errorf("%w: binding %q names no transport", ErrBadQuery, val)
	}
	return b.String(), queue, nil
}

func validateEndpoint(ep string) error {
	if ep == "" {
		return fmt.Errorf("%w: missing endpoint name (ep)", ErrBadQuery)
	}
	if len(ep) > MaxEndpointLen {
		return fmt.Errorf("%w: endpoint name is %d bytes, at most %d", ErrBadQuery, len(ep), MaxEndpointLen)
	}
	for _, c := range ep {
		if c < 0x21 || c > 0x7e {
			return fmt.Errorf("%w: endpoint name holds a character that is not printable ASCII", ErrBadQuery)
		}
	}
	return nil
}

// IMEIFromEndpoint returns the IMEI of an endpoint name of the form
// urn:imei:<15 digits>, and false for any other name.
func IMEIFromEndpoint(ep string) (string, bool) {
	imei, ok := strings.CutPrefix(ep, "urn:imei:")
	if !ok || !ValidIMEI(imei) {
		return "", false
	}
	return imei, true
}

// EndpointForIMEI is the endpoint name a device with this IMEI registers with.
func EndpointForIMEI(imei string) string { return "urn:imei:" + imei }

// ValidIMEI reports whether s is 15 decimal digits. The Luhn check digit is
// not enforced: test ranges and some modules do not follow it.
func ValidIMEI(s string) bool {
	if len(s) != 15 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
