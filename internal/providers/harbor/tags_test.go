package harbor

import (
	"fmt"
	"testing"

	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/testutil"
)

func TestTagsFromArtifactListing(t *testing.T) {
	e := setup(t, setupOpts{})
	e.s.AddProject("apps", false)
	var names []string
	for i := range 120 {
		names = append(names, fmt.Sprintf("t%03d", i))
	}
	testutil.Must(t, e.s.AddRepo("apps", "team/api", names...))
	collect := func() map[string]providers.Tag {
		out := map[string]providers.Tag{}
		testutil.Must(t, e.p.Tags(t.Context(), providers.Repository{Scope: "apps", Name: "team/api"}, func(tg providers.Tag) error {
			out[tg.Name] = tg
			return nil
		}))
		return out
	}
	before := collect()
	// Overwrite t000 through the registry API.
	testutil.Must(t, e.s.PushTag(t.Context(), "apps", "team/api", "t000"))
	calls := e.s.Calls().Get("listArtifacts")
	after := collect()
	if len(after) != 120 || after["t000"].Digest == before["t000"].Digest || after["t005"].Digest != before["t005"].Digest {
		t.Fatalf("%d tags; t000 %s -> %s", len(after), before["t000"].Digest, after["t000"].Digest)
	}
	if after["t000"].Pushed.IsZero() || after["t000"].Pushed.Before(before["t005"].Pushed) {
		t.Errorf("push time of the overwritten tag = %v", after["t000"].Pushed)
	}
	if n := e.s.Calls().Get("listArtifacts") - calls; n != 2 {
		t.Errorf("120 artifacts took %d listing calls, want 2 pages", n)
	}
}
