package harbor

import (
	"errors"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/testutil"
)

func TestTagHistoryFromAuditLog(t *testing.T) {
	e := setup(t, setupOpts{})
	e.s.AddProject("apps", false)
	t0 := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	dg := func(i int) string { return fmt.Sprintf("sha256:%064x", i) }
	// v1 moved 120 times, an hour apart; rc pushed once; a repository whose
	// name starts with this one's moves its own v1 in between.
	for i := range 121 {
		testutil.Must(t, e.s.SeedPush("apps", "team/api", "v1", dg(i), t0.Add(time.Duration(i)*time.Hour)))
		testutil.Must(t, e.s.SeedPush("apps", "team/api-extra", "v1", dg(1000+i), t0.Add(time.Duration(i)*time.Hour+time.Minute)))
	}
	testutil.Must(t, e.s.SeedPush("apps", "team/api", "rc", dg(5000), t0))
	before := e.s.Calls().Get("getLogExts")
	var got []providers.Tag
	_, err := e.p.TagHistory(t.Context(), providers.Repository{Scope: "apps", Name: "team/api"}, time.Time{}, func(tg providers.Tag) error {
		got = append(got, tg)
		return nil
	})
	testutil.Must(t, err)
	// The current lifetimes (v1 since its last push, rc) come open, for
	// their start; the other repository's are excluded.
	var past []providers.Tag
	current := map[string]string{}
	for _, tg := range got {
		if tg.Ended.IsZero() {
			current[tg.Name] = tg.Digest + "@" + tg.Pushed.Format(time.RFC3339)
		} else {
			past = append(past, tg)
		}
	}
	if want := map[string]string{"v1": dg(120) + "@" + t0.Add(120*time.Hour).Format(time.RFC3339), "rc": dg(5000) + "@" + t0.Format(time.RFC3339)}; !maps.Equal(current, want) {
		t.Errorf("current lifetimes %v, want %v", current, want)
	}
	if len(past) != 120 {
		t.Fatalf("%d past lifetimes, want 120", len(past))
	}
	for _, tg := range past {
		var i int
		if _, err := fmt.Sscanf(tg.Digest, "sha256:%x", &i); err != nil || i >= 120 || tg.Name != "v1" {
			t.Fatalf("lifetime %+v is not one of team/api's past v1 lifetimes", tg)
		}
		if tg.Source != AuditLogSource || !tg.Pushed.Equal(t0.Add(time.Duration(i)*time.Hour)) || !tg.Ended.Equal(tg.Pushed.Add(time.Hour)) {
			t.Fatalf("lifetime %d = %+v, want an hour from its push, source %s", i, tg, AuditLogSource)
		}
	}
	// 243 records match the fuzzy query: 3 pages of 100.
	if n := e.s.Calls().Get("getLogExts") - before; n != 3 {
		t.Errorf("%d audit-log calls, want 3 pages", n)
	}
}

func TestTagHistoryDeniedIsErrDenied(t *testing.T) {
	e := setup(t, setupOpts{})
	e.s.AddProject("apps", false)
	testutil.Must(t, e.s.AddRepo("apps", "api", "v1"))
	e.s.DenyAuditLog(true)
	n := 0
	_, err := e.p.TagHistory(t.Context(), providers.Repository{Scope: "apps", Name: "api"}, time.Time{}, func(providers.Tag) error { n++; return nil })
	if !errors.Is(err, providers.ErrDenied) || n != 0 {
		t.Fatalf("denied audit log: err %v, %d lifetimes; want ErrDenied and none", err, n)
	}
}

func TestReplayAuditRecords(t *testing.T) {
	var got []providers.Tag
	life := providers.NewLifetimes(AuditLogSource, time.Time{}, func(tg providers.Tag) error { got = append(got, tg); return nil })
	d1, d2 := "sha256:"+fmt.Sprintf("%064d", 1), "sha256:"+fmt.Sprintf("%064d", 2)
	recs := [][5]string{ // resource, type, operation, description, op_time; newest first
		{"p/app:v1", "tag", "delete", "delete tag: p/app:v1", "2026-06-01T05:00:00.000Z"},
		{"p/app:v2", "artifact", "create", "push artifact: p/app@" + d2, "2026-06-01T04:00:00.000Z"},
		{"p/app@" + d2, "artifact", "pull", "", "2026-06-01T03:30:00.000Z"},
		{"p/app:sha256:" + fmt.Sprintf("%064d", 9), "artifact", "delete", "", "2026-06-01T03:00:00.000Z"},
		{"p/app:v1", "artifact", "create", "push artifact: p/app@" + d1, "2026-06-01T01:00:00.000Z"},
		{"p/app-x:v1", "artifact", "create", "push artifact: p/app-x@" + d2, "2026-06-01T00:30:00.000Z"},
	}
	for _, r := range recs {
		testutil.Must(t, replay(life, "p/app", r[0], r[1], r[2], r[3], r[4]))
	}
	if len(got) != 2 || got[1].Name != "v1" || got[1].Digest != d1 || got[1].Ended.Hour() != 5 || got[1].Pushed.Hour() != 1 ||
		got[0].Name != "v2" || got[0].Digest != d2 || !got[0].Ended.IsZero() || got[0].Pushed.Hour() != 4 {
		t.Fatalf("lifetimes %+v, want v2 -> %s since 04:00, and v1 -> %s from 01:00 until its deletion at 05:00", got, d2, d1)
	}
}

// TestTagHistoryIncremental: an import from the newest event of the last
// one reads one page, not the whole log, and yields the lifetimes that
// ended since: the one current at the last import, and the new one.
func TestTagHistoryIncremental(t *testing.T) {
	e := setup(t, setupOpts{})
	e.s.AddProject("apps", false)
	dg := func(i int) string { return fmt.Sprintf("sha256:%064x", i) }
	t0 := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for i := range 250 {
		testutil.Must(t, e.s.SeedPush("apps", "api", "v1", dg(i), t0.Add(time.Duration(i)*time.Hour)))
	}
	repo := providers.Repository{Scope: "apps", Name: "api"}
	n := 0
	newest, err := e.p.TagHistory(t.Context(), repo, time.Time{}, func(providers.Tag) error { n++; return nil })
	testutil.Must(t, err)
	if last := t0.Add(249 * time.Hour); n != 250 || !newest.Equal(last) {
		t.Fatalf("first import: %d lifetimes, newest %v; want 249 past and the current one, %v", n, newest, last)
	}
	testutil.Must(t, e.s.SeedPush("apps", "api", "v1", dg(1000), t0.Add(250*time.Hour)))
	testutil.Must(t, e.s.SeedPush("apps", "api", "v1", dg(1001), t0.Add(251*time.Hour)))
	before := e.s.Calls().Get("getLogExts")
	var got []providers.Tag
	newest2, err := e.p.TagHistory(t.Context(), repo, newest, func(tg providers.Tag) error { got = append(got, tg); return nil })
	testutil.Must(t, err)
	if calls := e.s.Calls().Get("getLogExts") - before; calls != 1 {
		t.Errorf("second import: %d audit-log calls, want 1 page (a full read is 3)", calls)
	}
	if !newest2.Equal(t0.Add(251 * time.Hour)) {
		t.Errorf("second import: newest %v", newest2)
	}
	found := map[string]bool{}
	for _, tg := range got {
		found[tg.Digest+"@"+tg.Pushed.Format(time.RFC3339)+".."+tg.Ended.Format(time.RFC3339)] = true
	}
	for _, want := range []string{
		dg(249) + "@" + t0.Add(249*time.Hour).Format(time.RFC3339) + ".." + t0.Add(250*time.Hour).Format(time.RFC3339),
		dg(1000) + "@" + t0.Add(250*time.Hour).Format(time.RFC3339) + ".." + t0.Add(251*time.Hour).Format(time.RFC3339),
		dg(1001) + "@" + t0.Add(251*time.Hour).Format(time.RFC3339) + ".." + time.Time{}.Format(time.RFC3339),
	} {
		if !found[want] {
			t.Errorf("second import lacks %s: %v", want, found)
		}
	}
}
