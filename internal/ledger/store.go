// Package ledger records which digest every tag named, and when, so that
// "what ran on Tuesday afternoon three months ago?" has an answer on any
// registry, and overwrites that already happened leave evidence.
//
// It stores intervals, not observations: one row says a tag pointed at a
// digest from first_seen to last_seen, so hourly scans of an unchanged tag
// move one timestamp instead of adding rows. A tag that disappears closes its
// interval; one that comes back opens a new one. The same schema runs on an
// embedded SQLite file (the default, no set-up, no cgo) and on PostgreSQL
// (for teams and several serve replicas sharing one ledger).
package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite", pure Go
)

// Engine names a database engine.
type Engine string

// The engines the ledger runs on.
const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// Store is an open ledger.
type Store struct {
	db     *sql.DB
	engine Engine
	// where is a description of the database safe to print: a file path, or
	// host/database of a PostgreSQL DSN without user or password.
	where string
}

// DefaultPath is $XDG_STATE_HOME/immutag/ledger.db, with XDG's default
// ~/.local/state when the variable is unset.
func DefaultPath() (string, error) {
	base := os.Getenv("XDG_STATE_HOME")
	if base == "" || !filepath.IsAbs(base) {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("ledger: no XDG_STATE_HOME and no home directory for ~/.local/state: %w", err)
		}
		base = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(base, "immutag", "ledger.db"), nil
}

// ErrInlinePassword is returned for a DSN that carries a password where
// secrets are not allowed (a config file or a command line).
var ErrInlinePassword = errors.New("the ledger DSN holds a password: put the whole DSN in an environment variable and name it with ledger.dsn_env (or use PGPASSWORD / ~/.pgpass), never inline")

// HasPassword reports whether a PostgreSQL DSN (URL or key=value form)
// carries a password.
func HasPassword(dsn string) bool {
	if isPostgres(dsn) {
		u, err := url.Parse(dsn)
		if err != nil {
			// Unparseable: assume the worst rather than echo it anywhere.
			return strings.Contains(dsn, "@")
		}
		if _, ok := u.User.Password(); ok {
			return true
		}
		return u.Query().Has("password")
	}
	for _, f := range strings.Fields(dsn) {
		if strings.HasPrefix(strings.ToLower(f), "password=") {
			return true
		}
	}
	return false
}

func isPostgres(dsn string) bool {
	l := strings.ToLower(dsn)
	return strings.HasPrefix(l, "postgres://") || strings.HasPrefix(l, "postgresql://")
}

// Open opens (creating if needed) the ledger named by dsn and applies any
// pending migrations: "" is the default SQLite file, "sqlite:PATH" or a plain
// path a SQLite file, "postgres://..." a PostgreSQL database.
func Open(ctx context.Context, dsn string) (*Store, error) {
	return open(ctx, dsn, true)
}

// ErrNoLedger is returned by OpenExisting for a SQLite ledger file that is
// not there.
var ErrNoLedger = errors.New("no ledger")

// OpenExisting opens the ledger named by dsn like Open, but never creates a
// SQLite file (or its directory): a question asked of a ledger that was
// never recorded is answered with ErrNoLedger, not with an empty new file
// left behind wherever a mistyped --ledger pointed.
func OpenExisting(ctx context.Context, dsn string) (*Store, error) {
	return open(ctx, dsn, false)
}

func open(ctx context.Context, dsn string, create bool) (*Store, error) {
	if isPostgres(dsn) {
		return openPostgres(ctx, dsn)
	}
	// Anything else with a scheme is not a path: "mysql://db/x" would
	// otherwise become a directory "mysql:" holding a SQLite file "x". The
	// DSN is not echoed: it may come from ledger.dsn_env with a password
	// (a mistyped "postgress://u:pw@db/x").
	if scheme, _, ok := strings.Cut(dsn, "://"); ok && !strings.ContainsAny(scheme, "/.") && !strings.EqualFold(scheme, "sqlite") {
		return nil, fmt.Errorf("ledger: %s is not a ledger engine: want a path, sqlite:PATH or postgres://HOST/DB", scheme)
	}
	// A PostgreSQL key=value DSN would otherwise be a file name with
	// spaces, created in the working directory, its password in the name.
	if isKeywordDSN(dsn) {
		return nil, errors.New("ledger: the DSN is PostgreSQL's key=value form, which immutag does not read: write it as postgres://USER@HOST:PORT/DB (with ?sslmode= and other options)")
	}
	path := strings.TrimPrefix(dsn, "sqlite:")
	path = strings.TrimPrefix(path, "//")
	if path == "" {
		p, err := DefaultPath()
		if err != nil {
			return nil, err
		}
		path = p
	}
	// Before the existence check, so that "sqlite:x.db?mode=ro" is told
	// what is wrong with it rather than that there is no ledger.
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("ledger: SQLite path %q: '?' and '#' are not allowed in the file name (immutag sets the SQLite options itself)", path)
	}
	if !create {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w at %s", ErrNoLedger, path)
		}
	}
	return openSQLite(ctx, path)
}

// busyTimeout is how long a SQLite ledger waits for another process's
// write transaction (another audit --record) before giving up.
var busyTimeout = 30 * time.Second

// busyHint says why a write failed when another process held the SQLite
// ledger's write lock for all of busyTimeout: "database is locked" alone
// names neither the cause nor the remedy.
func busyHint(err error) error {
	var c interface{ Code() int }
	if err != nil && errors.As(err, &c) && c.Code()&0xff == 5 { // SQLITE_BUSY and its extended codes
		return fmt.Errorf("%w: another process held the ledger's write lock for %s (is another immutag recording into it?); run again when it is done", err, busyTimeout)
	}
	return err
}

// sqliteMagic opens every SQLite database file.
const sqliteMagic = "SQLite format 3\x00"

// isKeywordDSN says whether dsn looks like libpq's "host=db dbname=x"
// rather than a path.
func isKeywordDSN(dsn string) bool {
	for _, f := range strings.Fields(dsn) {
		k, _, ok := strings.Cut(f, "=")
		switch strings.ToLower(k) {
		case "host", "hostaddr", "port", "dbname", "user", "password", "sslmode", "passfile", "service":
			if ok {
				return true
			}
		}
	}
	return false
}

func openSQLite(ctx context.Context, path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("ledger: create directory for %s: %w", path, err)
	}
	// Create the file ourselves so that it (and the -wal/-shm files SQLite
	// derives from its mode) is private to this user from the first byte.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("ledger: open %s: %w", path, err)
	}
	defer f.Close()
	// A device or a named pipe (--ledger /dev/null, a FIFO) is refused
	// before it is read (a pipe would block for ever) or chmod-ed (run as
	// root, /dev/null would become unusable for every other user). Checked
	// on the open file, so a path swapped in between cannot slip through.
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("ledger: %s is not a regular file (%s): give --ledger a file path", path, st.Mode().Type())
	}
	// A file that is something else (a --ledger pointing at the wrong
	// path) is refused before SQLite or a chmod touches it.
	head := make([]byte, len(sqliteMagic))
	n, _ := io.ReadFull(f, head)
	if n > 0 && string(head[:n]) != sqliteMagic {
		return nil, fmt.Errorf("ledger: %s is not a SQLite database (nor empty): give --ledger a new path or an immutag ledger", path)
	}
	if n > 0 {
		// Looked at before the connection that switches the file to WAL
		// and migrates it: another program's database, or a ledger of a
		// newer immutag, is refused unchanged.
		if err := inspectSQLite(ctx, path); err != nil {
			return nil, err
		}
	}
	// Only ever narrowed to the owner: a ledger its owner made read-only
	// (0400, an archived copy) stays so.
	if perm := st.Mode().Perm(); perm&^0o600 != 0 {
		if err := f.Chmod(perm & 0o600); err != nil {
			return nil, fmt.Errorf("ledger: chmod %s: %w", path, err)
		}
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(ON)")
	// 128 KiB of page cache instead of SQLite's 2 MB: recording reads each
	// index page once per batch and history one index range per question,
	// so the bigger cache bought no measurable speed and added about 5 MB
	// to the peak RSS of audit --record (BENCHMARKS.md).
	q.Add("_pragma", "cache_size(-128)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("ledger: open %s: %w", path, err)
	}
	// One writer at a time is SQLite's model; one connection also keeps the
	// staging table (a TEMP table, per connection) where the writer is.
	db.SetMaxOpenConns(1)
	s := &Store{db: db, engine: SQLite, where: path}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// inspectSQLite refuses a SQLite file that is not an immutag ledger (it
// holds tables but no ledger_schema) or whose schema is newer than this
// build knows, reading it through a read-only connection.
func inspectSQLite(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(30000)")
	if err != nil {
		return fmt.Errorf("ledger: open %s: %w", path, err)
	}
	defer db.Close()
	var tables, ours int
	err = db.QueryRowContext(ctx, `SELECT count(*), count(CASE WHEN name = 'ledger_schema' THEN 1 END) FROM sqlite_master
		WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'`).Scan(&tables, &ours)
	if err != nil {
		return fmt.Errorf("ledger %s: not a readable SQLite database (damaged or truncated? restore it from a copy, or give --ledger another path): %w", path, err)
	}
	if tables > 0 && ours == 0 {
		return fmt.Errorf("ledger: %s is a SQLite database of another program (it has no ledger_schema table): give --ledger a new path or an immutag ledger; nothing was written", path)
	}
	if ours == 0 {
		return nil
	}
	v, err := schemaVersion(ctx, db)
	if err != nil {
		return fmt.Errorf("ledger %s: read schema version: %w", path, err)
	}
	return checkVersion(path, v)
}

// schemaVersion is the newest migration recorded in db's ledger_schema.
func schemaVersion(ctx context.Context, db *sql.DB) (int, error) {
	var v sql.NullInt64
	err := db.QueryRowContext(ctx, `SELECT max(version) FROM ledger_schema`).Scan(&v)
	return int(v.Int64), err
}

// checkVersion refuses a ledger migrated by a newer immutag: this build
// would write it with older rules (and might undo what the newer one
// relies on).
func checkVersion(where string, v int) error {
	if v > SchemaVersion {
		return fmt.Errorf("ledger %s is at schema version %d, newer than this immutag knows (%d): upgrade immutag to use it; nothing was written", where, v, SchemaVersion)
	}
	return nil
}

func openPostgres(ctx context.Context, dsn string) (*Store, error) {
	where := "postgres"
	if u, err := url.Parse(dsn); err == nil {
		where = "postgres://" + u.Host + u.Path
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("ledger: open %s: %s", where, redact(err, dsn))
	}
	db.SetMaxOpenConns(8)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := &Store{db: db, engine: Postgres, where: where}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		// pgx puts one line per address tried, indented: one line here.
		return nil, fmt.Errorf("ledger: connect to %s: %s", where, strings.NewReplacer(":\n\t", ": ", "\n\t", "; ").Replace(redact(err, dsn)))
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// redact keeps a DSN (which may hold a password from the environment) out
// of an error message.
func redact(err error, dsn string) string {
	msg := err.Error()
	if dsn != "" {
		msg = strings.ReplaceAll(msg, dsn, "<dsn>")
	}
	if u, e := url.Parse(dsn); e == nil {
		if p, ok := u.User.Password(); ok && p != "" {
			msg = strings.ReplaceAll(msg, p, "<redacted>")
		}
	}
	return msg
}

// Engine says which database this ledger is on.
func (s *Store) Engine() Engine { return s.engine }

// Where describes the database without credentials.
func (s *Store) Where() string { return s.where }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// DB is the underlying handle, for tests and benchmarks.
func (s *Store) DB() *sql.DB { return s.db }

// q rewrites the ? placeholders the package writes into PostgreSQL's $n.
func (s *Store) q(query string) string {
	if s.engine != Postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// micros is how the ledger stores instants: UTC microseconds since the epoch
// in a BIGINT, identical on both engines and cheap to index.
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }
