package sqlite

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// The journal's files: segments, the flusher that writes and syncs them,
// and reading them back (see journal.go).

// start opens a new segment to append to and starts the flusher. The
// records of the old segments must have been applied and made durable by
// then: they are deleted.
func (j *journal) start() error {
	for _, sg := range j.segs {
		if err := os.Remove(sg.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("journal: %w", err)
		}
	}
	var next uint64 = 1
	if n := len(j.segs); n > 0 {
		next = j.segs[n-1].num + 1
	}
	j.segs = nil
	if err := j.newSegment(next); err != nil {
		return err
	}
	go j.flusher()
	return nil
}

func listSegments(jdir string) ([]segment, error) {
	ents, err := os.ReadDir(jdir)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err) // wraps fs.ErrNotExist for a missing one
	}
	var segs []segment
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".log")
		if !ok || e.IsDir() {
			continue
		}
		n, err := strconv.ParseUint(name, 10, 64)
		if err != nil {
			continue
		}
		segs = append(segs, segment{num: n, path: filepath.Join(jdir, e.Name())})
	}
	slices.SortFunc(segs, func(a, b segment) int { return compareU64(a.num, b.num) })
	return segs, nil
}

func compareU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// newSegment creates segment num and makes it the one appended to. Only
// the flusher (or start, before it) calls it.
func (j *journal) newSegment(num uint64) error {
	path := filepath.Join(j.dir, fmt.Sprintf("%020d.log", num))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if err := syncDir(j.dir); err != nil {
		f.Close()
		return err
	}
	if j.file != nil {
		j.file.Close()
	}
	j.file, j.size, j.alloc = f, 0, 0
	j.mu.Lock()
	j.segs = append(j.segs, segment{num: num, path: path})
	j.mu.Unlock()
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("journal: sync %s: %w", dir, err)
	}
	return nil
}

// readSegment reads the records of one file, up to the first that is torn
// or corrupt.
func readSegment(path string) ([]journaled, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err) // wraps fs.ErrNotExist for a missing one
	}
	var out []journaled
	for len(data) >= 8 {
		n := binary.LittleEndian.Uint32(data)
		sum := binary.LittleEndian.Uint32(data[4:])
		if n > journalMaxRecord || int(n) > len(data)-8 {
			break
		}
		payload := data[8 : 8+n]
		if crc32.Checksum(payload, crcTable) != sum {
			break
		}
		r, err := decodeRecord(payload)
		if err != nil {
			break
		}
		out = append(out, r)
		data = data[8+n:]
	}
	return out, nil
}

// flusher writes what was appended and syncs it, one flush after another,
// until the journal closes.
func (j *journal) flusher() {
	defer close(j.stopped)
	for {
		<-j.flushNow
		j.mu.Lock()
		buf, w, closed := j.buf, j.cur, j.closed
		if len(buf) == 0 {
			j.mu.Unlock()
			if closed {
				return
			}
			continue
		}
		j.buf = make([]byte, 0, cap(buf))
		j.cur = &flushWait{done: make(chan struct{})}
		maxSeq := j.seq
		j.mu.Unlock()
		if w.err = j.writeSync(buf, maxSeq); w.err != nil {
			j.fail(w.err)
		} else {
			j.decide(w.checks)
		}
		close(w.done)
		if closed {
			return
		}
	}
}

// writeSync writes buf to the current segment, syncs it, and starts a new
// segment when this one is full.
//
// The file is grown ahead of the records, with zeros, a MiB at a time and
// synced whole then; a record is written over the zeros and synced with
// fdatasync, which then has no size or block allocation to write to the
// filesystem's own journal, so that it neither waits for the database's
// syncs nor makes them wait.
func (j *journal) writeSync(buf []byte, maxSeq uint64) error {
	if err := j.allocate(int64(len(buf))); err != nil {
		return err
	}
	if _, err := j.file.WriteAt(buf, j.size); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if err := fdatasync(j.file); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	j.size += int64(len(buf))
	j.mu.Lock()
	last := &j.segs[len(j.segs)-1]
	last.maxSeq = max(last.maxSeq, maxSeq)
	num := last.num
	j.mu.Unlock()
	if j.size >= journalSegmentBytes {
		return j.newSegment(num + 1)
	}
	return nil
}

// allocate grows the file with zeros, and syncs it, until n more bytes
// fit after what is written.
func (j *journal) allocate(n int64) error {
	if j.size+n <= j.alloc {
		return nil
	}
	zeros := make([]byte, journalAllocBytes)
	for j.size+n > j.alloc {
		if _, err := j.file.WriteAt(zeros, j.alloc); err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		j.alloc += journalAllocBytes
	}
	if err := j.file.Sync(); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}
