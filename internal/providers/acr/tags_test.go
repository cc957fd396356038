package acr

import (
	"testing"

	"github.com/immutag/immutag/internal/config"
	emu "github.com/immutag/immutag/internal/emulator/acr"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/testutil"
)

func TestTagsFromListingWithDigestsAndTimes(t *testing.T) {
	s := newEmu(t, emu.Options{})
	seed(s, "team/app", 10, 0)
	p := newProvider(t, setup{cfg: config.Provider{Settings: &Settings{Registries: []string{s.LoginServer()}}}, hc: emuClient(s),
		mods: []func(*Provider){func(p *Provider) { p.pageSize = 4 }}})
	c, errs := testutil.Scan(t, p)
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	repo := c.ByName()["team/app"]
	collect := func() map[string]providers.Tag {
		out := map[string]providers.Tag{}
		testutil.Must(t, p.Tags(t.Context(), repo, func(tg providers.Tag) error {
			out[tg.Name] = tg
			return nil
		}))
		return out
	}
	before := collect()
	testutil.Must(t, s.PushTag("team/app", "v00003")) // an overwrite: new digest, new lastUpdateTime
	calls := s.Calls().Get("GET tags")
	after := collect()
	if n := s.Calls().Get("GET tags") - calls; n != 3 {
		t.Errorf("10 tags at 4 a page took %d listing calls, want 3", n)
	}
	if len(after) != 10 || after["v00003"].Digest == before["v00003"].Digest || after["v00004"].Digest != before["v00004"].Digest {
		t.Fatalf("%d tags; v00003 %s -> %s", len(after), before["v00003"].Digest, after["v00003"].Digest)
	}
	if after["v00003"].Pushed.IsZero() || after["v00003"].Pushed.Before(before["v00003"].Pushed) {
		t.Errorf("lastUpdateTime not carried: %v then %v", before["v00003"].Pushed, after["v00003"].Pushed)
	}
}
