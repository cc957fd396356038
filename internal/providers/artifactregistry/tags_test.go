package artifactregistry

import (
	"fmt"
	"testing"

	"github.com/immutag/immutag/internal/emulator"
	aremu "github.com/immutag/immutag/internal/emulator/artifactregistry"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/testutil"
)

func TestTagsFromDockerImages(t *testing.T) {
	s := startEmu(t)
	testutil.Must(t, s.CreateRepository("p1", "us-central1", "apps", aremu.ModeStandard, false))
	for i := range 5 {
		testutil.Must(t, s.PushTag("p1", "us-central1", "apps", fmt.Sprintf("v%d", i)))
	}
	p := newProvider(t, s, nil)
	c, errs := testutil.Scan(t, p)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	repo := c.ByName()["apps"]
	collect := func() map[string]providers.Tag {
		out := map[string]providers.Tag{}
		testutil.Must(t, p.Tags(t.Context(), repo, func(tg providers.Tag) error {
			out[tg.Image+":"+tg.Name] = tg
			return nil
		}))
		return out
	}
	before := collect()
	testutil.Must(t, s.PushTag("p1", "us-central1", "apps", "v2")) // overwrite
	s.SetFaults(emulator.Faults{PageSize: 2})
	calls := s.Calls().Get("ListDockerImages")
	after := collect()
	if n := s.Calls().Get("ListDockerImages") - calls; n != 3 {
		t.Errorf("5 images at 2 a page took %d calls, want 3", n)
	}
	if len(after) != 5 || after["apps:v2"].Digest == before["apps:v2"].Digest || after["apps:v3"].Digest != before["apps:v3"].Digest {
		t.Fatalf("tags %v; v2 %s -> %s", len(after), before["apps:v2"].Digest, after["apps:v2"].Digest)
	}
	if after["apps:v2"].Pushed.IsZero() || after["apps:v2"].Pushed.Before(before["apps:v2"].Pushed) {
		t.Errorf("update_time not carried: %v", after["apps:v2"].Pushed)
	}
}

func TestImageAndDigest(t *testing.T) {
	img, d, ok := imageAndDigest("projects/p/locations/l/repositories/r/dockerImages/team%2Fapp@sha256:abc")
	if !ok || img != "team/app" || d != "sha256:abc" {
		t.Fatalf("%q %q %v", img, d, ok)
	}
	for _, bad := range []string{"projects/p/x", "projects/p/locations/l/repositories/r/dockerImages/app", "projects/p/locations/l/repositories/r/dockerImages/@sha256:x"} {
		if _, _, ok := imageAndDigest(bad); ok {
			t.Errorf("accepted %q", bad)
		}
	}
}
