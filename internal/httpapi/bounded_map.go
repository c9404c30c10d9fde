package httpapi

import "container/list"

// boundedMap is a map of at most max entries whose keys come from
// requests: when full, the entry used least recently goes to make room, so
// what a stream of new keys costs is capped. It is not safe for concurrent
// use; its owner locks.
type boundedMap[V any] struct {
	max     int
	entries map[string]*list.Element
	order   list.List // of *boundedEntry[V], most recently used first
}

type boundedEntry[V any] struct {
	key   string
	value V
}

func newBoundedMap[V any](max int) *boundedMap[V] {
	return &boundedMap[V]{max: max, entries: map[string]*list.Element{}}
}

// get returns the entry of key, marked as just used, adding a zero one
// (and evicting the least recently used when full) if there is none.
func (m *boundedMap[V]) get(key string) *V {
	if e, ok := m.entries[key]; ok {
		m.order.MoveToFront(e)
		return &e.Value.(*boundedEntry[V]).value
	}
	if len(m.entries) >= m.max {
		old := m.order.Back()
		m.order.Remove(old)
		delete(m.entries, old.Value.(*boundedEntry[V]).key)
	}
	be := &boundedEntry[V]{key: key}
	m.entries[key] = m.order.PushFront(be)
	return &be.value
}

// peek returns the entry of key without adding one or marking it used.
func (m *boundedMap[V]) peek(key string) (*V, bool) {
	if e, ok := m.entries[key]; ok {
		return &e.Value.(*boundedEntry[V]).value, true
	}
	return nil, false
}

// len is the number of entries.
func (m *boundedMap[V]) len() int { return len(m.entries) }
