package ledger

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/providers"
)

// TestLockedLedgerSaysWhy: while another process holds a SQLite ledger's
// write lock, opening it (already migrated) does not wait for the lock, and
// a recording that outwaits the busy timeout says another process held it,
// not only "database is locked" under a misleading "migration 1".
func TestLockedLedgerSaysWhy(t *testing.T) {
	defer func(d time.Duration) { busyTimeout = d }(busyTimeout)
	busyTimeout = 50 * time.Millisecond
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "l.db")
	holder, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	tx, err := holder.db.BeginTx(ctx, nil) // _txlock=immediate: the write lock
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO ledger_scans (provider, started_at) VALUES ('other', 0)`); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("opening an up-to-date ledger while another process writes: %v", err)
	}
	defer s.Close()
	rec := s.Record(RecordOptions{})
	err = rec.Tag(ctx, Repo{Provider: "p", Scope: "s", Repository: "r"}, providers.Tag{Name: "v1", Digest: "sha256:aaaa"})
	if err == nil {
		err = rec.Finish(ctx, true)
	}
	if err == nil || !strings.Contains(err.Error(), "another process held the ledger's write lock") || !strings.Contains(err.Error(), path) {
		t.Fatalf("recording into a locked ledger: %v", err)
	}
}
