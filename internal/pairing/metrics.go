package pairing

import "time"

// Metrics records what the service does, for monitoring. The metrics
// package implements it; Options.Metrics nil records nothing.
type Metrics interface {
	// Registered, Updated, Deregistered and Expired count accepted
	// Registers, Updates and De-registers and expired registrations.
	Registered()
	Updated()
	Deregistered()
	Expired()
	// ActivationEnded counts an activation that ended with outcome
	// ("paired", "stopped" or the FailReason of a failure) after took.
	ActivationEnded(outcome string, took time.Duration)
	// Downlink counts what happened to a downlink: "queued", "sent",
	// "failed" (an attempt that got no answer; it stays queued),
	// "retried" (an attempt after failed ones), "superseded" (cancelled
	// by an uplink from a new address, and sent there), "format-refused"
	// (the device refused a content format; the next one was tried) or
	// "dropped" (given up for good: the device has no such object,
	// refused the write or every format, or did not answer
	// Options.DownlinkAttempts times).
	Downlink(what string)
}

// noMetrics records nothing.
type noMetrics struct{}

func (noMetrics) Registered()                           {}
func (noMetrics) Updated()                              {}
func (noMetrics) Deregistered()                         {}
func (noMetrics) Expired()                              {}
func (noMetrics) ActivationEnded(string, time.Duration) {}
func (noMetrics) Downlink(string)                       {}

// activationOutcome is how a finished activation ended, as the metric
// ActivationEnded names it.
func activationOutcome(a Activation) string {
	outcome := string(a.Reason)
	switch {
	case a.Status == ActivationPaired:
		outcome = "paired"
	case a.Status == ActivationStopped:
		outcome = "stopped"
	case outcome == "":
		outcome = string(a.Status)
	}
	return outcome
}
