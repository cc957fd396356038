package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/immutag/immutag/internal/providers"
)

// SourceScan is the source of intervals the ledger observed itself by
// listing tags; native history imports carry the registry's own name.
const SourceScan = "scan"

// Repo names one repository being recorded.
type Repo struct {
	Provider, Scope, Repository string
	// Immutable is whether the repository's setting makes the tag being
	// recorded immutable now; an overwrite of such a tag is an incident,
	// not drift.
	Immutable bool
	// Nested says the repository's tags are recorded under images inside it
	// (providers.Tag.Image), so finishing it also closes those images' tags.
	Nested bool
}

// Overwrite is a tag seen pointing at a different digest than the ledger's
// open interval for it: evidence that the tag was moved.
type Overwrite struct {
	Provider   string    `json:"provider"`
	Scope      string    `json:"scope"`
	Repository string    `json:"repository"`
	Tag        string    `json:"tag"`
	Previous   string    `json:"previous_digest"`
	Digest     string    `json:"digest"`
	LastSeenAt time.Time `json:"previous_last_seen"`
	SeenAt     time.Time `json:"seen_at"`
	// Pushed is when the registry says the new digest was pushed (zero if unknown).
	Pushed    time.Time `json:"pushed,omitzero"`
	Immutable bool      `json:"immutable_now"`
}

// RecordOptions tune a Recorder.
type RecordOptions struct {
	// Now is the clock (time.Now when nil); tests set it.
	Now func() time.Time
	// BatchSize is how many rows one transaction writes (default 300 on
	// SQLite, 1000 on PostgreSQL; see defaultBatchSize).
	BatchSize int
	// OnOverwrite, when set, is called for each overwrite found, from the
	// goroutine that flushes a batch.
	OnOverwrite func(Overwrite)
}

// Recorder streams tags into the ledger in batched transactions: memory is
// one batch whatever the number of tags. It is safe for concurrent use by
// the goroutines that list repositories.
type Recorder struct {
	s    *Store
	opts RecordOptions

	mu    sync.Mutex
	scans map[string]int64 // provider -> scan id
	rows  []stageRow
	done  []stageDone
	// cursors are the native-log positions to store with the batch that
	// holds (or follows) the lifetimes read up to them.
	cursors []stageCursor
	// starts date open intervals from a native log (see Started).
	starts []stageRow
	tags   map[string]int64 // provider -> tags recorded
	err    error
	// batchIdx dedupes a tag listed twice within one batch.
	batchIdx map[stageKey]int
	// opened and analyzed count the intervals this recorder inserted, in
	// all and when PostgreSQL last analyzed the table (see flushLocked).
	opened, analyzed int64
	// fullStageSQL is stageInsertSQL(maxRowsPerInsert) for this store's engine.
	fullStageSQL string
}

type stageKey struct{ provider, scope, repo, tag string }

type stageRow struct {
	scan                       int64
	provider, scope, repo, tag string
	digest, source             string
	pushed, ended              sql.NullInt64
	immutable                  bool
}

type stageCursor struct {
	provider, scope, repo string
	newest                int64
}

type stageDone struct {
	scan                  int64
	provider, scope, repo string
	nested                bool
}

// defaultBatchSize is the rows one transaction writes. The staged rows are
// most of what recording holds in memory besides the listing page in
// flight, so SQLite, the default and one-machine engine, takes them 300 at a
// time: its WAL commits without a sync, and 300 rather than 1,000 took about
// 1 MB off the peak RSS of audit --record for the same speed. A PostgreSQL
// commit is a durable round trip followed by an ANALYZE of the staging
// tables, and 1,000 rows a transaction took a quarter less time there (6.9 s
// against 9.2 s for 100,000 new tags).
func defaultBatchSize(e Engine) int {
	if e == Postgres {
		return 1000
	}
	return 300
}

// Record starts recording. Call Finish to close the scans.
func (s *Store) Record(opts RecordOptions) *Recorder {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = defaultBatchSize(s.engine)
	}
	return &Recorder{s: s, opts: opts, scans: map[string]int64{}, tags: map[string]int64{}, batchIdx: map[stageKey]int{}}
}

func (r *Recorder) scan(ctx context.Context, provider string) (int64, error) {
	if id, ok := r.scans[provider]; ok {
		return id, nil
	}
	var id int64
	err := r.s.db.QueryRowContext(ctx, r.s.q(`INSERT INTO ledger_scans (provider, started_at) VALUES (?, ?) RETURNING id`),
		provider, micros(r.opts.Now())).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("ledger %s: start scan: %w", r.s.where, busyHint(err))
	}
	r.scans[provider] = id
	return id, nil
}

// Tag records that repo's tag t was listed now. A tag listed without a
// digest is still there: it extends nothing and opens nothing, but the
// interval it has stays open when its repository is done (absence of a
// digest is not deletion).
func (r *Recorder) Tag(ctx context.Context, repo Repo, t providers.Tag) error {
	if t.Name == "" || (t.Digest == "" && !t.Ended.IsZero()) {
		return nil // an untagged manifest, or a past lifetime without its digest: nothing to record
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	id, err := r.scan(ctx, repo.Provider)
	if err != nil {
		r.err = err
		return err
	}
	name := repo.Repository
	if t.Image != "" {
		name += "/" + t.Image
	}
	row := stageRow{scan: id, provider: repo.Provider, scope: repo.Scope, repo: name, tag: t.Name,
		digest: t.Digest, source: SourceScan, immutable: repo.Immutable}
	if t.Source != "" {
		row.source = t.Source
	}
	if !t.Pushed.IsZero() {
		row.pushed = sql.NullInt64{Int64: micros(t.Pushed), Valid: true}
	}
	if !t.Ended.IsZero() {
		row.ended = sql.NullInt64{Int64: micros(t.Ended), Valid: true}
		if !row.pushed.Valid || t.Source == "" || t.Ended.Before(t.Pushed) {
			return nil // a past lifetime needs its start, an end not before it, and a named source
		}
	} else {
		k := stageKey{repo.Provider, repo.Scope, name, t.Name}
		if i, ok := r.batchIdx[k]; ok {
			if row.digest != "" {
				r.rows[i] = row // listed twice: the later sighting is the newer
			}
			return nil
		}
		r.batchIdx[k] = len(r.rows)
		r.tags[repo.Provider]++
	}
	r.rows = append(r.rows, row)
	if len(r.rows) >= r.opts.BatchSize {
		return r.flushLocked(ctx)
	}
	return nil
}

// Started records that a native log (t.Source) says repo's tag t.Name has
// named t.Digest since t.Pushed, nothing in the log having ended it. The
// log does not prove the tag still exists (a deletion it does not record),
// so Started opens nothing: an interval the listing opened for that tag and
// digest starts at t.Pushed instead of when a scan first saw it, and takes
// the log as its source. It never starts before a different digest the
// ledger saw on the tag, nor moves a start later. Call it after the
// repository's listing, as TagHistory follows Tags.
func (r *Recorder) Started(ctx context.Context, repo Repo, t providers.Tag) error {
	if t.Name == "" || t.Digest == "" || t.Pushed.IsZero() || t.Source == "" || !t.Ended.IsZero() {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	name := repo.Repository
	if t.Image != "" {
		name += "/" + t.Image
	}
	r.starts = append(r.starts, stageRow{provider: repo.Provider, scope: repo.Scope, repo: name, tag: t.Name, digest: t.Digest,
		source: t.Source, pushed: sql.NullInt64{Int64: micros(t.Pushed), Valid: true}})
	if len(r.starts) >= r.opts.BatchSize {
		return r.flushLocked(ctx)
	}
	return nil
}

// RepositoryDone says repo's listing finished completely: tags of it that
// this run did not see have disappeared, and their intervals close. Do not
// call it for a listing that failed part way.
func (r *Recorder) RepositoryDone(ctx context.Context, repo Repo) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	id, err := r.scan(ctx, repo.Provider)
	if err != nil {
		r.err = err
		return err
	}
	r.done = append(r.done, stageDone{scan: id, provider: repo.Provider, scope: repo.Scope, repo: repo.Repository, nested: repo.Nested})
	if len(r.done) >= r.opts.BatchSize {
		return r.flushLocked(ctx)
	}
	return nil
}

// HistoryImported says repo's native log was read without error up to its
// newest event at newest (see providers.TagHistorian): the next import may
// start from there. It is stored with the batch that holds the lifetimes
// read, never before them, so a run that stops in between reads them again.
func (r *Recorder) HistoryImported(ctx context.Context, repo Repo, newest time.Time) error {
	if newest.IsZero() {
		return nil // an empty log: nothing to start from
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.cursors = append(r.cursors, stageCursor{provider: repo.Provider, scope: repo.Scope, repo: repo.Repository, newest: micros(newest)})
	if len(r.cursors) >= r.opts.BatchSize {
		return r.flushLocked(ctx)
	}
	return nil
}

// HistoryCursor is the newest event of repository's native log that an
// import has read into the ledger (zero: none yet).
func (s *Store) HistoryCursor(ctx context.Context, provider, scope, repository string) (time.Time, error) {
	var v int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT newest FROM ledger_history_cursors WHERE provider = ? AND scope = ? AND repository = ?`),
		provider, scope, repository).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return time.Time{}, nil
	case err != nil:
		return time.Time{}, fmt.Errorf("ledger %s: read the history position of %s: %w", s.where, repository, err)
	}
	return fromMicros(v), nil
}

// Flush writes what is buffered.
func (r *Recorder) Flush(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.flushLocked(ctx)
}

// Finish flushes and closes every scan this recorder opened, marking them
// complete or not.
func (r *Recorder) Finish(ctx context.Context, complete bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.flushLocked(ctx); err != nil {
		return err
	}
	now := micros(r.opts.Now())
	c := 0
	if complete {
		c = 1
	}
	for p, id := range r.scans {
		if _, err := r.s.db.ExecContext(ctx, r.s.q(`UPDATE ledger_scans SET finished_at = ?, complete = ?, tags = ? WHERE id = ?`), now, c, r.tags[p], id); err != nil {
			return fmt.Errorf("ledger %s: finish scan: %w", r.s.where, busyHint(err))
		}
	}
	return nil
}

// Scans returns the ids of the scans this recorder opened, by provider.
func (r *Recorder) Scans() map[string]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int64, len(r.scans))
	for k, v := range r.scans {
		out[k] = v
	}
	return out
}

const stageDDL = `CREATE TEMP TABLE IF NOT EXISTS ledger_stage (
	scan_id BIGINT NOT NULL, provider TEXT NOT NULL, scope TEXT NOT NULL, repository TEXT NOT NULL, tag TEXT NOT NULL,
	digest TEXT NOT NULL, pushed BIGINT, ended BIGINT, source TEXT NOT NULL, immutable INTEGER NOT NULL)`

// histMatch relates a staged past lifetime to the ledger_intervals row
// being updated: same tag and digest, overlapping in time.
const histMatch = `st.ended IS NOT NULL AND st.repository = ledger_intervals.repository AND st.tag = ledger_intervals.tag
	AND st.provider = ledger_intervals.provider AND st.scope = ledger_intervals.scope AND st.digest = ledger_intervals.digest
	AND ledger_intervals.first_seen <= st.ended AND ledger_intervals.last_seen >= st.pushed`

const doneDDL = `CREATE TEMP TABLE IF NOT EXISTS ledger_stage_done (scan_id BIGINT NOT NULL, provider TEXT NOT NULL, scope TEXT NOT NULL, repository TEXT NOT NULL, nested INTEGER NOT NULL)`

// seenBy keeps in scan_id the newest scan that saw an interval, so that an
// older scan still running (a second audit --record, another serve replica)
// neither takes it back nor, when its repository is done, closes a tag the
// newer scan saw; the parameter is the scan id.
const seenBy = `scan_id = CASE WHEN scan_id IS NULL OR scan_id < ? THEN ? ELSE scan_id END`

// The batch is applied by set-based statements driven from the staging
// table: per batch a handful of statements whatever its size, instead of a
// lookup and a write per tag. CROSS JOIN makes SQLite keep the staging
// table as the outer loop (its planner has no statistics for it and would
// otherwise scan every open interval per batch); PostgreSQL reads it as a
// plain join. Updates go through "id IN (...)" for the same reason.
var batchSQL = struct {
	overwrites, closeMoved, extend, touch, open, mergeHistory, history, closeGone, closeGoneNested string
}{
	overwrites: `SELECT i.id, i.provider, i.scope, i.repository, i.tag, i.digest, st.digest, i.last_seen, st.pushed, st.immutable
		FROM ledger_stage st CROSS JOIN ledger_intervals i
		WHERE i.provider = st.provider AND i.scope = st.scope AND i.repository = st.repository AND i.tag = st.tag AND i.is_open = 1
		  AND st.ended IS NULL AND st.digest <> '' AND i.digest <> st.digest`,
	// RETURNING says which intervals this transaction closed: a replica
	// recording the same move at the same moment closed it first (on
	// PostgreSQL the row is re-checked once the other commits), and the
	// move is its overwrite to report, not a second one.
	closeMoved: `UPDATE ledger_intervals SET is_open = 0 WHERE id IN (
		SELECT i.id FROM ledger_stage st CROSS JOIN ledger_intervals i
		WHERE i.provider = st.provider AND i.scope = st.scope AND i.repository = st.repository AND i.tag = st.tag AND i.is_open = 1
		  AND st.ended IS NULL AND st.digest <> '' AND i.digest <> st.digest) AND is_open = 1 RETURNING id`,
	// last_seen never moves back: a clock set back between two scans must
	// not shrink what an earlier scan saw.
	extend: `UPDATE ledger_intervals SET last_seen = CASE WHEN last_seen < ? THEN ? ELSE last_seen END, ` + seenBy + ` WHERE id IN (
		SELECT i.id FROM ledger_stage st CROSS JOIN ledger_intervals i
		WHERE i.provider = st.provider AND i.scope = st.scope AND i.repository = st.repository AND i.tag = st.tag AND i.is_open = 1
		  AND st.ended IS NULL AND i.digest = st.digest AND st.scan_id = ?)`,
	// A tag listed without a digest: seen (so not closed as gone), but
	// nothing is known of what it names, so last_seen stays.
	touch: `UPDATE ledger_intervals SET ` + seenBy + ` WHERE id IN (
		SELECT i.id FROM ledger_stage st CROSS JOIN ledger_intervals i
		WHERE i.provider = st.provider AND i.scope = st.scope AND i.repository = st.repository AND i.tag = st.tag AND i.is_open = 1
		  AND st.ended IS NULL AND st.digest = '' AND st.scan_id = ?)`,
	// A native history source knows when the tag started pointing at the
	// digest; a plain listing only knows that it does now.
	open: `INSERT INTO ledger_intervals (provider, scope, repository, tag, digest, first_seen, last_seen, pushed, source, is_open, scan_id)
		SELECT st.provider, st.scope, st.repository, st.tag, st.digest,
		       CASE WHEN st.source <> 'scan' AND st.pushed IS NOT NULL AND st.pushed < ? THEN st.pushed ELSE ? END,
		       ?, st.pushed, st.source, 1, st.scan_id
		FROM ledger_stage st
		WHERE st.ended IS NULL AND st.digest <> '' AND NOT EXISTS (
		  SELECT 1 FROM ledger_intervals i
		  WHERE i.provider = st.provider AND i.scope = st.scope AND i.repository = st.repository AND i.tag = st.tag AND i.is_open = 1)
		ON CONFLICT (provider, scope, repository, tag) WHERE is_open = 1 DO NOTHING`,
	// A past lifetime from a native history (an audit log, Quay's tag
	// history) that overlaps a closed interval of the same tag and digest,
	// one the scans saw or an earlier import, is the same lifetime: the
	// interval widens to the union and takes the history's source, whose
	// bounds are the registry's own, instead of a second overlapping row.
	mergeHistory: `UPDATE ledger_intervals SET
		first_seen = CASE WHEN (SELECT min(st.pushed) FROM ledger_stage st WHERE ` + histMatch + `) < first_seen
		  THEN (SELECT min(st.pushed) FROM ledger_stage st WHERE ` + histMatch + `) ELSE first_seen END,
		last_seen = CASE WHEN (SELECT max(st.ended) FROM ledger_stage st WHERE ` + histMatch + `) > last_seen
		  THEN (SELECT max(st.ended) FROM ledger_stage st WHERE ` + histMatch + `) ELSE last_seen END,
		source = (SELECT max(st.source) FROM ledger_stage st WHERE ` + histMatch + `)
		WHERE id IN (
		SELECT i.id FROM ledger_stage st CROSS JOIN ledger_intervals i
		WHERE st.ended IS NOT NULL AND i.repository = st.repository AND i.tag = st.tag AND i.provider = st.provider
		  AND i.scope = st.scope AND i.digest = st.digest AND i.is_open = 0
		  AND i.first_seen <= st.ended AND i.last_seen >= st.pushed)`,
	history: `INSERT INTO ledger_intervals (provider, scope, repository, tag, digest, first_seen, last_seen, pushed, source, is_open, scan_id)
		SELECT st.provider, st.scope, st.repository, st.tag, st.digest, st.pushed, st.ended, st.pushed, st.source, 0, st.scan_id
		FROM ledger_stage st
		WHERE st.ended IS NOT NULL AND NOT EXISTS (
		  SELECT 1 FROM ledger_intervals i
		  WHERE i.repository = st.repository AND i.tag = st.tag AND i.provider = st.provider AND i.scope = st.scope AND i.digest = st.digest
		    AND (i.first_seen = st.pushed OR (i.is_open = 0 AND i.first_seen <= st.ended AND i.last_seen >= st.pushed)))`,
	closeGone: `UPDATE ledger_intervals SET is_open = 0 WHERE id IN (
		SELECT i.id FROM ledger_stage_done d CROSS JOIN ledger_intervals i
		WHERE i.provider = d.provider AND i.scope = d.scope AND i.repository = d.repository AND i.is_open = 1
		  AND (i.scan_id IS NULL OR i.scan_id < d.scan_id))`,
	// Images inside a repository (providers.Tag.Image) are the names
	// between "repo/" and "repo0" ('0' follows '/'): an index range.
	closeGoneNested: `UPDATE ledger_intervals SET is_open = 0 WHERE id IN (
		SELECT i.id FROM ledger_stage_done d CROSS JOIN ledger_intervals i
		WHERE d.nested = 1 AND i.provider = d.provider AND i.scope = d.scope
		  AND i.repository > d.repository || '/' AND i.repository < d.repository || '0' AND i.is_open = 1
		  AND (i.scan_id IS NULL OR i.scan_id < d.scan_id))`,
}

func (r *Recorder) flushLocked(ctx context.Context) (err error) {
	if r.err != nil {
		return r.err
	}
	if len(r.rows) == 0 && len(r.done) == 0 && len(r.cursors) == 0 && len(r.starts) == 0 {
		return nil
	}
	defer func() {
		if err != nil {
			err = busyHint(err)
			r.err = err
		}
	}()
	s := r.s
	now := micros(r.opts.Now())
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("ledger %s: begin: %w", s.where, err)
	}
	defer tx.Rollback()
	for _, ddl := range []string{stageDDL, doneDDL} {
		if _, err := tx.ExecContext(ctx, ddl); err != nil {
			return fmt.Errorf("ledger %s: staging table: %w", s.where, err)
		}
	}
	if err := r.insertStage(ctx, tx); err != nil {
		return err
	}
	if s.engine == Postgres {
		// Temporary tables get no autovacuum statistics: without these the
		// planner guesses their size and may walk every open interval.
		// The intervals table too, each time it has grown by a fifth: with
		// the statistics of a smaller table (autovacuum analyzes once a
		// minute at best) the planner joined every batch against all open
		// intervals instead of looking each staged tag up in the index,
		// 40-50 ms a statement and growing with the ledger.
		analyze := "ANALYZE ledger_stage, ledger_stage_done"
		if r.opened-r.analyzed >= max(1000, r.analyzed/5) {
			analyze += ", ledger_intervals"
			r.analyzed = r.opened
		}
		if _, err := tx.ExecContext(ctx, analyze); err != nil {
			return fmt.Errorf("ledger %s: analyze staging: %w", s.where, err)
		}
	}
	var overwrites []Overwrite
	if len(r.rows) > 0 {
		var ids []int64
		rows, err := tx.QueryContext(ctx, batchSQL.overwrites)
		if err != nil {
			return fmt.Errorf("ledger %s: compare: %w", s.where, err)
		}
		for rows.Next() {
			var o Overwrite
			var last int64
			var pushed sql.NullInt64
			var imm int
			var id int64
			if err := rows.Scan(&id, &o.Provider, &o.Scope, &o.Repository, &o.Tag, &o.Previous, &o.Digest, &last, &pushed, &imm); err != nil {
				rows.Close()
				return fmt.Errorf("ledger %s: compare: %w", s.where, err)
			}
			o.LastSeenAt, o.SeenAt, o.Immutable = fromMicros(last), fromMicros(now), imm == 1
			if pushed.Valid {
				o.Pushed = fromMicros(pushed.Int64)
			}
			overwrites, ids = append(overwrites, o), append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("ledger %s: compare: %w", s.where, err)
		}
		if overwrites, err = r.closeMoved(ctx, tx, overwrites, ids); err != nil {
			return err
		}
		steps := []struct {
			name string
			sql  string
			args []any
		}{
			{"open intervals", batchSQL.open, []any{now, now, now}},
		}
		if r.hasEnded() {
			steps = append(steps, []struct {
				name string
				sql  string
				args []any
			}{{"merge history", batchSQL.mergeHistory, nil}, {"import history", batchSQL.history, nil}}...)
		}
		// One extend per scan in the batch (one per provider recorded),
		// and one touch where a tag came without its digest.
		seenScan := map[int64]bool{}
		touched := map[int64]bool{}
		for _, row := range r.rows {
			if !seenScan[row.scan] {
				seenScan[row.scan] = true
				steps = append(steps, struct {
					name string
					sql  string
					args []any
				}{"extend intervals", batchSQL.extend, []any{now, now, row.scan, row.scan, row.scan}})
			}
			if row.digest == "" && !touched[row.scan] {
				touched[row.scan] = true
				steps = append(steps, struct {
					name string
					sql  string
					args []any
				}{"keep tags listed without a digest", batchSQL.touch, []any{row.scan, row.scan, row.scan}})
			}
		}
		for _, st := range steps {
			res, err := tx.ExecContext(ctx, s.q(st.sql), st.args...)
			if err != nil {
				return fmt.Errorf("ledger %s: %s: %w", s.where, st.name, err)
			}
			if st.name == "open intervals" {
				if n, err := res.RowsAffected(); err == nil {
					r.opened += n
				}
			}
		}
	}
	// After the batch's listing rows: the interval a start dates may have
	// been opened by this very batch.
	if err := r.applyStarts(ctx, tx); err != nil {
		return err
	}
	if len(r.done) > 0 {
		for _, q := range []string{batchSQL.closeGone, batchSQL.closeGoneNested} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("ledger %s: close vanished tags: %w", s.where, err)
			}
		}
	}
	for _, c := range r.cursors {
		// A position only moves forward: two replicas importing at once
		// must not take the ledger back to the older one.
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO ledger_history_cursors (provider, scope, repository, newest) VALUES (?, ?, ?, ?)
			ON CONFLICT (provider, scope, repository) DO UPDATE SET newest = CASE WHEN excluded.newest > ledger_history_cursors.newest
			THEN excluded.newest ELSE ledger_history_cursors.newest END`), c.provider, c.scope, c.repo, c.newest); err != nil {
			return fmt.Errorf("ledger %s: store the history position of %s: %w", s.where, c.repo, err)
		}
	}
	// PostgreSQL: TRUNCATE, since deleted rows of a temporary table are never
	// vacuumed and every later batch would read them again. SQLite turns an
	// unqualified DELETE into a truncate.
	clearStage := []string{"DELETE FROM ledger_stage", "DELETE FROM ledger_stage_done"}
	if s.engine == Postgres {
		clearStage = []string{"TRUNCATE ledger_stage, ledger_stage_done"}
	}
	for _, q := range clearStage {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("ledger %s: clear staging: %w", s.where, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("ledger %s: commit: %w", s.where, err)
	}
	// Cleared, not just truncated: stale rows would keep the strings of
	// the previous listing page (and the page behind them) reachable.
	clear(r.rows)
	clear(r.starts)
	r.rows, r.done, r.cursors, r.starts = r.rows[:0], r.done[:0], r.cursors[:0], r.starts[:0]
	clear(r.batchIdx)
	if r.opts.OnOverwrite != nil {
		for _, o := range overwrites {
			r.opts.OnOverwrite(o)
		}
	}
	return nil
}

// startSQL dates an open interval from a native log's start of the tag's
// current lifetime: only earlier than what the scans saw, and never before
// a different digest the ledger saw on the tag (the log and the scans
// disagree then, and the scans were there).
const startSQL = `UPDATE ledger_intervals SET first_seen = ?, source = ?
	WHERE provider = ? AND scope = ? AND repository = ? AND tag = ? AND digest = ? AND is_open = 1 AND first_seen > ?
	  AND NOT EXISTS (SELECT 1 FROM ledger_intervals j
	    WHERE j.provider = ? AND j.scope = ? AND j.repository = ? AND j.tag = ? AND j.digest <> ? AND j.last_seen > ?)`

// applyStarts dates the intervals the batch's starts name. A statement per
// start: they come from a log's first import (one per tag) and later only
// for tags that moved since, few next to the listing's rows.
func (r *Recorder) applyStarts(ctx context.Context, tx *sql.Tx) error {
	if len(r.starts) == 0 {
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, r.s.q(startSQL))
	if err != nil {
		return fmt.Errorf("ledger %s: date intervals from the log: %w", r.s.where, err)
	}
	defer stmt.Close()
	for _, st := range r.starts {
		at := st.pushed.Int64
		if _, err := stmt.ExecContext(ctx, at, st.source, st.provider, st.scope, st.repo, st.tag, st.digest, at,
			st.provider, st.scope, st.repo, st.tag, st.digest, at); err != nil {
			return fmt.Errorf("ledger %s: date the interval of %s:%s from the log: %w", r.s.where, st.repo, st.tag, err)
		}
	}
	return nil
}

// closeMoved closes the intervals of tags the batch saw naming another
// digest and keeps the overwrites whose interval this transaction closed.
func (r *Recorder) closeMoved(ctx context.Context, tx *sql.Tx, overwrites []Overwrite, ids []int64) ([]Overwrite, error) {
	rows, err := tx.QueryContext(ctx, batchSQL.closeMoved)
	if err != nil {
		return nil, fmt.Errorf("ledger %s: close moved tags: %w", r.s.where, err)
	}
	closed := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("ledger %s: close moved tags: %w", r.s.where, err)
		}
		closed[id] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ledger %s: close moved tags: %w", r.s.where, err)
	}
	kept := overwrites[:0]
	for i, o := range overwrites {
		if closed[ids[i]] {
			kept = append(kept, o)
		}
	}
	return kept, nil
}

// hasEnded says whether the batch holds past lifetimes from a native
// history; plain listings never do, and skip the statements that merge them.
func (r *Recorder) hasEnded() bool {
	for _, row := range r.rows {
		if row.ended.Valid {
			return true
		}
	}
	return false
}

// maxRowsPerInsert keeps one INSERT's parameters under SQLite's and
// PostgreSQL's limits. 100 rather than 500: the prepared statement of a
// 500-row VALUES list held about 1 MB of SQLite memory for the same speed.
const maxRowsPerInsert = 100

// stageInsertSQL is the INSERT of n staged tags. The full-size one is
// built once per recorder: rebuilding it for every chunk was a tenth of the
// garbage recording makes.
func stageInsertSQL(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO ledger_stage (scan_id, provider, scope, repository, tag, digest, pushed, ended, source, immutable) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?,?,?,?,?,?,?,?,?,?)")
	}
	return b.String()
}

func (r *Recorder) insertStage(ctx context.Context, tx *sql.Tx) error {
	s := r.s
	// Full chunks share one prepared statement per transaction: parsing a
	// 100-row VALUES list is a good part of the cost.
	var full *sql.Stmt
	defer func() {
		if full != nil {
			full.Close()
		}
	}()
	args := make([]any, 0, maxRowsPerInsert*10)
	for start := 0; start < len(r.rows); start += maxRowsPerInsert {
		chunk := r.rows[start:min(start+maxRowsPerInsert, len(r.rows))]
		args = args[:0]
		for _, row := range chunk {
			imm := 0
			if row.immutable {
				imm = 1
			}
			args = append(args, row.scan, row.provider, row.scope, row.repo, row.tag, row.digest, row.pushed, row.ended, row.source, imm)
		}
		var err error
		if len(chunk) == maxRowsPerInsert {
			if full == nil {
				if r.fullStageSQL == "" {
					r.fullStageSQL = s.q(stageInsertSQL(maxRowsPerInsert))
				}
				if full, err = tx.PrepareContext(ctx, r.fullStageSQL); err != nil {
					return fmt.Errorf("ledger %s: stage tags: %w", s.where, err)
				}
			}
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, s.q(stageInsertSQL(len(chunk))), args...)
		}
		if err != nil {
			return fmt.Errorf("ledger %s: stage tags: %w", s.where, err)
		}
	}
	for start := 0; start < len(r.done); start += maxRowsPerInsert {
		chunk := r.done[start:min(start+maxRowsPerInsert, len(r.done))]
		var b strings.Builder
		b.WriteString(`INSERT INTO ledger_stage_done (scan_id, provider, scope, repository, nested) VALUES `)
		args := make([]any, 0, len(chunk)*5)
		for i, d := range chunk {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString("(?,?,?,?,?)")
			nested := 0
			if d.nested {
				nested = 1
			}
			args = append(args, d.scan, d.provider, d.scope, d.repo, nested)
		}
		if _, err := tx.ExecContext(ctx, s.q(b.String()), args...); err != nil {
			return fmt.Errorf("ledger %s: stage repositories: %w", s.where, err)
		}
	}
	return nil
}
