package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/providers"
)

func TestLockProgressShowsCountsRateAndETA(t *testing.T) {
	var buf bytes.Buffer
	f := testFactory(t)
	f.IO.ErrOut = &buf
	p := newLockProgress(f.Deps())
	c := providers.Change{Provider: "acr", Repository: "team/web"}
	p.update(c, 0, 10)
	p.last = p.last.Add(-time.Second) // let the next update draw
	for k := range p.start {
		p.start[k] = p.start[k].Add(-time.Second) // some time has passed
	}
	p.update(c, 5, 10)
	p.update(c, 10, 10)
	out := buf.String()
	for _, want := range []string{"acr team/web: 5/10", "/s", "ETA", "acr team/web: 10/10"} {
		if !strings.Contains(out, want) {
			t.Errorf("progress lacks %q: %q", want, out)
		}
	}
	if !strings.HasSuffix(out, "\n") {
		t.Errorf("progress does not end the line when done: %q", out)
	}
}
