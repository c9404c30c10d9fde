package sqlite

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/nbpair/nbpair/internal/pairing"
)

// The registration journal: a Register is made durable by appending it to
// a log file of its own (sequential writes, one sync for every Register
// that waits for the same flush) instead of by a SQLite transaction, whose
// WAL frames for a few random index pages per Register cost far more to
// write and sync. The group commit's writer then applies the journaled
// Registers to the database in the background, many to a transaction
// ("compaction"), and records in the same transaction the sequence number
// it applied up to, so that a record is never applied twice. Until then
// the store answers reads of a journaled registration from memory. A file
// whose records are all applied, durably, is deleted; Open replays what
// the files hold beyond the applied number, so a Register that was
// answered survives a kill at any point.
//
// The journal lives in the directory "journal" beside the database, as
// files named by a number that grows, each of at most journalSegmentBytes.
//
// A record is: length (uint32, of what follows the checksum), CRC-32C of
// the payload, payload. The payload is the sequence number and the
// registration's columns. A torn record (a crash while writing) fails its
// checksum and ends the replay of its file: it was never acknowledged. A
// file is grown with zeros ahead of its records (journal_file.go); a
// record of length zero ends it too.

const (
	// journalDir is the journal's directory inside the data directory.
	journalDir = "journal"
	// journalSegmentBytes is the size past which the journal starts a new
	// file, so that applied records can be deleted while new ones come in.
	journalSegmentBytes = 4 << 20
	// journalMaxBacklog bounds the registrations journaled but not yet
	// applied to the database (and so kept in memory, about 1 KiB each
	// with the maps that find them): a Register waits while there are
	// this many.
	journalMaxBacklog = 32768
	// compactHighWater is the backlog past which the writer applies
	// journaled registrations even while Registers keep coming.
	compactHighWater = journalMaxBacklog / 2
	// compactQuiet is how long no Register must have come before the
	// writer applies a smaller backlog: during a storm of Registers the
	// processor time goes to answering them, and applying them waits.
	compactQuiet = 50 * time.Millisecond
	// journalAllocBytes is how much a journal file grows at a time.
	journalAllocBytes = 1 << 20
	// journalMaxRecord bounds one record, so that a corrupt length cannot
	// make the replay allocate without limit.
	journalMaxRecord = 1 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// journaled is a registration the journal holds and the database may not
// have yet.
type journaled struct {
	seq uint64
	reg pairing.Registration
}

// flushWait is one flush of the journal: every append that joined it
// waits for done, then reads err.
type flushWait struct {
	done   chan struct{}
	err    error
	checks []*firstCheck // guarded by the journal's mu until done
}

// segment is one journal file.
type segment struct {
	num    uint64
	path   string
	maxSeq uint64 // the last record written to it; 0 while empty
}

// journal is the registration journal of a Store.
type journal struct {
	dir string

	// compactMu orders a Register's "is it the device's first?" read
	// against compaction: the writer holds it to forget applied records,
	// a Register holds it for reading from its read of the database to
	// its append.
	compactMu sync.RWMutex

	mu       sync.Mutex
	cond     *sync.Cond                                  // signalled when records are applied or the journal closes
	seq      uint64                                      // guarded by mu: the last sequence number handed out
	applied  uint64                                      // guarded by mu: everything up to it is in the database
	backlog  []journaled                                 // guarded by mu: appended, not yet applied, in order
	byDevice map[string]uint64                           // guarded by mu: the sequence number of each device's newest in backlog
	byID     map[string]string                           // guarded by mu: registration ID → device ID, for byDevice
	firsts   map[string]time.Time                        // guarded by mu: devices whose first registration is in backlog
	buf      []byte                                      // guarded by mu: encoded records not yet written
	cur      *flushWait                                  // guarded by mu: the flush the next append joins
	failed   error                                       // guarded by mu: a write or sync failed; the journal takes no more
	closed   bool                                        // guarded by mu
	waiters  int                                         // guarded by mu: callers waiting for records to be applied
	lastAdd  time.Time                                   // guarded by mu: when the last record was appended
	held     bool                                        // guarded by mu: tests keep records from being applied
	segs     []segment                                   // guarded by mu: the files, oldest first; the last is written to
	file     *os.File                                    // the last segment, open for appending; owned by the flusher
	size     int64                                       // the bytes of records in it; owned by the flusher
	alloc    int64                                       // its size: zeros after the records; owned by the flusher
	lookup   func(ids []string) (map[string]bool, error) // which devices exist, and whether each never registered
	kick     chan struct{}                               // wakes the writer to apply records (capacity 1)
	flushNow chan struct{}                               // wakes the flusher (capacity 1)
	stopped  chan struct{}                               // closed when the flusher has ended
}

// openJournal reads the journal in dir (created if missing) and returns
// it with the records it holds beyond applied, for the caller to apply
// before anything else runs.
func openJournal(dir string, applied uint64) (*journal, []journaled, error) {
	jdir := filepath.Join(dir, journalDir)
	if err := os.MkdirAll(jdir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("journal: %w", err)
	}
	segs, err := listSegments(jdir)
	if err != nil {
		return nil, nil, err
	}
	var replay []journaled
	last := applied
	for i := range segs {
		recs, err := readSegment(segs[i].path)
		if err != nil {
			return nil, nil, err
		}
		for _, r := range recs {
			segs[i].maxSeq = max(segs[i].maxSeq, r.seq)
			last = max(last, r.seq)
			if r.seq > applied {
				replay = append(replay, r)
			}
		}
	}
	j := &journal{dir: jdir, seq: last, applied: last, segs: segs,
		byDevice: make(map[string]uint64), byID: make(map[string]string), firsts: make(map[string]time.Time),
		cur: &flushWait{done: make(chan struct{})}, kick: make(chan struct{}, 1),
		flushNow: make(chan struct{}, 1), stopped: make(chan struct{})}
	j.cond = sync.NewCond(&j.mu)
	return j, replay, nil
}

// add journals r and returns a function that waits until it is on disk
// and reports whether this is the device's first registration, or that
// the device does not exist (the flusher asks the database, once for all
// the Registers of a flush: see decide).
func (j *journal) add(r pairing.Registration) func() (bool, error) {
	j.mu.Lock()
	if j.failed != nil || j.closed {
		err := j.failed
		j.mu.Unlock()
		if err == nil {
			err = errors.New("journal: the store is closed")
		}
		return func() (bool, error) { return false, err }
	}
	j.seq++
	rec := journaled{seq: j.seq, reg: r}
	start := len(j.buf)
	j.buf = append(j.buf, 0, 0, 0, 0, 0, 0, 0, 0)
	j.buf = appendRecord(j.buf, rec)
	payload := j.buf[start+8:]
	binary.LittleEndian.PutUint32(j.buf[start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(j.buf[start+4:], crc32.Checksum(payload, crcTable))
	c := &firstCheck{seq: rec.seq, deviceID: r.DeviceID, regID: r.ID, at: r.RegisteredAt}
	if old, pending := j.newest(r.DeviceID); pending {
		c.hadPending = true
		delete(j.byID, old.reg.ID)
	}
	j.backlog = append(j.backlog, rec)
	j.byDevice[r.DeviceID] = rec.seq
	j.byID[r.ID] = r.DeviceID
	j.lastAdd = time.Now()
	w := j.cur
	w.checks = append(w.checks, c)
	wake := len(j.backlog) == 1 || len(j.backlog) >= compactHighWater
	j.mu.Unlock()
	signal(j.flushNow)
	if wake { // the writer sets its timer, or applies at once
		signal(j.kick)
	}
	return func() (bool, error) {
		<-w.done
		if w.err != nil {
			return false, w.err
		}
		return c.first, c.err
	}
}

// firstCheck is what a Register waits to learn after its flush: whether it
// is its device's first registration, or that its device does not exist.
type firstCheck struct {
	seq        uint64
	deviceID   string
	regID      string
	at         time.Time
	hadPending bool // an earlier Register of the device was in the backlog
	first      bool
	err        error
}

// decide answers the checks of one flush, in the order of their records,
// with one read of the database for all their devices. It holds compactMu
// from before the read until it has decided, so that no record applied
// meanwhile is forgotten between the read and the decision.
func (j *journal) decide(checks []*firstCheck) {
	if len(checks) == 0 {
		return
	}
	ids := make([]string, len(checks))
	for i, c := range checks {
		ids[i] = c.deviceID
	}
	j.compactMu.RLock()
	defer j.compactMu.RUnlock()
	unregistered, err := j.lookup(ids)
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, c := range checks {
		never, exists := unregistered[c.deviceID]
		switch {
		case err != nil:
			c.err = err
		case !exists:
			c.err = errNoDevice(c.deviceID)
			if seq, ok := j.byDevice[c.deviceID]; ok && seq == c.seq { // its record is skipped when applied
				delete(j.byDevice, c.deviceID)
				delete(j.byID, c.regID)
			}
		default:
			_, seen := j.firsts[c.deviceID]
			c.first = never && !seen && !c.hadPending
			if c.first {
				j.firsts[c.deviceID] = c.at
			}
		}
	}
}

// fail stops the journal from taking more: a write, sync or apply failed.
func (j *journal) fail(err error) {
	j.mu.Lock()
	if j.failed == nil {
		j.failed = err
	}
	j.cond.Broadcast()
	j.mu.Unlock()
}

// err returns why the journal failed, if it did.
func (j *journal) err() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.failed
}

// segmentDone reports whether applying the records up to seq completes a
// file that could then be deleted.
func (j *journal) segmentDone(seq uint64) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.segs) > 1 && j.segs[0].maxSeq <= seq
}

// signal wakes whoever waits on c, without blocking.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// waitRoom waits while the backlog is full.
func (j *journal) waitRoom() {
	j.mu.Lock()
	for len(j.backlog) >= journalMaxBacklog && !j.closed && j.failed == nil {
		j.waiters++
		signal(j.kick)
		j.cond.Wait()
		j.waiters--
	}
	j.mu.Unlock()
}

// pending returns up to n records to apply, oldest first.
func (j *journal) pending(n int) []journaled {
	j.mu.Lock()
	defer j.mu.Unlock()
	if n > len(j.backlog) {
		n = len(j.backlog)
	}
	return slices.Clone(j.backlog[:n])
}

// due reports whether the writer should apply journaled registrations
// now; if not, after says when to look again (0: when kicked). lastUrgent
// is when the writer last committed an urgent write (a bind): applying
// waits for the binds to pause as it waits for the Registers.
func (j *journal) due(lastUrgent time.Time) (now bool, after time.Duration) {
	j.mu.Lock()
	defer j.mu.Unlock()
	switch {
	case len(j.backlog) == 0 || j.held || j.failed != nil: // a failed journal is not applied again and again
		return false, 0
	case j.waiters > 0 || j.closed || len(j.backlog) >= compactHighWater:
		return true, 0
	}
	last := j.lastAdd
	if lastUrgent.After(last) {
		last = lastUrgent
	}
	if quiet := time.Since(last); quiet < compactQuiet {
		return false, compactQuiet - quiet
	}
	return true, 0
}

// backlogLen returns how many records wait to be applied.
func (j *journal) backlogLen() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.backlog)
}

// appliedUpTo forgets the records up to seq, now in the database.
func (j *journal) appliedUpTo(seq uint64) {
	j.compactMu.Lock()
	j.mu.Lock()
	i := 0
	for i < len(j.backlog) && j.backlog[i].seq <= seq {
		r := j.backlog[i].reg
		if seq, ok := j.byDevice[r.DeviceID]; ok && seq == j.backlog[i].seq {
			delete(j.byDevice, r.DeviceID)
			delete(j.byID, r.ID)
		}
		if at, ok := j.firsts[r.DeviceID]; ok && at.Equal(r.RegisteredAt) {
			delete(j.firsts, r.DeviceID)
		}
		i++
	}
	clear(j.backlog[:i]) // let go of what they hold
	j.backlog = j.backlog[i:]
	if len(j.backlog) == 0 {
		j.backlog = nil // the next storm grows a new one; this one's memory goes
	}
	j.applied = max(j.applied, seq)
	j.cond.Broadcast()
	j.mu.Unlock()
	j.compactMu.Unlock()
}

// durableUpTo deletes the files whose records are all applied and durable
// in the database, except the one appended to.
func (j *journal) durableUpTo(seq uint64) {
	j.mu.Lock()
	var gone []segment
	for len(j.segs) > 1 && j.segs[0].maxSeq <= seq {
		gone = append(gone, j.segs[0])
		j.segs = j.segs[1:]
	}
	j.mu.Unlock()
	for _, sg := range gone {
		os.Remove(sg.path) // one left behind is replayed and skipped
	}
}

// appliedSeq returns the last sequence number applied.
func (j *journal) appliedSeq() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.applied
}

// lastSeq returns the last sequence number handed out.
func (j *journal) lastSeq() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.seq
}

// waitApplied waits until every record up to seq is in the database.
func (j *journal) waitApplied(seq uint64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.waiters++
	defer func() { j.waiters-- }()
	for j.applied < seq {
		if j.closed || j.failed != nil {
			return errors.New("journal: closed before the registrations were applied")
		}
		signal(j.kick)
		j.cond.Wait()
	}
	return nil
}

// registrationOfDevice returns the device's journaled registration, if
// one waits to be applied.
func (j *journal) registrationOfDevice(deviceID string) (pairing.Registration, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if p, ok := j.newest(deviceID); ok {
		return cloneReg(p.reg), true
	}
	return pairing.Registration{}, false
}

// registration returns the journaled registration with that ID, if one
// waits to be applied.
func (j *journal) registration(id string) (pairing.Registration, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if dev, ok := j.byID[id]; ok {
		if p, ok := j.newest(dev); ok && p.reg.ID == id {
			return cloneReg(p.reg), true
		}
	}
	return pairing.Registration{}, false
}

// newest returns the device's newest journaled registration. The backlog
// holds consecutive sequence numbers, so it is found by its number. The
// caller holds mu.
func (j *journal) newest(deviceID string) (*journaled, bool) {
	seq, ok := j.byDevice[deviceID]
	if !ok || len(j.backlog) == 0 || seq < j.backlog[0].seq {
		return nil, false
	}
	i := seq - j.backlog[0].seq
	if i >= uint64(len(j.backlog)) {
		return nil, false
	}
	return &j.backlog[i], true
}

// expiredBy reports whether a journaled registration not yet applied
// expires at or before now.
func (j *journal) expiredBy(now time.Time) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, p := range j.backlog {
		if seq := j.byDevice[p.reg.DeviceID]; seq == p.seq && !p.reg.ExpiresAt.After(now) {
			return true
		}
	}
	return false
}

// firstRegisteredAt returns when the device first registered, if that
// registration waits to be applied.
func (j *journal) firstRegisteredAt(deviceID string) (time.Time, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	at, ok := j.firsts[deviceID]
	return at, ok
}

// close stops the flusher, after it has written what was appended.
func (j *journal) close() {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return
	}
	j.closed = true
	j.cond.Broadcast()
	j.mu.Unlock()
	signal(j.flushNow)
	<-j.stopped
	if j.file != nil {
		j.file.Close()
	}
}

// removeAll deletes every file of the journal, once everything in it is
// applied and durable (the store is closing).
func (j *journal) removeAll() {
	j.mu.Lock()
	segs := j.segs
	j.segs = nil
	j.mu.Unlock()
	for _, sg := range segs {
		os.Remove(sg.path)
	}
}

// cloneReg copies r so that the caller may change its object list.
func cloneReg(r pairing.Registration) pairing.Registration {
	r.Objects = slices.Clone(r.Objects)
	return r
}
