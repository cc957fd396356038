package cli

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/immutag/immutag/internal/audit"
	"github.com/immutag/immutag/internal/ledger"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/fake"
	"github.com/immutag/immutag/internal/testutil/moto"
	"github.com/immutag/immutag/internal/testutil/pgtest"
)

// ledgerEngines runs f with a --ledger DSN for SQLite and for PostgreSQL.
func ledgerEngines(t *testing.T, f func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) { f(t, filepath.Join(t.TempDir(), "ledger.db")) })
	t.Run("postgres", func(t *testing.T) { f(t, pgtest.Start(t).NewDatabase(t)) })
}

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// manifest is a distinct image manifest per seed, as docker would push.
func manifest(seed string) string {
	cfg, layer := sha256.Sum256([]byte("config "+seed)), sha256.Sum256([]byte("layer "+seed))
	return fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":7023,"digest":"sha256:%x"},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":32654,"digest":"sha256:%x"}]}`, cfg, layer)
}

type reportWithOverwrites struct {
	Summary    audit.Summary
	Overwrites []audit.Overwrite
	Warnings   []struct{ Code, Message string }
}

// TestLedgerMotoOverwrite: put-image of two manifests under one tag in a
// MUTABLE repository (moto, an independent ECR) shows up as an overwrite in
// the report, in history --moved, and history --at answers what the tag
// named before it was overwritten.
func TestLedgerMotoOverwrite(t *testing.T) {
	ledgerEngines(t, func(t *testing.T, dsn string) {
		url := moto.Server(t)
		awsEnv(t, url)
		c := ecr.New(ecr.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), HTTPClient: moto.HTTPClient(),
			Credentials: credentials.NewStaticCredentialsProvider(testAccessKey, testSecretKey, "")})
		ctx := t.Context()
		for name, m := range map[string]types.ImageTagMutability{"team/app": types.ImageTagMutabilityMutable, "team/locked": types.ImageTagMutabilityImmutable} {
			if _, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(name), ImageTagMutability: m}); err != nil {
				t.Fatal(err)
			}
		}
		put := func(repo, tag, seed string) string {
			t.Helper()
			out, err := c.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String(repo), ImageTag: aws.String(tag), ImageManifest: aws.String(manifest(seed))})
			if err != nil {
				t.Fatalf("put-image %s:%s: %v", repo, tag, err)
			}
			return aws.ToString(out.Image.ImageId.ImageDigest)
		}
		first := put("team/app", "prod", "build-1")
		put("team/app", "v1", "build-1")
		put("team/locked", "latest", "locked-1")
		cfg := ecrConfig(t, url)
		clock := &testClock{t: time.Date(2026, 9, 1, 13, 0, 0, 0, time.UTC)}
		newF := func() *Factory { f := testFactory(t); f.Now = clock.Now; return f }

		r := run(t, newF(), "", "audit", "--config", cfg, "--ledger", dsn, "--record", "--fail-on-overwrite", "-o", "json")
		if r.code != CodeOK {
			t.Fatalf("first recording: exit %d %v\n%s", r.code, r.err, r.stderr)
		}
		validateReport(t, []byte(r.stdout))
		var rep reportWithOverwrites
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || len(rep.Overwrites) != 0 {
			t.Fatalf("first recording reports overwrites: %+v %v", rep.Overwrites, err)
		}
		floating := false
		for _, w := range rep.Warnings {
			floating = floating || (w.Code == "floating-tag-frozen" && strings.Contains(w.Message, "team/locked:latest is frozen"))
		}
		if !floating {
			t.Errorf("no floating-tag warning for latest in the immutable team/locked: %+v", rep.Warnings)
		}

		clock.Add(2 * time.Hour) // 15:00
		second := put("team/app", "prod", "build-2")
		if second == first {
			t.Fatal("moto gave both manifests one digest")
		}
		clock.Add(time.Hour) // 16:00
		r = run(t, newF(), "", "audit", "--config", cfg, "--ledger", dsn, "--record", "--fail-on-overwrite", "-o", "json")
		if r.code != CodeDrift {
			t.Fatalf("--fail-on-overwrite after an overwrite: exit %d %v\n%s", r.code, r.err, r.stderr)
		}
		validateReport(t, []byte(r.stdout))
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatal(err)
		}
		if len(rep.Overwrites) != 1 {
			t.Fatalf("overwrites = %+v, want prod only", rep.Overwrites)
		}
		o := rep.Overwrites[0]
		if o.Repository != "team/app" || o.Tag != "prod" || o.Previous != first || o.Digest != second || o.Immutable ||
			!o.LastSeenAt.Equal(time.Date(2026, 9, 1, 13, 0, 0, 0, time.UTC)) || o.Provider != "aws" {
			t.Fatalf("overwrite = %+v", o)
		}

		// What did prod name at 14:00, before it was overwritten?
		r = run(t, newF(), "", "history", "--ledger", dsn, "aws/team/app:prod", "--at", "2026-09-01T13:00:00Z", "-o", "json")
		if r.code != CodeOK {
			t.Fatalf("history: exit %d %v", r.code, r.err)
		}
		var hs []struct {
			ledger.Key
			Intervals []ledger.Interval `json:"intervals"`
			DigestAt  *ledger.At        `json:"digest_at"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &hs); err != nil {
			t.Fatalf("%v\n%s", err, r.stdout)
		}
		if len(hs) != 1 || len(hs[0].Intervals) != 2 || hs[0].Intervals[0].Digest != first || hs[0].Intervals[1].Digest != second ||
			hs[0].DigestAt == nil || !hs[0].DigestAt.Known || hs[0].DigestAt.Digest != first || hs[0].Scope != moto.Account+"/us-east-1" {
			t.Fatalf("history = %s", r.stdout)
		}
		// Between the two scans the ledger cannot know.
		r = run(t, newF(), "", "history", "--ledger", dsn, "team/app:prod", "--at", "2026-09-01T14:30:00Z", "-o", "table")
		if r.code != CodeOK || !strings.Contains(r.stdout, "not known at that time") || !strings.Contains(r.stdout, "last seen before: "+first) ||
			!strings.Contains(r.stdout, "next seen: "+second) {
			t.Fatalf("history in the gap: exit %d %v\n%s", r.code, r.err, r.stdout)
		}
		r = run(t, newF(), "", "history", "--ledger", dsn, "--moved", "--since", "1d", "-o", "csv")
		rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
		if r.code != CodeOK || err != nil || len(rows) != 2 || rows[1][2] != "team/app" || rows[1][3] != "prod" || rows[1][4] != first || rows[1][7] != second {
			t.Fatalf("--moved csv: exit %d %v %v\n%s", r.code, r.err, err, r.stdout)
		}
		r = run(t, newF(), "", "history", "--ledger", dsn, "--digest", first, "-o", "json")
		if r.code != CodeOK || !strings.Contains(r.stdout, `"tag": "v1"`) || !strings.Contains(r.stdout, `"tag": "prod"`) {
			t.Fatalf("--digest: exit %d %v\n%s", r.code, r.err, r.stdout)
		}
	})
}

func TestHistoryInputErrors(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "l.db")
	empty, err := ledger.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	empty.Close()
	missing := filepath.Join(t.TempDir(), "sub", "none.db")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"history", "--ledger", dsn}, "exactly one of"},
		{[]string{"history", "--ledger", dsn, "app:v1", "--moved"}, "exactly one of"},
		{[]string{"history", "--ledger", dsn, "app:v1", "--at", "yesterday"}, "--at \"yesterday\""},
		{[]string{"history", "--ledger", dsn, "--moved", "--since", "soon"}, "--since \"soon\""},
		{[]string{"history", "--ledger", dsn, "app"}, "not [PROVIDER/]REPOSITORY:TAG"},
		{[]string{"history", "--ledger", dsn, "app:v1"}, "no record of this tag"},
		{[]string{"history", "--ledger", "postgres://u:hunter2@127.0.0.1:1/x", "app:v1"}, "ledger.dsn_env"},
		{[]string{"history", "--ledger", dsn, "app:v1", "-o", "sarif"}, "table, json or csv"},
		{[]string{"history", "--ledger", missing, "app:v1"}, "no ledger at " + missing + " (from --ledger)"},
		{[]string{"history", "--ledger", "sqlite:" + missing, "--moved"}, "no ledger at " + missing},
	} {
		r := run(t, testFactory(t), "", tc.args...)
		if r.code != CodeError || r.err == nil || !strings.Contains(r.err.Error(), tc.want) || strings.Contains(r.err.Error(), "hunter2") {
			t.Errorf("%v: exit %d, err %v; want exit 1 mentioning %q", tc.args, r.code, r.err, tc.want)
		}
	}
}

// TestHistoryNeverCreatesALedger: a question asked where no ledger was ever
// recorded (a mistyped --ledger, a machine that never ran --record) is an
// error saying so, and leaves no file or directory behind.
func TestHistoryNeverCreatesALedger(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	f := testFactory(t)
	f.Getenv = func(k string) string {
		if k == "XDG_STATE_HOME" {
			return state
		}
		return ""
	}
	for _, args := range [][]string{{"history", "app:v1"}, {"history", "--moved"}, {"history", "--digest", "sha256:" + strings.Repeat("a", 64)}} {
		r := run(t, f, "", args...)
		if r.code != CodeError || r.err == nil || !strings.Contains(r.err.Error(), "no ledger at "+filepath.Join(state, "immutag", "ledger.db")+" (the default location)") {
			t.Errorf("%v: exit %d, err %v", args, r.code, r.err)
		}
	}
	if _, err := os.Stat(state); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("history created %s: %v", state, err)
	}
}

func TestParseWhenLocal(t *testing.T) {
	loc := time.FixedZone("CEST", 2*3600)
	got, err := parseWhen("2026-09-01 15:00", loc)
	if err != nil || !got.Equal(time.Date(2026, 9, 1, 13, 0, 0, 0, time.UTC)) {
		t.Fatalf("local 15:00 CEST = %v, %v", got, err)
	}
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	if s, err := parseSince("90d", now, loc); err != nil || !s.Equal(now.Add(-90*24*time.Hour)) {
		t.Fatalf("90d = %v, %v", s, err)
	}
	_ = context.Background
}

// TestFloatingWarningWithoutDigestOrWithSkew: the frozen-latest warning
// never prints an empty digest or a negative age.
func TestFloatingWarningWithoutDigestOrWithSkew(t *testing.T) {
	now := time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC)
	tr := &tagRecorder{floating: []string{"latest"}, now: func() time.Time { return now }}
	r := providers.Repository{Provider: "hub", Scope: "acme", Name: "acme/web", Immutability: imm(providers.ModeImmutable)}
	for _, tg := range []providers.Tag{
		{Name: "latest", Pushed: now.Add(-36 * time.Hour)},
		{Name: "latest", Digest: "sha256:aaaa", Pushed: now.Add(72 * time.Hour)},
	} {
		var got []providers.Warning
		tr.checkFloating(r, tg, func(w providers.Warning) { got = append(got, w) })
		if len(got) != 1 {
			t.Fatalf("%+v: %d warnings", tg, len(got))
		}
		m := got[0].Message
		if strings.Contains(m, "so  (") || strings.Contains(m, ", -") {
			t.Errorf("%+v: %s", tg, m)
		}
		if tg.Digest == "" && (!strings.Contains(m, "digest the listing did not give") || !strings.Contains(m, "2026-08-31, 1 day ago")) {
			t.Errorf("no digest: %s", m)
		}
		if tg.Digest != "" && !strings.Contains(m, "later than this machine's clock") {
			t.Errorf("pushed in the future: %s", m)
		}
	}
}

// hostileLedger records tags whose names a hostile or broken registry
// could list: ANSI escapes, a carriage return, a tab, a spreadsheet formula.
func hostileLedger(t *testing.T) string {
	t.Helper()
	dsn := filepath.Join(t.TempDir(), "hostile.db")
	s, err := ledger.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	clock := &testClock{t: time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC)}
	for _, d := range []string{"sha256:" + strings.Repeat("a", 64), "sha256:" + strings.Repeat("b", 64)} {
		rec := s.Record(ledger.RecordOptions{Now: clock.Now})
		repo := ledger.Repo{Provider: "reg", Scope: "acme", Repository: "=HYPERLINK(\"evil.example\")"}
		for _, tag := range []string{"\x1b[2J\x1b[31mprod", "v1\rFAKE", "a\tb", "@SUM(1)"} {
			if err := rec.Tag(t.Context(), repo, providers.Tag{Name: tag, Digest: d}); err != nil {
				t.Fatal(err)
			}
		}
		if err := rec.Finish(t.Context(), true); err != nil {
			t.Fatal(err)
		}
		clock.Add(time.Hour)
	}
	return dsn
}

// TestHistoryHostileNames: tag and repository names from a registry never
// reach the terminal as control characters (table), and never run as a
// formula in a spreadsheet (CSV); JSON keeps them exact.
func TestHistoryHostileNames(t *testing.T) {
	dsn := hostileLedger(t)
	for _, args := range [][]string{
		{"history", "--ledger", dsn, "--moved", "-o", "table"},
		{"history", "--ledger", dsn, "--moved", "-o", "csv"},
		{"history", "--ledger", dsn, "--digest", "sha256:" + strings.Repeat("a", 64), "-o", "table"},
		{"history", "--ledger", dsn, "--digest", "sha256:" + strings.Repeat("a", 64), "-o", "csv"},
	} {
		r := run(t, testFactory(t), "", args...)
		if r.code != CodeOK {
			t.Fatalf("%v: exit %d %v", args, r.code, r.err)
		}
		if strings.ContainsAny(r.stdout, "\x1b\r") || !strings.Contains(r.stdout, `\x1b[2J`) {
			t.Errorf("%v prints control characters or drops the name:\n%q", args, r.stdout)
		}
		if args[len(args)-1] == "csv" {
			rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
			if err != nil || len(rows) < 2 {
				t.Fatalf("%v: %v\n%s", args, err, r.stdout)
			}
			for _, row := range rows[1:] {
				for _, c := range row {
					if c != "" && strings.ContainsRune("=+-@\t", rune(c[0])) {
						t.Errorf("%v: a cell a spreadsheet runs: %q", args, c)
					}
				}
			}
		} else if strings.Contains(r.stdout, "a\tb") {
			t.Errorf("%v: a tab inside a name shifts the columns:\n%s", args, r.stdout)
		}
	}
	r := run(t, testFactory(t), "", "history", "--ledger", dsn, "--digest", "sha256:"+strings.Repeat("a", 64), "-o", "json")
	if r.code != CodeOK || !strings.Contains(r.stdout, `"tag": "\u001b[2J\u001b[31mprod"`) {
		t.Errorf("JSON changed the name: %s", r.stdout)
	}
}

// TestHistoryTimeAndDigestInputs: times a demanding user types, and
// digests pasted short or in upper case, are either answered for the one
// instant or digest they mean or refused naming the flag, never guessed.
func TestHistoryTimeAndDigestInputs(t *testing.T) {
	dsn := hostileLedger(t)
	long := strings.Repeat("a", 64)
	f := func() *Factory {
		f := testFactory(t)
		f.Now = func() time.Time { return time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC) }
		return f
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--moved", "--digest", "sha256:" + long}, "--moved and --digest cannot be combined"},
		{[]string{"app:v1", "--moved"}, `REPOSITORY:TAG ("app:v1") and --moved cannot be combined`},
		{[]string{"app:v1", "--at", "2027-01-01"}, `--at "2027-01-01" is in the future`},
		{[]string{"--moved", "--since", "2027-01-01T00:00:00Z"}, `--since "2027-01-01T00:00:00Z" is in the future`},
		{[]string{"--moved", "--since", "999999999d"}, `--since "999999999d": more than 100 years back`},
		{[]string{"--moved", "--since", "99999999w"}, `--since "99999999w": more than 100 years back`},
		{[]string{"--digest", "sha256:4f1c"}, "a sha256 digest has 64 hex digits, this has 4"},
		{[]string{"--digest", "md5:" + long}, "md5 is not a digest algorithm"},
		{[]string{"--digest", "sha256:" + strings.Repeat("g", 64)}, "must be hexadecimal"},
		{[]string{"--digest", ":" + long}, "want ALGORITHM:HEX"},
	} {
		r := run(t, f(), "", append([]string{"history", "--ledger", dsn}, tc.args...)...)
		if r.code != CodeError || r.err == nil || !strings.Contains(r.err.Error(), tc.want) {
			t.Errorf("%v: exit %d, err %v; want %q", tc.args, r.code, r.err, tc.want)
		}
	}
	// The digest as some tools print it, in upper case, is the same digest.
	r := run(t, f(), "", "history", "--ledger", dsn, "--digest", "SHA256:"+strings.ToUpper(long), "-o", "json")
	if r.code != CodeOK || !strings.Contains(r.stdout, `"digest": "sha256:`+long+`"`) {
		t.Errorf("upper-case digest: exit %d %v\n%s", r.code, r.err, r.stdout)
	}
	// RFC 3339 allows a lower-case t and z.
	r = run(t, f(), "", "history", "--ledger", dsn, "reg/=HYPERLINK(\"evil.example\"):a\tb", "--at", "2026-09-01t12:30:00z", "-o", "json")
	if r.code != CodeOK || !strings.Contains(r.stdout, `"at": "2026-09-01T12:30:00Z"`) {
		t.Errorf("lower-case RFC 3339: exit %d %v\n%s", r.code, r.err, r.stdout)
	}
}

// TestParseWhenAcrossDaylightSaving: a local time the clocks skipped, or
// went through twice, is refused with the instants it could mean, in
// Berlin and New York; the hours around the change are read exactly.
func TestParseWhenAcrossDaylightSaving(t *testing.T) {
	for _, tc := range []struct {
		zone, at, want, err string
	}{
		{"Europe/Berlin", "2026-03-29 02:30", "", "skipped that local time"},
		{"Europe/Berlin", "2026-03-29 03:30", "2026-03-29T01:30:00Z", ""},
		{"Europe/Berlin", "2026-03-29 01:30", "2026-03-29T00:30:00Z", ""},
		{"Europe/Berlin", "2026-10-25 02:30", "", "give 2026-10-25T02:30:00+02:00 or 2026-10-25T02:30:00+01:00"},
		{"Europe/Berlin", "2026-10-25 03:30", "2026-10-25T02:30:00Z", ""},
		{"Europe/Berlin", "2026-10-25", "2026-10-24T22:00:00Z", ""},
		{"America/New_York", "2026-03-08 02:15", "", "skipped that local time"},
		{"America/New_York", "2026-11-01 01:30", "", "give 2026-11-01T01:30:00-04:00 or 2026-11-01T01:30:00-05:00"},
		{"America/New_York", "2026-11-01 00:59:59", "2026-11-01T04:59:59Z", ""},
		{"America/New_York", "2026-07-04T12:00", "2026-07-04T16:00:00Z", ""},
	} {
		loc, err := time.LoadLocation(tc.zone)
		if err != nil {
			t.Fatal(err)
		}
		got, err := parseWhen(tc.at, loc)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), tc.zone) {
				t.Errorf("%s %s = %v, %v; want an error with %q", tc.zone, tc.at, got, err, tc.err)
			}
		case err != nil || got.UTC().Format(time.RFC3339) != tc.want:
			t.Errorf("%s %s = %v, %v; want %s", tc.zone, tc.at, got.UTC(), err, tc.want)
		}
	}
}

// TestHistoryAtATimeCopiedFromTheTable: the first and last seen the table
// prints (to the second) answer --at with the digest of that row.
func TestHistoryAtATimeCopiedFromTheTable(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "l.db")
	s, err := ledger.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	clock := &testClock{t: time.Date(2026, 9, 1, 12, 0, 0, 500_000_000, time.UTC)}
	digest := "sha256:" + strings.Repeat("a", 64)
	for range 2 {
		rec := s.Record(ledger.RecordOptions{Now: clock.Now})
		if err := rec.Tag(t.Context(), ledger.Repo{Provider: "reg", Scope: "acme", Repository: "app"}, providers.Tag{Name: "v1", Digest: digest}); err != nil {
			t.Fatal(err)
		}
		if err := rec.Finish(t.Context(), true); err != nil {
			t.Fatal(err)
		}
		clock.Add(time.Hour + 200*time.Millisecond)
	}
	s.Close()
	f := func() *Factory { f := testFactory(t); f.Now = clock.Now; return f }
	r := run(t, f(), "", "history", "--ledger", dsn, "app:v1", "-o", "table")
	row := regexp.MustCompile(`(?m)^\s+` + digest + `\s+(\S+)\s+(\S+)`).FindStringSubmatch(r.stdout)
	if r.code != CodeOK || row == nil {
		t.Fatalf("table: exit %d %v\n%s", r.code, r.err, r.stdout)
	}
	for _, at := range row[1:] {
		r := run(t, f(), "", "history", "--ledger", dsn, "app:v1", "--at", at, "-o", "table")
		if r.code != CodeOK || !strings.Contains(r.stdout, "at "+at+": "+digest) {
			t.Errorf("--at %s copied from the table: exit %d %v\n%s", at, r.code, r.err, r.stdout)
		}
	}
}

// TestLedgerWithoutRecordIsRefused: --ledger on audit or serve without
// --record (or serve's --leader-election) would record nothing, silently.
func TestLedgerWithoutRecordIsRefused(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "l.db")
	p := fake.New("a", providers.KindECR).Add("s1", fake.Repo{Name: "ok", Immutability: imm(providers.ModeImmutable)})
	r := run(t, fakeFactory(t, p), "", "audit", "--ledger", dsn)
	if r.code != CodeError || r.err == nil || !strings.Contains(r.err.Error(), "--ledger goes with --record") {
		t.Errorf("audit --ledger: exit %d %v", r.code, r.err)
	}
	f := fakeFactory(t, p)
	f.Ledger = dsn // the root command's persistent flag
	served := false
	cmd := NewCmdServe(f, func(context.Context, *ServeOptions) error { served = true; return nil })
	cmd.SetArgs([]string{"--listen", "127.0.0.1:0"})
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	if err := cmd.ExecuteContext(t.Context()); served || err == nil || !strings.Contains(err.Error(), "--ledger goes with --record") {
		t.Errorf("serve --ledger: served %v, %v", served, err)
	}
	if _, err := os.Stat(dsn); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a ledger was created: %v", err)
	}
}

// TestFloatingTagFrozenBySetting: the frozen-tag warning follows what the
// repository's setting does to that tag, ECR's exclusion modes included
// (IMMUTABLE_WITH_EXCLUSION is reported as partial, and used to get no
// warning at all), and reads policy patterns as the policy does ("*" only:
// "rc-[0-9]" is a literal tag name there, not a character class).
func TestFloatingTagFrozenBySetting(t *testing.T) {
	now := time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC)
	tr := &tagRecorder{floating: []string{"latest", "rc-[0-9]", "edge-*"}, now: func() time.Time { return now }}
	ecr := func(mode providers.Mode, mutable, immutable []string) providers.Repository {
		return providers.Repository{Provider: "aws", Kind: providers.KindECR, Scope: "1/eu-west-1", Name: "app",
			Immutability: providers.Immutability{Mode: mode, MutablePatterns: mutable, ImmutablePatterns: immutable}}
	}
	for _, c := range []struct {
		name string
		r    providers.Repository
		tag  string
		want bool
	}{
		{"immutable", ecr(providers.ModeImmutable, nil, nil), "latest", true},
		{"immutable, latest excluded", ecr(providers.ModeImmutable, []string{"lat*"}, nil), "latest", false},
		{"IMMUTABLE_WITH_EXCLUSION not covering latest", ecr(providers.ModePartial, []string{"dev-*"}, nil), "latest", true},
		{"IMMUTABLE_WITH_EXCLUSION covering latest", ecr(providers.ModePartial, []string{"latest"}, nil), "latest", false},
		{"MUTABLE_WITH_EXCLUSION naming edge-*", ecr(providers.ModePartial, []string{"*"}, []string{"edge-*"}), "edge-2", true},
		{"MUTABLE_WITH_EXCLUSION naming v*", ecr(providers.ModePartial, []string{"*"}, []string{"v*"}), "latest", false},
		{"mutable", ecr(providers.ModeMutable, nil, nil), "latest", false},
		{"unknown", ecr(providers.ModeUnknown, nil, nil), "latest", false},
		{"policy pattern is literal", ecr(providers.ModeImmutable, nil, nil), "rc-[0-9]", true},
		{"policy pattern is not a class", ecr(providers.ModeImmutable, nil, nil), "rc-1", false},
		{"not floating", ecr(providers.ModeImmutable, nil, nil), "v1.2.3", false},
		{"another registry's partial rules are not guessed", providers.Repository{Provider: "hb", Kind: providers.KindHarbor, Name: "p/app",
			Immutability: providers.Immutability{Mode: providers.ModePartial, ImmutablePatterns: []string{"**"}}}, "latest", false},
	} {
		var got []providers.Warning
		tr.checkFloating(c.r, providers.Tag{Name: c.tag, Digest: "sha256:aaaa", Pushed: now.Add(-48 * time.Hour)}, func(w providers.Warning) { got = append(got, w) })
		if (len(got) == 1) != c.want || len(got) > 1 {
			t.Errorf("%s: %s: %d warnings, want frozen=%v: %+v", c.name, c.tag, len(got), c.want, got)
		}
		if frozen(c.r, c.tag) != (c.want || (c.tag == "v1.2.3" || c.tag == "rc-1") && c.r.Mode == providers.ModeImmutable) {
			t.Errorf("%s: frozen(%s) = %v", c.name, c.tag, frozen(c.r, c.tag))
		}
	}
}

// TestRecordedReportSaysNoOverwrites: a recorded audit that found no
// overwrite says so with "overwrites": [] (the ledger was asked), which an
// audit without --record does not claim; report merge keeps the difference.
func TestRecordedReportSaysNoOverwrites(t *testing.T) {
	p := fake.New("a", providers.KindECR).Add("s1", fake.Repo{Name: "ok", Immutability: imm(providers.ModeImmutable)}).
		Add("s2", fake.Repo{Name: "ok2", Immutability: imm(providers.ModeImmutable)})
	members := func(t *testing.T, b []byte) map[string]json.RawMessage {
		t.Helper()
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%v\n%s", err, b)
		}
		return m
	}
	dir, ledgerDSN := t.TempDir(), filepath.Join(t.TempDir(), "l.db")
	var plain, recorded []string
	for i := range 2 {
		shard := fmt.Sprintf("%d/2", i)
		out := filepath.Join(dir, fmt.Sprintf("plain%d.json", i))
		if r := run(t, fakeFactory(t, p), "", "audit", "--shard", shard, "-o", "json", "--output", out); r.code != CodeOK {
			t.Fatalf("audit: exit %d %v", r.code, r.err)
		}
		b, _ := os.ReadFile(out)
		if ow, ok := members(t, b)["overwrites"]; ok {
			t.Errorf("an audit without --record reports overwrites %s", ow)
		}
		plain = append(plain, out)
		out = filepath.Join(dir, fmt.Sprintf("recorded%d.json", i))
		if r := run(t, fakeFactory(t, p), "", "audit", "--shard", shard, "--record", "--ledger", ledgerDSN, "-o", "json", "--output", out); r.code != CodeOK {
			t.Fatalf("audit --record: exit %d %v\n%s", r.code, r.err, r.stderr)
		}
		b, _ = os.ReadFile(out)
		validateReport(t, b)
		if ow := members(t, b)["overwrites"]; string(ow) != "[]" {
			t.Errorf("audit --record with no overwrite: overwrites = %q, want []", ow)
		}
		recorded = append(recorded, out)
	}
	for _, c := range []struct {
		files []string
		want  bool
	}{{plain, false}, {recorded, true}} {
		r := run(t, testFactory(t), "", append([]string{"report", "merge", "-o", "json"}, c.files...)...)
		if r.code != CodeOK {
			t.Fatalf("report merge %v: exit %d %v", c.files, r.code, r.err)
		}
		if ow, ok := members(t, []byte(r.stdout))["overwrites"]; ok != c.want || ok && string(ow) != "[]" {
			t.Errorf("report merge of %v: overwrites %q present=%v, want present=%v", c.files, ow, ok, c.want)
		}
	}
	// A merge missing a shard names it as a scope of kind "shard", which
	// the schema allows.
	r := run(t, testFactory(t), "", "report", "merge", "-o", "json", recorded[0])
	if !strings.Contains(r.stdout, `"kind": "shard"`) {
		t.Fatalf("report merge without shard 1: exit %d %v\n%s", r.code, r.err, r.stdout)
	}
	validateReport(t, []byte(r.stdout))
}
