package pairing

import "context"

// ending is how one activation ends.
type ending struct {
	// end is the end to record of an activation still pending.
	end ActivationEnd
	// ended is instead the activation as it ended already: in a store
	// write that did more (a bind, a factory reset, a deletion), or on
	// another node.
	ended *Activation
	// elsewhere: another node ended it, and recorded, counted, announced
	// and audited its end; only the waiters on this node are told.
	elsewhere bool
	// audit is the audit entry that goes with the end, if any. It is
	// written after the waiters are told, even if the activation had
	// ended already: it records what was refused.
	audit *AuditEntry
}

// endActivation is the one place an activation ends: it records the end
// in the store, with the activation.failed event of a failure for the
// webhooks that want it in the same write (unless the activation comes
// ended already), logs and counts it, tells its waiters here and on the
// other nodes, and audits it. An activation that had ended already stays
// as it ended, and its waiters were told then.
func (s *Service) endActivation(ctx context.Context, e ending) {
	if e.audit != nil {
		defer s.audit(ctx, *e.audit)
	}
	if e.elsewhere {
		s.watch.notify(*e.ended)
		return
	}
	a, ok := s.recordEnd(ctx, e)
	if !ok {
		return
	}
	s.log.Info("activation ended", "activation", a.ID, "status", string(a.Status), "reason", string(a.Reason))
	s.opts.Metrics.ActivationEnded(activationOutcome(a), a.FinishedAt.Sub(a.CreatedAt))
	s.watch.notify(a)
	s.announce(ctx, Notice{Kind: NoticeActivationEnded, ID: a.ID, Activation: &EndedActivation{a, a.Reason}})
}

// recordEnd records e's end of a pending activation in the store, and
// returns the activation as it ended; false if it had ended already, or
// the write failed.
func (s *Service) recordEnd(ctx context.Context, e ending) (Activation, bool) {
	if e.ended != nil {
		return *e.ended, true
	}
	e.end.At = s.now().UTC()
	var n Notes
	if e.end.Status == ActivationFailed {
		n.Ended = s.failedNotes(ctx)
	}
	a, err := s.store.FinishActivationNoting(ctx, e.end, n)
	if isFinished(err) {
		return Activation{}, false
	} else if err != nil {
		s.log.Error("finishing activation", "activation", e.end.ID, "err", err)
		return Activation{}, false
	}
	return a, true
}

// failure is the end of a pending activation that failed for reason.
func failure(id string, reason FailReason) ending {
	return ending{end: ActivationEnd{ID: id, Status: ActivationFailed, Reason: reason}}
}

// endedAs is the end of an activation a store write has ended already.
func endedAs(a Activation) ending { return ending{ended: &a} }
