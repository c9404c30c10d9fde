package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/nbpair/nbpair/internal/pairing"
)

// How the store uses its registration journal (journal.go): Register
// appends to it; the writer applies what it holds to the tables, in the
// background and before any write that touches registrations; reads of a
// registration look at the journal first.

// compactBatch bounds the journaled registrations applied in one
// transaction of their own, so that a bind waiting behind one waits for a
// short transaction.
const compactBatch = 256

// Register implements pairing.Store: the registration is journaled, and
// applied to the tables later (see journal.go). The device must exist; the
// registration replaces the device's one, and first reports whether the
// device had never registered before.
func (s *Store) Register(ctx context.Context, r pairing.Registration) (first bool, err error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	normalizeReg(&r)
	s.j.waitRoom()
	first, err = s.j.add(r)()
	if err != nil {
		return false, fmt.Errorf("register %s: %w", r.DeviceID, err)
	}
	return first, nil
}

// errNoDevice is a Register's answer for a device that does not exist.
func errNoDevice(id string) error { return notFound(sql.ErrNoRows, "device "+id) }

// unregistered reads which of the devices exist and, for each, whether it
// has never registered: one query for the Registers of a journal flush.
func (s *Store) unregistered(ids []string) (map[string]bool, error) {
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	rows, err := s.rq.QueryContext(context.Background(),
		"SELECT id, first_registered_at IS NULL FROM devices WHERE id IN (SELECT value FROM json_each(?))", string(list))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string]bool, len(ids))
	for rows.Next() {
		var id string
		var never bool
		if err := rows.Scan(&id, &never); err != nil {
			return nil, err
		}
		out[id] = never
	}
	return out, rows.Err()
}

// normalizeReg makes r what the tables give back: times in UTC to the
// nanosecond, without a monotonic reading.
func normalizeReg(r *pairing.Registration) {
	r.RegisteredAt, r.LastSeen, r.ExpiresAt = fromNanos(nanos(r.RegisteredAt)), fromNanos(nanos(r.LastSeen)), fromNanos(nanos(r.ExpiresAt))
}

// applyRecords writes journaled registrations into the tables, as
// Register once did itself, and notes the last one applied. A record of a
// device that no longer exists is skipped.
func applyRecords(tx wtx, recs []journaled) error {
	if len(recs) == 0 {
		return nil
	}
	ctx := context.Background()
	for _, rec := range recs {
		r := rec.reg
		if _, err := tx.ExecContext(ctx, setFirstRegistered, nanos(r.RegisteredAt), r.DeviceID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, registerUpsert, regArgs(r)...); err != nil && !isForeignKey(err) {
			return err
		}
	}
	_, err := tx.ExecContext(ctx, "UPDATE journal_state SET applied_seq = ? WHERE id = 1", recs[len(recs)-1].seq)
	return err
}

// appliedSeq reads the number of the last journaled registration applied.
func (s *Store) appliedSeq(ctx context.Context) (uint64, error) {
	var n int64
	err := s.w.QueryRowContext(ctx, "SELECT applied_seq FROM journal_state WHERE id = 1").Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return uint64(n), err
}

// openJournal opens the store's journal and applies, before the store
// takes any write, what an earlier run journaled and did not apply.
func (s *Store) openJournal(ctx context.Context, dir string) error {
	applied, err := s.appliedSeq(ctx)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	j, replay, err := openJournal(dir, applied)
	if err != nil {
		return err
	}
	j.lookup = s.unregistered
	for len(replay) > 0 {
		n := min(len(replay), 4096)
		if err := s.write(ctx, laneNormal, false, func(tx wtx) error { return applyRecords(tx, replay[:n]) }); err != nil {
			return fmt.Errorf("journal: replaying: %w", err)
		}
		replay = replay[n:]
	}
	if err := j.start(); err != nil {
		return err
	}
	s.j = j
	return nil
}

// compact applies up to compactBatch journaled registrations in a
// transaction of their own. It syncs the database only when it applies
// the last of them (or when a file of the journal could go): before that
// the journal still holds them, and a later commit makes them durable.
func (s *Store) compact() {
	recs := s.j.pending(compactBatch)
	if len(recs) == 0 {
		return
	}
	ctx := context.Background()
	durable := len(recs) < compactBatch || s.j.segmentDone(recs[len(recs)-1].seq)
	if !durable {
		if _, err := s.w.ExecContext(ctx, "PRAGMA synchronous = NORMAL"); err != nil {
			durable = true
		} else {
			defer s.w.ExecContext(ctx, "PRAGMA synchronous = FULL")
		}
	}
	err := s.runTx(func(tx wtx) error { return applyRecords(tx, recs) })
	s.commits.Add(1)
	if err != nil {
		s.j.fail(fmt.Errorf("journal: applying registrations: %w", err))
		return
	}
	s.j.appliedUpTo(recs[len(recs)-1].seq)
	if durable {
		s.j.durableUpTo(recs[len(recs)-1].seq)
	}
}

// runTx runs fn in a transaction of the writer's connection and commits.
func (s *Store) runTx(fn func(wtx) error) error {
	tx, err := s.w.BeginTx(context.Background(), nil)
	if err != nil {
		return err
	}
	if err := fn(wtx{tx, s.wq}); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// drainJournal applies every journaled registration; the writer calls it
// as the store closes.
func (s *Store) drainJournal() {
	for s.j.backlogLen() > 0 && s.j.err() == nil {
		s.compact()
	}
}

// needsRegistrations reports whether a write of the batch reads or
// changes registrations: the journal's must be applied before it.
func needsRegistrations(batch []writeOp) bool {
	for _, op := range batch {
		if op.regs {
			return true
		}
	}
	return false
}

// journalFor returns the records a batch must apply before its writes.
func (s *Store) journalFor(batch []writeOp) []journaled {
	if s.j == nil || !needsRegistrations(batch) {
		return nil
	}
	return s.j.pending(math.MaxInt)
}

// syncJournal waits until every registration journaled so far is in the
// tables, for a read the journal cannot answer from memory.
func (s *Store) syncJournal() error {
	if s.j == nil {
		return nil
	}
	return s.j.waitApplied(s.j.lastSeq())
}

// withFirst gives d the time of its first registration when that is still
// in the journal.
func (s *Store) withFirst(d pairing.Device) pairing.Device {
	if s.j != nil && d.FirstRegisteredAt.IsZero() && d.ID != "" {
		if at, ok := s.j.firstRegisteredAt(d.ID); ok {
			d.FirstRegisteredAt = at
		}
	}
	return d
}

// withFirsts is withFirst for each device.
func (s *Store) withFirsts(ds []pairing.Device, err error) ([]pairing.Device, error) {
	for i := range ds {
		ds[i] = s.withFirst(ds[i])
	}
	return ds, err
}
