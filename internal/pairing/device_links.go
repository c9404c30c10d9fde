package pairing

import (
	"slices"
	"sync"
	"time"

	"github.com/nbpair/nbpair/internal/wire"
)

// Bounds of what downlinks teach the service about devices.
const (
	// DefaultDownlinkAttempts is how many attempts of one downlink may
	// fail without an answer before it is dropped.
	DefaultDownlinkAttempts = 5
	// MaxDeviceLinks bounds the devices the service remembers something
	// of: a format other than the first it would try, an awake time, or a
	// failed attempt. Beyond it an arbitrary entry is forgotten, which
	// costs at most a refused format tried again, or retries counted anew.
	MaxDeviceLinks = 1 << 17
	// minLearnedAwake is the shortest awake time learned from a write that
	// got no answer: one lost datagram must not make a device look asleep
	// right after its uplinks.
	minLearnedAwake = 2 * time.Second
)

// deviceLink is what the service learned of one device from its
// downlinks. The zero value is "nothing learned"; entries are small, and
// only devices with something to remember have one.
type deviceLink struct {
	accepted   int32 // the content format the device last accepted, plus 1; 0 when unknown
	attempts   int32 // attempts without an answer of the downlink created at attemptsOf
	attemptsOf int64 // CreatedAt (Unix nanoseconds) of that downlink
	// awakeMin is the longest the device was seen to answer after an
	// uplink, awakeMax the shortest after which a write got no answer;
	// both in milliseconds, 0 when unknown.
	awakeMin, awakeMax int32
}

// deviceLinks is a bounded map of device ID to deviceLink.
type deviceLinks struct {
	mu sync.Mutex
	m  map[string]deviceLink // guarded by mu
}

func (l *deviceLinks) get(deviceID string) deviceLink {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m[deviceID]
}

// update changes the device's entry; an entry that becomes the zero value
// is removed, and a new one evicts an arbitrary other when the map is full.
func (l *deviceLinks) update(deviceID string, change func(*deviceLink)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, had := l.m[deviceID]
	change(&e)
	switch {
	case e == deviceLink{}:
		delete(l.m, deviceID)
		return
	case !had && len(l.m) >= MaxDeviceLinks:
		for id := range l.m {
			delete(l.m, id)
			break
		}
	case l.m == nil:
		l.m = make(map[string]deviceLink)
	}
	l.m[deviceID] = e
}

// len is the number of devices remembered.
func (l *deviceLinks) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}

// formatOrder is the order in which the Pairing object is written to r's
// device: the format it accepted last; then the formats it announced with
// ct in its Register, those that nbpair writes; for LwM2M 1.0, TLV, the
// format every 1.0 client reads; then SenML JSON, SenML CBOR, TLV and text.
func formatOrder(r Registration, l deviceLink) []int {
	order := make([]int, 0, len(wire.PairingFormats))
	add := func(f int) {
		if wire.IsPairingFormat(f) && !slices.Contains(order, f) {
			order = append(order, f)
		}
	}
	if l.accepted > 0 {
		add(int(l.accepted - 1))
	}
	for _, f := range wire.ContentFormats(r.ContentFormat) {
		add(f)
	}
	if r.Version == "1.0" {
		add(wire.FormatTLV)
	}
	for _, f := range wire.PairingFormats {
		add(f)
	}
	return order
}

// learnFormat remembers the format the device accepted, unless it is the
// one it would be written in first anyway.
func (s *Service) learnFormat(r Registration, res WriteResult, err error) {
	if err != nil || len(res.Refused) == 0 && s.links.get(r.DeviceID).accepted == 0 {
		return
	}
	s.links.update(r.DeviceID, func(e *deviceLink) {
		e.accepted = 0
		if formatOrder(r, *e)[0] != res.Format {
			e.accepted = int32(res.Format) + 1
		}
	})
}

// failedAttempt counts an attempt of d that got no answer and returns how
// many there have been.
func (s *Service) failedAttempt(d Downlink) int {
	var n int32
	s.links.update(d.DeviceID, func(e *deviceLink) {
		if e.attemptsOf != d.CreatedAt.UnixNano() {
			e.attemptsOf, e.attempts = d.CreatedAt.UnixNano(), 0
		}
		e.attempts++
		n = e.attempts
	})
	return int(n)
}

// attemptsBefore is how many attempts of d failed before.
func (s *Service) attemptsBefore(d Downlink) int {
	if e := s.links.get(d.DeviceID); e.attemptsOf == d.CreatedAt.UnixNano() {
		return int(e.attempts)
	}
	return 0
}

// forgetAttempts ends the count of the device's failed attempts.
func (s *Service) forgetAttempts(deviceID string) {
	s.links.update(deviceID, func(e *deviceLink) { e.attempts, e.attemptsOf = 0, 0 })
}

// learnAwake learns how long a queue-mode device stays awake after an
// uplink from a write that began at offset after r's last uplink: answered
// at answeredAt, the device was awake until then; unanswered, it was asleep
// by the time the write began (though never less than minLearnedAwake, and
// a later answer overrules it).
func (s *Service) learnAwake(r Registration, offset, answeredAt time.Duration, answered bool) {
	if !r.QueueMode || offset < 0 {
		return
	}
	ms := func(d time.Duration) int32 { return int32(min(d, time.Hour) / time.Millisecond) }
	s.links.update(r.DeviceID, func(e *deviceLink) {
		if answered {
			e.awakeMin = max(e.awakeMin, ms(answeredAt))
			if e.awakeMax > 0 && e.awakeMax < e.awakeMin {
				e.awakeMax = 0
			}
			return
		}
		if hi := ms(max(offset, minLearnedAwake)); hi >= e.awakeMin && (e.awakeMax == 0 || hi < e.awakeMax) {
			e.awakeMax = hi
		}
	})
}

// awakeFor is how long after an uplink the device is taken to listen: the
// configured awake window, or less if the device was seen asleep sooner.
func (s *Service) awakeFor(r Registration) time.Duration {
	w := s.opts.AwakeWindow
	if hi := time.Duration(s.links.get(r.DeviceID).awakeMax) * time.Millisecond; hi > 0 && hi < w {
		return hi
	}
	return w
}
