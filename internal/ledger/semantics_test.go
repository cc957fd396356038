package ledger_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/ledger"
	"github.com/immutag/immutag/internal/providers"
)

// TestOverlappingScansDoNotCloseEachOthersTags: two recording runs at once
// on one ledger (two audit --record, serve replicas) each list the
// repository; whichever order their batches land in, a tag both saw stays
// open in one interval, and only the tag neither saw closes.
func TestOverlappingScansDoNotCloseEachOthersTags(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		s := open(t, dsn)
		ctx := context.Background()
		repo := ledger.Repo{Provider: "ecr-prod", Scope: "123/eu-west-1", Repository: "team/app"}
		c := &clock{t0}
		scan(t, s, c, map[string]string{"v1": dA, "gone": dB}, nil)
		for round, order := range [][4]string{
			{"tagA", "tagB", "doneA", "doneB"},
			{"tagB", "tagA", "doneA", "doneB"},
			{"tagA", "tagB", "doneB", "doneA"},
			{"tagB", "tagA", "doneB", "doneA"},
		} {
			c.t = c.t.Add(time.Hour)
			// BatchSize 1: every call is its own transaction, so the two
			// runs interleave exactly as listed.
			a := s.Record(ledger.RecordOptions{Now: c.now, BatchSize: 1})
			b := s.Record(ledger.RecordOptions{Now: c.now, BatchSize: 1})
			// Scan A starts first, so its id is the older one.
			if err := a.Tag(ctx, repo, providers.Tag{Name: "v1", Digest: dA}); err != nil {
				t.Fatal(err)
			}
			if err := b.Tag(ctx, ledger.Repo{Provider: "ecr-prod", Scope: "other", Repository: "x"}, providers.Tag{Name: "x", Digest: dC}); err != nil {
				t.Fatal(err)
			}
			step := map[string]func() error{
				"tagA":  func() error { return a.Tag(ctx, repo, providers.Tag{Name: "v1", Digest: dA}) },
				"tagB":  func() error { return b.Tag(ctx, repo, providers.Tag{Name: "v1", Digest: dA}) },
				"doneA": func() error { return a.RepositoryDone(ctx, repo) },
				"doneB": func() error { return b.RepositoryDone(ctx, repo) },
			}
			for _, name := range order {
				if err := step[name](); err != nil {
					t.Fatal(round, name, err)
				}
			}
			for _, r := range []*ledger.Recorder{a, b} {
				if err := r.Finish(ctx, true); err != nil {
					t.Fatal(err)
				}
			}
			h := history(t, s, "ecr-prod/team/app:v1")
			if len(h.Intervals) != 1 || !h.Intervals[0].Current || !h.Intervals[0].LastSeen.Equal(c.t) {
				t.Fatalf("order %v: v1 = %+v, want one current interval seen until %s", order, h.Intervals, c.t)
			}
			if g := history(t, s, "ecr-prod/team/app:gone"); len(g.Intervals) != 1 || g.Intervals[0].Current {
				t.Fatalf("order %v: a tag neither run saw is still current: %+v", order, g.Intervals)
			}
		}
	})
}

// TestTagWithoutDigestIsNotDeletion: a listing that names a tag but not its
// digest says the tag is there; its interval is neither closed (a gap and a
// false "disappeared") nor extended (the digest was not seen), and no
// overwrite is reported.
func TestTagWithoutDigestIsNotDeletion(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		s := open(t, dsn)
		c := &clock{t0}
		var ow []ledger.Overwrite
		scan(t, s, c, map[string]string{"v1": dA, "v2": dB}, &ow)
		c.t = t0.Add(time.Hour)
		scan(t, s, c, map[string]string{"v1": "", "v2": dB}, &ow)
		h := history(t, s, "team/app:v1")
		if len(h.Intervals) != 1 || !h.Intervals[0].Current || !h.Intervals[0].LastSeen.Equal(t0) {
			t.Fatalf("v1 listed without its digest: %+v, want still current, last seen %s", h.Intervals, t0)
		}
		c.t = t0.Add(2 * time.Hour)
		scan(t, s, c, map[string]string{"v1": dA, "v2": dB}, &ow)
		h = history(t, s, "team/app:v1")
		if len(h.Intervals) != 1 || !h.Intervals[0].LastSeen.Equal(c.t) || len(ow) != 0 {
			t.Fatalf("v1 seen again with its digest: %+v, overwrites %+v", h.Intervals, ow)
		}
		// A tag that only ever came without a digest records nothing.
		c.t = t0.Add(3 * time.Hour)
		scan(t, s, c, map[string]string{"v1": dA, "v2": dB, "v3": ""}, &ow)
		r, _ := ledger.ParseRef("team/app:v3")
		if hs, err := s.History(context.Background(), r); err != nil || len(hs) != 0 {
			t.Fatalf("v3 without a digest: %+v %v", hs, err)
		}
	})
}

// TestClockSetBackKeepsWhatWasSeen: a scan whose clock is behind the last
// one (an NTP step, another machine) neither shrinks an interval below what
// an earlier scan saw nor makes first_seen later than last_seen.
func TestClockSetBackKeepsWhatWasSeen(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		s := open(t, dsn)
		c := &clock{t0}
		scan(t, s, c, map[string]string{"v1": dA}, nil)
		c.t = t0.Add(2 * time.Hour)
		scan(t, s, c, map[string]string{"v1": dA}, nil)
		c.t = t0.Add(time.Hour)
		scan(t, s, c, map[string]string{"v1": dA}, nil)
		h := history(t, s, "team/app:v1")
		if len(h.Intervals) != 1 || !h.Intervals[0].LastSeen.Equal(t0.Add(2*time.Hour)) || !h.Intervals[0].FirstSeen.Equal(t0) {
			t.Fatalf("after a scan with the clock set back: %+v", h.Intervals)
		}
		if a := h.DigestAt(t0.Add(90 * time.Minute)); !a.Known || a.Digest != dA {
			t.Fatalf("inside what was seen: %+v", a)
		}
	})
}

// TestPostgresConcurrentOpenOfOneTag: two replicas recording a tag that is
// new to the ledger at the same moment; the second insert waits on the
// first's unique index entry and, once that commits, must not fail the
// scan with a duplicate key.
func TestPostgresConcurrentOpenOfOneTag(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		if dsn[:7] == "sqlite:" {
			return // one writer at a time: SQLite cannot interleave two inserts
		}
		s := open(t, dsn)
		ctx := context.Background()
		tx, err := s.DB().BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, `INSERT INTO ledger_intervals (provider, scope, repository, tag, digest, first_seen, last_seen, source, is_open)
			VALUES ('ecr-prod', '123/eu-west-1', 'team/app', 'v1', $1, 0, 0, 'scan', 1)`, dA); err != nil {
			t.Fatal(err)
		}
		var pid int
		if err := tx.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			repo := ledger.Repo{Provider: "ecr-prod", Scope: "123/eu-west-1", Repository: "team/app"}
			rec := s.Record(ledger.RecordOptions{Now: (&clock{t0}).now})
			if err := rec.Tag(ctx, repo, providers.Tag{Name: "v1", Digest: dA}); err != nil {
				done <- err
				return
			}
			done <- rec.Finish(ctx, true)
		}()
		// Wait (without a timer) until the recorder is blocked on our row.
		for {
			var blocked bool
			err := s.DB().QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid)))`, pid).Scan(&blocked)
			if err != nil {
				t.Fatal(err)
			}
			if blocked {
				break
			}
			select {
			case err := <-done:
				t.Fatalf("the recorder finished (%v) while the other replica's insert was uncommitted", err)
			case <-time.After(10 * time.Millisecond): // poll interval, not an assertion
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("recording a tag another replica opened at the same moment: %v", err)
		}
		var n int
		if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM ledger_intervals WHERE is_open = 1`).Scan(&n); err != nil || n != 1 {
			t.Fatalf("open intervals = %d, %v", n, err)
		}
	})
}

// TestHistoryRefForms: a tag is found however its image is usually
// written: the repository alone, after its provider, its scope (a Docker
// Hub organisation, a Harbor project), both, or its registry host; a
// prefix that is none of these finds nothing.
func TestHistoryRefForms(t *testing.T) {
	s := open(t, "sqlite:"+filepath.Join(t.TempDir(), "l.db"))
	ctx := context.Background()
	rec := s.Record(ledger.RecordOptions{Now: (&clock{t0}).now})
	for _, r := range []ledger.Repo{
		{Provider: "harbor", Scope: "library", Repository: "nginx"},
		{Provider: "hub", Scope: "acme", Repository: "web"},
		{Provider: "ecr", Scope: "123456789012/eu-west-1", Repository: "payments/api"},
		{Provider: "acr", Scope: "127.0.0.1:5000", Repository: "team/api"},
		{Provider: "gar", Scope: "acme-prod/europe-west1", Repository: "api/api"},
	} {
		if err := rec.Tag(ctx, r, providers.Tag{Name: "v1", Digest: dA}); err != nil {
			t.Fatal(err)
		}
	}
	if err := rec.Finish(ctx, true); err != nil {
		t.Fatal(err)
	}
	for ref, want := range map[string]string{
		"nginx:v1":                            "harbor/nginx",
		"library/nginx:v1":                    "harbor/nginx",
		"harbor/nginx:v1":                     "harbor/nginx",
		"harbor/library/nginx:v1":             "harbor/nginx",
		"harbor.example.com/library/nginx:v1": "harbor/nginx",
		"acme/web:v1":                         "hub/web",
		"docker.io/acme/web:v1":               "hub/web",
		"123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments/api:v1": "ecr/payments/api",
		"127.0.0.1:5000/team/api:v1":                                   "acr/team/api",
		"europe-west1-docker.pkg.dev/acme-prod/api/api:v1":             "gar/api/api",
		"other/nginx:v1":                    "",
		"xnginx:v1":                         "",
		"hub/library/nginx:v1":              "",
		"library/web:v1":                    "",
		"registry.example.com/other/web:v1": "",
	} {
		r, err := ledger.ParseRef(ref)
		if err != nil {
			t.Fatal(ref, err)
		}
		hs, err := s.History(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, h := range hs {
			got = append(got, h.Provider+"/"+h.Repository)
		}
		if strings.Join(got, " ") != want {
			t.Errorf("history %s = %v, want %q", ref, got, want)
		}
	}
	for _, bad := range []string{"/nginx:v1", "library//nginx:v1", "nginx/:v1"} {
		if _, err := ledger.ParseRef(bad); err == nil || !strings.Contains(err.Error(), "empty name") {
			t.Errorf("ParseRef(%q) = %v", bad, err)
		}
	}
}

// TestReplicasOpenAFreshLedgerTogether: serve replicas started at once
// against a new database all migrate it without an error (PostgreSQL's
// CREATE TABLE IF NOT EXISTS is not safe against a concurrent one), and
// the schema is applied once.
func TestReplicasOpenAFreshLedgerTogether(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		const replicas = 6
		errs := make(chan error, replicas)
		stores := make(chan *ledger.Store, replicas)
		start := make(chan struct{})
		for range replicas {
			go func() {
				<-start
				s, err := ledger.Open(context.Background(), dsn)
				if err == nil {
					stores <- s
				}
				errs <- err
			}()
		}
		close(start)
		for range replicas {
			if err := <-errs; err != nil {
				t.Errorf("a replica could not open the new ledger: %v", err)
			}
		}
		close(stores)
		var n int
		for s := range stores {
			if n == 0 {
				if err := s.DB().QueryRowContext(context.Background(), `SELECT count(*) FROM ledger_schema`).Scan(&n); err != nil || n != ledger.SchemaVersion {
					t.Errorf("ledger_schema rows = %d, %v", n, err)
				}
			}
			s.Close()
		}
	})
}

// TestTwoRunsRecordOneLedgerAtOnce: two processes (two stores, as two
// audit --record runs would open) recording into one ledger at the same
// time wait for each other's transactions instead of failing, lose no row,
// and leave every tag both saw open.
func TestTwoRunsRecordOneLedgerAtOnce(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		c := &clock{t0}
		errs := make(chan error, 2)
		for _, own := range []string{"a", "b"} {
			s := open(t, dsn)
			go func() {
				errs <- func() error {
					rec := s.Record(ledger.RecordOptions{Now: c.now, BatchSize: 50})
					for _, name := range []string{"shared", own} {
						repo := ledger.Repo{Provider: "p", Scope: "s", Repository: name}
						for i := range 600 {
							if err := rec.Tag(ctx, repo, providers.Tag{Name: "t" + itoa(i), Digest: dA}); err != nil {
								return err
							}
						}
						if err := rec.RepositoryDone(ctx, repo); err != nil {
							return err
						}
					}
					return rec.Finish(ctx, true)
				}()
			}()
		}
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		s := open(t, dsn)
		var open, closed, scans int
		if err := s.DB().QueryRowContext(ctx, `SELECT count(CASE WHEN is_open = 1 THEN 1 END), count(CASE WHEN is_open = 0 THEN 1 END) FROM ledger_intervals`).Scan(&open, &closed); err != nil {
			t.Fatal(err)
		}
		if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM ledger_scans WHERE complete = 1`).Scan(&scans); err != nil {
			t.Fatal(err)
		}
		if open != 1800 || closed != 0 || scans != 2 {
			t.Fatalf("open %d, closed %d, complete scans %d; want 1800, 0, 2", open, closed, scans)
		}
	})
}

// TestOpenRefusesPipesAndDevices: --ledger naming a named pipe (or a
// device such as /dev/null, a symlink to one) is refused as not a regular
// file, before it is read (a pipe would block) or its mode changed (run as
// root, chmod 0600 on /dev/null breaks it for everyone).
func TestOpenRefusesPipesAndDevices(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "ledger.fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	// Something to read, 16 bytes for each of the four opens below, so
	// that a version reading the pipe fails on its contents instead of
	// blocking the test.
	w, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.WriteString(strings.Repeat("not a database!\n", 4)); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.db")
	if err := os.Symlink(fifo, link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{fifo, link} {
		for _, open := range []func(context.Context, string) (*ledger.Store, error){ledger.Open, ledger.OpenExisting} {
			if _, err := open(context.Background(), p); err == nil || !strings.Contains(err.Error(), "is not a regular file") || !strings.Contains(err.Error(), p) {
				t.Errorf("%s: %v", p, err)
			}
		}
	}
	if st, err := os.Stat(fifo); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("the pipe's mode changed: %v %v", st.Mode(), err)
	}
}

// TestDigestWithinASecond: a question asked to the second finds the
// interval whose bounds a table printed to the second (they are stored to
// the microsecond), and is still not known when two digests were seen in
// that second.
func TestDigestWithinASecond(t *testing.T) {
	ms := time.Millisecond
	h := ledger.TagHistory{Intervals: []ledger.Interval{
		{Digest: dA, FirstSeen: t0.Add(500 * ms), LastSeen: t0.Add(time.Hour + 700*ms)},
		{Digest: dB, FirstSeen: t0.Add(2*time.Hour + 100*ms), LastSeen: t0.Add(2*time.Hour + 100*ms)},
		{Digest: dC, FirstSeen: t0.Add(2*time.Hour + 900*ms), LastSeen: t0.Add(3 * time.Hour)},
	}}
	for _, tc := range []struct {
		at     time.Time
		known  bool
		digest string
	}{
		{t0, true, dA},                // the printed first seen
		{t0.Add(time.Hour), true, dA}, // the printed last seen
		{t0.Add(time.Hour + time.Second), false, ""},
		{t0.Add(2 * time.Hour), false, ""}, // dB and dC both seen in that second
		{t0.Add(-time.Second), false, ""},
	} {
		a := h.DigestWithin(tc.at, time.Second)
		if a.Known != tc.known || a.Digest != tc.digest {
			t.Errorf("within the second of %s: %+v, want known=%v %s", tc.at, a, tc.known, tc.digest)
		}
	}
	// To the instant, the printed first seen is before the record.
	if a := h.DigestAt(t0); a.Known || a.After == nil || a.After.Digest != dA {
		t.Errorf("at the instant %s: %+v", t0, a)
	}
}

// TestImportedLifetimeEndingBeforeItStarts: a log entry whose end is
// before its start (a broken or hostile log) is not imported as an
// interval no question could ever fall in.
func TestImportedLifetimeEndingBeforeItStarts(t *testing.T) {
	s := open(t, "sqlite:"+filepath.Join(t.TempDir(), "l.db"))
	ctx := context.Background()
	rec := s.Record(ledger.RecordOptions{Now: (&clock{t0}).now})
	repo := ledger.Repo{Provider: "harbor", Scope: "library", Repository: "nginx"}
	if err := rec.Tag(ctx, repo, providers.Tag{Name: "v1", Digest: dA, Pushed: t0.Add(-time.Hour), Ended: t0.Add(-2 * time.Hour), Source: "harbor-auditlog"}); err != nil {
		t.Fatal(err)
	}
	if err := rec.Finish(ctx, true); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM ledger_intervals`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("intervals = %d, %v; want none", n, err)
	}
}

// TestReplicasReportAMoveOnce: two replicas see the same tag move at the
// same moment; the one whose transaction closes the old interval reports
// the overwrite, and the other, which waited for it, does not report it a
// second time (immutag_tag_overwrites_total would count it twice).
func TestReplicasReportAMoveOnce(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		if strings.HasPrefix(dsn, "sqlite:") {
			return // one writer at a time: the second sees the move recorded
		}
		s := open(t, dsn)
		ctx := context.Background()
		scan(t, s, &clock{t0}, map[string]string{"v1": dA}, nil)
		// Replica A records the move and has not committed yet.
		tx, err := s.DB().BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, `UPDATE ledger_intervals SET is_open = 0 WHERE tag = 'v1' AND is_open = 1`); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO ledger_intervals (provider, scope, repository, tag, digest, first_seen, last_seen, source, is_open)
			VALUES ('ecr-prod', '123/eu-west-1', 'team/app', 'v1', $1, $2, $2, 'scan', 1)`, dB, t0.Add(time.Hour).UnixMicro()); err != nil {
			t.Fatal(err)
		}
		var pid int
		if err := tx.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
			t.Fatal(err)
		}
		// Replica B lists the same move.
		var ow []ledger.Overwrite
		done := make(chan error, 1)
		go func() {
			repo := ledger.Repo{Provider: "ecr-prod", Scope: "123/eu-west-1", Repository: "team/app"}
			rec := s.Record(ledger.RecordOptions{Now: (&clock{t0.Add(time.Hour)}).now, OnOverwrite: func(o ledger.Overwrite) { ow = append(ow, o) }})
			if err := rec.Tag(ctx, repo, providers.Tag{Name: "v1", Digest: dB}); err != nil {
				done <- err
				return
			}
			done <- rec.Finish(ctx, true)
		}()
		for {
			var blocked bool
			if err := s.DB().QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid)))`, pid).Scan(&blocked); err != nil {
				t.Fatal(err)
			}
			if blocked {
				break
			}
			select {
			case err := <-done:
				t.Fatalf("replica B finished (%v) while A's move was uncommitted", err)
			case <-time.After(10 * time.Millisecond): // poll interval, not an assertion
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if len(ow) != 0 {
			t.Errorf("replica B reported the move replica A recorded: %+v", ow)
		}
		h := history(t, s, "team/app:v1")
		if digests(h) != "a,b" || !h.Intervals[1].Current {
			t.Errorf("intervals after both replicas: %+v", h.Intervals)
		}
	})
}

// TestTagListedTwiceAcrossPages: a registry that lists a tag on two pages
// (pagination shifting under a push) leaves one interval and no overwrite,
// whether both sightings land in one batch or in two.
func TestTagListedTwiceAcrossPages(t *testing.T) {
	for _, batch := range []int{1, 1000} {
		s := open(t, "sqlite:"+filepath.Join(t.TempDir(), "l.db"))
		ctx := context.Background()
		c := &clock{t0}
		var ow []ledger.Overwrite
		for range 2 {
			rec := s.Record(ledger.RecordOptions{Now: c.now, BatchSize: batch, OnOverwrite: func(o ledger.Overwrite) { ow = append(ow, o) }})
			repo := ledger.Repo{Provider: "ecr-prod", Scope: "123/eu-west-1", Repository: "team/app"}
			for _, tg := range []string{"v1", "v2", "v1"} {
				if err := rec.Tag(ctx, repo, providers.Tag{Name: tg, Digest: dA}); err != nil {
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
		if h := history(t, s, "team/app:v1"); len(h.Intervals) != 1 || !h.Intervals[0].Current || len(ow) != 0 {
			t.Errorf("batch %d: v1 = %+v, overwrites %+v", batch, h.Intervals, ow)
		}
	}
}
