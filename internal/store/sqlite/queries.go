package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// queries runs SQL through statements prepared once per SQL text and kept
// for the store's life: for the small queries of the device path, parsing
// the SQL costs more than running it. The texts are the store's own
// constants, so the set stays small.
type queries struct {
	db    *sql.DB
	stmts sync.Map // SQL text → *sql.Stmt

	mu     sync.Mutex
	wanted map[string]struct{} // guarded by mu: texts a transaction ran unprepared
}

func newQueries(db *sql.DB) *queries {
	return &queries{db: db, wanted: make(map[string]struct{})}
}

func (q *queries) cached(query string) *sql.Stmt {
	if st, ok := q.stmts.Load(query); ok {
		return st.(*sql.Stmt)
	}
	return nil
}

// prepared returns the statement for query, preparing it if needed. It
// takes a connection from the pool, so it must not be called by someone
// holding the writer's only connection in a transaction.
func (q *queries) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	if st := q.cached(query); st != nil {
		return st, nil
	}
	st, err := q.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := q.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// QueryRowContext is sql.DB's, through a prepared statement. A statement
// that does not prepare runs unprepared, so that its error reaches Scan.
func (q *queries) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := q.prepared(ctx, query)
	if err != nil {
		return q.db.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// QueryContext is sql.DB's, through a prepared statement.
func (q *queries) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := q.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// ExecContext is sql.DB's, through a prepared statement.
func (q *queries) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := q.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// want notes a text a transaction had to run unprepared.
func (q *queries) want(query string) {
	q.mu.Lock()
	q.wanted[query] = struct{}{}
	q.mu.Unlock()
}

// prepareWanted prepares the texts transactions ran unprepared; the writer
// calls it between transactions, when its connection is free.
func (q *queries) prepareWanted(ctx context.Context) {
	q.mu.Lock()
	wanted := q.wanted
	if len(wanted) == 0 {
		q.mu.Unlock()
		return
	}
	q.wanted = make(map[string]struct{})
	q.mu.Unlock()
	for query := range wanted {
		q.prepared(ctx, query) // one that fails keeps running unprepared
	}
}

func (q *queries) close() {
	q.stmts.Range(func(_, st any) bool {
		st.(*sql.Stmt).Close()
		return true
	})
}

// wtx is a write transaction whose SQL runs through the writer's prepared
// statements once they exist.
//
// Its statements run without the caller's cancellation: a cancelled
// context interrupts SQLite, and an interrupted write rolls back the whole
// transaction, which the group commit shares with other callers' writes.
// A write whose context is done before it starts does not run at all.
type wtx struct {
	*sql.Tx
	q *queries
}

// stmt returns the transaction's copy of query's prepared statement, or
// nil (and notes the text) when it is not prepared yet.
func (t wtx) stmt(ctx context.Context, query string) *sql.Stmt {
	if st := t.q.cached(query); st != nil {
		return t.StmtContext(ctx, st)
	}
	t.q.want(query)
	return nil
}

// ExecContext is sql.Tx's, through a prepared statement when there is one.
func (t wtx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx = context.WithoutCancel(ctx)
	if st := t.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.Tx.ExecContext(ctx, query, args...)
}

// QueryRowContext is sql.Tx's, through a prepared statement when there is
// one.
func (t wtx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	ctx = context.WithoutCancel(ctx)
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.Tx.QueryRowContext(ctx, query, args...)
}

// QueryContext is sql.Tx's, through a prepared statement when there is one.
func (t wtx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx = context.WithoutCancel(ctx)
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.Tx.QueryContext(ctx, query, args...)
}
