package httpapi

import (
	"strconv"
	"strings"
	"time"

	"github.com/nbpair/nbpair/internal/pairing"
)

// The admin's device listing: by ID (the default, as before), or with
// sort=lastSeen the most recently seen first. Its page cursor ("next",
// given back as "after") is the last device's ID, or for lastSeen its last
// seen time in Unix nanoseconds (0 for none), a dot and its ID.

// deviceOrder sets q's order and where its page starts.
func deviceOrder(q *pairing.DeviceQuery, sort, after string) error {
	switch sort {
	case "", "id":
		q.After = after
		return nil
	case "lastSeen":
		q.ByLastSeen = true
	default:
		return apiError(codeParamIllegal, "sort must be id or lastSeen")
	}
	if after == "" {
		return nil
	}
	nanos, id, ok := strings.Cut(after, ".")
	n, err := strconv.ParseInt(nanos, 10, 64)
	if !ok || err != nil || n < 0 || id == "" {
		return apiError(codeParamIllegal, "after must be the next of the previous page of this listing")
	}
	q.After = id
	if n > 0 {
		q.AfterSeen = time.Unix(0, n).UTC()
	}
	return nil
}

// nextDevices is the cursor of the page after the one that ended with d.
func nextDevices(q pairing.DeviceQuery, d pairing.DeviceStatus) string {
	if !q.ByLastSeen {
		return d.ID
	}
	var n int64
	if d.Registration != nil {
		n = d.Registration.LastSeen.UnixNano()
	}
	return strconv.FormatInt(n, 10) + "." + d.ID
}
