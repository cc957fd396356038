package ledger_test

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/ledger"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/testutil"
	"github.com/immutag/immutag/internal/testutil/pgtest"
)

// engines runs f once on a SQLite file and once on a fresh PostgreSQL
// database (skipped with pgtest's message where PostgreSQL is missing).
func engines(t *testing.T, f func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) {
		f(t, "sqlite:"+filepath.Join(t.TempDir(), "ledger.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		srv := pgtest.Start(t)
		f(t, srv.NewDatabase(t))
	})
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

var t0 = time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC)

func open(t *testing.T, dsn string) *ledger.Store {
	t.Helper()
	s, err := ledger.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// scan records one complete listing of repository app at c's time.
func scan(t *testing.T, s *ledger.Store, c *clock, tags map[string]string, ow *[]ledger.Overwrite) {
	t.Helper()
	ctx := context.Background()
	var mu sync.Mutex
	rec := s.Record(ledger.RecordOptions{Now: c.now, BatchSize: 2, OnOverwrite: func(o ledger.Overwrite) {
		mu.Lock()
		defer mu.Unlock()
		if ow != nil {
			*ow = append(*ow, o)
		}
	}})
	repo := ledger.Repo{Provider: "ecr-prod", Scope: "123/eu-west-1", Repository: "team/app", Immutable: true}
	for tag, d := range tags {
		if err := rec.Tag(ctx, repo, providers.Tag{Name: tag, Digest: d}); err != nil {
			t.Fatal(err)
		}
	}
	if err := rec.RepositoryDone(ctx, repo); err != nil {
		t.Fatal(err)
	}
	if err := rec.Finish(ctx, true); err != nil {
		t.Fatal(err)
	}
}

func history(t *testing.T, s *ledger.Store, ref string) ledger.TagHistory {
	t.Helper()
	r, err := ledger.ParseRef(ref)
	if err != nil {
		t.Fatal(err)
	}
	hs, err := s.History(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 1 {
		t.Fatalf("history %s: %d tags, want 1: %+v", ref, len(hs), hs)
	}
	return hs[0]
}

func digests(h ledger.TagHistory) string {
	var b []string
	for _, iv := range h.Intervals {
		b = append(b, iv.Digest[len(iv.Digest)-1:])
	}
	return strings.Join(b, ",")
}

const (
	dA = "sha256:aaaa"
	dB = "sha256:bbbb"
	dC = "sha256:cccc"
)

func TestIntervalsOverwritesGapsAndReturns(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		s := open(t, dsn)
		c := &clock{t0}
		var ow []ledger.Overwrite
		scan(t, s, c, map[string]string{"v1": dA, "latest": dA}, &ow)
		c.t = t0.Add(time.Hour)
		scan(t, s, c, map[string]string{"v1": dA, "latest": dA}, &ow)
		if len(ow) != 0 {
			t.Fatalf("unchanged tags reported as overwrites: %+v", ow)
		}
		h := history(t, s, "team/app:latest")
		if len(h.Intervals) != 1 || !h.Intervals[0].FirstSeen.Equal(t0) || !h.Intervals[0].LastSeen.Equal(t0.Add(time.Hour)) {
			t.Fatalf("two unchanged scans should extend one interval: %+v", h.Intervals)
		}
		// latest moves to B: one overwrite, old interval closed.
		c.t = t0.Add(2 * time.Hour)
		scan(t, s, c, map[string]string{"v1": dA, "latest": dB}, &ow)
		if len(ow) != 1 || ow[0].Tag != "latest" || ow[0].Previous != dA || ow[0].Digest != dB || !ow[0].Immutable ||
			!ow[0].LastSeenAt.Equal(t0.Add(time.Hour)) || !ow[0].SeenAt.Equal(c.t) {
			t.Fatalf("overwrites = %+v", ow)
		}
		// v1 disappears, then comes back at C: two intervals, a gap.
		c.t = t0.Add(3 * time.Hour)
		scan(t, s, c, map[string]string{"latest": dB}, &ow)
		c.t = t0.Add(4 * time.Hour)
		scan(t, s, c, map[string]string{"latest": dB, "v1": dC}, &ow)
		if len(ow) != 1 {
			t.Fatalf("a tag that vanished and came back is not an overwrite of an open interval: %+v", ow)
		}
		h = history(t, s, "ecr-prod/team/app:v1")
		if digests(h) != "a,c" || h.Intervals[0].Current || !h.Intervals[1].Current {
			t.Fatalf("v1 intervals = %+v", h.Intervals)
		}
		if h.Provider != "ecr-prod" || h.Scope != "123/eu-west-1" || h.Repository != "team/app" {
			t.Fatalf("key = %+v", h.Key)
		}
		// Point in time: inside, in the gap, before the first record.
		if a := h.DigestAt(t0.Add(90 * time.Minute)); !a.Known || a.Digest != dA {
			t.Fatalf("at +90m: %+v", a)
		}
		if a := h.DigestAt(t0.Add(150 * time.Minute)); a.Known || a.Before == nil || a.After == nil || a.Before.Digest != dA || a.After.Digest != dC {
			t.Fatalf("in the gap: %+v", a)
		}
		if a := h.DigestAt(t0.Add(-time.Minute)); a.Known || a.Before != nil || a.After == nil || a.After.Digest != dA {
			t.Fatalf("before the first record: %+v", a)
		}
		lh := history(t, s, "team/app:latest")
		if a := lh.DigestAt(t0.Add(30 * time.Minute)); !a.Known || a.Digest != dA {
			t.Fatalf("latest at +30m = %+v (before it was overwritten it named A)", a)
		}
		// Moved: latest A->B and v1 A->C (after a gap) are both changes.
		var moves []ledger.Move
		if err := s.Moved(context.Background(), time.Time{}, func(m ledger.Move) error { moves = append(moves, m); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(moves) != 2 || moves[0].Tag != "latest" || moves[0].From.Digest != dA || moves[0].To.Digest != dB ||
			moves[1].Tag != "v1" || moves[1].To.Digest != dC {
			t.Fatalf("moves = %+v", moves)
		}
		moves = nil
		if err := s.Moved(context.Background(), t0.Add(210*time.Minute), func(m ledger.Move) error { moves = append(moves, m); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(moves) != 1 || moves[0].Tag != "v1" {
			t.Fatalf("moves since +3h30 = %+v", moves)
		}
		var tagged []ledger.Tagged
		if err := s.ByDigest(context.Background(), dA, func(x ledger.Tagged) error { tagged = append(tagged, x); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(tagged) != 2 {
			t.Fatalf("digest A was named by latest and v1: %+v", tagged)
		}
		scans, err := s.Scans(context.Background(), "ecr-prod", 10)
		if err != nil || len(scans) != 5 || !scans[0].Complete || scans[0].Tags != 2 {
			t.Fatalf("scans = %+v, %v", scans, err)
		}
	})
}

func TestNativeHistoryImportsOnce(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		s := open(t, dsn)
		ctx := context.Background()
		c := &clock{t0}
		repo := ledger.Repo{Provider: "quay", Scope: "org", Repository: "org/app"}
		listing := []providers.Tag{
			{Name: "prod", Digest: dA, Pushed: t0.Add(-90 * 24 * time.Hour), Ended: t0.Add(-30 * 24 * time.Hour), Source: "quay tag history"},
			{Name: "prod", Digest: dB, Pushed: t0.Add(-30 * 24 * time.Hour), Source: "quay tag history"},
		}
		for i := 0; i < 2; i++ { // importing twice must not duplicate
			rec := s.Record(ledger.RecordOptions{Now: c.now})
			for _, tg := range listing {
				if err := rec.Tag(ctx, repo, tg); err != nil {
					t.Fatal(err)
				}
			}
			if err := rec.Finish(ctx, true); err != nil {
				t.Fatal(err)
			}
			c.t = c.t.Add(time.Hour)
		}
		h := history(t, s, "quay/org/app:prod")
		if digests(h) != "a,b" || h.Intervals[0].Source != "quay tag history" {
			t.Fatalf("intervals = %+v", h.Intervals)
		}
		// Three months ago, before immutag ever ran, the registry's history answers.
		if a := h.DigestAt(t0.Add(-60 * 24 * time.Hour)); !a.Known || a.Digest != dA {
			t.Fatalf("60 days before the first scan: %+v", a)
		}
		if a := h.DigestAt(t0); !a.Known || a.Digest != dB {
			t.Fatalf("now: %+v", a)
		}
	})
}

func TestConcurrentRecordersManyTags(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		s := open(t, dsn)
		ctx := context.Background()
		c := &clock{t0}
		rec := s.Record(ledger.RecordOptions{Now: c.now, BatchSize: 64})
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				repo := ledger.Repo{Provider: "p", Scope: "s", Repository: "repo" + string(rune('a'+w))}
				for i := 0; i < 300; i++ {
					if err := rec.Tag(ctx, repo, providers.Tag{Name: "t" + itoa(i), Digest: dA}); err != nil {
						errs <- err
						return
					}
				}
				errs <- rec.RepositoryDone(ctx, repo)
			}(w)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := rec.Finish(ctx, true); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM ledger_intervals WHERE is_open = 1`).Scan(&n); err != nil || n != 2400 {
			t.Fatalf("open intervals = %d, %v; want 2400", n, err)
		}
	})
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func TestSQLiteFileIsPrivateWALAndMigrated(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_STATE_HOME", dir)
	ctx := context.Background()
	s, err := ledger.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "immutag", "ledger.db")
	if s.Where() != path {
		t.Fatalf("default ledger at %s, want %s", s.Where(), path)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode = %v, %v; want 0600", st.Mode(), err)
	}
	var mode string
	if err := s.DB().QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v", mode, err)
	}
	v, err := s.Version(ctx)
	if err != nil || v != ledger.SchemaVersion {
		t.Fatalf("version = %d, %v", v, err)
	}
	s.Close()
	// Reopening applies nothing twice.
	s2, err := ledger.Open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	var n int
	if err := s2.DB().QueryRowContext(ctx, `SELECT count(*) FROM ledger_schema`).Scan(&n); err != nil || n != ledger.SchemaVersion {
		t.Fatalf("ledger_schema rows = %d, %v", n, err)
	}
}

func TestInlinePasswordDetected(t *testing.T) {
	for dsn, want := range map[string]bool{
		"postgres://u:secret@db:5432/ledger":          true,
		"postgresql://u@db/ledger?password=secret":    true,
		"host=db user=u password=secret dbname=x":     true,
		"postgres://u@db:5432/ledger?sslmode=require": false,
		"/var/lib/immutag/ledger.db":                  false,
	} {
		if got := ledger.HasPassword(dsn); got != want {
			t.Errorf("HasPassword(%q) = %v, want %v", dsn, got, want)
		}
	}
}

func TestPostgresErrorsDoNotEchoPassword(t *testing.T) {
	srv := pgtest.Start(t)
	dsn := "postgres://nobody:hunter2secret@127.0.0.1:" + itoa(srv.Port) + "/nosuchdb?sslmode=disable&connect_timeout=5"
	_, err := ledger.Open(context.Background(), dsn)
	if err == nil {
		t.Fatal("opened a database that does not exist")
	}
	if strings.Contains(err.Error(), "hunter2secret") {
		t.Fatalf("error echoes the password: %v", err)
	}
	if !strings.Contains(err.Error(), "postgres://127.0.0.1:") {
		t.Fatalf("error does not say which database: %v", err)
	}
}

func TestParseRef(t *testing.T) {
	for in, want := range map[string]ledger.Ref{
		"app:v1":              {Path: "app", Tag: "v1"},
		"ecr-prod/team/app:1": {Path: "ecr-prod/team/app", Tag: "1"},
	} {
		got, err := ledger.ParseRef(in)
		if err != nil || got != want {
			t.Errorf("ParseRef(%q) = %+v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"app", "app:", ":v1", "app@sha256:abc", "host:5000/app"} {
		if _, err := ledger.ParseRef(bad); err == nil {
			t.Errorf("ParseRef(%q) accepted", bad)
		}
	}
}

func TestNestedImagesCloseOnlyWithTheirRepository(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		s := open(t, dsn)
		ctx := context.Background()
		c := &clock{t0}
		record := func(repo ledger.Repo, tags ...providers.Tag) {
			rec := s.Record(ledger.RecordOptions{Now: c.now})
			for _, tg := range tags {
				if err := rec.Tag(ctx, repo, tg); err != nil {
					t.Fatal(err)
				}
			}
			if err := rec.RepositoryDone(ctx, repo); err != nil {
				t.Fatal(err)
			}
			if err := rec.Finish(ctx, true); err != nil {
				t.Fatal(err)
			}
			c.t = c.t.Add(time.Hour)
		}
		ar := ledger.Repo{Provider: "gar", Scope: "p/l", Repository: "apps", Nested: true}
		record(ar, providers.Tag{Name: "v1", Digest: dA, Image: "api"}, providers.Tag{Name: "v1", Digest: dB, Image: "web"})
		// A plain repository whose name is a prefix closes nothing below it.
		record(ledger.Repo{Provider: "gar", Scope: "p/l", Repository: "apps"})
		if h := history(t, s, "apps/web:v1"); !h.Intervals[0].Current {
			t.Fatalf("a plain repository closed a nested image's tag: %+v", h.Intervals)
		}
		// The nested repository listed again without web: web:v1 closes, api:v1 stays.
		record(ar, providers.Tag{Name: "v1", Digest: dA, Image: "api"})
		if h := history(t, s, "apps/web:v1"); h.Intervals[0].Current {
			t.Fatalf("web:v1 vanished but stays current: %+v", h.Intervals)
		}
		if h := history(t, s, "apps/api:v1"); !h.Intervals[0].Current || len(h.Intervals) != 1 {
			t.Fatalf("api:v1 = %+v", h.Intervals)
		}
	})
}

// An audit log's past lifetimes and the ledger's own scans describe the same
// lifetimes: importing one the scans saw widens that interval instead of
// adding an overlapping one, in either order and however often.
func TestAuditLogImportMergesWithScans(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		s := open(t, dsn)
		ctx := context.Background()
		c := &clock{t0}
		const src = "harbor-auditlog"
		day := 24 * time.Hour
		// The scans see prod -> a twice, then b.
		scan(t, s, c, map[string]string{"prod": dA}, nil)
		c.t = t0.Add(time.Hour)
		scan(t, s, c, map[string]string{"prod": dA}, nil)
		c.t = t0.Add(2 * time.Hour)
		scan(t, s, c, map[string]string{"prod": dB}, nil)
		// The log: c from -20d to -10d, a from -10d until the push of b at +90m.
		imported := []providers.Tag{
			{Name: "prod", Digest: dC, Pushed: t0.Add(-20 * day), Ended: t0.Add(-10 * day), Source: src},
			{Name: "prod", Digest: dA, Pushed: t0.Add(-10 * day), Ended: t0.Add(90 * time.Minute), Source: src},
		}
		repo := ledger.Repo{Provider: "ecr-prod", Scope: "123/eu-west-1", Repository: "team/app", Immutable: true}
		for range 2 {
			c.t = c.t.Add(time.Hour)
			rec := s.Record(ledger.RecordOptions{Now: c.now})
			for _, tg := range append([]providers.Tag{{Name: "prod", Digest: dB}}, imported...) {
				if err := rec.Tag(ctx, repo, tg); err != nil {
					t.Fatal(err)
				}
			}
			if err := rec.RepositoryDone(ctx, repo); err != nil {
				t.Fatal(err)
			}
			if err := rec.Finish(ctx, true); err != nil {
				t.Fatal(err)
			}
		}
		h := history(t, s, "ecr-prod/team/app:prod")
		if digests(h) != "c,a,b" {
			t.Fatalf("intervals %s, want c,a,b (one per lifetime): %+v", digests(h), h.Intervals)
		}
		a := h.Intervals[1]
		if !a.FirstSeen.Equal(t0.Add(-10*day)) || !a.LastSeen.Equal(t0.Add(90*time.Minute)) || a.Source != src || a.Current {
			t.Errorf("merged a = %+v, want -10d..+90m from %s, closed", a, src)
		}
		if h.Intervals[0].Source != src || h.Intervals[2].Source != ledger.SourceScan || !h.Intervals[2].Current {
			t.Errorf("sources = %+v", h.Intervals)
		}
		for i := 1; i < len(h.Intervals); i++ {
			if h.Intervals[i].FirstSeen.Before(h.Intervals[i-1].LastSeen) {
				t.Errorf("interval %d overlaps the one before: %+v", i, h.Intervals)
			}
		}
		if at := h.DigestAt(t0.Add(-15 * day)); !at.Known || at.Digest != dC {
			t.Errorf("15 days before the first scan: %+v", at)
		}
		if at := h.DigestAt(t0.Add(80 * time.Minute)); !at.Known || at.Digest != dA {
			t.Errorf("between the last scan of a and the push of b: %+v", at)
		}
		// Between the log's push of b and the scan that saw it nothing covers.
		if at := h.DigestAt(t0.Add(100 * time.Minute)); at.Known {
			t.Errorf("gap answered: %+v", at)
		}
		var moves []ledger.Move
		if err := s.Moved(ctx, t0.Add(-30*day), func(m ledger.Move) error { moves = append(moves, m); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(moves) != 2 || moves[0].From.Digest != dC || moves[1].To.Digest != dB {
			t.Errorf("moves = %+v", moves)
		}
	})
}

// TestStagingKeepsNamesExact: every name and instant reaches the ledger
// unchanged through the batch's JSON, whatever characters it holds.
func TestStagingKeepsNamesExact(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		s := open(t, dsn)
		ctx := context.Background()
		c := &clock{t0}
		repo := ledger.Repo{Provider: `prod "eu" \ é`, Scope: "123/eu-west-1 ✓", Repository: "team/app", Immutable: true}
		pushed := time.Date(1999, 12, 31, 23, 59, 59, 123456000, time.UTC)
		tags := map[string]string{"v1": dA, `tab\there`: dB, "quote\"d": dC, "emoji🚀": "sha256:" + strings.Repeat("f", 64)}
		rec := s.Record(ledger.RecordOptions{Now: c.now, BatchSize: 3})
		for tag, d := range tags {
			if err := rec.Tag(ctx, repo, providers.Tag{Name: tag, Digest: d, Pushed: pushed}); err != nil {
				t.Fatal(err)
			}
		}
		if err := rec.RepositoryDone(ctx, repo); err != nil {
			t.Fatal(err)
		}
		if err := rec.Finish(ctx, true); err != nil {
			t.Fatal(err)
		}
		rows, err := s.DB().QueryContext(ctx, "SELECT provider, scope, repository, tag, digest, pushed, is_open FROM ledger_intervals")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		got := map[string]string{}
		for rows.Next() {
			var p, sc, r, tag, d string
			var pu int64
			var open int
			if err := rows.Scan(&p, &sc, &r, &tag, &d, &pu, &open); err != nil {
				t.Fatal(err)
			}
			if p != repo.Provider || sc != repo.Scope || r != repo.Repository || pu != pushed.UnixMicro() || open != 1 {
				t.Errorf("row %q %q %q pushed %d open %d, want %q %q %q %d 1", p, sc, r, pu, open, repo.Provider, repo.Scope, repo.Repository, pushed.UnixMicro())
			}
			got[tag] = d
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(tags) {
			t.Fatalf("ledger holds %v, want %v", got, tags)
		}
		for tag, d := range tags {
			if got[tag] != d {
				t.Errorf("tag %q: digest %q, want %q (ledger holds %v)", tag, got[tag], d, got)
			}
		}
	})
}

// TestHistoryCursorMovesForwardWithItsBatch: the position of a native-log
// import is stored with the batch of lifetimes read up to it, never before
// them, and never moves back (two replicas importing at once).
func TestHistoryCursorMovesForwardWithItsBatch(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		s := open(t, dsn)
		ctx := context.Background()
		c := &clock{t0}
		repo := ledger.Repo{Provider: "hb", Scope: "apps", Repository: "api"}
		cursor := func() time.Time {
			t.Helper()
			at, err := s.HistoryCursor(ctx, repo.Provider, repo.Scope, repo.Repository)
			if err != nil {
				t.Fatal(err)
			}
			return at
		}
		if at := cursor(); !at.IsZero() {
			t.Fatalf("a new ledger has a history position: %v", at)
		}
		rec := s.Record(ledger.RecordOptions{Now: c.now, BatchSize: 10})
		t1 := t0.Add(-time.Hour)
		if err := rec.Tag(ctx, repo, providers.Tag{Name: "v1", Digest: dA, Pushed: t0.Add(-3 * time.Hour), Ended: t1, Source: "harbor-auditlog"}); err != nil {
			t.Fatal(err)
		}
		if err := rec.HistoryImported(ctx, repo, t1); err != nil {
			t.Fatal(err)
		}
		if at := cursor(); !at.IsZero() {
			t.Fatalf("the position was stored before the lifetimes read up to it: %v", at)
		}
		if err := rec.Finish(ctx, true); err != nil {
			t.Fatal(err)
		}
		if at := cursor(); !at.Equal(t1) {
			t.Fatalf("position after the batch: %v, want %v", at, t1)
		}
		if h := history(t, s, "hb/api:v1"); len(h.Intervals) != 1 || h.Intervals[0].Digest != dA {
			t.Fatalf("the lifetime of the batch: %+v", h.Intervals)
		}
		rec = s.Record(ledger.RecordOptions{Now: c.now})
		for _, at := range []time.Time{t1.Add(-time.Hour), {}} {
			if err := rec.HistoryImported(ctx, repo, at); err != nil {
				t.Fatal(err)
			}
		}
		if err := rec.Finish(ctx, true); err != nil {
			t.Fatal(err)
		}
		if at := cursor(); !at.Equal(t1) {
			t.Fatalf("an older position (or none) replaced %v: %v", t1, at)
		}
	})
}

// TestOpenRefusesWhatIsNotALedger: a path holding another file is refused
// before SQLite or a chmod touches it, a DSN of another engine is not taken
// for a file name, and OpenExisting creates nothing.
func TestOpenRefusesWhatIsNotALedger(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	notes := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notes, []byte("remember the milk\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, open := range []func(context.Context, string) (*ledger.Store, error){ledger.Open, ledger.OpenExisting} {
		if _, err := open(ctx, notes); err == nil || !strings.Contains(err.Error(), "is not a SQLite database") {
			t.Errorf("a text file as the ledger: %v", err)
		}
		if st, err := os.Stat(notes); err != nil || st.Mode().Perm() != 0o644 {
			t.Errorf("the text file was changed: %v %v", st.Mode(), err)
		}
		if b, _ := os.ReadFile(notes); string(b) != "remember the milk\n" {
			t.Errorf("the text file now holds %q", b)
		}
		t.Chdir(dir)
		if _, err := open(ctx, "mysql://db.internal/ledger"); err == nil || !strings.Contains(err.Error(), "mysql is not a ledger engine") {
			t.Errorf("a mysql DSN: %v", err)
		}
		if _, err := os.Stat(filepath.Join(dir, "mysql:")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("a mysql DSN left %s behind: %v", filepath.Join(dir, "mysql:"), err)
		}
	}
	missing := filepath.Join(dir, "sub", "ledger.db")
	if _, err := ledger.OpenExisting(ctx, "sqlite:"+missing); !errors.Is(err, ledger.ErrNoLedger) || !strings.Contains(err.Error(), missing) {
		t.Errorf("OpenExisting of a missing file: %v", err)
	}
	if _, err := os.Stat(filepath.Dir(missing)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenExisting created %s", filepath.Dir(missing))
	}
	// An empty file (created by hand, or by a run stopped at once) is a
	// new ledger, made private.
	blank := filepath.Join(dir, "blank.db")
	if err := os.WriteFile(blank, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := ledger.OpenExisting(ctx, blank)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if st, err := os.Stat(blank); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("an empty ledger file: mode %v %v, want 0600", st.Mode(), err)
	}
}

// TestOpenRefusesForeignAndNewerDatabases: a SQLite database of another
// program, or a ledger migrated by a newer immutag, is refused with an error
// naming the file, and its bytes are left as they were (no ledger tables
// added, no switch to WAL); on PostgreSQL a newer schema is refused too.
func TestOpenRefusesForeignAndNewerDatabases(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	foreign := filepath.Join(dir, "places.sqlite")
	db, err := sql.Open("sqlite", foreign)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	before, err := os.ReadFile(foreign)
	if err != nil {
		t.Fatal(err)
	}
	for _, open := range []func(context.Context, string) (*ledger.Store, error){ledger.Open, ledger.OpenExisting} {
		if _, err := open(ctx, foreign); err == nil || !strings.Contains(err.Error(), "another program") || !strings.Contains(err.Error(), foreign) {
			t.Errorf("another program's SQLite database: %v", err)
		}
	}
	if after, _ := os.ReadFile(foreign); string(after) != string(before) {
		t.Errorf("the foreign database was changed (%d bytes, was %d)", len(after), len(before))
	}

	engines(t, func(t *testing.T, dsn string) {
		s := open(t, dsn)
		if _, err := s.DB().ExecContext(ctx, `INSERT INTO ledger_schema (version, applied_at) VALUES (`+itoa(ledger.SchemaVersion+1)+`, 0)`); err != nil {
			t.Fatal(err)
		}
		s.Close()
		var before []byte
		path := strings.TrimPrefix(dsn, "sqlite:")
		if strings.HasPrefix(dsn, "sqlite:") {
			before, _ = os.ReadFile(path)
		}
		_, err := ledger.Open(ctx, dsn)
		want := "schema version " + itoa(ledger.SchemaVersion+1) + ", newer than this immutag knows"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("a newer ledger: %v, want %q", err, want)
		}
		if before != nil {
			if after, _ := os.ReadFile(path); string(after) != string(before) {
				t.Errorf("the newer ledger was changed")
			}
		}
	})
}

// TestOpenDoesNotEchoOrCreateFromADSN: a DSN that is neither a path nor
// postgres:// (a mistyped scheme, libpq's key=value form), as it may come
// from ledger.dsn_env with a password, is refused without echoing it and
// without creating a file named after it.
func TestOpenDoesNotEchoOrCreateFromADSN(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, dsn := range []string{
		"postgress://immutag:hunter2secret@db.internal/ledger",
		"host=db.internal user=immutag password=hunter2secret dbname=ledger",
		"host=db.internal dbname=ledger",
	} {
		_, err := ledger.Open(context.Background(), dsn)
		if err == nil {
			t.Errorf("Open(%q) succeeded", dsn)
			continue
		}
		if strings.Contains(err.Error(), "hunter2secret") || strings.Contains(err.Error(), "db.internal") {
			t.Errorf("Open(%q) echoes the DSN: %v", dsn, err)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Errorf("Open(%q) left %s behind", dsn, ents[0].Name())
		}
	}
}

// TestOpenOnlyNarrowsTheFileMode: a ledger made read-only by its owner
// (an archived copy) keeps that mode when it is asked a question; one
// readable by others becomes private.
func TestOpenOnlyNarrowsTheFileMode(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	s, err := ledger.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, c := range []struct{ set, want fs.FileMode }{{0o400, 0o400}, {0o644, 0o600}, {0o640, 0o600}} {
		if err := os.Chmod(path, c.set); err != nil {
			t.Fatal(err)
		}
		s, err := ledger.OpenExisting(ctx, path)
		if err != nil {
			t.Fatalf("mode %v: %v", c.set, err)
		}
		s.Close()
		if st, err := os.Stat(path); err != nil || st.Mode().Perm() != c.want {
			t.Errorf("a ledger at %v is now %v (%v), want %v", c.set, st.Mode().Perm(), err, c.want)
		}
	}
}

// TestAuditLogDatesTheCurrentInterval: the log's start of a tag's current
// lifetime dates the interval the listing opened, so the time between the
// push and the first scan that saw it is answered. It opens nothing the
// listing did not see, never moves a start later, and never starts before
// a different digest the scans saw on the tag.
func TestAuditLogDatesTheCurrentInterval(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		s := open(t, dsn)
		ctx := context.Background()
		c := &clock{t0}
		const src = "harbor-auditlog"
		// The scans see prod -> a, then b; rc -> c from the first scan on.
		scan(t, s, c, map[string]string{"prod": dA, "rc": dC}, nil)
		c.t = t0.Add(time.Hour)
		scan(t, s, c, map[string]string{"prod": dA, "rc": dC}, nil)
		c.t = t0.Add(2 * time.Hour)
		repo := ledger.Repo{Provider: "ecr-prod", Scope: "123/eu-west-1", Repository: "team/app", Immutable: true}
		rec := s.Record(ledger.RecordOptions{Now: c.now, BatchSize: 2})
		for _, tg := range []providers.Tag{{Name: "prod", Digest: dB}, {Name: "rc", Digest: dC}} {
			testutil.Must(t, rec.Tag(ctx, repo, tg))
		}
		// The log: a until the push of b at +90m, b since then; rc -> c
		// since 5 minutes before the first scan... and since -1d (later in
		// the log's order, earlier in time: a start only moves earlier);
		// gone -> a since -1d, a tag the listing no longer has; prod -> c
		// since -2d, which the scans contradict (they saw a after it).
		testutil.Must(t, rec.Tag(ctx, repo, providers.Tag{Name: "prod", Digest: dA, Pushed: t0.Add(-10 * 24 * time.Hour), Ended: t0.Add(90 * time.Minute), Source: src}))
		for _, tg := range []providers.Tag{
			{Name: "prod", Digest: dB, Pushed: t0.Add(90 * time.Minute), Source: src},
			{Name: "rc", Digest: dC, Pushed: t0.Add(-5 * time.Minute), Source: src},
			{Name: "rc", Digest: dC, Pushed: t0.Add(-24 * time.Hour), Source: src},
			{Name: "rc", Digest: dC, Pushed: t0.Add(-time.Minute), Source: src},
			{Name: "gone", Digest: dA, Pushed: t0.Add(-24 * time.Hour), Source: src},
		} {
			testutil.Must(t, rec.Started(ctx, repo, tg))
		}
		testutil.Must(t, rec.RepositoryDone(ctx, repo))
		testutil.Must(t, rec.Finish(ctx, true))

		h := history(t, s, "ecr-prod/team/app:prod")
		if digests(h) != "a,b" {
			t.Fatalf("prod intervals %s, want a,b: %+v", digests(h), h.Intervals)
		}
		b := h.Intervals[1]
		if !b.FirstSeen.Equal(t0.Add(90*time.Minute)) || b.Source != src || !b.Current {
			t.Errorf("b = %+v, want open since the log's push at +90m, from %s", b, src)
		}
		if at := h.DigestAt(t0.Add(100 * time.Minute)); !at.Known || at.Digest != dB {
			t.Errorf("between the push of b and the scan that saw it: %+v", at)
		}
		if rc := history(t, s, "ecr-prod/team/app:rc"); len(rc.Intervals) != 1 || !rc.Intervals[0].FirstSeen.Equal(t0.Add(-24*time.Hour)) {
			t.Errorf("rc = %+v, want one interval since -1d", rc.Intervals)
		}
		var tags []string
		testutil.Must(t, s.ByDigest(ctx, dA, func(x ledger.Tagged) error { tags = append(tags, x.Tag); return nil }))
		if slices.Contains(tags, "gone") {
			t.Errorf("a start opened an interval for a tag the listing does not have: %v", tags)
		}

		// A start the scans contradict: prod -> b since before the scans
		// saw a. Nothing moves.
		c.t = t0.Add(3 * time.Hour)
		rec = s.Record(ledger.RecordOptions{Now: c.now})
		testutil.Must(t, rec.Tag(ctx, repo, providers.Tag{Name: "prod", Digest: dB}))
		testutil.Must(t, rec.Started(ctx, repo, providers.Tag{Name: "prod", Digest: dB, Pushed: t0.Add(-2 * 24 * time.Hour), Source: src}))
		testutil.Must(t, rec.Finish(ctx, true))
		if h := history(t, s, "ecr-prod/team/app:prod"); len(h.Intervals) != 2 || !h.Intervals[1].FirstSeen.Equal(t0.Add(90*time.Minute)) {
			t.Errorf("a start before a digest the scans saw moved the interval: %+v", h.Intervals)
		}
	})
}
