package pairing

import (
	"time"

	"github.com/nbpair/nbpair/internal/wire"
)

// HotView is what the hot index holds for a device, for the tests.
type HotView struct {
	Indexed      bool
	RegKnown     bool
	Reg          *Registration // the live registration when RegKnown; nil for none
	MayPending   bool
	MayDownlinks bool
	KnownUnbound bool
	// Owned is the pairing state of a device the index knows is bound.
	Owned *wire.PairingState
}

// HotView returns what the service's hot index holds for the device.
func (s *Service) HotView(deviceID string) HotView {
	x := s.hot.x
	x.mu.RLock()
	defer x.mu.RUnlock()
	d, ok := x.lookupID(deviceID)
	if !ok {
		return HotView{}
	}
	v := HotView{Indexed: true, RegKnown: d.regKnown(), MayPending: d.mayPending(), MayDownlinks: d.mayDownlinks(),
		KnownUnbound: d.bind == bindNone}
	if d.bind == bindSome && d.owned != nil {
		st := *d.owned
		v.Owned = &st
	}
	if d.hasReg() {
		r := x.copyReg(d)
		v.Reg = &r
	}
	return v
}

// SetNow sets the service's clock; call it before the service runs.
func (s *Service) SetNow(now func() time.Time) { s.now = now }
