package dockerhub_test

import (
	"fmt"
	"testing"

	hubemu "github.com/immutag/immutag/internal/emulator/dockerhub"
	"github.com/immutag/immutag/internal/providers"
)

func TestTagsFromListingWithIndexDigest(t *testing.T) {
	s := startEmu(t, hubemu.Options{})
	tags := map[string]string{}
	for i := range 130 {
		tags[fmt.Sprintf("t%03d", i)] = fmt.Sprintf("sha256:%064d", i)
	}
	if err := s.AddRepository(hubemu.Repository{Namespace: "acme", Name: "app", Tags: tags}); err != nil {
		t.Fatal(err)
	}
	if err := s.Push("acme", "app", "t000", "sha256:moved"); err != nil {
		t.Fatal(err)
	}
	p := newProvider(t, s, nil)
	before := s.Calls().Get(hubemu.OpListTags)
	got := map[string]providers.Tag{}
	err := p.Tags(t.Context(), providers.Repository{Scope: "acme", Name: "app"}, func(tg providers.Tag) error {
		got[tg.Name] = tg
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 130 || got["t000"].Digest != "sha256:moved" || got["t001"].Digest != tags["t001"] {
		t.Fatalf("%d tags, t000=%+v t001=%+v", len(got), got["t000"], got["t001"])
	}
	if got["t000"].Pushed.IsZero() || !got["t000"].Pushed.After(got["t001"].Pushed) {
		t.Errorf("push times: moved %v, seeded %v", got["t000"].Pushed, got["t001"].Pushed)
	}
	if n := s.Calls().Get(hubemu.OpListTags) - before; n != 2 {
		t.Errorf("130 tags took %d listing calls, want 2 pages", n)
	}
}
