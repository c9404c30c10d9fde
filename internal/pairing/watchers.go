package pairing

import "sync"

// watchers tells those waiting on an activation how it ended.
type watchers struct {
	mu sync.Mutex
	m  map[string]map[chan Activation]struct{} // guarded by mu
}

// subscribe returns a channel that receives the activation when it ends,
// and a function to unsubscribe.
func (w *watchers) subscribe(id string) (<-chan Activation, func()) {
	ch := make(chan Activation, 1)
	w.mu.Lock()
	if w.m == nil {
		w.m = make(map[string]map[chan Activation]struct{})
	}
	if w.m[id] == nil {
		w.m[id] = make(map[chan Activation]struct{})
	}
	w.m[id][ch] = struct{}{}
	w.mu.Unlock()
	return ch, func() {
		w.mu.Lock()
		delete(w.m[id], ch)
		if len(w.m[id]) == 0 {
			delete(w.m, id)
		}
		w.mu.Unlock()
	}
}

// notify hands the ended activation to every subscriber.
func (w *watchers) notify(a Activation) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for ch := range w.m[a.ID] {
		select {
		case ch <- a:
		default: // already told
		}
	}
}

// watching reports whether anyone on this node waits for the activation.
func (w *watchers) watching(id string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.m[id]) > 0
}
