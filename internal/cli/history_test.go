package cli

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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
		c := ecr.New(ecr.Options{Region: "us-east-1", BaseEndpoint: aws.String(url),
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
	r := providers.Repository{Provider: "hub", Scope: "acme", Name: "acme/web"}
	for _, tg := range []providers.Tag{
		{Name: "latest", Pushed: now.Add(-48 * time.Hour)},
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
		if tg.Digest == "" && !strings.Contains(m, "digest the listing did not give") {
			t.Errorf("no digest: %s", m)
		}
		if tg.Digest != "" && !strings.Contains(m, "later than this machine's clock") {
			t.Errorf("pushed in the future: %s", m)
		}
	}
}
