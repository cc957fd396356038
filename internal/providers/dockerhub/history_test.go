package dockerhub_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/emulator"
	hubemu "github.com/immutag/immutag/internal/emulator/dockerhub"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/dockerhub"
)

func seedHistory(t *testing.T, s *hubEmu, name string, n int, base int, t0 time.Time) {
	t.Helper()
	for i := range n {
		if err := s.SeedPush("acme", name, "v1", fmt.Sprintf("sha256:%064x", base+i), t0.Add(time.Duration(i)*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
}

func history(t *testing.T, p *dockerhub.Provider, name string) ([]providers.Tag, error) {
	var got []providers.Tag
	_, err := p.TagHistory(t.Context(), providers.Repository{Scope: "acme", Name: name}, time.Time{}, func(tg providers.Tag) error {
		got = append(got, tg)
		return nil
	})
	return got, err
}

func TestTagHistoryFromAuditLog(t *testing.T) {
	s := startEmu(t, hubemu.Options{})
	s.EnableAuditLog("acme")
	addRepo(t, s, "acme", "app", false, false)
	addRepo(t, s, "acme", "other", false, false)
	t0 := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	seedHistory(t, s, "app", 131, 0, t0)
	seedHistory(t, s, "other", 5, 1000, t0)
	p := newProvider(t, s, nil)
	before := s.Calls().Get(hubemu.OpAuditLogs)
	got, err := history(t, p, "app")
	if err != nil {
		t.Fatal(err)
	}
	// The current lifetime comes open, for its start; the other
	// repository's are excluded.
	var past []providers.Tag
	for _, tg := range got {
		if !tg.Ended.IsZero() {
			past = append(past, tg)
		} else if cur := fmt.Sprintf("sha256:%064x", 130); tg.Name != "v1" || tg.Digest != cur || !tg.Pushed.Equal(t0.Add(130*time.Hour)) {
			t.Errorf("current lifetime %+v, want v1 -> %s since %v", tg, cur, t0.Add(130*time.Hour))
		}
	}
	if len(past) != 130 || len(got) != 131 {
		t.Fatalf("%d past lifetimes of %d, want 130 and the current one", len(past), len(got))
	}
	for _, tg := range past {
		var i int
		if _, err := fmt.Sscanf(tg.Digest, "sha256:%x", &i); err != nil || i >= 130 || tg.Name != "v1" {
			t.Fatalf("lifetime %+v is not one of app's past v1 lifetimes", tg)
		}
		if tg.Source != dockerhub.AuditLogSource || !tg.Pushed.Equal(t0.Add(time.Duration(i)*time.Hour)) || !tg.Ended.Equal(tg.Pushed.Add(time.Hour)) {
			t.Fatalf("lifetime %d = %+v, want an hour from its push, source %s", i, tg, dockerhub.AuditLogSource)
		}
	}
	// 131 events of app: pages of 100 and 31.
	if n := s.Calls().Get(hubemu.OpAuditLogs) - before; n != 2 {
		t.Errorf("%d audit-log calls, want 2 pages", n)
	}

	// A server that caps the page below what was asked is read to the end.
	s.SetFaults(emulator.Faults{PageSize: 40})
	before = s.Calls().Get(hubemu.OpAuditLogs)
	got, err = history(t, p, "app")
	if err != nil || len(got) != 131 {
		t.Fatalf("capped pages: %d lifetimes, %v; want 130 past and the current one", len(got), err)
	}
	if n := s.Calls().Get(hubemu.OpAuditLogs) - before; n != 4 {
		t.Errorf("%d audit-log calls with pages of 40, want 4", n)
	}
}

// Without a plan that has audit logs the route answers 403: ErrDenied, and
// nothing is imported.
func TestTagHistoryWithoutAuditPlanIsDenied(t *testing.T) {
	s := startEmu(t, hubemu.Options{})
	addRepo(t, s, "acme", "app", false, false)
	seedHistory(t, s, "app", 3, 0, time.Now().Add(-time.Hour))
	got, err := history(t, newProvider(t, s, nil), "app")
	if !errors.Is(err, providers.ErrDenied) || len(got) != 0 {
		t.Fatalf("no audit-log plan: %d lifetimes, err %v; want ErrDenied and none", len(got), err)
	}
}

// TestTagHistoryIncremental: an import from the newest event of the last
// one reads one page, not the whole log, and yields the lifetimes that
// ended since: the one current at the last import, and the new one.
func TestTagHistoryIncremental(t *testing.T) {
	s := startEmu(t, hubemu.Options{})
	s.EnableAuditLog("acme")
	addRepo(t, s, "acme", "app", false, false)
	t0 := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	seedHistory(t, s, "app", 250, 0, t0)
	p := newProvider(t, s, nil)
	repo := providers.Repository{Scope: "acme", Name: "app"}
	n := 0
	newest, err := p.TagHistory(t.Context(), repo, time.Time{}, func(providers.Tag) error { n++; return nil })
	if last := t0.Add(249 * time.Hour); err != nil || n != 250 || !newest.Equal(last) {
		t.Fatalf("first import: %d lifetimes, newest %v, %v; want 249 past and the current one, %v", n, newest, err, last)
	}
	seedHistory(t, s, "app", 2, 1000, t0.Add(250*time.Hour))
	before := s.Calls().Get(hubemu.OpAuditLogs)
	found := map[string]bool{}
	newest2, err := p.TagHistory(t.Context(), repo, newest, func(tg providers.Tag) error {
		found[tg.Digest+"@"+tg.Pushed.Format(time.RFC3339)+".."+tg.Ended.Format(time.RFC3339)] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls := s.Calls().Get(hubemu.OpAuditLogs) - before; calls != 1 {
		t.Errorf("second import: %d audit-log calls, want 1 page (a full read is 3)", calls)
	}
	if !newest2.Equal(t0.Add(251 * time.Hour)) {
		t.Errorf("second import: newest %v", newest2)
	}
	dg := func(i int) string { return fmt.Sprintf("sha256:%064x", i) }
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
