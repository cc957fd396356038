package providers_test

import (
	"strings"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/providers"
)

func TestLifetimesFromNewestFirstLog(t *testing.T) {
	t0 := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	h := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Hour) }
	var got []string
	l := providers.NewLifetimes("test-log", func(tg providers.Tag) error {
		if tg.Source != "test-log" {
			t.Errorf("source %q", tg.Source)
		}
		got = append(got, tg.Name+"="+tg.Digest+"@"+tg.Pushed.Format("15")+".."+tg.Ended.Format("15"))
		return nil
	})
	steps := []func() error{
		func() error { return l.Push("v1", "sha256:c", h(9)) },    // current: not yielded
		func() error { return l.TagChanged("old", h(8)) },         // old deleted
		func() error { return l.DigestDeleted("sha256:x", h(7)) }, // x deleted
		func() error { return l.Push("v1", "sha256:b", h(5)) },    // b until c at 9
		func() error { return l.Push("old", "sha256:o", h(4)) },   // o until the delete at 8
		func() error { return l.Push("x", "sha256:x", h(3)) },     // x until its digest went at 7
		func() error { return l.Push("v1", "sha256:a", h(2)) },    // a until b at 5
		func() error { return l.Push("v1", "sha256:a", h(2)) },    // same instant again: nothing
	}
	for i, s := range steps {
		if err := s(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	want := "v1=sha256:b@05..09,old=sha256:o@04..08,x=sha256:x@03..07,v1=sha256:a@02..05"
	if strings.Join(got, ",") != want {
		t.Fatalf("lifetimes\n got %s\nwant %s", strings.Join(got, ","), want)
	}
	if err := l.Push("v1", "sha256:z", h(6)); err == nil || !strings.Contains(err.Error(), "newest first") {
		t.Fatalf("an older-first event was accepted: %v", err)
	}
}
