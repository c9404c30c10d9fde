package pairing

import (
	"context"
	"time"
)

// AuditEntry is one line of the audit log: who did what to which device,
// when, from where, and how it ended.
type AuditEntry struct {
	ID         int64     `json:"id"`
	At         time.Time `json:"at"`
	Action     string    `json:"action"`
	Outcome    string    `json:"outcome"` // ok or refused
	Actor      string    `json:"actor"`   // admin, user, device or system
	UserID     string    `json:"uid,omitempty"`
	DeviceID   string    `json:"devId,omitempty"`
	RemoteAddr string    `json:"remoteAddr,omitempty"`
	Detail     string    `json:"detail,omitempty"`
}

// The actions the audit log records.
const (
	AuditProvision   = "provision"
	AuditExportKeys  = "export-keys"
	AuditParse       = "parse"
	AuditBind        = "bind"
	AuditUnbind      = "unbind"
	AuditRename      = "rename"
	AuditReset       = "reset"
	AuditRateLimited = "rate-limited"
	AuditLogin       = "login"
)

// AuditActions are the actions the audit log records, for a client to
// check a filter against.
func AuditActions() []string {
	return []string{AuditProvision, AuditExportKeys, AuditParse, AuditBind, AuditUnbind, AuditRename, AuditReset,
		AuditRateLimited, AuditLogin, AuditDTLS, AuditDownlink, AuditBlock, AuditUnblock, AuditDeprovision, AuditPSKRotate, AuditPSKRotated}
}

// AuditOutcomes are the outcomes of audited actions.
func AuditOutcomes() []string { return []string{OutcomeOK, OutcomeRefused, OutcomeDropped} }

// Outcomes of audited actions.
const (
	OutcomeOK      = "ok"
	OutcomeRefused = "refused"
)

// AuditQuery selects audit entries, newest first.
type AuditQuery struct {
	DeviceID, UserID, Action, Outcome string
	// Before is the ID of the last entry of the previous page (0: newest).
	Before int64
	Limit  int
}

type remoteAddrKey struct{}

type userKey struct{}

// WithUser records which user a request acts for.
func WithUser(ctx context.Context, userID string) context.Context {
	return context.WithValue(ctx, userKey{}, userID)
}

// ActingUser is the user WithUser recorded, "" if none.
func ActingUser(ctx context.Context) string {
	uid, _ := ctx.Value(userKey{}).(string)
	return uid
}

// WithRemoteAddr records where a request came from, for the audit log.
func WithRemoteAddr(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, remoteAddrKey{}, addr)
}

func remoteAddr(ctx context.Context) string {
	addr, _ := ctx.Value(remoteAddrKey{}).(string)
	return addr
}

// audit appends an entry; a failure to write it is logged, not returned,
// so that the audit log never blocks what it records.
func (s *Service) audit(ctx context.Context, e AuditEntry) {
	e.At = s.now().UTC()
	if e.RemoteAddr == "" {
		e.RemoteAddr = remoteAddr(ctx)
	}
	if err := s.store.AppendAudit(context.WithoutCancel(ctx), e); err != nil {
		s.log.Error("writing the audit log", "action", e.Action, "err", err)
	}
}

// Audit records an action seen at an edge (such as a rate-limit hit).
func (s *Service) Audit(ctx context.Context, e AuditEntry) { s.audit(ctx, e) }

// AuditLog lists audit entries, newest first, and how many match in all.
func (s *Service) AuditLog(ctx context.Context, q AuditQuery) ([]AuditEntry, int, error) {
	if q.Limit <= 0 || q.Limit > 1000 {
		q.Limit = 100
	}
	return s.store.Audit(ctx, q)
}
