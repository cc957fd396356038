package cli

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	hubemu "github.com/immutag/immutag/internal/emulator/dockerhub"
	harboremu "github.com/immutag/immutag/internal/emulator/harbor"
	"github.com/immutag/immutag/internal/ledger"
	"github.com/immutag/immutag/internal/providers/dockerhub"
	"github.com/immutag/immutag/internal/providers/harbor"
)

// harborRecording is a Harbor emulator holding project apps, a config that
// names it, and factories whose environment holds its robot's credentials.
type harborRecording struct {
	s   *harboremu.Server
	cfg string
}

func newHarborRecording(t *testing.T) *harborRecording {
	t.Helper()
	s := harboremu.New(harboremu.Options{Username: "robot$t", Password: "pw"})
	sWeb := httptest.NewServer(s.Handler())
	t.Cleanup(sWeb.Close)
	s.AddProject("apps", false)
	cfg := filepath.Join(t.TempDir(), "immutag.yaml")
	body := "version: 1\nproviders:\n  - name: hb\n    kind: harbor\n    endpoint: " + sWeb.URL +
		"\n    projects: [apps]\n    credentials: {username_env: HB_USER, password_env: HB_PASS}\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return &harborRecording{s: s, cfg: cfg}
}

// factory runs commands at now (the test factory's own clock when zero).
func (h *harborRecording) factory(t *testing.T, now time.Time) *Factory {
	f := testFactory(t)
	if !now.IsZero() {
		f.Now = func() time.Time { return now }
	}
	env := map[string]string{"XDG_STATE_HOME": t.TempDir(), "HB_USER": "robot$t", "HB_PASS": "pw"}
	f.Getenv = func(k string) string { return env[k] }
	return f
}

// TestRecordImportsHarborAuditLog: audit --record imports the overwrite the
// audit log holds from before the first scan, with its source; with the log
// refused the audit still succeeds, warns once naming the provider, and the
// ledger holds only what the scan saw.
func TestRecordImportsHarborAuditLog(t *testing.T) {
	hr := newHarborRecording(t)
	s, cfg := hr.s, hr.cfg
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	old, cur := "sha256:"+strings.Repeat("a", 64), "sha256:"+strings.Repeat("b", 64)
	for _, p := range []struct {
		repo, dg string
		at       time.Time
	}{{"api", old, now.Add(-30 * 24 * time.Hour)}, {"api", cur, now.Add(-10 * 24 * time.Hour)}, {"web", cur, now.Add(-5 * 24 * time.Hour)}} {
		if err := s.SeedPush("apps", p.repo, "v1", p.dg, p.at); err != nil {
			t.Fatal(err)
		}
	}
	newF := func() *Factory { return hr.factory(t, time.Time{}) }
	type hist []struct {
		ledger.Key
		Intervals []ledger.Interval `json:"intervals"`
	}
	record := func(dsn string) (reportWithOverwrites, hist) {
		t.Helper()
		r := run(t, newF(), "", "audit", "--config", cfg, "--ledger", dsn, "--record", "-o", "json")
		if r.code != CodeOK {
			t.Fatalf("audit --record: exit %d %v\n%s", r.code, r.err, r.stderr)
		}
		var rep reportWithOverwrites
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatal(err)
		}
		r = run(t, newF(), "", "history", "--ledger", dsn, "hb/api:v1", "-o", "json")
		var h hist
		if err := json.Unmarshal([]byte(r.stdout), &h); r.code != CodeOK || err != nil || len(h) != 1 {
			t.Fatalf("history: exit %d %v %v\n%s", r.code, r.err, err, r.stdout)
		}
		return rep, h
	}

	rep, h := record(filepath.Join(t.TempDir(), "ledger.db"))
	iv := h[0].Intervals
	if len(iv) != 2 || iv[0].Digest != old || iv[0].Source != harbor.AuditLogSource || iv[0].Current ||
		!iv[0].FirstSeen.Equal(now.Add(-30*24*time.Hour)) || !iv[0].LastSeen.Equal(now.Add(-10*24*time.Hour)) ||
		iv[1].Digest != cur || iv[1].Source != harbor.AuditLogSource || !iv[1].Current || !iv[1].FirstSeen.Equal(now.Add(-10*24*time.Hour)) {
		t.Fatalf("intervals after the first recording = %+v (want the current one since its push, dated by the log)", iv)
	}
	for _, w := range rep.Warnings {
		if strings.HasPrefix(w.Code, "history-") {
			t.Errorf("warning with a readable log: %+v", w)
		}
	}

	s.DenyAuditLog(true)
	rep, h = record(filepath.Join(t.TempDir(), "ledger.db"))
	if iv := h[0].Intervals; len(iv) != 1 || iv[0].Digest != cur || iv[0].Source != ledger.SourceScan {
		t.Fatalf("intervals with the log refused = %+v", iv)
	}
	n := 0
	for _, w := range rep.Warnings {
		if w.Code == "history-not-imported" {
			n++
			if !strings.Contains(w.Message, "hb (harbor)") {
				t.Errorf("warning does not name the provider: %s", w.Message)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d history-not-imported warnings for two repositories, want 1: %+v", n, rep.Warnings)
	}
}

// TestRecordImportsDockerHubAuditLog: the same on Docker Hub, where the
// audit log needs a Team or Business plan.
func TestRecordImportsDockerHubAuditLog(t *testing.T) {
	s := hubemu.New(hubemu.Options{})
	s.AddAccount(hubemu.Account{Identifier: "acme", Secret: "dckr_oat_test", Admin: true})
	sWeb := httptest.NewServer(s.Handler())
	t.Cleanup(sWeb.Close)
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	old, cur := "sha256:"+strings.Repeat("a", 64), "sha256:"+strings.Repeat("b", 64)
	if err := s.AddRepository(hubemu.Repository{Namespace: "acme", Name: "web", Tags: map[string]string{}}); err != nil {
		t.Fatal(err)
	}
	for i, dg := range []string{old, cur} {
		if err := s.SeedPush("acme", "web", "v1", dg, now.Add(-time.Duration(30-20*i)*24*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(t.TempDir(), "immutag.yaml")
	body := "version: 1\nproviders:\n  - name: hub\n    kind: dockerhub\n    endpoint: " + sWeb.URL +
		"\n    namespaces: [acme]\n    credentials: {username_env: HUB_USER, token_env: HUB_TOKEN}\n    rate: {requests_per_second: 1000}\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	record := func() (reportWithOverwrites, []ledger.Interval) {
		t.Helper()
		f := testFactory(t)
		env := map[string]string{"XDG_STATE_HOME": t.TempDir(), "HUB_USER": "acme", "HUB_TOKEN": "dckr_oat_test"}
		f.Getenv = func(k string) string { return env[k] }
		dsn := filepath.Join(t.TempDir(), "ledger.db")
		r := run(t, f, "", "audit", "--config", cfg, "--ledger", dsn, "--record", "-o", "json")
		if r.code != CodeOK {
			t.Fatalf("audit --record: exit %d %v\n%s", r.code, r.err, r.stderr)
		}
		var rep reportWithOverwrites
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatal(err)
		}
		r = run(t, f, "", "history", "--ledger", dsn, "hub/web:v1", "-o", "json")
		var h []struct {
			Intervals []ledger.Interval `json:"intervals"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &h); r.code != CodeOK || err != nil || len(h) != 1 {
			t.Fatalf("history: exit %d %v %v\n%s", r.code, r.err, err, r.stdout)
		}
		return rep, h[0].Intervals
	}

	// Free plan: refused, one warning, only the scan's interval.
	rep, iv := record()
	if len(iv) != 1 || iv[0].Digest != cur || iv[0].Source != ledger.SourceScan {
		t.Fatalf("intervals without an audit-log plan = %+v", iv)
	}
	warned := false
	for _, w := range rep.Warnings {
		warned = warned || (w.Code == "history-not-imported" && strings.Contains(w.Message, "hub (dockerhub)"))
	}
	if !warned {
		t.Errorf("no history-not-imported warning naming the provider: %+v", rep.Warnings)
	}

	s.EnableAuditLog("acme")
	_, iv = record()
	if len(iv) != 2 || iv[0].Digest != old || iv[0].Source != dockerhub.AuditLogSource ||
		!iv[0].FirstSeen.Equal(now.Add(-30*24*time.Hour)) || !iv[0].LastSeen.Equal(now.Add(-10*24*time.Hour)) || iv[1].Digest != cur ||
		!iv[1].Current || !iv[1].FirstSeen.Equal(now.Add(-10*24*time.Hour)) || iv[1].Source != dockerhub.AuditLogSource {
		t.Fatalf("intervals with the audit log = %+v (want the current one since its push, dated by the log)", iv)
	}
}

// TestRecordImportsAuditLogIncrementally: a second audit --record on the
// same ledger reads only the new part of the audit log (one page, where
// the first read three) and still records the lifetime that the new push
// ended, with the log's own bounds; a fresh ledger reads the whole log.
func TestRecordImportsAuditLogIncrementally(t *testing.T) {
	hr := newHarborRecording(t)
	s, cfg := hr.s, hr.cfg
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	dg := func(i int) string { return fmt.Sprintf("sha256:%064x", i) }
	for i := range 250 {
		if err := s.SeedPush("apps", "api", "v1", dg(i), now.Add(time.Duration(i-250)*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	dsn := filepath.Join(t.TempDir(), "ledger.db")
	record := func(at time.Time, dsn string) (calls int64) {
		t.Helper()
		f := hr.factory(t, at)
		before := s.Calls().Get("getLogExts")
		if r := run(t, f, "", "audit", "--config", cfg, "--ledger", dsn, "--record", "-o", "json"); r.code != CodeOK {
			t.Fatalf("audit --record: exit %d %v\n%s", r.code, r.err, r.stderr)
		}
		return s.Calls().Get("getLogExts") - before
	}
	if n := record(now, dsn); n != 3 {
		t.Fatalf("first recording: %d audit-log calls, want 3 pages of 100", n)
	}
	for i, h := range []int{1, 2} {
		if err := s.SeedPush("apps", "api", "v1", dg(1000+i), now.Add(time.Duration(h)*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if n := record(now.Add(3*time.Hour), dsn); n != 1 {
		t.Errorf("second recording: %d audit-log calls, want 1 (only what is new)", n)
	}
	f := testFactory(t)
	r := run(t, f, "", "history", "--ledger", dsn, "hb/api:v1", "-o", "json")
	var h []struct {
		Intervals []ledger.Interval `json:"intervals"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &h); r.code != CodeOK || err != nil || len(h) != 1 {
		t.Fatalf("history: exit %d %v %v\n%s", r.code, r.err, err, r.stdout)
	}
	byDigest := map[string]ledger.Interval{}
	for _, iv := range h[0].Intervals {
		byDigest[iv.Digest] = iv
	}
	if iv := byDigest[dg(249)]; iv.Source != harbor.AuditLogSource || !iv.LastSeen.Equal(now.Add(time.Hour)) || iv.Current {
		t.Errorf("the lifetime the new push ended: %+v; want it closed at %v from %s", iv, now.Add(time.Hour), harbor.AuditLogSource)
	}
	if iv := byDigest[dg(1000)]; iv.Source != harbor.AuditLogSource || !iv.FirstSeen.Equal(now.Add(time.Hour)) || !iv.LastSeen.Equal(now.Add(2*time.Hour)) {
		t.Errorf("the lifetime between the two new pushes: %+v", iv)
	}
	if iv := byDigest[dg(1001)]; !iv.Current {
		t.Errorf("the current digest: %+v", iv)
	}
	if len(byDigest) != 252 {
		t.Errorf("%d digests in the history of api:v1, want 252", len(byDigest))
	}
	if n := record(now.Add(4*time.Hour), filepath.Join(t.TempDir(), "fresh.db")); n != 3 {
		t.Errorf("a fresh ledger: %d audit-log calls, want the whole log (3)", n)
	}
}

// TestMovedShowsEachDigestsSource: when the digest a tag left came from the
// registry's log and the new one from immutag's scan, --moved says so for
// both (the CSV and table gave only the new digest's source).
func TestMovedShowsEachDigestsSource(t *testing.T) {
	hr := newHarborRecording(t)
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	old, cur := "sha256:"+strings.Repeat("a", 64), "sha256:"+strings.Repeat("b", 64)
	if err := hr.s.SeedPush("apps", "api", "v1", old, now.Add(-10*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	dsn := filepath.Join(t.TempDir(), "ledger.db")
	if r := run(t, hr.factory(t, now), "", "audit", "--config", hr.cfg, "--ledger", dsn, "--record", "-o", "json"); r.code != CodeOK {
		t.Fatalf("first audit --record: exit %d %v\n%s", r.code, r.err, r.stderr)
	}
	hr.s.DenyAuditLog(true)
	if err := hr.s.SeedPush("apps", "api", "v1", cur, now.Add(30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if r := run(t, hr.factory(t, now.Add(time.Hour)), "", "audit", "--config", hr.cfg, "--ledger", dsn, "--record", "-o", "json"); r.code != CodeOK {
		t.Fatalf("second audit --record: exit %d %v\n%s", r.code, r.err, r.stderr)
	}
	r := run(t, hr.factory(t, now.Add(time.Hour)), "", "history", "--ledger", dsn, "--moved", "-o", "csv")
	rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if r.code != CodeOK || err != nil || len(rows) != 2 {
		t.Fatalf("--moved csv: exit %d %v %v\n%s", r.code, r.err, err, r.stdout)
	}
	col := map[string]string{}
	for i, h := range rows[0] {
		col[h] = rows[1][i]
	}
	if col["previous_digest"] != old || col["digest"] != cur || col["previous_source"] != harbor.AuditLogSource || col["source"] != ledger.SourceScan {
		t.Errorf("--moved csv row = %v", col)
	}
	r = run(t, hr.factory(t, now.Add(time.Hour)), "", "history", "--ledger", dsn, "--moved", "-o", "table")
	if want := harbor.AuditLogSource + " -> " + ledger.SourceScan; r.code != CodeOK || !strings.Contains(r.stdout, want) {
		t.Errorf("--moved table lacks %q: exit %d %v\n%s", want, r.code, r.err, r.stdout)
	}
}
