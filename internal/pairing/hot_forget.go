package pairing

// forget takes a deprovisioned device out of the index, so that its IMEI
// resolves afresh (to the device provisioned with it next, if any). Its
// slot is not reused: deprovisioning is rare, and a slot is small.
func (h *hotStore) forget(deviceID string) {
	h.x.mu.Lock()
	defer h.x.mu.Unlock()
	x := h.x
	d, ok := x.lookupID(deviceID)
	if !ok {
		return
	}
	x.setReg(d, nil)
	if i, ok := x.byIMEI[d.imei]; ok && i == d.slot {
		delete(x.byIMEI, d.imei)
	}
	if d.flags&devPacked != 0 {
		delete(x.byID, d.id)
	} else {
		delete(x.byName, deviceID)
		delete(x.names, d.slot)
	}
	delete(x.others, d.slot)
	*d = hotDevice{slot: d.slot}
}
