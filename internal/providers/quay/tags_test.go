package quay

import (
	"fmt"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/emulator"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/testutil"
)

func TestTagsIncludeQuayHistory(t *testing.T) {
	e := setup(t, nil, "acme")
	e.s.AddOrg("acme")
	testutil.Must(t, e.s.AddRepo("acme", "app", "v1", "latest"))
	for i := range 150 {
		testutil.Must(t, e.s.AddRepo("acme", "big", fmt.Sprintf("t%03d", i)))
	}
	old := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	testutil.Must(t, e.s.SeedTagHistory("acme", "app", "v1", "sha256:0ld", old, old.Add(24*time.Hour)))
	// A real overwrite through the registry API ends the current lifetime.
	var before string
	collect := func(name string) []providers.Tag {
		var out []providers.Tag
		testutil.Must(t, e.p.Tags(t.Context(), providers.Repository{Scope: "acme", Name: name}, func(tg providers.Tag) error {
			out = append(out, tg)
			return nil
		}))
		return out
	}
	for _, tg := range collect("app") {
		if tg.Name == "latest" {
			before = tg.Digest
		}
	}
	rep, err := emulator.PushManifest(t.Context(), e.hs.URL, "acme/app", "latest", "$oauthtoken", token, "new")
	if err != nil || rep.Status != 201 {
		t.Fatalf("push: %+v %v", rep, err)
	}
	var active, ended int
	var latestPast, latestNow, v1Past bool
	for _, tg := range collect("app") {
		if tg.Source != HistorySource || tg.Pushed.IsZero() || tg.Digest == "" {
			t.Errorf("tag without history fields: %+v", tg)
		}
		if tg.Ended.IsZero() {
			active++
			latestNow = latestNow || (tg.Name == "latest" && tg.Digest != before)
			continue
		}
		ended++
		latestPast = latestPast || (tg.Name == "latest" && tg.Digest == before)
		v1Past = v1Past || (tg.Name == "v1" && tg.Digest == "sha256:0ld" && tg.Pushed.Equal(old) && tg.Ended.Equal(old.Add(24*time.Hour)))
	}
	if active != 2 || ended != 2 || !latestPast || !latestNow || !v1Past {
		t.Fatalf("active %d ended %d latestPast %v latestNow %v v1Past %v", active, ended, latestPast, latestNow, v1Past)
	}
	// Calls per repository = tag-listing pages (150 tags, 100 a page).
	before150 := e.s.Calls().Get("listRepoTags")
	if n := len(collect("big")); n != 150 {
		t.Fatalf("big: %d tags", n)
	}
	if n := e.s.Calls().Get("listRepoTags") - before150; n != 2 {
		t.Errorf("listing 150 tags took %d calls, want 2 pages", n)
	}
}
