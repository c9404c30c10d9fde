package pairing

import (
	"context"
	"fmt"

	"github.com/nbpair/nbpair/internal/wire"
)

// AuditDTLS is the audit action of a DTLS handshake the server refused.
const AuditDTLS = "dtls-handshake"

// AuditDTLSRefused records a DTLS handshake refused after the client named
// its PSK identity (for example with a key that is not the device's), with
// the device it names when there is one. The caller rate-limits it per
// identity and bounds the client-chosen identity's length.
func (s *Service) AuditDTLSRefused(ctx context.Context, identity, remoteAddr, reason string) {
	e := AuditEntry{Action: AuditDTLS, Outcome: OutcomeRefused, Actor: "device", RemoteAddr: remoteAddr,
		Detail: fmt.Sprintf("identity %q: %s", identity, reason)}
	if imei, ok := wire.IMEIFromEndpoint(identity); ok {
		if d, err := s.hot.deviceByIMEI(ctx, imei); err == nil {
			e.DeviceID = d.ID
		}
	}
	s.audit(ctx, e)
}
