package pairing

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxRunningActivations bounds the list of a user's running activations:
// an app runs one or a few at a time.
const MaxRunningActivations = 100

// RunningActivations lists the user's activations still waiting for their
// device, oldest first, so that an app that was reloaded or restarted can
// show them again (and stop them).
func (s *Service) RunningActivations(ctx context.Context, userID string) ([]Activation, error) {
	all, err := s.store.PendingActivationsOfUser(ctx, userID, MaxRunningActivations)
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := all[:0]
	for _, a := range all {
		if a.Deadline.After(now) { // the sweeper ends the others any moment
			out = append(out, a)
		}
	}
	return out, nil
}

// MaxDeviceSearch is the longest search text of a device listing.
const MaxDeviceSearch = 64

// checkDeviceSearch refuses a search text that no IMEI, ID or name could
// match: too long, not UTF-8, or with control characters.
func checkDeviceSearch(q string) error {
	switch {
	case utf8.RuneCountInString(q) > MaxDeviceSearch:
		return fmt.Errorf("%w: the search text is %d characters, at most %d", ErrInvalid, utf8.RuneCountInString(q), MaxDeviceSearch)
	case !utf8.ValidString(q):
		return fmt.Errorf("%w: the search text is not valid UTF-8", ErrInvalid)
	case strings.ContainsFunc(q, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return fmt.Errorf("%w: the search text holds control characters", ErrInvalid)
	}
	return nil
}

// QueuedDownlinks lists the downlinks waiting for the device with the
// given ID (or IMEI) to be awake.
func (s *Service) QueuedDownlinks(ctx context.Context, idOrIMEI string) ([]Downlink, error) {
	st, err := s.DeviceStatus(ctx, idOrIMEI)
	if err != nil {
		return nil, err
	}
	return s.store.Downlinks(ctx, st.ID)
}

// DeviceSearchPatterns are the SQL LIKE patterns (escaped with \) of a
// device search: in lower case, prefix for IMEIs and IDs (compared in
// lower case), contains for names. Stores use them.
func DeviceSearchPatterns(search string) (prefix, contains string) {
	esc := strings.ToLower(strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(search))
	return esc + "%", "%" + esc + "%"
}
