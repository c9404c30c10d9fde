package pairing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nbpair/nbpair/internal/wire"
)

// The audit log's entry of a dropped downlink.
const (
	AuditDownlink  = "downlink"
	OutcomeDropped = "dropped"
)

// supersede is called for every Register and Update: a downlink still in
// flight to the address the device used before is cancelled, and its
// delivery loop goes round once more, to the new address, at once. A
// sleepy device that woke on a new address (a new NAT binding) gets its
// news in this wake window instead of after a retransmission timeout.
func (s *Service) supersede(r Registration) {
	s.downlinks.supersede(r.DeviceID, r.Addr)
}

// deliver sends one downlink to r, in a format the device reads, and
// settles what became of it: delivered, dropped for good, superseded by a
// newer uplink, or failed for now (kept for the device's next wake-up,
// until it has failed Options.DownlinkAttempts times). It returns
// errSuperseded when the device has moved to a new address.
func (s *Service) deliver(ctx context.Context, down Downlinker, r Registration, o outgoing) error {
	d := o.Downlink
	log := downlinkLog{s.log, r, d}
	if s.attemptsBefore(d) > 0 {
		s.opts.Metrics.Downlink("retried")
	}
	wctx, cancel := context.WithCancelCause(ctx)
	iw := s.downlinks.begin(d.DeviceID, r.Addr, cancel)
	if s.hot.movedFrom(r) { // heard from elsewhere after r was read, before the write could be superseded
		cancel(errSuperseded)
	}
	tctx, stop := context.WithTimeout(wctx, s.opts.DownlinkTimeout)
	start := s.now()
	var res WriteResult
	err := context.Cause(wctx)
	if err == nil {
		res, err = down.WritePairing(tctx, r, d.Pairing, formatOrder(r, s.links.get(d.DeviceID)))
	}
	took := s.now().Sub(start)
	superseded := err != nil && errors.Is(context.Cause(wctx), errSuperseded)
	timedOut := errors.Is(tctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded)
	stop()
	s.downlinks.end(d.DeviceID, iw)
	cancel(nil)

	s.noteFormats(log, r, res, err)
	switch {
	case superseded:
		log.Info("downlink superseded: the device was heard from a new address; sending it there", "err", err)
		s.opts.Metrics.Downlink("superseded")
		if err := s.keep(ctx, d, o.fresh); err != nil {
			return err
		}
		return errSuperseded
	case errors.Is(err, ErrObjectMissing), errors.Is(err, ErrDownlinkRefused):
		return s.drop(ctx, r, o, err.Error())
	case err != nil:
		if timedOut { // no answer at all: the device slept
			s.learnAwake(r, start.Sub(r.LastSeen), 0, false)
		}
		return s.failed(ctx, r, o, err)
	}
	s.learnAwake(r, start.Sub(r.LastSeen), start.Add(took).Sub(r.LastSeen), true)
	s.forgetAttempts(d.DeviceID)
	log.Info("downlink delivered", "bind_state", d.Pairing.State.String(), "format", wire.FormatName(res.Format),
		"took", took.Round(time.Millisecond))
	s.opts.Metrics.Downlink("sent")
	return s.settled(ctx, o)
}

// noteFormats logs and counts the formats the device refused, and learns
// the one it took.
func (s *Service) noteFormats(log downlinkLog, r Registration, res WriteResult, err error) {
	for _, f := range res.Refused {
		log.Info("device refused a content format; trying the next", "format", wire.FormatName(f))
		s.opts.Metrics.Downlink("format-refused")
	}
	s.learnFormat(r, res, err)
}

// failed handles an attempt that got no answer: the downlink stays for the
// next wake-up, or is dropped once it has failed DownlinkAttempts times.
func (s *Service) failed(ctx context.Context, r Registration, o outgoing, err error) error {
	n := s.failedAttempt(o.Downlink)
	if n >= s.opts.DownlinkAttempts {
		return s.drop(ctx, r, o, fmt.Sprintf("no answer after %d attempts; last: %v", n, err))
	}
	s.log.Info("downlink not delivered; it stays queued for the next wake-up", "device_id", r.DeviceID,
		"endpoint", r.Endpoint, "remote_addr", r.Addr, "attempt", n, "max_attempts", s.opts.DownlinkAttempts, "err", err)
	s.opts.Metrics.Downlink("failed")
	if o.fresh {
		return s.requeue(ctx, o.Downlink)
	}
	return nil
}

// drop gives a downlink up for good, with a log line, a metric and an
// audit entry: the device cannot take it, and sending it again would only
// be refused again. Its next Register sends the state anew.
func (s *Service) drop(ctx context.Context, r Registration, o outgoing, why string) error {
	d := o.Downlink
	s.log.Warn("downlink dropped: the device cannot take it", "device_id", d.DeviceID, "endpoint", r.Endpoint,
		"remote_addr", r.Addr, "downlink", string(d.Kind), "reason", why)
	s.opts.Metrics.Downlink("dropped")
	s.forgetAttempts(d.DeviceID)
	s.audit(ctx, AuditEntry{Action: AuditDownlink, Outcome: OutcomeDropped, Actor: "system", DeviceID: d.DeviceID,
		RemoteAddr: r.Addr, Detail: string(d.Kind) + " write dropped: " + why})
	return s.settled(ctx, o)
}

// settled removes a downlink that was delivered or dropped from the store,
// with the older ones of its kind that a fresh one superseded.
func (s *Service) settled(ctx context.Context, o outgoing) error {
	if o.fresh && !o.supersedes {
		return nil
	}
	d := o.Downlink
	return s.store.DeleteDownlink(ctx, d.DeviceID, d.Kind, d.CreatedAt)
}

// downlinkLog logs about one downlink with the device's attributes. It
// builds the attributed logger only for a line that is logged: deliver
// runs after every Register, and a logger's With costs more than the
// rest of the bookkeeping.
type downlinkLog struct {
	l *slog.Logger
	r Registration
	d Downlink
}

// Info logs msg at info level, with args after the downlink's attributes.
func (dl downlinkLog) Info(msg string, args ...any) {
	if !dl.l.Enabled(context.Background(), slog.LevelInfo) {
		return
	}
	dl.l.With("device_id", dl.d.DeviceID, "endpoint", dl.r.Endpoint, "remote_addr", dl.r.Addr,
		"downlink", string(dl.d.Kind)).Info(msg, args...)
}
