// Package leader elects one of several `immutag serve` replicas to make
// writes (enforcement, ACR webhook locks), using only the PostgreSQL
// database the replicas already share for the tag ledger.
//
// Leadership is a lease row, not a session advisory lock: a lock lives as
// long as its connection, and a replica cut off by the network keeps its
// connection (and so the lock) until the server's TCP keepalive gives up,
// which can take many minutes. A lease expires by the database's clock
// whatever happened to the holder, so a replacement takes over within
// TTL + Poll. The holder fences itself: it stops acting as leader once its
// last successful renewal is older than TTL minus a margin, before anyone
// else can take over, so two replicas never write at once.
package leader

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// Defaults: a dead leader is replaced within TTL + Poll = 13 s.
const (
	DefaultTTL  = 10 * time.Second
	DefaultPoll = 3 * time.Second
)

// Options configure an Elector.
type Options struct {
	// DSN is a postgres:// URL (read from the environment by the caller).
	DSN string
	// Name is the lease's name: replicas with the same name elect one leader.
	Name string
	// ID identifies this replica in logs and in the lease row; default
	// hostname and a random suffix.
	ID string
	// TTL is how long a lease lasts without renewal; Poll how often it is
	// renewed (or, by a follower, tried).
	TTL, Poll time.Duration
	Log       *slog.Logger
	// OnChange is called (from the elector's goroutine) when this replica
	// becomes leader or stops being one.
	OnChange func(leader bool)
}

// Elector takes part in the election until Run's context ends.
type Elector struct {
	o  Options
	db *sql.DB

	mu        sync.Mutex
	leader    bool
	renewed   time.Time // local time of the last successful acquire/renew
	announced bool      // what OnChange was last told
	now       func() time.Time
	// crashed (tests) makes Run end like a killed process: no release.
	crashed bool
}

// New connects and creates the lease table if needed. Errors never carry
// the DSN (it may hold a password).
func New(ctx context.Context, o Options) (*Elector, error) {
	if o.Name == "" {
		o.Name = "immutag-serve"
	}
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.Poll <= 0 {
		o.Poll = DefaultPoll
	}
	if o.Poll*2 > o.TTL {
		return nil, fmt.Errorf("leader election: poll %s must be at most half the lease %s", o.Poll, o.TTL)
	}
	if o.ID == "" {
		h, _ := os.Hostname()
		var b [4]byte
		_, _ = rand.Read(b[:])
		o.ID = h + "-" + hex.EncodeToString(b[:])
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	db, err := sql.Open("pgx", o.DSN)
	if err != nil {
		return nil, errors.New("leader election: open the database: bad DSN")
	}
	db.SetMaxOpenConns(2)
	if err := createLeaseTable(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("leader election: create the lease table: %s", scrub(err, o.DSN))
	}
	return &Elector{o: o, db: db, now: time.Now}, nil
}

// leaseTableLock is the advisory lock that serialises replicas creating
// the lease table (the ledger's migrations use another).
const leaseTableLock = 7355609

// createLeaseTable creates the lease table under an advisory lock:
// replicas starting together on a new database would otherwise both create
// it, and one fails (CREATE TABLE IF NOT EXISTS is not safe against a
// concurrent one: a duplicate key in pg_type).
func createLeaseTable(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(`+fmt.Sprint(leaseTableLock)+`)`); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS immutag_leader (
		name text PRIMARY KEY,
		holder text NOT NULL,
		epoch bigint NOT NULL,
		expires_at timestamptz NOT NULL)`); err != nil {
		return err
	}
	return tx.Commit()
}

// ID is this replica's identity in the lease.
func (e *Elector) ID() string { return e.o.ID }

// IsLeader reports whether this replica may write now: it holds the lease
// and renewed it recently enough that nobody else can have taken it.
func (e *Elector) IsLeader() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.leader && e.now().Sub(e.renewed) < e.fence()
}

// fence is how long after a renewal this replica still trusts its lease:
// the TTL minus one poll, so it steps down before the lease can expire.
func (e *Elector) fence() time.Duration { return e.o.TTL - e.o.Poll }

// Run renews or tries the lease every Poll until ctx ends, then gives the
// lease up so a successor need not wait for it to expire.
func (e *Elector) Run(ctx context.Context) error {
	defer e.db.Close()
	t := time.NewTicker(e.o.Poll)
	defer t.Stop()
	for {
		e.step(ctx)
		select {
		case <-ctx.Done():
			e.mu.Lock()
			crashed := e.crashed
			e.mu.Unlock()
			if !crashed {
				e.release()
			}
			return nil
		case <-t.C:
		}
	}
}

// step is one acquire-or-renew attempt.
func (e *Elector) step(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, e.o.Poll)
	defer cancel()
	start := e.now()
	var holder string
	// One statement: take the lease when it is free or expired, keep it
	// when it is ours; the epoch grows on every change of holder.
	err := e.db.QueryRowContext(cctx, `INSERT INTO immutag_leader AS l (name, holder, epoch, expires_at)
		VALUES ($1, $2, 1, now() + $3 * interval '1 millisecond')
		ON CONFLICT (name) DO UPDATE SET
			holder = EXCLUDED.holder,
			epoch = CASE WHEN l.holder = EXCLUDED.holder THEN l.epoch ELSE l.epoch + 1 END,
			expires_at = EXCLUDED.expires_at
		WHERE l.holder = EXCLUDED.holder OR l.expires_at < now()
		RETURNING holder`, e.o.Name, e.o.ID, e.o.TTL.Milliseconds()).Scan(&holder)
	won := err == nil && holder == e.o.ID
	if err != nil && !errors.Is(err, sql.ErrNoRows) && ctx.Err() == nil {
		e.o.Log.Warn("leader election: lease not renewed", "replica", e.o.ID, "error", scrub(err, e.o.DSN))
	}
	e.mu.Lock()
	was := e.announced
	if won {
		// Count from before the statement: the lease may have been written
		// at any moment during it.
		e.leader, e.renewed = true, start
	} else if err == nil || e.now().Sub(e.renewed) >= e.fence() {
		// Someone else holds it, or we could not renew in time.
		e.leader = false
	}
	is := e.leader && e.now().Sub(e.renewed) < e.fence()
	e.announced = is
	e.mu.Unlock()
	if is != was {
		if is {
			e.o.Log.Info("leader election: this replica is now the leader", "replica", e.o.ID, "lease", e.o.Name)
		} else {
			e.o.Log.Warn("leader election: this replica is no longer the leader", "replica", e.o.ID, "lease", e.o.Name)
		}
		if e.o.OnChange != nil {
			e.o.OnChange(is)
		}
	}
}

// release ends our lease at once on a clean shutdown.
func (e *Elector) release() {
	e.mu.Lock()
	was := e.leader
	announced := e.announced
	e.leader, e.announced = false, false
	e.mu.Unlock()
	if !was {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, _ = e.db.ExecContext(ctx, `UPDATE immutag_leader SET expires_at = now() - interval '1 second' WHERE name = $1 AND holder = $2`, e.o.Name, e.o.ID)
	e.o.Log.Info("leader election: lease released", "replica", e.o.ID)
	if announced && e.o.OnChange != nil {
		e.o.OnChange(false)
	}
}

// scrub keeps the DSN (which may hold a password) out of messages.
func scrub(err error, dsn string) string {
	if dsn == "" {
		return err.Error()
	}
	return strings.ReplaceAll(err.Error(), dsn, "[dsn]")
}
